//! Output: data on stdout, diagnostics on stderr, `--json` and `--quiet`, colour only where the
//! terminal wants it (anstream strips styles for pipes, `NO_COLOR`, `TERM=dumb`).
//!
//! A closed pipe (`legio feed | head`) ends the process quietly with status 0.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::error::CliError;

/// Bold.
pub const BOLD: Style = Style::new().bold();
/// Dim.
pub const DIM: Style = Style::new().dimmed();
/// Green (success).
pub const GREEN: Style = AnsiColor::Green.on_default();
/// Yellow (warnings, pending).
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
/// Red (errors).
pub const RED: Style = AnsiColor::Red.on_default();
/// Blue (info).
pub const BLUE: Style = AnsiColor::Blue.on_default();
/// Cyan.
pub const CYAN: Style = AnsiColor::Cyan.on_default();

/// `text` wrapped in `style` (stripped later when colour is off).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Where commands write.
pub struct Printer {
    json: bool,
    quiet: bool,
    /// Whether anything was written to stdout (a JSON error then stays off it).
    wrote_out: bool,
    out: anstream::AutoStream<io::Stdout>,
    err: anstream::AutoStream<io::Stderr>,
}

impl Printer {
    /// A printer for the real stdout and stderr.
    pub fn new(json: bool, quiet: bool, color: anstream::ColorChoice) -> Self {
        let choice = color;
        Self {
            json,
            quiet,
            wrote_out: false,
            out: anstream::AutoStream::new(io::stdout(), choice),
            err: anstream::AutoStream::new(io::stderr(), choice),
        }
    }

    /// Whether `--json` was given: commands print one JSON document instead of text.
    pub fn json_mode(&self) -> bool {
        self.json
    }

    /// Writes `text` and a newline to stdout (the command's result).
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.wrote_out = true;
        let out = &mut self.out;
        guard(writeln!(out, "{}", text.as_ref()));
    }

    /// Writes `text` verbatim to stdout (no newline added).
    pub fn raw(&mut self, text: &str) {
        self.wrote_out = true;
        guard(self.out.write_all(text.as_bytes()));
        guard(self.out.flush());
    }

    /// Writes an informational line to stdout unless `--quiet`.
    pub fn info(&mut self, text: impl AsRef<str>) {
        if !self.quiet {
            self.line(text);
        }
    }

    /// Writes `value` as pretty JSON on stdout.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value)?;
        self.line(text);
        Ok(())
    }

    /// Writes `value` as one line of JSON on stdout (streams: `--follow`).
    pub fn json_line<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CliError> {
        let text = serde_json::to_string(value)?;
        self.line(text);
        guard(self.out.flush());
        Ok(())
    }

    /// A `warning:` line on stderr.
    pub fn warn(&mut self, text: impl AsRef<str>) {
        let err = &mut self.err;
        guard(writeln!(
            err,
            "{} {}",
            paint(YELLOW.bold(), "warning:"),
            text.as_ref()
        ));
    }

    /// A progress or diagnostic line on stderr, unless `--quiet`.
    pub fn progress(&mut self, text: impl AsRef<str>) {
        if !self.quiet {
            let err = &mut self.err;
            guard(writeln!(err, "{}", text.as_ref()));
        }
    }

    /// Prints a failed command's error and hints on stderr.
    ///
    /// With `--json`, when the command printed nothing yet, stdout also gets the error as one
    /// JSON document (`{"error", "hints", "exitCode"}`), so a script reading stdout always
    /// gets JSON; a command that already printed its document (e.g. a merge with failed
    /// entries) keeps it as the only one.
    pub fn error(&mut self, e: &CliError) {
        if self.json && !self.wrote_out {
            let doc = serde_json::json!({
                "error": e.message,
                "hints": e.hints,
                "exitCode": e.code,
            });
            self.line(doc.to_string());
            self.flush();
        }
        let err = &mut self.err;
        guard(writeln!(
            err,
            "{} {}",
            paint(RED.bold(), "error:"),
            e.message
        ));
        for h in &e.hints {
            guard(writeln!(err, "{} {h}", paint(CYAN.bold(), "hint:")));
        }
    }

    /// Flushes stdout.
    pub fn flush(&mut self) {
        guard(self.out.flush());
    }
}

/// Ends the process quietly when the reader of our output went away.
fn guard(result: io::Result<()>) {
    if let Err(e) = result
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}
