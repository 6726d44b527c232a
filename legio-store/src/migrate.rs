//! Numbered schema migrations, tracked in `PRAGMA user_version`, and the helpers that adopt
//! legio 0.1.0's tables.
//!
//! Migration `n` (1-based) brings a file from version `n - 1` to `n`. legio 0.1.0 never set
//! `user_version`, so its files are at version 0 with tables already present: each store's first
//! migration adopts such tables (rebuilding them where SQLite cannot alter a constraint, keeping
//! every row) or creates them fresh. All pending migrations of a file run in one transaction
//! (see [`crate::db::Db`]), so a failure leaves the file as it was.

use std::collections::HashSet;

use rusqlite::Connection;

/// One step of a schema's history.
pub(crate) struct Migration {
    /// What it does, for error messages.
    pub(crate) summary: &'static str,
    /// Applies it inside the caller's transaction.
    pub(crate) apply: fn(&Connection) -> rusqlite::Result<()>,
}

/// A database file's whole schema history.
pub(crate) struct Schema {
    /// The migrations, oldest first; the schema version is their count.
    pub(crate) migrations: &'static [Migration],
}

impl Schema {
    /// The version a fully migrated file has.
    pub(crate) const fn latest(&self) -> i64 {
        self.migrations.len() as i64
    }

    /// Applies every migration after `from` and records the new version. On error returns the
    /// summary of the failing step.
    pub(crate) fn apply(
        &self,
        conn: &Connection,
        from: i64,
    ) -> Result<(), (&'static str, rusqlite::Error)> {
        let start = usize::try_from(from).unwrap_or(0);
        for m in self.migrations.iter().skip(start) {
            (m.apply)(conn).map_err(|e| (m.summary, e))?;
        }
        conn.pragma_update(None, "user_version", self.latest())
            .map_err(|e| ("record the schema version", e))
    }
}

/// Whether `table` exists.
pub(crate) fn table_exists(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
        [table],
        |r| r.get(0),
    )
}

/// The column names of `table`.
pub(crate) fn columns(conn: &Connection, table: &str) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt.query_map([table], |r| r.get(0))?;
    names.collect()
}

/// How one column of a rebuilt table is filled from the legacy table.
pub(crate) struct Carry {
    /// The column of the new table.
    pub(crate) column: &'static str,
    /// The SQL expression over the legacy row used when the legacy table has `column`.
    pub(crate) present: &'static str,
    /// The SQL expression used when it does not.
    pub(crate) absent: &'static str,
}

/// Copies `column` as is; NULL when the legacy table lacks it.
pub(crate) const fn keep(column: &'static str) -> Carry {
    Carry {
        column,
        present: column,
        absent: "NULL",
    }
}

impl Carry {
    /// Uses `absent` when the legacy table lacks the column.
    pub(crate) const fn or(self, absent: &'static str) -> Carry {
        Carry { absent, ..self }
    }

    /// Uses `present` (an expression over the legacy row) instead of the bare column.
    pub(crate) const fn via(self, present: &'static str) -> Carry {
        Carry { present, ..self }
    }
}

/// Rebuilds `table` in the shape created by `create` (DDL of `table` itself, without indexes),
/// copying every legacy row in rowid order as described by `carry`. Columns of the new table not
/// named in `carry` take their defaults. The legacy table and its indexes are dropped; the caller
/// creates the new indexes afterwards.
pub(crate) fn rebuild(
    conn: &Connection,
    table: &str,
    create: &str,
    carry: &[Carry],
) -> rusqlite::Result<()> {
    let legacy = format!("{table}_legio_0_1");
    let present = columns(conn, table)?;
    conn.execute_batch(&format!("ALTER TABLE {table} RENAME TO {legacy};"))?;
    conn.execute_batch(create)?;
    let targets: Vec<&str> = carry.iter().map(|c| c.column).collect();
    let sources: Vec<&str> = carry
        .iter()
        .map(|c| {
            if present.contains(c.column) {
                c.present
            } else {
                c.absent
            }
        })
        .collect();
    conn.execute_batch(&format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {legacy} ORDER BY rowid; DROP TABLE {legacy};",
        targets.join(", "),
        sources.join(", "),
    ))
}

/// Adds `column` (with its type and constraints in `decl`) to `table` unless it already exists.
pub(crate) fn add_column(
    conn: &Connection,
    table: &str,
    column: &str,
    decl: &str,
) -> rusqlite::Result<()> {
    if !columns(conn, table)?.contains(column) {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl};"))?;
    }
    Ok(())
}

/// The form every legio timestamp is stored in (`YYYY-MM-DDTHH:MM:SS.sssZ`), as a GLOB pattern.
const ISO_Z_GLOB: &str =
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]Z";

/// Rewrites legacy timestamps in `columns` of `table` (SQLite's zone-less
/// `YYYY-MM-DDTHH:MM:SS.sss`, `YYYY-MM-DD HH:MM:SS`, offsets) as UTC ISO-Z, so that string order
/// is time order. Values SQLite cannot read as a time are left as they are.
pub(crate) fn normalise_times(
    conn: &Connection,
    table: &str,
    columns: &[&str],
) -> rusqlite::Result<()> {
    for c in columns {
        conn.execute_batch(&format!(
            "UPDATE {table} SET {c} = coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', {c}), {c}) \
             WHERE {c} IS NOT NULL AND {c} NOT GLOB '{ISO_Z_GLOB}';"
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_times_become_iso_z_and_garbage_is_kept() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (at TEXT);").unwrap();
        for v in [
            "2026-01-31T12:00:00.123",
            "2026-01-31 12:00:00",
            "2026-01-31T13:00:00.000+01:00",
            "2026-01-31T12:00:00.000Z",
            "not a time",
        ] {
            conn.execute("INSERT INTO t VALUES (?1)", [v]).unwrap();
        }
        normalise_times(&conn, "t", &["at"]).unwrap();
        let got: Vec<String> = conn
            .prepare("SELECT at FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            got,
            [
                "2026-01-31T12:00:00.123Z",
                "2026-01-31T12:00:00.000Z",
                "2026-01-31T12:00:00.000Z",
                "2026-01-31T12:00:00.000Z",
                "not a time",
            ]
        );
    }

    #[test]
    fn rebuild_maps_present_and_absent_columns() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (a TEXT, b TEXT); INSERT INTO t VALUES ('x', 'bad'), ('y', 'ok');",
        )
        .unwrap();
        rebuild(
            &conn,
            "t",
            "CREATE TABLE t (a TEXT NOT NULL, b TEXT NOT NULL CHECK (b IN ('ok', 'fixed')), c TEXT NOT NULL);",
            &[
                keep("a"),
                keep("b").via("CASE WHEN b = 'ok' THEN b ELSE 'fixed' END"),
                keep("c").or("'new'"),
            ],
        )
        .unwrap();
        let rows: Vec<(String, String, String)> = conn
            .prepare("SELECT a, b, c FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("x".into(), "fixed".into(), "new".into()),
                ("y".into(), "ok".into(), "new".into())
            ]
        );
        assert!(!table_exists(&conn, "t_legio_0_1").unwrap());
    }
}
