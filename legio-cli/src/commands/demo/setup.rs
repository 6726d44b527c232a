//! Setting the stage: the scratch repository with textkit's first commit, `legio init`, the
//! configuration for simulated agents, the tasks and plans, and the running watchdog.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use legio_core::Layout;

use super::scratch::{self, LEAD, LEAD_TASK};
use super::{Demo, WATCH_INTERVAL_MS};
use crate::error::{CliError, CliResult};

impl Demo {
    /// The repository with textkit's first commit, a local identity and no git hooks of the
    /// user's (a global `core.hooksPath` or signing must not break the agents' commits).
    pub(super) fn make_repository(&self) -> CliResult {
        let repo = self.scratch.repo();
        for dir in [
            repo.join("lib"),
            repo.join("tests"),
            self.scratch.plans(),
            self.scratch.no_hooks(),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
        }
        for (path, text) in scratch::program_files() {
            let file = repo.join(path);
            std::fs::write(&file, text)
                .map_err(|e| CliError::failure(format!("cannot write {}: {e}", file.display())))?;
            if !path.contains('/') {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        let no_hooks = self.scratch.no_hooks().display().to_string();
        let git = &self.runner;
        git.git(&["init", "-q"])?;
        git.git(&["symbolic-ref", "HEAD", "refs/heads/main"])?;
        for (key, value) in [
            ("user.name", "legio demo"),
            ("user.email", "demo@legio.invalid"),
            ("commit.gpgsign", "false"),
            ("core.hooksPath", no_hooks.as_str()),
        ] {
            git.git(&["config", key, value])?;
        }
        git.git(&["add", "-A"])?;
        git.git(&[
            "commit",
            "-q",
            "-m",
            "textkit: a tiny text tool, with tests",
        ])?;
        Ok(())
    }

    /// `.legio/config.local.yaml`: the sim-agent runtime with its plans and hook log, no
    /// external trackers, the tests as the merge's quality gate, no AI merge tier, no stagger.
    pub(super) fn configure(&self) -> CliResult {
        let quote = |p: &Path| serde_json::Value::String(p.display().to_string()).to_string();
        let text = format!(
            "# Written by legio demo.\n\
             beads:\n  enabled: false\n\
             mulch:\n  enabled: false\n\
             agents:\n  staggerDelayMs: 0\n  maxAgentsPerLead: {builders}\n\
             merge:\n  aiResolveEnabled: false\n  runQualityGates: true\n\
             qualityGates:\n  test: \"sh test.sh\"\n\
             watchdog:\n  tier0IntervalMs: {WATCH_INTERVAL_MS}\n  bootTimeoutMs: 60000\n\
             runtime:\n  default: script\n  headless: {headless}\n  script:\n    \
             command: [{legio}, \"sim-agent\", \"--plan-dir\", {plans}, \"--hook-log\", {times}]\n",
            builders = self.jobs.len(),
            headless = self.headless,
            legio = quote(&self.runner.legio),
            plans = quote(&self.scratch.plans()),
            times = quote(&self.scratch.hook_times()),
        );
        let path = Layout::new(self.scratch.repo()).file("config.local.yaml");
        std::fs::write(&path, text)
            .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))
    }

    /// The tasks and the agents' plans.
    pub(super) fn create_tasks(&self) -> CliResult {
        let lead_title = format!("Grow textkit by {} commands", self.jobs.len());
        self.runner.legio(&[
            "--quiet",
            "task",
            "create",
            &lead_title,
            "--id",
            LEAD_TASK,
            "--description",
            "Split into one builder per command; hand each branch on when its tests pass.",
        ])?;
        for a in &self.jobs {
            let description = format!(
                "Add `textkit {}` ({}) in {} with a test in tests/{}.sh; sh test.sh must pass.",
                a.feature.name, a.feature.what, a.file, a.feature.name
            );
            self.runner.legio(&[
                "--quiet",
                "task",
                "create",
                &a.title(),
                "--id",
                &a.task,
                "--parent",
                LEAD_TASK,
                "--description",
                &description,
            ])?;
        }
        let mut plans = vec![
            (
                "coordinator".to_owned(),
                scratch::coordinator_plan(self.jobs.len()),
            ),
            (LEAD.to_owned(), scratch::lead_plan(&self.jobs)),
        ];
        plans.extend(
            self.jobs
                .iter()
                .map(|a| (a.agent.clone(), scratch::builder_plan(a))),
        );
        for (agent, plan) in plans {
            let path = self.scratch.plans().join(format!("{agent}.json"));
            std::fs::write(&path, serde_json::to_string_pretty(&plan)?)
                .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// Starts `legio watch` and waits until it runs.
    pub(super) fn start_watchdog(&mut self) -> CliResult {
        let mut watchdog = self.runner.watchdog(WATCH_INTERVAL_MS)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut said = Vec::new();
        loop {
            self.runner.interrupt.check()?;
            if let Ok(line) = watchdog.lines.recv_timeout(Duration::from_millis(50)) {
                if line.contains("Watchdog running") {
                    break;
                }
                said.push(line);
            }
            if watchdog.exited().is_some() || Instant::now() >= deadline {
                said.extend(watchdog.stop(Duration::from_secs(1)));
                return Err(CliError::failure(format!(
                    "the watchdog did not start: {}",
                    said.join(" / ")
                )));
            }
        }
        self.watchdog = Some(watchdog);
        Ok(())
    }
}
