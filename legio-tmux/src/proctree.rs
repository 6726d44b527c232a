//! Process trees from `/proc`, and ending them without hitting a recycled pid.
//!
//! [`snapshot`] reads every `/proc/<pid>/stat` once; [`Snapshot::tree`] then finds a process's
//! descendants *and* every process still in its process group or session (a child that
//! daemonised by double-forking leaves the tree but usually not the session). [`terminate`]
//! sends TERM deepest-first, waits a short grace for them to go, and KILLs the survivors.
//!
//! Every signal goes through [`signal_if_same`], which checks that the pid still belongs to
//! the process that was seen (same start time) and, on Linux, signals through a pidfd opened
//! before the check, so a pid recycled in between is never hit.
//!
//! Without `/proc` (not Linux) the snapshot is empty and only the root and its process group
//! are signalled.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// One process, as `/proc/<pid>/stat` described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Its pid.
    pub pid: u32,
    /// Its parent.
    pub ppid: u32,
    /// Its process group.
    pub pgid: u32,
    /// Its session.
    pub sid: u32,
    /// Start time in clock ticks since boot: with the pid, it names one process for good.
    pub start_time: u64,
    /// The state letter (`R`, `S`, `Z`, ...).
    pub state: char,
}

impl ProcStat {
    /// Whether the process has exited and waits to be reaped (or is being torn down).
    pub fn is_exited(self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the text of `/proc/<pid>/stat`. The command name sits in parentheses and may itself
/// contain spaces and parentheses, so the fields are counted from the *last* `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_once(' ')?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 of proc(5) (state); starttime is field 22.
    Some(ProcStat {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        sid: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Reads one process's stat; `None` when it does not exist (or `/proc` is missing).
pub fn stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Every process on the machine, read in one pass over `/proc`.
#[derive(Debug, Default)]
pub struct Snapshot {
    procs: HashMap<u32, ProcStat>,
    /// Whether `/proc` could be read at all.
    available: bool,
}

/// Reads `/proc` once. Processes that vanish mid-read are skipped; no `/proc` gives an empty,
/// unavailable snapshot.
pub fn snapshot() -> Snapshot {
    let mut procs = HashMap::new();
    let entries = std::fs::read_dir("/proc");
    let available = entries.is_ok();
    if let Ok(entries) = entries {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(s) = stat(pid) {
                procs.insert(pid, s);
            }
        }
    }
    Snapshot { procs, available }
}

impl Snapshot {
    /// A snapshot of the given processes (tests).
    pub fn from_stats(stats: impl IntoIterator<Item = ProcStat>) -> Self {
        Self {
            procs: stats.into_iter().map(|s| (s.pid, s)).collect(),
            available: true,
        }
    }

    /// The process `pid`, if it was running.
    pub fn get(&self, pid: u32) -> Option<ProcStat> {
        self.procs.get(&pid).copied()
    }

    /// `root`, its descendants, and the other members of its process group and session
    /// (when `root` leads them), ordered deepest-first: every process comes before its
    /// parent, and `root` comes last. Exited processes are left out.
    pub fn tree(&self, root: u32) -> Vec<ProcStat> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for p in self.procs.values() {
            children.entry(p.ppid).or_default().push(p.pid);
        }
        for kids in children.values_mut() {
            kids.sort_unstable();
        }
        let mut ordered = Vec::new();
        let mut seen = HashSet::new();
        // Iterative post-order walk: (pid, children already pushed?).
        let mut stack = vec![(root, false)];
        while let Some((pid, expanded)) = stack.pop() {
            if expanded {
                ordered.push(pid);
                continue;
            }
            if !seen.insert(pid) {
                continue;
            }
            stack.push((pid, true));
            for &kid in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
                stack.push((kid, false));
            }
        }
        // Escaped members of the root's group or session go first: they are leaves as far as
        // this tree knows.
        let mut strays: Vec<u32> = self
            .procs
            .values()
            .filter(|p| (p.pgid == root || p.sid == root) && !seen.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        strays.sort_unstable();
        strays
            .into_iter()
            .chain(ordered)
            .filter_map(|pid| self.get(pid))
            .filter(|p| !p.is_exited())
            .collect()
    }
}

/// Sends `signal` to `target` only if that pid still names the same process (same start
/// time). Returns whether the signal was delivered.
pub fn signal_if_same(target: ProcStat, signal: Signal) -> bool {
    let Some(pid) = Pid::from_raw(target.pid as i32) else {
        return false;
    };
    if target.pid <= 1 || target.pid == std::process::id() {
        return false;
    }
    // Pin the process first, then check it is the one we saw, then signal through the pin.
    #[cfg(target_os = "linux")]
    {
        if let Ok(fd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
            if !still_same(target) {
                return false;
            }
            return rustix::process::pidfd_send_signal(&fd, signal).is_ok();
        }
    }
    if !still_same(target) {
        return false;
    }
    rustix::process::kill_process(pid, signal).is_ok()
}

fn still_same(target: ProcStat) -> bool {
    match stat(target.pid) {
        Some(now) => now.start_time == target.start_time && !now.is_exited(),
        // No /proc to check with: only trust a process that still answers.
        None => {
            !cfg!(target_os = "linux")
                && Pid::from_raw(target.pid as i32)
                    .is_some_and(|p| rustix::process::test_kill_process(p).is_ok())
        }
    }
}

/// What [`terminate`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Termination {
    /// Processes that received TERM.
    pub termed: Vec<u32>,
    /// Processes still alive after the grace period that received KILL.
    pub killed: Vec<u32>,
}

/// Ends `root` and its whole tree: TERM deepest-first, up to `grace` for them to exit (checked
/// every few milliseconds, so a tree that exits at once costs no wait), then KILL for the
/// survivors. A root that is already gone is not an error; its group and session members are
/// still ended (Linux never hands out a pid that is still some live group's or session's id).
///
/// `root_start` is the root's start time when the caller recorded it: if the pid now names a
/// different process, nothing is signalled.
pub fn terminate(root: u32, root_start: Option<u64>, grace: Duration) -> Termination {
    let snap = snapshot();
    if !snap.available {
        return terminate_without_proc(root, grace);
    }
    if let (Some(now), Some(expected)) = (snap.get(root), root_start)
        && now.start_time != expected
    {
        return Termination::default();
    }
    let members = snap.tree(root);
    let mut report = Termination::default();
    for p in &members {
        if signal_if_same(*p, Signal::TERM) {
            report.termed.push(p.pid);
        }
    }
    let deadline = Instant::now() + grace;
    let mut alive: Vec<ProcStat> = members;
    loop {
        alive.retain(|p| still_same(*p));
        if alive.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for p in alive {
        if signal_if_same(p, Signal::KILL) {
            report.killed.push(p.pid);
        }
    }
    report
}

fn terminate_without_proc(root: u32, grace: Duration) -> Termination {
    let mut report = Termination::default();
    let Some(pid) = Pid::from_raw(root as i32).filter(|_| root > 1) else {
        return report;
    };
    if rustix::process::kill_process(pid, Signal::TERM).is_ok() {
        report.termed.push(root);
    }
    // The group may not exist (the root did not lead one): ignore that.
    let _ = rustix::process::kill_process_group(pid, Signal::TERM);
    let deadline = Instant::now() + grace;
    while rustix::process::test_kill_process(pid).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if rustix::process::kill_process(pid, Signal::KILL).is_ok() {
        report.killed.push(root);
    }
    let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sleeping process: (pid, parent, group, session).
    fn p(id: u32, parent: u32, group: u32, session: u32) -> ProcStat {
        ProcStat {
            pid: id,
            ppid: parent,
            pgid: group,
            sid: session,
            start_time: u64::from(id) * 10,
            state: 'S',
        }
    }

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let text = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_stat(text).unwrap();
        assert_eq!(
            s,
            ProcStat {
                pid: 4242,
                ppid: 1,
                pgid: 4242,
                sid: 4242,
                start_time: 987_654,
                state: 'S'
            }
        );
        assert!(parse_stat("garbage").is_none());
        assert!(parse_stat("12 (x) S 1 2").is_none(), "too few fields");
    }

    #[test]
    fn reads_this_process() {
        let me = stat(std::process::id()).expect("/proc/self is readable on Linux");
        assert_eq!(me.pid, std::process::id());
        assert!(me.start_time > 0);
    }

    #[test]
    fn tree_is_deepest_first_with_group_and_session_strays() {
        // 100 leads its session; 101 and 102 are children, 103 a grandchild under 101;
        // 200 double-forked away (parent 1) but kept the session; 300 is unrelated.
        let snap = Snapshot::from_stats([
            p(1, 0, 1, 1),
            p(100, 1, 100, 100),
            p(101, 100, 100, 100),
            p(102, 100, 102, 100),
            p(103, 101, 100, 100),
            p(200, 1, 200, 100),
            p(300, 1, 300, 300),
        ]);
        let order: Vec<u32> = snap.tree(100).iter().map(|s| s.pid).collect();
        assert_eq!(order.last(), Some(&100), "root last: {order:?}");
        let pos = |pid| order.iter().position(|&x| x == pid).unwrap();
        assert!(
            pos(103) < pos(101),
            "grandchild before its parent: {order:?}"
        );
        assert!(order.contains(&200), "session stray included: {order:?}");
        assert!(!order.contains(&300) && !order.contains(&1), "{order:?}");
        assert_eq!(order.len(), 5);
    }

    #[test]
    fn tree_leaves_out_exited_processes_and_a_missing_root() {
        let mut dead = p(101, 100, 100, 100);
        dead.state = 'Z';
        let snap = Snapshot::from_stats([p(100, 1, 100, 100), dead]);
        assert_eq!(snap.tree(100).len(), 1);
        assert!(snap.tree(999).is_empty());
    }

    #[test]
    fn never_signals_a_process_whose_start_time_changed() {
        // Our own pid is refused outright; a changed start time is refused by the check.
        let me = stat(std::process::id()).unwrap();
        assert!(!signal_if_same(me, Signal::TERM));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let seen = stat(child.id()).unwrap();
        let mut recycled = seen;
        recycled.start_time += 1;
        assert!(!signal_if_same(recycled, Signal::KILL));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child must still run"
        );
        assert!(signal_if_same(seen, Signal::KILL));
        assert!(!child.wait().unwrap().success());
    }
}
