//! Counting each model response once, and totalling tokens and dollars per model.
//!
//! Claude Code can write one API response as several transcript lines (one per content block,
//! and again when a session is resumed or a sidechain replays it), each with a usage snapshot.
//! The ledger keeps one [`Response`] per (message id, request id), chosen as ccusage 20.0.24
//! chooses it: a main-chain line beats a sidechain line; otherwise the line with the most
//! tokens in all wins (the final snapshot of a streamed response carries the full output
//! count); on a tie, a fast-mode line beats a standard one, else the first line stays. Lines
//! without a message id cannot be matched and are each counted.
//!
//! A ledger can be serialized and read back, so a caller that reads a live transcript in
//! several processes can keep its state between reads (see `transcript::read_usage_file`).

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Usage;
use super::pricing::{ModelPrice, model_price};
use super::transcript::{Response, ResponseKey};

/// What [`UsageLedger::record`] did with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A response not seen before.
    New,
    /// A repeat of a known response that replaced the line kept so far.
    Replaced,
    /// A repeat of a known response; the line kept so far stays.
    Kept,
}

/// The responses of one or more transcripts, each counted once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "LedgerRepr", into = "LedgerRepr")]
pub struct UsageLedger {
    responses: Vec<Response>,
    by_key: HashMap<ResponseKey, usize>,
}

#[derive(Serialize, Deserialize)]
struct LedgerRepr {
    responses: Vec<Response>,
}

impl From<LedgerRepr> for UsageLedger {
    fn from(repr: LedgerRepr) -> Self {
        let mut ledger = UsageLedger::new();
        for response in repr.responses {
            ledger.record(response);
        }
        ledger
    }
}

impl From<UsageLedger> for LedgerRepr {
    fn from(ledger: UsageLedger) -> Self {
        LedgerRepr {
            responses: ledger.responses,
        }
    }
}

fn should_replace(candidate: &Response, kept: &Response) -> bool {
    if candidate.sidechain != kept.sidechain {
        return kept.sidechain;
    }
    let (new_total, old_total) = (candidate.usage.total_tokens(), kept.usage.total_tokens());
    if new_total != old_total {
        return new_total > old_total;
    }
    candidate.fast && !kept.fast
}

impl UsageLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one transcript line's response.
    pub fn record(&mut self, response: Response) -> Recorded {
        let Some(key) = response.key.clone() else {
            self.responses.push(response);
            return Recorded::New;
        };
        if let Some(&at) = self.by_key.get(&key) {
            if should_replace(&response, &self.responses[at]) {
                self.responses[at] = response;
                return Recorded::Replaced;
            }
            return Recorded::Kept;
        }
        self.by_key.insert(key, self.responses.len());
        self.responses.push(response);
        Recorded::New
    }

    /// The responses kept, in the order they were first seen.
    pub fn responses(&self) -> &[Response] {
        &self.responses
    }

    /// Totals per model, with costs.
    pub fn report(&self) -> UsageReport {
        let mut models: Vec<ModelUsage> = Vec::new();
        // The price of each entry of `models`, looked up once per model.
        let mut prices: Vec<Option<&ModelPrice>> = Vec::new();
        for response in &self.responses {
            let at = models
                .iter()
                .position(|m| m.model == response.model && m.fast == response.fast)
                .unwrap_or_else(|| {
                    let price = response.model.as_deref().and_then(model_price);
                    models.push(ModelUsage {
                        model: response.model.clone(),
                        fast: response.fast,
                        responses: 0,
                        usage: Usage::default(),
                        cost_usd: price.map(|_| 0.0),
                    });
                    prices.push(price);
                    models.len() - 1
                });
            let entry = &mut models[at];
            entry.responses += 1;
            entry.usage = entry.usage.plus(response.usage);
            if let (Some(cost), Some(price)) = (entry.cost_usd.as_mut(), prices[at]) {
                *cost += price.cost(&response.usage, response.fast);
            }
        }
        UsageReport::from_models(models)
    }
}

/// Tokens and cost of one model (and speed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelUsage {
    /// The model id as the transcript wrote it; `None` for responses without one.
    pub model: Option<String>,
    /// Responses served in fast mode.
    pub fast: bool,
    /// Responses counted.
    pub responses: u64,
    /// Their tokens.
    pub usage: Usage,
    /// Their cost in USD; `None` when legio knows no price for the model.
    pub cost_usd: Option<f64>,
}

/// Tokens legio could not put a price on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnpricedModel {
    /// The model; `None` for responses without one.
    pub model: Option<String>,
    /// Their tokens.
    pub usage: Usage,
}

impl fmt::Display for UnpricedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = thousands(self.usage.total_tokens());
        match &self.model {
            Some(model) => write!(
                f,
                "no price known for model {model:?}: its {tokens} tokens are not in the cost"
            ),
            None => write!(
                f,
                "{tokens} tokens of responses that name no model are not in the cost"
            ),
        }
    }
}

/// Totals over a ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    /// Per model, in the order first seen.
    pub models: Vec<ModelUsage>,
    /// All tokens.
    pub total: Usage,
    /// Responses counted.
    pub responses: u64,
    /// The cost of every priced response; `None` when there are tokens and none could be
    /// priced. See [`UsageReport::unpriced`] for what it leaves out.
    pub cost_usd: Option<f64>,
}

impl UsageReport {
    fn from_models(models: Vec<ModelUsage>) -> Self {
        let total = models.iter().fold(Usage::default(), |t, m| t.plus(m.usage));
        let responses = models.iter().map(|m| m.responses).sum();
        let priced: Vec<f64> = models.iter().filter_map(|m| m.cost_usd).collect();
        let cost_usd = if priced.is_empty() && total.total_tokens() > 0 {
            None
        } else {
            Some(priced.iter().sum())
        };
        Self {
            models,
            total,
            responses,
            cost_usd,
        }
    }

    /// The first model named, legio 0.1.0's `model_used`.
    pub fn first_model(&self) -> Option<&str> {
        self.models.iter().find_map(|m| m.model.as_deref())
    }

    /// Tokens left out of [`UsageReport::cost_usd`] because their model has no known price.
    pub fn unpriced(&self) -> Vec<UnpricedModel> {
        let mut out: Vec<UnpricedModel> = Vec::new();
        for m in self.models.iter().filter(|m| m.cost_usd.is_none()) {
            if m.usage.total_tokens() == 0 {
                continue;
            }
            match out.iter_mut().find(|u| u.model == m.model) {
                Some(u) => u.usage = u.usage.plus(m.usage),
                None => out.push(UnpricedModel {
                    model: m.model.clone(),
                    usage: m.usage,
                }),
            }
        }
        out
    }
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(
        id: Option<(&str, Option<&str>)>,
        model: Option<&str>,
        input: u64,
        output: u64,
    ) -> Response {
        Response {
            key: id.map(|(m, req)| ResponseKey {
                message_id: m.into(),
                request_id: req.map(Into::into),
            }),
            model: model.map(Into::into),
            usage: Usage {
                input_tokens: input,
                output_tokens: output,
                ..Usage::default()
            },
            sidechain: false,
            fast: false,
        }
    }

    const HAIKU: Option<&str> = Some("claude-haiku-4-5");

    #[test]
    fn the_line_with_most_tokens_wins_whatever_the_order() {
        for (first, second) in [(1, 500), (500, 1)] {
            let mut ledger = UsageLedger::new();
            assert_eq!(
                ledger.record(r(Some(("m", Some("q"))), HAIKU, 10, first)),
                Recorded::New
            );
            let again = ledger.record(r(Some(("m", Some("q"))), HAIKU, 10, second));
            assert_eq!(
                again,
                if second > first {
                    Recorded::Replaced
                } else {
                    Recorded::Kept
                }
            );
            assert_eq!(ledger.report().total.output_tokens, 500);
            assert_eq!(ledger.report().responses, 1);
        }
    }

    #[test]
    fn main_chain_beats_sidechain_and_fast_breaks_ties() {
        let mut ledger = UsageLedger::new();
        ledger.record(r(Some(("m", Some("q"))), HAIKU, 10, 5));
        let side = Response {
            sidechain: true,
            ..r(Some(("m", Some("q"))), HAIKU, 10, 900)
        };
        assert_eq!(ledger.record(side.clone()), Recorded::Kept);
        let mut ledger = UsageLedger::new();
        ledger.record(side);
        assert_eq!(
            ledger.record(r(Some(("m", Some("q"))), HAIKU, 10, 5)),
            Recorded::Replaced
        );
        let fast = Response {
            fast: true,
            ..r(Some(("m", Some("q"))), HAIKU, 10, 5)
        };
        assert_eq!(ledger.record(fast), Recorded::Replaced);
        assert!(ledger.responses()[0].fast);
    }

    #[test]
    fn request_id_is_part_of_the_key_and_lines_without_id_all_count() {
        let mut ledger = UsageLedger::new();
        ledger.record(r(Some(("m", Some("q1"))), HAIKU, 10, 0));
        ledger.record(r(Some(("m", Some("q2"))), HAIKU, 10, 0));
        ledger.record(r(Some(("m", None)), HAIKU, 10, 0));
        ledger.record(r(Some(("m", None)), HAIKU, 10, 0));
        ledger.record(r(None, HAIKU, 10, 0));
        ledger.record(r(None, HAIKU, 10, 0));
        assert_eq!(ledger.report().total.input_tokens, 50);
    }

    #[test]
    fn reports_per_model_and_says_what_it_could_not_price() {
        let mut ledger = UsageLedger::new();
        ledger.record(r(Some(("a", None)), Some("claude-opus-4-1"), 1_000_000, 0));
        ledger.record(r(Some(("b", None)), Some("mystery-model-1"), 1_000, 234));
        ledger.record(r(Some(("c", None)), HAIKU, 1_000_000, 0));
        ledger.record(r(Some(("d", None)), None, 5, 5));
        let report = ledger.report();
        assert_eq!(report.first_model(), Some("claude-opus-4-1"));
        assert_eq!(report.models.len(), 4);
        assert_eq!(report.models[1].cost_usd, None);
        assert!((report.cost_usd.unwrap() - 16.0).abs() < 1e-9);
        let notes: Vec<String> = report.unpriced().iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(notes.join("\n"), @r#"
        no price known for model "mystery-model-1": its 1,234 tokens are not in the cost
        10 tokens of responses that name no model are not in the cost
        "#);
    }

    #[test]
    fn nothing_priced_means_no_cost_and_nothing_at_all_costs_zero() {
        let mut ledger = UsageLedger::new();
        assert_eq!(ledger.report().cost_usd, Some(0.0));
        ledger.record(r(None, Some("gpt-4o"), 10, 10));
        assert_eq!(ledger.report().cost_usd, None);
    }

    #[test]
    fn survives_a_round_trip_through_json() {
        let mut ledger = UsageLedger::new();
        ledger.record(r(Some(("m", Some("q"))), HAIKU, 10, 1));
        ledger.record(r(None, HAIKU, 3, 3));
        let text = serde_json::to_string(&ledger).unwrap();
        let mut back: UsageLedger = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ledger);
        // The index is rebuilt: a repeat is still recognised.
        assert_eq!(
            back.record(r(Some(("m", Some("q"))), HAIKU, 10, 99)),
            Recorded::Replaced
        );
    }

    #[test]
    fn formats_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
