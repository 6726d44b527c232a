//! How `legio merge` reports: recovered merges, finished entries, predictions, statistics.

use std::fmt::Write as _;

use legio_core::domain::merge::MergeStatus;
use legio_core::ops::merge_flow::handoff::HandedOff;
use legio_core::ops::merge_flow::stats::MergeStats;
use legio_merge::{EntryReport, Prediction, Recovery, Resolution};

use crate::output::{BOLD, GREEN, Printer, RED, YELLOW, paint};

/// An interrupted merge that was undone.
pub fn recovery(r: &Recovery, target: &str, out: &mut Printer) {
    let at = short(&r.restored_commit);
    let moved = if r.ref_restored {
        format!("{target} moved back to {at}")
    } else {
        format!("{target} was still at {at}")
    };
    let files = if r.files_restored.is_empty() {
        String::new()
    } else {
        format!(
            ", {} file(s) of its checkout put back",
            r.files_restored.len()
        )
    };
    out.line(paint(
        YELLOW,
        format!(
            "Recovered an interrupted merge of {} into {target}: {moved}{files}; entry #{} is pending again",
            r.branch, r.entry_id
        ),
    ));
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// A finished entry.
pub fn entry(r: &EntryReport, out: &mut Printer) {
    let e = &r.entry;
    let tier = r
        .tier
        .map_or_else(|| "no tier".to_owned(), |t| t.to_string());
    let head = format!(
        "{} (agent {}, task {}, {} file(s))",
        paint(BOLD, &e.branch_name),
        e.agent_name,
        e.bead_id,
        e.files_modified.len()
    );
    if e.status == MergeStatus::Merged {
        let how = if r.already_merged {
            "already merged; nothing to commit".to_owned()
        } else {
            format!(
                "merged ({tier}, {}ms){}",
                r.duration_ms,
                r.merge_commit
                    .as_deref()
                    .map(|c| format!(", commit {}", short(c)))
                    .unwrap_or_default()
            )
        };
        out.line(format!(
            "{} {head} {}",
            paint(GREEN, "✓"),
            paint(GREEN, how)
        ));
        for res in &r.resolutions {
            let how = match res.how {
                Resolution::KeepBoth => "both sides kept",
                Resolution::JsonlUnion => "JSONL union",
                Resolution::UnionAttribute => "merge=union",
                Resolution::Ai => "AI, checked",
            };
            out.info(format!("    resolved {} ({how})", res.path));
        }
        return;
    }
    out.line(format!(
        "{} {head} {}",
        paint(RED, "✗"),
        paint(RED, format!("{} ({tier}, {}ms)", e.status, r.duration_ms))
    ));
    if !r.conflict_files.is_empty() {
        out.line(format!(
            "    conflicting files: {}",
            r.conflict_files.join(", ")
        ));
    }
    if let Some(err) = &r.error {
        for (i, l) in err.lines().enumerate() {
            out.line(if i == 0 {
                format!("    error: {l}")
            } else {
                format!("      {l}")
            });
        }
    }
}

/// A reimagined entry's new task, and how to start its builder.
pub fn handoff(h: &HandedOff, r: &EntryReport, out: &mut Printer) {
    let target = r.entry.target_branch.as_deref().unwrap_or("the target");
    out.line(format!(
        "    reimagine: task {} created with spec {}",
        h.task,
        h.spec.display()
    ));
    out.line(format!(
        "    start its builder on a fresh branch from {target}: legio sling {} --capability builder --spec {}",
        h.task,
        h.spec.display()
    ));
}

/// A dry run's forecast for one branch.
pub fn prediction(p: &Prediction, out: &mut Printer) {
    let name = paint(BOLD, &p.branch);
    let queued = p
        .entry_id
        .map_or_else(|| "not queued".to_owned(), |id| format!("entry #{id}"));
    if let Some(err) = &p.error {
        out.line(format!("{} {name}: {}", paint(RED, "✗"), err));
        return;
    }
    let files = p.changed_files.len();
    if p.already_merged {
        out.line(format!(
            "{} {name} ({queued}): already merged",
            paint(GREEN, "✓")
        ));
        return;
    }
    match (p.tier, p.conflicts.is_empty() && p.union_files.is_empty()) {
        (Some(tier), true) => out.line(format!(
            "{} {name} ({queued}, {files} file(s)): clean ({tier})",
            paint(GREEN, "✓")
        )),
        (Some(tier), false) => out.line(format!(
            "{} {name} ({queued}, {files} file(s)): conflicts; needs {tier}",
            paint(YELLOW, "~")
        )),
        (None, _) => out.line(format!(
            "{} {name} ({queued}, {files} file(s)): no enabled tier can merge it",
            paint(RED, "✗")
        )),
    }
    for c in &p.conflicts {
        let tier = c.tier.map_or_else(|| "none".to_owned(), |t| t.to_string());
        let kind = serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut line = format!("    {} ({kind}): {tier}", c.path);
        if let Some(r) = &c.reason {
            let _ = write!(line, " ({r})");
        }
        out.line(line);
    }
    for f in &p.union_files {
        out.line(format!("    {f} (merge=union): auto-resolve"));
    }
}

/// The outcomes by tier and the queue's counts by status.
pub fn stats(stats: &MergeStats, by_status: &[(MergeStatus, usize)], out: &mut Printer) {
    if stats.by_tier.is_empty() {
        out.line("No merges recorded yet.");
    } else {
        out.line(paint(BOLD, "Merge outcomes by tier"));
        out.line(format!(
            "  {:<14} {:>7} {:>9} {:>7} {:>10}",
            "tier", "merged", "conflict", "failed", "mean"
        ));
        for r in &stats.by_tier {
            let tier = r
                .tier
                .map_or_else(|| "(none)".to_owned(), |t| t.to_string());
            out.line(format!(
                "  {tier:<14} {:>7} {:>9} {:>7} {:>10}",
                r.merged,
                r.conflict,
                r.failed,
                legio_core::time::format_duration_ms(r.mean_duration_ms.round() as i64)
            ));
        }
    }
    if stats.unreadable > 0 {
        out.warn(format!(
            "{} merge event(s) in events.db could not be read and were left out",
            stats.unreadable
        ));
    }
    let summary: Vec<String> = by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    out.line(format!("Queue: {}", summary.join(", ")));
}
