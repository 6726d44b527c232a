//! Test support: fixture repositories built with the real `git` CLI in a hermetic environment,
//! a file-backed queue for tests that span processes, a scripted agent runtime, and
//! assertions that no line was lost.
#![allow(dead_code)] // each test binary uses a different part of this module
#![allow(clippy::unwrap_used)] // test support: a fixture step that fails is a failed test

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use legio_core::domain::merge::{MergeEntry, MergeStatus, NewMergeEntry, ResolutionTier};
use legio_core::ports::runtime::{
    AgentRuntime, LaunchContext, LaunchPlan, OneShot, Readiness, RuntimeError,
};
use legio_core::ports::store::{MergeQueue, StoreResult};
use legio_core::time::{Clock, ManualClock, Timestamp};
use legio_merge::testing::MemoryQueue;
use legio_merge::{MergeOptions, MergePorts, MergeRunner, NoGates, QualityGates};

/// A repository made for one test, deleted with it.
pub struct Fixture {
    _dir: tempfile::TempDir,
    /// The main checkout.
    pub root: PathBuf,
    home: PathBuf,
}

/// A fixed instant for fixture commits and queue entries.
pub const FIXED_DATE: &str = "2026-01-31T12:00:00Z";

impl Fixture {
    /// `git init -b main` with one commit holding `README.md`, `.legio/` excluded.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("project");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let f = Self {
            _dir: dir,
            root,
            home,
        };
        f.git(&["init", "-q", "-b", "main"]);
        f.git(&["config", "user.name", "Legio Test"]);
        f.git(&["config", "user.email", "test@legio.invalid"]);
        std::fs::write(f.root.join(".git/info/exclude"), ".legio/\n").unwrap();
        f.write("README.md", "# project\n");
        f.commit_all("initial");
        f
    }

    /// Runs git in `dir` with a hermetic environment.
    pub fn git_output(&self, dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Legio Test")
            .env("GIT_AUTHOR_EMAIL", "test@legio.invalid")
            .env("GIT_COMMITTER_NAME", "Legio Test")
            .env("GIT_COMMITTER_EMAIL", "test@legio.invalid")
            .env("GIT_AUTHOR_DATE", FIXED_DATE)
            .env("GIT_COMMITTER_DATE", FIXED_DATE)
            .output()
            .expect("git runs")
    }

    /// Runs git in `dir` with a hermetic environment; panics with git's stderr on failure.
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_output(dir, args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs git in the main checkout.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    /// Writes a file of the main checkout.
    pub fn write(&self, path: &str, content: &str) {
        self.write_bytes(path, content.as_bytes());
    }

    /// Writes a file of the main checkout.
    pub fn write_bytes(&self, path: &str, content: &[u8]) {
        let full = self.root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    /// Reads a file of the main checkout (`None` when absent).
    pub fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(path)).ok()
    }

    /// Commits everything in the main checkout.
    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// Creates `branch` from `from` with one commit that writes `files` (content `None`
    /// deletes), leaving the main checkout on `main` and clean.
    pub fn branch(&self, branch: &str, from: &str, files: &[(&str, Option<&str>)]) {
        self.git(&["checkout", "-q", "-b", branch, from]);
        for (path, content) in files {
            match content {
                Some(c) => self.write(path, c),
                None => {
                    self.git(&["rm", "-q", path]);
                }
            }
        }
        self.commit_all(&format!("work on {branch}"));
        self.git(&["checkout", "-q", "main"]);
    }

    /// Creates many branches from `from` at once with `git fast-import`, each with one commit
    /// writing its files. Much faster than [`Fixture::branch`] per branch.
    pub fn branches(&self, from: &str, branches: &[(String, Vec<(String, String)>)]) {
        use std::io::Write;
        let base = self.rev(from);
        let mut stream = Vec::new();
        for (branch, files) in branches {
            let msg = format!("work on {branch}");
            write!(
                stream,
                "commit refs/heads/{branch}\ncommitter Legio Test <test@legio.invalid> 1769860800 +0000\ndata {}\n{msg}\nfrom {base}\n",
                msg.len()
            )
            .unwrap();
            for (path, content) in files {
                write!(
                    stream,
                    "M 100644 inline {path}\ndata {}\n{content}\n",
                    content.len()
                )
                .unwrap();
            }
            stream.push(b'\n');
        }
        let mut child = Command::new("git")
            .args(["fast-import", "--quiet"])
            .current_dir(&self.root)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&stream).unwrap();
        assert!(child.wait().unwrap().success(), "git fast-import failed");
    }

    /// Commits `files` on `main` (the checked-out branch).
    pub fn on_main(&self, files: &[(&str, Option<&str>)]) {
        for (path, content) in files {
            match content {
                Some(c) => self.write(path, c),
                None => {
                    self.git(&["rm", "-q", path]);
                }
            }
        }
        self.commit_all("work on main");
    }

    /// The commit a revision names.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev]).trim().to_owned()
    }

    /// A file at a revision (`None` when absent).
    pub fn show(&self, rev: &str, path: &str) -> Option<String> {
        let out = self.git_output(&self.root, &["show", &format!("{rev}:{path}")]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `git status --porcelain` of the main checkout (`.legio/` is excluded).
    pub fn status(&self) -> String {
        self.git(&["status", "--porcelain"])
    }

    /// The parents of a commit.
    pub fn parents(&self, rev: &str) -> Vec<String> {
        self.git(&["rev-list", "--parents", "-n", "1", rev])
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect()
    }

    /// The full message of a commit.
    pub fn message(&self, rev: &str) -> String {
        self.git(&["log", "-1", "--format=%B", rev])
    }
}

/// A queue entry for `branch` as an agent's `merge_ready` would create it.
pub fn new_entry(branch: &str) -> NewMergeEntry {
    let (agent, task) = legio_core::ports::git::parse_agent_branch(branch).unwrap_or(("x", "y"));
    NewMergeEntry {
        branch_name: branch.to_owned(),
        bead_id: task.to_owned(),
        agent_name: agent.to_owned(),
        files_modified: vec![],
        enqueued_at: Timestamp::parse(FIXED_DATE).unwrap(),
    }
}

/// A clock standing at [`FIXED_DATE`].
pub fn clock() -> ManualClock {
    ManualClock::at(Timestamp::parse(FIXED_DATE).unwrap())
}

/// Options with tier 3 and 4 off and short waits.
pub fn mechanical_only() -> MergeOptions {
    MergeOptions {
        ai_resolve: false,
        reimagine: false,
        ..MergeOptions::default()
    }
}

/// Ports with no resolver and no gates.
pub fn ports<'a>(queue: &'a dyn MergeQueue, clock: &'a dyn Clock) -> MergePorts<'a> {
    static NO_GATES: NoGates = NoGates;
    MergePorts {
        queue,
        resolver: None,
        gates: &NO_GATES,
        clock,
    }
}

/// Ports with gates.
pub fn ports_with<'a>(
    queue: &'a dyn MergeQueue,
    clock: &'a dyn Clock,
    resolver: Option<&'a dyn AgentRuntime>,
    gates: &'a dyn QualityGates,
) -> MergePorts<'a> {
    MergePorts {
        queue,
        resolver,
        gates,
        clock,
    }
}

/// Merges every pending entry into `main` with mechanical tiers only.
pub fn merge_all(f: &Fixture, q: &MemoryQueue) -> legio_merge::RunReport {
    let c = clock();
    let runner = MergeRunner::open(&f.root, ports(q, &c), mechanical_only()).unwrap();
    runner.merge_all("main", &mut |_| {}).unwrap()
}

/// Asserts that every non-blank line of `side` is in `merged`.
pub fn assert_keeps_lines(merged: &str, side: &str, what: &str) {
    for line in side.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            merged.lines().any(|m| m == line),
            "{what}: line {line:?} was lost; merged text:\n{merged}"
        );
    }
}

/// Asserts the queue is consistent: nothing left merging, each entry claimed as often as it
/// was released plus one, and finished at most once.
pub fn assert_queue_consistent(q: &MemoryQueue) {
    use legio_merge::testing::QueueEvent;
    let entries = q.entries();
    assert!(
        entries.iter().all(|e| e.status != MergeStatus::Merging),
        "entries left merging: {entries:?}"
    );
    for e in &entries {
        let h = q.history();
        let claims = h
            .iter()
            .filter(|x| **x == QueueEvent::Claimed(e.id))
            .count();
        let releases = h
            .iter()
            .filter(|x| **x == QueueEvent::Released(e.id))
            .count();
        let finishes = h
            .iter()
            .filter(|x| matches!(x, QueueEvent::Finished(id, _) if *id == e.id))
            .count();
        assert!(finishes <= 1, "entry {} finished {finishes} times", e.id);
        if e.status == MergeStatus::Pending {
            assert_eq!(claims, releases, "pending entry {} has an open claim", e.id);
        } else {
            assert_eq!(claims, releases + 1, "entry {} claims vs releases", e.id);
            assert_eq!(finishes, 1, "entry {} not finished once", e.id);
        }
        if e.status == MergeStatus::Merged {
            assert!(e.resolved_tier.is_some());
        }
    }
}

/// The tier of the only entry.
pub fn only_tier(q: &MemoryQueue) -> Option<ResolutionTier> {
    let e = q.entries();
    assert_eq!(e.len(), 1);
    e[0].resolved_tier
}

/// A queue persisted to a JSON file after every change, so that a test can kill the process
/// using it and read what it left.
pub struct FileQueue {
    inner: MemoryQueue,
    path: PathBuf,
}

impl FileQueue {
    /// Loads the queue at `path` (empty when absent).
    pub fn load(path: &Path) -> Self {
        let entries: Vec<MergeEntry> = std::fs::read_to_string(path)
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or_default();
        Self {
            inner: MemoryQueue::from_entries(entries),
            path: path.to_path_buf(),
        }
    }

    fn save(&self) {
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_string(&self.inner.entries()).unwrap()).unwrap();
        std::fs::rename(tmp, &self.path).unwrap();
    }

    /// The entries.
    pub fn entries(&self) -> Vec<MergeEntry> {
        self.inner.entries()
    }
}

impl MergeQueue for FileQueue {
    fn enqueue(&self, entry: &NewMergeEntry) -> StoreResult<MergeEntry> {
        let r = self.inner.enqueue(entry);
        self.save();
        r
    }
    fn claim_next(
        &self,
        branch: Option<&str>,
        target: &str,
        pre: &str,
    ) -> StoreResult<Option<MergeEntry>> {
        let r = self.inner.claim_next(branch, target, pre);
        self.save();
        r
    }
    fn finish(
        &self,
        id: i64,
        status: MergeStatus,
        tier: Option<ResolutionTier>,
        error: Option<&str>,
    ) -> StoreResult<()> {
        let r = self.inner.finish(id, status, tier, error);
        self.save();
        r
    }
    fn release(&self, id: i64) -> StoreResult<()> {
        let r = self.inner.release(id);
        self.save();
        r
    }
    fn list(&self, status: Option<MergeStatus>) -> StoreResult<Vec<MergeEntry>> {
        self.inner.list(status)
    }
    fn active_for_branch(&self, branch: &str) -> StoreResult<Option<MergeEntry>> {
        self.inner.active_for_branch(branch)
    }
}

/// The simulated agent: answers one-shot prompts from a script and records the prompts.
#[derive(Default)]
pub struct ScriptedRuntime {
    answers: Mutex<VecDeque<Result<String, RuntimeError>>>,
    /// Every prompt received.
    pub prompts: Mutex<Vec<String>>,
}

impl ScriptedRuntime {
    /// A runtime that gives these answers in order.
    pub fn answering(answers: Vec<Result<String, RuntimeError>>) -> Self {
        Self {
            answers: Mutex::new(answers.into()),
            prompts: Mutex::default(),
        }
    }

    /// How many prompts it got.
    pub fn calls(&self) -> usize {
        self.prompts.lock().unwrap().len()
    }
}

impl AgentRuntime for ScriptedRuntime {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn launch_plan(&self, _: &LaunchContext, _: &str) -> Result<LaunchPlan, RuntimeError> {
        Err(RuntimeError::Refused(
            "the scripted runtime only answers one-shot prompts".into(),
        ))
    }
    fn readiness(&self, _: &str) -> Readiness {
        Readiness::Starting
    }
    fn one_shot(&self, request: &OneShot) -> Result<String, RuntimeError> {
        self.prompts.lock().unwrap().push(request.prompt.clone());
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Err(RuntimeError::Refused("no scripted answer left".into())))
    }
}
