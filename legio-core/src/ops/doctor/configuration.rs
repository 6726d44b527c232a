//! `config`: whether `.legio/config.yaml` (with `config.local.yaml`) loads, every problem with
//! its file, line and column, unknown or renamed keys as warnings, and whether the canonical
//! branch exists. When the configuration does not load, the other categories run on the
//! defaults.

use crate::config::{Config, ConfigError, Diagnostic};

use super::{Category, Check, Doctor, count};

const CAT: Category = Category::Config;

pub(super) fn check(d: &Doctor<'_>, config: &Config, out: &mut Vec<Check>) {
    out.push(validity(d));
    if let Some(worktrees) = d.worktrees {
        let branch = &config.project.canonical_branch;
        out.push(match worktrees.branch_exists(branch) {
            Ok(true) => Check::pass(
                CAT,
                "canonical-branch",
                format!("canonical branch {branch} exists"),
            ),
            Ok(false) => Check::fail(
                CAT,
                "canonical-branch",
                format!(
                    "the canonical branch {branch} does not exist: agents branch from it and merges land on it"
                ),
            )
            .details(["create it, or set project.canonicalBranch in .legio/config.yaml"]),
            Err(e) => Check::warn(
                CAT,
                "canonical-branch",
                format!("cannot look up branch {branch}: {e}"),
            ),
        });
    }
}

fn validity(d: &Doctor<'_>) -> Check {
    let exists = d.layout.config().is_file();
    match d.config {
        Ok(_) if !exists => Check::warn(
            CAT,
            "config",
            "there is no .legio/config.yaml: the defaults are used",
        )
        .details(["run `legio init` to write one"]),
        Ok(loaded) if loaded.warnings.is_empty() => {
            Check::pass(CAT, "config", "config.yaml is valid")
        }
        Ok(loaded) => Check::warn(
            CAT,
            "config",
            format!(
                "config.yaml is valid, with {}",
                count(loaded.warnings.len(), "warning", "warnings")
            ),
        )
        .details(loaded.warnings.iter().map(|w| diagnostic(d, w))),
        Err(e) => {
            let details: Vec<String> = match e {
                ConfigError::Read { path, source } => {
                    vec![format!("cannot read {}: {source}", d.rel(path))]
                }
                ConfigError::Syntax {
                    path,
                    line,
                    col,
                    message,
                } => vec![format!(
                    "{}:{line}:{col}: not valid YAML: {message}",
                    d.rel(path)
                )],
                ConfigError::Invalid(problems) => {
                    problems.iter().map(|p| diagnostic(d, p)).collect()
                }
            };
            Check::fail(
                CAT,
                "config",
                "the configuration does not load: legio commands refuse to run; these checks use the defaults",
            )
            .details(details)
        }
    }
}

/// A diagnostic with its file relative to the project root.
fn diagnostic(d: &Doctor<'_>, diag: &Diagnostic) -> String {
    match &diag.file {
        Some(file) => format!(
            "{}:{}:{}: {}: {}",
            d.rel(file),
            diag.line,
            diag.col,
            diag.key,
            diag.message
        ),
        None => format!("{}: {}", diag.key, diag.message),
    }
}
