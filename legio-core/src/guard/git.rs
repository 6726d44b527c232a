//! git: the global options that move it (`-C`, `--git-dir`, `--work-tree`, `-c`), and whether
//! a subcommand only reads, writes the agent's own worktree and branch, or reaches what every
//! agent shares (remotes, other branches, the stash, tags, config, worktrees, the object store).

use std::path::{Path, PathBuf};

use super::argv::Argv;
use super::rules::{Ctx, Verdict};
use super::shell::{Arg, Invocation, chdir};

/// Subcommands that only read (their `--output FILE`, if any, is checked as a write).
const READ: &[&str] = &[
    "status",
    "log",
    "diff",
    "show",
    "blame",
    "annotate",
    "shortlog",
    "rev-parse",
    "rev-list",
    "ls-files",
    "ls-tree",
    "ls-remote",
    "cat-file",
    "grep",
    "describe",
    "merge-base",
    "name-rev",
    "show-ref",
    "for-each-ref",
    "show-branch",
    "count-objects",
    "fsck",
    "var",
    "help",
    "version",
    "whatchanged",
    "range-diff",
    "diff-tree",
    "diff-files",
    "diff-index",
    "check-ignore",
    "check-attr",
    "check-ref-format",
    "check-mailmap",
    "verify-commit",
    "verify-tag",
    "verify-pack",
    "cherry",
    "archive",
    "get-tar-commit-id",
    "column",
    "merge-tree",
    "fmt-merge-msg",
    "patch-id",
    "stripspace",
    "request-pull",
    "show-index",
    "diff-pairs",
];

/// Subcommands that change the worktree, the index or the agent's own branch.
const WORKTREE: &[&str] = &[
    "add",
    "apply",
    "am",
    "cherry-pick",
    "revert",
    "merge",
    "pull",
    "fetch",
    "init",
    "clone",
    "bisect",
    "submodule",
    "sparse-checkout",
    "lfs",
    "commit-tree",
    "hash-object",
    "read-tree",
    "write-tree",
    "update-index",
    "checkout-index",
    "merge-file",
    "format-patch",
    "rerere",
    "mktree",
    "mktag",
    "unpack-objects",
    "interpret-trailers",
    "rm",
    "mv",
    "restore",
    "reset",
    "commit",
    "rebase",
    "checkout",
    "switch",
    "notes",
];

/// Subcommands that rewrite what every agent's worktree shares.
const SHARED: &[&str] = &[
    "update-ref",
    "symbolic-ref",
    "filter-branch",
    "filter-repo",
    "replace",
    "gc",
    "prune",
    "repack",
    "pack-refs",
    "prune-packed",
    "fast-import",
    "maintenance",
    "multi-pack-index",
    "commit-graph",
    "worktree",
    "stash",
    "tag",
    "config",
    "remote",
    "branch",
    "reflog",
    "clean",
    "mergetool",
    "difftool",
    "p4",
    "svn",
];

/// Judges one `git` invocation.
pub fn check(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let args = inv.rest();
    let mut cwd = inv.cwd.clone();
    let mut redirected = inv.env.iter().any(|(name, _)| {
        matches!(
            name.as_str(),
            "GIT_DIR" | "GIT_WORK_TREE" | "GIT_COMMON_DIR" | "GIT_INDEX_FILE"
        )
    });
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let Some(s) = arg.literal() else {
            return Err(format!(
                "legio cannot tell which git command `git {}` is; write it literally",
                arg.text()
            ));
        };
        if !s.starts_with('-') {
            break;
        }
        i += 1;
        match s {
            "-C" => {
                cwd = chdir(cwd.as_deref(), args.get(i));
                i += 1;
            }
            "-c" => {
                config_override(args.get(i))?;
                read_only_config(ctx, args.get(i))?;
                redirected |= args
                    .get(i)
                    .and_then(Arg::literal)
                    .is_some_and(|kv| kv.to_ascii_lowercase().starts_with("core.worktree"));
                i += 1;
            }
            "--git-dir" | "--work-tree" => {
                redirected = true;
                i += 1;
            }
            "--namespace" | "--super-prefix" | "--exec-path" => i += 1,
            "--config-env" => {
                config_override(args.get(i))?;
                read_only_config(ctx, args.get(i))?;
                i += 1;
            }
            s if s.starts_with("--git-dir=") || s.starts_with("--work-tree=") => redirected = true,
            s if s.starts_with("--config-env=") => {
                config_override(Some(&Arg::Lit(s["--config-env=".len()..].to_owned())))?;
            }
            s if s.starts_with("--namespace=")
                || s.starts_with("--exec-path")
                || s.starts_with("--list-cmds=")
                || s.starts_with("--super-prefix=") => {}
            "--no-pager"
            | "-p"
            | "--paginate"
            | "-P"
            | "--bare"
            | "--no-replace-objects"
            | "--literal-pathspecs"
            | "--glob-pathspecs"
            | "--noglob-pathspecs"
            | "--icase-pathspecs"
            | "--no-optional-locks"
            | "--no-advice"
            | "--no-lazy-fetch"
            | "--html-path"
            | "--man-path"
            | "--info-path"
            | "--version"
            | "-v"
            | "--help"
            | "-h" => {}
            other => {
                return Err(format!(
                    "`git {other}` before the subcommand is an option legio does not know; drop it"
                ));
            }
        }
    }
    let Some(sub) = args.get(i) else {
        return Ok(()); // `git`, `git --version`
    };
    let Some(sub) = sub.literal() else {
        return Err(format!(
            "legio cannot tell which git command `git {}` is; write it literally",
            sub.text()
        ));
    };
    Git {
        ctx,
        cwd,
        redirected,
        sub,
        args: &args[i + 1..],
    }
    .check()
}

/// `-c key=value`: aliases would hide which command runs.
fn config_override(kv: Option<&Arg>) -> Verdict {
    let key = kv.and_then(Arg::literal).map(str::to_ascii_lowercase);
    match key {
        Some(k) if !k.starts_with("alias.") => Ok(()),
        _ => Err(
            "`git -c alias...` (or an unreadable -c) can hide which git command runs; run the git \
             command itself"
                .into(),
        ),
    }
}

/// Settings a read-only role may pass with `-c`: display only. Others (`core.pager`,
/// `core.fsmonitor`, `diff.external`, filters, ...) can run commands.
fn read_only_config(ctx: &Ctx<'_>, kv: Option<&Arg>) -> Verdict {
    const DISPLAY: &[&str] = &[
        "color.",
        "core.quotepath",
        "core.abbrev",
        "log.",
        "diff.renames",
        "diff.noprefix",
        "diff.mnemonicprefix",
        "diff.context",
        "diff.algorithm",
        "advice.",
        "status.",
        "i18n.",
        "blame.",
        "grep.",
        "column.",
        "format.pretty",
        "pretty.",
        "safe.directory",
    ];
    let key = kv
        .and_then(Arg::literal)
        .map(|kv| {
            kv.split('=')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !ctx.read_only() || DISPLAY.iter().any(|d| key.starts_with(d)) {
        Ok(())
    } else {
        Err(ctx.read_only_reason(&format!(
            "`git -c {key}` (only display settings; others can run commands)"
        )))
    }
}

fn runs_commands(sub: &str) -> String {
    format!(
        "`git {sub}` with a command to run hides what runs from legio; run the commands directly"
    )
}

struct Git<'a> {
    ctx: &'a Ctx<'a>,
    /// Where git runs (after `-C`).
    cwd: Option<PathBuf>,
    /// `--git-dir`, `--work-tree` or their variables point git elsewhere.
    redirected: bool,
    sub: &'a str,
    args: &'a [Arg],
}

impl Git<'_> {
    fn check(&self) -> Verdict {
        let sub = self.sub;
        match sub {
            "push" | "send-pack" | "http-push" => Err(
                "git push is not allowed for legio agents: your parent and legio's merge queue \
                 integrate your branch. Commit your work and report it (legio mail send --type \
                 worker_done, or merge_ready for leads)"
                    .into(),
            ),
            "grep"
                if self
                    .opts(&[])
                    .options
                    .iter()
                    .any(|(o, _)| o == "-O" || o.starts_with("--open-files-in-pager")) =>
            {
                Err("`git grep -O` opens files in a program; print the matches instead".into())
            }
            "rebase"
                if self
                    .args
                    .iter()
                    .any(|a| a.is("-x") || a.text().starts_with("--exec")) =>
            {
                Err(runs_commands(self.sub))
            }
            "bisect" if self.args.first().is_some_and(|a| a.is("run")) => {
                Err(runs_commands(self.sub))
            }
            "submodule" if self.args.iter().any(|a| a.is("foreach")) => {
                Err(runs_commands(self.sub))
            }
            s if READ.contains(&s) => self.outputs(),
            s if WORKTREE.contains(&s) => self.worktree_command(),
            s if SHARED.contains(&s) => self.shared_command(),
            other => Err(format!(
                "`git {other}` is not a git command legio knows (an alias?); spell out the git \
                 command it stands for"
            )),
        }
    }

    fn opts(&self, with_value: &[&str]) -> Argv<'_> {
        Argv::parse(self.args, with_value)
    }

    fn what(&self) -> String {
        format!("`git {}`", self.sub)
    }

    /// `--output FILE` of reading commands.
    fn outputs(&self) -> Verdict {
        let opts = self.opts(&["--output", "-o"]);
        let outputs = if self.sub == "archive" {
            opts.values(&["--output", "-o"])
        } else {
            opts.values(&["--output"])
        };
        outputs
            .iter()
            .try_for_each(|f| self.ctx.write(self.cwd.as_deref(), f, &self.what()))
    }

    /// Anything that writes must run in the agent's own worktree, with git pointed at it.
    fn in_worktree(&self) -> Verdict {
        let what = self.what();
        if self.ctx.read_only() {
            return Err(self
                .ctx
                .read_only_reason(&format!("{what} (it changes the repository)")));
        }
        if self.redirected {
            return Err(format!(
                "{what} with --git-dir/--work-tree (or GIT_DIR/GIT_WORK_TREE) would act on another \
                 checkout; run git in your own worktree without them"
            ));
        }
        match self.ctx.worktree_contains(self.cwd.as_deref()) {
            Some(true) => Ok(()),
            Some(false) => Err(format!(
                "{what} runs in {}, outside your worktree: it would change another checkout. \
                 Run it in your own worktree",
                self.cwd.as_deref().unwrap_or(Path::new("?")).display()
            )),
            None => Err(format!(
                "legio cannot tell which directory {what} runs in (a `cd` followed by `;` may \
                 have failed); use `cd DIR && git ...` or `git -C DIR ...`"
            )),
        }
    }

    fn write_paths(&self, paths: &[&Arg]) -> Verdict {
        paths
            .iter()
            .try_for_each(|p| self.ctx.write(self.cwd.as_deref(), p, &self.what()))
    }

    /// Whether `name` is one of the agent's own branches (`legio/<agent>/...`).
    fn own_branch(&self, name: &Arg) -> bool {
        let (Some(agent), Some(name)) = (&self.ctx.policy.agent, name.literal()) else {
            return false;
        };
        let name = name.strip_prefix("refs/heads/").unwrap_or(name);
        name.strip_prefix("legio/")
            .and_then(|r| r.strip_prefix(agent.as_str()))
            .is_some_and(|r| r.starts_with('/'))
    }

    fn not_own_branch(&self, name: &Arg) -> String {
        let mine = self.ctx.policy.agent.as_ref().map_or_else(
            || "legio/<agent>/...".to_owned(),
            |a| format!("legio/{a}/..."),
        );
        format!(
            "{} on `{}` would leave or create a branch that is not yours; stay on your own \
             branch ({mine}). To restore files use `git restore <path>`",
            self.what(),
            name.text()
        )
    }

    fn worktree_command(&self) -> Verdict {
        self.in_worktree()?;
        let what = self.what();
        match self.sub {
            "reset" => {
                if self.opts(&[]).has(&["--hard"]) {
                    return Err(
                        "git reset --hard destroys uncommitted work and is not allowed; \
                         use `git restore <path>` for files, or `git reset --keep` / \
                         `git revert` for commits"
                            .into(),
                    );
                }
                Ok(())
            }
            "commit" => {
                let opts = self.opts(&[
                    "-m",
                    "--message",
                    "-F",
                    "--file",
                    "-C",
                    "--reuse-message",
                    "-c",
                    "--reedit-message",
                    "--fixup",
                    "--author",
                    "--date",
                    "-t",
                    "--template",
                    "--trailer",
                    "--cleanup",
                    "-S",
                    "--gpg-sign",
                    "--pathspec-from-file",
                ]);
                if !opts.has(&[
                    "-m",
                    "--message",
                    "-F",
                    "--file",
                    "-C",
                    "--reuse-message",
                    "--no-edit",
                    "--fixup",
                ]) {
                    return Err(
                        "`git commit` without -m or -F would open an editor and hang; pass \
                         the message with -m \"...\" (or -F - with a here-document)"
                            .into(),
                    );
                }
                Ok(())
            }
            "rebase" => {
                if self
                    .opts(&["--onto", "-x", "--exec", "-s", "--strategy", "-X"])
                    .has(&["-i", "--interactive", "--edit-todo"])
                {
                    return Err(
                        "an interactive rebase opens an editor and would hang; rebase \
                         without -i (or make new commits)"
                            .into(),
                    );
                }
                Ok(())
            }
            "checkout" => self.checkout(),
            "switch" => self.switch(),
            "restore" => {
                let opts = self.opts(&["-s", "--source", "--pathspec-from-file", "--conflict"]);
                if opts.has(&["-S", "--staged"]) && !opts.has(&["-W", "--worktree"]) {
                    return Ok(()); // the index only
                }
                self.write_paths(&opts.operands)
            }
            "rm" => {
                let opts = self.opts(&["--pathspec-from-file"]);
                if opts.has(&["--cached"]) {
                    return Ok(());
                }
                self.write_paths(&opts.operands)
            }
            "mv" => self.write_paths(&self.opts(&[]).operands),
            "merge-file" => {
                let opts = self.opts(&["-L"]);
                if opts.has(&["-p", "--stdout"]) {
                    return Ok(());
                }
                self.write_paths(&opts.operands[..opts.operands.len().min(1)])
            }
            "format-patch" => {
                let opts = self.opts(&["-o", "--output-directory"]);
                let dirs = opts.values(&["-o", "--output-directory"]);
                if dirs.is_empty() && !opts.has(&["--stdout"]) {
                    return self.write_paths(&[&Arg::Lit(".".into())]);
                }
                self.write_paths(&dirs)
            }
            "clone" | "init" => {
                let opts = self.opts(&[
                    "-b",
                    "--branch",
                    "-o",
                    "--origin",
                    "--depth",
                    "--reference",
                    "--separate-git-dir",
                    "--template",
                    "-c",
                    "--config",
                    "-u",
                    "--upload-pack",
                    "--filter",
                ]);
                let dest = if self.sub == "clone" {
                    opts.operands.get(1)
                } else {
                    opts.operands.first()
                };
                match dest {
                    Some(d) => self.write_paths(&[d]),
                    None => Ok(()),
                }
            }
            "notes" => match self.opts(&[]).first() {
                None | Some("list" | "show") => Ok(()),
                Some(_) => Err(format!(
                    "{what} changes notes every agent shares; put the note in your commit message"
                )),
            },
            _ => Ok(()),
        }
    }

    fn checkout(&self) -> Verdict {
        let opts = self.opts(&["-b", "-B", "--orphan", "--conflict", "--pathspec-from-file"]);
        if let Some(dash) = self.args.iter().position(|a| a.is("--")) {
            // `git checkout [<commit>] -- <paths>`: restores files
            let paths: Vec<&Arg> = self.args[dash + 1..].iter().collect();
            return self.write_paths(&paths);
        }
        let created = opts.values(&["-b", "-B", "--orphan"]);
        if let Some(name) = created.iter().find(|n| !self.own_branch(n)) {
            return Err(self.not_own_branch(name));
        }
        if !created.is_empty() {
            return Ok(());
        }
        match opts.operands.as_slice() {
            [] => Ok(()),
            [only] if self.own_branch(only) => Ok(()),
            [only] if only.is(".") => self.write_paths(&[only]),
            [first, ..] => Err(self.not_own_branch(first)),
        }
    }

    fn switch(&self) -> Verdict {
        let opts = self.opts(&[
            "-c",
            "-C",
            "--create",
            "--force-create",
            "--orphan",
            "--conflict",
        ]);
        if opts.has(&["-d", "--detach"]) {
            return Err("`git switch --detach` leaves your branch; stay on your own branch".into());
        }
        let created = opts.values(&["-c", "-C", "--create", "--force-create", "--orphan"]);
        let target = created.first().copied().or(opts.operands.first().copied());
        match target {
            Some(name) if self.own_branch(name) => Ok(()),
            Some(name) => Err(self.not_own_branch(name)),
            None => Ok(()),
        }
    }

    /// Commands on shared state: their reading forms are fine for everyone.
    fn shared_command(&self) -> Verdict {
        let what = self.what();
        let opts = self.opts(&[
            "--contains",
            "--no-contains",
            "--merged",
            "--no-merged",
            "--points-at",
            "--sort",
            "--format",
            "--column",
            "-u",
            "--set-upstream-to",
            "--file",
            "-f",
            "--type",
            "--default",
            "--blob",
            "--expire",
            "-m",
            "--message",
            "-F",
        ]);
        let first = opts.first();
        let reading = match self.sub {
            "branch" => {
                if opts.has(&[
                    "-d",
                    "-D",
                    "--delete",
                    "-f",
                    "--force",
                    "-m",
                    "-M",
                    "--move",
                    "-c",
                    "-C",
                    "--copy",
                    "--edit-description",
                    "--unset-upstream",
                    "-u",
                    "--set-upstream-to",
                    "--set-upstream",
                    "--track",
                    "-t",
                ]) {
                    false
                } else if opts.operands.is_empty()
                    || opts.has(&[
                        "-l",
                        "--list",
                        "--show-current",
                        "-a",
                        "--all",
                        "-r",
                        "--remotes",
                        "-v",
                        "-vv",
                        "--verbose",
                        "--contains",
                        "--no-contains",
                        "--merged",
                        "--no-merged",
                        "--points-at",
                    ])
                {
                    true
                } else {
                    // `git branch NAME [START]` creates a branch: only the agent's own
                    self.in_worktree()?;
                    return match opts.operands.first() {
                        Some(name) if self.own_branch(name) => Ok(()),
                        Some(name) => Err(self.not_own_branch(name)),
                        None => Ok(()),
                    };
                }
            }
            "tag" => {
                !opts.has(&[
                    "-d",
                    "--delete",
                    "-a",
                    "--annotate",
                    "-s",
                    "--sign",
                    "-m",
                    "--message",
                    "-F",
                    "-f",
                    "--force",
                    "-u",
                    "--local-user",
                ]) && (opts.operands.is_empty()
                    || opts.has(&[
                        "-l",
                        "--list",
                        "-n",
                        "--contains",
                        "--points-at",
                        "--merged",
                        "--no-merged",
                        "--verify",
                        "-v",
                    ]))
            }
            "stash" => matches!(first, Some("list" | "show")),
            "config" => {
                opts.has(&[
                    "--get",
                    "--get-all",
                    "--get-regexp",
                    "--get-urlmatch",
                    "--list",
                    "-l",
                    "--get-color",
                    "--get-colorbool",
                ]) || matches!(first, Some("get" | "list"))
                    || (opts.operands.len() == 1
                        && !opts.has(&[
                            "--unset",
                            "--unset-all",
                            "--add",
                            "--replace-all",
                            "-e",
                            "--edit",
                            "--remove-section",
                            "--rename-section",
                        ]))
            }
            "remote" => matches!(first, None | Some("show" | "get-url")),
            "worktree" => matches!(first, Some("list")),
            "reflog" => !matches!(first, Some("expire" | "delete" | "drop")),
            "symbolic-ref" => opts.operands.len() <= 1 && !opts.has(&["-d", "--delete"]),
            "clean" => opts.has(&["-n", "--dry-run"]),
            "fsck" | "commit-graph" => matches!(first, Some("verify")),
            _ => false,
        };
        if reading {
            return Ok(());
        }
        let hint = match self.sub {
            "stash" => {
                "the stash is shared by every agent's worktree; commit work in progress on your branch instead (git commit -m wip)"
            }
            "branch" | "tag" => {
                "branches and tags are shared by every agent; stay on your own branch and let your parent and the merge queue handle the rest"
            }
            "worktree" => {
                "legio creates and removes worktrees; ask your parent (legio mail send --type question) if you need another agent"
            }
            "config" | "remote" => {
                "the repository configuration is shared by every agent; pass settings for one command with `git -c key=value ...`"
            }
            "clean" => {
                "git clean deletes untracked files, including legio's files in your worktree; remove the specific files you created with rm"
            }
            "mergetool" | "difftool" => {
                "it opens an interactive tool and would hang; resolve conflicts by editing the files"
            }
            _ => {
                "it rewrites the repository every agent shares; leave repository maintenance to the human"
            }
        };
        Err(format!("{what} is not allowed for legio agents: {hint}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_git_subcommand_has_one_class() {
        for list in [READ, WORKTREE, SHARED] {
            for sub in list {
                let classes = [READ, WORKTREE, SHARED]
                    .iter()
                    .filter(|l| l.contains(sub))
                    .count();
                assert_eq!(classes, 1, "{sub} is in {classes} classes");
            }
        }
    }

    #[test]
    fn aliases_cannot_be_defined_on_the_command_line() {
        assert!(config_override(Some(&Arg::Lit("alias.p=push".into()))).is_err());
        assert!(config_override(Some(&Arg::Lit("Alias.P=push".into()))).is_err());
        assert!(config_override(Some(&Arg::Dyn("$X".into()))).is_err());
        assert!(config_override(Some(&Arg::Lit("color.ui=false".into()))).is_ok());
    }
}
