//! Real backends for the behavioural tests: a tmux server on a private socket per test, or a
//! headless state directory per test, each with a hermetic environment and cleaned up on drop.

#![allow(dead_code)] // each test binary uses a different part of this module
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use legio_core::ports::{Multiplexer, SessionSpec};
use legio_tmux::{BaseEnv, HeadlessConfig, HeadlessMultiplexer, TmuxConfig, TmuxMultiplexer};

/// The environment every test agent starts from: a fixed PATH, a marker to see inheritance,
/// and Claude Code's nesting marker, which sessions must be able to remove.
pub fn base_env() -> Vec<(String, String)> {
    vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("LEGIO_TEST_BASE".into(), "inherited".into()),
        ("CLAUDECODE".into(), "1".into()),
    ]
}

/// One backend under test, with its scratch directory.
pub struct Backend {
    pub mux: Box<dyn Multiplexer>,
    pub dir: tempfile::TempDir,
    tmux: Option<TmuxMultiplexer>,
}

impl Backend {
    /// A tmux backend on its own server (the socket name hashes the unique temp path).
    pub fn tmux() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = TmuxConfig {
            base_env: BaseEnv::Exactly(base_env()),
            enter_delay: Duration::from_millis(20),
            kill_grace: Duration::from_millis(500),
            ..TmuxConfig::default()
        };
        let mux = TmuxMultiplexer::new("t", dir.path(), config);
        Self {
            mux: Box::new(mux.clone()),
            dir,
            tmux: Some(mux),
        }
    }

    /// A headless backend recording its sessions under the temp directory.
    pub fn headless() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = HeadlessConfig {
            base_env: BaseEnv::Exactly(base_env()),
            kill_grace: Duration::from_millis(500),
            input_timeout: Duration::from_secs(2),
        };
        let mux = HeadlessMultiplexer::new(dir.path().join("state"), config);
        Self {
            mux: Box::new(mux),
            dir,
            tmux: None,
        }
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A spec running `argv` in the scratch directory.
    pub fn spec(&self, name: &str, argv: &[&str]) -> SessionSpec {
        SessionSpec {
            name: name.into(),
            cwd: self.dir.path().to_owned(),
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
            env: vec![],
            env_remove: vec![],
            log_path: None,
        }
    }

    /// Writes a shell script that appends every line it reads on stdin to `out`, exactly.
    /// The terminal is put in non-canonical mode so lines longer than the tty's 4 KiB line
    /// buffer arrive whole (headless has no terminal; stty then fails harmlessly).
    pub fn line_reader(&self, out: &Path) -> Vec<String> {
        let script = self.path("reader.sh");
        std::fs::write(
            &script,
            "stty -icanon -echo 2>/dev/null\n\
             echo reader-ready\n\
             while IFS= read -r line; do printf '%s\\n' \"$line\" >> \"$1\"; done\n",
        )
        .unwrap();
        vec![
            "sh".into(),
            script.display().to_string(),
            out.display().to_string(),
        ]
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        // Even when a test failed half-way, no process of it outlives it.
        for session in self.mux.list().unwrap_or_default() {
            let _ = self.mux.kill(&session.name);
        }
        if let Some(tmux) = &self.tmux {
            let _ = tmux.kill_server();
        }
    }
}

/// Polls `check` every 10 ms until it holds or `secs` seconds pass.
pub fn wait_for(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lines of `path` (empty when it does not exist yet).
pub fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether `pid` is gone or has exited.
pub fn is_gone(pid: u32) -> bool {
    legio_tmux::proctree::stat(pid).is_none_or(legio_tmux::proctree::ProcStat::is_exited)
}
