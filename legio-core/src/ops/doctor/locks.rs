//! `locks`: what processes leave behind. A pid file (`watchdog.pid`, `server.pid`) whose
//! process is gone is stale and removable. Merge locks (`.legio/merge/<target>.lock`) are
//! `flock`s the kernel releases when their holder dies, so they are never stale: a lock file
//! nobody holds is simply free (and must not be deleted: a merger opening it at that moment
//! would lock a file the next merger no longer sees). A merge journal nobody holds the lock
//! for is an interrupted merge: reported, never removed, because the next `legio merge` into
//! that target reads it to undo what was left half-done.

use std::path::{Path, PathBuf};

use crate::ops::pidfile::{self, PidFile};

use super::{Category, Check, Doctor, Fix, LockState, Status, count};

const CAT: Category = Category::Locks;

pub(super) fn check(d: &Doctor<'_>, out: &mut Vec<Check>) {
    out.extend(pid_file(d, "watchdog", &d.layout.watchdog_pid(), true));
    out.extend(pid_file(d, "server", &d.layout.file("server.pid"), false));
    merge(d, out);
}

/// The check of one pid file; none for an absent file that is not `always` reported.
fn pid_file(d: &Doctor<'_>, what: &str, path: &Path, always: bool) -> Option<Check> {
    let name = format!("{what}-pid");
    let rel = d.rel(path);
    Some(match pidfile::read(path) {
        Ok(PidFile::Absent) if always => {
            Check::pass(CAT, name, format!("no {rel} (the {what} is not running)"))
        }
        Ok(PidFile::Absent) => return None,
        Ok(PidFile::Pid(pid)) if d.probe.is_alive(pid) => {
            Check::pass(CAT, name, format!("the {what} runs (pid {pid})"))
        }
        Ok(PidFile::Pid(pid)) => Check::warn(
            CAT,
            name,
            format!("{rel} names pid {pid}, which is not running (stale)"),
        )
        .fix(
            vec![Fix::RemoveStalePidFile {
                path: path.to_path_buf(),
                text: pid.to_string(),
            }],
            format!("removed the stale {rel} (pid {pid} was not running)"),
        ),
        Ok(PidFile::Invalid(text)) => {
            Check::warn(CAT, name, format!("{rel} holds no process id ({text:?})")).fix(
                vec![Fix::RemoveStalePidFile {
                    path: path.to_path_buf(),
                    text,
                }],
                format!("removed the unreadable {rel}"),
            )
        }
        Err(e) => Check::fail(CAT, name, format!("cannot read {rel}: {e}")),
    })
}

/// Reverses `legio_merge`'s file stem: `%2F` is `/`, `%25` is `%`.
fn target_of_stem(stem: &str) -> String {
    stem.replace("%2F", "/").replace("%25", "%")
}

fn files_with(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == extension) && p.is_file())
        .collect();
    files.sort();
    files
}

fn merge(d: &Doctor<'_>, out: &mut Vec<Check>) {
    let dir = d.layout.file("merge");
    let mut running = Vec::new();
    let mut unknown = Vec::new();
    for lock in files_with(&dir, "lock") {
        let stem = lock
            .file_stem()
            .map(|s| target_of_stem(&s.to_string_lossy()))
            .unwrap_or_default();
        match d.host.merge_lock(&lock) {
            LockState::Free => {}
            LockState::Held(pid) => running.push(match pid {
                Some(pid) => format!("into {stem} (pid {pid})"),
                None => format!("into {stem}"),
            }),
            LockState::Unknown(why) => unknown.push(format!("{}: {why}", d.rel(&lock))),
        }
    }
    out.push(if !unknown.is_empty() {
        Check::warn(CAT, "merge-locks", "cannot test some merge locks").details(unknown)
    } else if running.is_empty() {
        Check::pass(CAT, "merge-locks", "no merge is running")
    } else {
        Check::pass(
            CAT,
            "merge-locks",
            format!("merging {}", running.join(", ")),
        )
    });

    let mut status = Status::Pass;
    let mut details = Vec::new();
    let mut interrupted = 0;
    for journal in files_with(&dir, "journal") {
        let rel = d.rel(&journal);
        let lock = journal.with_extension("lock");
        if matches!(d.host.merge_lock(&lock), LockState::Held(_)) {
            continue;
        }
        match d.host.merge_journal(&journal) {
            Ok(j) => {
                interrupted += 1;
                if status == Status::Pass {
                    status = Status::Warn;
                }
                details.push(format!(
                    "merge of {} into {} stopped at {} (pid {} is gone); the next `legio merge` into {} undoes what it left half-done: keep {rel}",
                    j.branch, j.target, j.phase, j.pid, j.target
                ));
            }
            Err(why) => {
                status = Status::Fail;
                details.push(format!(
                    "{rel} is unreadable ({why}); if no merge is running, check the target branch and the queue by hand, then delete it"
                ));
            }
        }
    }
    out.push(match status {
        Status::Pass => Check::pass(CAT, "merge-journals", "no interrupted merge"),
        Status::Warn => Check::warn(
            CAT,
            "merge-journals",
            format!(
                "{} to recover",
                count(interrupted, "interrupted merge", "interrupted merges")
            ),
        )
        .details(details),
        Status::Fail => {
            Check::fail(CAT, "merge-journals", "a merge journal cannot be read").details(details)
        }
    });
}
