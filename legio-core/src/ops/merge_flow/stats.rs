//! Merge outcomes by tier (`legio merge --stats`), from the `merge` events of
//! [`super::ledger`]: per tier, how many entries merged and how many did not, and the mean
//! duration.

use serde::Serialize;

use crate::domain::event::StoredEvent;
use crate::domain::merge::{MergeStatus, ResolutionTier};

/// The outcomes of one tier (`tier: None`: entries that failed before any tier applied, such
/// as a branch that vanished).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TierStats {
    /// The tier that merged the entries, or the last one tried.
    pub tier: Option<ResolutionTier>,
    /// Entries merged.
    pub merged: u64,
    /// Entries that ended `conflict` (no enabled tier could resolve them).
    pub conflict: u64,
    /// Entries that ended `failed` (quality gates, git errors).
    pub failed: u64,
    /// Mean duration over all of them, in milliseconds.
    pub mean_duration_ms: f64,
}

impl TierStats {
    /// Every entry counted.
    pub fn total(&self) -> u64 {
        self.merged + self.conflict + self.failed
    }
}

/// Outcomes by tier, in tier order, the tier-less row last; tiers never seen are left out.
/// Events that are not readable `merge` events are skipped and counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeStats {
    /// One row per tier seen.
    pub by_tier: Vec<TierStats>,
    /// `merge` events whose data could not be read.
    pub unreadable: u64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventData {
    status: MergeStatus,
    tier: Option<ResolutionTier>,
    duration_ms: u64,
}

/// Tallies `events` (the `merge` events; others are ignored).
pub fn tally(events: &[StoredEvent]) -> MergeStats {
    // (tier, merged, conflict, failed, total duration)
    let mut rows: Vec<(Option<ResolutionTier>, u64, u64, u64, u64)> = Vec::new();
    let mut unreadable = 0;
    for e in events.iter().filter(|e| e.event_type == "merge") {
        let Some(d) = e
            .data
            .as_deref()
            .and_then(|d| serde_json::from_str::<EventData>(d).ok())
        else {
            unreadable += 1;
            continue;
        };
        let i = rows.iter().position(|r| r.0 == d.tier).unwrap_or_else(|| {
            rows.push((d.tier, 0, 0, 0, 0));
            rows.len() - 1
        });
        let row = &mut rows[i];
        match d.status {
            MergeStatus::Merged => row.1 += 1,
            MergeStatus::Conflict => row.2 += 1,
            _ => row.3 += 1,
        }
        row.4 += d.duration_ms;
    }
    // Tiers in escalation order; `None` (no tier) after them all.
    rows.sort_by_key(|r| (r.0.is_none(), r.0));
    MergeStats {
        by_tier: rows
            .into_iter()
            .map(|(tier, merged, conflict, failed, total_ms)| {
                let n = merged + conflict + failed;
                TierStats {
                    tier,
                    merged,
                    conflict,
                    failed,
                    mean_duration_ms: total_ms as f64 / n as f64,
                }
            })
            .collect(),
        unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::EventLevel;
    use crate::time::Timestamp;

    fn ev(kind: &str, data: &str) -> StoredEvent {
        StoredEvent {
            id: 1,
            run_id: None,
            agent_name: "b".into(),
            session_id: None,
            event_type: kind.into(),
            tool_name: None,
            tool_args: None,
            tool_duration_ms: None,
            level: EventLevel::Info,
            data: Some(data.into()),
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn counts_outcomes_and_means_by_tier_in_tier_order() {
        let events = [
            ev(
                "merge",
                r#"{"status":"merged","tier":"auto-resolve","durationMs":30}"#,
            ),
            ev(
                "merge",
                r#"{"status":"merged","tier":"clean-merge","durationMs":10}"#,
            ),
            ev(
                "merge",
                r#"{"status":"merged","tier":"clean-merge","durationMs":20}"#,
            ),
            ev(
                "merge",
                r#"{"status":"conflict","tier":"auto-resolve","durationMs":90}"#,
            ),
            ev("merge", r#"{"status":"failed","tier":null,"durationMs":4}"#),
            ev("merge", "not json"),
            ev("tool_start", r#"{"status":"merged"}"#),
        ];
        let s = tally(&events);
        assert_eq!(s.unreadable, 1);
        let tiers: Vec<_> = s.by_tier.iter().map(|r| r.tier).collect();
        assert_eq!(
            tiers,
            [
                Some(ResolutionTier::CleanMerge),
                Some(ResolutionTier::AutoResolve),
                None
            ]
        );
        let clean = &s.by_tier[0];
        assert_eq!((clean.merged, clean.total()), (2, 2));
        assert!((clean.mean_duration_ms - 15.0).abs() < f64::EPSILON);
        let auto = &s.by_tier[1];
        assert_eq!((auto.merged, auto.conflict, auto.failed), (1, 1, 0));
        assert!((auto.mean_duration_ms - 60.0).abs() < f64::EPSILON);
        assert_eq!(s.by_tier[2].failed, 1);
    }

    #[test]
    fn no_events_no_rows() {
        assert_eq!(tally(&[]), MergeStats::default());
    }
}
