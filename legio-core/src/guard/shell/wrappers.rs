//! Programs that only launch another program (`env`, `sudo`, `xargs`, `find -exec`, `npx`, ...)
//! and strings that are really code (`sh -c`, `eval`, `trap`, a shell fed a here-document):
//! peeled or read again until the program that really runs is in front.

use std::path::PathBuf;

use super::{Arg, Invocation, Reader, SHELLS, Scope, Stdin, Unreadable, chdir};

/// A `cd` in the current shell: the directory it moves to (`None`: unknown).
pub(super) struct CdTo(pub Option<PathBuf>);

impl Reader<'_> {
    /// Peels wrappers off `inv`, reads embedded code, records what finally runs. Returns where
    /// the current shell's directory moves when the command is a `cd`.
    pub(super) fn run(
        &mut self,
        mut inv: Invocation,
        scope: &Scope,
    ) -> Result<Option<CdTo>, Unreadable> {
        // redirections and assignments belong to the command line, whatever the program turns
        // out to be (even one whose code is read instead, like `sh -c ... > file`)
        if !(inv.writes.is_empty() && inv.env.is_empty()) {
            self.out.push(Invocation {
                args: Vec::new(),
                writes: std::mem::take(&mut inv.writes),
                ..inv.clone()
            });
        }
        self.peel(inv, scope)
    }

    fn peel(&mut self, mut inv: Invocation, scope: &Scope) -> Result<Option<CdTo>, Unreadable> {
        // still the current shell (`builtin cd` moves it, `env cd` does not)
        let mut same_shell = true;
        while let Some(name) = inv.program().map(str::to_owned) {
            let name = name.as_str();
            let skip = match name {
                "builtin" | "busybox" => 1,
                "command" => {
                    let opts = after_options(&inv.args, 1, &[], "command")?;
                    let lookup = inv.args[1..opts]
                        .iter()
                        .any(|a| a.literal().is_some_and(|s| s.contains(['v', 'V'])));
                    if lookup {
                        return Ok(None); // `command -v git` only looks the name up
                    }
                    opts
                }
                "exec" => after_options(&inv.args, 1, &["-a"], "exec")?,
                "nice" => after_options(&inv.args, 1, &["-n", "--adjustment"], "nice")?,
                "strace" | "ltrace" => {
                    let at = after_options(
                        &inv.args,
                        1,
                        &[
                            "-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-S", "-X",
                            "-P",
                        ],
                        name,
                    )?;
                    take_option_values(&inv.args[..at], &["-o"], &mut inv.writes);
                    at
                }
                "taskset" => after_options(&inv.args, 1, &[], "taskset")? + 1, // the CPU mask
                "nohup" | "setsid" | "chronic" | "unbuffer" | "valgrind" | "rlwrap" | "entr"
                | "caffeinate" => after_options(&inv.args, 1, &[], name)?,
                "stdbuf" => after_options(
                    &inv.args,
                    1,
                    &["-i", "-o", "-e", "--input", "--output", "--error"],
                    "stdbuf",
                )?,
                "ionice" => after_options(
                    &inv.args,
                    1,
                    &["-c", "-n", "-p", "-P", "-u", "--class", "--classdata"],
                    "ionice",
                )?,
                "timeout" => {
                    let at = after_options(
                        &inv.args,
                        1,
                        &["-s", "--signal", "-k", "--kill-after"],
                        "timeout",
                    )?;
                    at + 1 // the duration
                }
                "time" => {
                    let at =
                        after_options(&inv.args, 1, &["-f", "--format", "-o", "--output"], "time")?;
                    take_option_values(&inv.args[..at], &["-o", "--output"], &mut inv.writes);
                    at
                }
                "sudo" | "doas" => {
                    let at = after_options(&inv.args, 1, SUDO_VALUES, name)?;
                    if inv.args[1..at].iter().any(|a| {
                        a.literal().is_some_and(|s| {
                            matches!(s, "-D" | "-R" | "--chdir" | "--chroot")
                                || s.starts_with("--chdir=")
                                || s.starts_with("--chroot=")
                        })
                    }) {
                        inv.cwd = None;
                    }
                    at
                }
                "env" => Self::env_command(&mut inv)?,
                "xargs" => xargs(&mut inv)?,
                "npx" | "bunx" | "pnpx" => {
                    if let Some(code) = option_value(&inv.args, &["-c", "--call"]) {
                        self.code(&code, &inv)?;
                        return Ok(None);
                    }
                    after_options(&inv.args, 1, &["-p", "--package"], name)?
                }
                "uvx" => after_options(
                    &inv.args,
                    1,
                    &[
                        "--from",
                        "--with",
                        "-p",
                        "--python",
                        "--index",
                        "--index-url",
                    ],
                    "uvx",
                )?,
                "npm" | "pnpm" | "yarn" | "bun"
                    if inv
                        .args
                        .get(1)
                        .is_some_and(|a| a.is("exec") || a.is("x") || a.is("dlx")) =>
                {
                    if let Some(code) = option_value(&inv.args, &["-c", "--call"]) {
                        self.code(&code, &inv)?;
                        return Ok(None);
                    }
                    after_options(
                        &inv.args,
                        2,
                        &["-p", "--package", "-w", "--workspace"],
                        name,
                    )?
                }
                "uv" | "poetry" | "pipenv" | "pdm" | "hatch" | "rye" | "bundle"
                    if inv.args.get(1).is_some_and(|a| a.is("run") || a.is("exec")) =>
                {
                    let at = after_options(&inv.args, 2, RUNNER_VALUES, name)?;
                    if inv.args[2..at].iter().any(|a| {
                        a.literal().is_some_and(|s| {
                            s.starts_with("--directory") || s.starts_with("--project")
                        })
                    }) {
                        inv.cwd = None;
                    }
                    at
                }
                "eval" => {
                    let code = join_literal(inv.rest(), "eval")?;
                    let scope = Scope {
                        cwd: inv.cwd.clone(),
                        in_loop: inv.in_loop,
                        piped: !matches!(inv.stdin, Stdin::Inherited),
                    };
                    let after = self.program(&code, &scope)?;
                    return Ok((same_shell && after != inv.cwd).then_some(CdTo(after)));
                }
                "trap" => {
                    let action = inv
                        .rest()
                        .iter()
                        .find(|a| !a.literal().is_some_and(|s| s.starts_with('-')));
                    if inv.rest().len() >= 2
                        && let Some(action) = action
                    {
                        let code = action.literal().ok_or_else(|| {
                            Unreadable(format!(
                                "a `trap` action legio cannot read ({})",
                                action.text()
                            ))
                        })?;
                        self.code(code, &inv)?;
                    }
                    return Ok(None);
                }
                "find" => {
                    self.find_exec(&mut inv, scope)?;
                    break;
                }
                shell if SHELLS.contains(&shell) => {
                    if self.shell(&inv)? {
                        return Ok(None);
                    }
                    break;
                }
                _ => break,
            };
            if !matches!(name, "builtin" | "command") {
                same_shell = false;
            }
            inv.args.drain(..skip.min(inv.args.len()));
        }
        let cd = if same_shell {
            cd_target(&inv, self.env.home)
        } else {
            None
        };
        self.out.push(inv);
        Ok(cd)
    }

    /// Reads `code` as a script run by `inv` (a new shell in its directory).
    fn code(&mut self, code: &str, inv: &Invocation) -> Result<(), Unreadable> {
        let scope = Scope {
            cwd: inv.cwd.clone(),
            in_loop: inv.in_loop,
            piped: !matches!(inv.stdin, Stdin::Inherited),
        };
        self.program(code, &scope).map(drop)
    }

    /// `sh -c CODE`, `bash -s <<EOF`, `bash script.sh`. Returns whether the code was read (the
    /// shell itself then needs no rule); a script file is left to the rules.
    fn shell(&mut self, inv: &Invocation) -> Result<bool, Unreadable> {
        let shell = inv.program().unwrap_or("sh");
        let (mut dash_c, mut dash_s) = (false, false);
        let mut i = 1;
        while let Some(arg) = inv.args.get(i) {
            let Some(t) = arg.literal() else {
                return Err(Unreadable(format!(
                    "`{shell}` with an argument legio cannot read ({})",
                    arg.text()
                )));
            };
            if t == "--" || t == "-" {
                i += 1;
                break;
            }
            if let Some(long) = t.strip_prefix("--") {
                i += 1;
                if matches!(long, "rcfile" | "init-file") {
                    i += 1;
                }
                if long == "command" {
                    dash_c = true;
                }
                continue;
            }
            if t.len() > 1 && (t.starts_with('-') || t.starts_with('+')) {
                let flags = &t[1..];
                if t.starts_with('-') {
                    dash_c |= flags.contains('c');
                    dash_s |= flags.contains('s');
                }
                i += 1 + flags.matches(['o', 'O']).count();
                continue;
            }
            break;
        }
        if dash_c {
            let script = inv
                .args
                .get(i)
                .ok_or_else(|| Unreadable(format!("`{shell} -c` without its command string")))?;
            let code = script.literal().ok_or_else(|| {
                Unreadable(format!(
                    "`{shell} -c` with a command string legio cannot read ({})",
                    script.text()
                ))
            })?;
            self.code(code, inv)?;
            return Ok(true);
        }
        if !dash_s && inv.args.get(i).is_some() {
            return Ok(false); // runs a script file: the rules decide
        }
        match &inv.stdin {
            Stdin::Text(code) => {
                let code = code.clone();
                self.code(
                    &code,
                    &Invocation {
                        stdin: Stdin::Inherited,
                        ..inv.clone()
                    },
                )?;
                Ok(true)
            }
            Stdin::Inherited => Ok(true),
            Stdin::Unknown => Err(Unreadable(format!(
                "`{shell}` running commands from a pipe or a file that legio cannot see; \
                 run the commands directly"
            ))),
        }
    }

    /// `env [-i] [-u NAME] [-C DIR] [NAME=VALUE]... PROGRAM ...`: records the assignments and
    /// directory; returns where the program starts.
    fn env_command(inv: &mut Invocation) -> Result<usize, Unreadable> {
        let mut i = 1;
        while let Some(arg) = inv.args.get(i) {
            let Some(t) = arg.literal() else {
                return Err(Unreadable(format!(
                    "`env` with an argument legio cannot read ({})",
                    arg.text()
                )));
            };
            let t = t.to_owned();
            i += 1;
            match t.as_str() {
                "--" => break,
                "-i" | "-" | "-0" | "-v" | "--ignore-environment" | "--null" | "--debug" => {}
                "-u" | "--unset" => i += 1,
                "-C" | "--chdir" => {
                    let dir = inv.args.get(i).cloned();
                    i += 1;
                    inv.cwd = chdir(inv.cwd.as_deref(), dir.as_ref());
                }
                s if s.starts_with("--chdir=") => {
                    let dir = Arg::Lit(s["--chdir=".len()..].to_owned());
                    inv.cwd = chdir(inv.cwd.as_deref(), Some(&dir));
                }
                s if s.starts_with("-C") => {
                    let dir = Arg::Lit(s[2..].to_owned());
                    inv.cwd = chdir(inv.cwd.as_deref(), Some(&dir));
                }
                s if s.starts_with("-S") || s.starts_with("--split-string") => {
                    return Err(Unreadable(
                        "`env -S` (a command line split from one string); write the command directly"
                            .into(),
                    ));
                }
                s if s.starts_with("-u") || s.starts_with("--unset=") || s.starts_with("--") => {}
                s if s.starts_with('-') => {
                    return Err(Unreadable(format!(
                        "`env` with an option legio does not know ({s})"
                    )));
                }
                s => match s.split_once('=') {
                    Some((name, value)) if is_name(name) => {
                        inv.env.push((name.to_owned(), Arg::Lit(value.to_owned())));
                    }
                    _ => return Ok(i - 1),
                },
            }
        }
        Ok(i)
    }

    /// `find ... -exec CMD {} ;`: the command runs once per file found, with unknown arguments.
    fn find_exec(&mut self, inv: &mut Invocation, scope: &Scope) -> Result<(), Unreadable> {
        let mut kept = Vec::with_capacity(inv.args.len());
        let mut i = 0;
        while i < inv.args.len() {
            let arg = &inv.args[i];
            let exec =
                i > 0 && matches!(arg.literal(), Some("-exec" | "-execdir" | "-ok" | "-okdir"));
            if !exec {
                kept.push(arg.clone());
                i += 1;
                continue;
            }
            let in_start_dir = arg.is("-exec") || arg.is("-ok");
            let body = &inv.args[i + 1..];
            let end = body
                .iter()
                .position(|a| a.is(";") || a.is("+"))
                .ok_or_else(|| Unreadable("`find -exec` without its closing `;` or `+`".into()))?;
            let args = body[..end]
                .iter()
                .map(|a| match a.literal() {
                    Some(s) if s.contains("{}") => Arg::Dyn(s.to_owned()),
                    _ => a.clone(),
                })
                .collect();
            let inner = Invocation {
                args,
                env: Vec::new(),
                writes: Vec::new(),
                cwd: if in_start_dir { inv.cwd.clone() } else { None },
                stdin: Stdin::Inherited,
                in_loop: true,
            };
            self.run(inner, scope)?;
            i += end + 2;
        }
        inv.args = kept;
        Ok(())
    }
}

/// Options of `sudo`/`doas` that take a value.
const SUDO_VALUES: &[&str] = &[
    "-u",
    "-g",
    "-p",
    "-C",
    "-h",
    "-r",
    "-t",
    "-U",
    "-D",
    "-R",
    "--user",
    "--group",
    "--prompt",
    "--chdir",
    "--chroot",
    "--close-from",
    "--host",
    "--role",
    "--type",
    "--other-user",
];

/// Options of `uv run`, `poetry run`, ... that take a value.
const RUNNER_VALUES: &[&str] = &[
    "--with",
    "--with-editable",
    "--with-requirements",
    "-p",
    "--python",
    "--package",
    "--extra",
    "--group",
    "--directory",
    "--project",
    "--env-file",
    "--index",
    "--default-index",
];

/// The index of the first operand at or after `start`, skipping options (`with_value` lists
/// the options whose value is the next word). An option legio cannot read is an error.
fn after_options(
    args: &[Arg],
    start: usize,
    with_value: &[&str],
    what: &str,
) -> Result<usize, Unreadable> {
    let mut i = start;
    while let Some(arg) = args.get(i) {
        let Some(s) = arg.literal() else {
            return Err(Unreadable(format!(
                "`{what}` followed by a word legio cannot read ({})",
                arg.text()
            )));
        };
        if s == "--" {
            return Ok(i + 1);
        }
        if !s.starts_with('-') || s == "-" {
            return Ok(i);
        }
        i += if with_value.contains(&s) { 2 } else { 1 };
    }
    Ok(i.min(args.len()))
}

/// The values of `names` options (`-o FILE`) among `args`.
fn take_option_values(args: &[Arg], names: &[&str], into: &mut Vec<Arg>) {
    for pair in args.windows(2) {
        if pair[0].literal().is_some_and(|s| names.contains(&s)) {
            into.push(pair[1].clone());
        }
    }
}

/// The value of the first of `names` (`-c CODE`, `--call=CODE`) among `args`, if literal.
fn option_value(args: &[Arg], names: &[&str]) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| {
        let s = a.literal()?;
        if names.contains(&s) {
            return args.get(i + 1).map(|v| v.text().to_owned());
        }
        names
            .iter()
            .filter(|n| n.starts_with("--"))
            .find_map(|n| s.strip_prefix(n).and_then(|r| r.strip_prefix('=')))
            .map(str::to_owned)
    })
}

/// `xargs [opts] PROGRAM ARGS`: the program gets unknown arguments from the input.
fn xargs(inv: &mut Invocation) -> Result<usize, Unreadable> {
    const VALUES: &[&str] = &[
        "-a",
        "--arg-file",
        "-d",
        "--delimiter",
        "-E",
        "-I",
        "-L",
        "-n",
        "--max-args",
        "-P",
        "--max-procs",
        "-s",
        "--max-chars",
        "--process-slot-var",
    ];
    let at = after_options(&inv.args, 1, VALUES, "xargs")?;
    let mut replace: Option<String> = None;
    for (i, arg) in inv.args[1..at].iter().enumerate() {
        let s = arg.text();
        if s == "-I" {
            replace = inv.args.get(i + 2).map(|a| a.text().to_owned());
        } else if let Some(r) = s
            .strip_prefix("-I")
            .or_else(|| s.strip_prefix("--replace="))
        {
            replace = Some(r.to_owned());
        } else if s == "-i" || s == "--replace" {
            replace = Some("{}".into());
        } else if let Some(r) = s.strip_prefix("-i") {
            replace = Some(r.to_owned());
        }
    }
    if at >= inv.args.len() {
        inv.args.push(Arg::Lit("echo".into()));
    }
    match replace {
        Some(r) => {
            for arg in &mut inv.args[at..] {
                if arg.text().contains(&r) {
                    *arg = Arg::Dyn(arg.text().to_owned());
                }
            }
        }
        None => inv.args.push(Arg::Dyn("<input>".into())),
    }
    inv.stdin = Stdin::Inherited;
    Ok(at)
}

/// Joins literal words with spaces (what `eval` runs); unknown words are an error.
fn join_literal(args: &[Arg], what: &str) -> Result<String, Unreadable> {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let s = arg.literal().ok_or_else(|| {
            Unreadable(format!(
                "`{what}` of a value legio cannot read ({}); write the command directly",
                arg.text()
            ))
        })?;
        if i > 0 {
            out.push(' ');
        }
        out.push_str(s);
    }
    Ok(out)
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where `cd`/`pushd`/`popd` moves the shell.
fn cd_target(inv: &Invocation, home: Option<&std::path::Path>) -> Option<CdTo> {
    let name = inv.program()?;
    if !matches!(name, "cd" | "pushd" | "popd") {
        return None;
    }
    if name == "popd" {
        return Some(CdTo(None));
    }
    let operand = inv.rest().iter().find(|a| {
        !a.literal()
            .is_some_and(|s| matches!(s, "-L" | "-P" | "-e" | "-@"))
    });
    // `cd -`, `pushd +1`, `cd $DIR`: somewhere legio cannot tell
    Some(CdTo(match operand {
        None if name == "cd" => home.map(std::path::Path::to_path_buf),
        Some(dir @ Arg::Lit(text)) if text != "-" && !text.starts_with('+') => {
            chdir(inv.cwd.as_deref(), Some(dir))
        }
        _ => None,
    }))
}
