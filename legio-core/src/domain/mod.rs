//! The domain model: what legio knows about agents, runs, mail, events, metrics, merges and tasks.
//!
//! Every enum here reads and writes the exact strings legio 0.1.0 stored, so an existing
//! `.legio/` directory keeps working.

pub mod agent;
pub mod event;
pub mod mail;
pub mod merge;
pub mod metrics;
pub mod task;

/// Implements `as_str`, `Display`, `FromStr` and serde for a field-less enum from a table of
/// (variant, text) pairs, so each enum's wire strings are written exactly once.
macro_rules! string_enum {
    ($(#[$doc:meta])* $vis:vis enum $ty:ident ($what:literal) { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $ty { $($(#[$vdoc])* $variant),+ }

        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stored / displayed text.
            pub const fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }

            /// The accepted spellings, comma-separated, for error messages and help.
            pub fn choices() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::domain::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err($crate::domain::UnknownValue {
                        what: $what,
                        value: s.to_owned(),
                        choices: Self::choices(),
                    }),
                }
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_enum;

/// A value outside an enum's accepted set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}; expected one of: {choices}")]
pub struct UnknownValue {
    /// What kind of value it was ("capability", "mail type", ...).
    pub what: &'static str,
    /// The rejected text.
    pub value: String,
    /// The accepted spellings.
    pub choices: String,
}
