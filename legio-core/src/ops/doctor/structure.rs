//! `structure`: the `.legio/` layout `legio init` makes: its directories, `.gitignore`, the
//! agent manifest (valid, consistent with legio's roles) and the role definitions it names,
//! plus leftover temporary and backup files.

use std::path::PathBuf;

use crate::assets::{LEGIO_GITIGNORE, role_definition, role_file_name};
use crate::config::Config;
use crate::domain::agent::Capability;
use crate::manifest::{Manifest, ManifestError};

use super::{Category, Check, Doctor, Fix, count, missing_lines};

const CAT: Category = Category::Structure;

pub(super) fn check(d: &Doctor<'_>, config: &Config, out: &mut Vec<Check>) {
    out.push(directories(d, config));
    out.push(gitignore(d));
    let manifest = manifest(d, config, out);
    out.push(definitions(d, config, manifest.as_ref()));
    out.push(leftovers(d));
}

fn directories(d: &Doctor<'_>, config: &Config) -> Check {
    let wanted: Vec<PathBuf> = vec![
        d.layout.file("agents"),
        config.agent_defs_dir(),
        config.worktrees_dir(),
        d.layout.file("specs"),
        d.layout.file("logs"),
    ];
    let missing: Vec<PathBuf> = wanted.into_iter().filter(|p| !p.is_dir()).collect();
    if missing.is_empty() {
        return Check::pass(CAT, "directories", "the .legio/ directories exist");
    }
    let names: Vec<String> = missing.iter().map(|p| format!("{}/", d.rel(p))).collect();
    Check::warn(
        CAT,
        "directories",
        format!("missing directories: {}", names.join(", ")),
    )
    .fix(
        missing
            .into_iter()
            .map(|path| Fix::CreateDir { path })
            .collect(),
        format!("created {}", names.join(", ")),
    )
}

/// The lines `.legio/.gitignore` must hold (the template without its comments).
fn gitignore_lines() -> Vec<String> {
    LEGIO_GITIGNORE
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn gitignore(d: &Doctor<'_>) -> Check {
    let path = d.layout.file(".gitignore");
    let rel = d.rel(&path);
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Check::fail(
            CAT,
            "gitignore",
            format!(
                "{rel} is missing: git would offer the databases, logs and worktrees for commit"
            ),
        )
        .fix(
            vec![Fix::CreateFile {
                path,
                text: LEGIO_GITIGNORE.to_owned(),
            }],
            format!("wrote {rel}"),
        ),
        Err(e) => Check::fail(CAT, "gitignore", format!("cannot read {rel}: {e}")),
        Ok(text) => {
            let lines = gitignore_lines();
            let missing = missing_lines(&text, &lines);
            if missing.is_empty() {
                Check::pass(CAT, "gitignore", format!("{rel} ignores legio's state"))
            } else {
                let missing = missing.join(" ");
                Check::warn(CAT, "gitignore", format!("{rel} lacks lines: {missing}")).fix(
                    vec![Fix::AppendLines { path, lines }],
                    format!("added legio's lines to {rel} (kept the rest)"),
                )
            }
        }
    }
}

/// Checks the manifest; returns it when it is usable.
fn manifest(d: &Doctor<'_>, config: &Config, out: &mut Vec<Check>) -> Option<Manifest> {
    let path = config.manifest_file();
    let rel = d.rel(&path);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            out.push(
                Check::fail(CAT, "manifest", format!("{rel} is missing"))
                    .details(["agents are spawned with the built-in role defaults"])
                    .fix(
                        vec![Fix::CreateFile {
                            path,
                            text: Manifest::default().to_json(),
                        }],
                        format!("wrote the default {rel}"),
                    ),
            );
            return None;
        }
        Err(e) => {
            out.push(Check::fail(
                CAT,
                "manifest",
                format!("cannot read {rel}: {e}"),
            ));
            return None;
        }
    };
    match Manifest::parse(&text, &path) {
        Ok(m) => {
            let absent: Vec<&str> = Capability::ALL
                .iter()
                .filter(|r| m.get(**r).is_none())
                .map(|r| r.as_str())
                .collect();
            out.push(if absent.is_empty() {
                Check::pass(CAT, "manifest", format!("{rel} is valid and lists every role"))
            } else {
                Check::warn(
                    CAT,
                    "manifest",
                    format!("{rel} has no entry for {}", absent.join(", ")),
                )
                .details([
                    "those roles use the built-in defaults; `legio init --force` rewrites the manifest (keeping a .bak)",
                ])
            });
            Some(m)
        }
        Err(e) => {
            let details = match &e {
                ManifestError::Json {
                    line, col, message, ..
                } => vec![format!("{rel}:{line}:{col}: {message}")],
                ManifestError::Invalid { problems, .. } => problems.clone(),
                ManifestError::NotFound { .. } | ManifestError::Read { .. } => {
                    vec![e.to_string()]
                }
            };
            out.push(
                Check::fail(CAT, "manifest", format!("{rel} is not a valid agent manifest"))
                    .details(details)
                    .details([
                        "fix it, or rewrite it with `legio init --force` (the old file is kept as .bak)",
                    ]),
            );
            None
        }
    }
}

fn definitions(d: &Doctor<'_>, config: &Config, manifest: Option<&Manifest>) -> Check {
    let fallback = Manifest::default();
    let manifest = manifest.unwrap_or(&fallback);
    let dir = config.agent_defs_dir();
    let missing: Vec<(Capability, &str)> = manifest
        .agents()
        .iter()
        .filter(|a| !dir.join(&a.file).is_file())
        .map(|a| (a.role, a.file.as_str()))
        .collect();
    if missing.is_empty() {
        return Check::pass(
            CAT,
            "agent-defs",
            format!(
                "{} present in {}/",
                count(
                    manifest.agents().len(),
                    "role definition",
                    "role definitions"
                ),
                d.rel(&dir)
            ),
        );
    }
    let files: Vec<&str> = missing.iter().map(|(_, f)| *f).collect();
    let check = Check::fail(
        CAT,
        "agent-defs",
        format!(
            "role definitions missing from {}/: {}",
            d.rel(&dir),
            files.join(", ")
        ),
    );
    let builtin = missing
        .iter()
        .all(|(role, file)| role_file_name(*role) == *file);
    if !builtin {
        return check.details([
            "restore them (`legio init --force` writes the built-in ones), or fix the file names in the manifest",
        ]);
    }
    check.fix(
        missing
            .iter()
            .map(|(role, file)| Fix::CreateFile {
                path: dir.join(file),
                text: role_definition(*role).to_owned(),
            })
            .collect(),
        format!("wrote the built-in {}", files.join(", ")),
    )
}

fn leftovers(d: &Doctor<'_>) -> Check {
    let mut found: Vec<String> = std::fs::read_dir(d.layout.legio_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("tmp") || x.eq_ignore_ascii_case("bak"))
        })
        .collect();
    found.sort();
    if found.is_empty() {
        Check::pass(CAT, "leftover-files", "no leftover .tmp or .bak files")
    } else {
        Check::warn(
            CAT,
            "leftover-files",
            format!("leftover files in .legio/: {}", found.join(", ")),
        )
        .details(["backups from `legio init --force` and interrupted writes; delete them once you do not need them"])
    }
}
