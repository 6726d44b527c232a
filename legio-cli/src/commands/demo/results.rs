//! The result of a run: the agents, mail, merges, recovery, hook latency and the merged tests,
//! and the checks that decide whether the demo showed what it set out to show.

use legio_core::domain::merge::MergeStatus;
use legio_core::ports::{MailFilter, SessionStore};
use legio_core::{AgentState, Layout};

use super::scratch::Assignment;
use super::summary::{AgentLine, Latency, MailTally, MergeLine, Merges, Summary, TestRun};
use super::{Demo, fleet};
use crate::error::CliResult;
use crate::stores;

impl Demo {
    /// The summary: agents, mail, merges, the recovery, hook latency and the merged tests.
    pub(super) fn results(
        &self,
        layout: &Layout,
        sessions: &dyn SessionStore,
        watched: fleet::Watched,
    ) -> CliResult<Summary> {
        let mut problems: Vec<String> = watched.unfinished.into_iter().collect();
        let mut agents = Vec::new();
        let mut rows = sessions.list()?;
        rows.sort_by_key(|r| r.started_at);
        for row in rows {
            let landed = if row.capability.works_at_root() || row.branch_name.is_empty() {
                None
            } else {
                Some(self.runner.git_ok(&[
                    "merge-base",
                    "--is-ancestor",
                    &row.branch_name,
                    "main",
                ])?)
            };
            agents.push(AgentLine {
                name: row.agent_name.to_string(),
                capability: row.capability.to_string(),
                state: row.state.to_string(),
                parent: row.parent_agent.as_ref().map(ToString::to_string),
                task: row.bead_id.clone(),
                branch: row.branch_name.clone(),
                landed,
            });
        }
        for a in &self.jobs {
            match agents.iter().find(|l| l.name == a.agent) {
                Some(l) if l.landed == Some(true) => {}
                Some(l) => problems.push(format!("{} ({}) did not land", l.branch, l.state)),
                None => problems.push(format!("{} never started", a.agent)),
            }
        }
        let messages = stores::mail(layout)?.list(&MailFilter::default())?;
        let mut mail = MailTally {
            total: messages.len(),
            unread: messages.iter().filter(|m| !m.read).count(),
            ..MailTally::default()
        };
        for m in &messages {
            *mail.by_type.entry(m.mail_type.to_string()).or_default() += 1;
        }
        let mut merges = Merges {
            target: "main".to_owned(),
            ..Merges::default()
        };
        for e in stores::merge_queue(layout)?.list(None)? {
            if e.status == MergeStatus::Merged {
                let tier = e.resolved_tier.map_or("-".to_owned(), |t| t.to_string());
                *merges.by_tier.entry(tier).or_default() += 1;
            }
            merges.entries.push(MergeLine {
                branch: e.branch_name,
                agent: e.agent_name,
                status: e.status.to_string(),
                tier: e.resolved_tier.map(|t| t.to_string()),
                error: e.error_message,
            });
        }
        let (passed, output) = self.runner.sh(&["test.sh"])?;
        if !passed {
            problems.push(format!("the tests fail on the merged main: {output}"));
        }
        let shared: Vec<&Assignment> = self.jobs.iter().filter(|a| a.shared).collect();
        if let [first, second, ..] = shared[..] {
            let branch = second.branch();
            let tier = merges
                .entries
                .iter()
                .find(|e| e.branch == branch)
                .and_then(|e| e.tier.as_deref());
            if tier != Some("auto-resolve") {
                problems.push(format!(
                    "{branch} adds to {} after {}, so its merge should have needed the mechanical tier (auto-resolve); it was {}",
                    second.file,
                    first.agent,
                    tier.unwrap_or("not merged")
                ));
            }
        }
        match &watched.recovery {
            Some(r) if r.recovered => {}
            Some(r) => problems.push(format!(
                "{} was killed but the watchdog did not restart it",
                r.agent
            )),
            None => problems.push("no builder was killed (it never made its first commit)".into()),
        }
        let still_running = sessions
            .list()?
            .iter()
            .filter(|r| r.state == AgentState::Zombie)
            .count();
        if still_running > 0 {
            problems.push(format!("{still_running} agent(s) ended as zombie"));
        }
        Ok(Summary {
            ok: problems.is_empty(),
            dir: self.scratch.root.display().to_string(),
            kept: self.keep,
            multiplexer: if self.headless { "headless" } else { "tmux" }.to_owned(),
            wall_time_ms: self.started.elapsed().as_millis() as u64,
            agents,
            mail,
            merges,
            recovery: watched.recovery,
            hook_latency: Latency::read(&self.scratch.hook_times()),
            tests: Some(TestRun { passed, output }),
            problems,
        })
    }
}
