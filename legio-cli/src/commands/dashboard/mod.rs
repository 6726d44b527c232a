//! `legio dashboard [--interval MS]`: the fleet on one screen (ratatui on crossterm).
//!
//! - **Reads only**: the stores whose files exist are opened for each reload and closed again;
//!   no database is created and no agent state is changed (`legio_core::ops::dashboard`).
//! - **Refreshes only on change**: every interval it compares the size, modification time and
//!   inode of each database and WAL ([`watch`]); only a change re-reads the stores and lists
//!   the multiplexer. In between it checks recorded agent pids (a `/proc` read each) and
//!   redraws so ages move; ratatui only writes the cells that changed. Idle, it costs a few
//!   dozen syscalls per interval.
//! - **Leaves the terminal as it found it**: on `q`, `Esc`, Ctrl-C, an error, or a panic (the
//!   panic hook restores the terminal before the message is printed).

mod render;
mod watch;

#[cfg(test)]
mod tests;

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::Args;
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use legio_core::Layout;
use legio_core::ops::dashboard::{self, Limits, Panel, Snapshot, Sources};
use legio_core::ports::{
    EventStore, MailStore, MergeQueue, MetricsStore, Multiplexer, SessionStore, StoreResult,
};
use legio_core::time::{Clock, Timestamp};
use legio_store::{
    SqliteEventStore, SqliteMailStore, SqliteMergeQueue, SqliteMetricsStore, SqliteSessionStore,
};
use legio_tmux::ProcfsProbe;
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};

use crate::context::{Ctx, load_config};
use crate::error::{CliError, CliResult};
use crate::output::Printer;

use super::machine;
pub use render::View;
use watch::StoreWatch;

/// `legio dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// How often to look for changes, in milliseconds (at least 500).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(500..))]
    pub interval: u64,
}

/// Runs `legio dashboard` until `q`.
pub fn run(args: &DashboardArgs, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    let config = load_config(&layout, out)?;
    if !io::stdout().is_terminal() {
        return Err(
            CliError::usage("legio dashboard draws on a terminal, and stdout is not one")
                .hint("for a one-off view in a script, use `legio status --json`"),
        );
    }
    let mux = machine::multiplexer(&layout, &config);
    let mut view = View {
        project: config.project.name.clone(),
        interval_ms: args.interval,
        now: ctx.clock.now(),
    };
    install_panic_hook(|| restore_terminal(&mut io::stdout()));
    let mut terminal = TerminalSession::enter()
        .map_err(|e| CliError::failure(format!("cannot set up the terminal: {e}")))?;
    let result = event_loop(
        &mut terminal.terminal,
        &layout,
        mux.as_ref(),
        &ctx.clock,
        &mut view,
    );
    drop(terminal);
    result.map_err(|e| CliError::failure(format!("the dashboard stopped: {e}")))
}

/// Reads every panel: opens the stores whose files exist, lists the multiplexer once.
pub fn load(layout: &Layout, mux: &dyn Multiplexer, now: Timestamp) -> Snapshot {
    fn open<T>(
        path: &std::path::Path,
        open: impl FnOnce(&std::path::Path) -> StoreResult<T>,
    ) -> Result<Option<T>, String> {
        machine::existing(path, open).map_err(|e| e.to_string())
    }
    let sessions = open(&layout.sessions_db(), |p| SqliteSessionStore::open(p));
    let mail = open(&layout.mail_db(), |p| SqliteMailStore::open(p));
    let events = open(&layout.events_db(), |p| SqliteEventStore::open(p));
    let metrics = open(&layout.metrics_db(), |p| SqliteMetricsStore::open(p));
    let queue = open(&layout.merge_queue_db(), |p| SqliteMergeQueue::open(p));
    let sources = Sources {
        sessions: ok(&sessions).map(|s| s as &dyn SessionStore),
        mail: ok(&mail).map(|s| s as &dyn MailStore),
        events: ok(&events).map(|s| s as &dyn EventStore),
        metrics: ok(&metrics).map(|s| s as &dyn MetricsStore),
        merge_queue: ok(&queue).map(|s| s as &dyn MergeQueue),
    };
    let listing = mux.list();
    let mut snap = dashboard::gather(&sources, &listing, Limits::default(), now);
    // A store that exists but does not open is a failed panel, not a missing one.
    if let Err(e) = sessions {
        snap.agents = Panel::Failed(e);
    }
    if let Err(e) = mail {
        snap.mail = Panel::Failed(e);
    }
    if let Err(e) = events {
        snap.events = Panel::Failed(e);
    }
    if let Err(e) = metrics {
        snap.costs = Panel::Failed(e);
    }
    if let Err(e) = queue {
        snap.merges = Panel::Failed(e);
    }
    snap
}

fn ok<T>(opened: &Result<Option<T>, String>) -> Option<&T> {
    opened.as_ref().ok().and_then(Option::as_ref)
}

/// What a key press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Quit,
    Reload,
    Nothing,
}

fn command(key: KeyEvent) -> Command {
    if key.kind == KeyEventKind::Release {
        return Command::Nothing;
    }
    match key.code {
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Command::Quit,
        KeyCode::Char('c' | 'd') if key.modifiers.contains(KeyModifiers::CONTROL) => Command::Quit,
        KeyCode::Char('r' | 'R') => Command::Reload,
        _ => Command::Nothing,
    }
}

fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    layout: &Layout,
    mux: &dyn Multiplexer,
    clock: &dyn Clock,
    view: &mut View,
) -> io::Result<()>
where
    B::Error: Into<io::Error>,
{
    let interval = Duration::from_millis(view.interval_ms);
    let mut watch = StoreWatch::new(layout);
    let mut snap = load(layout, mux, clock.now());
    watch.changed();
    let mut next_tick = Instant::now() + interval;
    loop {
        view.now = clock.now();
        terminal
            .draw(|frame| render::draw(frame, &snap, view))
            .map_err(Into::into)?;
        let wait = next_tick.saturating_duration_since(Instant::now());
        if event::poll(wait)? {
            // Resizes and other events only cause the redraw at the top of the loop.
            if let Event::Key(key) = event::read()? {
                match command(key) {
                    Command::Quit => return Ok(()),
                    Command::Reload => snap = load(layout, mux, clock.now()),
                    Command::Nothing => {}
                }
            }
            continue;
        }
        next_tick = Instant::now() + interval;
        if watch.changed() {
            snap = load(layout, mux, clock.now());
        } else if let Panel::Ready(rows) = &mut snap.agents {
            dashboard::recheck_processes(rows, &ProcfsProbe);
        }
    }
}

/// The terminal in raw mode on the alternate screen, restored when dropped.
struct TerminalSession {
    terminal: Terminal<CrosstermBackend<io::Stdout>>,
}

impl TerminalSession {
    fn enter() -> io::Result<Self> {
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, cursor::Hide) {
            restore_terminal(&mut stdout);
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                restore_terminal(&mut io::stdout());
                Err(e)
            }
        }
    }
}

impl Drop for TerminalSession {
    fn drop(&mut self) {
        restore_terminal(self.terminal.backend_mut());
    }
}

/// Leaves raw mode and the alternate screen and shows the cursor. Safe to call twice, and when
/// the terminal was never set up.
pub fn restore_terminal(out: &mut impl Write) {
    let _ = disable_raw_mode();
    let _ = execute!(out, LeaveAlternateScreen, cursor::Show);
    let _ = out.flush();
}

/// Makes a panic run `restore` before the panic message is printed (by the hook that was
/// installed before, kept and called after).
pub fn install_panic_hook(restore: impl Fn() + Send + Sync + 'static) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
