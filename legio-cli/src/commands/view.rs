//! What the observability commands (inspect, trace, feed, replay, errors, logs, metrics, run,
//! group, costs) share: time, limit and interval arguments; opening a database only when its
//! file exists (a read never creates one); event lines and per-agent colours; and the follow
//! loop, which Ctrl-C (or a closed pipe) ends cleanly with status 0.
//!
//! Times are shown in UTC (`HH:MM:SS`, with a `--- YYYY-MM-DD ---` line when the date changes),
//! as they are stored.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Style};
use clap::Args;
use legio_core::Layout;
use legio_core::costs::ClaudeDir;
use legio_core::domain::event::{EventLevel, StoredEvent};
use legio_core::ops::views::{Window, shorten, value_text};
use legio_core::ports::{EventStore, MetricsStore, SessionStore};
use legio_core::time::Timestamp;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::{BLUE, CYAN, DIM, GREEN, Printer, RED, YELLOW, paint};
use crate::stores;

/// Magenta, the fifth agent colour.
const MAGENTA: Style = AnsiColor::Magenta.on_default();

/// The width of the rules under view titles.
pub const RULE: usize = 70;

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

/// A point in time on the command line: an ISO 8601 time, or an age (`30s`, `10m`, `2h`, `1d`)
/// counted back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// This instant.
    At(Timestamp),
    /// This many milliseconds before now.
    Ago(i64),
}

impl TimeArg {
    /// The instant, given now.
    pub fn at(self, now: Timestamp) -> Timestamp {
        match self {
            Self::At(t) => t,
            Self::Ago(ms) => now.plus_millis(-ms),
        }
    }
}

/// Parses a `--since`/`--until` value.
pub fn parse_time(text: &str) -> Result<TimeArg, String> {
    let t = text.trim();
    let age = t
        .char_indices()
        .last()
        .and_then(|(i, unit)| Some((t[..i].parse::<u32>().ok()?, unit)));
    if let Some((n, unit)) = age {
        let per = match unit {
            's' => Some(1_000),
            'm' => Some(60_000),
            'h' => Some(3_600_000),
            'd' => Some(86_400_000),
            _ => None,
        };
        if let Some(per) = per {
            return Ok(TimeArg::Ago(i64::from(n) * per));
        }
    }
    Timestamp::parse(t).map(TimeArg::At).map_err(|_| {
        "expected an ISO 8601 time (2026-01-31T12:00:00Z, or just 2026-01-31) or an age \
         such as 30s, 10m, 2h or 1d"
            .to_owned()
    })
}

/// Parses a `--limit`/`--last` value: a whole number of at least 1.
pub fn parse_limit(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of at least 1".to_owned()),
    }
}

/// Parses a polling `--interval` in milliseconds, at least 200.
pub fn parse_interval(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(ms) if ms >= 200 => Ok(ms),
        _ => Err("expected milliseconds, at least 200 (e.g. 1000)".to_owned()),
    }
}

/// `--since` and `--until`.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Only events at or after this time: ISO 8601 (2026-01-31T12:00:00Z) or an age (10m, 2h,
    /// 1d).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<TimeArg>,
    /// Only events at or before this time: ISO 8601 or an age.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<TimeArg>,
}

impl WindowArgs {
    /// The window, given now. An empty window (since after until) is a usage error.
    pub fn window(&self, now: Timestamp) -> CliResult<Window> {
        let window = Window {
            since: self.since.map(|t| t.at(now)),
            until: self.until.map(|t| t.at(now)),
        };
        if let (Some(s), Some(u)) = (window.since, window.until)
            && s > u
        {
            return Err(CliError::usage(format!(
                "--since ({s}) is after --until ({u}), so nothing can match"
            ))
            .hint("swap the two times"));
        }
        Ok(window)
    }
}

// ---------------------------------------------------------------------------------------------
// Stores that exist
// ---------------------------------------------------------------------------------------------

/// Opens a database only if its file exists: reads never create databases.
fn if_present<T>(path: &Path, open: impl FnOnce() -> CliResult<T>) -> CliResult<Option<T>> {
    if path.is_file() {
        open().map(Some)
    } else {
        Ok(None)
    }
}

/// `events.db`, if there is one.
pub fn events_if_present(layout: &Layout) -> CliResult<Option<Box<dyn EventStore>>> {
    if_present(&layout.events_db(), || stores::events(layout))
}

/// `sessions.db`, if there is one.
pub fn sessions_if_present(layout: &Layout) -> CliResult<Option<Box<dyn SessionStore>>> {
    if_present(&layout.sessions_db(), || stores::sessions(layout))
}

/// `metrics.db`, if there is one.
pub fn metrics_if_present(layout: &Layout) -> CliResult<Option<Box<dyn MetricsStore>>> {
    if_present(&layout.metrics_db(), || stores::metrics(layout))
}

/// Claude Code's directory: `$CLAUDE_CONFIG_DIR`, else `$HOME/.claude`.
pub fn claude_dir(ctx: &Ctx<'_>) -> Option<ClaudeDir> {
    ctx.env
        .claude_config_dir
        .clone()
        .map(ClaudeDir::new)
        .or_else(|| ctx.env.home.as_deref().map(ClaudeDir::under_home))
}

// ---------------------------------------------------------------------------------------------
// Event lines
// ---------------------------------------------------------------------------------------------

/// A bold title and a rule.
pub fn title(out: &mut Printer, text: impl std::fmt::Display, style: Style) {
    out.line(paint(style.bold(), text));
    out.line("=".repeat(RULE));
}

/// `HH:MM:SS` (UTC).
pub fn time_of_day(t: Timestamp) -> String {
    t.to_string()[11..19].to_owned()
}

/// `YYYY-MM-DD` (UTC).
pub fn date_of(t: Timestamp) -> String {
    t.to_string()[..10].to_owned()
}

/// `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn date_time(t: Timestamp) -> String {
    format!("{} {}", date_of(t), time_of_day(t))
}

/// The ten-character label of an event type (timelines) and the five-character one (feed).
fn labels(event_type: &str) -> (&'static str, &'static str) {
    match event_type {
        "tool_start" => ("TOOL START", "TOOL+"),
        "tool_end" => ("TOOL END", "TOOL-"),
        "session_start" => ("SESSION +", "SESS+"),
        "session_end" => ("SESSION -", "SESS-"),
        "turn_end" => ("TURN END", "TURN."),
        "prompt_submit" => ("PROMPT", "PRMPT"),
        "compact" => ("COMPACT", "CMPCT"),
        "mail_sent" => ("MAIL SENT", "MAIL>"),
        "mail_received" => ("MAIL RECV", "MAIL<"),
        "spawn" => ("SPAWN", "SPAWN"),
        "guard_deny" => ("DENIED", "DENY!"),
        "state_change" => ("STATE", "STATE"),
        "merge" => ("MERGE", "MERGE"),
        "error" => ("ERROR", "ERROR"),
        "custom" => ("CUSTOM", "CUSTM"),
        _ => ("", ""),
    }
}

/// The colour of an event's label: its level when that is a warning or an error, else its type.
fn label_style(e: &StoredEvent) -> Style {
    match e.level {
        EventLevel::Error => return RED,
        EventLevel::Warn => return YELLOW,
        _ => {}
    }
    match e.event_type.as_str() {
        "tool_start" | "tool_end" => BLUE,
        "session_start" | "session_end" | "turn_end" | "prompt_submit" => GREEN,
        "mail_sent" | "mail_received" => CYAN,
        "spawn" | "state_change" | "merge" => MAGENTA,
        "error" | "guard_deny" => RED,
        _ => DIM,
    }
}

/// The timeline label (ten characters wide), coloured.
pub fn long_label(e: &StoredEvent) -> String {
    let (long, _) = labels(&e.event_type);
    let text = if long.is_empty() {
        shorten(&e.event_type.to_uppercase(), 10)
    } else {
        long.to_owned()
    };
    paint(label_style(e), format!("{text:<10}"))
}

/// The feed label (five characters wide), bold and coloured.
pub fn short_label(e: &StoredEvent) -> String {
    let (_, short) = labels(&e.event_type);
    let text = if short.is_empty() {
        e.event_type.to_uppercase().chars().take(5).collect()
    } else {
        short.to_owned()
    };
    paint(label_style(e).bold(), format!("{text:<5}"))
}

/// What an event says, in one line of at most `max` characters: the hook's one-line `summary`
/// (else `tool=<name>`), the duration (`duration=<n>ms`, or `<n>ms`), then the other data as
/// `key=value`. Data that is not JSON is shown when it fits. The transcript path of a session
/// start is left out (it is in the JSON output).
pub fn detail(e: &StoredEvent, max: usize, duration: ShowDuration) -> String {
    let data = match e.data.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => Some(map),
        _ => None,
    };
    let summary = data
        .as_ref()
        .and_then(|d| d.get("summary"))
        .and_then(Value::as_str);
    let mut parts = Vec::new();
    match (summary, &e.tool_name) {
        (Some(summary), _) => parts.push(summary.to_owned()),
        (None, Some(tool)) => parts.push(format!("tool={tool}")),
        (None, None) => {}
    }
    if let Some(ms) = e.tool_duration_ms {
        match duration {
            ShowDuration::Keyed => parts.push(format!("duration={ms}ms")),
            ShowDuration::Bare => parts.push(format!("{ms}ms")),
            ShowDuration::Hidden => {}
        }
    }
    match (&data, e.data.as_deref()) {
        (Some(map), _) => {
            for (k, v) in map {
                if !v.is_null() && k != "summary" && k != "transcriptPath" {
                    parts.push(format!("{k}={}", value_text(v)));
                }
            }
        }
        // Not JSON: shown when it fits; JSON arrays and scalars say nothing worth a line.
        (None, Some(raw))
            if serde_json::from_str::<Value>(raw).is_err() && raw.chars().count() <= max =>
        {
            parts.push(raw.to_owned());
        }
        (None, _) => {}
    }
    shorten(&parts.join(" ").replace(['\n', '\r'], " "), max)
}

/// How [`detail`] shows a tool call's duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowDuration {
    /// `duration=120ms`.
    Keyed,
    /// `120ms`.
    Bare,
    /// Not at all.
    Hidden,
}

/// A colour per agent, in order of first appearance.
#[derive(Debug, Default)]
pub struct Palette(Vec<String>);

impl Palette {
    const COLOURS: [Style; 5] = [BLUE, GREEN, YELLOW, CYAN, MAGENTA];

    /// `agent`'s colour.
    pub fn style(&mut self, agent: &str) -> Style {
        let i = self.0.iter().position(|a| a == agent).unwrap_or_else(|| {
            self.0.push(agent.to_owned());
            self.0.len() - 1
        });
        Self::COLOURS[i % Self::COLOURS.len()]
    }
}

/// When a timeline names each event's agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentColumn<'a> {
    /// Always, in the agent's colour.
    Always,
    /// Only for events of another agent than this one.
    Unless(&'a str),
}

/// Prints `events` (in time order) as a timeline: a date line whenever the date changes, then
/// `HH:MM:SS LABEL [agent] detail`.
pub fn print_timeline(events: &[StoredEvent], agents: AgentColumn<'_>, out: &mut Printer) {
    let mut palette = Palette::default();
    let mut date = String::new();
    for e in events {
        let d = date_of(e.created_at);
        if d != date {
            if !date.is_empty() {
                out.line("");
            }
            out.line(paint(DIM, format!("--- {d} ---")));
            date = d;
        }
        let who = match agents {
            AgentColumn::Unless(a) if a == e.agent_name => String::new(),
            AgentColumn::Unless(_) => format!(" [{}]", e.agent_name),
            AgentColumn::Always => {
                let style = palette.style(&e.agent_name);
                format!(" {}", paint(style, format!("[{}]", e.agent_name)))
            }
        };
        out.line(format!(
            "{} {}{who} {}",
            paint(DIM, time_of_day(e.created_at)),
            long_label(e),
            paint(DIM, detail(e, 80, ShowDuration::Keyed)),
        ));
    }
}

/// `1 event` / `3 events`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The dim line under a title: how many rows, in which order, and whether `--limit` hid older
/// ones; then a blank line.
pub fn count_line(out: &mut Printer, n: usize, limit: u32, order: &str) {
    let mut text = format!("{}, {order}, times in UTC", count(n, "event", "events"));
    if n as u64 >= u64::from(limit) {
        let _ = write!(text, " (the newest {limit}; raise --limit for older ones)");
    }
    out.line(paint(DIM, text));
    out.line("");
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Following
// ---------------------------------------------------------------------------------------------

/// Set by Ctrl-C (SIGINT) or SIGTERM: a follow loop finishes its current output and returns.
#[derive(Debug, Clone)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// Catches SIGINT and SIGTERM from now on.
    pub fn install() -> CliResult<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&flag)).map_err(|e| {
                CliError::failure(format!("cannot catch Ctrl-C to stop following: {e}"))
            })?;
        }
        Ok(Self(flag))
    }

    /// Whether a stop was asked for.
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits `interval`, waking early on a stop. Returns whether to go on.
    pub fn wait(&self, interval: Duration) -> bool {
        let end = Instant::now() + interval;
        while !self.stopped() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_or_ages() {
        assert_eq!(parse_time("10m"), Ok(TimeArg::Ago(600_000)));
        assert_eq!(parse_time("2h"), Ok(TimeArg::Ago(7_200_000)));
        assert_eq!(parse_time("1d"), Ok(TimeArg::Ago(86_400_000)));
        assert_eq!(parse_time("30s"), Ok(TimeArg::Ago(30_000)));
        assert_eq!(
            parse_time("2026-01-31T12:00:00Z"),
            Ok(TimeArg::At(Timestamp::from_millis(1_769_860_800_000)))
        );
        for bad in ["yesterday", "10x", "m", "-5m", ""] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        let now = Timestamp::from_millis(1_000_000);
        assert_eq!(TimeArg::Ago(1000).at(now), Timestamp::from_millis(999_000));
    }

    #[test]
    fn limits_and_intervals_are_checked() {
        assert_eq!(parse_limit("5"), Ok(5));
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("-1").is_err());
        assert!(parse_limit("ten").is_err());
        assert_eq!(parse_interval("200"), Ok(200));
        assert!(parse_interval("199").is_err());
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn palette_colours_agents_by_first_appearance() {
        let mut p = Palette::default();
        let a = p.style("a");
        let b = p.style("b");
        assert_ne!(a, b);
        assert_eq!(p.style("a"), a);
    }
}
