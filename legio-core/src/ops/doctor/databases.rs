//! `databases`: each SQLite file under `.legio/` opens, passes `PRAGMA integrity_check`, has
//! the schema version this legio writes, and is in WAL mode. A missing file is a warning, never
//! created here.

use std::path::PathBuf;

use crate::layout::Layout;

use super::{Category, Check, DatabaseHealth, Doctor};

const CAT: Category = Category::Databases;

/// Every database file of a project, in the order they are checked.
pub fn database_files(layout: &Layout) -> [PathBuf; 6] {
    [
        layout.sessions_db(),
        layout.mail_db(),
        layout.events_db(),
        layout.metrics_db(),
        layout.merge_queue_db(),
        layout.tasks_db(),
    ]
}

pub(super) fn check(d: &Doctor<'_>, out: &mut Vec<Check>) {
    for path in database_files(d.layout) {
        let file = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let rel = d.rel(&path);
        let move_aside = format!(
            "move it aside (mv {rel} {rel}.broken) and legio creates an empty one on next use; restore it from a backup if you have one"
        );
        out.push(match d.host.inspect_database(&path) {
            DatabaseHealth::Missing => Check::warn(CAT, &file, format!("{file} does not exist"))
                .details(["run `legio init` to create it"]),
            DatabaseHealth::Unusable(reason) => {
                Check::fail(CAT, &file, format!("{file} cannot be opened: {reason}"))
                    .details([move_aside])
            }
            DatabaseHealth::Opened {
                schema_version,
                known_version,
                journal_mode,
                problems,
            } => {
                if let Some(first) = problems.first() {
                    Check::fail(CAT, &file, format!("{file} is damaged: {first}"))
                        .details(problems.iter().skip(1).cloned().chain([move_aside]))
                } else if schema_version > known_version {
                    Check::fail(
                        CAT,
                        &file,
                        format!(
                            "{file} has schema version {schema_version}, newer than this legio knows ({known_version})"
                        ),
                    )
                    .details(["upgrade legio"])
                } else if schema_version < known_version {
                    Check::warn(
                        CAT,
                        &file,
                        format!(
                            "{file} has schema version {schema_version}; this legio upgrades it to {known_version} on its next use"
                        ),
                    )
                } else if !journal_mode.eq_ignore_ascii_case("wal") {
                    Check::warn(
                        CAT,
                        &file,
                        format!(
                            "{file} is in {journal_mode} journal mode, not WAL: agents writing at once may wait on each other"
                        ),
                    )
                    .details([format!("switch it: sqlite3 {rel} 'PRAGMA journal_mode=WAL'")])
                } else {
                    Check::pass(
                        CAT,
                        &file,
                        format!("{file} is healthy (schema {schema_version}, WAL)"),
                    )
                }
            }
        });
    }
}
