//! `legio watch [--interval MS] [--background] [--status] [--stop] [--once] [--recover AGENT]`:
//! the watchdog daemon (Tier 0, and Tier 1 triage when `watchdog.tier1Enabled`).
//!
//! One daemon per project: it holds a lock on `.legio/watchdog.pid` (see
//! `legio_watchdog::daemon`), so a second start says which pid runs, and a stale file from a
//! crash blocks nobody. SIGINT and SIGTERM stop it cleanly after its current tick. Each action
//! of a tick is printed as one timestamped line; a quiet tick prints nothing.
//!
//! It watches the sessions of both backends (tmux and headless, [`FleetMux`]) and restarts a
//! dead agent in its existing worktree through [`FleetRespawner`] (`legio_core::ops::respawn`),
//! on the backend and with the model it ran. `--recover AGENT` does the same by hand for a dead agent the
//! watchdog gave up on (or could not restart), and lets the watchdog count its restarts afresh.
//!
//! [`FleetMux`]: crate::wiring::FleetMux

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use legio_core::config::{Config, RuntimeKind};
use legio_core::layout::Layout;
use legio_core::ops::checkpoint;
use legio_core::ops::launch::Delivered;
use legio_core::ports::{AgentRuntime, Multiplexer as _, SessionStore as _};
use legio_core::time::{Clock, Timestamp};
use legio_core::{AgentName, AgentState};
use legio_tmux::{ClaudeRuntime, ProcfsProbe, ScriptRuntime};
use legio_watchdog::daemon::{self, DaemonError, PidLock};
use legio_watchdog::recovery::{attempts, restart_prompt};
use legio_watchdog::{Action, Policy, Ports, TickReport, Watchdog, WatchdogError};
use serde_json::json;

use crate::context::{Ctx, load_config};
use crate::error::{CliError, CliResult};
use crate::output::{CYAN, DIM, GREEN, Printer, RED, YELLOW, paint};
use crate::wiring::{self, FleetRespawner, Parts};

/// The shortest interval accepted: legio 0.1.0 turned `0` or `abc` into a 1 ms tick storm.
const MIN_INTERVAL_MS: u64 = 100;
/// The longest interval accepted (one day).
const MAX_INTERVAL_MS: u64 = 86_400_000;
/// How long `--background` waits for the daemon to take its lock.
const START_WAIT: Duration = Duration::from_secs(10);
/// How long `--stop` waits for the daemon to finish its tick and exit.
const STOP_WAIT: Duration = Duration::from_secs(90);

/// `legio watch`.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Milliseconds between ticks, 100 to 86400000 [default: watchdog.tier0IntervalMs]
    #[arg(long, value_name = "MS", value_parser = parse_interval)]
    pub interval: Option<u64>,
    /// Start the daemon in the background (output in .legio/logs/watchdog.log) and return
    #[arg(long, conflicts_with_all = ["status", "stop", "once"])]
    pub background: bool,
    /// Say whether a watchdog runs for this project, and its pid
    #[arg(long, conflicts_with_all = ["stop", "once"])]
    pub status: bool,
    /// Stop the running watchdog and wait until it has stopped
    #[arg(long, conflicts_with = "once")]
    pub stop: bool,
    /// Run a single tick and exit
    #[arg(long)]
    pub once: bool,
    /// Restart a dead (zombie) agent now, in its worktree and from its checkpoint, as the
    /// watchdog's recovery does (its restart count starts again)
    #[arg(long, value_name = "AGENT", conflicts_with_all = ["background", "status", "stop", "once", "interval"])]
    pub recover: Option<String>,
}

/// Reads `--interval`: a whole number of milliseconds within bounds.
fn parse_interval(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "expected a whole number of milliseconds from {MIN_INTERVAL_MS} to {MAX_INTERVAL_MS}, got {text:?}"
        )
    };
    let ms: u64 = text.trim().parse().map_err(|_| bad())?;
    if (MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(bad())
    }
}

/// Runs `legio watch`.
pub fn run(args: &WatchArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    if args.status {
        return status(&layout, out);
    }
    if args.stop {
        return stop(&layout, out);
    }
    let config = load_config(&layout, out)?;
    if let Some(agent) = &args.recover {
        return recover(agent, ctx, &layout, config, out);
    }
    let interval_ms = match args.interval {
        Some(ms) => ms,
        None => u64::try_from(config.watchdog.tier0_interval.as_millis()).unwrap_or(u64::MAX),
    };
    if args.background {
        return start_background(&layout, interval_ms, out);
    }
    if !config.watchdog.tier0_enabled {
        out.warn("watchdog.tier0Enabled is false in the configuration; watching anyway, as asked");
    }
    // Handle the signals before taking the lock: whoever sees the lock held may signal us.
    let stop_rx = (!args.once).then(stop_on_signals).transpose()?;
    let _lock = PidLock::acquire(&layout.watchdog_pid(), std::process::id())
        .map_err(|e| daemon_error(&e, &layout))?;
    // Both backends' sessions are watched; dead agents are restarted where new ones start.
    let project = Parts::with_config(ctx, out, layout.clone(), config, false)?;
    let config = &project.config;
    let respawner = FleetRespawner::new(ctx, &project)?;
    let triage = config
        .watchdog
        .tier1_enabled
        .then(|| triage_runtime(config));
    let probe = ProcfsProbe;
    let ports = Ports {
        layout: &layout,
        clock: &ctx.clock,
        sessions: &project.stores.sessions,
        mail: &project.stores.mail,
        events: &project.stores.events,
        mux: &project.mux,
        probe: &probe,
        triage: triage.as_deref(),
        respawner: Some(&respawner),
    };
    let mut watchdog = Watchdog::new(Policy::from(&config.watchdog));

    let Some(stop_rx) = stop_rx else {
        let report = watchdog.tick(&ports).map_err(|e| tick_error(&e))?;
        print_report(out, &report, &ctx.clock);
        return Ok(());
    };

    out.info(format!(
        "Watchdog running (interval: {interval_ms}ms, pid {}, {} sessions)",
        std::process::id(),
        project.mux.kind()
    ));
    out.info("Press Ctrl+C to stop.");
    out.info("");
    out.flush();
    daemon::run(
        &mut watchdog,
        &ports,
        Duration::from_millis(interval_ms),
        &stop_rx,
        |result| {
            match result {
                Ok(report) => print_report(out, &report, &ctx.clock),
                Err(e) => out.line(format!(
                    "[{}] {}",
                    clock_time(ctx.clock.now()),
                    paint(RED, format!("tick failed: {e}"))
                )),
            }
            out.flush();
        },
    );
    out.info("Watchdog stopped.");
    Ok(())
}

/// `--recover AGENT`: restarts a dead agent by hand.
fn recover(
    name: &str,
    ctx: &Ctx<'_>,
    layout: &Layout,
    config: Config,
    out: &mut Printer,
) -> CliResult {
    let agent = AgentName::new(name)?;
    let project = Parts::with_config(ctx, out, layout.clone(), config, false)?;
    let respawner = FleetRespawner::new(ctx, &project)?;
    let row = project.stores.sessions.get(&agent)?.ok_or_else(|| {
        CliError::failure(format!("no agent named {agent} is registered"))
            .hint("`legio status` lists the agents")
    })?;
    if row.state != AgentState::Zombie {
        return Err(CliError::failure(format!(
            "{agent} is {}; only a dead (zombie) agent is restarted",
            row.state
        ))
        .hint("`legio status` shows its session; `legio nudge` prompts a live agent"));
    }
    let checkpoint =
        checkpoint::load(layout, &agent).map_err(|e| CliError::failure(e.to_string()))?;
    let prompt = restart_prompt(&row, checkpoint.as_ref());
    let restarted = respawner
        .restart(&row, &prompt)
        .map_err(wiring::spawn_error)?;
    // Restarted by hand: the watchdog may restart it again as many times as configured.
    if let Err(e) = attempts::reset(layout, &agent) {
        out.warn(format!(
            "{e}; the watchdog counts its earlier restarts still"
        ));
    }
    for w in &restarted.warnings {
        out.warn(w);
    }
    let s = &restarted.session;
    let delivered = match restarted.delivered {
        Delivered::Confirmed => "confirmed",
        Delivered::Submitted => "submitted",
    };
    if out.json_mode() {
        return out.json(&json!({
            "agentName": s.agent_name,
            "pid": s.pid,
            "worktree": s.worktree_path,
            "branch": s.branch_name,
            "session": s.tmux_session,
            "multiplexer": restarted.multiplexer,
            "firstPrompt": delivered,
            "checkpoint": checkpoint.is_some(),
        }));
    }
    out.line(format!(
        "Restarted {agent} in {} on {} ({} session {}, pid {}; first prompt {delivered})",
        s.worktree_path,
        s.branch_name,
        restarted.multiplexer,
        s.tmux_session,
        s.pid
            .map_or_else(|| "unknown".to_owned(), |p| p.to_string()),
    ));
    Ok(())
}

/// A channel that receives a message on the first SIGINT or SIGTERM.
fn stop_on_signals() -> CliResult<mpsc::Receiver<()>> {
    let (stop_tx, stop_rx) = mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| CliError::failure(format!("cannot handle SIGINT and SIGTERM: {e}")))?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = stop_tx.send(());
        }
    });
    Ok(stop_rx)
}

/// The runtime asked for triage: the default agent runtime of the project.
fn triage_runtime(config: &Config) -> Box<dyn AgentRuntime> {
    match config.runtime.default {
        RuntimeKind::Claude => Box::new(ClaudeRuntime::new("claude")),
        RuntimeKind::Script => Box::new(ScriptRuntime::new(config.runtime.script.command.clone())),
    }
}

fn tick_error(e: &WatchdogError) -> CliError {
    let hint = match e {
        WatchdogError::ListAgents(_) => "check .legio/sessions.db (is another process holding it?)",
        WatchdogError::ListSessions(_) => {
            "check that tmux works (`tmux -V`), or set runtime.headless"
        }
    };
    CliError::failure(e.to_string()).hint(hint)
}

fn daemon_error(e: &DaemonError, layout: &Layout) -> CliError {
    match e {
        DaemonError::AlreadyRunning { .. } => CliError::failure(e.to_string())
            .hint("see it with `legio watch --status`; stop it with `legio watch --stop`"),
        DaemonError::Io { .. } => CliError::failure(e.to_string()).hint(format!(
            "check the permissions of {}",
            layout.legio_dir().display()
        )),
    }
}

/// `HH:MM:SS` (UTC) of `at`.
fn clock_time(at: Timestamp) -> String {
    at.to_string().get(11..19).unwrap_or_default().to_owned()
}

fn print_report(out: &mut Printer, report: &TickReport, clock: &dyn Clock) {
    let time = clock_time(report.at);
    for action in &report.actions {
        let style = match action {
            Action::Died { .. } => RED,
            Action::Recovery { outcome, .. } => match outcome {
                legio_watchdog::RecoveryOutcome::Recovered { .. } => GREEN,
                _ => RED,
            },
            Action::Investigate { .. } => CYAN,
            Action::MailPushed { .. } => DIM,
            _ => YELLOW,
        };
        out.line(format!("[{time}] {}", paint(style, action)));
    }
    for problem in &report.problems {
        out.warn(format!("[{}] {problem}", clock_time(clock.now())));
    }
}

fn status(layout: &Layout, out: &mut Printer) -> CliResult {
    let path = layout.watchdog_pid();
    let running = daemon::running(&path).map_err(|e| daemon_error(&e, layout))?;
    if out.json_mode() {
        return out.json(&match running {
            Some(pid) => json!({ "running": true, "pid": pid, "pidFile": path }),
            None => json!({ "running": false }),
        });
    }
    match running {
        Some(Some(pid)) => out.line(format!("Watchdog running (PID: {pid})")),
        Some(None) => out.line(format!(
            "Watchdog running (its pid in {} is unreadable)",
            path.display()
        )),
        None => out.line("Watchdog is not running"),
    }
    Ok(())
}

fn stop(layout: &Layout, out: &mut Printer) -> CliResult {
    let path = layout.watchdog_pid();
    let pid = match daemon::running(&path).map_err(|e| daemon_error(&e, layout))? {
        None => {
            if out.json_mode() {
                return out.json(&json!({ "stopped": false, "running": false }));
            }
            out.line("Watchdog is not running");
            return Ok(());
        }
        Some(None) => {
            return Err(CliError::failure(format!(
                "a watchdog holds {} but its pid cannot be read",
                path.display()
            ))
            .hint("find it with `fuser .legio/watchdog.pid` and stop it with kill"));
        }
        Some(Some(pid)) => pid,
    };
    daemon::request_stop(pid)
        .map_err(|e| CliError::failure(format!("cannot signal the watchdog (pid {pid}): {e}")))?;
    let deadline = Instant::now() + STOP_WAIT;
    while daemon::running(&path)
        .map_err(|e| daemon_error(&e, layout))?
        .is_some()
    {
        if Instant::now() >= deadline {
            return Err(CliError::failure(format!(
                "the watchdog (pid {pid}) is still running {} s after being asked to stop",
                STOP_WAIT.as_secs()
            ))
            .hint(format!(
                "it finishes its current tick first; try again, or `kill -9 {pid}`"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if out.json_mode() {
        return out.json(&json!({ "stopped": true, "pid": pid }));
    }
    out.line(format!("Watchdog stopped (PID: {pid})"));
    Ok(())
}

fn start_background(layout: &Layout, interval_ms: u64, out: &mut Printer) -> CliResult {
    let path = layout.watchdog_pid();
    if let Some(pid) = daemon::running(&path).map_err(|e| daemon_error(&e, layout))? {
        return Err(daemon_error(&DaemonError::AlreadyRunning { pid }, layout));
    }
    let log = layout.file("logs").join("watchdog.log");
    let exe = std::env::current_exe()
        .map_err(|e| CliError::failure(format!("cannot find the legio binary to start: {e}")))?;
    let child = spawn_daemon(&exe, layout.root(), interval_ms, &log)?;
    let pid = wait_for_start(child, &path, &log, layout)?;
    if out.json_mode() {
        return out.json(&json!({
            "pid": pid,
            "intervalMs": interval_ms,
            "pidFile": path,
            "log": log,
        }));
    }
    out.line(format!(
        "Watchdog started in background (PID: {pid}, interval: {interval_ms}ms)"
    ));
    out.line(format!("PID file: {}", path.display()));
    out.line(format!("Log: {}", log.display()));
    Ok(())
}

fn spawn_daemon(
    exe: &Path,
    root: &Path,
    interval_ms: u64,
    log: &Path,
) -> CliResult<std::process::Child> {
    use std::os::unix::process::CommandExt as _;
    let open_log = || {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
    };
    let cannot_log = |e: std::io::Error| {
        CliError::failure(format!(
            "cannot open the watchdog log {}: {e}",
            log.display()
        ))
    };
    let stdout = open_log().map_err(cannot_log)?;
    let stderr = open_log().map_err(cannot_log)?;
    Command::new(exe)
        .arg("-C")
        .arg(root)
        .arg("watch")
        .arg("--interval")
        .arg(interval_ms.to_string())
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // Its own process group: a Ctrl+C in this terminal does not reach it.
        .process_group(0)
        .spawn()
        .map_err(|e| CliError::failure(format!("cannot start {}: {e}", exe.display())))
}

/// Waits until the started daemon holds the lock; reports it if it exits first.
fn wait_for_start(
    mut child: std::process::Child,
    path: &Path,
    log: &Path,
    layout: &Layout,
) -> CliResult<u32> {
    let deadline = Instant::now() + START_WAIT;
    loop {
        if let Some(Some(pid)) = daemon::running(path).map_err(|e| daemon_error(&e, layout))? {
            return Ok(pid);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let last: Vec<&str> = tail.lines().rev().take(3).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            return Err(CliError::failure(format!(
                "the background watchdog exited at once ({status}): {}",
                last.join(" / ")
            ))
            .hint(format!("its log is {}", log.display())));
        }
        if Instant::now() >= deadline {
            return Err(CliError::failure(format!(
                "the background watchdog (pid {}) did not start within {} s",
                child.id(),
                START_WAIT.as_secs()
            ))
            .hint(format!("see {}", log.display())));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_a_bounded_whole_number_of_milliseconds() {
        assert_eq!(parse_interval("100"), Ok(100));
        assert_eq!(parse_interval("30000"), Ok(30_000));
        for bad in ["abc", "0", "99", "-5", "1.5", "", "86400001"] {
            let err = parse_interval(bad).unwrap_err();
            assert!(err.contains("from 100 to 86400000"), "{bad}: {err}");
        }
    }

    #[test]
    fn times_are_shown_as_utc_clock_times() {
        assert_eq!(
            clock_time(Timestamp::from_millis(1_769_860_800_123)),
            "12:00:00"
        );
    }
}
