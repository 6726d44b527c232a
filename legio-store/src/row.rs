//! Reading typed values out of rows, with a [`Failure::BadValue`] naming the column when a stored
//! value is not what legio expects (SQLite columns are dynamically typed, and legacy rows were
//! written by other code).

use std::str::FromStr;

use legio_core::Timestamp;
use rusqlite::Row;
use rusqlite::types::ValueRef;

use crate::db::Failure;

fn bad(column: &str, value: ValueRef<'_>) -> Failure {
    let value = match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("<{} bytes of binary data>", b.len()),
    };
    Failure::BadValue {
        column: column.to_owned(),
        value,
    }
}

/// A nullable text column.
pub(crate) fn opt_text(row: &Row<'_>, column: &str) -> Result<Option<String>, Failure> {
    match row.get_ref(column)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| bad(column, ValueRef::Text(t))),
        other => Err(bad(column, other)),
    }
}

/// A text column that must not be NULL.
pub(crate) fn text(row: &Row<'_>, column: &str) -> Result<String, Failure> {
    opt_text(row, column)?.ok_or_else(|| bad(column, ValueRef::Null))
}

/// A nullable integer column.
pub(crate) fn opt_int(row: &Row<'_>, column: &str) -> Result<Option<i64>, Failure> {
    match row.get_ref(column)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        other => Err(bad(column, other)),
    }
}

/// An integer column that must not be NULL.
pub(crate) fn int(row: &Row<'_>, column: &str) -> Result<i64, Failure> {
    opt_int(row, column)?.ok_or_else(|| bad(column, ValueRef::Null))
}

/// A non-negative integer column read as `T` (`u32`, `u64`, `u8`).
pub(crate) fn count<T: TryFrom<i64>>(row: &Row<'_>, column: &str) -> Result<T, Failure> {
    let v = int(row, column)?;
    T::try_from(v).map_err(|_| bad(column, ValueRef::Integer(v)))
}

/// A nullable non-negative integer column.
pub(crate) fn opt_count<T: TryFrom<i64>>(
    row: &Row<'_>,
    column: &str,
) -> Result<Option<T>, Failure> {
    opt_int(row, column)?
        .map(|v| T::try_from(v).map_err(|_| bad(column, ValueRef::Integer(v))))
        .transpose()
}

/// A nullable real column (integers are accepted: SQLite stores `1.0` as `1` in REAL columns
/// only when asked to, but legacy writers may have).
pub(crate) fn opt_real(row: &Row<'_>, column: &str) -> Result<Option<f64>, Failure> {
    match row.get_ref(column)? {
        ValueRef::Null => Ok(None),
        ValueRef::Real(f) => Ok(Some(f)),
        ValueRef::Integer(i) => Ok(Some(i as f64)),
        other => Err(bad(column, other)),
    }
}

/// A column holding the text form of `T` (an enum, a validated name).
pub(crate) fn parsed<T: FromStr>(row: &Row<'_>, column: &str) -> Result<T, Failure> {
    let s = text(row, column)?;
    s.parse().map_err(|_| Failure::BadValue {
        column: column.to_owned(),
        value: s,
    })
}

/// A nullable column holding the text form of `T`.
pub(crate) fn opt_parsed<T: FromStr>(row: &Row<'_>, column: &str) -> Result<Option<T>, Failure> {
    match opt_text(row, column)? {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| Failure::BadValue {
            column: column.to_owned(),
            value: s,
        }),
    }
}

/// A timestamp column. Zone-less legacy values are read as UTC.
pub(crate) fn time(row: &Row<'_>, column: &str) -> Result<Timestamp, Failure> {
    parsed(row, column)
}

/// A nullable timestamp column.
pub(crate) fn opt_time(row: &Row<'_>, column: &str) -> Result<Option<Timestamp>, Failure> {
    opt_parsed(row, column)
}

/// A column holding a JSON array of `T`.
pub(crate) fn json_list<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    column: &str,
) -> Result<Vec<T>, Failure> {
    let s = text(row, column)?;
    serde_json::from_str(&s).map_err(|_| Failure::BadValue {
        column: column.to_owned(),
        value: s,
    })
}

/// The stored form of a timestamp.
pub(crate) fn iso(t: Timestamp) -> String {
    t.to_string()
}

/// The stored form of a list of strings (a compact JSON array).
pub(crate) fn json_text<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    serde_json::to_string(&items).expect("a list of strings always serialises to JSON")
}

/// SQLite integers are signed; counts beyond `i64::MAX` cannot occur in practice and saturate.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A LIMIT bound as a parameter: `None` means no limit (SQLite reads a negative limit so).
pub(crate) fn limit(v: Option<u32>) -> i64 {
    v.map_or(-1, i64::from)
}

/// Runs a cached query and decodes every row.
pub(crate) fn all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: fn(&Row<'_>) -> Result<T, Failure>,
) -> Result<Vec<T>, Failure> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Runs a cached query and decodes its first row, if any.
pub(crate) fn first<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: fn(&Row<'_>) -> Result<T, Failure>,
) -> Result<Option<T>, Failure> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}
