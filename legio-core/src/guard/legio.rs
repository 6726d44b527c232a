//! `legio` itself: which subcommands a role may run, `sling` only for the roles a role may
//! spawn, mail and specs only under the agent's own name, no polling of the mailbox.

use super::argv::Argv;
use super::rules::{Ctx, Verdict};
use super::shell::{Arg, Invocation};
use crate::domain::agent::Capability;

/// Options of legio subcommands that take a value (so their values are not subcommands).
const WITH_VALUE: &[&str] = &[
    "--agent",
    "--from",
    "--to",
    "--subject",
    "--body",
    "--type",
    "--priority",
    "--capability",
    "--name",
    "--spec",
    "--files",
    "--parent",
    "--depth",
    "--task",
    "--branch",
    "--audience",
    "--payload",
    "--thread",
    "--limit",
    "--last",
    "--since",
    "--runtime",
    "--reason",
    "--status",
];

/// Judges one `legio` invocation.
pub fn check(ctx: &Ctx<'_>, inv: &Invocation) -> Verdict {
    let opts = Argv::parse(inv.rest(), WITH_VALUE);
    let Some(sub) = opts.operands.first() else {
        return Ok(()); // `legio`, `legio --help`, `legio --version`
    };
    let Some(sub) = sub.literal() else {
        return Err(format!(
            "legio cannot tell which legio command `legio {}` is; write it literally",
            sub.text()
        ));
    };
    let next = opts
        .operands
        .get(1)
        .and_then(|a| a.literal())
        .unwrap_or_default();
    let role = ctx.role();
    let spawner = !role.may_spawn().is_empty();
    match sub {
        "mail" => {
            if inv.in_loop && matches!(next, "check" | "list" | "read") {
                return Err(
                    "checking mail in a loop is polling: mail reaches you by itself \
                     through legio's hooks. Finish your turn and you will be woken when it arrives"
                        .into(),
                );
            }
            if next == "purge" {
                return Err(
                    "`legio mail purge` deletes mail other agents and the human rely on; \
                     leave it to the human"
                        .into(),
                );
            }
            same_agent(ctx, &opts.values(&["--agent"]))
        }
        "spec" => same_agent(ctx, &opts.values(&["--agent"])),
        "nudge" => same_agent(ctx, &opts.values(&["--from"])),
        "status" | "inspect" | "trace" | "feed" | "errors" | "logs" | "log" | "costs"
        | "metrics" | "agents" | "prime" | "doctor" | "help" | "hook" | "guard" | "task"
        | "tasks" | "replay" | "run" | "version" | "completions" => Ok(()),
        "sling" => sling(ctx, &opts),
        "merge" if spawner || role == Capability::Merger => Ok(()),
        "group" | "stop" if spawner => Ok(()),
        "group" if matches!(next, "status" | "list" | "") => Ok(()),
        "worktree" if next == "list" || (spawner && role.works_at_root()) => Ok(()),
        "coordinator" | "supervisor" | "monitor" | "gateway" if next == "status" => Ok(()),
        "coordinator" | "supervisor" | "monitor" | "gateway" | "init" | "hooks" | "up" | "down"
        | "clean" | "server" | "watch" | "dashboard" => Err(format!(
            "`legio {sub}{}` is for the human who runs legio, not for agents; if it is needed, \
             say so with legio mail send --type question",
            if next.is_empty() {
                String::new()
            } else {
                format!(" {next}")
            }
        )),
        "merge" | "group" | "stop" | "worktree" => Err(format!(
            "{role} agents may not run `legio {sub}{}`: that belongs to the agent that \
             coordinates your work. Report to your parent with legio mail send instead",
            if next.is_empty() {
                String::new()
            } else {
                format!(" {next}")
            }
        )),
        other => Err(format!(
            "`legio {other}` is not a legio command agents may run; see legio --help"
        )),
    }
}

/// `--agent NAME`: agents act under their own name only.
fn same_agent(ctx: &Ctx<'_>, names: &[&Arg]) -> Verdict {
    let Some(me) = &ctx.policy.agent else {
        return Ok(());
    };
    match names.iter().find(|n| !n.is(me.as_str())) {
        None => Ok(()),
        Some(other) => Err(format!(
            "you are {me}: legio commands must name you, not `{}` (use --agent $LEGIO_AGENT_NAME)",
            other.text()
        )),
    }
}

/// `legio sling`: only roles that may spawn, only the roles they may spawn, no hierarchy bypass.
fn sling(ctx: &Ctx<'_>, opts: &Argv<'_>) -> Verdict {
    let role = ctx.role();
    let allowed = role.may_spawn();
    if allowed.is_empty() {
        return Err(format!(
            "{role} agents may not start other agents; if the work needs more hands, ask your \
             parent with legio mail send --type question"
        ));
    }
    if opts.has(&["--force-hierarchy"]) {
        return Err(
            "--force-hierarchy is for the human orchestrator; spawn within your role's \
             hierarchy"
                .into(),
        );
    }
    let choices = allowed
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let requested = match opts.values(&["--capability"]).last() {
        None => Capability::Builder,
        Some(value) => value
            .literal()
            .and_then(|v| v.parse::<Capability>().ok())
            .ok_or_else(|| {
                format!(
                    "legio cannot tell which role `--capability {}` asks for; give one of: {choices}",
                    value.text()
                )
            })?,
    };
    if allowed.contains(&requested) {
        Ok(())
    } else {
        Err(format!(
            "{role} agents may start only {choices}, not {requested}; pass --capability with one of those"
        ))
    }
}
