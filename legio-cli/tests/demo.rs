//! `legio demo` through the binary: a whole fleet in tmux (a private server in the test's own
//! `TMUX_TMPDIR`) and headless, its summary, the merged program, and nothing left behind
//! (scratch directory, worktrees, tmux server, processes), also after a Ctrl-C.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::ffi::OsString;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A sandbox: its own HOME, TMPDIR (where the demo makes its scratch directory) and
/// TMUX_TMPDIR (where its tmux server's socket lives).
struct Sandbox {
    dir: tempfile::TempDir,
    /// The PATH legio runs with.
    path: OsString,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "tmp", "tmux"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        #[allow(clippy::disallowed_methods)] // tests pass their own PATH through to the binary
        let path = std::env::var_os("PATH").unwrap_or_default();
        Self { dir, path }
    }

    /// A machine without tmux: PATH is one directory linking every program of the test's
    /// PATH but tmux.
    fn without_tmux(mut self) -> Self {
        let bin = self.path("bin");
        std::fs::create_dir(&bin).unwrap();
        for dir in std::env::split_paths(&self.path) {
            for program in entries(&dir) {
                let name = program.file_name().unwrap();
                let link = bin.join(name);
                if name != "tmux" && !link.exists() {
                    std::os::unix::fs::symlink(&program, link).unwrap();
                }
            }
        }
        self.path = bin.into_os_string();
        self
    }

    fn path(&self, sub: &str) -> PathBuf {
        std::fs::canonicalize(self.dir.path()).unwrap().join(sub)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_legio"));
        cmd.args(args)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", self.path("home"))
            .env("TMPDIR", self.path("tmp"))
            .env("TMUX_TMPDIR", self.path("tmux"))
            .env("NO_COLOR", "1")
            .current_dir(self.path("home"))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the demo with `--json`; returns its output and the parsed summary.
    fn demo(&self, args: &[&str]) -> (Output, Value) {
        let mut all = vec!["--json", "demo"];
        all.extend_from_slice(args);
        let out = self.command(&all).output().unwrap();
        let summary = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON summary ({e}); status {}\nstdout:\n{}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out, summary)
    }

    /// Asserts that the run left nothing: no scratch directory, no tmux server socket, no
    /// process started in or pointing at the sandbox.
    fn assert_nothing_left(&self) {
        let scratch: Vec<PathBuf> = entries(&self.path("tmp"));
        assert!(scratch.is_empty(), "scratch left behind: {scratch:?}");
        let home: Vec<PathBuf> = entries(&self.path("home"));
        assert!(home.is_empty(), "files left in HOME: {home:?}");
        let sockets: Vec<PathBuf> = entries(&self.path("tmux"))
            .iter()
            .flat_map(|d| entries(d))
            .collect();
        assert!(sockets.is_empty(), "a tmux server is left: {sockets:?}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = processes_mentioning(&self.path(""));
            if left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "processes left behind: {left:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Live processes whose command line or working directory mentions `root`.
fn processes_mentioning(root: &Path) -> Vec<String> {
    let root = root.display().to_string();
    let mut found = Vec::new();
    for entry in entries(Path::new("/proc")) {
        let Some(pid) = entry
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmdline = std::fs::read(entry.join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let cwd = std::fs::read_link(entry.join("cwd"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if cmdline.contains(&root) || cwd.starts_with(&root) {
            found.push(format!("{pid} (cwd {cwd}): {cmdline}"));
        }
    }
    found
}

fn agent<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {summary:#}"))
}

/// What every successful run shows: each builder completed and landed, builder-2's merge
/// needed the mechanical tier, the victim was restarted with its earlier commit, the tests
/// pass on the merged main with every builder's test counted, the hooks were timed.
fn assert_fleet_landed(out: &Output, summary: &Value, builders: usize) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the demo failed ({}): {summary:#}\n{stderr}",
        out.status
    );
    assert_eq!(summary["ok"], true, "{summary:#}");
    assert_eq!(summary["problems"], serde_json::json!([]), "{summary:#}");
    for k in 1..=builders {
        let b = agent(summary, &format!("builder-{k}"));
        assert_eq!(b["state"], "completed", "{b:#}");
        assert_eq!(b["landed"], true, "{b:#}");
        assert_eq!(b["parent"], "lead", "{b:#}");
    }
    assert_eq!(agent(summary, "lead")["parent"], "coordinator");
    assert_eq!(agent(summary, "lead")["state"], "completed");
    let entries = summary["merges"]["entries"].as_array().unwrap();
    assert!(
        entries.iter().all(|e| e["status"] == "merged"),
        "{entries:#?}"
    );
    let tier_of = |branch: &str| {
        entries.iter().find(|e| e["branch"] == branch).map_or_else(
            || panic!("{branch} not in the queue: {entries:#?}"),
            |e| e["tier"].clone(),
        )
    };
    assert_eq!(tier_of("legio/builder-1/demo-1"), "clean-merge");
    assert_eq!(tier_of("legio/builder-2/demo-2"), "auto-resolve");
    assert_eq!(
        summary["merges"]["byTier"]["auto-resolve"], 1,
        "{summary:#}"
    );
    let victim = format!("builder-{builders}");
    let r = &summary["recovery"];
    assert_eq!(r["agent"], victim.as_str(), "{r:#}");
    assert_eq!(r["recovered"], true, "{r:#}");
    assert_eq!(r["earlierWorkKept"], true, "{r:#}");
    assert_ne!(r["newPid"], r["killedPid"], "{r:#}");
    assert!(
        stderr.contains(&format!("killed {victim}"))
            && stderr.contains(&format!("{victim}: restarted from its checkpoint")),
        "{stderr}"
    );
    assert_eq!(summary["tests"]["passed"], true, "{summary:#}");
    let expected = format!("{} passed, 0 failed", builders + 1);
    assert!(
        summary["tests"]["output"]
            .as_str()
            .unwrap()
            .ends_with(&expected),
        "{summary:#}"
    );
    assert!(summary["mail"]["byType"]["worker_done"].as_u64().unwrap() > builders as u64);
    assert_eq!(
        summary["mail"]["byType"]["merge_ready"].as_u64().unwrap(),
        builders as u64
    );
    assert_eq!(summary["mail"]["byType"]["worker_died"], 1, "{summary:#}");
    let latency = &summary["hookLatency"];
    assert!(latency["count"].as_u64().unwrap() > 20, "{latency:#}");
    assert!(latency["p50"].as_f64().unwrap() > 0.0, "{latency:#}");
    assert!(
        latency["p50"].as_f64() <= latency["p99"].as_f64(),
        "{latency:#}"
    );
    assert!(
        summary["wallTimeMs"].as_u64().unwrap() < 60_000,
        "{summary:#}"
    );
}

#[test]
fn the_demo_lands_every_branch_in_tmux_and_leaves_nothing() {
    let sandbox = Sandbox::new();
    let (out, summary) = sandbox.demo(&[]);
    assert_fleet_landed(&out, &summary, 3);
    assert_eq!(summary["multiplexer"], "tmux");
    sandbox.assert_nothing_left();
}

/// Without tmux on the machine the agents run as detached processes, by themselves.
#[test]
fn the_demo_runs_without_tmux_with_more_builders_and_leaves_nothing() {
    let sandbox = Sandbox::new().without_tmux();
    let (out, summary) = sandbox.demo(&["--agents", "4"]);
    assert_fleet_landed(&out, &summary, 4);
    assert_eq!(summary["multiplexer"], "headless");
    sandbox.assert_nothing_left();
}

/// With `--keep` the merged repository stays: its tests pass when run here, main holds every
/// builder's work (the shared file with both additions), and the agents still run until
/// stopped. `--dir` names the (empty) directory to work in.
#[test]
fn a_kept_demo_holds_the_merged_program() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("kept");
    std::fs::create_dir(&dir).unwrap();
    let dir_arg = dir.display().to_string();
    let (out, summary) = sandbox.demo(&["--headless", "--keep", "--dir", &dir_arg]);
    assert_fleet_landed(&out, &summary, 3);
    assert_eq!(summary["kept"], true);
    let repo = dir.join("textkit");
    let tests = Command::new("sh")
        .arg("test.sh")
        .current_dir(&repo)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&tests.stdout);
    assert!(
        tests.status.success() && text.contains("4 passed, 0 failed"),
        "{text}"
    );
    let shared = std::fs::read_to_string(repo.join("lib/text.sh")).unwrap();
    for f in ["cmd_upper()", "cmd_reverse()", "cmd_words()"] {
        assert_eq!(shared.matches(f).count(), 1, "{f} in:\n{shared}");
    }
    assert!(repo.join("lib/lower.sh").is_file());
    assert!(repo.join(".legio/worktrees/builder-3").is_dir());
    let status = sandbox
        .command(&["--json", "-C", &repo.display().to_string(), "status"])
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["agents"].as_array().unwrap().len(), 5, "{status:#}");

    // A second demo refuses the directory now that it is not empty, and changes nothing.
    let again = sandbox
        .command(&["demo", "--dir", &dir_arg])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
    assert!(repo.join(".legio").is_dir());

    for args in [["stop", "--all"], ["down", "--quiet"]] {
        let out = sandbox
            .command(&["-C", &repo.display().to_string(), args[0], args[1]])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    sandbox.assert_nothing_left();
}

/// Ctrl-C while the fleet works (twice): the demo stops, ends every agent and the tmux
/// server, and removes its scratch directory.
#[test]
fn ctrl_c_mid_run_leaves_nothing_behind() {
    let sandbox = Sandbox::new();
    let mut child = sandbox
        .command(&["demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        seen.push(line.clone());
        // The fleet is up: a builder has started in tmux.
        // Twice, as `timeout` does (its child, then its process group): the second signal
        // must not cut the cleanup short.
        if line.contains("builder-1 (builder, by lead) started") {
            let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
            rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        }
    }
    let status = child.wait().unwrap();
    let text = seen.join("\n");
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("builder-1 (builder, by lead) started"),
        "{text}"
    );
    assert!(text.contains("interrupted"), "{text}");
    assert!(text.contains("cleaning up"), "{text}");
    sandbox.assert_nothing_left();
}
