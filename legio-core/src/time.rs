//! Time as legio stores it: UTC, millisecond precision, always written `YYYY-MM-DDTHH:MM:SS.sssZ`.
//!
//! Fixed width means string order is time order, so SQLite can compare stored values directly.
//! Parsing also accepts the forms older legio databases hold (no `Z`, or a space instead of `T`),
//! always as UTC.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A timestamp that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a timestamp: {0:?} (expected e.g. 2026-01-31T12:00:00.000Z)")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// This instant moved by `ms` milliseconds (negative moves back).
    #[must_use]
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Parses the stored forms: `2026-01-31T12:00:00.000Z`, `2026-01-31T12:00:00Z`,
    /// `2026-01-31T12:00:00.000` (SQLite, UTC), `2026-01-31 12:00:00` (old SQLite default),
    /// any RFC 3339 offset, or a bare date (midnight UTC).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let t = text.trim();
        let err = || TimestampError(text.to_owned());
        if t.is_empty() {
            return Err(err());
        }
        if let Ok(ts) = t.parse::<jiff::Timestamp>() {
            return Ok(Self(ts.as_millisecond()));
        }
        // Zone-less forms are UTC by legio's convention (SQLite's strftime writes UTC).
        let civil_text = t.replacen(' ', "T", 1);
        if let Ok(dt) = civil_text.parse::<jiff::civil::DateTime>() {
            let ts = jiff::tz::TimeZone::UTC
                .to_timestamp(dt)
                .map_err(|_| err())?;
            return Ok(Self(ts.as_millisecond()));
        }
        if let Ok(date) = t.parse::<jiff::civil::Date>() {
            let ts = jiff::tz::TimeZone::UTC
                .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .map_err(|_| err())?;
            return Ok(Self(ts.as_millisecond()));
        }
        Err(err())
    }

    /// The ISO form with `:` and `.` replaced by `-`, for ids and directory names
    /// (`2026-01-31T12-00-00-000Z`).
    pub fn file_safe(self) -> String {
        self.to_string().replace([':', '.'], "-")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(ts) => write!(f, "{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Where "now" comes from. Tests use a fixed or stepping clock.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(jiff::Timestamp::now().as_millisecond())
    }
}

/// A clock that only moves when told to; shared between threads.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn at(start: Timestamp) -> Self {
        Self(std::sync::atomic::AtomicI64::new(start.millis()))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        self.0
            .store(to.millis(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// `ms` as legio shows durations: `850ms`, `42s`, `3m 5s`, `2h 10m`.
pub fn format_duration_ms(ms: i64) -> String {
    if ms < 0 {
        return format!("-{}", format_duration_ms(-ms));
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s < 60 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 60 {
        return format!("{m}m {}s", s % 60);
    }
    format!("{}h {}m", m / 60, m % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_fixed_width_utc() {
        let t = Timestamp::from_millis(0);
        assert_eq!(t.to_string(), "1970-01-01T00:00:00.000Z");
        let t = Timestamp::from_millis(1_769_860_800_123);
        assert_eq!(t.to_string(), "2026-01-31T12:00:00.123Z");
        assert_eq!(t.file_safe(), "2026-01-31T12-00-00-123Z");
    }

    #[test]
    fn parses_every_stored_form_as_utc() {
        let want = Timestamp::from_millis(1_769_860_800_000);
        for text in [
            "2026-01-31T12:00:00.000Z",
            "2026-01-31T12:00:00Z",
            "2026-01-31T12:00:00.000",
            "2026-01-31 12:00:00",
            "2026-01-31T13:00:00+01:00",
        ] {
            assert_eq!(Timestamp::parse(text).unwrap(), want, "{text}");
        }
        assert_eq!(
            Timestamp::parse("2026-01-31").unwrap(),
            Timestamp::from_millis(1_769_817_600_000)
        );
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("").is_err());
    }

    #[test]
    fn round_trips_through_text() {
        let t = Timestamp::from_millis(1_700_000_000_001);
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration_ms(850), "850ms");
        assert_eq!(format_duration_ms(42_000), "42s");
        assert_eq!(format_duration_ms(119_600), "1m 59s");
        assert_eq!(format_duration_ms(7_800_000), "2h 10m");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at(Timestamp::from_millis(10));
        assert_eq!(c.now().millis(), 10);
        c.advance(5);
        assert_eq!(c.now().millis(), 15);
    }
}
