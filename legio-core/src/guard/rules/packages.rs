//! Build tools, package managers and formatters: what a read-only role may run (tests, lints,
//! type checks, queries), and which installs reach outside the worktree (denied to everyone).

use std::path::Path;

use super::{Ctx, Verdict};
use crate::guard::argv::Argv;
use crate::guard::paths;
use crate::guard::shell::{Arg, Invocation};

fn outside_install(what: &str) -> String {
    format!(
        "{what} installs software outside your worktree (on the machine or in your home). \
         Ask your parent with legio mail send --type question to get the tool installed"
    )
}

/// A script or target name a read-only role may run: tests, lints, type checks, builds.
fn read_only_target(name: &str) -> bool {
    let writes = [
        "fix", "format", "fmt", "write", "install", "clean", "publish", "release", "deploy",
    ];
    let reads = [
        "test",
        "lint",
        "typecheck",
        "type-check",
        "check",
        "tsc",
        "verify",
        "build",
        "ci",
        "all",
        "help",
        "start",
        "dev",
        "bench",
        "coverage",
        "doc",
    ];
    !writes.iter().any(|w| name.contains(w)) && reads.iter().any(|r| name.starts_with(r))
}

/// Judges `name` if it is a build tool, package manager or formatter; `None` otherwise.
pub fn check(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Option<Verdict> {
    let args = inv.rest();
    Some(match name {
        "cargo" => cargo(ctx, inv),
        "npm" | "pnpm" | "yarn" => node(ctx, inv, name),
        "pip" | "pip3" => pip(ctx, inv, args),
        "uv" => uv(ctx, inv),
        "go" => go(ctx, inv),
        "make" | "gmake" | "just" | "task" => make(ctx, inv, name),
        "gem" | "apt" | "apt-get" | "aptitude" | "dpkg" | "brew" | "snap" | "rustup"
        | "nix-env" | "conda" | "mamba" | "port" | "yum" | "dnf" | "pacman" | "apk" | "pipx" => {
            system(ctx, inv, name)
        }
        "prettier" | "eslint" | "biome" | "black" | "ruff" | "rustfmt" | "gofmt" | "goimports"
        | "clang-format" | "isort" | "autopep8" | "shfmt" | "stylua" => formatter(ctx, inv, name),
        _ => return None,
    })
}

/// `cargo`.
pub fn cargo(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let opts = Argv::parse(
        inv.rest(),
        &[
            "-C",
            "--config",
            "-Z",
            "--color",
            "--manifest-path",
            "-p",
            "--package",
            "-j",
            "--jobs",
            "--target",
            "--features",
            "-F",
            "--bin",
            "--test",
            "--example",
            "--bench",
            "--profile",
            "--target-dir",
        ],
    );
    let sub = opts
        .operands
        .iter()
        .filter_map(|a| a.literal())
        .find(|s| !s.starts_with('+'))
        .unwrap_or_default();
    match sub {
        "publish" | "login" | "logout" | "owner" | "yank" => Err(format!(
            "`cargo {sub}` publishes to a registry; that is the human's call. Report that the \
             branch is ready with legio mail send instead"
        )),
        "install" | "uninstall" => Err(outside_install(&format!("`cargo {sub}`"))),
        "watch" => Err(
            "`cargo watch` runs forever; legio agents should not wait and poll. Run the command \
             once when you need it"
                .into(),
        ),
        "" | "build" | "b" | "check" | "c" | "test" | "t" | "bench" | "doc" | "d" | "run" | "r"
        | "tree" | "metadata" | "locate-project" | "pkgid" | "verify-project" | "search"
        | "version" | "help" | "nextest" | "audit" | "deny" | "expand" | "llvm-cov" | "miri"
        | "udeps" | "outdated" | "machete" | "bloat" | "read-manifest" => Ok(()),
        "clippy" if !opts.has(&["--fix"]) => Ok(()),
        "fmt" if opts.has(&["--check"]) => Ok(()),
        _ => ctx.not_read_only(&format!("`cargo {sub}` (it changes files)")),
    }
}

/// `npm`, `pnpm`, `yarn`.
pub fn node(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Verdict {
    let opts = Argv::parse(
        inv.rest(),
        &[
            "-w",
            "--workspace",
            "--prefix",
            "-C",
            "--dir",
            "--filter",
            "--cwd",
            "--loglevel",
            "--registry",
        ],
    );
    let global = opts.has(&["-g", "--global"])
        || opts.values(&["--location"]).iter().any(|v| v.is("global"))
        || opts.first() == Some("global");
    let sub = opts.first().unwrap_or_default();
    let script = opts
        .operands
        .get(1)
        .and_then(|a| a.literal())
        .unwrap_or_default();
    match sub {
        "publish" | "unpublish" | "deprecate" | "dist-tag" | "owner" | "login" | "adduser" => {
            Err(format!(
                "`{name} {sub}` publishes to a registry; that is the human's call. Report that the \
             branch is ready with legio mail send instead"
            ))
        }
        "install" | "i" | "in" | "ins" | "inst" | "add" | "ci" | "remove" | "rm" | "r" | "un"
        | "uninstall" | "unlink" | "update" | "up" | "upgrade" | "dedupe" | "prune" | "rebuild"
        | "link" | "ln" | "global" | "import" | "patch-commit" | "" => {
            if global {
                return Err(outside_install(&format!("`{name} {sub} --global`")));
            }
            if sub.is_empty() && name != "yarn" {
                return Ok(()); // `npm` alone prints help
            }
            ctx.not_read_only(&format!("`{name} {sub}` (it installs packages)"))
        }
        "test" | "t" | "tst" | "ls" | "list" | "ll" | "la" | "view" | "v" | "info" | "show"
        | "outdated" | "why" | "explain" | "help" | "root" | "prefix" | "bin" | "doctor"
        | "search" | "licenses" | "store" | "exec" | "dlx" | "x" => Ok(()),
        "audit" if !opts.has(&["--fix"]) && script != "fix" => Ok(()),
        "config" | "c" if matches!(script, "get" | "list" | "ls" | "") => Ok(()),
        "run" | "run-script" | "rum" | "urn" if script.is_empty() || read_only_target(script) => {
            Ok(())
        }
        "run" | "run-script" | "rum" | "urn" => ctx.not_read_only(&format!(
            "`{name} run {script}` (only test, lint, check and build scripts)"
        )),
        other if name != "npm" && read_only_target(other) => Ok(()),
        other => ctx.not_read_only(&format!("`{name} {other}`")),
    }
}

/// `pip` with its arguments (also `python -m pip ...`).
pub fn pip(ctx: &Ctx<'_>, inv: &Invocation, args: &[Arg]) -> Verdict {
    let opts = Argv::parse(
        args,
        &[
            "-r",
            "--requirement",
            "-t",
            "--target",
            "--prefix",
            "-c",
            "--constraint",
            "-i",
            "--index-url",
            "-e",
            "--editable",
            "--python",
        ],
    );
    let sub = opts.first().unwrap_or_default();
    match sub {
        "" | "list" | "show" | "freeze" | "check" | "help" | "search" | "index" | "inspect"
        | "debug" | "hash" => Ok(()),
        "config"
            if matches!(
                opts.operands.get(1).and_then(|a| a.literal()),
                Some("list" | "get" | "debug")
            ) =>
        {
            Ok(())
        }
        "install" | "uninstall" if !ctx.read_only() => {
            if opts.has(&["--user"]) {
                return Err(outside_install(&format!("`pip {sub} --user`")));
            }
            // a virtualenv inside the worktree is the worktree's business
            if ctx.program_in_worktree(inv) {
                return Ok(());
            }
            let targets = opts.values(&["-t", "--target", "--prefix"]);
            if !targets.is_empty() {
                return targets
                    .iter()
                    .try_for_each(|t| ctx.write(inv.cwd.as_deref(), t, &format!("`pip {sub}`")));
            }
            Err(format!(
                "`pip {sub}` would change the machine's Python outside your worktree. Use the \
                 project's virtualenv inside your worktree (.venv/bin/pip ...) or uv"
            ))
        }
        _ => ctx.not_read_only(&format!("`pip {sub}`")),
    }
}

/// `uv` (its `run` is peeled off by the shell reader).
pub fn uv(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let opts = Argv::parse(
        inv.rest(),
        &[
            "-p",
            "--python",
            "--directory",
            "--project",
            "--with",
            "--index",
            "--cache-dir",
        ],
    );
    let sub = opts.first().unwrap_or_default();
    let next = opts
        .operands
        .get(1)
        .and_then(|a| a.literal())
        .unwrap_or_default();
    match (sub, next) {
        ("" | "tree" | "version" | "help", _)
        | ("pip", "list" | "show" | "freeze" | "check" | "tree")
        | ("tool", "list" | "dir")
        | ("python", "list" | "find" | "dir") => Ok(()),
        ("tool" | "python" | "self", _) => Err(outside_install(&format!("`uv {sub} {next}`"))),
        ("pip", _) if opts.has(&["--system", "--user"]) => {
            Err(outside_install(&format!("`uv pip {next} --system`")))
        }
        _ => ctx.not_read_only(&format!("`uv {sub}` (it changes the environment or files)")),
    }
}

/// `go`.
pub fn go(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let opts = Argv::parse(
        inv.rest(),
        &[
            "-C", "-o", "-run", "-tags", "-p", "-timeout", "-bench", "-count",
        ],
    );
    let sub = opts.first().unwrap_or_default();
    let next = opts
        .operands
        .get(1)
        .and_then(|a| a.literal())
        .unwrap_or_default();
    match sub {
        "install" => Err(outside_install("`go install`")),
        "env" if opts.has(&["-w", "-u"]) => Err(
            "`go env -w` changes your Go settings outside the worktree; pass settings as \
             environment variables on the command instead"
                .into(),
        ),
        "" | "test" | "vet" | "build" | "list" | "version" | "env" | "doc" | "help" | "run" => {
            for out in opts.values(&["-o"]) {
                ctx.write(inv.cwd.as_deref(), out, "`go build -o`")?;
            }
            Ok(())
        }
        "mod" if matches!(next, "graph" | "verify" | "why") => Ok(()),
        _ => ctx.not_read_only(&format!("`go {sub}` (it changes files)")),
    }
}

/// `make`, `just`, `task`: read-only roles may run test, lint, check and build targets.
pub fn make(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Verdict {
    if !ctx.read_only() {
        return Ok(());
    }
    let opts = Argv::parse(
        inv.rest(),
        &[
            "-C",
            "-f",
            "--file",
            "-j",
            "--jobs",
            "-l",
            "-I",
            "-o",
            "-W",
            "--directory",
            "--justfile",
            "-d",
        ],
    );
    if opts.has(&[
        "-n",
        "--dry-run",
        "--just-print",
        "--recon",
        "-q",
        "--question",
        "--list",
        "-l",
        "--summary",
        "-p",
        "--print-data-base",
    ]) {
        return Ok(());
    }
    for target in &opts.operands {
        match target.literal() {
            Some(t) if t.contains('=') || read_only_target(t) => {}
            _ => {
                return Err(ctx.read_only_reason(&format!(
                    "`{name} {}` (only test, lint, check and build targets)",
                    target.text()
                )));
            }
        }
    }
    Ok(())
}

/// System package managers and toolchain installers: queries only, for everyone.
pub fn system(_ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Verdict {
    let opts = Argv::parse(inv.rest(), &["-o", "-t", "-c", "--channel"]);
    let sub = opts.first().unwrap_or_default();
    let query = matches!(
        sub,
        "list"
            | "search"
            | "show"
            | "info"
            | "policy"
            | "which"
            | "outdated"
            | "doctor"
            | "env"
            | "config"
            | "help"
            | "contents"
            | "files"
            | "madison"
            | "depends"
            | "rdepends"
    ) || (sub.is_empty()
        && opts.has(&[
            "-v",
            "-V",
            "--version",
            "-h",
            "--help",
            "-l",
            "-L",
            "-s",
            "-S",
            "--list",
            "--listfiles",
            "--status",
            "--search",
            "-Q",
            "-Qi",
            "-Ql",
        ]))
        || (name == "rustup"
            && matches!(
                sub,
                "show" | "which" | "--version" | "toolchain" | "target" | "component"
            )
            && !opts
                .operands
                .iter()
                .any(|a| a.is("add") || a.is("install") || a.is("remove") || a.is("uninstall")));
    if query {
        Ok(())
    } else {
        Err(outside_install(&format!("`{name} {sub}`")))
    }
}

/// Formatters and fixers: fine for writing roles, only in check mode for read-only ones.
pub fn formatter(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Verdict {
    formatter_args(ctx, name, inv.rest())
}

/// [`formatter`] for a tool named `name` with `args`.
pub fn formatter_args(ctx: &Ctx<'_>, name: &str, args: &[Arg]) -> Verdict {
    if !ctx.read_only() {
        return Ok(());
    }
    let opts = Argv::parse(
        args,
        &[
            "--config",
            "-c",
            "--line-length",
            "-l",
            "--style",
            "--target-version",
        ],
    );
    let has = |flags: &[&str]| opts.has(flags);
    let sub = opts.first().unwrap_or_default();
    let writes = match name {
        "prettier" => has(&["--write", "-w"]),
        "eslint" => has(&["--fix", "--fix-dry-run"]) && !has(&["--fix-dry-run"]),
        "biome" => has(&["--write", "--apply", "--apply-unsafe", "--fix", "--unsafe"]),
        "black" | "rustfmt" | "stylua" | "deno fmt" => !has(&["--check", "--diff"]),
        "ruff" => has(&["--fix"]) || (sub == "format" && !has(&["--check", "--diff"])),
        "gofmt" | "goimports" | "shfmt" => has(&["-w"]),
        "clang-format" => has(&["-i"]),
        "isort" => !has(&["--check", "--check-only", "--diff", "-c"]),
        "autopep8" => has(&["-i", "--in-place"]),
        _ => false,
    };
    if writes {
        Err(ctx.read_only_reason(&format!("`{name}` in write mode (use its check mode)")))
    } else {
        Ok(())
    }
}

impl Ctx<'_> {
    /// Whether the program was called by a path inside the worktree (a virtualenv's `pip`).
    fn program_in_worktree(&self, inv: &Invocation) -> bool {
        let (Some(program_word), Some(wt)) =
            (inv.args.first().and_then(Arg::literal), &self.worktree)
        else {
            return false;
        };
        program_word.contains('/')
            && paths::resolve(self.links, inv.cwd.as_deref(), Path::new(program_word))
                .is_some_and(|p| p.starts_with(wt))
    }
}
