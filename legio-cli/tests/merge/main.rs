//! `legio merge` and the merge queue's producers, through the `legio` binary, on repositories
//! built by `fixtures/repos.sh` with real git and real SQLite files under `.legio/`.
//!
//! Every test checks that no line either side added is lost unless a tier says it resolved
//! it, and that the queue ends consistent (nothing left merging, one active entry per branch,
//! no branch merged twice).
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo test -p legio-cli --test merge
//! ```
#![allow(clippy::unwrap_used)] // tests: a failed step is a failed test

mod cases;
mod concurrency;
mod mail;
mod project;
