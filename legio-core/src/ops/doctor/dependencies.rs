//! `dependencies`: git, tmux 3.2 or newer (unless agents run headless), the agent runtime of
//! every role, and the optional tools (`bd`, `mulch`), whose absence is only a warning.

use crate::config::{Config, RuntimeKind};
use crate::domain::agent::Capability;

use super::{Category, Check, Doctor, ToolRun};

const CAT: Category = Category::Dependencies;

/// The oldest tmux legio supports (`new-session -e`, the `q:` format modifier).
pub const MIN_TMUX: (u32, u32) = (3, 2);

pub(super) fn check(d: &Doctor<'_>, config: &Config, out: &mut Vec<Check>) {
    out.push(git(d));
    out.push(tmux(d, config));
    runtimes(d, config, out);
    out.push(optional(
        d,
        "bd",
        config.beads.enabled,
        "beads.enabled",
        "the built-in task tracker is used",
    ));
    out.push(optional(
        d,
        "mulch",
        config.mulch.enabled,
        "mulch.enabled",
        "agents get no mulch expertise",
    ));
}

fn git(d: &Doctor<'_>) -> Check {
    match d.host.run_tool("git", &["--version"]) {
        ToolRun::Ran(line) => Check::pass(CAT, "git", line),
        ToolRun::NotFound => Check::fail(CAT, "git", "git is not installed or not on PATH")
            .details(["install git; agents commit and merge with it"]),
        ToolRun::Failed(why) => Check::fail(CAT, "git", format!("git --version failed: {why}")),
    }
}

fn tmux(d: &Doctor<'_>, config: &Config) -> Check {
    let headless = config.runtime.headless;
    let (min_major, min_minor) = MIN_TMUX;
    match d.host.run_tool("tmux", &["-V"]) {
        ToolRun::Ran(line) => match tmux_version(&line) {
            Some(v) if v >= MIN_TMUX => Check::pass(CAT, "tmux", line),
            Some(_) if headless => Check::pass(
                CAT,
                "tmux",
                format!("{line} (too old for legio, but agents run headless)"),
            ),
            Some(_) => Check::fail(
                CAT,
                "tmux",
                format!("{line} is too old: legio needs tmux {min_major}.{min_minor} or newer"),
            )
            .details(["upgrade tmux, or run agents without it (runtime.headless: true)"]),
            None => Check::warn(
                CAT,
                "tmux",
                format!(
                    "{line}: cannot tell the version; legio needs {min_major}.{min_minor} or newer"
                ),
            ),
        },
        ToolRun::NotFound if headless => Check::pass(
            CAT,
            "tmux",
            "tmux is not installed; not needed (runtime.headless: true)",
        ),
        ToolRun::NotFound => Check::fail(CAT, "tmux", "tmux is not installed or not on PATH")
            .details([
                "install tmux 3.2 or newer, or run agents headless (runtime.headless: true)",
            ]),
        ToolRun::Failed(why) => Check::fail(CAT, "tmux", format!("tmux -V failed: {why}")),
    }
}

/// `(major, minor)` from `tmux -V` output: `tmux 3.3a`, `tmux next-3.4`, `tmux 3.2-rc2`.
pub fn tmux_version(line: &str) -> Option<(u32, u32)> {
    let word = line.split_whitespace().nth(1)?;
    let word = word.strip_prefix("next-").unwrap_or(word);
    let (major, rest) = word.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Which roles use `kind`: "every role" or a list.
fn roles_using(config: &Config, kind: RuntimeKind) -> Option<String> {
    let roles: Vec<&str> = Capability::ALL
        .iter()
        .filter(|r| config.runtime.for_role(**r) == kind)
        .map(|r| r.as_str())
        .collect();
    match roles.len() {
        0 => None,
        n if n == Capability::ALL.len() => Some("every role".into()),
        _ => Some(roles.join(", ")),
    }
}

fn runtimes(d: &Doctor<'_>, config: &Config, out: &mut Vec<Check>) {
    for &kind in RuntimeKind::ALL {
        let Some(roles) = roles_using(config, kind) else {
            continue;
        };
        let name = format!("runtime-{kind}");
        out.push(match kind {
            RuntimeKind::Claude => match d.host.run_tool("claude", &["--version"]) {
                ToolRun::Ran(line) => Check::pass(CAT, name, format!("claude {line}, for {roles}")),
                ToolRun::NotFound => Check::fail(
                    CAT,
                    name,
                    format!("claude is not installed or not on PATH: agents cannot start ({roles})"),
                )
                .details([
                    "install Claude Code (npm install -g @anthropic-ai/claude-code), or choose another runtime (runtime.default)",
                ]),
                ToolRun::Failed(why) => {
                    Check::fail(CAT, name, format!("claude --version failed: {why}"))
                }
            },
            RuntimeKind::Script => match config.runtime.script.command.first() {
                None => Check::fail(
                    CAT,
                    name,
                    format!("runtime.script.command is empty: agents cannot start ({roles})"),
                )
                .details(["set runtime.script.command to the program (and arguments) to run"]),
                Some(program) => match d.host.find_program(program) {
                    Some(path) => Check::pass(
                        CAT,
                        name,
                        format!("script runtime {}, for {roles}", path.display()),
                    ),
                    None => Check::fail(
                        CAT,
                        name,
                        format!(
                            "the script runtime's program {program:?} is not an executable file or on PATH: agents cannot start ({roles})"
                        ),
                    ),
                },
            },
        });
    }
}

fn optional(d: &Doctor<'_>, tool: &str, enabled: bool, key: &str, without: &str) -> Check {
    match d.host.run_tool(tool, &["--version"]) {
        ToolRun::Ran(line) => Check::pass(CAT, tool, line),
        ToolRun::NotFound if !enabled => Check::pass(
            CAT,
            tool,
            format!("{tool} is not installed; not used ({key}: false)"),
        ),
        ToolRun::NotFound => Check::warn(
            CAT,
            tool,
            format!("{tool} is not installed (optional): {without}"),
        )
        .details([format!("install {tool} to use it, or set {key}: false")]),
        ToolRun::Failed(why) => Check::warn(
            CAT,
            tool,
            format!("{tool} --version failed (optional): {why}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tmux_versions_of_every_shape() {
        assert_eq!(tmux_version("tmux 3.3a"), Some((3, 3)));
        assert_eq!(tmux_version("tmux 3.2"), Some((3, 2)));
        assert_eq!(tmux_version("tmux next-3.4"), Some((3, 4)));
        assert_eq!(tmux_version("tmux 3.2-rc2"), Some((3, 2)));
        assert_eq!(tmux_version("tmux 2.9a"), Some((2, 9)));
        assert_eq!(tmux_version("tmux master"), None);
        assert_eq!(tmux_version(""), None);
        assert!(tmux_version("tmux 3.1c").unwrap() < MIN_TMUX);
        assert!(tmux_version("tmux 3.10").unwrap() > MIN_TMUX);
    }
}
