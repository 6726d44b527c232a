//! Files embedded in the binary: the ten role definitions (`agents/<role>.md`), the templates
//! (`templates/`), and the text of `.legio/.gitignore`.
//!
//! `legio init` writes [`role_definitions`] to `.legio/agent-defs/`, where users may edit them;
//! spawning reads the project's copy and falls back to [`role_definition`].

use crate::domain::agent::Capability;

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// Its path relative to the directory it is installed in (`builder.md`, `overlay.md.tmpl`).
    pub name: &'static str,
    /// Its content.
    pub text: &'static str,
}

macro_rules! role_file {
    ($role:literal) => {
        Asset {
            name: concat!($role, ".md"),
            text: include_str!(concat!("../../agents/", $role, ".md")),
        }
    };
}

/// The role definitions, in [`Capability::ALL`] order.
const ROLE_FILES: [Asset; 10] = [
    role_file!("scout"),
    role_file!("builder"),
    role_file!("reviewer"),
    role_file!("lead"),
    role_file!("merger"),
    role_file!("coordinator"),
    role_file!("supervisor"),
    role_file!("monitor"),
    role_file!("gateway"),
    role_file!("cto"),
];

/// The per-agent instructions template (see [`crate::overlay`]).
pub const OVERLAY_TEMPLATE: Asset = Asset {
    name: "overlay.md.tmpl",
    text: include_str!("../../templates/overlay.md.tmpl"),
};

/// Every template, for listing.
pub const TEMPLATES: &[Asset] = &[OVERLAY_TEMPLATE];

/// `.legio/.gitignore`: ignore everything under `.legio/` but the files meant to be tracked.
/// `legio init` writes it and `legio prime` restores it when it differs (legio 0.1.0's text).
pub const LEGIO_GITIGNORE: &str = "\
# Wildcard+whitelist: ignore everything, whitelist tracked files
# Auto-healed by legio prime on each session start
*
!.gitignore
!config.yaml
!agent-manifest.json
!hooks.json
!groups.json
!agent-defs/
";

/// The file name of `role`'s definition (`builder.md`).
pub fn role_file_name(role: Capability) -> &'static str {
    role_asset(role).name
}

/// The built-in definition of `role`.
pub fn role_definition(role: Capability) -> &'static str {
    role_asset(role).text
}

/// Every role with its definition file, in role order (what `init` copies to `agent-defs/`).
pub fn role_definitions() -> impl Iterator<Item = (Capability, Asset)> {
    Capability::ALL.iter().map(|r| (*r, role_asset(*r)))
}

fn role_asset(role: Capability) -> Asset {
    let i = Capability::ALL
        .iter()
        .position(|r| *r == role)
        .expect("every capability is in Capability::ALL");
    ROLE_FILES[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_its_own_definition() {
        for (role, asset) in role_definitions() {
            assert_eq!(asset.name, format!("{role}.md"));
            let title = asset.text.lines().next().unwrap_or_default();
            assert!(
                title.eq_ignore_ascii_case(&format!("# {role}")),
                "{}: first line is {title:?}",
                asset.name
            );
        }
        assert_eq!(role_definitions().count(), Capability::ALL.len());
    }

    #[test]
    fn role_definitions_follow_the_house_rules() {
        for (role, asset) in role_definitions() {
            let text = asset.text;
            for section in [
                "## Purpose",
                "## What you may do",
                "## What you must not do",
                "## Workflow",
                "## Completion",
                "## Failure modes",
            ] {
                assert!(text.contains(section), "{role} lacks {section}");
            }
            // Our legio: built-in tracker and injected mail, no bd, no polling, no pushing.
            assert!(!text.contains("bd "), "{role} mentions bd");
            assert!(!text.contains("mulch"), "{role} mentions mulch");
            assert!(!text.contains("{{"), "{role} contains a placeholder");
            assert!(!text.contains("git push"), "{role} tells to push");
            let sends_done = text.contains("`worker_done`");
            let sends_result = text.contains("`result`");
            if role.is_read_only() && !role.is_persistent() {
                assert!(sends_result, "{role} must complete with result");
            } else if !role.is_read_only() {
                assert!(sends_done, "{role} must complete with worker_done");
            }
            if role.is_read_only() {
                assert!(
                    text.contains("read-only"),
                    "{role} must say it is read-only"
                );
            }
        }
    }

    #[test]
    fn spawning_roles_name_exactly_the_roles_they_may_spawn() {
        for (role, asset) in role_definitions() {
            let may_do = asset
                .text
                .split("## What you may do")
                .nth(1)
                .and_then(|rest| rest.split("\n## ").next())
                .unwrap_or_default();
            let spawn_line = may_do.lines().find(|l| l.starts_with("- Spawn"));
            let may = role.may_spawn();
            match spawn_line {
                None => assert!(may.is_empty(), "{role} should say whom it may spawn"),
                Some(line) => {
                    assert!(!may.is_empty(), "{role} may not spawn: {line}");
                    for child in Capability::ALL {
                        assert_eq!(
                            line.contains(child.as_str()),
                            may.contains(child),
                            "{role}: {child} in {line:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_gitignore_is_legio_0_1_0_text() {
        assert!(LEGIO_GITIGNORE.starts_with("# Wildcard+whitelist"));
        assert_eq!(LEGIO_GITIGNORE.lines().count(), 9);
        assert!(LEGIO_GITIGNORE.ends_with("!agent-defs/\n"));
    }
}
