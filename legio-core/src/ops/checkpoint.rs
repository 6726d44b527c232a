//! Checkpoints: what a dead agent's replacement needs to pick up the work
//! (`.legio/agents/<agent>/checkpoint.json`, legio 0.1.0's `SessionCheckpoint` shape).
//!
//! Written by the hooks at every turn end and before compaction; read by the watchdog's
//! recovery and by `legio prime --compact`. Written atomically (temporary file + rename).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::layout::Layout;
use crate::names::AgentName;
use crate::time::Timestamp;

/// A checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The agent.
    pub agent_name: String,
    /// Its task.
    pub bead_id: String,
    /// The Claude Code session that wrote it.
    pub session_id: String,
    /// When.
    pub timestamp: Timestamp,
    /// What the agent last said it did.
    pub progress_summary: String,
    /// Files it changed (as far as legio knows).
    #[serde(default)]
    pub files_modified: Vec<String>,
    /// Its branch.
    pub current_branch: String,
    /// What remains (free text).
    #[serde(default)]
    pub pending_work: String,
    /// Expertise domains (legio 0.1.0 compatibility; unused).
    #[serde(default)]
    pub mulch_domains: Vec<String>,
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// I/O.
    #[error("cannot {action} checkpoint {}: {source}", path.display())]
    Io {
        /// read / write.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not valid JSON of the right shape.
    #[error("checkpoint {} is not valid: {reason}; delete it to start the agent afresh", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Writes `text` to `path` atomically: a sibling temporary file, then a rename.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Saves `checkpoint` for `agent`.
pub fn save(
    layout: &Layout,
    agent: &AgentName,
    checkpoint: &Checkpoint,
) -> Result<(), CheckpointError> {
    let path = layout.checkpoint(agent);
    let mut text =
        serde_json::to_string_pretty(checkpoint).map_err(|e| CheckpointError::Invalid {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    text.push('\n');
    write_atomic(&path, &text).map_err(|source| CheckpointError::Io {
        action: "write",
        path,
        source,
    })
}

/// Loads the checkpoint of `agent`, if there is one.
pub fn load(layout: &Layout, agent: &AgentName) -> Result<Option<Checkpoint>, CheckpointError> {
    let path = layout.checkpoint(agent);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CheckpointError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| CheckpointError::Invalid {
            path,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        let agent = AgentName::new("b1").unwrap();
        assert_eq!(load(&layout, &agent).unwrap(), None);
        let cp = Checkpoint {
            agent_name: "b1".into(),
            bead_id: "t-1".into(),
            session_id: "s".into(),
            timestamp: Timestamp::from_millis(5),
            progress_summary: "did things".into(),
            files_modified: vec!["a.rs".into()],
            current_branch: "legio/b1/t-1".into(),
            pending_work: String::new(),
            mulch_domains: vec![],
        };
        save(&layout, &agent, &cp).unwrap();
        assert_eq!(load(&layout, &agent).unwrap(), Some(cp));
        std::fs::write(layout.checkpoint(&agent), "{trunc").unwrap();
        let err = load(&layout, &agent).unwrap_err();
        assert!(err.to_string().contains("delete it"), "{err}");
    }

    #[test]
    fn reads_a_legacy_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        let agent = AgentName::new("b1").unwrap();
        std::fs::create_dir_all(layout.agent_dir(&agent)).unwrap();
        std::fs::write(
            layout.checkpoint(&agent),
            "{\n\t\"agentName\": \"b1\",\n\t\"beadId\": \"t-1\",\n\t\"sessionId\": \"s\",\n\t\"timestamp\": \"2026-01-31T12:00:00.000Z\",\n\t\"progressSummary\": \"p\",\n\t\"filesModified\": [],\n\t\"currentBranch\": \"legio/b1/t-1\",\n\t\"pendingWork\": \"w\",\n\t\"mulchDomains\": []\n}\n",
        )
        .unwrap();
        let cp = load(&layout, &agent).unwrap().unwrap();
        assert_eq!(cp.pending_work, "w");
    }
}
