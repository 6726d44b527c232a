//! The one user-facing error type: a message, hints, and an exit code.
//!
//! Library errors are converted here, once. Messages follow one style: lower-case start, no
//! trailing period, say what was being done; `hint:` lines say what to do.

use std::fmt;

/// Exit status for failures.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for usage errors (bad flags, bad values).
pub const EXIT_USAGE: u8 = 2;

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hints: Vec<String>,
    /// 1 (failure) or 2 (usage).
    pub code: u8,
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

impl CliError {
    /// A failure (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hints: Vec::new(),
            code: EXIT_FAILURE,
        }
    }

    /// A usage error (exit 2): the input was wrong.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hints: Vec::new(),
            code: EXIT_USAGE,
        }
    }

    /// Adds a hint line.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

macro_rules! failure_from {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for CliError {
            fn from(e: $ty) -> Self {
                CliError::failure(e.to_string())
            }
        }
    )*};
}

macro_rules! usage_from {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for CliError {
            fn from(e: $ty) -> Self {
                CliError::usage(e.to_string())
            }
        }
    )*};
}

failure_from!(
    legio_core::ports::StoreError,
    legio_core::ports::MuxError,
    legio_core::ports::GitError,
    legio_core::ports::RuntimeError,
    std::io::Error,
);
usage_from!(
    legio_core::NameError,
    legio_core::UnknownValue,
    legio_core::time::TimestampError,
    legio_core::hook::UnknownHookEvent,
);

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError::failure(format!("JSON error: {e}"))
    }
}
