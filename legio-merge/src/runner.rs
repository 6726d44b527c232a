//! The merge engine: [`MergeRunner`] lands queued branches on a target branch.
//!
//! One run into one target:
//! 1. take the target's lock (`.legio/merge/<target>.lock`);
//! 2. undo whatever a crashed run left half-done (its journal says what), and put its queue
//!    entry back to pending;
//! 3. for each entry, claimed atomically from the queue: refuse if the target's checkout has
//!    uncommitted changes; merge in memory and resolve conflicts tier by tier; write the merge
//!    commit as an object; bring the target's checkout (or a scratch worktree) to it and run
//!    the quality gates there; then move the target ref with a compare-and-swap from the
//!    pre-merge commit; finish the entry. A failing gate puts the checkout back and fails the
//!    entry; the ref never moved.
//!
//! Mail and events are the caller's: every entry's [`EntryReport`] is handed to the caller as
//! soon as the entry is finished, with its tier, duration, conflict files and error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::{DiffFormat, Oid, Repository, Signature};
use legio_core::domain::merge::{MergeEntry, MergeStatus, NewMergeEntry, ResolutionTier};
use legio_core::layout::Layout;
use legio_core::ports::git::parse_agent_branch;
use legio_core::ports::runtime::{AgentRuntime, OneShot};
use legio_core::ports::store::MergeQueue;
use legio_core::time::Clock;

use crate::ai;
use crate::analysis::{self, Analysis, Conflict, Resolved};
use crate::checkout::{self, CheckoutError};
use crate::error::{MergeError, git, queue};
use crate::gates::QualityGates;
use crate::journal::{self, Journal, Phase};
use crate::lock::TargetLock;
use crate::mechanical::{self, Labels};
use crate::repo;
use crate::report::{
    EntryReport, FileConflict, FileResolution, Handoff, Prediction, Recovery, Resolution, RunReport,
};

/// Behaviour switches (from `.legio/config.yaml`'s `merge` section and the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOptions {
    /// Tier 3, `merge.aiResolveEnabled`.
    pub ai_resolve: bool,
    /// Tier 4, `merge.reimagineEnabled`.
    pub reimagine: bool,
    /// The limit on each one-shot call to the agent runtime.
    pub ai_timeout: Duration,
    /// How long to wait for another merger into the same target.
    pub lock_timeout: Duration,
}

impl Default for MergeOptions {
    /// legio 0.1.0's defaults: AI resolution on, reimagine off.
    fn default() -> Self {
        Self {
            ai_resolve: true,
            reimagine: false,
            ai_timeout: Duration::from_secs(300),
            lock_timeout: Duration::from_secs(30),
        }
    }
}

/// What the engine needs from outside.
#[derive(Clone, Copy)]
pub struct MergePorts<'a> {
    /// The merge queue.
    pub queue: &'a dyn MergeQueue,
    /// The agent runtime for tier 3 (`None`: tier 3 unavailable).
    pub resolver: Option<&'a dyn AgentRuntime>,
    /// Checks run before the target moves.
    pub gates: &'a dyn QualityGates,
    /// Time for queue entries the engine creates.
    pub clock: &'a dyn Clock,
}

/// Lands queued branches on target branches.
pub struct MergeRunner<'a> {
    repo: Repository,
    layout: Layout,
    ports: MergePorts<'a>,
    options: MergeOptions,
    crash_at: Option<Phase>,
}

/// How one entry ended, before it is written to the queue.
#[derive(Debug)]
struct Outcome {
    status: MergeStatus,
    tier: Option<ResolutionTier>,
    conflict_files: Vec<String>,
    resolutions: Vec<FileResolution>,
    merge_commit: Option<String>,
    already_merged: bool,
    error: Option<String>,
    handoff: Option<Handoff>,
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            status: MergeStatus::Failed,
            tier: None,
            conflict_files: Vec::new(),
            resolutions: Vec::new(),
            merge_commit: None,
            already_merged: false,
            error: None,
            handoff: None,
        }
    }
}

impl Outcome {
    fn failed(error: String) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }
}

/// What the tiers decided for one merge.
enum Plan {
    /// A tree to commit.
    Commit {
        tree: Oid,
        tier: ResolutionTier,
        resolutions: Vec<FileResolution>,
    },
    /// No enabled tier could resolve it.
    Unresolved { tier: ResolutionTier, error: String },
    /// Tier 4: hand the task to a new builder.
    Reimagine(Handoff),
}

impl<'a> MergeRunner<'a> {
    /// An engine for the project whose main checkout is `root`.
    pub fn open(
        root: &Path,
        ports: MergePorts<'a>,
        options: MergeOptions,
    ) -> Result<Self, MergeError> {
        let repo = Repository::open(root)
            .map_err(git(format!("opening the repository at {}", root.display())))?;
        Ok(Self {
            repo,
            layout: Layout::new(root),
            ports,
            options,
            crash_at: None,
        })
    }

    /// Test seam: stop dead (no clean-up at all, as if killed) once `phase` is journaled.
    #[doc(hidden)]
    #[must_use]
    pub fn crash_at(mut self, phase: Phase) -> Self {
        self.crash_at = Some(phase);
        self
    }

    fn merge_dir(&self) -> PathBuf {
        self.layout.file("merge")
    }

    fn journal_path(&self, target: &str) -> PathBuf {
        self.merge_dir()
            .join(format!("{}.journal", journal::file_stem(target)))
    }

    fn lock(&self, target: &str) -> Result<TargetLock, MergeError> {
        let path = self
            .merge_dir()
            .join(format!("{}.lock", journal::file_stem(target)));
        Ok(TargetLock::acquire(
            &path,
            target,
            self.options.lock_timeout,
        )?)
    }

    fn scratch(&self, target: &str) -> (String, PathBuf) {
        let name = format!("legio-merge-{}", journal::file_stem(target));
        let path = self.merge_dir().join(&name);
        (name, path)
    }

    /// Marks `phase` reached. The journal is written (durably) only when `write`: when it
    /// gains something recovery needs. Recovery never depends on the phase itself.
    fn record(&self, journal: &mut Journal, phase: Phase, write: bool) -> Result<(), MergeError> {
        journal.phase = phase;
        if write {
            journal::write(&self.journal_path(&journal.target), journal)?;
        }
        if self.crash_at == Some(phase) {
            return Err(MergeError::SimulatedCrash(phase));
        }
        Ok(())
    }

    fn target_tip(&self, target: &str) -> Result<Oid, MergeError> {
        repo::branch_tip(&self.repo, target)
            .map_err(git(format!("reading branch {target}")))?
            .ok_or_else(|| MergeError::NoSuchTarget(target.to_owned()))
    }

    fn target_checkout(&self, target: &str) -> Result<Option<PathBuf>, MergeError> {
        Ok(repo::checkout_of_branch(&self.repo, target)
            .map_err(git("listing worktrees"))?
            .map(|c| c.path))
    }

    fn open_checkout(path: &Path) -> Result<Repository, MergeError> {
        Repository::open(path).map_err(git(format!("opening {}", path.display())))
    }

    // -----------------------------------------------------------------------------------------
    // Runs
    // -----------------------------------------------------------------------------------------

    /// Merges every pending entry into `target`, oldest first. `on_entry` sees each entry's
    /// report as soon as the entry is finished. A failed entry does not stop the others.
    pub fn merge_all(
        &self,
        target: &str,
        on_entry: &mut dyn FnMut(&EntryReport),
    ) -> Result<RunReport, MergeError> {
        let _lock = self.lock(target)?;
        let mut report = RunReport {
            target: target.to_owned(),
            recovered: self.recover_locked(target)?,
            entries: Vec::new(),
        };
        while let Some(entry) = self.merge_next(target, None)? {
            on_entry(&entry);
            report.entries.push(entry);
        }
        Ok(report)
    }

    /// Merges `branch` into `target`, queueing it first if it is not queued.
    pub fn merge_branch(
        &self,
        target: &str,
        branch: &str,
        on_entry: &mut dyn FnMut(&EntryReport),
    ) -> Result<RunReport, MergeError> {
        let _lock = self.lock(target)?;
        let mut report = RunReport {
            target: target.to_owned(),
            recovered: self.recover_locked(target)?,
            entries: Vec::new(),
        };
        self.target_tip(target)?;
        self.enqueue_branch(target, branch)?;
        if let Some(entry) = self.merge_next(target, Some(branch))? {
            on_entry(&entry);
            report.entries.push(entry);
        }
        Ok(report)
    }

    /// The active entry of `branch`, queueing the branch when it has none.
    fn enqueue_branch(&self, target: &str, branch: &str) -> Result<MergeEntry, MergeError> {
        let q = self.ports.queue;
        if let Some(e) = q
            .active_for_branch(branch)
            .map_err(queue(format!("looking up {branch}")))?
        {
            if e.status == MergeStatus::Merging {
                return Err(MergeError::ClaimedElsewhere {
                    branch: branch.to_owned(),
                    target: e.target_branch.unwrap_or_default(),
                });
            }
            return Ok(e);
        }
        if repo::branch_tip(&self.repo, branch)
            .map_err(git(format!("reading branch {branch}")))?
            .is_none()
        {
            return Err(MergeError::NoSuchBranch(branch.to_owned()));
        }
        let (agent, task) = parse_agent_branch(branch).unwrap_or(("unknown", "unknown"));
        let files = self.changed_files(branch, target)?;
        q.enqueue(&NewMergeEntry {
            branch_name: branch.to_owned(),
            bead_id: task.to_owned(),
            agent_name: agent.to_owned(),
            files_modified: files,
            enqueued_at: self.ports.clock.now(),
        })
        .map_err(queue(format!("queueing {branch}")))
    }

    fn changed_files(&self, branch: &str, target: &str) -> Result<Vec<String>, MergeError> {
        repo::changed_files(&self.repo, branch, target)
            .map_err(git(format!("listing files changed on {branch}")))
    }

    /// Claims and merges the next pending entry (of `branch`, if given). `None` when there is
    /// nothing pending.
    fn merge_next(
        &self,
        target: &str,
        branch: Option<&str>,
    ) -> Result<Option<EntryReport>, MergeError> {
        let started = Instant::now();
        let pre = self.target_tip(target)?;
        let checkout = self.target_checkout(target)?;
        if let Some(path) = &checkout {
            let files = repo::changed_paths(&Self::open_checkout(path)?, false)
                .map_err(git(format!("reading the status of {}", path.display())))?;
            if !files.is_empty() {
                return Err(MergeError::DirtyTarget {
                    target: target.to_owned(),
                    checkout: path.clone(),
                    files,
                });
            }
        }
        let q = self.ports.queue;
        let Some(entry) = q
            .claim_next(branch, target, &pre.to_string())
            .map_err(queue("claiming the next entry"))?
        else {
            return Ok(None);
        };
        let mut journal = Journal {
            pid: std::process::id(),
            entry_id: entry.id,
            branch: entry.branch_name.clone(),
            target: target.to_owned(),
            pre_merge_commit: pre.to_string(),
            merge_commit: None,
            checkout: checkout.clone(),
            scratch: None,
            phase: Phase::Claimed,
        };
        self.record(&mut journal, Phase::Claimed, false)?;
        let outcome = match self.merge_claimed(&entry, pre, &mut journal) {
            Ok(o) => o,
            Err(e) if e.stops_the_run() => {
                if !matches!(e, MergeError::SimulatedCrash(_)) {
                    // Put things back now if that is safe; otherwise the journal stays for
                    // the next run, which will say why it cannot.
                    let _ = self.undo_and_release(&journal);
                }
                return Err(e);
            }
            Err(e) => {
                self.undo(&journal)?;
                Outcome::failed(e.to_string())
            }
        };
        let status = outcome.status;
        q.finish(entry.id, status, outcome.tier, outcome.error.as_deref())
            .map_err(queue(format!("finishing entry {}", entry.id)))?;
        self.record(&mut journal, Phase::Finished, false)?;
        journal::remove(&self.journal_path(target))?;
        let mut finished = entry;
        finished.status = status;
        finished.resolved_tier = outcome.tier;
        finished.error_message.clone_from(&outcome.error);
        Ok(Some(EntryReport {
            entry: finished,
            tier: outcome.tier,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            conflict_files: outcome.conflict_files,
            resolutions: outcome.resolutions,
            merge_commit: outcome.merge_commit,
            already_merged: outcome.already_merged,
            error: outcome.error,
            handoff: outcome.handoff,
        }))
    }

    /// Merges a claimed entry. `Ok` for every outcome of the entry itself (merged, conflict,
    /// failed gates, vanished branch), with the checkout and ref as they must stay.
    fn merge_claimed(
        &self,
        entry: &MergeEntry,
        pre: Oid,
        journal: &mut Journal,
    ) -> Result<Outcome, MergeError> {
        let branch = &entry.branch_name;
        let target = journal.target.clone();
        let Some(theirs) = repo::branch_tip(&self.repo, branch)
            .map_err(git(format!("reading branch {branch}")))?
        else {
            return Ok(Outcome::failed(format!(
                "branch {branch} no longer exists; nothing was merged"
            )));
        };
        if theirs == pre
            || self
                .repo
                .graph_descendant_of(pre, theirs)
                .map_err(git(format!("comparing {branch} with {target}")))?
        {
            return Ok(Outcome {
                status: MergeStatus::Merged,
                tier: Some(ResolutionTier::CleanMerge),
                already_merged: true,
                ..Outcome::default()
            });
        }
        let mut analysis = analysis::analyse(&self.repo, pre, theirs)
            .map_err(git(format!("merging {branch} into {target} in memory")))?;
        let conflict_files = conflict_files(&analysis);
        let (tree, tier, resolutions) = match self.plan(
            entry,
            &target,
            pre,
            theirs,
            &mut analysis,
        )? {
            Plan::Commit {
                tree,
                tier,
                resolutions,
            } => (tree, tier, resolutions),
            Plan::Unresolved { tier, error } => {
                return Ok(Outcome {
                    status: MergeStatus::Conflict,
                    tier: Some(tier),
                    conflict_files,
                    error: Some(error),
                    ..Outcome::default()
                });
            }
            Plan::Reimagine(handoff) => {
                return Ok(Outcome {
                    status: MergeStatus::Conflict,
                    tier: Some(ResolutionTier::Reimagine),
                    conflict_files,
                    error: Some(format!(
                        "{branch} could not be merged; its task is handed to a new builder on a fresh branch from {target}"
                    )),
                    handoff: Some(handoff),
                    ..Outcome::default()
                });
            }
        };
        let commit = self.commit(entry, &target, pre, theirs, tree, tier, &resolutions)?;
        journal.merge_commit = Some(commit.to_string());
        self.record(journal, Phase::Committed, true)?;
        let base = Outcome {
            status: MergeStatus::Merged,
            tier: Some(tier),
            conflict_files,
            resolutions,
            merge_commit: Some(commit.to_string()),
            ..Outcome::default()
        };
        if let Some(failure) = self.materialise_and_check(journal, pre, commit)? {
            self.undo(journal)?;
            return Ok(Outcome {
                status: MergeStatus::Failed,
                merge_commit: None,
                error: Some(failure),
                ..base
            });
        }
        self.record(journal, Phase::GatesPassed, false)?;
        self.repo
            .reference_matching(
                &repo::branch_ref(&target),
                commit,
                true,
                pre,
                &format!("legio merge: {branch} ({tier})"),
            )
            .map_err(|_| MergeError::TargetMoved {
                target: target.clone(),
                expected: pre.to_string(),
                found: repo::branch_tip(&self.repo, &target)
                    .ok()
                    .flatten()
                    .map_or_else(|| "nothing".to_owned(), |id| id.to_string()),
            })?;
        self.record(journal, Phase::Published, false)?;
        Ok(base)
    }

    /// Brings the target's checkout (or a scratch worktree) to `commit` and runs the gates
    /// there. Returns why the entry fails, if it does.
    fn materialise_and_check(
        &self,
        journal: &mut Journal,
        pre: Oid,
        commit: Oid,
    ) -> Result<Option<String>, MergeError> {
        let gates = self.ports.gates;
        if let Some(path) = journal.checkout.clone() {
            self.record(journal, Phase::CheckingOut, false)?;
            // Objects must come from the handle that checks them out.
            let wrepo = Self::open_checkout(&path)?;
            let tree = |id: Oid| wrepo.find_commit(id).and_then(|c| c.tree());
            let pre_tree = tree(pre).map_err(git("reading the target commit"))?;
            let merged = tree(commit).map_err(git("reading the merge commit"))?;
            match checkout::update_to(&wrepo, &pre_tree, &merged) {
                Ok(()) => {}
                Err(CheckoutError::InTheWay(files)) => {
                    return Ok(Some(format!(
                        "files the merge adds already exist in {} (untracked or ignored): {}; move them aside and queue the branch again",
                        path.display(),
                        files.join(", ")
                    )));
                }
                Err(CheckoutError::Unexplained(files)) => {
                    return Ok(Some(format!(
                        "uncommitted changes in {} stand in the way: {}",
                        path.display(),
                        files.join(", ")
                    )));
                }
                Err(CheckoutError::Git(e)) => {
                    return Err(git(format!("updating {}", path.display()))(e));
                }
            }
            let report = gates.run(&path);
            return Ok((!report.passed()).then(|| report.failure_summary()));
        }
        if gates.is_empty() {
            return Ok(None);
        }
        let (name, path) = self.scratch(&journal.target);
        journal.scratch = Some(path.clone());
        self.record(journal, Phase::CheckingOut, true)?;
        let commit_obj = self
            .repo
            .find_commit(commit)
            .map_err(git("reading the merge commit"))?;
        checkout::create_scratch(&self.repo, &name, &path, &commit_obj).map_err(git(format!(
            "creating a scratch worktree at {}",
            path.display()
        )))?;
        let report = gates.run(&path);
        checkout::remove_scratch(&self.repo, &name, &path).map_err(git(format!(
            "removing the scratch worktree {}",
            path.display()
        )))?;
        journal.scratch = None;
        Ok((!report.passed()).then(|| report.failure_summary()))
    }

    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        entry: &MergeEntry,
        target: &str,
        pre: Oid,
        theirs: Oid,
        tree: Oid,
        tier: ResolutionTier,
        resolutions: &[FileResolution],
    ) -> Result<Oid, MergeError> {
        let doing = || {
            format!(
                "committing the merge of {} into {target}",
                entry.branch_name
            )
        };
        let sig = self
            .repo
            .signature()
            .or_else(|_| Signature::now("legio", "legio@localhost"))
            .map_err(git(doing()))?;
        let tree = self.repo.find_tree(tree).map_err(git(doing()))?;
        let ours = self.repo.find_commit(pre).map_err(git(doing()))?;
        let theirs = self.repo.find_commit(theirs).map_err(git(doing()))?;
        let message = commit_message(entry, target, tier, resolutions);
        self.repo
            .commit(None, &sig, &sig, &message, &tree, &[&ours, &theirs])
            .map_err(git(doing()))
    }

    // -----------------------------------------------------------------------------------------
    // Tiers
    // -----------------------------------------------------------------------------------------

    fn plan(
        &self,
        entry: &MergeEntry,
        target: &str,
        pre: Oid,
        theirs: Oid,
        analysis: &mut Analysis,
    ) -> Result<Plan, MergeError> {
        let doing = || format!("resolving {} into {target}", entry.branch_name);
        let mut resolutions: Vec<FileResolution> = analysis
            .union_files
            .iter()
            .map(|p| FileResolution {
                path: p.clone(),
                how: Resolution::UnionAttribute,
            })
            .collect();
        let conflicts = analysis.conflicts.clone();
        let mut resolved: Vec<(Conflict, Resolved)> = Vec::new();
        let mut hard: Vec<(Conflict, String)> = Vec::new();
        for c in conflicts {
            match analysis::mechanical(&self.repo, &c) {
                Ok(r) => resolved.push((c, r)),
                Err(why) => hard.push((c, why.0)),
            }
        }
        let mut tier = if analysis.conflicts.is_empty() && resolutions.is_empty() {
            ResolutionTier::CleanMerge
        } else {
            ResolutionTier::AutoResolve
        };
        let mut reasons: Vec<String> = hard
            .iter()
            .map(|(c, w)| format!("{}: {w}", c.path))
            .collect();
        if !hard.is_empty() {
            if let (true, Some(runtime)) = (self.options.ai_resolve, self.ports.resolver) {
                tier = ResolutionTier::AiResolve;
                match self.ai_resolve(runtime, entry, target, &hard) {
                    Ok(mut by_ai) => {
                        resolved.append(&mut by_ai);
                        hard.clear();
                    }
                    Err(why) => reasons = vec![why],
                }
            } else {
                reasons
                    .push("tier 3 (AI resolution) is disabled (merge.aiResolveEnabled)".to_owned());
            }
        }
        if !hard.is_empty() {
            if self.options.reimagine {
                return Ok(Plan::Reimagine(
                    self.handoff(entry, target, pre, theirs, analysis)?,
                ));
            }
            let files: Vec<&str> = hard.iter().map(|(c, _)| c.path.as_str()).collect();
            return Ok(Plan::Unresolved {
                tier,
                error: format!(
                    "{} file(s) could not be resolved ({}): {}; resolve them on the branch (merge {target} into it) and queue it again",
                    files.len(),
                    files.join(", "),
                    reasons.join("; ")
                ),
            });
        }
        resolutions.extend(resolved.iter().map(|(c, r)| FileResolution {
            path: c.path.clone(),
            how: r.how,
        }));
        let tree = analysis::build_tree(&self.repo, analysis, &resolved).map_err(git(doing()))?;
        Ok(Plan::Commit {
            tree,
            tier,
            resolutions,
        })
    }

    /// Tier 3: asks the agent runtime for each file; all or nothing.
    fn ai_resolve(
        &self,
        runtime: &dyn AgentRuntime,
        entry: &MergeEntry,
        target: &str,
        hard: &[(Conflict, String)],
    ) -> Result<Vec<(Conflict, Resolved)>, String> {
        if let Some((c, why)) = hard.iter().find(|(c, _)| !c.ai_eligible()) {
            return Err(format!(
                "{}: {why}, which the agent runtime cannot resolve",
                c.path
            ));
        }
        let mut out = Vec::new();
        for (c, _) in hard {
            let versions = analysis::Versions::of(&self.repo, c)
                .map_err(|e| format!("{}: cannot read its versions: {}", c.path, e.message()))?;
            let sides = versions.sides();
            let labels = Labels {
                base: "base",
                ours: target,
                theirs: &entry.branch_name,
            };
            let (text, _) =
                mechanical::diff3(sides, labels, 7).map_err(|e| format!("{}: {}", c.path, e.0))?;
            let text = String::from_utf8(text).map_err(|_| {
                format!(
                    "{}: not UTF-8 text, so not sent to the agent runtime",
                    c.path
                )
            })?;
            let prompt = ai::prompt(
                ai::PromptContext {
                    path: &c.path,
                    branch: &entry.branch_name,
                    target,
                    agent: &entry.agent_name,
                    task: &entry.bead_id,
                },
                &text,
            );
            let answer = runtime
                .one_shot(&OneShot {
                    prompt,
                    cwd: self.layout.root().to_path_buf(),
                    timeout: self.options.ai_timeout,
                    model: None,
                })
                .map_err(|e| format!("{}: the agent runtime failed: {e}", c.path))?;
            let content = ai::check_answer(&answer, sides)
                .map_err(|r| format!("{}: the AI answer was rejected: {r}", c.path))?;
            let mode = analysis::merged_mode(c).map_err(|e| format!("{}: {}", c.path, e.0))?;
            out.push((
                c.clone(),
                Resolved {
                    content,
                    mode,
                    how: Resolution::Ai,
                },
            ));
        }
        Ok(out)
    }

    /// Tier 4's hand-off: the branch's own changes since it forked, as a diff.
    fn handoff(
        &self,
        entry: &MergeEntry,
        target: &str,
        pre: Oid,
        theirs: Oid,
        analysis: &Analysis,
    ) -> Result<Handoff, MergeError> {
        let doing = || format!("describing {} for a new builder", entry.branch_name);
        let fork = self.repo.merge_base(pre, theirs).map_err(git(doing()))?;
        let tree = |id: Oid| self.repo.find_commit(id).and_then(|c| c.tree());
        let old = tree(fork).map_err(git(doing()))?;
        let new = tree(theirs).map_err(git(doing()))?;
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&old), Some(&new), None)
            .map_err(git(doing()))?;
        let mut text = Vec::new();
        diff.print(DiffFormat::Patch, |_, _, line| {
            if matches!(line.origin(), '+' | '-' | ' ') {
                text.push(line.origin() as u8);
            }
            text.extend_from_slice(line.content());
            true
        })
        .map_err(git(doing()))?;
        let mut files = entry.files_modified.clone();
        if files.is_empty() {
            files = self.changed_files(&entry.branch_name, target)?;
        }
        Ok(Handoff {
            branch: entry.branch_name.clone(),
            agent: entry.agent_name.clone(),
            task: entry.bead_id.clone(),
            target: target.to_owned(),
            target_commit: pre.to_string(),
            files,
            conflict_files: conflict_files(analysis),
            diff: String::from_utf8_lossy(&text).into_owned(),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Recovery
    // -----------------------------------------------------------------------------------------

    /// Undoes an interrupted merge into `target`, if there is one, and puts its entry back to
    /// pending. Runs take care of this themselves; this is for `legio doctor`-style callers.
    pub fn recover(&self, target: &str) -> Result<Vec<Recovery>, MergeError> {
        let _lock = self.lock(target)?;
        self.recover_locked(target)
    }

    fn recover_locked(&self, target: &str) -> Result<Vec<Recovery>, MergeError> {
        let q = self.ports.queue;
        let mut recovered = Vec::new();
        if let Some(j) = journal::read(&self.journal_path(target))? {
            let entry = q
                .list(None)
                .map_err(queue("reading the queue"))?
                .into_iter()
                .find(|e| e.id == j.entry_id);
            match entry {
                Some(e) if e.status == MergeStatus::Merging => {
                    recovered.push(self.undo_and_release(&j)?);
                }
                // The entry was finished before the crash: only the journal was left.
                _ => {
                    if let Some(scratch) = &j.scratch {
                        let (name, _) = self.scratch(target);
                        checkout::remove_scratch(&self.repo, &name, scratch)
                            .map_err(git("removing a leftover scratch worktree"))?;
                    }
                    journal::remove(&self.journal_path(target))?;
                }
            }
        }
        // Claimed for this target but never journaled: nothing changed; put them back. (No
        // live merger can hold them: this process holds the target's lock.)
        for e in q
            .list(Some(MergeStatus::Merging))
            .map_err(queue("reading the queue"))?
        {
            if e.target_branch.as_deref() == Some(target) {
                q.release(e.id)
                    .map_err(queue(format!("releasing entry {}", e.id)))?;
                recovered.push(Recovery {
                    entry_id: e.id,
                    branch: e.branch_name,
                    restored_commit: e.pre_merge_commit.unwrap_or_default(),
                    ref_restored: false,
                    files_restored: Vec::new(),
                });
            }
        }
        Ok(recovered)
    }

    fn undo_and_release(&self, j: &Journal) -> Result<Recovery, MergeError> {
        let (ref_restored, files_restored) = self.undo(j)?;
        self.ports
            .queue
            .release(j.entry_id)
            .map_err(queue(format!("releasing entry {}", j.entry_id)))?;
        journal::remove(&self.journal_path(&j.target))?;
        Ok(Recovery {
            entry_id: j.entry_id,
            branch: j.branch.clone(),
            restored_commit: j.pre_merge_commit.clone(),
            ref_restored,
            files_restored,
        })
    }

    /// Puts the target ref and its checkout back to the pre-merge commit, as far as the merge
    /// got, and removes a scratch worktree. Returns whether the ref moved and which files were
    /// put back.
    ///
    /// A target ref found neither at the pre-merge commit nor at the merge commit was moved by
    /// someone else (or built upon): it is left alone, and so are the checkout's files, which
    /// then show up as uncommitted changes rather than being overwritten.
    fn undo(&self, j: &Journal) -> Result<(bool, Vec<String>), MergeError> {
        let target = &j.target;
        let doing = || format!("undoing the merge of {} into {target}", j.branch);
        let pre = Oid::from_str(&j.pre_merge_commit).map_err(git(doing()))?;
        let merge = j
            .merge_commit
            .as_deref()
            .map(Oid::from_str)
            .transpose()
            .map_err(git(doing()))?;
        let now = self.target_tip(target)?;
        let mut ref_restored = false;
        if Some(now) == merge {
            self.repo
                .reference_matching(
                    &repo::branch_ref(target),
                    pre,
                    true,
                    now,
                    &format!("legio merge: undo {}", j.branch),
                )
                .map_err(git(doing()))?;
            ref_restored = true;
        }
        let at_pre = ref_restored || now == pre;
        let mut files = Vec::new();
        if let (true, Some(path), Some(merge)) = (at_pre, &j.checkout, merge)
            && self
                .target_checkout(target)?
                .is_some_and(|p| repo::same_path(&p, path))
        {
            let wrepo = Self::open_checkout(path)?;
            let pre_commit = wrepo.find_commit(pre).map_err(git(doing()))?;
            let merged = wrepo
                .find_commit(merge)
                .and_then(|c| c.tree())
                .map_err(git(doing()))?;
            files = match checkout::restore(&wrepo, &pre_commit, &merged) {
                Ok(f) => f,
                Err(CheckoutError::Unexplained(files) | CheckoutError::InTheWay(files)) => {
                    return Err(MergeError::RecoveryBlocked {
                        branch: j.branch.clone(),
                        target: target.clone(),
                        checkout: path.clone(),
                        files,
                    });
                }
                Err(CheckoutError::Git(e)) => return Err(git(doing())(e)),
            };
        }
        if let Some(scratch) = &j.scratch {
            let (name, _) = self.scratch(target);
            checkout::remove_scratch(&self.repo, &name, scratch).map_err(git(doing()))?;
        }
        Ok((ref_restored, files))
    }

    // -----------------------------------------------------------------------------------------
    // Dry run
    // -----------------------------------------------------------------------------------------

    /// Predicts what merging `branch` into `target` would need, from an in-memory merge.
    /// Touches neither the working tree, nor any ref, nor the queue.
    pub fn predict(&self, target: &str, branch: &str) -> Result<Prediction, MergeError> {
        let pre = self.target_tip(target)?;
        let entry_id = self
            .ports
            .queue
            .active_for_branch(branch)
            .map_err(queue(format!("looking up {branch}")))?
            .map(|e| e.id);
        let mut p = Prediction {
            branch: branch.to_owned(),
            target: target.to_owned(),
            entry_id,
            changed_files: Vec::new(),
            already_merged: false,
            conflicts: Vec::new(),
            union_files: Vec::new(),
            tier: None,
            error: None,
        };
        let Some(theirs) =
            repo::branch_tip(&self.repo, branch).map_err(git(format!("reading {branch}")))?
        else {
            p.error = Some(format!("branch {branch} does not exist"));
            return Ok(p);
        };
        p.changed_files = self.changed_files(branch, target)?;
        if theirs == pre
            || self
                .repo
                .graph_descendant_of(pre, theirs)
                .map_err(git(format!("comparing {branch} with {target}")))?
        {
            p.already_merged = true;
            p.tier = Some(ResolutionTier::CleanMerge);
            return Ok(p);
        }
        let analysis = analysis::analyse(&self.repo, pre, theirs)
            .map_err(git(format!("merging {branch} into {target} in memory")))?;
        p.union_files.clone_from(&analysis.union_files);
        let ai = self.options.ai_resolve && self.ports.resolver.is_some();
        let mut needed = if analysis.conflicts.is_empty() && analysis.union_files.is_empty() {
            Some(ResolutionTier::CleanMerge)
        } else {
            Some(ResolutionTier::AutoResolve)
        };
        for c in &analysis.conflicts {
            let (tier, reason) = match analysis::mechanical(&self.repo, c) {
                Ok(_) => (Some(ResolutionTier::AutoResolve), None),
                Err(why) if ai && c.ai_eligible() => (Some(ResolutionTier::AiResolve), Some(why.0)),
                Err(why) if self.options.reimagine => {
                    (Some(ResolutionTier::Reimagine), Some(why.0))
                }
                Err(why) => (None, Some(why.0)),
            };
            needed = match (needed, tier) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            p.conflicts.push(FileConflict {
                path: c.path.clone(),
                kind: c.kind,
                tier,
                reason,
            });
        }
        // A file only tier 4 can take means the whole branch goes to tier 4, if enabled.
        if needed.is_none() && self.options.reimagine {
            needed = Some(ResolutionTier::Reimagine);
        }
        p.tier = needed;
        Ok(p)
    }

    /// Predicts every pending entry against `target`'s current tip (each on its own: later
    /// entries will in fact merge onto the earlier ones). Read-only.
    pub fn predict_pending(&self, target: &str) -> Result<Vec<Prediction>, MergeError> {
        self.ports
            .queue
            .list(Some(MergeStatus::Pending))
            .map_err(queue("reading the queue"))?
            .iter()
            .map(|e| self.predict(target, &e.branch_name))
            .collect()
    }
}

fn conflict_files(analysis: &Analysis) -> Vec<String> {
    let mut files: Vec<String> = analysis
        .conflicts
        .iter()
        .map(|c| c.path.clone())
        .chain(analysis.union_files.iter().cloned())
        .collect();
    files.sort();
    files.dedup();
    files
}

/// The merge commit's message: what was merged, by whom, for which task, and how.
pub fn commit_message(
    entry: &MergeEntry,
    target: &str,
    tier: ResolutionTier,
    resolutions: &[FileResolution],
) -> String {
    let mut m = format!(
        "Merge {} into {target}\n\nAgent: {}\nTask: {}\nTier: {tier}\n",
        entry.branch_name, entry.agent_name, entry.bead_id
    );
    if !resolutions.is_empty() {
        m.push_str("Resolved:\n");
        for r in resolutions {
            let how = match r.how {
                Resolution::KeepBoth => "both sides kept",
                Resolution::JsonlUnion => "JSONL union",
                Resolution::UnionAttribute => "merge=union",
                Resolution::Ai => "AI, checked",
            };
            let _ = writeln!(m, "  {} ({how})", r.path);
        }
    }
    m
}
