//! legio's token totals and costs against ccusage 20.0.24's, on the fixture transcripts in
//! `tests/fixtures/transcripts/home/.claude/projects/` (written by `generate.py` there).
//!
//! - `recorded_ccusage_figures_agree` compares with ccusage's output recorded in
//!   `ccusage-20.0.24-session.json` (by `record-ccusage.sh`): it always runs.
//! - `live_ccusage_agrees` runs ccusage itself on the same files and compares again. It needs
//!   ccusage 20.0.24 (`npm install --prefix .cache/ccusage ccusage@20.0.24`, or
//!   `LEGIO_CCUSAGE=/path/to/ccusage`); when ccusage is absent it **fails** saying so, unless
//!   `LEGIO_CCUSAGE=skip` says to skip it on purpose.
//!
//! - `claude_code_agrees_on_its_own_sessions` compares with the cost the real `claude` binary
//!   (2.1.332, driven by a scripted model) reported for the two sessions it wrote
//!   (`claude-code-2.1.332-results.json`).
//!
//! Tokens must be equal; costs within 1% (they agree to floating-point noise in practice).

// Helpers of tests: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use legio_core::costs::{
    ClaudeDir, LastLine, UsageLedger, UsageReport, find_transcript, read_usage_file,
    session_transcripts,
};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/transcripts");
const RECORDED: &str = "ccusage-20.0.24-session.json";
const CCUSAGE_VERSION: &str = "20.0.24";
const DEFAULT_CCUSAGE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.cache/ccusage/node_modules/.bin/ccusage"
);

/// The figures compared for one session, one model, or the whole set.
#[derive(Debug, Clone, Default, PartialEq)]
struct Figures {
    input: u64,
    output: u64,
    cache_creation: u64,
    cache_read: u64,
    cost: f64,
}

/// Per session: totals and per-model figures. Keyed by (project dir, session id).
type Sessions = BTreeMap<(String, String), (Figures, BTreeMap<String, Figures>)>;

fn claude_dir() -> PathBuf {
    Path::new(FIXTURES).join("home/.claude")
}

fn figures_of(report: &UsageReport) -> (Figures, BTreeMap<String, Figures>) {
    let total = Figures {
        input: report.total.input_tokens,
        output: report.total.output_tokens,
        cache_creation: report.total.cache_creation_tokens(),
        cache_read: report.total.cache_read_tokens,
        cost: report.cost_usd.unwrap_or(0.0),
    };
    let mut models = BTreeMap::new();
    for m in &report.models {
        // ccusage leaves out responses that name no model (Claude Code's `<synthetic>` ones).
        let Some(model) = &m.model else { continue };
        let name = if m.fast {
            format!("{model}-fast")
        } else {
            model.clone()
        };
        models.insert(
            name,
            Figures {
                input: m.usage.input_tokens,
                output: m.usage.output_tokens,
                cache_creation: m.usage.cache_creation_tokens(),
                cache_read: m.usage.cache_read_tokens,
                // ccusage counts an unknown model's cost as 0 and lists it as unpriced.
                cost: m.cost_usd.unwrap_or(0.0),
            },
        );
    }
    (total, models)
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

/// Every main transcript (`projects/<key>/<session>.jsonl`) of the fixture home.
fn main_transcripts() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for project in sorted_entries(&claude_dir().join("projects")) {
        for file in sorted_entries(&project) {
            if file.extension().is_some_and(|e| e == "jsonl") {
                out.push(file);
            }
        }
    }
    out
}

fn read_into(ledger: &mut UsageLedger, path: &Path) {
    let stats = read_usage_file(path, 0, ledger, LastLine::Final)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert_eq!(stats.pending_bytes, 0);
}

/// legio's figures: one ledger per session (its main transcript and its subagents').
fn ours() -> Sessions {
    let mut sessions = Sessions::new();
    for main in main_transcripts() {
        let mut ledger = UsageLedger::new();
        for file in session_transcripts(&main).unwrap() {
            read_into(&mut ledger, &file);
        }
        let project = main
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let session = main.file_stem().unwrap().to_string_lossy().into_owned();
        sessions.insert((project, session), figures_of(&ledger.report()));
    }
    sessions
}

/// legio's figures over every file at once (one ledger, as ccusage's totals are computed).
fn our_totals() -> (UsageReport, Figures) {
    let mut ledger = UsageLedger::new();
    for main in main_transcripts() {
        for file in session_transcripts(&main).unwrap() {
            read_into(&mut ledger, &file);
        }
    }
    let report = ledger.report();
    let figures = figures_of(&report).0;
    (report, figures)
}

fn number(value: &Value, key: &str) -> u64 {
    value[key]
        .as_u64()
        .unwrap_or_else(|| panic!("ccusage output has no integer {key:?}: {value}"))
}

fn ccusage_figures(value: &Value, cost_key: &str) -> Figures {
    Figures {
        input: number(value, "inputTokens"),
        output: number(value, "outputTokens"),
        cache_creation: number(value, "cacheCreationTokens"),
        cache_read: number(value, "cacheReadTokens"),
        cost: value[cost_key]
            .as_f64()
            .unwrap_or_else(|| panic!("ccusage output has no {cost_key:?}: {value}")),
    }
}

/// ccusage's per-session figures and its totals, from `ccusage claude session --json`.
fn parse_ccusage(json: &str) -> (Sessions, Figures, Vec<String>) {
    let value: Value = serde_json::from_str(json).expect("ccusage printed JSON");
    let mut sessions = Sessions::new();
    for s in value["sessions"].as_array().expect("a sessions array") {
        let key = (
            s["projectPath"].as_str().expect("projectPath").to_owned(),
            s["sessionId"].as_str().expect("sessionId").to_owned(),
        );
        let models = s["modelBreakdowns"]
            .as_array()
            .expect("modelBreakdowns")
            .iter()
            .map(|m| {
                let name = m["modelName"].as_str().expect("modelName").to_owned();
                (name, ccusage_figures(m, "cost"))
            })
            .collect();
        sessions.insert(key, (ccusage_figures(s, "totalCost"), models));
    }
    let totals = ccusage_figures(&value["totals"], "totalCost");
    let unpriced = value["totals"]["unpricedModels"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    (sessions, totals, unpriced)
}

fn assert_agree(what: &str, ours: &Figures, theirs: &Figures) {
    let tokens = |f: &Figures| (f.input, f.output, f.cache_creation, f.cache_read);
    assert_eq!(
        tokens(ours),
        tokens(theirs),
        "{what}: tokens (input, output, cache creation, cache read) differ from ccusage's"
    );
    let tolerance = 0.01 * theirs.cost.abs().max(1e-9);
    assert!(
        (ours.cost - theirs.cost).abs() <= tolerance,
        "{what}: cost ${:.6} is not within 1% of ccusage's ${:.6}",
        ours.cost,
        theirs.cost
    );
}

fn assert_all_agree(ccusage_json: &str) {
    let (theirs, their_totals, their_unpriced) = parse_ccusage(ccusage_json);
    let ours = ours();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "the sessions found differ from ccusage's"
    );
    for (key, (our_total, our_models)) in &ours {
        let (their_total, their_models) = &theirs[key];
        let session = format!("session {}/{}", key.0, key.1);
        assert_agree(&session, our_total, their_total);
        assert_eq!(
            our_models.keys().collect::<Vec<_>>(),
            their_models.keys().collect::<Vec<_>>(),
            "{session}: models differ"
        );
        for (model, figures) in our_models {
            assert_agree(
                &format!("{session}, model {model}"),
                figures,
                &their_models[model],
            );
        }
    }
    let (report, our_totals) = our_totals();
    assert_agree("all sessions", &our_totals, &their_totals);
    let our_unpriced: Vec<String> = report
        .unpriced()
        .iter()
        .filter_map(|u| u.model.clone())
        .collect();
    assert_eq!(our_unpriced, their_unpriced, "unpriced models differ");
}

#[test]
fn recorded_ccusage_figures_agree() {
    let recorded = fs::read_to_string(Path::new(FIXTURES).join(RECORDED)).unwrap();
    assert_all_agree(&recorded);
}

#[test]
fn claude_code_agrees_on_its_own_sessions() {
    let text =
        fs::read_to_string(Path::new(FIXTURES).join("claude-code-2.1.332-results.json")).unwrap();
    let results: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(results.len(), 2);
    for result in results {
        let session = result["session_id"].as_str().unwrap();
        // Found by scanning: the project directory is not given.
        let main = find_transcript(&ClaudeDir::new(claude_dir()), None, session)
            .unwrap()
            .unwrap_or_else(|| panic!("no transcript for session {session}"));
        let mut ledger = UsageLedger::new();
        for file in session_transcripts(&main).unwrap() {
            read_into(&mut ledger, &file);
        }
        let (ours, _) = figures_of(&ledger.report());
        let mut theirs = Figures {
            cost: result["total_cost_usd"].as_f64().unwrap(),
            ..Figures::default()
        };
        for usage in result["modelUsage"].as_object().unwrap().values() {
            theirs.input += number(usage, "inputTokens");
            theirs.output += number(usage, "outputTokens");
            theirs.cache_creation += number(usage, "cacheCreationInputTokens");
            theirs.cache_read += number(usage, "cacheReadInputTokens");
        }
        assert_agree(&format!("claude session {session}"), &ours, &theirs);
    }
}

#[test]
fn the_fixtures_cover_what_they_claim() {
    // Guards against a regenerated fixture set that no longer exercises the hard cases.
    let (report, _) = our_totals();
    let models: Vec<(&str, bool)> = report
        .models
        .iter()
        .filter_map(|m| Some((m.model.as_deref()?, m.fast)))
        .collect();
    for want in [
        ("claude-opus-4-20250514", false),
        ("claude-opus-4-6", true),
        ("claude-sonnet-4-20250514", false),
        ("claude-3-haiku-20240307", false),
        ("claude-sonnet-5-0", false),
    ] {
        assert!(models.contains(&want), "no {want:?} in {models:?}");
    }
    assert!(report.total.cache_write_1h_tokens > 0);
    assert!(report.total.cache_write_5m_tokens > 0);
    let mut duplicates = 0;
    let mut unreadable = 0;
    for main in main_transcripts() {
        for file in session_transcripts(&main).unwrap() {
            let stats =
                read_usage_file(&file, 0, &mut UsageLedger::new(), LastLine::Final).unwrap();
            duplicates += stats.duplicates;
            unreadable += stats.unreadable;
        }
    }
    assert!(duplicates > 50, "only {duplicates} duplicate lines");
    assert_eq!(unreadable, 1, "the one truncated assistant line");
}

/// The ccusage to run, or why there is none.
fn find_ccusage() -> Result<Option<PathBuf>, String> {
    // Tests may read the environment: LEGIO_CCUSAGE picks the ccusage binary (or `skip`).
    #[allow(clippy::disallowed_methods)]
    let chosen = std::env::var("LEGIO_CCUSAGE").ok();
    match chosen.as_deref() {
        Some("skip") => return Ok(None),
        Some(path) => return Ok(Some(PathBuf::from(path))),
        None => {}
    }
    let default = PathBuf::from(DEFAULT_CCUSAGE);
    if default.exists() {
        return Ok(Some(default));
    }
    Err(format!(
        "ccusage is not installed, so legio's costs were NOT compared with a live ccusage run.\n\
         Install it with `npm install --prefix .cache/ccusage ccusage@{CCUSAGE_VERSION}`, \
         or point LEGIO_CCUSAGE at a ccusage {CCUSAGE_VERSION} binary, \
         or set LEGIO_CCUSAGE=skip to skip this comparison on purpose."
    ))
}

#[test]
fn live_ccusage_agrees() {
    let ccusage = match find_ccusage() {
        Ok(Some(path)) => path,
        Ok(None) => {
            eprintln!("live ccusage comparison skipped: LEGIO_CCUSAGE=skip");
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let version = Command::new(&ccusage)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", ccusage.display()));
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.trim().ends_with(CCUSAGE_VERSION),
        "{} is ccusage {:?}; the expected figures are those of {CCUSAGE_VERSION}",
        ccusage.display(),
        version.trim()
    );
    let home = Path::new(FIXTURES).join("home");
    let output = Command::new(&ccusage)
        .args([
            "claude",
            "session",
            "--json",
            "--offline",
            "--mode",
            "calculate",
        ])
        .env("HOME", &home)
        .env("CLAUDE_CONFIG_DIR", claude_dir())
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", ccusage.display()));
    assert!(
        output.status.success(),
        "ccusage failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let live = String::from_utf8(output.stdout).expect("ccusage prints UTF-8");
    assert_all_agree(&live);
    // The recording is current: a regenerated fixture set must be recorded again.
    let recorded = fs::read_to_string(Path::new(FIXTURES).join(RECORDED)).unwrap();
    assert_eq!(
        parse_ccusage(&live),
        parse_ccusage(&recorded),
        "{RECORDED} is stale: run tests/fixtures/transcripts/record-ccusage.sh"
    );
}
