//! Judging what a Bash command runs, program by program, and where each write lands.
//!
//! [`Ctx::write`] is the one place that decides whether a path may be written: device files,
//! the worktree and its scope, protected files, scratch directories, Claude Code's memory.
//! [`invocation`] judges one program: the rules every agent shares live here (`git`, `legio`,
//! `sleep`, editors, command runners, `tmux`); the rest is asked of [`files`] (programs that
//! write the files they name), [`interpreters`] (code and scripts) and [`packages`] (build
//! tools, package managers, formatters). A program none of them knows is allowed, except
//! project programs run by path for read-only roles.

use std::path::{Path, PathBuf};

use super::argv::Argv;
use super::paths::{self, Links};
use super::shell::{self, Arg, Invocation, ShellEnv, program_name};
use super::{GuardPolicy, git, legio};
use crate::domain::agent::Capability;

/// A rule's answer: `Err` holds the reason shown to the agent.
pub type Verdict = Result<(), String>;

/// The policy with its directories resolved once, and the symlink lookup.
pub struct Ctx<'a> {
    /// The policy being enforced.
    pub policy: &'a GuardPolicy,
    links: &'a dyn Links,
    worktree: Option<PathBuf>,
    project: Option<PathBuf>,
    scratch: Vec<PathBuf>,
    memory: Option<PathBuf>,
}

/// A `sleep` longer than this (seconds) is a wait the agent should not make.
const MAX_SLEEP: f64 = 60.0;
/// Inside a loop, a `sleep` this long (seconds) makes it a polling loop.
const MAX_LOOP_SLEEP: f64 = 5.0;

impl<'a> Ctx<'a> {
    /// Resolves the policy's directories through `links`.
    pub fn new(policy: &'a GuardPolicy, links: &'a dyn Links) -> Self {
        let canon = |p: &Path| paths::resolve(links, None, p);
        Self {
            policy,
            links,
            worktree: policy.worktree.as_deref().and_then(canon),
            project: policy.project_root.as_deref().and_then(canon),
            scratch: policy
                .scratch_dirs
                .iter()
                .filter_map(|d| canon(d))
                .collect(),
            memory: policy
                .home
                .as_deref()
                .and_then(|h| canon(&h.join(".claude/projects"))),
        }
    }

    /// Whether the role may not modify files.
    pub fn read_only(&self) -> bool {
        self.policy.capability.is_read_only()
    }

    /// The role, for messages.
    pub fn role(&self) -> Capability {
        self.policy.capability
    }

    /// Denies `what` for read-only roles.
    pub fn not_read_only(&self, what: &str) -> Verdict {
        if self.read_only() {
            Err(self.read_only_reason(what))
        } else {
            Ok(())
        }
    }

    /// The denial text for `what` done by a read-only role.
    pub fn read_only_reason(&self, what: &str) -> String {
        format!(
            "{} agents are read-only: {what} is not allowed. Leave changes to a builder: report \
             what you found with legio mail send (or hand over a spec with legio spec write)",
            self.role()
        )
    }

    /// Whether `dir` lies inside the worktree (`None`: `dir` is unknown).
    pub fn worktree_contains(&self, dir: Option<&Path>) -> Option<bool> {
        let resolved = paths::resolve(self.links, None, dir?)?;
        Some(
            self.worktree
                .as_ref()
                .is_some_and(|wt| resolved.starts_with(wt)),
        )
    }

    /// Whether `target`, written by `what` running in `cwd`, may be written.
    pub fn write(&self, cwd: Option<&Path>, target: &Arg, what: &str) -> Verdict {
        self.write_as(cwd, target, what, false)
    }

    /// Like [`Ctx::write`], for deletions and moves: also refuses the worktree itself and the
    /// directories holding what legio manages.
    pub fn delete(&self, cwd: Option<&Path>, target: &Arg, what: &str) -> Verdict {
        self.write_as(cwd, target, what, true)
    }

    fn write_as(&self, cwd: Option<&Path>, target: &Arg, what: &str, delete: bool) -> Verdict {
        let text = match target {
            Arg::Dyn(t) => return Err(self.unknown_target(what, t)),
            Arg::Glob(t) if glob_may_climb(t) => return Err(self.unknown_target(what, t)),
            Arg::Lit(t) | Arg::Glob(t) => t,
        };
        let path = Path::new(text);
        let Some(resolved) = paths::resolve(self.links, cwd, path) else {
            return Err(if cwd.is_none() && path.is_relative() {
                format!(
                    "legio cannot tell which directory {what} runs in, so it cannot tell where \
                     `{text}` is (a `cd` followed by `;` may have failed). Chain it as \
                     `cd DIR && ...` or use an absolute path"
                )
            } else {
                format!("`{text}` goes through a symlink loop; use a real path")
            });
        };
        if paths::is_harmless_device(&resolved) {
            return Ok(());
        }
        if self.read_only() {
            let strategy = self
                .project
                .as_ref()
                .map(|p| p.join(".legio/strategy.json"));
            if self.role() == Capability::Cto && strategy.as_ref() == Some(&resolved) {
                return Ok(());
            }
            return Err(self.read_only_reason(what));
        }
        if let Some(rel) = self
            .worktree
            .as_ref()
            .and_then(|wt| resolved.strip_prefix(wt).ok())
        {
            return self.inside(rel, what, delete);
        }
        let in_project = self
            .project
            .as_ref()
            .is_some_and(|p| resolved.starts_with(p));
        if !in_project && self.scratch.iter().any(|d| resolved.starts_with(d)) {
            return Ok(());
        }
        if self.memory.as_ref().is_some_and(|m| {
            resolved.strip_prefix(m).is_ok_and(|r| {
                r.components()
                    .nth(1)
                    .is_some_and(|c| c.as_os_str() == "memory")
            })
        }) {
            return Ok(());
        }
        let wt = self
            .worktree
            .as_ref()
            .map_or_else(|| "(unknown)".to_owned(), |w| w.display().to_string());
        let hint = if resolved.to_string_lossy().contains("/.legio/specs/") {
            "hand specs over with legio spec write <task> --body ... instead"
        } else {
            "if something elsewhere must change, ask your parent with legio mail send --type question"
        };
        Err(format!(
            "{what} writes {}, outside your worktree {wt}. Change files only inside your \
             worktree (scratch files may go under /tmp); {hint}",
            resolved.display()
        ))
    }

    /// A write inside the worktree: protected files, then the scope.
    fn inside(&self, rel: &Path, what: &str, delete: bool) -> Verdict {
        let mut parts = rel.iter().filter_map(|c| c.to_str());
        let first = parts.next();
        let second = parts.next();
        let protected = match first {
            None => delete,
            Some(".git") => true,
            Some(".claude") => match second {
                None => delete,
                Some(name) => name.starts_with("settings") || name.contains(['*', '?', '[']),
            },
            Some(_) => false,
        };
        if protected {
            let shown = if rel.as_os_str().is_empty() {
                "your whole worktree".to_owned()
            } else {
                rel.display().to_string()
            };
            return Err(format!(
                "{what} would change {shown}, which legio manages for your session (git \
                 metadata and the hooks that run this guard); leave it alone"
            ));
        }
        let scope = &self.policy.file_scope;
        if scope.is_empty() || scope.iter().any(|s| paths::scope_covers(s, rel)) {
            return Ok(());
        }
        Err(format!(
            "{what} writes {}, outside your file scope ({}). Change only the files you were \
             given; if you need more, ask your parent with legio mail send --type question",
            rel.display(),
            scope.join(", ")
        ))
    }

    fn unknown_target(&self, what: &str, text: &str) -> String {
        if self.read_only() {
            return self.read_only_reason(what);
        }
        format!(
            "legio cannot tell where {what} writes: `{text}` is only known when the command \
             runs. Use literal paths inside your worktree"
        )
    }

    /// The cwd-relative writes of a program that writes into its working directory.
    pub fn write_here(&self, inv: &Invocation, what: &str) -> Verdict {
        self.write(inv.cwd.as_deref(), &Arg::Lit(".".into()), what)
    }
}

/// A glob component that starts with `.` may match `..` (`.*`, `.?`) or hidden files legio
/// protects: treat it as unknown.
fn glob_may_climb(text: &str) -> bool {
    // `*` and `?` never match a leading `.`; a pattern that starts with `.`, a bracket or an
    // extended glob might match `..` or a hidden file
    text.split('/').any(|c| {
        let globby = c.contains(['*', '?', '[', '(']);
        globby && (c.starts_with(['.', '[']) || c.get(1..2) == Some("("))
    })
}

/// Reads and judges a Bash command.
pub fn bash(ctx: &Ctx<'_>, command: &str) -> Verdict {
    let policy = ctx.policy;
    let env = ShellEnv {
        home: policy.home.as_deref(),
        worktree: policy.worktree.as_deref(),
        agent: policy.agent.as_ref().map(crate::names::AgentName::as_str),
    };
    let invocations = shell::read(command, policy.start_dir(), env).map_err(|e| {
        format!(
            "legio could not read this command: {e}. Rewrite it as plain commands (literal \
             program names, no eval or code in variables) so it can be checked"
        )
    })?;
    invocations
        .iter()
        .try_for_each(|inv| invocation(ctx, inv))?;
    // pauses add up: `sleep 30 && sleep 40` is a 70 s wait
    let mut total = 0.0;
    for inv in invocations.iter().filter(|i| i.program() == Some("sleep")) {
        total += sleep_seconds(inv)?;
    }
    if total > MAX_SLEEP {
        return Err(polling(&format!("waiting {total} s in one command")));
    }
    Ok(())
}

/// Judges one program run.
fn invocation(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let cwd = inv.cwd.as_deref();
    for target in &inv.writes {
        ctx.write(
            cwd,
            target,
            &format!("the redirection to `{}`", target.text()),
        )?;
    }
    if ctx.read_only() {
        code_variables(ctx, inv)?;
    }
    let Some(first) = inv.args.first() else {
        return Ok(()); // only assignments and redirections
    };
    let Some(program_word) = first.literal() else {
        return Err(format!(
            "legio cannot tell which program `{}` runs; write the program name literally",
            first.text()
        ));
    };
    let name = program_name(program_word);
    let args = inv.rest();
    let what = format!("`{name}`");
    if ctx.read_only() {
        read_only_extras(ctx, inv, name)?;
    }
    match name {
        "git" => git::check(ctx, inv),
        "legio" => legio::check(ctx, inv),
        "sleep" => sleep(inv),
        "watch" => Err(polling("`watch`")),
        "alias" if args.iter().any(|a| a.text().contains('=')) => {
            Err("defining aliases hides which program runs; call the program directly".into())
        }
        "vi" | "vim" | "nvim" | "view" | "nano" | "pico" | "emacs" | "ed" | "ex" | "micro"
        | "joe" | "kak" | "hx" | "helix" | "code" | "subl" => Err(format!(
            "{what} is an interactive editor and would hang this session; use the Edit tool \
             (writing roles) or read files with the Read tool"
        )),
        "parallel" | "script" | "su" | "runuser" | "at" | "batch" | "crontab" | "screen"
        | "expect" | "gdb" | "systemd-run" | "flock" | "unshare" | "nsenter" | "chroot"
        | "firejail" | "dtach" | "abduco" => Err(format!(
            "{what} runs other commands in a way legio cannot read; run the commands directly"
        )),
        "tmux" => tmux(inv),
        _ => files::check(ctx, inv, name)
            .or_else(|| interpreters::check(ctx, inv, name))
            .or_else(|| packages::check(ctx, inv, name))
            .unwrap_or_else(|| unknown_program(ctx, program_word)),
    }
}

/// Programs no rule knows: allowed, except project programs run by path for read-only roles.
fn unknown_program(ctx: &Ctx<'_>, program_word: &str) -> Verdict {
    if ctx.read_only() && program_word.contains('/') && !is_system_program(program_word) {
        return Err(ctx.read_only_reason(&format!("running the program `{program_word}`")));
    }
    Ok(())
}

/// Variables that make a program run another command (or update files it only checks).
const CODE_VARIABLES: &[&str] = &[
    "GIT_PAGER",
    "PAGER",
    "GIT_EXTERNAL_DIFF",
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_EDITOR",
    "EDITOR",
    "VISUAL",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "GIT_SEQUENCE_EDITOR",
    "BASH_ENV",
    "ENV",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "PROMPT_COMMAND",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_COUNT",
    "INSTA_UPDATE",
    "INSTA_FORCE_PASS",
    "UPDATE_EXPECT",
    "UPDATE_SNAPSHOTS",
    "SNAPSHOT_UPDATE",
];

/// Read-only roles may not set variables that run commands or update snapshots.
fn code_variables(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let plain_pager = |var: &str, value: &Arg| {
        matches!(var, "GIT_PAGER" | "PAGER")
            && matches!(value.literal(), Some("" | "cat" | "less" | "more"))
    };
    if let Some((var, _)) = inv.env.iter().find(|(var, value)| {
        (CODE_VARIABLES.contains(&var.as_str()) || var.starts_with("GIT_CONFIG_"))
            && !plain_pager(var, value)
    }) {
        return Err(ctx.read_only_reason(&format!(
            "setting {var} (it makes the command run or write something else)"
        )));
    }
    Ok(())
}

/// Read-only roles may not ask test runners to rewrite their snapshots.
fn read_only_extras(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Verdict {
    let updates_snapshots = inv.rest().iter().any(|a| {
        matches!(
            a.literal(),
            Some(
                "--updateSnapshot"
                    | "--update-snapshots"
                    | "--snapshot-update"
                    | "--update-snapshot"
            )
        ) || (matches!(name, "jest" | "vitest") && a.is("-u"))
    });
    if updates_snapshots {
        return Err(ctx.read_only_reason("updating test snapshots"));
    }
    Ok(())
}

/// `tmux`: agents live in tmux sessions; only looking is allowed.
fn tmux(inv: &Invocation) -> Verdict {
    let opts = Argv::parse(inv.rest(), &["-L", "-S", "-f", "-c", "-T"]);
    match opts.first() {
        Some(
            "ls" | "list-sessions" | "list-windows" | "list-panes" | "list-clients" | "has-session"
            | "has" | "display-message" | "display" | "capture-pane" | "capturep" | "show-options"
            | "show" | "-V",
        ) => Ok(()),
        None if opts.has(&["-V"]) => Ok(()),
        _ => Err("tmux runs legio's agents: controlling it directly can type into or kill other              agents. Use legio nudge, legio stop or legio mail instead"
            .into()),
    }
}

/// Programs installed on the system (by path) are judged by name; others are project code.
fn is_system_program(path: &str) -> bool {
    [
        "/bin/",
        "/usr/bin/",
        "/usr/local/bin/",
        "/sbin/",
        "/usr/sbin/",
        "/opt/homebrew/bin/",
    ]
    .iter()
    .any(|dir| {
        path.strip_prefix(dir)
            .is_some_and(|rest| !rest.contains('/'))
    })
}

/// What a program does to the paths it names.
#[derive(Clone, Copy)]
enum Op {
    Write,
    Delete,
}

fn each(ctx: &Ctx<'_>, inv: &Invocation, targets: &[&Arg], what: &str, op: Op) -> Verdict {
    targets.iter().try_for_each(|t| match op {
        Op::Write => ctx.write(inv.cwd.as_deref(), t, what),
        Op::Delete => ctx.delete(inv.cwd.as_deref(), t, what),
    })
}

/// The operands of a conventional program.
fn operands<'a>(args: &'a [Arg], with_value: &[&str]) -> Vec<&'a Arg> {
    Argv::parse(args, with_value).operands
}

/// `value` (part of `original`'s text) with `original`'s kind.
fn retag(original: &Arg, value: &str) -> Arg {
    match original {
        Arg::Lit(_) => Arg::Lit(value.to_owned()),
        Arg::Glob(_) => Arg::Glob(value.to_owned()),
        Arg::Dyn(_) => Arg::Dyn(value.to_owned()),
    }
}

fn polling(what: &str) -> String {
    format!(
        "{what} waits and polls; legio agents should not. Mail reaches you by itself through \
         legio's hooks: finish your turn (or run long jobs with run_in_background) instead of \
         waiting in a loop"
    )
}

/// `sleep`: short pauses are fine; long waits and polling loops are not.
fn sleep(inv: &Invocation) -> Verdict {
    let total = sleep_seconds(inv)?;
    let too_long = if inv.in_loop {
        total >= MAX_LOOP_SLEEP
    } else {
        total > MAX_SLEEP
    };
    if too_long {
        let place = if inv.in_loop { " inside a loop" } else { "" };
        return Err(polling(&format!("`sleep` for {total} s{place}")));
    }
    Ok(())
}

/// How long one `sleep` waits (its operands add up).
fn sleep_seconds(inv: &Invocation) -> Result<f64, String> {
    inv.rest().iter().try_fold(0.0, |total, arg| {
        let seconds = arg.literal().and_then(duration).ok_or_else(|| {
            polling(&format!(
                "`sleep {}` (a duration legio cannot read)",
                arg.text()
            ))
        })?;
        Ok(total + seconds)
    })
}

/// `10`, `1.5`, `2m`, `1h`, `1d`, `infinity` in seconds.
fn duration(text: &str) -> Option<f64> {
    if text == "infinity" || text == "inf" {
        return Some(f64::INFINITY);
    }
    let (number, unit) = match text.char_indices().last()? {
        (i, c @ ('s' | 'm' | 'h' | 'd')) => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    Some(
        n * match unit {
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => 1.0,
        },
    )
}

mod files;
mod interpreters;
mod packages;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("10"), Some(10.0));
        assert_eq!(duration("1.5"), Some(1.5));
        assert_eq!(duration("2m"), Some(120.0));
        assert_eq!(duration("1h"), Some(3600.0));
        assert_eq!(duration("infinity"), Some(f64::INFINITY));
        assert_eq!(duration("x"), None);
        assert_eq!(duration("-1"), None);
    }

    #[test]
    fn climbing_globs() {
        assert!(glob_may_climb(".*"));
        assert!(glob_may_climb("a/.?/b"));
        assert!(!glob_may_climb("*.rs"));
        assert!(!glob_may_climb("src/*/x"));
        assert!(glob_may_climb("[.][.]/x"));
        assert!(glob_may_climb("@(..|x)/y"));
    }
}
