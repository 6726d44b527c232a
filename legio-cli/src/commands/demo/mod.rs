//! `legio demo [--agents N] [--keep] [--headless]` (and the global `--dir DIR`): a whole fleet
//! on any machine, end to end, without an API key.
//!
//! In a scratch directory it makes a git repository holding textkit, a small POSIX `sh`
//! program with its tests ([`scratch`]), runs `legio init`, creates the tasks, starts the
//! watchdog (`legio watch`) and the coordinator, and lets the fleet work: the coordinator
//! slings a lead, the lead slings N builders, each builder reads its overlay, changes files in
//! its worktree, runs the tests, commits and sends `worker_done`; the lead sends `merge_ready`
//! for each branch, and the coordinator runs `legio merge --all`. Two builders add to the
//! same file, so one merge needs the mechanical tier; the last builder is killed after its
//! first commit and restarted by the watchdog in the same worktree. The agents are
//! `legio sim-agent` (the `script` runtime), a deterministic stand-in for Claude Code that
//! runs the real hooks with real payloads. Every step goes through the real `legio` command
//! line ([`procs`]), in tmux when it is installed, else (or with `--headless`) as detached
//! processes.
//!
//! Progress goes to stderr while it runs ([`fleet`]); the summary ([`summary`]) to stdout, as
//! JSON with `--json`. Exit status 0 only if every builder's branch landed on `main` and the
//! tests pass on the merged result, and what the demo sets out to show happened (the second
//! change to the shared file merged by the mechanical tier, the killed builder restarted, no
//! agent left a zombie). Unless `--keep`, it ends every agent, the watchdog and the
//! project's tmux server and removes the scratch directory, also on Ctrl-C (SIGINT, SIGTERM;
//! a second one exits at once). With `--keep` only the watchdog is stopped.
//!
//! Decisions: `--dir` is the global `-C/--dir` (an existing, empty directory; the demo removes
//! only what it made there), as a second `--dir` cannot exist beside it; without it the demo
//! uses a new directory under the system's temporary directory. The coordinator is the real
//! root agent; because a coordinator may only spawn leads and scouts, the builders come from
//! a lead, as in a real fleet. The victim's plan is swapped for its resume plan before the
//! kill: the stand-in for a model that reads its recovery prompt and picks up its work.

mod fleet;
mod procs;
mod scratch;
mod summary;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use legio_core::domain::merge::MergeStatus;
use legio_core::ports::{MailFilter, Multiplexer, SessionStore};
use legio_core::{AgentState, Layout};
use legio_tmux::{HeadlessConfig, HeadlessMultiplexer, TmuxConfig, TmuxMultiplexer};

use self::procs::{Interrupt, Runner, Watchdog};
use self::scratch::{Assignment, LEAD, LEAD_TASK};
use self::summary::{AgentLine, Latency, MailTally, MergeLine, Merges, Summary, TestRun};
use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BOLD, Printer, paint};
use crate::stores;
use crate::wiring;

/// The scratch repository's directory name, and so the project's name.
const PROJECT: &str = "textkit";
/// The watchdog's tick during the demo.
const WATCH_INTERVAL_MS: u64 = 250;
/// How long the fleet may take before the demo gives up.
const FLEET_DEADLINE: Duration = Duration::from_secs(150);

/// `legio demo`.
#[derive(Debug, Args)]
#[command(
    after_help = "With the global --dir DIR (an existing, empty directory) the demo \
works there instead of in a new temporary directory."
)]
pub struct DemoArgs {
    /// How many builders, 3 to 8 (two share a file, one is killed and recovered).
    #[arg(long, default_value_t = 3, value_name = "N",
          value_parser = clap::value_parser!(u8).range(scratch::MIN_BUILDERS as i64..=scratch::MAX_BUILDERS as i64))]
    pub agents: u8,
    /// Leave the scratch repository, its agents and their sessions in place.
    #[arg(long)]
    pub keep: bool,
    /// Run the agents as detached processes even when tmux is installed.
    #[arg(long)]
    pub headless: bool,
}

/// Runs `legio demo`.
pub fn run(args: &DemoArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let interrupt = Interrupt::install()?;
    let started = Instant::now();
    let legio = wiring::legio_bin()?;
    let scratch = Scratch::create(ctx)?;
    let tmux_installed = wiring::on_path(ctx.env.path.as_deref(), "tmux");
    let headless = args.headless || !tmux_installed;
    let mut demo = Demo {
        runner: Runner {
            legio,
            repo: scratch.repo(),
            interrupt,
        },
        jobs: scratch::assignments(usize::from(args.agents)),
        scratch,
        headless,
        tmux_installed,
        keep: args.keep,
        watchdog: None,
        started,
    };
    out.progress(format!(
        "{} {} builders, agents {}, in {}",
        paint(BOLD, "legio demo:"),
        args.agents,
        if headless {
            "as detached processes"
        } else {
            "in tmux"
        },
        demo.scratch.root.display()
    ));
    let result = demo.drive(out);
    let problems = demo.teardown(out);
    let mut summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            for p in problems {
                out.warn(p);
            }
            return Err(e);
        }
    };
    summary.ok &= problems.is_empty();
    summary.problems.extend(problems);
    if out.json_mode() {
        out.json(&summary)?;
    } else {
        summary.print(out);
    }
    if summary.ok {
        Ok(())
    } else {
        Err(
            CliError::failure(format!("the demo failed: {}", summary.problems.join("; ")))
                .hint("run it again with --keep to look inside"),
        )
    }
}

/// The directory the demo works in.
struct Scratch {
    root: PathBuf,
    /// Whether the demo made `root` (else it was given empty, and only its contents go).
    made_root: bool,
}

impl Scratch {
    fn create(ctx: &Ctx<'_>) -> CliResult<Self> {
        if ctx.dir_given {
            let root = ctx.cwd.clone();
            let empty = std::fs::read_dir(&root)
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", root.display())))?
                .next()
                .is_none();
            if !empty {
                return Err(CliError::usage(format!(
                    "{} is not empty: the demo needs an empty directory (it removes what it makes there)",
                    root.display()
                ))
                .hint("give a new empty directory, or leave --dir out to use a temporary one"));
            }
            return Ok(Self {
                root,
                made_root: false,
            });
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let root = std::env::temp_dir().join(format!("legio-demo-{}-{stamp}", std::process::id()));
        std::fs::create_dir(&root).map_err(|e| {
            CliError::failure(format!("cannot create {}: {e}", root.display()))
                .hint("give an empty directory with --dir DIR")
        })?;
        let root = std::fs::canonicalize(&root)?;
        Ok(Self {
            root,
            made_root: true,
        })
    }

    fn repo(&self) -> PathBuf {
        self.root.join(PROJECT)
    }

    fn plans(&self) -> PathBuf {
        self.root.join("plans")
    }

    fn hook_times(&self) -> PathBuf {
        self.root.join("hook-times")
    }

    fn no_hooks(&self) -> PathBuf {
        self.root.join("no-git-hooks")
    }

    fn remove(&self) -> std::io::Result<()> {
        if self.made_root {
            return std::fs::remove_dir_all(&self.root);
        }
        for entry in std::fs::read_dir(&self.root)? {
            let path = entry?.path();
            if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(())
    }
}

struct Demo {
    runner: Runner,
    jobs: Vec<Assignment>,
    scratch: Scratch,
    headless: bool,
    tmux_installed: bool,
    keep: bool,
    watchdog: Option<Watchdog>,
    started: Instant,
}

impl Demo {
    fn step(&self, out: &mut Printer, text: impl AsRef<str>) {
        out.progress(format!(
            "[{:>5.1}s] {}",
            self.started.elapsed().as_secs_f64(),
            text.as_ref()
        ));
    }

    fn drive(&mut self, out: &mut Printer) -> CliResult<Summary> {
        self.make_repository()?;
        self.step(
            out,
            format!(
                "made {PROJECT}: a POSIX sh program, one command and its test ({})",
                self.scratch.repo().display()
            ),
        );
        self.runner.legio(&["--quiet", "init"])?;
        self.runner.git(&["add", ".legio"])?;
        self.runner.git(&["commit", "-q", "-m", "legio init"])?;
        self.configure()?;
        self.step(
            out,
            "legio init; agents are legio sim-agent on the script runtime",
        );
        self.create_tasks()?;
        self.step(
            out,
            format!(
                "tasks: {LEAD_TASK} and {}",
                self.jobs
                    .iter()
                    .map(|a| a.task.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        self.start_watchdog()?;
        self.step(
            out,
            format!("watchdog started (legio watch, a tick every {WATCH_INTERVAL_MS} ms)"),
        );
        let coordinator = self
            .runner
            .legio_json(&["coordinator", "start", "--no-attach"])?;
        let place = match coordinator["tmuxSocket"].as_str() {
            Some(socket) if !self.headless => format!("in tmux -L {socket}"),
            _ => "as a detached process".to_owned(),
        };
        self.step(
            out,
            format!("coordinator started {place}; it hands the work to a lead"),
        );

        let layout = Layout::new(self.scratch.repo());
        let sessions = stores::sessions(&layout)?;
        let queue = stores::merge_queue(&layout)?;
        let plans = self.scratch.plans();
        let watched = fleet::Watch {
            runner: &self.runner,
            sessions: &*sessions,
            queue: &*queue,
            watchdog: self
                .watchdog
                .as_mut()
                .expect("the watchdog was started above"),
            jobs: &self.jobs,
            plans: &plans,
            started: self.started,
            deadline: Instant::now() + FLEET_DEADLINE,
        }
        .run(out)?;
        self.step(out, "the coordinator merged; checking the result");
        self.results(&layout, &*sessions, watched)
    }

    /// The repository with textkit's first commit, a local identity and no git hooks of the
    /// user's (a global `core.hooksPath` or signing must not break the agents' commits).
    fn make_repository(&self) -> CliResult {
        let repo = self.scratch.repo();
        for dir in [
            repo.join("lib"),
            repo.join("tests"),
            self.scratch.plans(),
            self.scratch.no_hooks(),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
        }
        for (path, text) in scratch::program_files() {
            let file = repo.join(path);
            std::fs::write(&file, text)
                .map_err(|e| CliError::failure(format!("cannot write {}: {e}", file.display())))?;
            if !path.contains('/') {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        let no_hooks = self.scratch.no_hooks().display().to_string();
        let git = &self.runner;
        git.git(&["init", "-q"])?;
        git.git(&["symbolic-ref", "HEAD", "refs/heads/main"])?;
        for (key, value) in [
            ("user.name", "legio demo"),
            ("user.email", "demo@legio.invalid"),
            ("commit.gpgsign", "false"),
            ("core.hooksPath", no_hooks.as_str()),
        ] {
            git.git(&["config", key, value])?;
        }
        git.git(&["add", "-A"])?;
        git.git(&[
            "commit",
            "-q",
            "-m",
            "textkit: a tiny text tool, with tests",
        ])?;
        Ok(())
    }

    /// `.legio/config.local.yaml`: the sim-agent runtime with its plans and hook log, no
    /// external trackers, the tests as the merge's quality gate, no AI merge tier, no stagger.
    fn configure(&self) -> CliResult {
        let quote = |p: &Path| serde_json::Value::String(p.display().to_string()).to_string();
        let text = format!(
            "# Written by legio demo.\n\
             beads:\n  enabled: false\n\
             mulch:\n  enabled: false\n\
             agents:\n  staggerDelayMs: 0\n  maxAgentsPerLead: {builders}\n\
             merge:\n  aiResolveEnabled: false\n  runQualityGates: true\n\
             qualityGates:\n  test: \"sh test.sh\"\n\
             watchdog:\n  tier0IntervalMs: {WATCH_INTERVAL_MS}\n  bootTimeoutMs: 60000\n\
             runtime:\n  default: script\n  headless: {headless}\n  script:\n    \
             command: [{legio}, \"sim-agent\", \"--plan-dir\", {plans}, \"--hook-log\", {times}]\n",
            builders = self.jobs.len(),
            headless = self.headless,
            legio = quote(&self.runner.legio),
            plans = quote(&self.scratch.plans()),
            times = quote(&self.scratch.hook_times()),
        );
        let path = Layout::new(self.scratch.repo()).file("config.local.yaml");
        std::fs::write(&path, text)
            .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))
    }

    /// The tasks and the agents' plans.
    fn create_tasks(&self) -> CliResult {
        let lead_title = format!("Grow textkit by {} commands", self.jobs.len());
        self.runner.legio(&[
            "--quiet",
            "task",
            "create",
            &lead_title,
            "--id",
            LEAD_TASK,
            "--description",
            "Split into one builder per command; hand each branch on when its tests pass.",
        ])?;
        for a in &self.jobs {
            let description = format!(
                "Add `textkit {}` ({}) in {} with a test in tests/{}.sh; sh test.sh must pass.",
                a.feature.name, a.feature.what, a.file, a.feature.name
            );
            self.runner.legio(&[
                "--quiet",
                "task",
                "create",
                &a.title(),
                "--id",
                &a.task,
                "--parent",
                LEAD_TASK,
                "--description",
                &description,
            ])?;
        }
        let mut plans = vec![
            (
                "coordinator".to_owned(),
                scratch::coordinator_plan(self.jobs.len()),
            ),
            (LEAD.to_owned(), scratch::lead_plan(&self.jobs)),
        ];
        plans.extend(
            self.jobs
                .iter()
                .map(|a| (a.agent.clone(), scratch::builder_plan(a))),
        );
        for (agent, plan) in plans {
            let path = self.scratch.plans().join(format!("{agent}.json"));
            std::fs::write(&path, serde_json::to_string_pretty(&plan)?)
                .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Starts `legio watch` and waits until it runs.
    fn start_watchdog(&mut self) -> CliResult {
        let mut watchdog = self.runner.watchdog(WATCH_INTERVAL_MS)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut said = Vec::new();
        loop {
            self.runner.interrupt.check()?;
            if let Ok(line) = watchdog.lines.recv_timeout(Duration::from_millis(50)) {
                if line.contains("Watchdog running") {
                    break;
                }
                said.push(line);
            }
            if watchdog.exited().is_some() || Instant::now() >= deadline {
                said.extend(watchdog.stop(Duration::from_secs(1)));
                return Err(CliError::failure(format!(
                    "the watchdog did not start: {}",
                    said.join(" / ")
                )));
            }
        }
        self.watchdog = Some(watchdog);
        Ok(())
    }

    /// The summary: agents, mail, merges, the recovery, hook latency and the merged tests.
    fn results(
        &self,
        layout: &Layout,
        sessions: &dyn SessionStore,
        watched: fleet::Watched,
    ) -> CliResult<Summary> {
        let mut problems: Vec<String> = watched.unfinished.into_iter().collect();
        let mut agents = Vec::new();
        let mut rows = sessions.list()?;
        rows.sort_by_key(|r| r.started_at);
        for row in rows {
            let landed = if row.capability.works_at_root() || row.branch_name.is_empty() {
                None
            } else {
                Some(self.runner.git_ok(&[
                    "merge-base",
                    "--is-ancestor",
                    &row.branch_name,
                    "main",
                ])?)
            };
            agents.push(AgentLine {
                name: row.agent_name.to_string(),
                capability: row.capability.to_string(),
                state: row.state.to_string(),
                parent: row.parent_agent.as_ref().map(ToString::to_string),
                task: row.bead_id.clone(),
                branch: row.branch_name.clone(),
                landed,
            });
        }
        for a in &self.jobs {
            match agents.iter().find(|l| l.name == a.agent) {
                Some(l) if l.landed == Some(true) => {}
                Some(l) => problems.push(format!("{} ({}) did not land", l.branch, l.state)),
                None => problems.push(format!("{} never started", a.agent)),
            }
        }
        let messages = stores::mail(layout)?.list(&MailFilter::default())?;
        let mut mail = MailTally {
            total: messages.len(),
            unread: messages.iter().filter(|m| !m.read).count(),
            ..MailTally::default()
        };
        for m in &messages {
            *mail.by_type.entry(m.mail_type.to_string()).or_default() += 1;
        }
        let mut merges = Merges {
            target: "main".to_owned(),
            ..Merges::default()
        };
        for e in stores::merge_queue(layout)?.list(None)? {
            if e.status == MergeStatus::Merged {
                let tier = e.resolved_tier.map_or("-".to_owned(), |t| t.to_string());
                *merges.by_tier.entry(tier).or_default() += 1;
            }
            merges.entries.push(MergeLine {
                branch: e.branch_name,
                agent: e.agent_name,
                status: e.status.to_string(),
                tier: e.resolved_tier.map(|t| t.to_string()),
                error: e.error_message,
            });
        }
        let (passed, output) = self.runner.sh(&["test.sh"])?;
        if !passed {
            problems.push(format!("the tests fail on the merged main: {output}"));
        }
        let shared: Vec<&Assignment> = self.jobs.iter().filter(|a| a.shared).collect();
        if let [first, second, ..] = shared[..] {
            let branch = second.branch();
            let tier = merges
                .entries
                .iter()
                .find(|e| e.branch == branch)
                .and_then(|e| e.tier.as_deref());
            if tier != Some("auto-resolve") {
                problems.push(format!(
                    "{branch} adds to {} after {}, so its merge should have needed the mechanical tier (auto-resolve); it was {}",
                    second.file,
                    first.agent,
                    tier.unwrap_or("not merged")
                ));
            }
        }
        match &watched.recovery {
            Some(r) if r.recovered => {}
            Some(r) => problems.push(format!(
                "{} was killed but the watchdog did not restart it",
                r.agent
            )),
            None => problems.push("no builder was killed (it never made its first commit)".into()),
        }
        let still_running = sessions
            .list()?
            .iter()
            .filter(|r| r.state == AgentState::Zombie)
            .count();
        if still_running > 0 {
            problems.push(format!("{still_running} agent(s) ended as zombie"));
        }
        Ok(Summary {
            ok: problems.is_empty(),
            dir: self.scratch.root.display().to_string(),
            kept: self.keep,
            multiplexer: if self.headless { "headless" } else { "tmux" }.to_owned(),
            wall_time_ms: self.started.elapsed().as_millis() as u64,
            agents,
            mail,
            merges,
            recovery: watched.recovery,
            hook_latency: Latency::read(&self.scratch.hook_times()),
            tests: Some(TestRun { passed, output }),
            problems,
        })
    }

    /// Stops the watchdog; unless `--keep`, ends every agent and the tmux server and removes
    /// the scratch directory. Returns what could not be cleaned.
    fn teardown(&mut self, out: &mut Printer) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(w) = self.watchdog.take() {
            w.stop(Duration::from_secs(10));
        }
        let repo = self.scratch.repo();
        if self.keep {
            let attach = if self.headless {
                String::new()
            } else {
                format!(
                    ", `tmux -L {} attach`",
                    legio_tmux::socket_name(PROJECT, &repo)
                )
            };
            self.step(
                out,
                format!(
                    "kept {root}: look with `legio -C {repo} status`{attach}; end it with `legio -C {repo} stop --all && legio -C {repo} down`",
                    root = self.scratch.root.display(),
                    repo = repo.display()
                ),
            );
            return problems;
        }
        self.step(
            out,
            "cleaning up: agents, sessions, worktrees, the scratch directory",
        );
        if Layout::new(&repo).legio_dir().is_dir() {
            // A fresh runner: the interrupted one would refuse to run anything.
            let runner = Runner {
                interrupt: Interrupt::never(),
                ..self.runner.clone()
            };
            for args in [["--quiet", "stop", "--all"], ["--quiet", "down", ""]] {
                let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
                if let Err(e) = runner.legio(&args) {
                    problems.push(e.message);
                }
            }
            problems.extend(end_leftovers(&repo, self.tmux_installed));
        }
        if let Err(e) = self.scratch.remove() {
            problems.push(format!(
                "cannot remove {}: {e}",
                self.scratch.root.display()
            ));
        }
        problems
    }
}

/// Ends any session `legio stop` missed (one started while the demo was interrupted) and the
/// project's tmux server.
fn end_leftovers(repo: &Path, tmux_installed: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let layout = Layout::new(repo);
    let headless = HeadlessMultiplexer::for_project(&layout, HeadlessConfig::default());
    let tmux = tmux_installed.then(|| TmuxMultiplexer::new(PROJECT, repo, TmuxConfig::default()));
    let mut muxes: Vec<&dyn Multiplexer> = vec![&headless];
    if let Some(t) = &tmux {
        muxes.push(t);
    }
    for mux in muxes {
        for session in mux.list().unwrap_or_default() {
            if let Err(e) = mux.kill(&session.name) {
                problems.push(format!("cannot end the session {}: {e}", session.name));
            }
        }
    }
    if let Some(Err(e)) = tmux.map(|t| t.kill_server()) {
        problems.push(format!("cannot stop the project's tmux server: {e}"));
    }
    problems
}
