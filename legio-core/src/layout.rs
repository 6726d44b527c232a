//! Where things live under `<root>/.legio/` (legio 0.1.0's layout), and how the project root is
//! found from any directory, including an agent's worktree, without running git.

use std::path::{Path, PathBuf};

use crate::names::{AgentName, TaskId};

/// The name of legio's state directory.
pub const LEGIO_DIR: &str = ".legio";

/// Paths of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of the project at `root` (the main checkout).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.legio/`.
    pub fn legio_dir(&self) -> PathBuf {
        self.root.join(LEGIO_DIR)
    }

    /// A file or directory directly under `.legio/`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.legio_dir().join(name)
    }

    /// `.legio/config.yaml`.
    pub fn config(&self) -> PathBuf {
        self.file("config.yaml")
    }

    /// `.legio/config.local.yaml`.
    pub fn config_local(&self) -> PathBuf {
        self.file("config.local.yaml")
    }

    /// `.legio/sessions.db`.
    pub fn sessions_db(&self) -> PathBuf {
        self.file("sessions.db")
    }

    /// `.legio/mail.db`.
    pub fn mail_db(&self) -> PathBuf {
        self.file("mail.db")
    }

    /// `.legio/events.db`.
    pub fn events_db(&self) -> PathBuf {
        self.file("events.db")
    }

    /// `.legio/metrics.db`.
    pub fn metrics_db(&self) -> PathBuf {
        self.file("metrics.db")
    }

    /// `.legio/merge-queue.db`.
    pub fn merge_queue_db(&self) -> PathBuf {
        self.file("merge-queue.db")
    }

    /// `.legio/tasks.db`.
    pub fn tasks_db(&self) -> PathBuf {
        self.file("tasks.db")
    }

    /// `.legio/agent-manifest.json`.
    pub fn manifest(&self) -> PathBuf {
        self.file("agent-manifest.json")
    }

    /// `.legio/agent-defs/`.
    pub fn agent_defs_dir(&self) -> PathBuf {
        self.file("agent-defs")
    }

    /// `.legio/worktrees/<agent>` (the default `worktrees.baseDir`).
    pub fn worktree(&self, agent: &AgentName) -> PathBuf {
        self.file("worktrees").join(agent.as_str())
    }

    /// `.legio/agents/<agent>/`: identity, checkpoint, recovery count.
    pub fn agent_dir(&self, agent: &AgentName) -> PathBuf {
        self.file("agents").join(agent.as_str())
    }

    /// `.legio/agents/<agent>/checkpoint.json`.
    pub fn checkpoint(&self, agent: &AgentName) -> PathBuf {
        self.agent_dir(agent).join("checkpoint.json")
    }

    /// `.legio/agents/<agent>/recovery-count`: the watchdog's restarts of the agent (a decimal).
    pub fn recovery_count(&self, agent: &AgentName) -> PathBuf {
        self.agent_dir(agent).join("recovery-count")
    }

    /// `.legio/logs/<agent>/`.
    pub fn agent_logs(&self, agent: &AgentName) -> PathBuf {
        self.file("logs").join(agent.as_str())
    }

    /// `.legio/specs/<task>.md`.
    pub fn spec(&self, task: &TaskId) -> PathBuf {
        self.file("specs").join(format!("{task}.md"))
    }

    /// `.legio/current-run.txt`.
    pub fn current_run(&self) -> PathBuf {
        self.file("current-run.txt")
    }

    /// `.legio/session-branch.txt`.
    pub fn session_branch(&self) -> PathBuf {
        self.file("session-branch.txt")
    }

    /// `.legio/watchdog.pid`.
    pub fn watchdog_pid(&self) -> PathBuf {
        self.file("watchdog.pid")
    }

    /// `.legio/legio-errors.log`: legio's own error log (hook failures that must not block).
    pub fn error_log(&self) -> PathBuf {
        self.file("legio-errors.log")
    }

    /// The current run id from `current-run.txt`; empty or missing means none.
    pub fn read_current_run(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.current_run()).ok()?;
        let id = text.trim();
        (!id.is_empty()).then(|| id.to_owned())
    }
}

/// Finds the project root from `start` with file reads only.
///
/// Walks up to the nearest directory holding `.git`. If `.git` is a file (a linked worktree,
/// such as an agent's), follows `gitdir:` and `commondir` to the main repository and returns
/// the main checkout. Returns the directory holding `.git` otherwise. `None` outside any
/// repository.
pub fn find_project_root(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let dot_git = d.join(".git");
        if dot_git.is_dir() {
            return Some(d.to_path_buf());
        }
        if dot_git.is_file() {
            return main_checkout_of_worktree(&dot_git).or_else(|| Some(d.to_path_buf()));
        }
        dir = d.parent();
    }
    None
}

fn main_checkout_of_worktree(dot_git_file: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dot_git_file).ok()?;
    let gitdir = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
    let base = dot_git_file.parent()?;
    let gitdir = base.join(gitdir);
    // <main>/.git/worktrees/<name>/commondir holds the path of <main>/.git (often "../..").
    let common = std::fs::read_to_string(gitdir.join("commondir")).ok()?;
    let common = gitdir.join(common.trim());
    let common = std::fs::canonicalize(&common).unwrap_or(common);
    if common.file_name().is_some_and(|n| n == ".git") {
        common.parent().map(Path::to_path_buf)
    } else {
        // A bare repository has no main checkout; use the repository directory itself.
        Some(common)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_legacy_layout() {
        let l = Layout::new("/p");
        let a = AgentName::new("builder-1").unwrap();
        assert_eq!(l.sessions_db(), Path::new("/p/.legio/sessions.db"));
        assert_eq!(l.worktree(&a), Path::new("/p/.legio/worktrees/builder-1"));
        assert_eq!(
            l.checkpoint(&a),
            Path::new("/p/.legio/agents/builder-1/checkpoint.json")
        );
        let t = TaskId::new("t-1").unwrap();
        assert_eq!(l.spec(&t), Path::new("/p/.legio/specs/t-1.md"));
    }

    #[test]
    fn finds_the_main_checkout_from_a_linked_worktree() {
        let tmp = tempfile::tempdir().unwrap();
        let main = tmp.path().join("main");
        let wt = main.join(".legio/worktrees/b1");
        let admin = main.join(".git/worktrees/b1");
        std::fs::create_dir_all(&admin).unwrap();
        std::fs::create_dir_all(wt.join("src")).unwrap();
        std::fs::write(admin.join("commondir"), "../..\n").unwrap();
        std::fs::write(wt.join(".git"), format!("gitdir: {}\n", admin.display())).unwrap();
        let found = find_project_root(&wt.join("src")).unwrap();
        assert_eq!(
            std::fs::canonicalize(found).unwrap(),
            std::fs::canonicalize(&main).unwrap()
        );
        assert_eq!(find_project_root(&main).unwrap(), main);
    }

    #[test]
    fn reads_current_run_trimmed_and_treats_empty_as_none() {
        let tmp = tempfile::tempdir().unwrap();
        let l = Layout::new(tmp.path());
        std::fs::create_dir_all(l.legio_dir()).unwrap();
        assert_eq!(l.read_current_run(), None);
        std::fs::write(l.current_run(), "  \n").unwrap();
        assert_eq!(l.read_current_run(), None);
        std::fs::write(l.current_run(), "run-1\n").unwrap();
        assert_eq!(l.read_current_run().as_deref(), Some("run-1"));
    }
}
