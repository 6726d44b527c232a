//! Programs that write the files they name: which paths `rm`, `mv`, `cp`, `ln`, `touch`,
//! `tee`, `sed -i`, `awk -i inplace`, `curl -o`, `wget`, `tar -x`, `find -delete`, ... write,
//! each checked with [`Ctx::write`] (or [`Ctx::delete`]).

use std::path::Path;

use super::{Ctx, Op, Verdict, each, operands, retag};
use crate::guard::argv::Argv;
use crate::guard::shell::{Arg, Invocation};

/// Judges `name` if it writes the files it names; `None` for other programs.
pub fn check(ctx: &Ctx<'_>, inv: &Invocation, name: &str) -> Option<Verdict> {
    let args = inv.rest();
    let what = format!("`{name}`");
    Some(match name {
        "rm" | "rmdir" | "unlink" | "shred" | "srm" => {
            each(ctx, inv, &operands(args, &[]), &what, Op::Delete)
        }
        "mv" => {
            let opts = Argv::parse(args, &["-t", "--target-directory", "-S", "--suffix"]);
            each(ctx, inv, &opts.operands, &what, Op::Delete).and_then(|()| {
                let dirs = opts.values(&["-t", "--target-directory"]);
                each(ctx, inv, &dirs, &what, Op::Write)
            })
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
            let opts = Argv::parse(args, &["-p", "--tmpdir", "--suffix"]);
            let dir = opts.values(&["-p", "--tmpdir"]);
            ctx.not_read_only("`mktemp`")
                .and_then(|()| each(ctx, inv, &dir, &what, Op::Write))
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
                return Some(Ok(()));
            }
            each(
                ctx,
                inv,
                &opts.values(&["-o", "--output"]),
                &what,
                Op::Write,
            )
            .and_then(|()| match opts.operands.first() {
                Some(file) => ctx.write(inv.cwd.as_deref(), file, &what),
                None => ctx.write_here(inv, &what),
            })
        }
        "curl" => curl(ctx, inv),
        "wget" => wget(ctx, inv),
        "tar" | "bsdtar" => tar(ctx, inv),
        "unzip" => {
            let opts = Argv::parse(args, &["-d", "-x", "-P"]);
            if opts.has(&["-l", "-t", "-p", "-Z", "-v"]) {
                return Some(Ok(()));
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
                return Some(Ok(()));
            }
            each(ctx, inv, &opts.operands, &what, Op::Write)
        }
        "sqlite3" => {
            let opts = Argv::parse(args, &["-cmd", "-separator", "-newline", "-nullvalue"]);
            if opts.has(&["-readonly", "--readonly"]) || args.iter().any(|a| a.is("-readonly")) {
                return Some(Ok(()));
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
        _ => return None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
