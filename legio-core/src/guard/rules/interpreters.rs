//! Interpreters and scripts: read-only roles may ask for versions and run test, lint and
//! type-check modules, but not run inline code or scripts; `perl -i`/`ruby -i` edit files.

use super::{Ctx, Op, Verdict, each, packages};
use crate::guard::argv::Argv;
use crate::guard::shell::{Arg, Invocation, SHELLS, Stdin};

/// Judges `name` if it runs code (an interpreter, a shell script, `source`); `None` otherwise.
pub fn check(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Option<Verdict> {
    let args = inv.rest();
    Some(match name {
        "perl" | "ruby" => in_place_interpreter(ctx, inv, name),
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
        "python" | "python2" | "python3" | "pypy" | "pypy3" => python(ctx, inv),
        n if n.starts_with("python3.") => python(ctx, inv),
        "node" | "nodejs" | "deno" | "bun" | "ts-node" | "tsx" => js(ctx, inv, name),
        "php" | "lua" | "luajit" | "Rscript" | "osascript" | "julia" | "tclsh" | "groovy"
        | "jshell" => script_runner(ctx, inv, &["-e", "-r", "--eval"]),
        n if SHELLS.contains(&n) => ctx.not_read_only(&format!(
            "running the script {}",
            args.first().map_or("", Arg::text)
        )),
        _ => return None,
    })
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
