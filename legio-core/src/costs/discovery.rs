//! Where Claude Code keeps a session's transcript.
//!
//! `<claude dir>/projects/<project key>/<session id>.jsonl`, where the claude dir is
//! `$HOME/.claude` (or `$CLAUDE_CONFIG_DIR`: the caller decides and passes it in) and the project
//! key is the session's working directory with every character that is not an ASCII letter or
//! digit replaced by `-` (legio 0.1.0 replaced only `/`, so any path with `.`, `_` or a space
//! fell back to a scan). Claude Code counts in UTF-16 units, so a character outside the Basic
//! Multilingual Plane becomes two dashes, and a key longer than 200 units is cut there and
//! given a `-<hash>` suffix.
//!
//! Subagents write their own transcripts under `<session id>/subagents/` beside the main one;
//! [`session_transcripts`] lists them all.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::transcript::TranscriptError;

/// Project keys longer than this are cut and suffixed with a hash.
const MAX_KEY_LEN: usize = 200;

/// Claude Code's configuration directory (`~/.claude`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeDir(PathBuf);

impl ClaudeDir {
    /// The directory `CLAUDE_CONFIG_DIR` names.
    pub fn new(config_dir: impl Into<PathBuf>) -> Self {
        Self(config_dir.into())
    }

    /// `<home>/.claude`, where Claude Code keeps its data by default.
    pub fn under_home(home: &Path) -> Self {
        Self(home.join(".claude"))
    }

    /// `projects/`, one directory per working directory.
    pub fn projects(&self) -> PathBuf {
        self.0.join("projects")
    }

    /// Where Claude Code writes the transcript of `session_id` started in `cwd`.
    pub fn transcript_path(
        &self,
        cwd: &Path,
        session_id: &str,
    ) -> Result<PathBuf, TranscriptError> {
        check_session_id(session_id)?;
        Ok(self
            .projects()
            .join(project_key(cwd))
            .join(format!("{session_id}.jsonl")))
    }
}

fn check_session_id(id: &str) -> Result<(), TranscriptError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(TranscriptError::InvalidSessionId(id.to_owned()))
    }
}

/// The directory name Claude Code uses for the project at `cwd`.
pub fn project_key(cwd: &Path) -> String {
    let path = cwd.to_string_lossy();
    let mut key = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else {
            key.extend(std::iter::repeat_n('-', c.len_utf16()));
        }
    }
    if key.len() <= MAX_KEY_LEN {
        return key;
    }
    // Java-style string hash over UTF-16 units, as Claude Code computes it, in base 36.
    let hash = path.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    key.truncate(MAX_KEY_LEN);
    key.push('-');
    key.push_str(&base36(i64::from(hash).unsigned_abs()));
    key
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("base-36 digits are ASCII")
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> TranscriptError {
    let path = path.to_owned();
    move |source| TranscriptError::Io {
        action,
        path,
        source,
    }
}

/// Finds the transcript of `session_id`: first where Claude Code writes it for `cwd` (when
/// known), then by looking in every project directory. `Ok(None)` when it is nowhere.
pub fn find_transcript(
    claude: &ClaudeDir,
    cwd: Option<&Path>,
    session_id: &str,
) -> Result<Option<PathBuf>, TranscriptError> {
    if let Some(cwd) = cwd {
        let direct = claude.transcript_path(cwd, session_id)?;
        if direct.is_file() {
            return Ok(Some(direct));
        }
    }
    check_session_id(session_id)?;
    let projects = claude.projects();
    let entries = match fs::read_dir(&projects) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("list", &projects)(e)),
    };
    let file_name = format!("{session_id}.jsonl");
    let mut found = Vec::new();
    for entry in entries {
        let candidate = entry
            .map_err(io_error("list", &projects))?
            .path()
            .join(&file_name);
        if candidate.is_file() {
            found.push(candidate);
        }
    }
    found.sort();
    Ok(found.into_iter().next())
}

/// The transcripts of one session: the main file, then its subagents' files (sorted).
pub fn session_transcripts(main: &Path) -> Result<Vec<PathBuf>, TranscriptError> {
    let mut files = vec![main.to_owned()];
    let mut pending = vec![main.with_extension("").join("subagents")];
    let mut found = Vec::new();
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error("list", &dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_error("list", &dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io_error("inspect", &path))?;
            if kind.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                found.push(path);
            }
        }
    }
    found.sort();
    files.extend(found);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_non_alphanumeric_character_becomes_a_dash() {
        let key = |p: &str| project_key(Path::new(p));
        assert_eq!(
            key("/home/dev/project/.legio/worktrees/builder-1"),
            "-home-dev-project--legio-worktrees-builder-1"
        );
        assert_eq!(key("/tmp/my_app v2.0"), "-tmp-my-app-v2-0");
        // One UTF-16 unit, one dash: é is one unit, an emoji two.
        assert_eq!(key("/a/é/🚀"), "-a-----");
    }

    #[test]
    fn long_keys_are_cut_and_hashed_like_claude_code() {
        let path = format!("/{}", "a".repeat(250));
        let key = project_key(Path::new(&path));
        let (head, hash) = key.split_at(MAX_KEY_LEN);
        assert_eq!(head, format!("-{}", "a".repeat(199)));
        // Computed with Claude Code's own function on the same paths.
        assert_eq!(hash, "-feo44x");
        let path = format!("/home/dév/{}🚀", "x".repeat(300));
        assert!(project_key(Path::new(&path)).ends_with("xxxxx-f3b39a"));
    }

    #[test]
    fn session_ids_must_be_plain_names() {
        let dir = ClaudeDir::under_home(Path::new("/home/u"));
        assert_eq!(
            dir.transcript_path(Path::new("/w"), "abc-123").unwrap(),
            Path::new("/home/u/.claude/projects/-w/abc-123.jsonl")
        );
        for bad in ["", "../x", "a/b", "a.b"] {
            let err = dir.transcript_path(Path::new("/w"), bad).unwrap_err();
            assert!(matches!(err, TranscriptError::InvalidSessionId(_)), "{bad}");
        }
    }

    #[test]
    fn base36_matches_javascript() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(2_147_483_648), "zik0zk");
    }
}
