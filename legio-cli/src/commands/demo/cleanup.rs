//! Cleaning up: the watchdog always stops; unless `--keep`, every agent, session and the
//! project's tmux server end and the scratch directory goes.

use std::path::Path;
use std::time::Duration;

use legio_core::Layout;
use legio_core::ports::Multiplexer;
use legio_tmux::{HeadlessConfig, HeadlessMultiplexer, TmuxConfig, TmuxMultiplexer};

use super::procs::{Interrupt, Runner};
use super::{Demo, PROJECT};
use crate::output::Printer;

impl Demo {
    /// Stops the watchdog; unless `--keep`, ends every agent and the tmux server and removes
    /// the scratch directory. Returns what could not be cleaned.
    pub(super) fn teardown(&mut self, out: &mut Printer) -> Vec<String> {
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
