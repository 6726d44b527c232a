//! Judging what a Bash command runs, program by program, and where each write lands.
//!
//! [`Ctx::write`] is the one place that decides whether a path may be written: device files,
//! the worktree and its scope, protected files, scratch directories, Claude Code's memory. The
//! per-program rules below only say *which* paths a program writes (`rm` its operands, `cp`
//! its destination, `sed -i` its files, `curl -o` its output, ...), or that it writes somewhere
//! legio cannot see (which read-only roles may not do).

use std::path::{Path, PathBuf};

use super::argv::Argv;
use super::paths::{self, Links};
use super::shell::{self, Arg, Invocation, ShellEnv, Stdin, program_name};
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
        Err(format!(
            "{what} writes {}, outside your worktree {wt}. Change files only inside your \
             worktree (scratch files may go under /tmp); if something elsewhere must change, \
             ask your parent with legio mail send --type question",
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
        "rm" | "rmdir" | "unlink" | "shred" | "srm" => {
            each(ctx, inv, &operands(args, &[]), &what, Op::Delete)
        }
        "mv" => {
            let opts = Argv::parse(args, &["-t", "--target-directory", "-S", "--suffix"]);
            each(ctx, inv, &opts.operands, &what, Op::Delete)?;
            each(
                ctx,
                inv,
                &opts.values(&["-t", "--target-directory"]),
                &what,
                Op::Write,
            )
        }
        "cp" | "install" | "rsync" | "scp" => copy(ctx, inv, name),
        "ln" | "link" => links(ctx, inv, &what),
        "touch" => each(
            ctx,
            inv,
            &operands(args, &["-d", "-t", "-r", "--date", "--reference"]),
            &what,
            Op::Write,
        ),
        "mkdir" | "mkfifo" | "mknod" => each(
            ctx,
            inv,
            &operands(args, &["-m", "--mode", "-Z"]),
            &what,
            Op::Write,
        ),
        "truncate" => each(
            ctx,
            inv,
            &operands(args, &["-s", "-r", "--size", "--reference"]),
            &what,
            Op::Write,
        ),
        "chmod" | "chown" | "chgrp" | "chattr" | "setfacl" => permissions(ctx, inv, &what),
        "tee" => each(
            ctx,
            inv,
            &operands(args, &["-p", "--output-error"]),
            &what,
            Op::Write,
        ),
        "dd" => {
            let outputs: Vec<Arg> = args
                .iter()
                .filter_map(|a| a.text().strip_prefix("of=").map(|p| retag(a, p)))
                .collect();
            each(
                ctx,
                inv,
                &outputs.iter().collect::<Vec<_>>(),
                &what,
                Op::Write,
            )
        }
        "mktemp" => {
            ctx.not_read_only("`mktemp`")?;
            let opts = Argv::parse(args, &["-p", "--tmpdir", "--suffix"]);
            let dir = opts.values(&["-p", "--tmpdir"]);
            each(ctx, inv, &dir, &what, Op::Write)
        }
        "sort" => each(
            ctx,
            inv,
            &Argv::parse(args, &["-o", "--output", "-k", "-t", "-S", "-T"])
                .values(&["-o", "--output"]),
            &what,
            Op::Write,
        ),
        "uniq" => {
            let ops = operands(args, &["-f", "-s", "-w"]);
            each(ctx, inv, &ops[ops.len().min(1)..], &what, Op::Write)
        }
        "split" | "csplit" => ctx.write_here(inv, &what),
        "sed" => sed(ctx, inv),
        "perl" | "ruby" => in_place_interpreter(ctx, inv, name),
        "awk" | "gawk" | "mawk" | "nawk" => awk(ctx, inv),
        "patch" => {
            let opts = Argv::parse(
                args,
                &[
                    "-o",
                    "--output",
                    "-d",
                    "--directory",
                    "-p",
                    "-i",
                    "--input",
                    "-r",
                    "-B",
                    "-z",
                    "-F",
                    "-D",
                ],
            );
            if opts.has(&["--dry-run"]) {
                return Ok(());
            }
            each(
                ctx,
                inv,
                &opts.values(&["-o", "--output"]),
                &what,
                Op::Write,
            )?;
            match opts.operands.first() {
                Some(file) => ctx.write(inv.cwd.as_deref(), file, &what),
                None => ctx.write_here(inv, &what),
            }
        }
        "curl" => curl(ctx, inv),
        "wget" => wget(ctx, inv),
        "tar" | "bsdtar" => tar(ctx, inv),
        "unzip" => {
            let opts = Argv::parse(args, &["-d", "-x", "-P"]);
            if opts.has(&["-l", "-t", "-p", "-Z", "-v"]) {
                return Ok(());
            }
            match opts.values(&["-d"]).first() {
                Some(dir) => ctx.write(inv.cwd.as_deref(), dir, &what),
                None => ctx.write_here(inv, &what),
            }
        }
        "zip" => {
            let ops = operands(args, &["-b", "-n", "-t", "-tt", "-x", "-i"]);
            each(ctx, inv, &ops[..ops.len().min(1)], &what, Op::Write)
        }
        "gzip" | "gunzip" | "bzip2" | "bunzip2" | "xz" | "unxz" | "zstd" | "unzstd" | "lz4"
        | "compress" | "uncompress" => {
            let opts = Argv::parse(args, &["-S", "--suffix", "-o"]);
            if opts.has(&[
                "-c",
                "--stdout",
                "--to-stdout",
                "-l",
                "--list",
                "-t",
                "--test",
            ]) {
                return Ok(());
            }
            each(ctx, inv, &opts.operands, &what, Op::Write)
        }
        "sqlite3" => {
            let opts = Argv::parse(args, &["-cmd", "-separator", "-newline", "-nullvalue"]);
            if opts.has(&["-readonly", "--readonly"]) || args.iter().any(|a| a.is("-readonly")) {
                return Ok(());
            }
            match opts.operands.first() {
                Some(db) if !db.is(":memory:") => ctx.write(
                    inv.cwd.as_deref(),
                    db,
                    &format!("{what} (without -readonly)"),
                ),
                _ => Ok(()),
            }
        }
        "find" => find(ctx, inv),
        "vi" | "vim" | "nvim" | "view" | "nano" | "pico" | "emacs" | "ed" | "ex" | "micro"
        | "joe" | "kak" | "hx" | "helix" | "code" | "subl" => Err(format!(
            "{what} is an interactive editor and would hang this session; use the Edit tool \
             (writing roles) or read files with the Read tool"
        )),
        "source" | "." => match args.first() {
            Some(Arg::Dyn(script)) => Err(format!(
                "`{name} {script}` runs code legio cannot see; run the commands directly"
            )),
            Some(script) if script.text().starts_with("/dev/") || script.is("-") => Err(format!(
                "`{name} {}` runs code from input legio cannot check; run the commands directly",
                script.text()
            )),
            Some(script) if script.text().ends_with("/activate") => Ok(()), // a virtualenv
            script => ctx.not_read_only(&format!(
                "running the script `{}`",
                script.map_or("", Arg::text)
            )),
        },
        "parallel" | "script" | "su" | "runuser" | "at" | "batch" | "crontab" | "screen"
        | "expect" | "gdb" | "systemd-run" | "flock" | "unshare" | "nsenter" | "chroot"
        | "firejail" | "dtach" | "abduco" => Err(format!(
            "{what} runs other commands in a way legio cannot read; run the commands directly"
        )),
        "tmux" => tmux(inv),
        "python" | "python2" | "python3" | "pypy" | "pypy3" => python(ctx, inv),
        n if n.starts_with("python3.") => python(ctx, inv),
        "node" | "nodejs" | "deno" | "bun" | "ts-node" | "tsx" => js(ctx, inv, name),
        "php" | "lua" | "luajit" | "Rscript" | "osascript" | "julia" | "tclsh" | "groovy"
        | "jshell" => script_runner(ctx, inv, &["-e", "-r", "--eval"]),
        n if SHELLS.contains(&n) => ctx.not_read_only(&format!(
            "running the script {}",
            args.first().map_or("", Arg::text)
        )),
        "cargo" => packages::cargo(ctx, inv),
        "npm" | "pnpm" | "yarn" => packages::node(ctx, inv, name),
        "pip" | "pip3" => packages::pip(ctx, inv, args),
        "uv" => packages::uv(ctx, inv),
        "go" => packages::go(ctx, inv),
        "make" | "gmake" | "just" | "task" => packages::make(ctx, inv, name),
        "gem" | "apt" | "apt-get" | "aptitude" | "dpkg" | "brew" | "snap" | "rustup"
        | "nix-env" | "conda" | "mamba" | "port" | "yum" | "dnf" | "pacman" | "apk" | "pipx" => {
            packages::system(ctx, inv, name)
        }
        "prettier" | "eslint" | "biome" | "black" | "ruff" | "rustfmt" | "gofmt" | "goimports"
        | "clang-format" | "isort" | "autopep8" | "shfmt" | "stylua" => {
            packages::formatter(ctx, inv, name)
        }
        _ => {
            if ctx.read_only() && program_word.contains('/') && !is_system_program(program_word) {
                return Err(ctx.read_only_reason(&format!("running the program `{program_word}`")));
            }
            Ok(())
        }
    }
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

/// Shells whose script files are programs the guard cannot see.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "yash", "rbash", "fish",
];

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

/// `cp`, `install`, `rsync`, `scp`: the destination (last operand or `-t DIR`).
fn copy(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Verdict {
    let what = format!("`{name}`");
    let with_value: &[&str] = match name {
        "install" => &[
            "-t",
            "--target-directory",
            "-m",
            "--mode",
            "-o",
            "--owner",
            "-g",
            "--group",
            "-S",
            "--suffix",
        ],
        "rsync" => &[
            "-e",
            "--rsh",
            "--exclude",
            "--include",
            "--filter",
            "-f",
            "--files-from",
            "--exclude-from",
            "--include-from",
            "--chmod",
            "--log-file",
            "-T",
            "--temp-dir",
            "--backup-dir",
        ],
        "scp" => &["-P", "-i", "-o", "-F", "-c", "-l", "-J", "-S"],
        _ => &["-t", "--target-directory", "-S", "--suffix"],
    };
    let opts = Argv::parse(inv.rest(), with_value);
    if name == "cp" && opts.has(&["-s", "--symbolic-link", "-l", "--link"]) {
        return links(ctx, inv, &what);
    }
    let targets = opts.values(&["-t", "--target-directory"]);
    if !targets.is_empty() {
        return each(ctx, inv, &targets, &what, Op::Write);
    }
    if name == "install" && opts.has(&["-d", "--directory"]) {
        return each(ctx, inv, &opts.operands, &what, Op::Write);
    }
    match opts.operands.last() {
        // `host:path` is another machine
        Some(dest)
            if (name == "scp" || name == "rsync")
                && dest.literal().is_some_and(|d| d.contains(':')) =>
        {
            Ok(())
        }
        Some(dest) if opts.operands.len() >= 2 => ctx.write(inv.cwd.as_deref(), dest, &what),
        _ => Ok(()),
    }
}

/// `ln`, `cp -s`: a link inside the worktree to a place outside it is a door out, so the
/// link and every target must be inside. A relative target is read from the link's
/// directory (or from inside the destination, when that is a directory).
fn links(ctx: &Ctx<'_>, inv: &Invocation, what: &str) -> Verdict {
    let opts = Argv::parse(inv.rest(), &["-t", "--target-directory", "-S", "--suffix"]);
    let cwd = inv.cwd.as_deref();
    let dirs = opts.values(&["-t", "--target-directory"]);
    let (targets, dest): (&[&Arg], Option<&Arg>) = match (dirs.first(), opts.operands.split_last())
    {
        (Some(dir), _) => (&opts.operands, Some(dir)),
        (None, Some((last, rest))) if !rest.is_empty() => (rest, Some(last)),
        (None, _) => (&opts.operands, None),
    };
    if let Some(dest) = dest {
        ctx.write(cwd, dest, what)?;
    }
    // the directories a relative target may be read from
    let mut bases: Vec<Option<std::path::PathBuf>> = vec![inv.cwd.clone()];
    if let Some(dest) = dest.and_then(Arg::literal) {
        let dest = cwd.map_or_else(|| Path::new(dest).to_path_buf(), |c| c.join(dest));
        bases.push(dest.parent().map(Path::to_path_buf));
        bases.push(Some(dest));
    }
    for target in targets {
        for base in &bases {
            ctx.write(base.as_deref(), target, what)?;
        }
    }
    Ok(())
}

/// `chmod MODE FILE...`, `chown OWNER FILE...`: every file operand.
fn permissions(ctx: &Ctx<'_>, inv: &Invocation, what: &str) -> Verdict {
    let mode_like = |s: &str| s.len() > 1 && s[1..].chars().all(|c| "rwxXstugo".contains(c));
    let mut files: Vec<&Arg> = Vec::new();
    let mut reference = false;
    for arg in inv.rest() {
        match arg.literal() {
            Some(s) if s.starts_with("--reference") => reference = true,
            Some(s) if s.starts_with('-') && !mode_like(s) => {}
            _ => files.push(arg),
        }
    }
    let files = if reference {
        &files[..]
    } else {
        files.get(1..).unwrap_or_default()
    };
    each(ctx, inv, files, what, Op::Write)
}

/// `sed`: `-i` edits its files; a literal program's `w FILE` writes; `e` runs commands.
fn sed(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let opts = Argv::parse(
        inv.rest(),
        &["-e", "--expression", "-f", "--file", "-l", "--line-length"],
    );
    let (scripts, files): (Vec<&Arg>, &[&Arg]) =
        if opts.has(&["-e", "--expression", "-f", "--file"]) {
            (opts.values(&["-e", "--expression"]), &opts.operands)
        } else {
            (
                opts.operands.first().copied().into_iter().collect(),
                opts.operands.get(1..).unwrap_or_default(),
            )
        };
    for script in scripts {
        if let Some(text) = script.literal() {
            let effects = sed_effects(text);
            if effects.runs_commands {
                return Err(
                    "sed's `e` command runs shell commands legio cannot check; run them directly"
                        .into(),
                );
            }
            for file in effects.writes {
                ctx.write(inv.cwd.as_deref(), &Arg::Lit(file), "sed's `w` command")?;
            }
        }
    }
    if opts.has(&["-i", "--in-place"]) {
        return each(ctx, inv, files, "`sed -i`", Op::Write);
    }
    Ok(())
}

#[derive(Default)]
struct SedEffects {
    writes: Vec<String>,
    runs_commands: bool,
}

/// Finds `w FILE`, `s///w FILE` and `e` in a sed program (GNU syntax).
fn sed_effects(script: &str) -> SedEffects {
    let mut out = SedEffects::default();
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let rest_of_line = |i: &mut usize| -> String {
        let start = *i;
        while *i < chars.len() && chars[*i] != '\n' {
            *i += 1;
        }
        chars[start..*i]
            .iter()
            .collect::<String>()
            .trim()
            .to_owned()
    };
    let skip_delimited = |i: &mut usize, delim: char| {
        while *i < chars.len() && chars[*i] != delim {
            if chars[*i] == '\\' {
                *i += 1;
            }
            *i += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '/' => skip_delimited(&mut i, '/'),
            '\\' => {
                if let Some(&d) = chars.get(i) {
                    i += 1;
                    skip_delimited(&mut i, d);
                }
            }
            's' | 'y' => {
                let Some(&d) = chars.get(i) else { break };
                i += 1;
                skip_delimited(&mut i, d);
                skip_delimited(&mut i, d);
                if c == 's' {
                    while i < chars.len() && !matches!(chars[i], ';' | '\n' | '}') {
                        match chars[i] {
                            'e' => out.runs_commands = true,
                            'w' => {
                                i += 1;
                                out.writes.push(rest_of_line(&mut i));
                                continue;
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                }
            }
            'w' | 'W' => out.writes.push(rest_of_line(&mut i)),
            'e' => out.runs_commands = true,
            'r' | 'R' | 'a' | 'i' | 'c' | 'b' | 't' | 'T' | ':' => {
                rest_of_line(&mut i);
            }
            _ => {}
        }
    }
    out.writes
        .retain(|w| !w.is_empty() && w != "/dev/stdout" && w != "/dev/stderr");
    out
}

/// `perl`/`ruby`: inline code and scripts for read-only roles; `-i` edits files for everyone.
fn in_place_interpreter(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Verdict {
    let opts = Argv::parse(
        inv.rest(),
        &["-e", "-E", "-I", "-M", "-m", "-r", "-x", "-C"],
    );
    let inline = opts.has(&["-e", "-E"]);
    if opts.has(&["-i"]) {
        let files = if inline {
            &opts.operands[..]
        } else {
            opts.operands.get(1..).unwrap_or_default()
        };
        each(ctx, inv, files, &format!("`{name} -i`"), Op::Write)?;
    }
    script_runner(ctx, inv, &["-e", "-E"])
}

/// Interpreters: read-only roles may ask for versions and help, not run code.
fn script_runner(ctx: &Ctx<'_>, inv: &Invocation, inline_flags: &[&str]) -> Verdict {
    if !ctx.read_only() {
        return Ok(());
    }
    let name = inv.program().unwrap_or_default();
    let opts = Argv::parse(inv.rest(), inline_flags);
    if opts.has(inline_flags) {
        return Err(ctx.read_only_reason(&format!("running inline {name} code")));
    }
    if opts.has(&["-v", "-V", "--version", "-h", "--help"]) && opts.operands.is_empty() {
        return Ok(());
    }
    match opts.operands.first() {
        Some(script) => {
            Err(ctx.read_only_reason(&format!("running the {name} script {}", script.text())))
        }
        None if matches!(inv.stdin, Stdin::Inherited) => Ok(()),
        None => Err(ctx.read_only_reason(&format!("running {name} code from standard input"))),
    }
}

/// Python modules a read-only role may run: test runners, linters, type checkers, viewers.
const PY_READ_MODULES: &[&str] = &[
    "pytest",
    "unittest",
    "mypy",
    "pyflakes",
    "pylint",
    "flake8",
    "doctest",
    "json.tool",
    "pydoc",
    "tabnanny",
    "pyright",
    "ruff",
    "timeit",
    "platform",
    "site",
    "sysconfig",
];

fn python(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let args = inv.rest();
    let opts = Argv::parse(args, &["-m", "-c", "-W", "-X", "-Q"]);
    if let Some(module) = opts.values(&["-m"]).first() {
        let module = module.text();
        // everything after `-m MODULE` belongs to the module
        let at = args
            .iter()
            .position(|a| a.is(module))
            .map_or(args.len(), |i| i + 1);
        return match module {
            "pip" => packages::pip(ctx, inv, &args[at..]),
            "black" | "isort" | "autopep8" | "ruff" => {
                packages::formatter_args(ctx, module, &args[at..])
            }
            m if PY_READ_MODULES.contains(&m) => Ok(()),
            m => ctx.not_read_only(&format!("running the Python module {m}")),
        };
    }
    script_runner(ctx, inv, &["-c"])
}

fn js(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Verdict {
    let sub = inv
        .rest()
        .first()
        .and_then(Arg::literal)
        .unwrap_or_default();
    match (name, sub) {
        ("deno", "test" | "check" | "lint" | "info" | "doc" | "bench")
        | ("bun", "test")
        | ("node", "--test") => Ok(()),
        ("deno", "fmt") => packages::formatter_args(ctx, "deno fmt", inv.rest()),
        ("deno", "eval") => ctx.not_read_only("running inline deno code"),
        ("deno" | "bun", "run") | ("bun", "x") => ctx.not_read_only(&format!("`{name} run`")),
        ("bun", "install" | "add" | "remove" | "update" | "link") => {
            ctx.not_read_only(&format!("`bun {sub}`"))
        }
        _ => script_runner(ctx, inv, &["-e", "--eval", "-p", "--print"]),
    }
}

/// `awk`: `-i inplace` edits files; output redirections and `system()` write or run things.
fn awk(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let opts = Argv::parse(
        inv.rest(),
        &[
            "-F",
            "-v",
            "-f",
            "-i",
            "-l",
            "-E",
            "--include",
            "--file",
            "--assign",
            "--field-separator",
        ],
    );
    let program_file = opts.has(&["-f", "--file", "-E"]);
    let (program, files) = if program_file {
        (None, &opts.operands[..])
    } else {
        (
            opts.operands.first().copied(),
            opts.operands.get(1..).unwrap_or_default(),
        )
    };
    if opts
        .values(&["-i", "--include"])
        .iter()
        .any(|v| v.is("inplace"))
    {
        each(ctx, inv, files, "`awk -i inplace`", Op::Write)?;
    }
    if !ctx.read_only() {
        return Ok(());
    }
    if program_file {
        return Err(ctx.read_only_reason("running an awk program file"));
    }
    let Some(text) = program.and_then(|p| p.literal()) else {
        return Ok(()); // no program: awk only prints its usage
    };
    let text = text.replace("||", "");
    let writes = text.contains("system")
        || text.contains('|')
        || text
            .split([';', '}', '\n'])
            .any(|statement| statement.contains("print") && statement.contains('>'));
    if writes {
        return Err(ctx.read_only_reason("an awk program that writes files or runs commands"));
    }
    Ok(())
}

fn curl(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    const OUT: &[&str] = &[
        "-o",
        "--output",
        "-D",
        "--dump-header",
        "-c",
        "--cookie-jar",
        "--trace",
        "--trace-ascii",
        "--libcurl",
        "--stderr",
        "--etag-save",
        "--output-dir",
        "--hsts",
        "--alt-svc",
    ];
    const OTHER: &[&str] = &[
        "-H",
        "--header",
        "-d",
        "--data",
        "--data-raw",
        "--data-binary",
        "--data-urlencode",
        "-F",
        "--form",
        "-u",
        "--user",
        "-X",
        "--request",
        "-A",
        "--user-agent",
        "-e",
        "--referer",
        "-b",
        "--cookie",
        "-m",
        "--max-time",
        "--connect-timeout",
        "-x",
        "--proxy",
        "-w",
        "--write-out",
        "-r",
        "--range",
        "-T",
        "--upload-file",
        "-K",
        "--config",
        "--retry",
        "-C",
        "--continue-at",
        "-E",
        "--cert",
        "--key",
        "--cacert",
        "-Y",
        "-y",
        "-z",
        "--resolve",
        "--url",
    ];
    let with_value: Vec<&str> = OUT.iter().chain(OTHER).copied().collect();
    let opts = Argv::parse(inv.rest(), &with_value);
    for target in opts.values(OUT) {
        if !target.is("-") {
            ctx.write(inv.cwd.as_deref(), target, "`curl` output")?;
        }
    }
    if opts.has(&[
        "-O",
        "--remote-name",
        "--remote-name-all",
        "-J",
        "--remote-header-name",
    ]) && opts.values(&["--output-dir"]).is_empty()
    {
        ctx.write_here(inv, "`curl -O`")?;
    }
    Ok(())
}

fn wget(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let opts = Argv::parse(
        inv.rest(),
        &[
            "-O",
            "--output-document",
            "-P",
            "--directory-prefix",
            "-o",
            "--output-file",
            "-a",
            "--append-output",
            "-t",
            "--tries",
            "-T",
            "--timeout",
            "-U",
            "--user-agent",
            "--header",
            "-e",
            "--execute",
            "-i",
            "--input-file",
        ],
    );
    if opts.has(&["--spider"]) {
        return Ok(());
    }
    for log in opts.values(&["-o", "--output-file", "-a", "--append-output"]) {
        ctx.write(inv.cwd.as_deref(), log, "`wget` log")?;
    }
    let document = opts.values(&["-O", "--output-document"]);
    if let Some(doc) = document.first() {
        if doc.is("-") {
            return Ok(());
        }
        return ctx.write(inv.cwd.as_deref(), doc, "`wget -O`");
    }
    match opts.values(&["-P", "--directory-prefix"]).first() {
        Some(dir) => ctx.write(inv.cwd.as_deref(), dir, "`wget`"),
        None => ctx.write_here(inv, "`wget` (it saves into the current directory)"),
    }
}

fn tar(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let args = inv.rest();
    // old style: `tar xzf file` (first word without a dash holds the modes)
    let (modes, opts) = match args.first().and_then(Arg::literal) {
        Some(first) if !first.starts_with('-') && !first.is_empty() => {
            let rebuilt: Vec<Arg> = std::iter::once(Arg::Lit(format!("-{first}")))
                .chain(args[1..].iter().cloned())
                .collect();
            (first.to_owned(), rebuilt)
        }
        _ => (String::new(), args.to_vec()),
    };
    let parsed = Argv::parse(
        &opts,
        &[
            "-f",
            "--file",
            "-C",
            "--directory",
            "-T",
            "--files-from",
            "-X",
            "--exclude-from",
            "-b",
            "-H",
            "--format",
            "-I",
            "--use-compress-program",
            "--exclude",
        ],
    );
    let has = |short: char, long: &[&str]| {
        modes.contains(short) || parsed.has(&[&format!("-{short}")]) || parsed.has(long)
    };
    if has('x', &["--extract", "--get"]) {
        return match parsed.values(&["-C", "--directory"]).first() {
            Some(dir) => ctx.write(inv.cwd.as_deref(), dir, "`tar -x`"),
            None => ctx.write_here(inv, "`tar -x` (it extracts into the current directory)"),
        };
    }
    if (has('c', &["--create"])
        || has('r', &["--append"])
        || has('u', &["--update"])
        || parsed.has(&["--delete", "-A", "--concatenate"]))
        && let Some(file) = parsed.values(&["-f", "--file"]).first()
        && !file.is("-")
    {
        return ctx.write(inv.cwd.as_deref(), file, "`tar` (creating an archive)");
    }
    Ok(())
}

/// `find`: `-delete` removes what it finds under its start points; `-fprint FILE` writes.
fn find(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let args = inv.rest();
    let starts: Vec<&Arg> = args
        .iter()
        .take_while(|a| {
            !a.literal()
                .is_some_and(|s| s.starts_with('-') || matches!(s, "(" | ")" | "!" | ","))
        })
        .collect();
    if args.iter().any(|a| a.is("-delete")) {
        if starts.is_empty() {
            ctx.delete(inv.cwd.as_deref(), &Arg::Lit(".".into()), "`find -delete`")?;
        }
        each(ctx, inv, &starts, "`find -delete`", Op::Delete)?;
    }
    for pair in args.windows(2) {
        if pair[0]
            .literal()
            .is_some_and(|s| matches!(s, "-fprint" | "-fprint0" | "-fprintf" | "-fls"))
        {
            ctx.write(inv.cwd.as_deref(), &pair[1], "`find -fprint`")?;
        }
    }
    Ok(())
}

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
    fn sed_programs() {
        assert!(sed_effects("s/a/b/g").writes.is_empty());
        assert_eq!(sed_effects("s/a/b/w out.txt").writes, ["out.txt"]);
        assert_eq!(sed_effects("1,5w /etc/x").writes, ["/etc/x"]);
        assert!(sed_effects("s/hello/world/").writes.is_empty());
        assert!(!sed_effects("s/e/w/g").runs_commands);
        assert!(sed_effects("s/x/date/e").runs_commands);
        assert!(sed_effects("1e date").runs_commands);
        assert!(sed_effects("/re/d;10q").writes.is_empty());
        assert!(sed_effects("s|/a|/w|").writes.is_empty());
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
