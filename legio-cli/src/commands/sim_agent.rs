//! `legio sim-agent --plan FILE | --plan-dir DIR`: a deterministic stand-in for Claude Code,
//! **for tests and the demo only** (hidden from help).
//!
//! The `script` runtime runs it in an agent's worktree with the agent's environment
//! (`runtime.script.command: [<legio>, sim-agent, --plan-dir, <dir>]`). From legio's point of
//! view it behaves like Claude Code:
//! - it runs the hook commands of `.claude/settings.json` and `.claude/settings.local.json`
//!   through `sh -c`, each with a payload of the real shape on stdin (`session_id`,
//!   `transcript_path`, `cwd`, `hook_event_name`, `prompt_id`, `tool_use_id`, ...), for
//!   SessionStart, UserPromptSubmit, PreToolUse, PostToolUse / PostToolUseFailure, Stop and
//!   SessionEnd, and reads their output as Claude Code does (a PreToolUse deny skips the tool
//!   call; `additionalContext` is context it received; a Stop `block` keeps it going);
//! - it reads its instructions (`.claude/CLAUDE.md`) when it starts;
//! - it takes prompts one line at a time on stdin (its first prompt, nudges), each a turn
//!   that ends with the Stop hook;
//! - it performs its plan's steps as tool calls: `write` and `append` (Write / Edit),
//!   `run` and `commit` (Bash), `mail` (Bash running `legio mail send`), `sleep_ms`,
//!   `wait_mail` (tool calls until a hook delivers mail), `wait_prompt` (end the turn, wait
//!   for the next prompt) and `exit` (crash with a code).
//!
//! The plan is JSON: `{"steps": [...], "then": "wait" | "exit"}`; with `--plan-dir` it is
//! `<dir>/<agent>.json`, else `<dir>/default.json`. Strings may use `${AGENT}`, `${TASK}`,
//! `${BRANCH}` and `${PARENT}`, read from `legio agents discover`. It logs what it does on
//! stdout (the session's screen or log). With `--hook-log DIR` it also appends one JSON line
//! per hook command it ran (`{"agent", "event", "ms"}`, the command's wall time) to
//! `DIR/<agent>.jsonl`: the demo's hook latency figures.

use std::collections::BTreeMap;
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use legio_core::ops::settings::shell_quote;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::Printer;

/// `legio sim-agent`.
#[derive(Debug, Args)]
pub struct SimAgentArgs {
    /// The plan to follow.
    #[arg(long, conflicts_with = "plan_dir")]
    pub plan: Option<PathBuf>,
    /// A directory of plans: `<agent>.json`, else `default.json`.
    #[arg(long)]
    pub plan_dir: Option<PathBuf>,
    /// Append each hook command's wall time to `<DIR>/<agent>.jsonl`.
    #[arg(long, value_name = "DIR")]
    pub hook_log: Option<PathBuf>,
}

/// What the agent does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The steps of its first turn (and of later turns after `wait_prompt`).
    #[serde(default)]
    pub steps: Vec<PlanStep>,
    /// After the steps: `wait` for more prompts until stdin closes (the default), or `exit`.
    #[serde(default)]
    pub then: Then,
}

/// What happens after the last step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Then {
    /// Keep taking prompts, one turn each, until stdin closes.
    #[default]
    Wait,
    /// End the session.
    Exit,
}

/// One step of a plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PlanStep {
    /// Write a file (the Write tool).
    Write {
        /// Relative to the worktree, or absolute.
        path: String,
        /// Its content.
        content: String,
    },
    /// Append to a file (the Edit tool).
    Append {
        /// Relative to the worktree, or absolute.
        path: String,
        /// What to add.
        content: String,
    },
    /// Run a shell command (the Bash tool).
    Run(String),
    /// Commit the files written so far (the Bash tool running git).
    Commit(String),
    /// Send mail (the Bash tool running `legio mail send`).
    Mail(MailStep),
    /// Pause.
    SleepMs(u64),
    /// Make cheap tool calls until a hook delivers mail, for at most this long; with `type`
    /// and `count`, until this session has been delivered `count` messages of that type.
    WaitMail {
        /// The limit.
        timeout_ms: u64,
        /// The mail type to count (`worker_done`, `merge_ready`, ...).
        #[serde(rename = "type", default)]
        mail_type: Option<String>,
        /// How many messages of `type` the session must have been delivered in all.
        #[serde(default = "one")]
        count: usize,
    },
    /// End the turn and wait for the next prompt on stdin.
    WaitPrompt,
    /// Exit at once with this code, without ending the session properly (a crash).
    Exit(i32),
}

/// A `mail` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailStep {
    /// The recipient; `parent` (the default) is the agent's parent.
    #[serde(default = "parent")]
    pub to: String,
    /// The type (`status`, `worker_done`, ...).
    #[serde(rename = "type", default = "status")]
    pub mail_type: String,
    /// The subject.
    pub subject: String,
    /// The body.
    #[serde(default)]
    pub body: String,
    /// The payload; `worker_done` without one gets the task, branch and files written.
    #[serde(default)]
    pub payload: Option<Value>,
}

fn parent() -> String {
    "parent".into()
}

fn status() -> String {
    "status".into()
}

fn one() -> usize {
    1
}

/// Runs `legio sim-agent`.
pub fn run(args: &SimAgentArgs, ctx: &Ctx<'_>, _out: &mut Printer) -> CliResult {
    let agent = ctx.env.agent_name.clone().unwrap_or_else(|| "sim".into());
    let plan_path = match (&args.plan, &args.plan_dir) {
        (Some(p), _) => p.clone(),
        (None, Some(dir)) => {
            let own = dir.join(format!("{agent}.json"));
            if own.is_file() {
                own
            } else {
                dir.join("default.json")
            }
        }
        (None, None) => return Err(CliError::usage("give --plan FILE or --plan-dir DIR")),
    };
    let text = std::fs::read_to_string(&plan_path).map_err(|e| {
        CliError::failure(format!("cannot read the plan {}: {e}", plan_path.display()))
    })?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "the plan {} is not valid: {e}",
            plan_path.display()
        ))
    })?;
    let mut sim = Sim::new(agent, ctx.cwd.clone(), ctx.env.home.clone());
    sim.hook_log.clone_from(&args.hook_log);
    sim.run(&plan);
    Ok(())
}

/// What a hook said.
#[derive(Debug, Default)]
struct HookResult {
    deny: Option<String>,
    block: Option<String>,
    context: Vec<String>,
}

struct Sim {
    agent: String,
    cwd: PathBuf,
    session_id: String,
    transcript: String,
    prompt_id: String,
    tool_counter: u32,
    written: Vec<String>,
    identity: Option<BTreeMap<&'static str, String>>,
    mail_seen: usize,
    /// Messages delivered so far, by mail type.
    delivered: BTreeMap<String, usize>,
    hook_log: Option<PathBuf>,
}

impl Sim {
    fn new(agent: String, cwd: PathBuf, home: Option<PathBuf>) -> Self {
        let session_id = format!(
            "sim-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        let dashed: String = cwd
            .to_string_lossy()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let transcript = home
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join(".claude/projects")
            .join(dashed)
            .join(format!("{session_id}.jsonl"))
            .display()
            .to_string();
        Self {
            agent,
            cwd,
            session_id,
            transcript,
            prompt_id: String::new(),
            tool_counter: 0,
            written: Vec::new(),
            identity: None,
            mail_seen: 0,
            delivered: BTreeMap::new(),
            hook_log: None,
        }
    }

    fn log(&self, what: impl AsRef<str>) {
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "[sim-agent {}] {}", self.agent, what.as_ref());
        let _ = stdout.flush();
    }

    fn run(&mut self, plan: &Plan) {
        let start = self.hook("SessionStart", &json!({ "source": "startup" }), None);
        self.log(format!(
            "session started; {} context line(s) from hooks",
            start.context.len()
        ));
        match std::fs::read_to_string(self.cwd.join(".claude/CLAUDE.md")) {
            Ok(text) => self.log(format!("read .claude/CLAUDE.md ({} bytes)", text.len())),
            Err(_) => self.log("no .claude/CLAUDE.md here"),
        }
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines();
        let Some(Ok(first)) = lines.next() else {
            self.end_session("other");
            return;
        };
        self.prompt(&first);
        for step in &plan.steps {
            if let PlanStep::WaitPrompt = step {
                self.stop();
                let Some(Ok(line)) = lines.next() else {
                    self.end_session("other");
                    return;
                };
                self.prompt(&line);
                continue;
            }
            self.step(step);
        }
        self.stop();
        if plan.then == Then::Wait {
            for line in lines.map_while(Result::ok) {
                self.prompt(&line);
                self.stop();
            }
            self.end_session("other");
        } else {
            self.end_session("prompt_input_exit");
        }
    }

    fn prompt(&mut self, text: &str) {
        self.prompt_id = format!("prompt-{}", self.tool_counter);
        let r = self.hook("UserPromptSubmit", &json!({ "prompt": text }), None);
        self.note_mail(&r);
        self.log(format!("prompt: {text}"));
    }

    fn stop(&mut self) {
        let mut active = false;
        for _ in 0..3 {
            let r = self.hook(
                "Stop",
                &json!({ "stop_hook_active": active, "last_assistant_message": "Turn finished." }),
                None,
            );
            match r.block {
                Some(reason) => {
                    self.mail_seen += usize::from(reason.contains("new message"));
                    self.count_types(&reason);
                    self.log("a Stop hook kept the turn going (new mail)");
                    active = true;
                }
                None => break,
            }
        }
        self.log("turn ended");
    }

    fn end_session(&mut self, reason: &str) {
        self.hook("SessionEnd", &json!({ "reason": reason }), None);
        self.log(format!("session ended ({reason})"));
    }

    /// Counts the messages of an injected mail text by type (`--- From: x (type) ---`).
    fn count_types(&mut self, text: &str) {
        for mail_type in text.lines().filter_map(header_type) {
            *self.delivered.entry(mail_type.to_owned()).or_default() += 1;
        }
    }

    fn note_mail(&mut self, r: &HookResult) {
        for c in &r.context {
            if c.contains("new message") {
                self.mail_seen += 1;
                self.count_types(c);
                self.log(format!(
                    "mail delivered: {}",
                    c.lines().next().unwrap_or_default()
                ));
            }
        }
    }

    /// The `${...}` values, read once from `legio agents discover` when first needed.
    fn identity(&mut self) -> &BTreeMap<&'static str, String> {
        if self.identity.is_none() {
            let mut map = BTreeMap::new();
            map.insert("AGENT", self.agent.clone());
            let row = Command::new(std::env::current_exe().unwrap_or_else(|_| "legio".into()))
                .args(["--json", "agents", "discover", "--all"])
                .current_dir(&self.cwd)
                .stdin(Stdio::null())
                .output()
                .ok()
                .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
                .and_then(|v| {
                    v.as_array()?
                        .iter()
                        .find(|r| r["agentName"] == self.agent.as_str())
                        .cloned()
                });
            let field = |key: &str| {
                row.as_ref()
                    .and_then(|r| r[key].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            map.insert("TASK", field("beadId"));
            map.insert("BRANCH", field("branchName"));
            let parent = field("parentAgent");
            map.insert(
                "PARENT",
                if parent.is_empty() {
                    "orchestrator".to_owned()
                } else {
                    parent
                },
            );
            self.identity = Some(map);
        }
        self.identity.get_or_insert_with(BTreeMap::new)
    }

    fn expand(&mut self, text: &str) -> String {
        if !text.contains("${") {
            return text.to_owned();
        }
        let mut out = text.to_owned();
        for (key, value) in self.identity().clone() {
            out = out.replace(&format!("${{{key}}}"), &value);
        }
        out
    }

    fn abs(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.cwd.join(p)
        }
    }

    fn step(&mut self, step: &PlanStep) {
        match step {
            PlanStep::Write { path, content } => {
                let (path, content) = (self.expand(path), self.expand(content));
                let file = self.abs(&path);
                let input = json!({ "file_path": file, "content": content });
                self.tool("Write", &input, |_| {
                    write_file(&file, &content, false)
                        .map(|()| json!({ "type": "create", "filePath": file, "content": content }))
                });
                self.written.push(path);
            }
            PlanStep::Append { path, content } => {
                let (path, content) = (self.expand(path), self.expand(content));
                let file = self.abs(&path);
                let input = json!({ "file_path": file, "old_string": "", "new_string": content });
                self.tool("Edit", &input, |_| {
                    write_file(&file, &content, true).map(|()| json!({ "filePath": file }))
                });
                self.written.push(path);
            }
            PlanStep::Run(command) => {
                let command = self.expand(command);
                self.bash(&command);
            }
            PlanStep::Commit(message) => {
                let message = self.expand(message);
                let files: std::collections::BTreeSet<String> =
                    self.written.iter().map(|f| shell_quote(f)).collect();
                let files: Vec<String> = files.into_iter().collect();
                let command = format!(
                    "git add -- {} && git commit -q -m {}",
                    files.join(" "),
                    shell_quote(&message)
                );
                self.bash(&command);
            }
            PlanStep::Mail(m) => self.mail(m),
            PlanStep::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            PlanStep::WaitMail {
                timeout_ms,
                mail_type,
                count,
            } => {
                let before = self.mail_seen;
                let done = |sim: &Self| match mail_type {
                    Some(t) => sim.delivered.get(t).copied().unwrap_or(0) >= *count,
                    None => sim.mail_seen != before,
                };
                let deadline = Instant::now() + Duration::from_millis(*timeout_ms);
                while !done(self) && Instant::now() < deadline {
                    self.bash("true");
                    std::thread::sleep(Duration::from_millis(100));
                }
                if !done(self) {
                    self.log("waited for mail; not all of it came");
                }
            }
            PlanStep::WaitPrompt => {}
            PlanStep::Exit(code) => {
                self.log(format!("crashing with exit code {code}"));
                std::process::exit(*code);
            }
        }
    }

    fn mail(&mut self, m: &MailStep) {
        let to = if m.to == "parent" {
            self.identity()["PARENT"].clone()
        } else {
            self.expand(&m.to)
        };
        let subject = self.expand(&m.subject);
        let body = self.expand(&m.body);
        let payload = match (&m.payload, m.mail_type.as_str()) {
            (Some(p), _) => Some(p.to_string()),
            (None, "worker_done") => {
                let id = self.identity().clone();
                Some(
                    json!({
                        "beadId": id["TASK"],
                        "branch": id["BRANCH"],
                        "exitCode": 0,
                        "filesModified": self.written,
                    })
                    .to_string(),
                )
            }
            (None, _) => None,
        };
        let mut command = format!(
            "legio mail send --to {} --subject {} --body {} --type {} --agent {}",
            shell_quote(&to),
            shell_quote(&subject),
            shell_quote(&body),
            shell_quote(&m.mail_type),
            shell_quote(&self.agent),
        );
        if let Some(p) = payload {
            command.push_str(" --payload ");
            command.push_str(&shell_quote(&p));
        }
        self.bash(&command);
    }

    fn bash(&mut self, command: &str) {
        let cwd = self.cwd.clone();
        let input = json!({ "command": command, "description": "sim-agent step" });
        self.tool("Bash", &input, |_| {
            let out = Command::new("sh")
                .args(["-c", command])
                .current_dir(&cwd)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run sh: {e}"))?;
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if out.status.success() {
                Ok(json!({ "stdout": stdout, "stderr": stderr, "interrupted": false, "isImage": false }))
            } else {
                Err(format!(
                    "Exit code {}\n{stderr}",
                    out.status.code().unwrap_or(-1)
                ))
            }
        });
    }

    /// One tool call: PreToolUse (a deny skips it), the action, then PostToolUse or
    /// PostToolUseFailure.
    fn tool(
        &mut self,
        name: &str,
        input: &Value,
        action: impl FnOnce(&Value) -> Result<Value, String>,
    ) {
        self.tool_counter += 1;
        let id = format!("toolu_sim_{:04}", self.tool_counter);
        let call = json!({ "tool_name": name, "tool_input": input.clone(), "tool_use_id": id });
        let pre = self.hook("PreToolUse", &call, Some(name));
        if let Some(reason) = pre.deny {
            self.log(format!("{name} denied by the guard: {reason}"));
            return;
        }
        let started = Instant::now();
        let result = action(input);
        let mut payload = call;
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        payload["duration_ms"] = json!(elapsed);
        let post = match &result {
            Ok(response) => {
                payload["tool_response"] = response.clone();
                self.hook("PostToolUse", &payload, Some(name))
            }
            Err(error) => {
                payload["error"] = json!(error);
                self.hook("PostToolUseFailure", &payload, Some(name))
            }
        };
        self.note_mail(&post);
        match result {
            Ok(_) => self.log(format!("{name}: {}", summary(input))),
            Err(e) => self.log(format!(
                "{name} failed: {}",
                e.lines().next().unwrap_or_default()
            )),
        }
    }

    /// Runs every matching hook command of `event` with the payload on stdin.
    fn hook(&self, event: &str, extra: &Value, tool: Option<&str>) -> HookResult {
        let mut payload = json!({
            "session_id": self.session_id,
            "transcript_path": self.transcript,
            "cwd": self.cwd,
            "hook_event_name": event,
            "permission_mode": "bypassPermissions",
        });
        if event != "SessionStart" && event != "SessionEnd" {
            payload["prompt_id"] = json!(self.prompt_id);
        }
        if let (Some(obj), Some(more)) = (payload.as_object_mut(), extra.as_object()) {
            obj.extend(more.clone());
        }
        let input = payload.to_string();
        let mut result = HookResult::default();
        for command in hook_commands(&self.cwd, event, tool) {
            let started = Instant::now();
            let Ok(mut child) = Command::new("sh")
                .args(["-c", &command])
                .current_dir(&self.cwd)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
            else {
                self.log(format!("cannot run the {event} hook {command}"));
                continue;
            };
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(input.as_bytes());
            }
            let Ok(out) = child.wait_with_output() else {
                continue;
            };
            self.log_hook_time(event, started.elapsed());
            let stdout = String::from_utf8_lossy(&out.stdout);
            if out.status.code() == Some(2) {
                result.deny = Some(String::from_utf8_lossy(&out.stderr).trim().to_owned());
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(stdout.trim()) else {
                if !stdout.trim().is_empty() && matches!(event, "SessionStart" | "UserPromptSubmit")
                {
                    result.context.push(stdout.trim().to_owned());
                }
                continue;
            };
            let specific = &v["hookSpecificOutput"];
            if specific["permissionDecision"] == "deny" {
                result.deny = Some(
                    specific["permissionDecisionReason"]
                        .as_str()
                        .unwrap_or("denied")
                        .to_owned(),
                );
            }
            if let Some(c) = specific["additionalContext"].as_str() {
                result.context.push(c.to_owned());
            }
            if v["decision"] == "block" {
                result.block = Some(v["reason"].as_str().unwrap_or_default().to_owned());
            }
        }
        result
    }
}

impl Sim {
    /// Appends one hook command's wall time to the `--hook-log` file, if any.
    fn log_hook_time(&self, event: &str, took: Duration) {
        let Some(dir) = &self.hook_log else { return };
        let line =
            json!({ "agent": self.agent, "event": event, "ms": took.as_secs_f64() * 1000.0 });
        let written = std::fs::create_dir_all(dir).and_then(|()| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("{}.jsonl", self.agent)))?;
            f.write_all(format!("{line}\n").as_bytes())
        });
        if let Err(e) = written {
            self.log(format!(
                "cannot write the hook log in {}: {e}",
                dir.display()
            ));
        }
    }
}

/// The mail type of an injected message's header line `--- From: <sender> (<type>) ---`.
fn header_type(line: &str) -> Option<&str> {
    let inner = line.strip_prefix("--- From: ")?.strip_suffix(") ---")?;
    inner.rsplit_once('(').map(|(_, t)| t)
}

/// The hook commands of `event` (matching `tool` for tool events) in `.claude/settings.json`
/// and `.claude/settings.local.json` under `cwd`, in file order.
fn hook_commands(cwd: &Path, event: &str, tool: Option<&str>) -> Vec<String> {
    let mut commands = Vec::new();
    for file in ["settings.json", "settings.local.json"] {
        let Ok(text) = std::fs::read_to_string(cwd.join(".claude").join(file)) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for group in v["hooks"][event].as_array().into_iter().flatten() {
            let matcher = group["matcher"].as_str().unwrap_or_default();
            let applies = matcher.is_empty()
                || matcher == "*"
                || tool.is_some_and(|t| matcher.split('|').any(|m| m == t));
            if !applies {
                continue;
            }
            for h in group["hooks"].as_array().into_iter().flatten() {
                if let Some(c) = h["command"].as_str() {
                    commands.push(c.to_owned());
                }
            }
        }
    }
    commands
}

fn write_file(path: &Path, content: &str, append: bool) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(content.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn summary(input: &Value) -> String {
    input["command"]
        .as_str()
        .or_else(|| input["file_path"].as_str())
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_with_every_step_and_reject_typos() {
        let plan: Plan = serde_json::from_str(
            r#"{"steps": [
                {"write": {"path": "a.txt", "content": "x"}},
                {"append": {"path": "a.txt", "content": "y"}},
                {"run": "true"},
                {"commit": "add a"},
                {"mail": {"type": "worker_done", "subject": "done"}},
                {"sleep_ms": 5},
                {"wait_mail": {"timeout_ms": 10}},
                {"wait_mail": {"timeout_ms": 10, "type": "merge_ready", "count": 3}},
                "wait_prompt",
                {"exit": 3}
            ], "then": "exit"}"#,
        )
        .unwrap();
        assert_eq!(plan.steps.len(), 10);
        let PlanStep::WaitMail {
            mail_type, count, ..
        } = &plan.steps[7]
        else {
            panic!("{:?}", plan.steps[7])
        };
        assert_eq!((mail_type.as_deref(), *count), (Some("merge_ready"), 3));
        assert_eq!(plan.then, Then::Exit);
        let PlanStep::Mail(m) = &plan.steps[4] else {
            panic!("{:?}", plan.steps[4])
        };
        assert_eq!(
            (m.to.as_str(), m.mail_type.as_str()),
            ("parent", "worker_done")
        );
        assert!(serde_json::from_str::<Plan>(r#"{"steps": [{"wirte": {}}]}"#).is_err());
        assert!(serde_json::from_str::<Plan>(r#"{"stepz": []}"#).is_err());
    }

    #[test]
    fn injected_mail_is_counted_by_type() {
        assert_eq!(
            header_type("--- From: b-1 (worker_done) ---"),
            Some("worker_done")
        );
        assert_eq!(
            header_type("--- From: lead [HIGH] (merge_ready) ---"),
            Some("merge_ready")
        );
        assert_eq!(header_type("Subject: (not) ---"), None);
        let mut sim = Sim::new("lead".into(), PathBuf::from("/tmp"), None);
        sim.count_types("📬 You have 2 new messages:\n\n--- From: b1 (worker_done) ---\nSubject: x\n\n--- From: b2 (worker_done) ---\n");
        assert_eq!(sim.delivered.get("worker_done"), Some(&2));
    }

    #[test]
    fn hook_commands_follow_matchers_in_both_settings_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".claude");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("settings.json"),
            r#"{"hooks": {"PreToolUse": [{"matcher": "Write|Edit", "hooks": [{"type": "command", "command": "guard"}]}]}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("settings.local.json"),
            r#"{"hooks": {"PreToolUse": [{"matcher": "", "hooks": [{"type": "command", "command": "legio hook PreToolUse"}]}]}}"#,
        )
        .unwrap();
        assert_eq!(
            hook_commands(tmp.path(), "PreToolUse", Some("Edit")),
            ["guard", "legio hook PreToolUse"]
        );
        assert_eq!(
            hook_commands(tmp.path(), "PreToolUse", Some("Bash")),
            ["legio hook PreToolUse"]
        );
        assert!(hook_commands(tmp.path(), "Stop", None).is_empty());
    }
}
