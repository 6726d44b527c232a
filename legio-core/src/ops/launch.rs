//! Starting an agent's process and giving it text, with delivery checked: shared by `legio
//! sling`, the root agents' `start` and `legio nudge`.
//!
//! - [`AgentHost`] and [`agent_env`]: the environment every agent gets (its name, role, the
//!   project root, its worktree, the provider variables, `PATH` with legio's own directory
//!   first, `IS_SANDBOX`). Claude Code's nesting markers are removed by the runtime's plan.
//! - [`launch`]: the runtime's plan, run in a multiplexer session.
//! - [`deliver_first_prompt`] and [`send_and_verify`]: text reaches the agent and legio checks
//!   that it did. The strongest evidence is the agent's own `UserPromptSubmit` hook having run
//!   since the text was sent (`prompt_seen`). On a screen, a prompt still sitting in the input
//!   box gets Enter again (a bounded number of times) and is **never typed twice**; a dialog on
//!   screen is reported by name instead of being answered by accident.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::domain::agent::Capability;
use crate::domain::event::EventType;
use crate::names::AgentName;
use crate::ports::{
    AgentRuntime, EventQuery, EventStore, LaunchContext, LaunchPlan, Multiplexer, MuxError,
    MuxSession, Readiness, RuntimeError, SessionSpec,
};
use crate::time::Timestamp;

/// What legio knows about the process that launches agents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentHost {
    /// The absolute path of the running legio binary (agents' hooks call it).
    pub legio_bin: PathBuf,
    /// legio's own `PATH`, if it has one.
    pub path: Option<String>,
    /// Provider variables to pass on (`ANTHROPIC_BASE_URL`, ...), already non-empty.
    pub provider: Vec<(String, String)>,
    /// `IS_SANDBOX=1` is set.
    pub sandboxed: bool,
    /// legio runs as root (uid 0).
    pub running_as_root: bool,
}

/// The environment of agent `agent` of role `capability` in the project at `root`;
/// `worktree` for roles that work in their own worktree.
pub fn agent_env(
    host: &AgentHost,
    root: &Path,
    agent: &AgentName,
    capability: Capability,
    worktree: Option<&Path>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("LEGIO_AGENT_NAME".to_owned(), agent.to_string()),
        ("LEGIO_ROOT".to_owned(), root.display().to_string()),
        (
            "LEGIO_CAPABILITY".to_owned(),
            capability.as_str().to_owned(),
        ),
    ];
    if let Some(wt) = worktree {
        env.push(("LEGIO_WORKTREE_PATH".to_owned(), wt.display().to_string()));
    }
    env.extend(host.provider.iter().cloned());
    let bin_dir = host
        .legio_bin
        .parent()
        .map(|d| d.display().to_string())
        .filter(|d| !d.is_empty());
    let path = match (bin_dir, host.path.as_deref().filter(|p| !p.is_empty())) {
        (Some(dir), Some(rest)) => Some(format!("{dir}:{rest}")),
        (Some(dir), None) => Some(dir),
        (None, rest) => rest.map(str::to_owned),
    };
    if let Some(path) = path {
        env.push(("PATH".to_owned(), path));
    }
    if host.sandboxed {
        env.push(("IS_SANDBOX".to_owned(), "1".to_owned()));
    }
    env
}

/// Everything needed to start one agent's process.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    /// The runtime's view of the agent.
    pub context: LaunchContext,
    /// The multiplexer session name.
    pub session: &'a str,
    /// Where the session's output is kept.
    pub log_path: PathBuf,
    /// The first prompt (on the command line when the runtime takes it there).
    pub first_prompt: &'a str,
}

/// Asks the runtime for its plan, without starting anything (the plan may still be refused,
/// e.g. Claude Code as root without `IS_SANDBOX=1`).
pub fn plan(runtime: &dyn AgentRuntime, launch: &Launch<'_>) -> Result<LaunchPlan, RuntimeError> {
    runtime.launch_plan(&launch.context, launch.first_prompt)
}

/// Starts `plan` in a new multiplexer session.
pub fn launch(
    mux: &dyn Multiplexer,
    launch: &Launch<'_>,
    plan: &LaunchPlan,
) -> Result<MuxSession, MuxError> {
    mux.create(&SessionSpec {
        name: launch.session.to_owned(),
        cwd: plan.cwd.clone(),
        argv: plan.argv.clone(),
        env: plan.env.clone(),
        env_remove: plan.env_remove.clone(),
        log_path: Some(launch.log_path.clone()),
    })
}

/// The first prompt of an agent: one line saying who it is and what to do first.
pub fn first_prompt(
    agent: &AgentName,
    capability: Capability,
    task: Option<&str>,
    parent: Option<&AgentName>,
) -> String {
    let parent = parent.map_or(super::hook::ORCHESTRATOR, AgentName::as_str);
    match task {
        Some(task) => format!(
            "[LEGIO] You are {agent} ({capability}), reporting to {parent}. Read \
             .claude/CLAUDE.md for your instructions, then begin task {task} now. Your mail \
             reaches you by itself."
        ),
        None => format!(
            "[LEGIO] You are {agent} ({capability}), reporting to {parent}. Your role and \
             instructions are in your system prompt; begin now. Your mail reaches you by itself."
        ),
    }
}

/// How legio decides that an agent received its first prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptCheck {
    /// The agent's `UserPromptSubmit` hook ran after the prompt was given (Claude Code).
    Hook,
    /// The prompt was written to the agent's input and its process is still running a moment
    /// later (scripts, which may not call hooks at all).
    Process,
}

/// Timing of delivery checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Time between two looks at the session.
    pub poll: Duration,
    /// How long to wait for readiness, and then for confirmation.
    pub timeout: Duration,
    /// How long a prompt may sit in the input box before Enter is pressed again.
    pub enter_retry_after: Duration,
    /// How many times Enter is pressed again, at most.
    pub max_enter_retries: u32,
    /// For [`PromptCheck::Process`]: how long the process must survive the prompt (less when
    /// its prompt hook confirms it first).
    pub settle: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(50),
            timeout: Duration::from_secs(120),
            enter_retry_after: Duration::from_secs(1),
            max_enter_retries: 2,
            settle: Duration::from_millis(200),
        }
    }
}

/// The session text goes to, and how to tell the agent read it.
pub struct Target<'a> {
    /// Where the session runs.
    pub mux: &'a dyn Multiplexer,
    /// The agent CLI in it.
    pub runtime: &'a dyn AgentRuntime,
    /// The session name.
    pub session: &'a str,
    /// The session has no terminal: text is written to the process's input, in the runtime's
    /// headless form.
    pub headless: bool,
    /// Whether the agent's prompt hook has run since the text was sent.
    pub prompt_seen: &'a dyn Fn() -> bool,
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("session", &self.session)
            .field("headless", &self.headless)
            .finish_non_exhaustive()
    }
}

/// How far delivery was confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// The agent's prompt hook reported it.
    Confirmed,
    /// It is in the agent's input and was submitted; the agent has not reported reading it yet
    /// (a busy Claude Code queues it until its turn ends; a script may not call hooks).
    Submitted,
}

/// Why text did not reach the agent, in words the user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotDelivered(pub String);

/// The agent's `UserPromptSubmit` hook has recorded a prompt since `since`.
pub fn prompt_seen(events: &dyn EventStore, agent: &str, since: Timestamp) -> bool {
    events
        .query(&EventQuery {
            agents: vec![agent.to_owned()],
            event_type: Some(EventType::PromptSubmit),
            since: Some(since),
            limit: Some(1),
            ..EventQuery::default()
        })
        .is_ok_and(|found| !found.is_empty())
}

/// Whether Claude Code's input box on `screen` still holds `text` (typed, not submitted).
///
/// The input box is the line starting with `❯` right below a rule of `─`; prompts already
/// submitted are shown above it, also after a `❯`, but not below a rule.
pub fn prompt_still_in_input(screen: &str, text: &str) -> bool {
    let needle: String = one_line(text).trim().chars().take(24).collect();
    if needle.is_empty() {
        return false;
    }
    let lines: Vec<&str> = screen.lines().map(str::trim).collect();
    let is_rule = |l: &str| l.chars().count() >= 10 && l.chars().all(|c| c == '─');
    lines.iter().enumerate().any(|(i, line)| {
        i > 0
            && is_rule(lines[i - 1])
            && line.strip_prefix('❯').is_some_and(|rest| {
                rest.trim_start_matches([' ', '\u{a0}'])
                    .starts_with(&needle)
            })
    })
}

/// Text as it arrives in a session: control characters (newlines, tabs, escapes) as spaces.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The session as it is now: running, or why not.
fn running(target: &Target<'_>) -> Result<(), NotDelivered> {
    match target.mux.get(target.session) {
        Ok(Some(s)) if s.running => Ok(()),
        Ok(Some(s)) => Err(NotDelivered(format!(
            "the agent's process exited{}{}",
            s.exit_code
                .map(|c| format!(" with code {c}"))
                .unwrap_or_default(),
            last_output(target)
        ))),
        Ok(None) => Err(NotDelivered(format!(
            "the session {} no longer exists",
            target.session
        ))),
        Err(e) => Err(NotDelivered(format!(
            "cannot look at the session {}: {e}",
            target.session
        ))),
    }
}

/// The screen, refused when it shows a dialog only a person can answer.
fn screen(target: &Target<'_>) -> Result<String, NotDelivered> {
    let screen = target
        .mux
        .capture(target.session, 60)
        .map_err(|e| NotDelivered(format!("cannot read the agent's screen: {e}")))?;
    match target.runtime.readiness(&screen) {
        Readiness::Blocked(dialog) => Err(NotDelivered(format!(
            "the agent is stopped at a dialog, and legio does not answer dialogs: {dialog}"
        ))),
        _ => Ok(screen),
    }
}

/// The end of the session's output, to explain an exit.
fn last_output(target: &Target<'_>) -> String {
    match target.mux.capture(target.session, 15) {
        Ok(text) if !text.trim().is_empty() => format!("; its last output:\n{}", text.trim_end()),
        _ => String::new(),
    }
}

/// Waits until the runtime reads the session's screen as ready for input.
pub fn wait_until_ready(
    target: &Target<'_>,
    options: &DeliveryOptions,
) -> Result<(), NotDelivered> {
    if target.headless {
        return running(target);
    }
    let deadline = Instant::now() + options.timeout;
    loop {
        running(target)?;
        let screen = screen(target)?;
        if target.runtime.readiness(&screen) == Readiness::Ready {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(NotDelivered(format!(
                "the agent did not become ready for input within {} s; its screen shows:\n{}",
                options.timeout.as_secs(),
                screen.trim_end()
            )));
        }
        std::thread::sleep(options.poll);
    }
}

/// Writes `text` into the session (typed and submitted, or one headless input line).
pub fn send(target: &Target<'_>, text: &str) -> Result<(), NotDelivered> {
    let line = if target.headless {
        target.runtime.headless_line(text)
    } else {
        text.to_owned()
    };
    target.mux.send_text(target.session, &line).map_err(|e| {
        NotDelivered(format!(
            "could not write to the session {}: {e}",
            target.session
        ))
    })
}

/// Waits for evidence that text already sent reached the agent. With `require_hook`, only the
/// agent's prompt hook counts; otherwise text that was submitted (written to a headless input,
/// or no longer in the input box) counts too, as [`Delivered::Submitted`].
pub fn verify(
    target: &Target<'_>,
    text: &str,
    require_hook: bool,
    options: &DeliveryOptions,
) -> Result<Delivered, NotDelivered> {
    let start = Instant::now();
    let deadline = start + options.timeout;
    let mut last_enter = start;
    let mut enters = 0;
    loop {
        if (target.prompt_seen)() {
            return Ok(Delivered::Confirmed);
        }
        running(target)?;
        let screen = if target.headless {
            String::new()
        } else {
            screen(target)?
        };
        let waiting = prompt_still_in_input(&screen, text);
        if waiting
            && enters < options.max_enter_retries
            && last_enter.elapsed() >= options.enter_retry_after
        {
            // Submit what is already typed; never type it a second time.
            target.mux.send_text(target.session, "").map_err(|e| {
                NotDelivered(format!("could not press Enter in {}: {e}", target.session))
            })?;
            enters += 1;
            last_enter = Instant::now();
        }
        if Instant::now() >= deadline {
            if waiting {
                return Err(NotDelivered(format!(
                    "the text was typed but is still in the agent's input box: Enter (pressed {} \
                     more time{}) did not submit it",
                    enters,
                    if enters == 1 { "" } else { "s" }
                )));
            }
            if require_hook {
                return Err(NotDelivered(format!(
                    "the agent did not report receiving it within {} s (no UserPromptSubmit \
                     hook ran){}",
                    options.timeout.as_secs(),
                    if screen.trim().is_empty() {
                        String::new()
                    } else {
                        format!("; its screen shows:\n{}", screen.trim_end())
                    }
                )));
            }
            return Ok(Delivered::Submitted);
        }
        std::thread::sleep(options.poll);
    }
}

/// Sends `text` and verifies it as [`verify`] does.
pub fn send_and_verify(
    target: &Target<'_>,
    text: &str,
    require_hook: bool,
    options: &DeliveryOptions,
) -> Result<Delivered, NotDelivered> {
    send(target, text)?;
    verify(target, text, require_hook, options)
}

/// Gives a freshly launched agent its first prompt (unless the runtime put it on the command
/// line) and checks that it arrived, as `check` says.
pub fn deliver_first_prompt(
    target: &Target<'_>,
    text: &str,
    prompt_in_argv: bool,
    check: PromptCheck,
    options: &DeliveryOptions,
) -> Result<Delivered, NotDelivered> {
    if !prompt_in_argv {
        wait_until_ready(target, options)?;
        send(target, text)?;
    }
    match check {
        PromptCheck::Hook => verify(target, text, true, options),
        PromptCheck::Process => {
            // The process must survive the prompt for `settle`, unless it confirms sooner.
            let deadline = Instant::now() + options.settle;
            loop {
                if (target.prompt_seen)() {
                    return Ok(Delivered::Confirmed);
                }
                running(target)?;
                if Instant::now() >= deadline {
                    return Ok(Delivered::Submitted);
                }
                std::thread::sleep(options.poll);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{LaunchContext, OneShot};
    use std::cell::{Cell, RefCell};

    const RULE: &str = "────────────────────────────────────────";

    fn claude_screen(history: &str, input: &str) -> String {
        format!(
            " Claude Code\n\n{history}\n{RULE}\n❯\u{a0}{input}\n{RULE}\n  ⏵⏵ bypass permissions on\n"
        )
    }

    #[test]
    fn the_input_box_is_told_from_submitted_prompts() {
        let typed = claude_screen("", "Check your mail inbox");
        assert!(prompt_still_in_input(&typed, "Check your mail inbox"));
        let submitted = claude_screen("❯ Check your mail inbox", "");
        assert!(!prompt_still_in_input(&submitted, "Check your mail inbox"));
        assert!(!prompt_still_in_input("user@host:~$ Check", "Check"));
        assert!(!prompt_still_in_input(&typed, ""));
    }

    #[test]
    fn the_environment_names_the_agent_and_puts_legio_first_on_path() {
        let host = AgentHost {
            legio_bin: "/opt/legio/bin/legio".into(),
            path: Some("/usr/bin:/bin".into()),
            provider: vec![("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:9".into())],
            sandboxed: true,
            running_as_root: true,
        };
        let agent = AgentName::new("b1").unwrap();
        let env = agent_env(
            &host,
            Path::new("/p"),
            &agent,
            Capability::Builder,
            Some(Path::new("/p/.legio/worktrees/b1")),
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("LEGIO_AGENT_NAME"), Some("b1"));
        assert_eq!(get("LEGIO_ROOT"), Some("/p"));
        assert_eq!(get("LEGIO_CAPABILITY"), Some("builder"));
        assert_eq!(get("LEGIO_WORKTREE_PATH"), Some("/p/.legio/worktrees/b1"));
        assert_eq!(get("PATH"), Some("/opt/legio/bin:/usr/bin:/bin"));
        assert_eq!(get("ANTHROPIC_BASE_URL"), Some("http://127.0.0.1:9"));
        assert_eq!(get("IS_SANDBOX"), Some("1"));
        let root_env = agent_env(
            &AgentHost::default(),
            Path::new("/p"),
            &AgentName::new("coordinator").unwrap(),
            Capability::Coordinator,
            None,
        );
        assert!(!root_env.iter().any(|(k, _)| k == "LEGIO_WORKTREE_PATH"));
        assert!(!root_env.iter().any(|(k, _)| k == "IS_SANDBOX"));
    }

    /// A session whose screen is scripted, recording what is sent to it. Like tmux it refuses
    /// to type into a session that does not exist or whose process has exited.
    struct ScreenMux {
        screens: RefCell<Vec<String>>,
        sent: RefCell<Vec<String>>,
        running: Cell<bool>,
    }

    impl ScreenMux {
        fn new(screens: &[String]) -> Self {
            Self {
                screens: RefCell::new(screens.to_vec()),
                sent: RefCell::new(Vec::new()),
                running: Cell::new(true),
            }
        }
    }

    impl Multiplexer for ScreenMux {
        fn kind(&self) -> &'static str {
            "tmux"
        }
        fn create(&self, _spec: &SessionSpec) -> Result<MuxSession, MuxError> {
            unreachable!("not used")
        }
        fn list(&self) -> Result<Vec<MuxSession>, MuxError> {
            Ok(vec![MuxSession {
                name: "s".into(),
                pid: self.running.get().then_some(7),
                running: self.running.get(),
                exit_code: (!self.running.get()).then_some(2),
            }])
        }
        fn send_text(&self, name: &str, text: &str) -> Result<(), MuxError> {
            if name != "s" {
                return Err(MuxError::NoSuchSession(name.into()));
            }
            if !self.running.get() {
                return Err(MuxError::NotRunning(name.into()));
            }
            self.sent.borrow_mut().push(text.to_owned());
            Ok(())
        }
        fn capture(&self, _name: &str, _lines: usize) -> Result<String, MuxError> {
            let mut screens = self.screens.borrow_mut();
            Ok(if screens.len() > 1 {
                screens.remove(0)
            } else {
                screens[0].clone()
            })
        }
        fn kill(&self, _name: &str) -> Result<(), MuxError> {
            Ok(())
        }
    }

    struct Claudeish;

    impl AgentRuntime for Claudeish {
        fn name(&self) -> &'static str {
            "claude"
        }
        fn launch_plan(&self, _: &LaunchContext, _: &str) -> Result<LaunchPlan, RuntimeError> {
            unreachable!("not used")
        }
        fn readiness(&self, screen: &str) -> Readiness {
            if screen.contains("Enter to confirm") {
                return Readiness::Blocked("the trust dialog".into());
            }
            // `trim` also removes the no-break space Claude Code draws after the mark.
            if screen.lines().any(|l| l.trim() == "❯") {
                Readiness::Ready
            } else {
                Readiness::Starting
            }
        }
        fn one_shot(&self, _: &OneShot) -> Result<String, RuntimeError> {
            unreachable!("not used")
        }
    }

    fn fast() -> DeliveryOptions {
        DeliveryOptions {
            poll: Duration::from_millis(1),
            timeout: Duration::from_millis(200),
            enter_retry_after: Duration::from_millis(20),
            max_enter_retries: 2,
            settle: Duration::from_millis(1),
        }
    }

    #[test]
    fn a_prompt_stuck_in_the_input_box_gets_enter_but_is_never_typed_twice() {
        let stuck = claude_screen("", "[NUDGE from lead] check mail");
        let mux = ScreenMux::new(&[claude_screen("", ""), stuck]);
        let target = Target {
            mux: &mux,
            runtime: &Claudeish,
            session: "s",
            headless: false,
            prompt_seen: &|| false,
        };
        let err =
            send_and_verify(&target, "[NUDGE from lead] check mail", false, &fast()).unwrap_err();
        assert!(err.0.contains("still in the agent's input box"), "{err}");
        let sent = mux.sent.borrow();
        assert_eq!(sent[0], "[NUDGE from lead] check mail");
        assert_eq!(&sent[1..], ["", ""], "only Enter afterwards, twice at most");
    }

    #[test]
    fn the_prompt_hook_confirms_delivery() {
        let mux = ScreenMux::new(&[claude_screen("", "")]);
        let calls = Cell::new(0);
        let seen = || {
            calls.set(calls.get() + 1);
            calls.get() > 3
        };
        let target = Target {
            mux: &mux,
            runtime: &Claudeish,
            session: "s",
            headless: false,
            prompt_seen: &seen,
        };
        let got = deliver_first_prompt(&target, "go", false, PromptCheck::Hook, &fast());
        assert_eq!(got, Ok(Delivered::Confirmed));
        assert_eq!(*mux.sent.borrow(), ["go"]);
    }

    #[test]
    fn without_the_hook_a_required_confirmation_fails_and_says_why() {
        let mux = ScreenMux::new(&[claude_screen("", "")]);
        let target = Target {
            mux: &mux,
            runtime: &Claudeish,
            session: "s",
            headless: false,
            prompt_seen: &|| false,
        };
        let err =
            deliver_first_prompt(&target, "go", true, PromptCheck::Hook, &fast()).unwrap_err();
        assert!(err.0.contains("no UserPromptSubmit hook ran"), "{err}");
        assert!(
            mux.sent.borrow().is_empty(),
            "the prompt was on the command line"
        );
        // Unconfirmed but submitted is enough when the hook is not required.
        let got = verify(&target, "go", false, &fast());
        assert_eq!(got, Ok(Delivered::Submitted));
    }

    #[test]
    fn an_agent_that_exits_is_reported_with_its_last_output() {
        let mux = ScreenMux::new(&["panic: no plan file".to_owned()]);
        mux.running.set(false);
        let target = Target {
            mux: &mux,
            runtime: &Claudeish,
            session: "s",
            headless: false,
            prompt_seen: &|| false,
        };
        let err =
            deliver_first_prompt(&target, "go", true, PromptCheck::Process, &fast()).unwrap_err();
        assert!(err.0.contains("exited with code 2"), "{err}");
        assert!(err.0.contains("no plan file"), "{err}");
    }

    #[test]
    fn a_script_is_confirmed_by_its_hook_or_by_surviving_the_settle_time() {
        let mux = ScreenMux::new(&[String::new()]);
        let mut options = fast();
        options.settle = Duration::from_secs(30);
        let target = Target {
            mux: &mux,
            runtime: &Claudeish,
            session: "s",
            headless: true,
            prompt_seen: &|| true,
        };
        let started = Instant::now();
        let got = deliver_first_prompt(&target, "go", false, PromptCheck::Process, &options);
        assert_eq!(got, Ok(Delivered::Confirmed));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no need to wait out the settle"
        );
        let silent = Target {
            prompt_seen: &|| false,
            ..target
        };
        let got = deliver_first_prompt(&silent, "go", false, PromptCheck::Process, &fast());
        assert_eq!(got, Ok(Delivered::Submitted));
        assert_eq!(
            *mux.sent.borrow(),
            ["go", "go"],
            "written to the input each time"
        );
    }

    #[test]
    fn a_dialog_is_named_and_never_typed_into() {
        let mux =
            ScreenMux::new(&["Do you trust this folder?\n❯ No, exit\nEnter to confirm".to_owned()]);
        let target = Target {
            mux: &mux,
            runtime: &Claudeish,
            session: "s",
            headless: false,
            prompt_seen: &|| false,
        };
        let err =
            deliver_first_prompt(&target, "go", false, PromptCheck::Hook, &fast()).unwrap_err();
        assert!(err.0.contains("the trust dialog"), "{err}");
        assert!(mux.sent.borrow().is_empty(), "nothing typed into a dialog");
        // With the prompt on the command line, the wait for the hook also stops at a dialog.
        let err =
            deliver_first_prompt(&target, "go", true, PromptCheck::Hook, &fast()).unwrap_err();
        assert!(err.0.contains("dialog"), "{err}");
    }

    #[test]
    fn a_screen_that_never_gets_ready_times_out_showing_the_screen() {
        let mux = ScreenMux::new(&["Loading...".to_owned()]);
        let target = Target {
            mux: &mux,
            runtime: &Claudeish,
            session: "s",
            headless: false,
            prompt_seen: &|| false,
        };
        let err =
            deliver_first_prompt(&target, "go", false, PromptCheck::Process, &fast()).unwrap_err();
        assert!(err.0.contains("did not become ready"), "{err}");
        assert!(err.0.contains("Loading..."), "{err}");
        assert!(mux.sent.borrow().is_empty());
    }
}
