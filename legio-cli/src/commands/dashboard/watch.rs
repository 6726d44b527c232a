//! Telling that the stores changed without reading them: the size and modification time of
//! each database file and of its WAL. SQLite appends every commit to the WAL (and a checkpoint
//! rewrites the database file), so any committed write changes one of them; reads change
//! neither. A poll is a dozen `stat` calls, so an idle dashboard costs next to nothing and
//! re-reads the stores only after a write.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::SystemTime;

use legio_core::Layout;

/// The state of one file: absent, or its inode, length and modification time (the inode
/// tells a file removed and created again, as `legio clean` does).
type FileState = Option<(u64, u64, SystemTime)>;

/// The files watched and their last seen state.
#[derive(Debug, Clone)]
pub struct StoreWatch {
    files: Vec<PathBuf>,
    seen: Vec<FileState>,
}

impl StoreWatch {
    /// Watches the dashboard's databases (`sessions`, `mail`, `events`, `metrics`,
    /// `merge-queue`) and their WALs. The first [`StoreWatch::changed`] reports a change.
    pub fn new(layout: &Layout) -> Self {
        let mut files = Vec::new();
        for db in [
            layout.sessions_db(),
            layout.mail_db(),
            layout.events_db(),
            layout.metrics_db(),
            layout.merge_queue_db(),
        ] {
            let mut wal = db.clone().into_os_string();
            wal.push("-wal");
            files.push(db);
            files.push(PathBuf::from(wal));
        }
        Self {
            seen: Vec::new(),
            files,
        }
    }

    fn states(&self) -> Vec<FileState> {
        self.files
            .iter()
            .map(|f| {
                std::fs::metadata(f).ok().map(|m| {
                    let modified = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    (m.ino(), m.len(), modified)
                })
            })
            .collect()
    }

    /// Whether any watched file changed since the last call (always true the first time).
    pub fn changed(&mut self) -> bool {
        let now = self.states();
        let changed = now != self.seen;
        self.seen = now;
        changed
    }
}
