//! The real machine behind `doctor`, `clean` and `dashboard`: the project's own multiplexer,
//! the project's repository, and the stores whose files exist (opening a store creates its
//! file, and these commands must not create databases).
//!
//! Shared wiring (`wiring.rs`) replaces the multiplexer part when it lands.

use std::path::Path;

use legio_core::Layout;
use legio_core::config::Config;
use legio_core::ports::{Multiplexer, StoreResult};
use legio_tmux::{HeadlessConfig, HeadlessMultiplexer, TmuxConfig, TmuxMultiplexer};

/// legio's multiplexer for the project: its private tmux socket, or its headless records
/// (`runtime.headless`). It only ever sees sessions legio created for this project.
pub fn multiplexer(layout: &Layout, config: &Config) -> Box<dyn Multiplexer> {
    if config.runtime.headless {
        return Box::new(HeadlessMultiplexer::for_project(
            layout,
            HeadlessConfig::default(),
        ));
    }
    let root = std::fs::canonicalize(layout.root()).unwrap_or_else(|_| layout.root().to_path_buf());
    Box::new(TmuxMultiplexer::new(
        &config.project.name,
        &root,
        TmuxConfig::default(),
    ))
}

/// Opens the store at `path` with `open` only if its file exists.
pub fn existing<T>(
    path: &Path,
    open: impl FnOnce(&Path) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    if path.exists() {
        open(path).map(Some)
    } else {
        Ok(None)
    }
}
