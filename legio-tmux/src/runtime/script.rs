//! [`ScriptRuntime`]: a configured command stands in for the agent CLI (tests, demos, and any
//! tool that reads its prompts from stdin).
//!
//! It runs `runtime.script.command` in the agent's directory with the same environment a
//! Claude agent gets (plus `LEGIO_CAPABILITY` and `LEGIO_MODEL`, so one script can play every
//! role), with the nesting markers removed. The first prompt and every later message arrive
//! on its stdin, one line each (typed into the terminal, or written to the headless input).
//! It is ready as soon as it runs. A one-shot question runs the one-shot command (by default
//! the same command) with the prompt on stdin and answers with its stdout.

use legio_core::ports::{
    AgentRuntime, LaunchContext, LaunchPlan, OneShot, Readiness, RuntimeError,
};

use super::{NESTING_MARKERS, Once, excerpt, run_once};

const INSTALL_HINT: &str = "check runtime.script.command in .legio/config.yaml";

/// A configured command as the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRuntime {
    command: Vec<String>,
    one_shot_command: Option<Vec<String>>,
}

impl ScriptRuntime {
    /// Agents run `command` (program and arguments).
    pub fn new(command: Vec<String>) -> Self {
        Self {
            command,
            one_shot_command: None,
        }
    }

    /// One-shot questions run `command` instead of the agent command.
    #[must_use]
    pub fn with_one_shot_command(mut self, command: Vec<String>) -> Self {
        self.one_shot_command = Some(command);
        self
    }

    fn checked(command: &[String]) -> Result<&[String], RuntimeError> {
        match command.first() {
            Some(program) if !program.is_empty() => Ok(command),
            _ => Err(RuntimeError::Refused(
                "the script runtime has no command; set runtime.script.command in \
                 .legio/config.yaml (e.g. [\"./scripts/agent.sh\"])"
                    .into(),
            )),
        }
    }
}

impl AgentRuntime for ScriptRuntime {
    fn name(&self) -> &'static str {
        "script"
    }

    fn launch_plan(
        &self,
        ctx: &LaunchContext,
        _first_prompt: &str,
    ) -> Result<LaunchPlan, RuntimeError> {
        let argv = Self::checked(&self.command)?.to_vec();
        let mut env = ctx.env.clone();
        env.push(("LEGIO_CAPABILITY".into(), ctx.capability.as_str().into()));
        env.push(("LEGIO_MODEL".into(), ctx.model.clone()));
        Ok(LaunchPlan {
            argv,
            env,
            env_remove: NESTING_MARKERS.iter().map(|&s| s.to_owned()).collect(),
            cwd: ctx.cwd.clone(),
            prompt_in_argv: false,
        })
    }

    fn readiness(&self, _screen: &str) -> Readiness {
        Readiness::Ready
    }

    fn one_shot(&self, request: &OneShot) -> Result<String, RuntimeError> {
        let command = self.one_shot_command.as_ref().unwrap_or(&self.command);
        let argv = Self::checked(command)?;
        let done = run_once(Once {
            argv,
            cwd: &request.cwd,
            env_remove: NESTING_MARKERS,
            stdin: request.prompt.as_bytes(),
            timeout: request.timeout,
            install_hint: INSTALL_HINT,
        })?;
        let program = argv[0].clone();
        let text = String::from_utf8(done.stdout).map_err(|e| RuntimeError::BadOutput {
            program: program.clone(),
            problem: format!(
                "the answer is not UTF-8 text: {}",
                excerpt(e.as_bytes(), 200)
            ),
        })?;
        let answer = text.trim_end_matches(['\n', '\r']);
        if answer.trim().is_empty() {
            return Err(RuntimeError::BadOutput {
                program,
                problem: "no answer on stdout".into(),
            });
        }
        Ok(answer.to_owned())
    }
}
