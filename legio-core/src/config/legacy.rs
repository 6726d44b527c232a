//! The watchdog keys of legio before 0.1.0, read under their current names.
//!
//! Old scheme: `tier1Enabled` / `tier1IntervalMs` were the mechanical daemon and `tier2Enabled`
//! the AI triage. Current scheme: `tier0Enabled` / `tier0IntervalMs` are the daemon,
//! `tier1Enabled` the triage and `tier2Enabled` the monitor agent.
//!
//! **The rule.** A file's `watchdog` section is old-style when it has `tier1IntervalMs` (a key
//! that exists only in the old scheme) and neither `tier0Enabled` nor `tier0IntervalMs` (keys
//! that exist only in the new one). legio 0.1.0 looked at `tier1Enabled` instead, a key both
//! schemes share, so a new-style file enabling triage with `tier1Enabled: true` alone was
//! misread: triage stayed off and the daemon was forced on. Here that file means what it says.
//! Each file (config.yaml, config.local.yaml) is judged on its own, before merging.

use super::yaml::{Entry, Kind, Node, Pos};

/// One key read under a new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Renamed {
    pub old: &'static str,
    pub new: &'static str,
    pub pos: Pos,
    pub source: usize,
}

/// Old name -> new name, applied together (so `tier1Enabled` and `tier2Enabled` swap cleanly).
const RENAMES: &[(&str, &str)] = &[
    ("tier1Enabled", "tier0Enabled"),
    ("tier1IntervalMs", "tier0IntervalMs"),
    ("tier2Enabled", "tier1Enabled"),
];

/// Renames old-style watchdog keys in one file's tree; returns what it renamed.
pub(crate) fn migrate_watchdog(root: &mut Node) -> Vec<Renamed> {
    let Kind::Map(top) = &mut root.kind else {
        return Vec::new();
    };
    let Some(Entry {
        value: watchdog, ..
    }) = top.iter_mut().find(|e| e.key == "watchdog")
    else {
        return Vec::new();
    };
    let Kind::Map(keys) = &mut watchdog.kind else {
        return Vec::new();
    };
    let has = |k: &str| keys.iter().any(|e| e.key == k);
    if !has("tier1IntervalMs") || has("tier0Enabled") || has("tier0IntervalMs") {
        return Vec::new();
    }
    let mut renamed = Vec::new();
    for entry in keys.iter_mut() {
        if let Some((old, new)) = RENAMES.iter().find(|(old, _)| entry.key == *old) {
            renamed.push(Renamed {
                old,
                new,
                pos: entry.key_pos,
                source: entry.value.source,
            });
            entry.key = (*new).to_owned();
        }
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse;
    use super::*;

    fn keys(node: &Node) -> Vec<(String, String)> {
        node.get("watchdog")
            .and_then(Node::entries)
            .unwrap_or(&[])
            .iter()
            .map(|e| match &e.value.kind {
                Kind::Scalar { text, .. } => (e.key.clone(), text.clone()),
                _ => (e.key.clone(), String::new()),
            })
            .collect()
    }

    #[test]
    fn old_style_files_are_renamed_all_at_once() {
        let mut root = parse(
            "watchdog:\n  tier1Enabled: true\n  tier1IntervalMs: 5000\n  tier2Enabled: true\n",
            0,
        )
        .unwrap()
        .root
        .unwrap();
        let renamed = migrate_watchdog(&mut root);
        assert_eq!(renamed.len(), 3);
        assert_eq!(
            keys(&root),
            [
                ("tier0Enabled".into(), "true".into()),
                ("tier0IntervalMs".into(), "5000".into()),
                ("tier1Enabled".into(), "true".into()),
            ]
        );
    }

    #[test]
    fn enabling_triage_alone_is_new_style() {
        let mut root = parse("watchdog:\n  tier1Enabled: true\n", 0)
            .unwrap()
            .root
            .unwrap();
        assert!(migrate_watchdog(&mut root).is_empty());
        assert_eq!(keys(&root), [("tier1Enabled".into(), "true".into())]);
    }

    #[test]
    fn new_keys_beside_the_old_interval_mean_new_style() {
        let mut root = parse(
            "watchdog:\n  tier0Enabled: false\n  tier1Enabled: true\n  tier1IntervalMs: 9\n",
            0,
        )
        .unwrap()
        .root
        .unwrap();
        assert!(migrate_watchdog(&mut root).is_empty());
    }
}
