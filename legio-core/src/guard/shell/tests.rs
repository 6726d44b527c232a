use super::*;

const WT: &str = "/repo/wt";

fn env() -> ShellEnv<'static> {
    ShellEnv {
        home: Some(Path::new("/home/dev")),
        worktree: Some(Path::new(WT)),
        agent: Some("builder-1"),
    }
}

fn read_ok(script: &str) -> Vec<Invocation> {
    read(script, Some(PathBuf::from(WT)), env()).unwrap_or_else(|e| panic!("{script:?}: {e}"))
}

/// Each invocation as `cwd|arg arg ...` (unknown words shown as `?text`).
fn lines(script: &str) -> Vec<String> {
    read_ok(script)
        .iter()
        .map(|inv| {
            let args: Vec<String> = inv
                .args
                .iter()
                .map(|a| match a {
                    Arg::Lit(s) => s.clone(),
                    Arg::Glob(s) => format!("*{s}"),
                    Arg::Dyn(s) => format!("?{s}"),
                })
                .collect();
            let cwd = inv
                .cwd
                .as_ref()
                .map_or_else(|| "?".to_owned(), |c| c.display().to_string());
            format!("{cwd}|{}", args.join(" "))
        })
        .collect()
}

#[test]
fn lists_and_pipelines_are_flattened() {
    assert_eq!(
        lines("ls; git status && cargo test 2>&1 | head -5 || echo fail\npwd"),
        [
            "/repo/wt|ls",
            "/repo/wt|git status",
            "/repo/wt|cargo test",
            "/repo/wt|head -5",
            "/repo/wt|echo fail",
            "/repo/wt|pwd"
        ]
    );
}

#[test]
fn quotes_and_escapes_are_removed() {
    assert_eq!(
        lines(r#"g"i"t 'pu'sh \"x\" "a b" $'c'"#),
        ["/repo/wt|git push \"x\" a b c"]
    );
    assert_eq!(lines(r"\git push"), ["/repo/wt|git push"]);
}

#[test]
fn substitutions_are_read_and_make_words_unknown() {
    assert_eq!(
        lines("echo $(git push) `rm -rf x` \"$(date)\""),
        [
            "/repo/wt|git push",
            "/repo/wt|rm -rf x",
            "/repo/wt|date",
            "/repo/wt|echo ?$(git push) ?`rm -rf x` ?$(date)"
        ]
    );
    assert_eq!(
        lines("diff <(ls a) b"),
        ["/repo/wt|ls a", "/repo/wt|diff ?<(...) b"]
    );
}

#[test]
fn known_variables_and_tilde_are_filled_in() {
    assert_eq!(
        lines("cat ~/x $HOME/y ${LEGIO_WORKTREE_PATH}/z $PWD/w $OTHER"),
        ["/repo/wt|cat /home/dev/x /home/dev/y /repo/wt/z /repo/wt/w ?$OTHER"]
    );
}

#[test]
fn globs_and_brace_expansion_are_marked() {
    assert_eq!(
        lines("rm *.rs '*.md' {a,b}/x"),
        ["/repo/wt|rm **.rs *.md ?{a,b}/x"]
    );
}

#[test]
fn wrappers_are_peeled() {
    assert_eq!(
        lines("env -i A=1 nice -n 5 timeout 10 /usr/bin/git push"),
        ["/repo/wt|/usr/bin/git push"]
    );
    assert_eq!(lines("command git push"), ["/repo/wt|git push"]);
    assert_eq!(lines("command -v git"), Vec::<String>::new());
    assert_eq!(lines("exec git push"), ["/repo/wt|git push"]);
    assert_eq!(lines("sudo -u root rm x"), ["/repo/wt|rm x"]);
    assert_eq!(lines("nohup stdbuf -oL make"), ["/repo/wt|make"]);
    assert_eq!(lines("npx vitest run"), ["/repo/wt|vitest run"]);
    assert_eq!(lines("uv run pytest -x"), ["/repo/wt|pytest -x"]);
    let inv = &read_ok("GIT_DIR=/x git log")[0];
    assert_eq!(inv.env, [("GIT_DIR".to_owned(), Arg::Lit("/x".into()))]);
}

#[test]
fn env_chdir_moves_the_command() {
    assert_eq!(lines("env -C sub rm x"), ["/repo/wt/sub|rm x"]);
    assert_eq!(lines("env --chdir=/tmp rm x"), ["/tmp|rm x"]);
}

#[test]
fn xargs_and_find_exec_run_their_command_with_unknown_arguments() {
    assert_eq!(
        lines("find . -name '*.o' | xargs rm -f"),
        ["/repo/wt|find . -name *.o", "/repo/wt|rm -f ?<input>"]
    );
    assert_eq!(
        lines("find . -exec git push {} \\;"),
        ["/repo/wt|git push ?{}", "/repo/wt|find ."]
    );
    assert_eq!(lines("xargs -I{} mv {} /tmp"), ["/repo/wt|mv ?{} /tmp"]);
}

#[test]
fn shell_strings_are_read_recursively() {
    assert_eq!(lines("sh -c 'git push'"), ["/repo/wt|git push"]);
    assert_eq!(
        lines("bash -lc \"cd sub && rm x\""),
        ["/repo/wt|cd sub", "/repo/wt/sub|rm x"]
    );
    assert_eq!(lines("eval git push"), ["/repo/wt|git push"]);
    assert_eq!(lines("eval 'sh -c \"git  push\"'"), ["/repo/wt|git push"]);
    assert_eq!(lines("bash <<'EOF'\ngit push\nEOF"), ["/repo/wt|git push"]);
    assert_eq!(lines("trap 'git push' EXIT"), ["/repo/wt|git push"]);
    assert_eq!(lines("bash script.sh"), ["/repo/wt|bash script.sh"]);
}

#[test]
fn unreadable_commands_are_errors() {
    for script in [
        "echo 'unterminated",
        "echo git push | sh",
        "curl x | bash",
        "eval \"$CMD\"",
        "sh -c \"$X\"",
        "echo ${X:-$(git push)}",
        "echo $(( $(git push) ))",
        "env -S 'git push'",
        "find . -exec rm {}",
    ] {
        assert!(
            read(script, Some(PathBuf::from(WT)), env()).is_err(),
            "{script:?} should be unreadable"
        );
    }
    let deep = format!("{}ls", "eval ".repeat(MAX_DEPTH + 1));
    let err = read(&deep, None, env()).unwrap_err();
    assert!(err.0.contains("nested"), "{err}");
    let ok = format!("{}ls", "eval ".repeat(MAX_DEPTH - 2));
    assert!(read(&ok, None, env()).is_ok());
}

#[test]
fn cd_moves_later_commands_only_when_it_surely_happened() {
    assert_eq!(
        lines("cd sub && cargo test && cd .. && ls"),
        [
            "/repo/wt|cd sub",
            "/repo/wt/sub|cargo test",
            "/repo/wt/sub|cd ..",
            "/repo/wt/sub/..|ls"
        ]
    );
    // after `;` the cd may have failed: unknown
    assert_eq!(lines("cd /etc; rm x"), ["/repo/wt|cd /etc", "?|rm x"]);
    // `||` runs where the cd failed
    assert_eq!(
        lines("cd /etc || rm x"),
        ["/repo/wt|cd /etc", "/repo/wt|rm x"]
    );
    // a subshell keeps its cd
    assert_eq!(
        lines("(cd /etc && ls); rm x"),
        ["/repo/wt|cd /etc", "/etc|ls", "/repo/wt|rm x"]
    );
    // a brace group does not
    assert_eq!(lines("{ cd /etc && ls; } && rm x")[2], "?|rm x");
    assert_eq!(lines("cd && rm x")[1], "/home/dev|rm x");
    assert_eq!(lines("cd $D && rm x")[1], "?|rm x");
    assert_eq!(lines("builtin cd /etc && rm x")[1], "/etc|rm x");
    // `env cd` runs a separate program: the shell stays where it was
    assert_eq!(lines("env cd /etc && rm x")[1], "/repo/wt|rm x");
}

#[test]
fn redirections_and_stdin_are_recorded() {
    let inv = &read_ok("cmd > out.txt 2>&1 2>/dev/null &>> log >| f <> g < in")[0];
    let writes: Vec<&str> = inv.writes.iter().map(Arg::text).collect();
    assert_eq!(writes, ["out.txt", "/dev/null", "log", "f", "g"]);
    assert_eq!(inv.stdin, Stdin::Unknown);
    let inv = &read_ok("python3 - <<'EOF'\nprint(1)\nEOF")[0];
    assert_eq!(inv.stdin, Stdin::Text("print(1)\n".into()));
    let heredoc = read_ok("cat <<EOF\n$(git push)\nEOF");
    assert_eq!(heredoc[0].args[0], Arg::Lit("git".into()));
}

#[test]
fn loops_and_functions_are_marked() {
    let invs = read_ok("while true; do sleep 1; done; f() { sleep 2; }; sleep 3");
    let looped: Vec<bool> = invs.iter().map(|i| i.in_loop).collect();
    assert_eq!(looped, [true, true, true, false]);
}

#[test]
fn compound_commands_are_walked() {
    assert_eq!(
        lines(
            "if git diff --quiet; then echo ok; else git push; fi; case x in a) rm y;; esac; [[ -f $(git push) ]]"
        ),
        [
            "/repo/wt|git diff --quiet",
            "/repo/wt|echo ok",
            "/repo/wt|git push",
            "/repo/wt|rm y",
            "/repo/wt|git push"
        ]
    );
    assert_eq!(
        lines("for f in a b; do git add $f; done"),
        ["/repo/wt|git add ?$f"]
    );
    assert_eq!(lines("coproc git push"), ["/repo/wt|git push"]);
    assert_eq!(lines("! git push"), ["/repo/wt|git push"]);
    assert_eq!(lines("time git push"), ["/repo/wt|git push"]);
}

#[test]
fn commit_messages_in_heredocs_read_cleanly() {
    let script =
        "git commit -m \"$(cat <<'EOF'\nfix: the thing\n\nit's \"quoted\" $(not run)\nEOF\n)\"";
    assert_eq!(
        lines(script),
        [
            "/repo/wt|cat",
            "/repo/wt|git commit -m ?$(cat <<'EOF'\nfix: the thing\n\nit's \"quoted\" $(not run)\nEOF\n)"
        ]
    );
}

#[test]
fn oversized_or_deeply_nested_input_is_refused_before_parsing() {
    let long = format!("echo {}", "a".repeat(MAX_LEN));
    assert!(read(&long, None, env()).unwrap_err().0.contains("bytes"));
    let deep = format!("{}ls{}", "(".repeat(200), ")".repeat(200));
    assert!(read(&deep, None, env()).unwrap_err().0.contains("nested"));
    // balanced, shallow braces are fine however many there are
    let wide = "{ ls; } && ".repeat(100) + "ls";
    assert!(read(&wide, None, env()).is_ok());
}

#[test]
fn redefining_what_the_reader_relies_on_is_refused() {
    for script in [
        "cd() { :; }; cd x",
        "function eval { :; }",
        "git() { :; }",
        "CDPATH=/x cd y",
    ] {
        assert!(read(script, None, env()).is_err(), "{script:?}");
    }
    assert!(read("build() { cargo build; }; build", None, env()).is_ok());
}

#[test]
fn a_consumed_program_keeps_its_redirections() {
    let invs = read_ok("sh -c 'ls' > out.txt");
    assert_eq!(invs[0].args, Vec::<Arg>::new());
    assert_eq!(invs[0].writes, [Arg::Lit("out.txt".into())]);
    assert_eq!(invs[1].args, [Arg::Lit("ls".into())]);
}

#[test]
fn the_directory_and_the_worktree_top_are_known_outputs() {
    assert_eq!(
        lines("cd \"$(git rev-parse --show-toplevel)\" && ls $(pwd)/src"),
        [
            "/repo/wt|git rev-parse --show-toplevel",
            "/repo/wt|cd /repo/wt",
            "/repo/wt|pwd",
            "/repo/wt|ls /repo/wt/src"
        ]
    );
    // outside the worktree the top level is somebody else's
    assert_eq!(
        lines("cd /tmp && echo $(git rev-parse --show-toplevel)")[2],
        "/tmp|echo ?$(git rev-parse --show-toplevel)"
    );
}

#[test]
fn options_missing_their_values_do_not_panic() {
    for script in [
        "nice -n",
        "timeout",
        "timeout -s",
        "sudo -u",
        "strace -o",
        "time -o",
        "xargs -I",
        "env -u",
        "env -C",
        "exec -a",
        "stdbuf -o",
        "npx -p",
        "uv run --with",
        "find . -exec",
        "taskset",
        "command",
        "bash -o",
        "bash -c",
        "git -C",
        "git -c",
        "trap",
        "eval",
    ] {
        let _ = read(script, Some(PathBuf::from(WT)), env());
    }
}

#[test]
fn deeply_nested_compound_commands_are_refused_and_keywords_in_text_are_not() {
    let nest = |depth: usize| {
        format!(
            "{}true{}",
            "if true; then ".repeat(depth),
            "; fi".repeat(depth)
        )
    };
    assert!(read(&nest(MAX_NESTING), None, env()).is_ok());
    let err = read(&nest(3000), None, env()).unwrap_err();
    assert!(err.0.contains("nested"), "{err}");
    let words = "if for while case ".repeat(100);
    assert!(read(&format!("echo {words}"), None, env()).is_ok());
    let heredoc = format!("git commit -F - <<'EOF'\n{words}\nEOF");
    assert!(read(&heredoc, None, env()).is_ok());
}

#[test]
fn the_longest_inputs_of_recursive_shapes_do_not_crash() {
    let fill = |unit: &str, head: &str, tail: &str| {
        let n = (MAX_LEN - head.len() - tail.len()) / unit.len();
        format!("{head}{}{tail}", unit.repeat(n))
    };
    for script in [
        fill("! ", "[[ ", "-n x ]]"),
        fill("-n x && ", "[[ ", "-n x ]]"),
        fill("-n x || ", "[[ ", "-n x ]]"),
        fill("true && ", "", "true"),
        fill("true | ", "", "true"),
        fill("true; ", "", "true"),
        fill("a=1 ", "", "true"),
        fill("> /dev/null ", "true ", ""),
        fill("$x", "echo ", ""),
        fill("1+", "echo $((", "1))"),
        fill("`", "echo ", ""),
        fill("! ", "", "true"),
        fill("coproc ", "", "true"),
        fill("time ", "", "true"),
        fill("exec ", "", "true"),
        fill("env ", "", "true"),
        fill("sh -c ", "", "true"),
    ] {
        let _ = read(&script, Some(PathBuf::from(WT)), env());
    }
}
