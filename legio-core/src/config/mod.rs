//! Configuration: `.legio/config.yaml` with `.legio/config.local.yaml` deep-merged over it.
//!
//! [`load`] reads both files (a missing file is no error), parses each as YAML 1.2 (`yaml`),
//! renames the pre-0.1.0 watchdog keys of each (`legacy`, which documents the rule), merges
//! them (mappings merge key by key, anything else replaces; an empty value never erases a
//! mapping), and decodes the result over the defaults into a typed [`Config`] (`decode`,
//! `schema`). Loading two ordinary files takes about 40 µs in a release build.
//!
//! Decoding is strict: a key holding the wrong type is an error (`yes` is not a boolean, a
//! quoted `"5"` is not a number), and every error names the file, line, column and key path.
//! All problems of a load are reported together. Unknown keys, duplicate keys and migrated
//! keys are returned as warnings beside the config, for the caller to show; nothing is
//! printed here. `project.root` is always the resolved root, never a file's value.
//!
//! A file written by legio 0.1.0's `init` (its double-quoted strings with `\"` escapes, bare
//! `models:` / `domainMap:` lines for empty maps, an absolute `project.root`) loads unchanged.
//! [`render`] writes the commented file `legio init` creates; it round-trips through [`load`].

mod decode;
mod legacy;
mod schema;
mod write;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use schema::{
    AgentsConfig, BeadsConfig, Config, LoggingConfig, MODEL_ALIASES, MODEL_CHOICES, MergeConfig,
    MulchConfig, PrimeFormat, ProjectConfig, QualityGates, RuntimeConfig, RuntimeKind,
    ScriptRuntimeConfig, WatchdogConfig, WorktreesConfig, is_valid_model,
};
pub use write::render;

use crate::layout::Layout;
use yaml::{Kind, Node};

/// A loaded configuration and what the user should be told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Unknown, duplicate and renamed keys: worth showing, not worth failing for.
    pub warnings: Vec<Diagnostic>,
}

/// A problem or warning about one key, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, when the key came from one.
    pub file: Option<PathBuf>,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// The dotted key path (`agents.maxConcurrent`).
    pub key: String,
    /// What is wrong, and what to do when that is not obvious.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:{}:{}: ", file.display(), self.line, self.col)?;
        }
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why the configuration could not be loaded. Nothing is written on any error.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file exists but cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not valid YAML.
    #[error("{}:{line}:{col}: the config file is not valid YAML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// The parser's explanation.
        message: String,
    },
    /// Values are missing, of the wrong type or out of range (all of them, in file order).
    #[error("{}", invalid_message(.0))]
    Invalid(Vec<Diagnostic>),
}

fn invalid_message(problems: &[Diagnostic]) -> String {
    match problems {
        [one] => format!("invalid configuration: {one}"),
        many => {
            let mut s = format!("invalid configuration ({} problems):", many.len());
            for p in many {
                s.push_str("\n  ");
                s.push_str(&p.to_string());
            }
            s
        }
    }
}

/// Loads the configuration of the project at `layout`'s root.
pub fn load(layout: &Layout) -> Result<Loaded, ConfigError> {
    let files = [layout.config(), layout.config_local()];
    let texts = [read_optional(&files[0])?, read_optional(&files[1])?];
    load_texts(
        layout.root(),
        &files,
        [texts[0].as_deref(), texts[1].as_deref()],
    )
}

fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Loads from texts already in memory: `texts[i]` is the content of `files[i]` (base first,
/// then the local overlay), `None` when that file does not exist.
pub fn load_texts(
    root: &Path,
    files: &[PathBuf; 2],
    texts: [Option<&str>; 2],
) -> Result<Loaded, ConfigError> {
    let mut decoder = decode::Decoder::new(files);
    let mut merged: Option<Node> = None;
    for (source, text) in texts.into_iter().enumerate() {
        let Some(text) = text else { continue };
        let doc = yaml::parse(text, source).map_err(|e| ConfigError::Syntax {
            path: files[source].clone(),
            line: e.pos.line,
            col: e.pos.col,
            message: e.message,
        })?;
        for dup in &doc.duplicates {
            let message = format!(
                "duplicate key; the value on line {} is ignored and this one is used",
                dup.first_line
            );
            let d = decoder.at(source, dup.pos, &dup.path, message);
            decoder.warnings.push(d);
        }
        let Some(mut root) = doc.root else { continue };
        for r in legacy::migrate_watchdog(&mut root) {
            let message = format!(
                "renamed key from before legio 0.1.0, read as watchdog.{}; rename it in the file",
                r.new
            );
            let d = decoder.at(r.source, r.pos, &format!("watchdog.{}", r.old), message);
            decoder.warnings.push(d);
        }
        merged = Some(match merged {
            None => root,
            Some(base) => merge(base, root),
        });
    }

    let mut config = Config::for_root(root);
    decoder.decode(merged.as_ref(), &mut config);
    // File order: config.yaml before config.local.yaml, then line and column.
    let order = |d: &Diagnostic| (d.file.as_ref() == Some(&files[1]), d.line, d.col);
    let (mut problems, mut warnings) = (decoder.problems, decoder.warnings);
    problems.sort_by_key(order);
    warnings.sort_by_key(order);
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    Ok(Loaded { config, warnings })
}

/// Deep merge: mappings merge key by key, an empty value over a mapping keeps the mapping
/// (legio 0.1.0 wrote empty maps as a bare `key:`), anything else replaces.
fn merge(base: Node, overlay: Node) -> Node {
    match (base.kind, overlay.kind) {
        (Kind::Map(mut entries), Kind::Map(over)) => {
            for o in over {
                match entries.iter().position(|e| e.key == o.key) {
                    Some(i) => {
                        let b = entries.remove(i);
                        let value = merge(b.value, o.value);
                        entries.insert(i, yaml::Entry { value, ..o });
                    }
                    None => entries.push(o),
                }
            }
            Node {
                kind: Kind::Map(entries),
                ..base
            }
        }
        (kind @ Kind::Map(_), over) if matches!(&over, Kind::Scalar { text, quoted: false } if yaml::is_null_text(text)) => {
            Node { kind, ..base }
        }
        (_, kind) => Node { kind, ..overlay },
    }
}

#[cfg(test)]
mod tests;
