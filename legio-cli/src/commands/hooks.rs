//! `legio hooks install|uninstall|status`: legio's hooks in the project root's
//! `.claude/settings.local.json`, for the human's own Claude Code session
//! (`legio_core::ops::root_hooks`). The user's own settings are kept; uninstall removes only
//! legio's entries, and only when no root agent still needs them.

use clap::{Args, Subcommand};
use legio_core::ops::root_hooks::{self, Released, USER};

use crate::context::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::wiring;

/// `legio hooks ...`.
#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Add legio's hooks to the project root's settings (your session becomes the orchestrator).
    Install,
    /// Remove them again (kept while a root agent still needs them, unless --force).
    Uninstall(UninstallArgs),
    /// Show whether they are installed and who needs them.
    Status,
}

/// `legio hooks uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Remove them even if root agents are recorded as needing them (stale records).
    #[arg(long)]
    pub force: bool,
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(error)`
fn error(e: root_hooks::RootHooksError) -> CliError {
    CliError::failure(e.to_string())
}

/// Runs a hooks subcommand.
pub fn run(cmd: HooksCommand, ctx: &Ctx<'_>, out: &mut Printer) -> CliResult {
    let layout = ctx.project()?;
    match cmd {
        HooksCommand::Install => {
            let changed = root_hooks::claim(&layout, &wiring::legio_bin()?, USER).map_err(error)?;
            let path = root_hooks::settings_path(layout.root());
            if out.json_mode() {
                return out.json(
                    &serde_json::json!({ "installed": true, "changed": changed, "path": path }),
                );
            }
            out.line(if changed {
                format!("Installed legio's hooks in {}", path.display())
            } else {
                format!("legio's hooks were already in {}", path.display())
            });
            out.info("Your other settings in that file are kept; `legio hooks uninstall` removes only legio's entries.");
        }
        HooksCommand::Uninstall(args) => {
            let released = root_hooks::release(&layout, USER, args.force).map_err(error)?;
            if out.json_mode() {
                return out.json(&serde_json::json!({
                    "removed": released == Released::Removed,
                    "stillNeededBy": root_hooks::status(&layout).map_err(error)?.claimants,
                }));
            }
            match released {
                Released::Removed => out.line("Removed legio's hooks; the rest of your settings is as it was."),
                Released::StillClaimed => out.line(format!(
                    "legio's hooks stay: root agents still need them ({}); they go when those stop",
                    root_hooks::status(&layout).map_err(error)?.claimants.join(", ")
                )),
                Released::NotClaimed => out.line("legio's hooks were not installed by `legio hooks install`; nothing to do (--force removes them anyway)"),
            }
        }
        HooksCommand::Status => {
            let status = root_hooks::status(&layout).map_err(error)?;
            if out.json_mode() {
                return out.json(&serde_json::json!({
                    "installed": !status.events.is_empty(),
                    "events": status.events,
                    "claimants": status.claimants,
                    "path": status.path,
                }));
            }
            if status.events.is_empty() {
                out.line(format!(
                    "legio's hooks are not installed in {}",
                    status.path.display()
                ));
                out.info("Install them with `legio hooks install`.");
            } else {
                out.line(format!(
                    "legio's hooks are installed in {} ({} events)",
                    status.path.display(),
                    status.events.len()
                ));
                if !status.claimants.is_empty() {
                    out.line(format!("Needed by: {}", status.claimants.join(", ")));
                }
            }
        }
    }
    Ok(())
}
