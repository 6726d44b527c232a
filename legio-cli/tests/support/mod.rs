//! Shared support for legio-cli's integration tests (`mod support;`): a scripted Messages API
//! server ([`scripted_api`]), the pinned real Claude Code binary run hermetically against it
//! ([`claude`]), headless over stream-json ([`headless`]) or interactive in tmux ([`tmux`]).
//!
//! ```ignore
//! let Some(bin) = claude_bin() else { return };
//! let server = ScriptedApi::start([Turn::tool(ToolCall::bash("echo hi")), Turn::text("done")]);
//! let mut sandbox = Sandbox::new(bin);
//! sandbox.record_hook("Stop");
//! let result = sandbox.print(&server, "go").result();
//! assert_eq!(server.turn_requests()[1].tool_results()[0].content, "hi");
//! ```
//!
//! # Facts about the real client (claude 2.1.332) that legio relies on
//!
//! Each is asserted by a test in `claude_client.rs` (named in brackets), so a new Claude Code
//! release that changes one fails there first.
//!
//! FACTS_PLACEHOLDER

// Each test binary uses a part of the support code.
#![allow(dead_code)]

pub mod claude;
pub mod headless;
pub mod scripted_api;
pub mod tmux;
