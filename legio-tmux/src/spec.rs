//! Session names and the checks every backend applies to a [`SessionSpec`] before acting, so
//! that bad input is refused with a reason instead of half-creating a session.

use legio_core::names::{AgentName, tmux_safe};
use legio_core::ports::{MuxError, SessionSpec};

use crate::env::check_vars;

/// The session name of `agent` in `project`: `legio-<project>-<agent>`, with every character
/// tmux would rewrite (`.`, `:`) already replaced, so the recorded name is the real one.
pub fn session_name(project: &str, agent: &AgentName) -> String {
    format!("legio-{}-{}", tmux_safe(project), tmux_safe(agent.as_str()))
}

/// Whether `name` is usable verbatim as a session name by every backend: `[A-Za-z0-9_-]+`,
/// not starting with `-`, at most 200 bytes.
pub(crate) fn is_session_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Refuses a spec that no backend could honour faithfully.
pub(crate) fn check(spec: &SessionSpec) -> Result<(), MuxError> {
    let fail = |problem: String| {
        Err(MuxError::InvalidSpec {
            name: spec.name.clone(),
            problem,
        })
    };
    if !is_session_name(&spec.name) {
        return fail(
            "session names may hold only letters, digits, '-' and '_' (see legio_tmux::session_name)"
                .into(),
        );
    }
    match spec.argv.first() {
        None => return fail("no command to run (argv is empty)".into()),
        Some(program) if program.is_empty() => return fail("the program name is empty".into()),
        Some(_) => {}
    }
    if let Some(arg) = spec.argv.iter().find(|a| a.contains('\0')) {
        return fail(format!("argument {arg:?} contains a NUL byte"));
    }
    if !spec.cwd.is_dir() {
        return fail(format!(
            "the working directory {} does not exist or is not a directory",
            spec.cwd.display()
        ));
    }
    if let Some(problem) = check_vars(&spec.env, &spec.env_remove) {
        return fail(problem);
    }
    if let Some(log) = &spec.log_path {
        if log.to_string_lossy().chars().any(char::is_control) {
            return fail(format!(
                "the log path {} contains a control character",
                log.display()
            ));
        }
        if log.file_name().is_none() {
            return fail(format!("the log path {} names no file", log.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SessionSpec {
        SessionSpec {
            name: "legio-p-a".into(),
            cwd: std::env::temp_dir(),
            argv: vec!["true".into()],
            env: vec![],
            env_remove: vec![],
            log_path: None,
        }
    }

    #[test]
    fn session_names_are_what_tmux_keeps() {
        let agent = AgentName::new("lead.auth").unwrap();
        assert_eq!(
            session_name("socket.io", &agent),
            "legio-socket_io-lead_auth"
        );
        assert!(is_session_name(&session_name("my proj", &agent)));
    }

    #[test]
    fn refuses_bad_specs_with_a_reason() {
        type Mutation = Box<dyn Fn(&mut SessionSpec)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|s| s.name = "a.b".into()), "letters, digits"),
            (Box::new(|s| s.name = "-rf".into()), "letters, digits"),
            (Box::new(|s| s.argv.clear()), "argv is empty"),
            (
                Box::new(|s| s.argv = vec![String::new()]),
                "program name is empty",
            ),
            (Box::new(|s| s.argv.push("a\0b".into())), "NUL"),
            (
                Box::new(|s| s.cwd = "/nonexistent/dir".into()),
                "does not exist",
            ),
            (
                Box::new(|s| s.env = vec![("A B".into(), "x".into())]),
                "not an environment variable",
            ),
            (
                Box::new(|s| s.log_path = Some("/tmp/a\nb.log".into())),
                "control character",
            ),
            (Box::new(|s| s.log_path = Some("/".into())), "names no file"),
        ];
        for (mutate, needle) in cases {
            let mut s = spec();
            mutate(&mut s);
            let err = check(&s).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
        check(&spec()).unwrap();
    }
}
