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
//! more signals do not cut the cleanup short). With `--keep` only the watchdog is stopped.
//!
//! Modules: [`scratch`] (textkit, the tasks' features and the agents' plans), [`setup`] (the
//! repository, `legio init`, configuration, tasks, the watchdog), [`procs`] (child processes
//! and signals), [`fleet`] (watching the fleet, the kill), [`results`] (the figures and the
//! checks), [`summary`] (the report) and [`cleanup`].
//!
//! Decisions: `--dir` is the global `-C/--dir` (an existing, empty directory; the demo removes
//! only what it made there), as a second `--dir` cannot exist beside it; without it the demo
//! uses a new directory under the system's temporary directory. The coordinator is the real
//! root agent; because a coordinator may only spawn leads and scouts, the builders come from
//! a lead, as in a real fleet. The victim's plan is swapped for its resume plan before the
//! kill: the stand-in for a model that reads its recovery prompt and picks up its work.

mod cleanup;
mod fleet;
mod procs;
mod results;
mod scratch;
mod setup;
mod summary;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use legio_core::Layout;

use self::procs::{Interrupt, Runner, Watchdog};
use self::scratch::{Assignment, LEAD_TASK};
use self::summary::Summary;
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
        let root = ctx
            .env
            .temp_dir
            .join(format!("legio-demo-{}-{stamp}", std::process::id()));
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
}
