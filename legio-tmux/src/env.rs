//! The environment agent processes start from, shared by both backends.

use std::process::Command;

/// Variables that describe the *caller's* terminal multiplexer and never make sense for an
/// agent started on legio's own server.
const CALLER_ONLY: &[&str] = &["TMUX", "TMUX_PANE"];

/// What an agent's environment is built on, before the session's own `env` and `env_remove`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BaseEnv {
    /// legio's own environment, as the process received it (the usual choice for the CLI).
    #[default]
    Inherit,
    /// Exactly these variables and nothing else (hermetic tests, embedding tools).
    Exactly(Vec<(String, String)>),
}

impl BaseEnv {
    /// Sets `cmd`'s environment to this base, without the caller-only variables.
    pub(crate) fn apply(&self, cmd: &mut Command) {
        if let Self::Exactly(vars) = self {
            cmd.env_clear();
            cmd.envs(vars.iter().map(|(k, v)| (k, v)));
        }
        for name in CALLER_ONLY {
            cmd.env_remove(name);
        }
    }
}

/// Whether `name` can be an environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The first problem with a session's environment lists, if any.
pub(crate) fn check_vars(env: &[(String, String)], env_remove: &[String]) -> Option<String> {
    let bad_name = env
        .iter()
        .map(|(k, _)| k)
        .chain(env_remove)
        .find(|k| !is_var_name(k));
    if let Some(name) = bad_name {
        return Some(format!(
            "{name:?} is not an environment variable name (use letters, digits and '_')"
        ));
    }
    env.iter()
        .find(|(_, v)| v.contains('\0'))
        .map(|(k, _)| format!("the value of {k} contains a NUL byte"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_checked() {
        assert!(is_var_name("LEGIO_AGENT_NAME"));
        assert!(is_var_name("_x1"));
        for bad in ["", "1A", "A-B", "A=B", "A B"] {
            assert!(!is_var_name(bad), "{bad:?}");
        }
        assert!(check_vars(&[("A".into(), "ok".into())], &["B".into()]).is_none());
        let problem = check_vars(&[], &["X=1".into()]).unwrap();
        assert!(problem.contains("\"X=1\""), "{problem}");
        let problem = check_vars(&[("A".into(), "a\0b".into())], &[]).unwrap();
        assert!(problem.contains("NUL"), "{problem}");
    }

    #[test]
    fn exact_base_replaces_the_environment_and_drops_caller_only_variables() {
        let base = BaseEnv::Exactly(vec![
            ("KEEP".into(), "1".into()),
            ("TMUX".into(), "/tmp/tmux-0/default,1,0".into()),
        ]);
        let mut cmd = Command::new("/usr/bin/env");
        base.apply(&mut cmd);
        let out = cmd.output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.trim(), "KEEP=1");
    }
}
