//! The project root's `.claude/settings.local.json`, shared by the human and every root-level
//! agent (coordinator, supervisors, monitor, gateway).
//!
//! legio's hook entries are installed there once (`legio hook <Event> --default-agent
//! orchestrator`: the human's session acts as the orchestrator, a root agent as itself through
//! `$LEGIO_AGENT_NAME`), merged into whatever the file holds. Who needs them is recorded in
//! `.legio/root-hooks.json`: `user` for `legio hooks install`, and the name of each root agent
//! while it runs. The entries are removed only when the last claimant releases them, and then
//! only legio's entries: when what remains equals the file as it was before legio first touched
//! it, the original text is restored byte for byte (key order and formatting included), and a
//! file legio created is deleted. Every read-modify-write runs under a lock file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::layout::Layout;
use crate::ops::checkpoint::write_atomic;
use crate::ops::lock::FileLock;
use crate::ops::settings::{self, SettingsError};

/// The claimant name of `legio hooks install`.
pub const USER: &str = "user";

/// The shared settings file: `<root>/.claude/settings.local.json`.
pub fn settings_path(root: &Path) -> PathBuf {
    root.join(".claude").join("settings.local.json")
}

fn claims_path(layout: &Layout) -> PathBuf {
    layout.file("root-hooks.json")
}

/// `.legio/root-hooks.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claims {
    /// Who needs legio's hooks at the root, in the order they claimed them.
    claimants: Vec<String>,
    /// The settings file's text before legio installed its hooks; `None`: there was no file.
    original: Option<String>,
}

/// Why the shared settings could not be changed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RootHooksError {
    /// The settings file cannot be merged.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `.legio/root-hooks.json` is not what legio wrote.
    #[error("{} is damaged ({reason}); delete it and run `legio hooks install` again", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
}

/// The state of the shared settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootHooksStatus {
    /// The settings file.
    pub path: PathBuf,
    /// Whether it exists.
    pub exists: bool,
    /// The events that have a legio hook in it.
    pub events: Vec<String>,
    /// Who needs the hooks.
    pub claimants: Vec<String>,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RootHooksError {
    let path = path.to_path_buf();
    move |source| RootHooksError::Io {
        action,
        path,
        source,
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, RootHooksError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", path)(e)),
    }
}

fn load_claims(layout: &Layout) -> Result<Claims, RootHooksError> {
    let path = claims_path(layout);
    match read_optional(&path)? {
        None => Ok(Claims::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| RootHooksError::Damaged {
            path,
            reason: e.to_string(),
        }),
    }
}

fn save_claims(layout: &Layout, claims: &Claims) -> Result<(), RootHooksError> {
    let path = claims_path(layout);
    if claims.claimants.is_empty() {
        return match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &path)(e)),
        };
    }
    let mut text = serde_json::to_string_pretty(claims).expect("plain data always serialises");
    text.push('\n');
    write_atomic(&path, &text).map_err(io("write", &path))
}

fn lock(layout: &Layout) -> Result<FileLock, RootHooksError> {
    let path = layout.file("root-hooks.lock");
    FileLock::acquire(&path, Duration::from_secs(10)).map_err(io("lock", &path))
}

/// Adds `who` to the claimants and makes sure legio's hooks (calling `legio_bin`) are in the
/// shared settings, keeping everything else in the file. Returns whether the file changed.
pub fn claim(layout: &Layout, legio_bin: &Path, who: &str) -> Result<bool, RootHooksError> {
    let _guard = lock(layout)?;
    let mut claims = load_claims(layout)?;
    let path = settings_path(layout.root());
    let current = read_optional(&path)?;
    if claims.claimants.is_empty() {
        claims.original.clone_from(&current);
    }
    let hooks = settings::legio_hooks(legio_bin, Some(super::hook::ORCHESTRATOR));
    let shown = path.display().to_string();
    let text = settings::install(&shown, current.as_deref().unwrap_or(""), &hooks)?;
    let changed = current.as_deref() != Some(text.as_str());
    if changed {
        write_atomic(&path, &text).map_err(io("write", &path))?;
    }
    if !claims.claimants.iter().any(|c| c == who) {
        claims.claimants.push(who.to_owned());
    }
    save_claims(layout, &claims)?;
    Ok(changed)
}

/// What [`release`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// `who` held no claim: nothing changed.
    NotClaimed,
    /// Others still need the hooks: they stay.
    StillClaimed,
    /// legio's hooks were removed from the file.
    Removed,
}

/// Removes `who`'s claim (every claim with `all`); when no claim is left, removes legio's
/// hooks from the shared settings and restores the user's file.
pub fn release(layout: &Layout, who: &str, all: bool) -> Result<Released, RootHooksError> {
    let _guard = lock(layout)?;
    let mut claims = load_claims(layout)?;
    let before = claims.claimants.len();
    if all {
        claims.claimants.clear();
    } else {
        claims.claimants.retain(|c| c != who);
    }
    let path = settings_path(layout.root());
    let current = read_optional(&path)?;
    let has_legio_hooks = current
        .as_deref()
        .is_some_and(|t| !settings::installed_events(t).is_empty());
    if claims.claimants.len() == before && !(all && has_legio_hooks) {
        return Ok(Released::NotClaimed);
    }
    if !claims.claimants.is_empty() {
        save_claims(layout, &claims)?;
        return Ok(Released::StillClaimed);
    }
    if let Some(text) = current {
        let shown = path.display().to_string();
        let stripped = settings::uninstall(&shown, &text)?;
        let as_value = |t: Option<&str>| -> Option<Value> {
            match t {
                None => Some(Value::Object(serde_json::Map::new())),
                Some(t) if t.trim().is_empty() => Some(Value::Object(serde_json::Map::new())),
                Some(t) => serde_json::from_str(t).ok(),
            }
        };
        let unchanged_by_user = as_value(stripped.as_deref()).is_some()
            && as_value(stripped.as_deref()) == as_value(claims.original.as_deref());
        let restored = if unchanged_by_user {
            claims.original.clone()
        } else {
            stripped
        };
        match restored {
            Some(t) => write_atomic(&path, &t).map_err(io("write", &path))?,
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("remove", &path)(e)),
            },
        }
    }
    claims.original = None;
    save_claims(layout, &claims)?;
    Ok(Released::Removed)
}

/// The shared settings' state. Reads only.
pub fn status(layout: &Layout) -> Result<RootHooksStatus, RootHooksError> {
    let path = settings_path(layout.root());
    let current = read_optional(&path)?;
    Ok(RootHooksStatus {
        exists: current.is_some(),
        events: current
            .as_deref()
            .map(settings::installed_events)
            .unwrap_or_default(),
        claimants: load_claims(layout)?.claimants,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIN: &str = "/usr/local/bin/legio";

    fn project() -> (tempfile::TempDir, Layout) {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        std::fs::create_dir_all(layout.legio_dir()).unwrap();
        (tmp, layout)
    }

    #[test]
    fn the_users_file_survives_two_agents_byte_for_byte() {
        let (_tmp, layout) = project();
        let path = settings_path(layout.root());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // Key order and indentation that serde_json would not reproduce.
        let user = "{\n    \"permissions\": {\"allow\": [\"Bash(npm test)\"]},\n    \"env\": {\"A\": \"1\"}\n}\n";
        std::fs::write(&path, user).unwrap();

        assert!(claim(&layout, Path::new(BIN), "coordinator").unwrap());
        assert!(
            !claim(&layout, Path::new(BIN), "gateway").unwrap(),
            "already there"
        );
        let installed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(settings::installed_events(&installed).len(), 8);
        assert!(installed.contains("--default-agent orchestrator"));
        assert!(installed.contains("Bash(npm test)"));
        assert_eq!(
            status(&layout).unwrap().claimants,
            ["coordinator", "gateway"]
        );

        assert_eq!(
            release(&layout, "coordinator", false).unwrap(),
            Released::StillClaimed
        );
        assert_eq!(
            settings::installed_events(&std::fs::read_to_string(&path).unwrap()).len(),
            8
        );
        assert_eq!(
            release(&layout, "coordinator", false).unwrap(),
            Released::NotClaimed
        );
        assert_eq!(
            release(&layout, "gateway", false).unwrap(),
            Released::Removed
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), user);
        assert!(!layout.file("root-hooks.json").exists());
    }

    #[test]
    fn a_file_legio_created_is_removed_and_user_edits_are_kept() {
        let (_tmp, layout) = project();
        let path = settings_path(layout.root());
        claim(&layout, Path::new(BIN), USER).unwrap();
        assert!(path.is_file());
        release(&layout, USER, false).unwrap();
        assert!(!path.exists());

        claim(&layout, Path::new(BIN), "monitor").unwrap();
        // The user adds a key while the monitor runs: it must stay.
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        v["model"] = Value::from("opus");
        std::fs::write(&path, v.to_string()).unwrap();
        release(&layout, "monitor", false).unwrap();
        let left: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(left, serde_json::json!({"model": "opus"}));
    }

    #[test]
    fn release_all_removes_stale_claims_and_a_broken_file_is_refused() {
        let (_tmp, layout) = project();
        let path = settings_path(layout.root());
        claim(&layout, Path::new(BIN), "coordinator").unwrap();
        claim(&layout, Path::new(BIN), "gateway").unwrap();
        assert_eq!(release(&layout, USER, true).unwrap(), Released::Removed);
        assert!(!path.exists());
        assert!(status(&layout).unwrap().claimants.is_empty());

        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{broken").unwrap();
        let err = claim(&layout, Path::new(BIN), USER).unwrap_err();
        assert!(err.to_string().contains("will not overwrite"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{broken");
        assert!(!layout.file("root-hooks.json").exists());
    }
}
