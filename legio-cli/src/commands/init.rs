//! `legio init [--force]`: the `.legio/` layout of legio 0.1.0 in the current repository.
//!
//! Idempotent: without `--force` it only adds what is missing and never overwrites a file.
//! With `--force` it rewrites config.yaml, the manifest and the role definitions, keeping each
//! replaced file as `<name>.bak`. The databases are created (and migrated) here so the first
//! hook call does no schema work.

use std::path::{Path, PathBuf};

use legio_core::Layout;
use legio_core::assets::{LEGIO_GITIGNORE, role_definitions};
use legio_core::config::{Config, QualityGates};
use legio_core::manifest::Manifest;
use legio_core::ops::checkpoint::write_atomic;
use legio_core::ops::settings::legio_hooks;
use serde_json::json;

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{GREEN, Printer, paint};
use clap::Args;

/// `legio init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Rewrite config.yaml, the manifest and the role definitions even if they exist
    /// (the old files are kept as `.bak`).
    #[arg(long)]
    pub force: bool,
}

/// Runs `legio init`.
pub fn run(args: &InitArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let root = ctx.repo_root()?;
    let git_dir = git_dir(&root)?;
    let layout = Layout::new(&root);
    let already = layout.config().is_file();
    let mut created: Vec<String> = Vec::new();

    for dir in ["", "agents", "agent-defs", "worktrees", "specs", "logs"] {
        let path = layout.file(dir);
        if !path.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| io_error("create", &path, &e))?;
            created.push(format!("{}/", rel(&root, &path)));
        }
    }

    let mut config = Config::for_root(&root);
    config.project.name = project_name(&root, &git_dir);
    config.project.canonical_branch = canonical_branch(&git_dir);
    config.quality_gates = detect_quality_gates(&root);
    let config_text = legio_core::config::render(&config);
    let manifest_text = Manifest::default().to_json();
    let hooks_text = format!(
        "{}\n",
        serde_json::to_string_pretty(
            &json!({ "hooks": legio_hooks(&ctx_legio_bin()?, Some("orchestrator")) })
        )?
    );

    let mut files: Vec<(PathBuf, String, bool)> = vec![
        (layout.config(), config_text, true),
        (layout.manifest(), manifest_text, true),
        (layout.file("hooks.json"), hooks_text, true),
        (layout.file(".gitignore"), LEGIO_GITIGNORE.to_owned(), true),
    ];
    for (_, asset) in role_definitions() {
        files.push((
            layout.agent_defs_dir().join(asset.name),
            asset.text.to_owned(),
            true,
        ));
    }
    for (path, text, replace_on_force) in files {
        let exists = path.is_file();
        if exists && !(args.force && replace_on_force) {
            continue;
        }
        if exists {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current == text {
                continue;
            }
            let backup = path.with_extension(format!(
                "{}.bak",
                path.extension().and_then(|e| e.to_str()).unwrap_or("")
            ));
            std::fs::copy(&path, &backup).map_err(|e| io_error("back up", &path, &e))?;
        }
        write_atomic(&path, &text).map_err(|e| io_error("write", &path, &e))?;
        created.push(rel(&root, &path));
    }

    legio_store::Stores::open_all(&layout)?;

    if out.json_mode() {
        return out.json(&json!({
            "root": root,
            "projectName": config.project.name,
            "canonicalBranch": config.project.canonical_branch,
            "alreadyInitialized": already,
            "written": created,
        }));
    }
    if already && !args.force {
        out.line(format!("legio is already set up in {}", root.display()));
    } else {
        out.line(format!(
            "Initialized legio for \"{}\" (canonical branch: {})",
            config.project.name, config.project.canonical_branch
        ));
    }
    for c in &created {
        out.info(format!("  {} {c}", paint(GREEN, "✓")));
    }
    if !already || args.force {
        out.info("");
        out.info("Next:");
        out.info(
            "  legio hooks install            # let your own Claude Code session receive mail",
        );
        out.info("  legio task create \"Title\"      # add work");
        out.info("  legio sling <task> --name b1   # put an agent on it");
    }
    Ok(())
}

fn ctx_legio_bin() -> CliResult<PathBuf> {
    std::env::current_exe()
        .map_err(|e| CliError::failure(format!("cannot find the legio binary's own path: {e}")))
}

fn io_error(action: &str, path: &Path, e: &std::io::Error) -> CliError {
    CliError::failure(format!("cannot {action} {}: {e}", path.display()))
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The repository's git directory (`.git` of the main checkout).
fn git_dir(root: &Path) -> CliResult<PathBuf> {
    let dot_git = root.join(".git");
    if dot_git.is_dir() {
        Ok(dot_git)
    } else {
        Err(CliError::failure(format!(
            "{} is not the main checkout of a git repository",
            root.display()
        ))
        .hint("run `legio init` in the repository's main checkout (or `git init` first)"))
    }
}

/// The project's name: the `origin` remote's repository name, else the directory name.
fn project_name(root: &Path, git_dir: &Path) -> String {
    let from_remote = std::fs::read_to_string(git_dir.join("config"))
        .ok()
        .and_then(|text| origin_url(&text))
        .and_then(|url| {
            let last = url
                .trim_end_matches('/')
                .rsplit(['/', ':'])
                .next()?
                .to_owned();
            let name = last.strip_suffix(".git").unwrap_or(&last).to_owned();
            (!name.is_empty()).then_some(name)
        });
    from_remote.unwrap_or_else(|| {
        root.file_name()
            .map_or_else(|| "project".into(), |n| n.to_string_lossy().into_owned())
    })
}

fn origin_url(config: &str) -> Option<String> {
    let mut in_origin = false;
    for line in config.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_origin = t == "[remote \"origin\"]";
        } else if in_origin
            && let Some((k, v)) = t.split_once('=')
            && k.trim() == "url"
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

/// The branch agents start from and merges land on: origin's default branch, else the current
/// branch when it is a usual trunk name, else `main` / `master` when they exist.
fn canonical_branch(git_dir: &Path) -> String {
    let read = |p: &str| std::fs::read_to_string(git_dir.join(p)).ok();
    if let Some(b) = read("refs/remotes/origin/HEAD").and_then(|t| {
        t.trim()
            .strip_prefix("ref: refs/remotes/origin/")
            .map(str::to_owned)
    }) {
        return b;
    }
    let current =
        read("HEAD").and_then(|t| t.trim().strip_prefix("ref: refs/heads/").map(str::to_owned));
    if let Some(c) = &current
        && ["main", "master", "develop", "trunk"].contains(&c.as_str())
    {
        return c.clone();
    }
    let exists = |b: &str| {
        git_dir.join("refs/heads").join(b).is_file()
            || read("packed-refs").is_some_and(|p| p.contains(&format!(" refs/heads/{b}\n")))
    };
    for b in ["main", "master"] {
        if exists(b) {
            return b.to_owned();
        }
    }
    current.unwrap_or_else(|| "main".into())
}

/// Quality gates for the kind of project found at `root` (empty when unknown: an agent is
/// better told nothing than told to run `npm test` in a Rust project).
fn detect_quality_gates(root: &Path) -> QualityGates {
    let has = |f: &str| root.join(f).is_file();
    let gates = |t: &str, l: &str, c: &str| QualityGates {
        test: t.into(),
        lint: l.into(),
        typecheck: c.into(),
    };
    if has("package.json") {
        Config::default().quality_gates
    } else if has("Cargo.toml") {
        gates(
            "cargo test",
            "cargo clippy --all-targets",
            "cargo check --all-targets",
        )
    } else if has("go.mod") {
        gates("go test ./...", "go vet ./...", "")
    } else if has("pyproject.toml") || has("setup.py") || has("pytest.ini") {
        gates("python -m pytest -q", "", "")
    } else if has("Makefile") {
        gates("make test", "", "")
    } else {
        gates("", "", "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_origin_url() {
        let cfg = "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = git@github.com:acme/widgets.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n";
        assert_eq!(
            origin_url(cfg).as_deref(),
            Some("git@github.com:acme/widgets.git")
        );
        assert_eq!(origin_url("[core]\n"), None);
    }
}
