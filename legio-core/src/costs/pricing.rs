//! Anthropic list prices per model family, and the cost of one model response.
//!
//! Prices are USD per million tokens. Cache writes cost 1.25x the input price when they live
//! five minutes and 2x when they live an hour; cache reads cost 0.1x (Haiku 3 has its own,
//! slightly different, list prices). A model id is read for its family and version, so dated
//! ids (`claude-opus-4-20250514`), provider spellings (`us.anthropic.claude-...-v1:0`,
//! `claude-sonnet-4-5@20250929`) and the old order (`claude-3-5-haiku-20241022`) all map to the
//! right price. A minor version has one or two digits: an eight-digit date never is one
//! (legio 0.1.0 priced Opus 4 as Opus 4.5 that way).
//!
//! A model legio does not know has **no** price: [`model_price`] returns `None` and the caller
//! says so instead of guessing.
//!
//! Two refinements follow ccusage 20.0.24, the figure users compare against:
//! - **Long context** (Sonnet 4 and 4.5): within one response, each kind of token beyond the
//!   first 200,000 is charged at the long-context rate. (Anthropic bills a whole request at that
//!   rate once its prompt passes 200,000 tokens, so for such requests both figures are low.)
//! - **Fast mode** (`usage.speed == "fast"`, Opus 4.6 and 4.7): six times the standard price.

use serde::Serialize;

/// Tokens in a response beyond which long-context rates apply, per kind of token.
pub const LONG_CONTEXT_THRESHOLD: u64 = 200_000;

/// USD per million tokens for each kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Cache writes kept five minutes.
    pub cache_write_5m: f64,
    /// Cache writes kept one hour.
    pub cache_write_1h: f64,
    /// Cache reads.
    pub cache_read: f64,
}

impl Rates {
    /// The usual shape: cache writes at 1.25x (5 min) and 2x (1 h) input, reads at 0.1x.
    const fn standard(input: f64, output: f64) -> Rates {
        Rates {
            input,
            output,
            cache_write_5m: input * 1.25,
            cache_write_1h: input * 2.0,
            cache_read: input * 0.1,
        }
    }
}

/// The price of one model family.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelPrice {
    /// The family, for people ("Opus 4.5+", "Haiku 3.5").
    pub family: &'static str,
    /// Standard rates.
    pub rates: Rates,
    /// Rates for the tokens of a kind beyond [`LONG_CONTEXT_THRESHOLD`] in one response.
    pub long_context: Option<Rates>,
    /// Multiplier on every rate for responses served in fast mode.
    pub fast_multiplier: Option<f64>,
}

const fn price(family: &'static str, rates: Rates) -> ModelPrice {
    ModelPrice {
        family,
        rates,
        long_context: None,
        fast_multiplier: None,
    }
}

const OPUS_4_5_PLUS: ModelPrice = price("Opus 4.5+", Rates::standard(5.0, 25.0));
const OPUS_4_6_PLUS: ModelPrice = ModelPrice {
    fast_multiplier: Some(6.0),
    ..OPUS_4_5_PLUS
};
const OPUS_4: ModelPrice = price("Opus 4/4.1", Rates::standard(15.0, 75.0));
const OPUS_3: ModelPrice = price("Opus 3", Rates::standard(15.0, 75.0));
const SONNET_4: ModelPrice = price("Sonnet 4.x", Rates::standard(3.0, 15.0));
const SONNET_4_LONG: ModelPrice = ModelPrice {
    long_context: Some(Rates::standard(6.0, 22.5)),
    ..SONNET_4
};
const SONNET_3: ModelPrice = price("Sonnet 3.x", Rates::standard(3.0, 15.0));
const HAIKU_4_5: ModelPrice = price("Haiku 4.5", Rates::standard(1.0, 5.0));
const HAIKU_3_5: ModelPrice = price("Haiku 3.5", Rates::standard(0.8, 4.0));
const HAIKU_3: ModelPrice = price(
    "Haiku 3",
    Rates {
        input: 0.25,
        output: 1.25,
        cache_write_5m: 0.30,
        cache_write_1h: 0.50,
        cache_read: 0.03,
    },
);

/// A Claude model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Opus.
    Opus,
    /// Sonnet.
    Sonnet,
    /// Haiku.
    Haiku,
}

/// The family and version read from a model id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelVersion {
    /// The family.
    pub family: Family,
    /// Major version.
    pub major: u8,
    /// Minor version (0 when the id has none).
    pub minor: u8,
}

/// Reads the family and version of a Claude model id, in any of the spellings providers use;
/// `None` for anything else.
pub fn parse_model(model: &str) -> Option<ModelVersion> {
    let lower = model.to_ascii_lowercase();
    let rest = &lower[lower.find("claude")? + "claude".len()..];
    let words: Vec<&str> = rest
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let at = words
        .iter()
        .position(|w| matches!(*w, "opus" | "sonnet" | "haiku"))?;
    let family = match words[at] {
        "opus" => Family::Opus,
        "sonnet" => Family::Sonnet,
        _ => Family::Haiku,
    };
    let is_version = |w: &&&str| w.len() <= 2 && w.bytes().all(|b| b.is_ascii_digit());
    // `claude-3-5-haiku` puts the version first, `claude-haiku-4-5` after the family.
    let numbers: Vec<u8> = if at > 0 {
        words[..at].iter().take_while(is_version).take(2)
    } else {
        words[at + 1..].iter().take_while(is_version).take(2)
    }
    .filter_map(|w| w.parse().ok())
    .collect();
    Some(ModelVersion {
        family,
        major: *numbers.first()?,
        minor: numbers.get(1).copied().unwrap_or(0),
    })
}

/// The list price of a model id, or `None` when legio does not know the model.
pub fn model_price(model: &str) -> Option<&'static ModelPrice> {
    let ModelVersion {
        family,
        major,
        minor,
    } = parse_model(model)?;
    let price = match (family, major, minor) {
        (Family::Opus, 4, 6..=7) => &OPUS_4_6_PLUS,
        (Family::Opus, 4, 5..) => &OPUS_4_5_PLUS,
        (Family::Opus, 4, 0..=1) => &OPUS_4,
        (Family::Opus, 3, 0) => &OPUS_3,
        (Family::Sonnet, 4, 0 | 5) => &SONNET_4_LONG,
        (Family::Sonnet, 4, _) => &SONNET_4,
        (Family::Sonnet, 3, 0 | 5 | 7) => &SONNET_3,
        (Family::Haiku, 4, 5..) => &HAIKU_4_5,
        (Family::Haiku, 3, 5) => &HAIKU_3_5,
        (Family::Haiku, 3, 0) => &HAIKU_3,
        _ => return None,
    };
    Some(price)
}

impl ModelPrice {
    /// The cost in USD of one response with these token counts.
    pub fn cost(&self, usage: &super::Usage, fast: bool) -> f64 {
        let base = self.rates;
        let long = self.long_context;
        let part = |tokens: u64, rate: fn(&Rates) -> f64| -> f64 {
            let per_token = |r: &Rates| rate(r) / 1_000_000.0;
            match long {
                Some(long) if tokens > LONG_CONTEXT_THRESHOLD => {
                    LONG_CONTEXT_THRESHOLD as f64 * per_token(&base)
                        + (tokens - LONG_CONTEXT_THRESHOLD) as f64 * per_token(&long)
                }
                _ => tokens as f64 * per_token(&base),
            }
        };
        let cost = part(usage.input_tokens, |r| r.input)
            + part(usage.output_tokens, |r| r.output)
            + part(usage.cache_write_5m_tokens, |r| r.cache_write_5m)
            + part(usage.cache_write_1h_tokens, |r| r.cache_write_1h)
            + part(usage.cache_read_tokens, |r| r.cache_read);
        match self.fast_multiplier {
            Some(multiplier) if fast => cost * multiplier,
            _ => cost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::Usage;

    fn million_of_each() -> Usage {
        Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            cache_read_tokens: 1_000_000,
            cache_write_5m_tokens: 1_000_000,
            cache_write_1h_tokens: 0,
        }
    }

    fn family(model: &str) -> Option<&'static str> {
        model_price(model).map(|p| p.family)
    }

    #[test]
    fn reads_versions_in_every_spelling() {
        let v = |f, major, minor| {
            Some(ModelVersion {
                family: f,
                major,
                minor,
            })
        };
        for (id, want) in [
            ("claude-opus-4-20250514", v(Family::Opus, 4, 0)),
            ("claude-opus-4-1-20250805", v(Family::Opus, 4, 1)),
            ("claude-opus-4-5", v(Family::Opus, 4, 5)),
            ("claude-haiku-4-20251001", v(Family::Haiku, 4, 0)),
            ("claude-3-5-haiku-20241022", v(Family::Haiku, 3, 5)),
            ("claude-3-haiku-20240307", v(Family::Haiku, 3, 0)),
            ("claude-3-7-sonnet-latest", v(Family::Sonnet, 3, 7)),
            ("claude-sonnet-4-5@20250929", v(Family::Sonnet, 4, 5)),
            (
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                v(Family::Sonnet, 4, 5),
            ),
            ("anthropic/claude-opus-4-6", v(Family::Opus, 4, 6)),
            ("Claude-Opus-4-6[1m]", v(Family::Opus, 4, 6)),
            ("claude-sonnet", None),
            ("claude-2.1", None),
            ("gpt-4o", None),
            ("", None),
        ] {
            assert_eq!(parse_model(id), want, "{id}");
        }
    }

    #[test]
    fn dated_opus_4_is_not_opus_4_5() {
        // spec 1 §20.1-2: the date must not be read as the minor version.
        assert_eq!(family("claude-opus-4-20250514"), Some("Opus 4/4.1"));
        assert_eq!(family("claude-opus-4-1-20250805"), Some("Opus 4/4.1"));
        assert_eq!(family("claude-opus-4-5-20251101"), Some("Opus 4.5+"));
        assert_eq!(family("claude-haiku-4-5-20251001"), Some("Haiku 4.5"));
        // A dated Haiku 4.0 does not exist: unknown, not Haiku 4.5.
        assert_eq!(family("claude-haiku-4-20251001"), None);
    }

    #[test]
    fn unknown_models_have_no_price() {
        for id in [
            "gpt-4o",
            "claude-foo-9",
            "claude-opus-5",
            "claude-sonnet-5-0",
            "claude-instant-1.2",
            "<synthetic>",
        ] {
            assert_eq!(model_price(id), None, "{id}");
        }
    }

    #[test]
    fn reference_cost_of_a_million_of_each_kind() {
        // input + output + cache read + 5-minute cache write, 1M tokens each.
        let cost = |id: &str| model_price(id).unwrap().cost(&million_of_each(), false);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(cost("claude-opus-4-6"), 5.0 + 25.0 + 0.5 + 6.25));
        assert!(close(cost("claude-opus-4-1"), 15.0 + 75.0 + 1.5 + 18.75));
        assert!(close(
            cost("claude-3-7-sonnet-20250219"),
            3.0 + 15.0 + 0.3 + 3.75
        ));
        assert!(close(
            cost("claude-3-5-haiku-20241022"),
            0.8 + 4.0 + 0.08 + 1.0
        ));
        assert!(close(cost("claude-haiku-4-5"), 1.0 + 5.0 + 0.1 + 1.25));
        assert!(close(
            cost("claude-3-haiku-20240307"),
            0.25 + 1.25 + 0.03 + 0.30
        ));
    }

    #[test]
    fn one_hour_cache_writes_cost_twice_the_input_price() {
        let usage = Usage {
            cache_write_1h_tokens: 100_000,
            ..Usage::default()
        };
        let cost = model_price("claude-opus-4-5").unwrap().cost(&usage, false);
        assert!((cost - 1.0).abs() < 1e-12, "{cost}");
    }

    #[test]
    fn long_context_rates_apply_per_kind_beyond_200k_in_one_response() {
        let sonnet = model_price("claude-sonnet-4-5-20250929").unwrap();
        let input = |n| Usage {
            input_tokens: n,
            ..Usage::default()
        };
        // ccusage 20.0.24: 1M input tokens -> 200k at $3 + 800k at $6 = $5.40.
        assert!((sonnet.cost(&input(1_000_000), false) - 5.4).abs() < 1e-9);
        assert!((sonnet.cost(&input(200_000), false) - 0.6).abs() < 1e-12);
        let cache_read = Usage {
            cache_read_tokens: 1_000_000,
            ..Usage::default()
        };
        assert!((sonnet.cost(&cache_read, false) - 0.54).abs() < 1e-9);
        // Sonnet 4.6 and 3.7 have no long-context tier.
        let plain = model_price("claude-sonnet-4-6").unwrap();
        assert!((plain.cost(&input(1_000_000), false) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn fast_mode_multiplies_only_where_it_exists() {
        let usage = Usage {
            input_tokens: 1_000_000,
            ..Usage::default()
        };
        let cost = |id: &str, fast| model_price(id).unwrap().cost(&usage, fast);
        assert!((cost("claude-opus-4-6", true) - 30.0).abs() < 1e-9);
        assert!((cost("claude-opus-4-6", false) - 5.0).abs() < 1e-9);
        assert!((cost("claude-opus-4-5", true) - 5.0).abs() < 1e-9);
    }
}
