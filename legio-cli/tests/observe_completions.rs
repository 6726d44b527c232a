//! `legio completions bash|zsh|fish`: each script names every top-level command (taken from
//! `legio --help`, so a new command cannot be forgotten) and is valid for its shell: `bash -n`
//! always, `zsh -n` and `fish -n` where those shells are installed (a missing shell is said on
//! stderr, not silently passed).

use std::io::Write as _;
use std::process::{Command, Stdio};

fn legio(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_legio"))
        .args(args)
        .env_clear()
        .env("NO_COLOR", "1")
        .output()
        .expect("running legio");
    assert!(
        out.status.success(),
        "legio {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The top-level commands `legio --help` lists.
fn commands() -> Vec<String> {
    let help = legio(&["--help"]);
    let section = help
        .split("Commands:")
        .nth(1)
        .expect("a Commands: section in --help");
    let names: Vec<String> = section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command's line is indented by two; wrapped descriptions by more.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_owned)
        .collect();
    for must in [
        "inspect", "trace", "feed", "replay", "errors", "logs", "metrics", "run", "group", "costs",
    ] {
        assert!(
            names.iter().any(|n| n == must),
            "{must} missing from --help: {names:?}"
        );
    }
    names
}

fn installed(shell: &str) -> bool {
    Command::new(shell)
        .arg("-c")
        .arg("exit 0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `<shell> -n` on `script` (read from stdin) and fails the test on a syntax error.
fn check_syntax(shell: &str, script: &str) {
    let mut child = Command::new(shell)
        .arg("-n")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {shell}: {e}"));
    child
        .stdin
        .take()
        .expect("a piped stdin")
        .write_all(script.as_bytes())
        .expect("writing the script");
    let out = child.wait_with_output().expect("waiting for the shell");
    assert!(
        out.status.success(),
        "{shell} -n rejects the completion script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check(shell: &str) {
    let script = legio(&["completions", shell]);
    for command in commands() {
        assert!(
            script.contains(&command),
            "the {shell} completions do not mention `{command}`"
        );
    }
    if installed(shell) {
        check_syntax(shell, &script);
    } else {
        // Written to the real stderr: a skipped check must be visible.
        let _ = writeln!(
            std::io::stderr(),
            "NOT CHECKED: {shell} is not installed, so `{shell} -n` did not run on its completion script"
        );
    }
}

#[test]
fn bash_completions_name_every_command_and_parse() {
    assert!(installed("bash"), "bash is needed for this test");
    check("bash");
}

#[test]
fn zsh_completions_name_every_command_and_parse() {
    check("zsh");
}

#[test]
fn fish_completions_name_every_command_and_parse() {
    check("fish");
}

#[test]
fn bash_completion_completes_the_new_commands() {
    // Load the script into a real bash and ask it to complete `legio gr` and `legio costs --b`.
    let script = legio(&["completions", "bash"]);
    let probe = r#"
COMP_WORDS=(legio gr); COMP_CWORD=1; COMP_LINE="legio gr"; COMP_POINT=${#COMP_LINE}
_legio legio gr legio; echo "${COMPREPLY[@]}"
COMP_WORDS=(legio costs --b); COMP_CWORD=2; COMP_LINE="legio costs --b"; COMP_POINT=${#COMP_LINE}
_legio legio --b costs; echo "${COMPREPLY[@]}"
"#;
    // The script is larger than one argument may be (128 KiB): bash reads it from a file.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("legio.bash");
    std::fs::write(&file, &script).expect("writing the completion script");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source \"$1\"\n{probe}"))
        .arg("bash")
        .arg(&file)
        .output()
        .expect("running bash");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("group"), "{text}");
    assert_eq!(lines.next(), Some("--by-capability"), "{text}");
}
