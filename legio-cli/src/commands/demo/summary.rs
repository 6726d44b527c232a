//! The demo's result: what it prints at the end (text) or as `--json`, and the few figures
//! computed from the run (hook latency percentiles).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::output::{BOLD, DIM, GREEN, Printer, RED, paint};

/// Everything the demo reports.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Every builder's branch landed and the tests pass on the merged result.
    pub ok: bool,
    /// The scratch directory.
    pub dir: String,
    /// Whether it is left in place (`--keep`).
    pub kept: bool,
    /// `tmux` or `headless`.
    pub multiplexer: String,
    /// From the first step to the merged tests, in milliseconds.
    pub wall_time_ms: u64,
    /// Every agent, in the order they started.
    pub agents: Vec<AgentLine>,
    /// The mail the agents exchanged.
    pub mail: MailTally,
    /// The merge queue's entries and their tiers.
    pub merges: Merges,
    /// The agent that was killed and what the watchdog did.
    pub recovery: Option<Recovery>,
    /// How long each `legio hook` call took.
    pub hook_latency: Option<Latency>,
    /// `sh test.sh` on the merged target.
    pub tests: Option<TestRun>,
    /// What went wrong, if anything.
    pub problems: Vec<String>,
}

/// One agent at the end.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentLine {
    /// Its name.
    pub name: String,
    /// Its role.
    pub capability: String,
    /// Its state.
    pub state: String,
    /// Who started it.
    pub parent: Option<String>,
    /// Its task.
    pub task: String,
    /// Its branch (empty at the project root).
    pub branch: String,
    /// Whether its branch is contained in the target.
    pub landed: Option<bool>,
}

/// Mail by type.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailTally {
    /// Messages sent.
    pub total: usize,
    /// Messages by type.
    pub by_type: BTreeMap<String, usize>,
    /// Messages still unread.
    pub unread: usize,
}

/// The merge queue.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Merges {
    /// The target branch.
    pub target: String,
    /// Merged entries by tier.
    pub by_tier: BTreeMap<String, usize>,
    /// Every entry, in queue order.
    pub entries: Vec<MergeLine>,
}

/// One merge queue entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeLine {
    /// The branch.
    pub branch: String,
    /// Its agent.
    pub agent: String,
    /// pending, merging, merged, conflict or failed.
    pub status: String,
    /// The tier that merged it (or the highest tried).
    pub tier: Option<String>,
    /// Why it did not merge.
    pub error: Option<String>,
}

/// The killed agent's recovery.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    /// The agent.
    pub agent: String,
    /// The process the demo killed.
    pub killed_pid: u32,
    /// Its process after the watchdog restarted it.
    pub new_pid: Option<u32>,
    /// Whether it was restarted and went on working.
    pub recovered: bool,
    /// From the kill to the restarted agent's first sign of life, in milliseconds.
    pub recovered_after_ms: Option<u64>,
    /// Whether its commit from before the kill is on its branch still.
    pub earlier_work_kept: bool,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    /// What was measured.
    pub source: &'static str,
    /// How many calls.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// What the wall-time samples of the hook calls are.
pub const HOOK_SOURCE: &str = "wall time of every hook command the agents ran (`sh -c` + `legio hook`), measured by the simulated agents around each call";

impl Latency {
    /// Percentiles (nearest rank) of `samples`; `None` without samples.
    pub fn of(mut samples: Vec<f64>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let i = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            samples[i.clamp(1, samples.len()) - 1]
        };
        Some(Self {
            source: HOOK_SOURCE,
            count: samples.len(),
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: samples[samples.len() - 1],
        })
    }

    /// Reads every `<dir>/*.jsonl` the simulated agents wrote (`{"ms": ...}` per line).
    pub fn read(dir: &Path) -> Option<Self> {
        let mut samples = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            samples.extend(
                text.lines().filter_map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).ok()?["ms"].as_f64()
                }),
            );
        }
        Self::of(samples)
    }
}

/// The program's tests on the merged target.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestRun {
    /// Whether they passed.
    pub passed: bool,
    /// What they printed.
    pub output: String,
}

impl Summary {
    /// Prints the summary as text.
    pub fn print(&self, out: &mut Printer) {
        out.line(paint(BOLD, "Agents"));
        for a in &self.agents {
            let landed = match a.landed {
                Some(true) => paint(GREEN, "landed"),
                Some(false) => paint(RED, "not landed"),
                None => String::new(),
            };
            let line = format!(
                "  {:<12} {:<12} {:<10} {:<10} {landed}",
                a.name, a.capability, a.state, a.task
            );
            out.line(line.trim_end());
        }
        let types: Vec<String> = self
            .mail
            .by_type
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        out.line(format!(
            "{} {} messages ({})",
            paint(BOLD, "Mail"),
            self.mail.total,
            types.join(", ")
        ));
        let tiers: Vec<String> = self
            .merges
            .by_tier
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        out.line(format!(
            "{} into {}: {}",
            paint(BOLD, "Merges"),
            self.merges.target,
            if tiers.is_empty() {
                "none".to_owned()
            } else {
                tiers.join(", ")
            }
        ));
        for m in &self.merges.entries {
            let tier = m.tier.as_deref().unwrap_or("-");
            let why = m
                .error
                .as_deref()
                .map(|e| format!(": {}", e.lines().next().unwrap_or_default()))
                .unwrap_or_default();
            out.line(format!("  {:<26} {:<8} {tier}{why}", m.branch, m.status));
        }
        match &self.recovery {
            Some(r) if r.recovered => out.line(format!(
                "{} {} killed (pid {}), restarted by the watchdog as pid {} after {} ms; its earlier commit {}",
                paint(BOLD, "Recovery"),
                r.agent,
                r.killed_pid,
                r.new_pid.map_or_else(|| "?".to_owned(), |p| p.to_string()),
                r.recovered_after_ms.unwrap_or_default(),
                if r.earlier_work_kept { "was kept" } else { "was lost" },
            )),
            Some(r) => out.line(format!(
                "{} {} killed (pid {}), {}",
                paint(BOLD, "Recovery"),
                r.agent,
                r.killed_pid,
                paint(RED, "not restarted")
            )),
            None => {}
        }
        if let Some(l) = &self.hook_latency {
            out.line(format!(
                "{} {} calls: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                paint(BOLD, "Hook latency"),
                l.count,
                l.p50,
                l.p90,
                l.p99,
                l.max
            ));
            out.line(paint(DIM, format!("  ({})", l.source)));
        }
        if let Some(t) = &self.tests {
            let verdict = if t.passed {
                paint(GREEN, "pass")
            } else {
                paint(RED, "FAIL")
            };
            let last = t.output.lines().last().unwrap_or_default();
            out.line(format!(
                "{} on the merged {}: {verdict} ({last})",
                paint(BOLD, "Tests"),
                self.merges.target
            ));
        }
        out.line(format!(
            "{} {:.1} s, {} agents",
            paint(BOLD, "Wall time"),
            self.wall_time_ms as f64 / 1000.0,
            self.multiplexer
        ));
        for p in &self.problems {
            out.line(paint(RED, format!("problem: {p}")));
        }
        if self.kept {
            out.line(format!("Kept: {}", self.dir));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latency::of((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!(
            (l.p50, l.p90, l.p99, l.max, l.count),
            (50.0, 90.0, 99.0, 100.0, 100)
        );
        let one = Latency::of(vec![3.5]).unwrap();
        assert_eq!((one.p50, one.p99, one.max), (3.5, 3.5, 3.5));
        assert!(Latency::of(Vec::new()).is_none());
    }

    #[test]
    fn hook_logs_are_read_from_every_agent_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jsonl"), "{\"ms\": 2.0}\n{\"ms\": 4.0}\n").unwrap();
        std::fs::write(dir.path().join("b.jsonl"), "{\"ms\": 6.0}\nnot json\n").unwrap();
        let l = Latency::read(dir.path()).unwrap();
        assert_eq!((l.count, l.p50, l.max), (3, 4.0, 6.0));
    }
}
