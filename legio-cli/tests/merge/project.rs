//! A project for one test: a repository built by `fixtures/repos.sh` with real git, `legio
//! init` run in it, and the `legio` binary run hermetically (own HOME, no global git config,
//! no LEGIO_* variables from the caller).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use legio_core::Layout;
use legio_core::domain::agent::{AgentSession, AgentState, Capability};
use legio_core::domain::merge::{MergeEntry, MergeStatus, NewMergeEntry};
use legio_core::names::AgentName;
use legio_core::ports::{MergeQueue, SessionStore};
use legio_core::time::Timestamp;
use legio_store::{SqliteMergeQueue, SqliteSessionStore};
use serde_json::Value;

/// The agent branch every single-branch fixture makes.
pub const BR: &str = "legio/builder-1/t-1";

const FIXED_DATE: &str = "2026-01-31T12:00:00Z";

/// The `config.local.yaml` every project starts with: tier 3 off.
pub const MECHANICAL_ONLY: &str = "merge:\n  aiResolveEnabled: false\n";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/merge/fixtures/repos.sh")
}

/// The outcome of one `legio` run.
#[derive(Debug)]
pub struct Run {
    /// Exit status (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(out: &Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts exit status `code`, showing both streams otherwise.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// One test's repository and legio project, deleted with it.
pub struct Project {
    _dir: tempfile::TempDir,
    /// The main checkout.
    pub root: PathBuf,
    home: PathBuf,
}

impl Project {
    /// The fixture `case` (see `fixtures/repos.sh`), initialised with `legio init`.
    pub fn new(case: &str) -> Self {
        Self::with_args(&[case])
    }

    /// The fixture `case` with extra arguments (`many`, count).
    pub fn with_args(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("project");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&root).expect("project dir");
        std::fs::create_dir_all(&home).expect("home dir");
        let p = Self {
            _dir: dir,
            root,
            home,
        };
        let mut script = p.hermetic(Command::new("bash"));
        script.arg(fixtures()).args(args).current_dir(&p.root);
        let out = script.output().expect("bash runs");
        assert!(
            out.status.success(),
            "fixture {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        p.legio(&["init"]).expect(0);
        // Only the mechanical tiers unless a test configures the (scripted) agent for tier 3:
        // the default runtime is the real Claude Code.
        p.local_config(MECHANICAL_ONLY);
        p
    }

    fn hermetic(&self, mut cmd: Command) -> Command {
        cmd.env_clear()
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
            .env("NO_COLOR", "1");
        cmd
    }

    /// `legio ARGS` in the project root, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.hermetic(Command::new(env!("CARGO_BIN_EXE_legio")));
        cmd.args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `legio ARGS` in the project root.
    pub fn legio(&self, args: &[&str]) -> Run {
        Run::from(&self.command(args).output().expect("legio runs"))
    }

    /// Runs `legio ARGS` with `LEGIO_AGENT_NAME=agent`, as that agent would.
    pub fn legio_as(&self, agent: &str, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        cmd.env("LEGIO_AGENT_NAME", agent);
        Run::from(&cmd.output().expect("legio runs"))
    }

    /// Runs git in the project root; panics with git's stderr on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self
            .hermetic(Command::new("git"))
            .args(args)
            .current_dir(&self.root)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The commit a revision names.
    pub fn rev(&self, rev: &str) -> String {
        self.git(&["rev-parse", rev]).trim().to_owned()
    }

    /// A file's bytes at a revision (`None` when absent).
    pub fn show(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        let out = self
            .hermetic(Command::new("git"))
            .args(["show", &format!("{rev}:{path}")])
            .current_dir(&self.root)
            .output()
            .expect("git runs");
        out.status.success().then_some(out.stdout)
    }

    /// A text file at a revision.
    pub fn text(&self, rev: &str, path: &str) -> Option<String> {
        self.show(rev, path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Changes to tracked files in the main checkout (`git status --porcelain`, untracked
    /// files such as `.legio/` left out).
    pub fn tracked_changes(&self) -> String {
        self.git(&["status", "--porcelain", "--untracked-files=no"])
    }

    /// The layout of the project.
    pub fn layout(&self) -> Layout {
        Layout::new(&self.root)
    }

    /// Every queue entry, oldest first.
    pub fn queue(&self) -> Vec<MergeEntry> {
        SqliteMergeQueue::open_in(&self.layout())
            .expect("queue")
            .list(None)
            .expect("list")
    }

    /// Queues `branch` as its agent's `merge_ready` would.
    pub fn enqueue(&self, branch: &str) -> MergeEntry {
        let (agent, task) =
            legio_core::ports::git::parse_agent_branch(branch).unwrap_or(("unknown", "unknown"));
        SqliteMergeQueue::open_in(&self.layout())
            .expect("queue")
            .enqueue(&NewMergeEntry {
                branch_name: branch.to_owned(),
                bead_id: task.to_owned(),
                agent_name: agent.to_owned(),
                files_modified: vec![],
                enqueued_at: Timestamp::parse(FIXED_DATE).expect("date"),
            })
            .expect("enqueue")
    }

    /// Replaces `.legio/config.local.yaml` (overrides config.yaml key by key; it starts as
    /// [`MECHANICAL_ONLY`]).
    pub fn local_config(&self, yaml: &str) {
        std::fs::write(self.layout().config_local(), yaml).expect("config.local.yaml");
    }

    /// Registers an agent session as `legio sling` would.
    pub fn add_agent(&self, name: &str, role: Capability, parent: Option<&str>, branch: &str) {
        let task = legio_core::ports::git::parse_agent_branch(branch).map_or("", |(_, t)| t);
        let session = AgentSession {
            id: format!("session-1-{name}"),
            agent_name: AgentName::new(name).expect("agent name"),
            capability: role,
            worktree_path: self.root.display().to_string(),
            branch_name: branch.to_owned(),
            bead_id: task.to_owned(),
            tmux_session: format!("legio-test-{name}"),
            state: AgentState::Working,
            pid: None,
            parent_agent: parent.map(|p| AgentName::new(p).expect("parent name")),
            depth: u32::from(parent.is_some()),
            run_id: None,
            started_at: Timestamp::parse(FIXED_DATE).expect("date"),
            last_activity: Timestamp::parse(FIXED_DATE).expect("date"),
            escalation_level: 0,
            stalled_since: None,
            terminal_log_path: None,
            runtime: "script".into(),
            file_scope: vec![],
            spec_path: None,
        };
        SqliteSessionStore::open_in(&self.layout())
            .expect("sessions")
            .upsert(&session)
            .expect("upsert");
    }

    /// Every line of every file at `rev`.
    pub fn tree_lines(&self, rev: &str) -> BTreeSet<String> {
        let mut lines = BTreeSet::new();
        for path in self.git(&["ls-tree", "-r", "--name-only", rev]).lines() {
            if let Some(t) = self.text(rev, path) {
                lines.extend(t.lines().map(str::to_owned));
            }
        }
        lines
    }

    /// Lines a revision added since `base` (from `git diff`, renames followed), per file,
    /// binary files left out.
    pub fn added_lines(&self, base: &str, rev: &str) -> Vec<(String, String)> {
        let diff = self.git(&["diff", "--find-renames", "--unified=0", base, rev]);
        let mut file = String::new();
        let mut added = Vec::new();
        for l in diff.lines() {
            if let Some(f) = l.strip_prefix("+++ b/") {
                f.clone_into(&mut file);
            } else if let Some(a) = l.strip_prefix('+')
                && !l.starts_with("+++")
            {
                added.push((file.clone(), a.to_owned()));
            }
        }
        added
    }

    /// The merge commits of `branch`'s history, with the tip of each merged side.
    pub fn merged_tips(&self, branch: &str) -> Vec<String> {
        self.git(&["rev-list", "--merges", "--parents", branch])
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
            .collect()
    }
}

/// Asserts that `merged` kept every line both sides added since they forked, except in the
/// files `exempt` (resolved by a tier that says what it dropped).
#[track_caller]
pub fn assert_no_line_lost(
    p: &Project,
    pre: &str,
    branch_tip: &str,
    merged: &str,
    exempt: &[&str],
) {
    let base = p.git(&["merge-base", pre, branch_tip]).trim().to_owned();
    let kept = p.tree_lines(merged);
    for side in [pre, branch_tip] {
        for (file, line) in p.added_lines(&base, side) {
            if exempt.contains(&file.as_str()) {
                continue;
            }
            assert!(
                kept.contains(&line),
                "line {line:?} added to {file} by {side} is missing from the merge {merged}"
            );
        }
    }
}

/// Asserts the target did not move and the main checkout has no change to tracked files.
#[track_caller]
pub fn assert_untouched(p: &Project, target: &str, pre: &str) {
    assert_eq!(p.rev(target), pre, "{target} moved");
    assert_eq!(p.tracked_changes(), "", "the checkout changed");
}

/// Asserts the queue is consistent: nothing left merging, at most one active entry per
/// branch, every merged entry has a tier, and no branch was merged twice into `target`.
#[track_caller]
pub fn assert_queue_consistent(p: &Project, target: &str) {
    let entries = p.queue();
    assert!(
        entries.iter().all(|e| e.status != MergeStatus::Merging),
        "entries left merging: {entries:#?}"
    );
    let mut active = BTreeSet::new();
    for e in entries.iter().filter(|e| e.status == MergeStatus::Pending) {
        assert!(
            active.insert(&e.branch_name),
            "{} queued twice",
            e.branch_name
        );
    }
    for e in entries.iter().filter(|e| e.status == MergeStatus::Merged) {
        assert!(e.resolved_tier.is_some(), "merged without a tier: {e:?}");
    }
    let tips = p.merged_tips(target);
    let unique: BTreeSet<&String> = tips.iter().collect();
    assert_eq!(
        unique.len(),
        tips.len(),
        "a branch was merged twice: {tips:?}"
    );
}
