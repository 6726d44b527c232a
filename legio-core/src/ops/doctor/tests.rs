//! Doctor's rules against fakes of the machine: the cases that are hard to make for real
//! (an old tmux, a missing claude, an interrupted merge). The whole command runs against real
//! git, SQLite and tmux in `legio-cli/tests/doctor.rs`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::config::{Config, Loaded, RuntimeKind};
use crate::ports::{MuxError, MuxSession, SessionSpec};

#[derive(Default)]
struct FakeHost {
    tools: HashMap<String, ToolRun>,
    locks: HashMap<PathBuf, LockState>,
    journals: HashMap<PathBuf, Result<JournalFacts, String>>,
}

impl Host for FakeHost {
    fn run_tool(&self, program: &str, _args: &[&str]) -> ToolRun {
        self.tools
            .get(program)
            .cloned()
            .unwrap_or(ToolRun::NotFound)
    }
    fn find_program(&self, program: &str) -> Option<PathBuf> {
        matches!(self.tools.get(program), Some(ToolRun::Ran(_))).then(|| PathBuf::from(program))
    }
    fn inspect_database(&self, _path: &Path) -> DatabaseHealth {
        DatabaseHealth::Missing
    }
    fn merge_lock(&self, path: &Path) -> LockState {
        self.locks.get(path).cloned().unwrap_or(LockState::Free)
    }
    fn merge_journal(&self, path: &Path) -> Result<JournalFacts, String> {
        self.journals
            .get(path)
            .cloned()
            .unwrap_or_else(|| Err("no such journal".into()))
    }
}

#[derive(Default)]
struct FakeMux {
    sessions: RefCell<Vec<MuxSession>>,
    killed: RefCell<Vec<String>>,
}

impl Multiplexer for FakeMux {
    fn kind(&self) -> &'static str {
        "tmux"
    }
    fn create(&self, spec: &SessionSpec) -> Result<MuxSession, MuxError> {
        Err(MuxError::InvalidSpec {
            name: spec.name.clone(),
            problem: "doctor never creates sessions".into(),
        })
    }
    fn list(&self) -> Result<Vec<MuxSession>, MuxError> {
        Ok(self.sessions.borrow().clone())
    }
    fn send_text(&self, name: &str, _text: &str) -> Result<(), MuxError> {
        Err(MuxError::NoSuchSession(name.into()))
    }
    fn capture(&self, name: &str, _lines: usize) -> Result<String, MuxError> {
        Err(MuxError::NoSuchSession(name.into()))
    }
    fn kill(&self, name: &str) -> Result<(), MuxError> {
        self.sessions.borrow_mut().retain(|s| s.name != name);
        self.killed.borrow_mut().push(name.into());
        Ok(())
    }
}

struct Alive(Vec<u32>);
impl ProcessProbe for Alive {
    fn is_alive(&self, pid: u32) -> bool {
        self.0.contains(&pid)
    }
}

struct World {
    _tmp: tempfile::TempDir,
    layout: Layout,
    config: Result<Loaded, ConfigError>,
    host: FakeHost,
    mux: FakeMux,
    probe: Alive,
}

impl World {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        std::fs::create_dir_all(layout.legio_dir()).unwrap();
        let config = Ok(Loaded {
            config: Config::for_root(tmp.path()),
            warnings: Vec::new(),
        });
        Self {
            _tmp: tmp,
            layout,
            config,
            host: FakeHost::default(),
            mux: FakeMux::default(),
            probe: Alive(Vec::new()),
        }
    }

    fn tool(&mut self, program: &str, run: ToolRun) {
        self.host.tools.insert(program.into(), run);
    }

    fn config(&mut self, edit: impl FnOnce(&mut Config)) {
        if let Ok(loaded) = &mut self.config {
            edit(&mut loaded.config);
        }
    }

    fn doctor(&self) -> Doctor<'_> {
        Doctor {
            layout: &self.layout,
            config: &self.config,
            host: &self.host,
            worktrees: None,
            mux: &self.mux,
            probe: &self.probe,
            sessions: None,
            merge_queue: None,
        }
    }

    fn run(&self, category: Category) -> Vec<Check> {
        diagnose(&self.doctor(), &[category])
    }
}

fn named<'c>(checks: &'c [Check], name: &str) -> &'c Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:#?}"))
}

#[test]
fn an_old_tmux_fails_unless_agents_run_headless() {
    let mut w = World::new();
    w.tool("tmux", ToolRun::Ran("tmux 3.1c".into()));
    let checks = w.run(Category::Dependencies);
    let tmux = named(&checks, "tmux");
    assert_eq!(tmux.status, Status::Fail);
    assert!(tmux.message.contains("needs tmux 3.2"), "{}", tmux.message);

    w.config(|c| c.runtime.headless = true);
    assert_eq!(
        named(&w.run(Category::Dependencies), "tmux").status,
        Status::Pass
    );
    w.host.tools.remove("tmux");
    let checks = w.run(Category::Dependencies);
    assert_eq!(named(&checks, "tmux").status, Status::Pass);
    assert!(named(&checks, "tmux").message.contains("not needed"));
}

#[test]
fn the_runtime_of_every_role_must_be_there_and_optional_tools_only_warn() {
    let mut w = World::new();
    w.tool("git", ToolRun::Ran("git version 2.47.3".into()));
    w.tool("tmux", ToolRun::Ran("tmux 3.3a".into()));
    let checks = w.run(Category::Dependencies);
    let claude = named(&checks, "runtime-claude");
    assert_eq!(claude.status, Status::Fail);
    assert!(
        claude.message.ends_with("agents cannot start (every role)"),
        "{}",
        claude.message
    );
    assert_eq!(named(&checks, "bd").status, Status::Warn);
    assert_eq!(named(&checks, "mulch").status, Status::Warn);
    assert!(checks.iter().all(|c| c.name != "runtime-script"));

    w.config(|c| {
        c.beads.enabled = false;
        c.runtime.default = RuntimeKind::Script;
        c.runtime.script.command = vec!["fake-agent".into()];
        c.runtime
            .capabilities
            .insert(crate::Capability::Coordinator, RuntimeKind::Claude);
    });
    w.tool("claude", ToolRun::Ran("2.1.332 (Claude Code)".into()));
    let checks = w.run(Category::Dependencies);
    let claude = named(&checks, "runtime-claude");
    assert_eq!(claude.status, Status::Pass);
    assert!(
        claude.message.ends_with(", for coordinator"),
        "{}",
        claude.message
    );
    let script = named(&checks, "runtime-script");
    assert_eq!(script.status, Status::Fail, "fake-agent is not on PATH");
    assert_eq!(
        named(&checks, "bd").status,
        Status::Pass,
        "disabled: not needed"
    );

    w.tool("fake-agent", ToolRun::Ran(String::new()));
    assert_eq!(
        named(&w.run(Category::Dependencies), "runtime-script").status,
        Status::Pass
    );
    let report = Report::new(w.run(Category::Dependencies));
    assert_eq!(report.summary.fail, 0);
    assert_eq!(report.summary.warn, 1, "mulch");
    assert!(!report.failed());
}

#[test]
fn a_stale_pid_file_is_removed_but_not_once_it_changed() {
    let mut w = World::new();
    let pid_file = w.layout.watchdog_pid();
    assert_eq!(
        named(&w.run(Category::Locks), "watchdog-pid").status,
        Status::Pass
    );

    std::fs::write(&pid_file, "4242\n").unwrap();
    w.probe = Alive(vec![4242]);
    let checks = w.run(Category::Locks);
    assert_eq!(
        named(&checks, "watchdog-pid").message,
        "the watchdog runs (pid 4242)"
    );

    w.probe = Alive(vec![]);
    let mut checks = w.run(Category::Locks);
    let stale = named(&checks, "watchdog-pid");
    assert_eq!((stale.status, stale.fixable), (Status::Warn, true));
    // A new watchdog started between the check and the repair: its file stays.
    std::fs::write(&pid_file, "5151\n").unwrap();
    w.probe = Alive(vec![5151]);
    repair(&w.doctor(), &mut checks);
    let kept = named(&checks, "watchdog-pid");
    assert!(!kept.fixed);
    assert!(
        kept.details[0].contains("changed since it was checked"),
        "{kept:?}"
    );
    assert!(pid_file.exists());

    std::fs::write(&pid_file, "garbage").unwrap();
    let mut checks = w.run(Category::Locks);
    repair(&w.doctor(), &mut checks);
    let fixed = named(&checks, "watchdog-pid");
    assert!(fixed.fixed, "{fixed:?}");
    assert_eq!(fixed.message, "removed the unreadable .legio/watchdog.pid");
    assert!(!pid_file.exists());
    assert_eq!(Report::new(checks).summary.fixed, 1);
}

#[test]
fn an_interrupted_merge_is_reported_and_its_journal_kept() {
    let mut w = World::new();
    let dir = w.layout.file("merge");
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("main.journal");
    std::fs::write(&journal, "{}").unwrap();
    std::fs::write(dir.join("main.lock"), "77").unwrap();
    w.host.journals.insert(
        journal.clone(),
        Ok(JournalFacts {
            pid: 77,
            branch: "legio/b1/t-1".into(),
            target: "main".into(),
            phase: "committed".into(),
        }),
    );
    let mut checks = w.run(Category::Locks);
    assert_eq!(named(&checks, "merge-locks").message, "no merge is running");
    let j = named(&checks, "merge-journals");
    assert_eq!((j.status, j.fixable), (Status::Warn, false));
    assert!(j.details[0].contains("merge of legio/b1/t-1 into main stopped at committed"));
    repair(&w.doctor(), &mut checks);
    assert!(journal.exists(), "the journal is what recovery needs");

    w.host
        .locks
        .insert(dir.join("main.lock"), LockState::Held(Some(77)));
    let checks = w.run(Category::Locks);
    assert_eq!(
        named(&checks, "merge-locks").message,
        "merging into main (pid 77)"
    );
    assert_eq!(named(&checks, "merge-journals").status, Status::Pass);

    w.host.locks.clear();
    w.host
        .journals
        .insert(journal, Err("expected value".into()));
    assert_eq!(
        named(&w.run(Category::Locks), "merge-journals").status,
        Status::Fail
    );
}

#[test]
fn gitignore_repairs_keep_the_users_lines_and_the_whitelist_order() {
    let w = World::new();
    let path = w.layout.file(".gitignore");
    std::fs::write(&path, "!config.yaml\nmy-notes.txt").unwrap();
    let mut checks = w.run(Category::Structure);
    let g = named(&checks, "gitignore");
    assert_eq!((g.status, g.fixable), (Status::Warn, true));
    repair(&w.doctor(), &mut checks);
    assert!(named(&checks, "gitignore").fixed);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("!config.yaml\nmy-notes.txt\n*\n!.gitignore\n"),
        "{text}"
    );
    assert!(text.ends_with("!agent-defs/\n"), "{text}");
    let g = named(&w.run(Category::Structure), "gitignore").clone();
    assert_eq!(g.status, Status::Pass);

    std::fs::remove_file(&path).unwrap();
    let g = named(&w.run(Category::Structure), "gitignore").clone();
    assert_eq!(g.status, Status::Fail);
}

#[test]
fn missing_layout_pieces_are_recreated_and_existing_files_never_replaced() {
    let w = World::new();
    let mut checks = w.run(Category::Structure);
    for name in ["directories", "manifest", "agent-defs", "gitignore"] {
        let c = named(&checks, name);
        assert!(c.status != Status::Pass && c.fixable, "{c:?}");
    }
    // The user writes their own manifest meanwhile: the repair leaves it alone.
    let manifest = w.layout.manifest();
    std::fs::write(&manifest, "{\"mine\": true}").unwrap();
    repair(&w.doctor(), &mut checks);
    assert!(!named(&checks, "manifest").fixed);
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "{\"mine\": true}"
    );
    assert!(named(&checks, "directories").fixed);
    assert!(named(&checks, "agent-defs").fixed);
    assert!(w.layout.agent_defs_dir().join("builder.md").is_file());

    std::fs::remove_file(&manifest).unwrap();
    let mut checks = w.run(Category::Structure);
    repair(&w.doctor(), &mut checks);
    let after = w.run(Category::Structure);
    assert!(after.iter().all(|c| c.status == Status::Pass), "{after:#?}");
}

#[test]
fn orphan_sessions_are_killed_on_fix_and_vanished_agents_only_reported() {
    let w = World::new();
    *w.mux.sessions.borrow_mut() = vec![MuxSession {
        name: "legio-p-ghost".into(),
        pid: Some(9),
        running: true,
        exit_code: None,
    }];
    let mut checks = w.run(Category::Orphans);
    let o = named(&checks, "orphan-sessions");
    assert_eq!((o.status, o.fixable), (Status::Warn, true));
    assert_eq!(o.details, ["legio-p-ghost (running; no agent)"]);
    repair(&w.doctor(), &mut checks);
    assert_eq!(*w.mux.killed.borrow(), ["legio-p-ghost"]);
    assert_eq!(
        named(&checks, "orphan-sessions").message,
        "killed legio-p-ghost"
    );
}

#[test]
fn a_config_that_does_not_load_fails_and_the_rest_runs_on_defaults() {
    let mut w = World::new();
    w.config = Err(ConfigError::Syntax {
        path: w.layout.config(),
        line: 3,
        col: 7,
        message: "mapping values are not allowed here".into(),
    });
    let checks = diagnose(&w.doctor(), &[]);
    let c = named(&checks, "config");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(
        c.details,
        [".legio/config.yaml:3:7: not valid YAML: mapping values are not allowed here"]
    );
    assert!(checks.iter().any(|c| c.category == Category::Hooks));
    assert!(Report::new(checks).failed());
}
