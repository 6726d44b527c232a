//! The pinned Claude Code binary: found, or installed into the workspace cache.
//!
//! [`claude_bin`] uses `$LEGIO_CLAUDE_BIN` when set, else
//! `<workspace>/.cache/claude-code/node_modules/.bin/claude`, installing it there with
//! `npm install --no-audit --no-fund @anthropic-ai/claude-code@2.1.332` when it is missing or of
//! another version (`.ci/run` does the same install up front). When the binary cannot be had the
//! calling test **fails** with what went wrong and what to do; only `LEGIO_SKIP_CLAUDE_TESTS=1`
//! turns that into a skip, announced on the process's real stderr (which the test harness does
//! not capture).
//!
//! `legio-tmux/tests/claude_real.rs` includes this file by path (same finder, same switches): it
//! must not use the other support modules.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The pinned Claude Code release these tests and the facts in `support/mod.rs` are about.
pub const CLAUDE_CODE_VERSION: &str = "2.1.332";
/// The npm package.
pub const CLAUDE_CODE_PACKAGE: &str = "@anthropic-ai/claude-code";
/// Names a claude binary to use instead of the workspace cache (e.g. a copy installed elsewhere).
pub const CLAUDE_BIN_ENV: &str = "LEGIO_CLAUDE_BIN";
/// Set to `1` to skip (loudly) instead of failing when the binary cannot be had.
pub const SKIP_ENV: &str = "LEGIO_SKIP_CLAUDE_TESTS";
/// How long an npm install may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// The claude binary for this test process, or `None` when the caller should return early
/// because `LEGIO_SKIP_CLAUDE_TESTS=1` and the binary cannot be had (the skip is announced).
/// Panics with the reason and a hint otherwise.
///
/// ```ignore
/// let Some(claude) = claude_bin() else { return };
/// ```
pub fn claude_bin() -> Option<&'static Path> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(find_or_install) {
        Ok(path) => Some(path),
        Err(why) if skip_requested() => {
            // Written to the process's stderr directly: the test harness captures `eprintln!`
            // of passing tests, and a skip must not be silent.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (real Claude Code tests, {SKIP_ENV}=1): {why}"
            );
            None
        }
        Err(why) => panic!(
            "the real Claude Code binary is not available: {why}\n\
             hint: install Node.js and npm (the harness then installs {CLAUDE_CODE_PACKAGE}@{CLAUDE_CODE_VERSION} \
             into {}), or set {CLAUDE_BIN_ENV} to a claude binary, or set {SKIP_ENV}=1 to skip these tests",
            cache_dir().display()
        ),
    }
}

#[allow(clippy::disallowed_methods)] // test support reads its own switches from the environment
fn skip_requested() -> bool {
    std::env::var_os(SKIP_ENV).is_some_and(|v| v == "1")
}

#[allow(clippy::disallowed_methods)] // test support reads its own switches from the environment
fn bin_override() -> Option<PathBuf> {
    std::env::var_os(CLAUDE_BIN_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `<workspace>/.cache/claude-code` (gitignored).
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("legio-cli lives inside the workspace")
        .join(".cache")
        .join("claude-code")
}

/// Where npm puts the `claude` command inside an install prefix.
fn bin_in(prefix: &Path) -> PathBuf {
    prefix.join("node_modules").join(".bin").join("claude")
}

fn find_or_install() -> Result<PathBuf, String> {
    if let Some(path) = bin_override() {
        let version = claude_version(&path)
            .map_err(|e| format!("{CLAUDE_BIN_ENV}={} does not run: {e}", path.display()))?;
        if !version.contains(CLAUDE_CODE_VERSION) {
            let _ = writeln!(
                std::io::stderr(),
                "warning: {CLAUDE_BIN_ENV} is Claude Code {version:?}, not the pinned \
                 {CLAUDE_CODE_VERSION}; the observed facts may not hold"
            );
        }
        return Ok(path);
    }
    let cache = cache_dir();
    let bin = bin_in(&cache);
    match claude_version(&bin) {
        Ok(v) if v.contains(CLAUDE_CODE_VERSION) => return Ok(bin),
        Ok(v) => {
            let _ = writeln!(
                std::io::stderr(),
                "note: {} is {v:?}, not {CLAUDE_CODE_VERSION}: reinstalling",
                bin.display()
            );
        }
        Err(_) => {}
    }
    install(&cache)?;
    let version = claude_version(&bin).map_err(|e| {
        format!(
            "npm installed {CLAUDE_CODE_PACKAGE} but {} does not run: {e}",
            bin.display()
        )
    })?;
    if version.contains(CLAUDE_CODE_VERSION) {
        Ok(bin)
    } else {
        Err(format!(
            "installed {} reports {version:?}, not {CLAUDE_CODE_VERSION}",
            bin.display()
        ))
    }
}

/// `claude --version`, e.g. `2.1.332 (Claude Code)`.
fn claude_version(bin: &Path) -> Result<String, String> {
    if !bin.exists() {
        return Err(format!("{} does not exist", bin.display()));
    }
    let out = Command::new(bin)
        .arg("--version")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{} --version failed ({}): {}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Installs the pinned package into `cache` with npm. Several test processes may race: each
/// installs into its own staging folder and renames it into place; a loser finds the winner's.
fn install(cache: &Path) -> Result<(), String> {
    let parent = cache.parent().expect("the cache folder has a parent");
    fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let staging = parent.join(format!("claude-code.installing-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging)
        .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    let log = staging.join("npm.log");
    let log_file =
        fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
    let _ = writeln!(
        std::io::stderr(),
        "installing {CLAUDE_CODE_PACKAGE}@{CLAUDE_CODE_VERSION} into {} (npm)",
        cache.display()
    );
    let spec = format!("{CLAUDE_CODE_PACKAGE}@{CLAUDE_CODE_VERSION}");
    let child = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&staging)
        .arg(&spec)
        .current_dir(&staging)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot run npm ({e}); is Node.js installed?"))?;
    let status = wait_with_timeout(child, INSTALL_TIMEOUT)
        .map_err(|e| format!("npm install {spec}: {e}"))?;
    if !status.success() {
        let tail = fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "npm install {spec} failed ({status}); last lines of {}:\n{}",
            log.display(),
            tail.join("\n")
        ));
    }
    if claude_version(&bin_in(cache)).is_ok_and(|v| v.contains(CLAUDE_CODE_VERSION)) {
        // Another process finished first.
        let _ = fs::remove_dir_all(&staging);
        return Ok(());
    }
    let _ = fs::remove_dir_all(cache);
    match fs::rename(&staging, cache) {
        Ok(()) => Ok(()),
        Err(_) if bin_in(cache).exists() => {
            let _ = fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(e) => Err(format!(
            "cannot move {} to {}: {e}",
            staging.display(),
            cache.display()
        )),
    }
}

/// Waits for `child`, killing it after `timeout`.
pub fn wait_with_timeout(mut child: Child, timeout: Duration) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "still running after {} s, killed",
                    timeout.as_secs()
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for the process: {e}")),
        }
    }
}
