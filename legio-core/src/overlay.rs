//! The per-agent instructions ("overlay"): the role definition followed by the agent's
//! assignment, rendered from `templates/overlay.md.tmpl`.
//!
//! Rendering is a single pass over the template: each `{{NAME}}` is replaced by its value and
//! values are copied as they are, never scanned again, so a value containing `{{AGENT_NAME}}`
//! or `$&` stays literal. A placeholder the renderer does not know is an error, so a template
//! and its renderer cannot drift apart silently. The quality gates come from the project's
//! `qualityGates` config, and the spawning section names exactly the roles the agent may start.
//!
//! [`write()`] stores an overlay as `<worktree>/.claude/CLAUDE.md` (where Claude Code reads it),
//! refusing the project root so the user's own file is never replaced. Root roles receive the
//! rendered text as their system prompt instead.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::assets::OVERLAY_TEMPLATE;
use crate::config::QualityGates;
use crate::domain::agent::Capability;
use crate::names::{AgentName, TaskId};

/// Everything an overlay says about one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayConfig {
    /// The agent.
    pub agent: AgentName,
    /// Its role.
    pub capability: Capability,
    /// Its task; `None` for root roles whose work arrives by mail.
    pub task: Option<TaskId>,
    /// The spec file, if one was given.
    pub spec_path: Option<PathBuf>,
    /// Its branch.
    pub branch: String,
    /// Where it works (its worktree, or the project root for root roles).
    pub worktree: PathBuf,
    /// Who spawned it; `None` means the human orchestrator.
    pub parent: Option<AgentName>,
    /// Its depth in the hierarchy.
    pub depth: u32,
    /// The files it exclusively owns; empty means its whole worktree.
    pub file_scope: Vec<String>,
    /// The project's quality gates.
    pub quality_gates: QualityGates,
    /// The text of its role definition.
    pub role_definition: String,
    /// The roles it may spawn (see [`spawnable`]); empty means none.
    pub can_spawn: Vec<Capability>,
    /// Its parent asked it not to spawn a reviewer and to verify its work itself.
    pub skip_review: bool,
}

/// Why an overlay could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// The template names a placeholder the renderer does not fill.
    #[error("the overlay template uses an unknown placeholder {{{{{0}}}}}")]
    UnknownPlaceholder(String),
    /// A value would break the shell commands the overlay shows.
    #[error(
        "cannot write instructions for branch {0:?}: it contains a quote or a control character"
    )]
    UnsafeBranch(String),
    /// The target is the project root.
    #[error(
        "refusing to write agent instructions into the project root {}: they belong in the agent's worktree",
        .0.display()
    )]
    ProjectRoot(PathBuf),
    /// Writing failed.
    #[error("cannot write the agent instructions {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The roles an agent of `role` at `depth` may spawn when the deepest level is `max_depth`.
pub fn spawnable(role: Capability, depth: u32, max_depth: u32) -> Vec<Capability> {
    if depth >= max_depth {
        Vec::new()
    } else {
        role.may_spawn().to_vec()
    }
}

/// Renders the overlay of one agent.
pub fn render(config: &OverlayConfig) -> Result<String, OverlayError> {
    if config
        .branch
        .chars()
        .any(|c| c.is_control() || matches!(c, '\'' | '"' | '`' | '\\'))
    {
        return Err(OverlayError::UnsafeBranch(config.branch.clone()));
    }
    let c = config;
    let parent = c.parent.as_ref().map_or("orchestrator", AgentName::as_str);
    fill(OVERLAY_TEMPLATE.text, |name| {
        Some(match name {
            "AGENT_NAME" => Cow::Borrowed(c.agent.as_str()),
            "CAPABILITY" => Cow::Borrowed(c.capability.as_str()),
            "TASK" => c.task.as_ref().map_or(
                Cow::Borrowed("none: your work arrives in your conversation or by mail"),
                |t| format!("{t} (`legio task show {t}`)").into(),
            ),
            "SPEC_PATH" => c.spec_path.as_ref().map_or(Cow::Borrowed("none"), |p| {
                format!("`{}`", p.display()).into()
            }),
            "BRANCH" => format!("`{}`", c.branch).into(),
            "WORKTREE" => format!("`{}`", c.worktree.display()).into(),
            "PARENT" => Cow::Borrowed(parent),
            "DEPTH" => c.depth.to_string().into(),
            "SPEC_INSTRUCTION" => spec_instruction(c).into(),
            "DISPATCH_OVERRIDES" => Cow::Borrowed(if c.skip_review {
                "\n## Dispatch Overrides\n\n- **Skip Review**: do not spawn a reviewer. Review \
                 your workers' diffs yourself and run the quality gates before reporting them \
                 ready.\n"
            } else {
                ""
            }),
            "WORKSPACE_RULES" => workspace_rules(c).into(),
            "FILE_SCOPE" => file_scope(c).into(),
            "CAN_SPAWN" => can_spawn(c).into(),
            "COMPLETION" => completion(c, parent).into(),
            "ROLE_DEFINITION" => Cow::Borrowed(c.role_definition.trim_end()),
            _ => return None,
        })
    })
}

/// Writes `text` to `<worktree>/.claude/CLAUDE.md` (through a temporary file and a rename, so
/// a reader never sees half a file) and returns that path. Refuses the project root.
pub fn write(worktree: &Path, project_root: &Path, text: &str) -> Result<PathBuf, OverlayError> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if same(worktree, project_root) {
        return Err(OverlayError::ProjectRoot(project_root.to_path_buf()));
    }
    let dir = worktree.join(".claude");
    let path = dir.join("CLAUDE.md");
    let io = |source| OverlayError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let tmp = dir.join(".CLAUDE.md.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// Replaces each `{{NAME}}` of `template` by `value(NAME)` in one pass; values are not
/// re-scanned. `{{` not followed by an `UPPER_CASE` name and `}}` is copied as it is.
fn fill<'v>(
    template: &str,
    value: impl Fn(&str) -> Option<Cow<'v, str>>,
) -> Result<String, OverlayError> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with("}}") {
            let name = &after[..name_len];
            let v = value(name).ok_or_else(|| OverlayError::UnknownPlaceholder(name.to_owned()))?;
            out.push_str(&v);
            rest = &after[name_len + 2..];
        } else {
            out.push_str("{{");
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn spec_instruction(c: &OverlayConfig) -> String {
    match (&c.spec_path, &c.task) {
        (Some(spec), _) => format!(
            "\nRead the spec at `{}` before anything else: it is your source of truth for this task.\n",
            spec.display()
        ),
        (None, Some(task)) => format!(
            "\nNo spec file was given: `legio task show {task}` and your parent's dispatch mail \
             describe the work. Ask your parent when they are not enough.\n"
        ),
        (None, None) => String::new(),
    }
}

fn workspace_rules(c: &OverlayConfig) -> String {
    let wt = c.worktree.display();
    if c.capability.is_read_only() {
        format!(
            "You work in `{wt}` and you are **read-only**: do not create, change or delete files, \
             and do not change git state. The guard refuses such commands; `legio` commands are \
             how you act."
        )
    } else {
        format!(
            "Your worktree is `{wt}`. Every file you create or change must be inside it: the \
             guard refuses writes anywhere else (PATH_BOUNDARY_VIOLATION). Commit only to `{}`, \
             and never push: `legio merge` lands your branch.",
            c.branch
        )
    }
}

fn file_scope(c: &OverlayConfig) -> String {
    if c.capability.is_read_only() {
        let mut s = "None: you do not modify files.".to_owned();
        if !c.file_scope.is_empty() {
            s.push_str(" The files in focus for this task:\n");
            push_bullets(&mut s, &c.file_scope);
        }
        return s;
    }
    if c.file_scope.is_empty() {
        return "No restriction: any file inside your worktree.".to_owned();
    }
    let mut s = "You exclusively own these files; change no others (FILE_SCOPE_VIOLATION). Ask \
                 your parent when the task needs more:\n"
        .to_owned();
    push_bullets(&mut s, &c.file_scope);
    s
}

fn push_bullets(s: &mut String, items: &[String]) {
    for item in items {
        let _ = write!(s, "\n- `{item}`");
    }
}

fn can_spawn(c: &OverlayConfig) -> String {
    if c.can_spawn.is_empty() {
        return "You may not spawn agents.".to_owned();
    }
    let roles: Vec<&str> = c.can_spawn.iter().map(|r| r.as_str()).collect();
    let list = roles.join(", ");
    let choices = roles.join("|");
    format!(
        "You may spawn these roles and no others: {list}. Give each child its own task, a unique \
         name and, when it writes, a file scope disjoint from every other child's:\n\n\
         ```bash\n\
         legio sling <task-id> --capability {choices} --name <unique-name> \\\n  \
         --parent {agent} --depth {depth} [--spec <path>] [--files <a,b>]\n\
         ```",
        agent = c.agent,
        depth = c.depth + 1,
    )
}

fn gates(g: &QualityGates) -> String {
    let enabled = g.enabled();
    if enabled.is_empty() {
        return "No quality gates are configured: build the project and run its tests.\n"
            .to_owned();
    }
    let mut s = String::new();
    for (i, (label, cmd)) in enabled.iter().enumerate() {
        let _ = writeln!(s, "{}. {label}: `{cmd}`", i + 1);
    }
    s
}

fn completion(c: &OverlayConfig, parent: &str) -> String {
    let task = c.task.as_ref().map_or("", TaskId::as_str);
    let agent = &c.agent;
    if c.capability.is_persistent() {
        return format!(
            "## Completion\n\nYou persist: there is no completion message. When a batch of work \
             ends, report it to {parent} with `--type result`, then wait for the next mail.\n"
        );
    }
    if c.capability.is_read_only() {
        let mut s = String::from("## Completion\n\n");
        if c.capability == Capability::Reviewer {
            s.push_str("Run these quality gates on the branch under review:\n\n");
            s.push_str(&gates(&c.quality_gates));
            s.push('\n');
        }
        let subject = if c.capability == Capability::Reviewer {
            "<PASS or FAIL>"
        } else {
            "Result"
        };
        let _ = write!(
            s,
            "You are read-only: there is nothing to commit. When your work is done, send one \
             result, which marks you completed, then stop:\n\n\
             ```bash\n\
             legio mail send --to {parent} --subject \"{subject}: {task}\" \\\n  \
             --body \"<summary, spec path, key findings>\" --type result --agent {agent}\n\
             ```\n"
        );
        return s;
    }
    let payload = serde_json::json!({
        "beadId": task,
        "branch": c.branch,
        "exitCode": 0,
        "filesModified": ["<each file you changed>"],
    });
    format!(
        "## Quality Gates\n\n\
         Before reporting done, run every gate; all must pass:\n\n{gates}\n\
         Then commit your work on `{branch}` (`git status` must be clean) and send `worker_done`, \
         which marks you completed:\n\n\
         ```bash\n\
         legio mail send --to {parent} --subject \"Worker done: {task}\" \\\n  \
         --body \"<what changed and how it was verified>\" --type worker_done \\\n  \
         --payload '{payload}' --agent {agent}\n\
         ```\n\n\
         Never send it while a gate fails: send `--type error` saying which gate and why. Do not \
         push; `legio merge` lands your branch.\n",
        gates = gates(&c.quality_gates),
        branch = c.branch,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::role_definition;
    use crate::config::Config;

    fn name(s: &str) -> AgentName {
        AgentName::new(s).unwrap()
    }

    /// A realistic assignment for `role`, as sling (or `<role> start`) would build it.
    fn example(role: Capability) -> OverlayConfig {
        let (agent, parent, depth) = match role {
            Capability::Coordinator | Capability::Gateway | Capability::Monitor => {
                (role.as_str().to_owned(), None, 0)
            }
            Capability::Supervisor | Capability::Lead => {
                (format!("{role}-auth"), Some(name("coordinator")), 1)
            }
            _ => (format!("{role}-1"), Some(name("lead-auth")), 2),
        };
        let root = Path::new("/work/app");
        let at_root = role.works_at_root();
        let task =
            (!at_root || role == Capability::Supervisor).then(|| TaskId::new("t-42").unwrap());
        let branch = if at_root {
            "main".to_owned()
        } else {
            format!("legio/{agent}/t-42")
        };
        OverlayConfig {
            agent: name(&agent),
            capability: role,
            spec_path: matches!(role, Capability::Builder | Capability::Reviewer)
                .then(|| root.join(".legio/specs/t-42.md")),
            task,
            branch,
            worktree: if at_root {
                root.to_path_buf()
            } else {
                root.join(".legio/worktrees").join(&agent)
            },
            parent,
            depth,
            file_scope: if role == Capability::Builder {
                vec!["src/auth/login.rs".into(), "tests/login.rs".into()]
            } else {
                Vec::new()
            },
            quality_gates: Config::default().quality_gates,
            role_definition: role_definition(role).to_owned(),
            can_spawn: spawnable(role, depth, 2),
            skip_review: false,
        }
    }

    fn has_placeholder(text: &str) -> bool {
        text.match_indices("{{").any(|(i, _)| {
            let after = &text[i + 2..];
            let n = after
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .unwrap_or(after.len());
            n > 0 && after[n..].starts_with("}}")
        })
    }

    #[test]
    fn overlay_of_every_role() {
        for role in Capability::ALL {
            let text = render(&example(*role)).unwrap();
            assert!(!has_placeholder(&text), "{role}: a placeholder is left");
            assert!(text.contains(role_definition(*role).trim_end()));
            insta::assert_snapshot!(format!("overlay_{role}"), text);
        }
    }

    #[test]
    fn every_placeholder_of_the_template_is_filled() {
        let names: Vec<&str> = OVERLAY_TEMPLATE
            .text
            .split("{{")
            .skip(1)
            .filter_map(|s| s.split_once("}}").map(|(n, _)| n))
            .collect();
        assert!(names.len() >= 15, "{names:?}");
        let text = render(&example(Capability::Builder)).unwrap();
        assert!(!has_placeholder(&text));
    }

    #[test]
    fn values_are_never_expanded_again() {
        let mut c = example(Capability::Builder);
        c.file_scope = vec!["a$&b".into(), "{{AGENT_NAME}}".into(), "$'x$$".into()];
        c.role_definition = "# Builder {{TASK}} $& {{ not a placeholder".into();
        let text = render(&c).unwrap();
        assert!(text.contains("- `a$&b`"));
        assert!(text.contains("- `{{AGENT_NAME}}`"));
        assert!(text.contains("- `$'x$$`"));
        assert!(text.contains("# Builder {{TASK}} $& {{ not a placeholder"));
    }

    #[test]
    fn the_filler_refuses_unknown_placeholders_and_keeps_other_braces() {
        let value = |n: &str| (n == "A").then_some(Cow::Borrowed("x"));
        assert_eq!(
            fill("{{A}} {{ b }} {{a}} {{", value).unwrap(),
            "x {{ b }} {{a}} {{"
        );
        let err = fill("{{A}}{{NOPE}}", value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the overlay template uses an unknown placeholder {{NOPE}}"
        );
    }

    #[test]
    fn quality_gates_come_from_the_config() {
        let mut c = example(Capability::Builder);
        c.quality_gates = QualityGates {
            test: "cargo test --workspace".into(),
            lint: "cargo clippy -- -D warnings".into(),
            typecheck: String::new(),
        };
        let text = render(&c).unwrap();
        assert!(text.contains("1. Tests: `cargo test --workspace`"));
        assert!(text.contains("2. Lint: `cargo clippy -- -D warnings`"));
        assert!(!text.contains("Typecheck"));
        assert!(!text.contains("npm"));
    }

    #[test]
    fn completion_matches_the_role() {
        let builder = render(&example(Capability::Builder)).unwrap();
        assert!(builder.contains("--type worker_done"));
        assert!(builder.contains(r#""branch":"legio/builder-1/t-42""#));
        assert!(builder.contains("--to lead-auth"));
        let scout = render(&example(Capability::Scout)).unwrap();
        assert!(scout.contains("--type result") && !scout.contains("worker_done"));
        assert!(scout.contains("**read-only**"));
        let coordinator = render(&example(Capability::Coordinator)).unwrap();
        assert!(coordinator.contains("You persist"));
        assert!(coordinator.contains("--to orchestrator"));
        assert!(!coordinator.contains("worker_done"));
    }

    #[test]
    fn spawning_names_the_exact_roles_and_the_next_depth() {
        let lead = render(&example(Capability::Lead)).unwrap();
        assert!(lead.contains("these roles and no others: scout, builder, reviewer, merger"));
        assert!(lead.contains("--capability scout|builder|reviewer|merger"));
        assert!(lead.contains("--parent lead-auth --depth 2"));
        let coordinator = render(&example(Capability::Coordinator)).unwrap();
        assert!(coordinator.contains("these roles and no others: lead, scout"));
        assert!(
            render(&example(Capability::Builder))
                .unwrap()
                .contains("You may not spawn agents.")
        );
        assert!(spawnable(Capability::Lead, 2, 2).is_empty());
        assert_eq!(
            spawnable(Capability::Lead, 1, 2),
            Capability::Lead.may_spawn()
        );
    }

    #[test]
    fn skip_review_adds_an_override_before_the_working_directory() {
        let mut c = example(Capability::Lead);
        assert!(!render(&c).unwrap().contains("Dispatch Overrides"));
        c.skip_review = true;
        let text = render(&c).unwrap();
        let overrides = text.find("## Dispatch Overrides").unwrap();
        assert!(overrides < text.find("## Working Directory").unwrap());
        assert!(text.contains("**Skip Review**"));
    }

    #[test]
    fn missing_spec_and_task_are_said_plainly() {
        let mut c = example(Capability::Lead);
        c.spec_path = None;
        let text = render(&c).unwrap();
        assert!(text.contains("- **Spec:** none"));
        assert!(text.contains("No spec file was given: `legio task show t-42`"));
        c.task = None;
        assert!(
            render(&c)
                .unwrap()
                .contains("- **Task:** none: your work arrives in your conversation")
        );
    }

    #[test]
    fn a_branch_that_would_break_the_commands_is_refused() {
        let mut c = example(Capability::Builder);
        c.branch = "x'; rm -rf /".into();
        assert!(matches!(render(&c), Err(OverlayError::UnsafeBranch(_))));
    }

    #[test]
    fn write_puts_the_file_in_the_worktree_and_refuses_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("app");
        let wt = root.join(".legio/worktrees/b1");
        std::fs::create_dir_all(&wt).unwrap();
        let path = write(&wt, &root, "hello").unwrap();
        assert_eq!(path, wt.join(".claude/CLAUDE.md"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello");
        assert!(!wt.join(".claude/.CLAUDE.md.tmp").exists());

        let err = write(&root.join("."), &root, "x").unwrap_err();
        assert!(matches!(err, OverlayError::ProjectRoot(_)), "{err}");
        assert!(
            !root.join(".claude").exists(),
            "nothing written at the root"
        );
    }
}
