//! The agent manifest (`.legio/agent-manifest.json`): which role definition file, model, tools
//! and descriptive tags each role has.
//!
//! The format is legio 0.1.0's: a tab-indented JSON object `{version, agents,
//! capabilityIndex}` ending in a newline, version `"1.0"`, one entry per role keyed by the role
//! name. `capabilityIndex` (tag -> roles) is derived from the entries: it is written for
//! readers of the file and rebuilt, never trusted, on load.
//!
//! The manifest describes; it does not grant. Who may spawn whom, and who may write, is
//! decided by [`Capability`] and enforced by the guard; a manifest that claims otherwise
//! (`canSpawn` disagreeing with the role) is refused rather than silently believed. Unlike
//! legio 0.1.0 the generated manifest lists all ten roles, `gateway` included, so every role
//! resolves its model and definition file the same way.
//!
//! Model resolution ([`resolve_model`]): `models.<role>` in the config, else the manifest's
//! model for the role, else the role's default. Every launch (sling and root agents) uses it.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::assets;
use crate::config::{Config, MODEL_CHOICES, is_valid_model};
use crate::domain::agent::Capability;

/// The manifest format version legio writes and reads.
pub const MANIFEST_VERSION: &str = "1.0";

/// One role's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDefinition {
    /// The role (the entry's key).
    pub role: Capability,
    /// The role definition file, relative to `agents.baseDir`.
    pub file: String,
    /// The model alias or id.
    pub model: String,
    /// The agent CLI tools the role uses (descriptive).
    pub tools: Vec<String>,
    /// Descriptive tags (`explore`, `implement`, ...), indexed in `capabilityIndex`.
    pub capabilities: Vec<String>,
    /// Whether the role may spawn agents (must agree with the role).
    pub can_spawn: bool,
    /// Descriptive constraints (`read-only`, `no-worktree`).
    pub constraints: Vec<String>,
}

/// A loaded or generated manifest; entries are kept in role order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The format version.
    pub version: String,
    agents: Vec<AgentDefinition>,
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file does not exist.
    #[error("agent manifest not found at {}; run `legio init` to create it", path.display())]
    NotFound {
        /// The expected path.
        path: PathBuf,
    },
    /// The file cannot be read.
    #[error("cannot read the agent manifest {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("the agent manifest {} is not valid JSON (line {line}, column {col}): {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// The parser's explanation.
        message: String,
    },
    /// The content is wrong; every problem found is listed.
    #[error("the agent manifest {} is invalid:{}", path.display(), bullet_list(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// One line per problem, each starting with the key path.
        problems: Vec<String>,
    },
}

fn bullet_list(items: &[String]) -> String {
    items.iter().fold(String::new(), |mut out, p| {
        out.push_str("\n  - ");
        out.push_str(p);
        out
    })
}

/// Tools of roles that only read, and of roles that also write.
const READ_TOOLS: &[&str] = &["Read", "Glob", "Grep", "Bash"];
const WRITE_TOOLS: &[&str] = &["Read", "Write", "Edit", "Glob", "Grep", "Bash"];

/// Descriptive tags of each role, in legio 0.1.0's order (gateway's are new).
fn default_tags(role: Capability) -> &'static [&'static str] {
    match role {
        Capability::Scout => &["explore", "research"],
        Capability::Builder => &["implement", "refactor", "fix"],
        Capability::Reviewer => &["review", "validate"],
        Capability::Lead => &["coordinate", "implement", "review"],
        Capability::Merger => &["merge", "resolve-conflicts"],
        Capability::Coordinator => &["coordinate", "dispatch", "escalate"],
        Capability::Supervisor => &["coordinate", "supervise"],
        Capability::Monitor => &["monitor", "patrol"],
        Capability::Gateway => &["plan", "converse"],
        Capability::Cto => &["strategy", "analyze", "advise"],
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl AgentDefinition {
    /// legio's default entry for `role`.
    pub fn builtin(role: Capability) -> Self {
        let tools = if role.is_read_only() {
            READ_TOOLS
        } else {
            WRITE_TOOLS
        };
        let mut constraints = Vec::new();
        if role.is_read_only() {
            constraints.push("read-only".to_owned());
        }
        if role.works_at_root() {
            constraints.push("no-worktree".to_owned());
        }
        Self {
            role,
            file: assets::role_file_name(role).to_owned(),
            model: role.default_model().to_owned(),
            tools: strings(tools),
            capabilities: strings(default_tags(role)),
            can_spawn: !role.may_spawn().is_empty(),
            constraints,
        }
    }
}

impl Default for Manifest {
    /// The manifest `legio init` writes: every role with its defaults.
    fn default() -> Self {
        Self {
            version: MANIFEST_VERSION.to_owned(),
            agents: Capability::ALL
                .iter()
                .map(|r| AgentDefinition::builtin(*r))
                .collect(),
        }
    }
}

impl Manifest {
    /// The entries, in role order.
    pub fn agents(&self) -> &[AgentDefinition] {
        &self.agents
    }

    /// The entry of `role`, if the manifest has one.
    pub fn get(&self, role: Capability) -> Option<&AgentDefinition> {
        self.agents.iter().find(|a| a.role == role)
    }

    /// Tag -> roles declaring it, tags in first-appearance order.
    pub fn capability_index(&self) -> Vec<(String, Vec<Capability>)> {
        let mut index: Vec<(String, Vec<Capability>)> = Vec::new();
        for agent in &self.agents {
            for tag in &agent.capabilities {
                match index.iter_mut().find(|(t, _)| t == tag) {
                    Some((_, roles)) => roles.push(agent.role),
                    None => index.push((tag.clone(), vec![agent.role])),
                }
            }
        }
        index
    }

    /// The roles declaring `tag`.
    pub fn find_by_tag(&self, tag: &str) -> Vec<Capability> {
        self.agents
            .iter()
            .filter(|a| a.capabilities.iter().any(|t| t == tag))
            .map(|a| a.role)
            .collect()
    }

    /// The file's text: tab-indented JSON and a final newline.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Entry<'a> {
            file: &'a str,
            model: &'a str,
            tools: &'a [String],
            capabilities: &'a [String],
            can_spawn: bool,
            constraints: &'a [String],
        }
        // Built by hand so key order is the manifest's, whatever serde_json's map features.
        let mut out = String::from("{\n\t\"version\": ");
        out.push_str(&json(&self.version));
        out.push_str(",\n\t\"agents\": {");
        for (i, a) in self.agents.iter().enumerate() {
            let entry = Entry {
                file: &a.file,
                model: &a.model,
                tools: &a.tools,
                capabilities: &a.capabilities,
                can_spawn: a.can_spawn,
                constraints: &a.constraints,
            };
            out.push_str(if i == 0 { "\n\t\t" } else { ",\n\t\t" });
            out.push_str(&json(a.role.as_str()));
            out.push_str(": ");
            out.push_str(&indent(&pretty(&entry), 2));
        }
        out.push_str("\n\t},\n\t\"capabilityIndex\": {");
        for (i, (tag, roles)) in self.capability_index().iter().enumerate() {
            out.push_str(if i == 0 { "\n\t\t" } else { ",\n\t\t" });
            out.push_str(&json(tag));
            out.push_str(": ");
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            out.push_str(&indent(&pretty(&names), 2));
        }
        out.push_str("\n\t}\n}\n");
        out
    }

    /// Reads and validates the manifest at `path`, and checks that every entry's definition
    /// file exists under `defs_dir`. All problems are reported together.
    pub fn load(path: &Path, defs_dir: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ManifestError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                ManifestError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let manifest = Self::parse(&text, path)?;
        let missing: Vec<String> = manifest
            .agents
            .iter()
            .filter(|a| !defs_dir.join(&a.file).is_file())
            .map(|a| {
                format!(
                    "agents.{}.file: {} does not exist; run `legio init --force` to restore the \
                     role definitions, or fix the name",
                    a.role,
                    defs_dir.join(&a.file).display()
                )
            })
            .collect();
        if missing.is_empty() {
            Ok(manifest)
        } else {
            Err(ManifestError::Invalid {
                path: path.to_path_buf(),
                problems: missing,
            })
        }
    }

    /// Parses and validates manifest text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ManifestError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            col: e.column(),
            message: e.to_string(),
        })?;
        let mut problems = Vec::new();
        let manifest = validate(&value, &mut problems);
        match manifest {
            Some(m) if problems.is_empty() => Ok(m),
            _ => Err(ManifestError::Invalid {
                path: path.to_path_buf(),
                problems,
            }),
        }
    }
}

/// The model for `role`: `models.<role>` in the config, else the manifest's, else the role's
/// default.
pub fn resolve_model<'a>(
    config: &'a Config,
    manifest: Option<&'a Manifest>,
    role: Capability,
) -> &'a str {
    config
        .models
        .get(&role)
        .map(String::as_str)
        .or_else(|| manifest.and_then(|m| m.get(role)).map(|a| a.model.as_str()))
        .unwrap_or(role.default_model())
}

fn validate(value: &Value, problems: &mut Vec<String>) -> Option<Manifest> {
    let Some(top) = value.as_object() else {
        problems.push(format!(
            "the file must hold a JSON object, got {}",
            kind(value)
        ));
        return None;
    };
    let version = match top.get("version") {
        Some(Value::String(v)) if !v.trim().is_empty() => v.clone(),
        other => {
            let got = match other {
                Some(Value::String(_)) => "an empty string",
                other => other.map_or("nothing", kind),
            };
            problems.push(format!(
                "version: must be a non-empty string (\"{MANIFEST_VERSION}\"), got {got}"
            ));
            String::new()
        }
    };
    let Some(entries) = top.get("agents").and_then(Value::as_object) else {
        problems.push(format!(
            "agents: must be an object of role entries, got {}",
            top.get("agents").map_or("nothing", kind)
        ));
        return None;
    };
    let mut agents: Vec<AgentDefinition> = entries
        .iter()
        .filter_map(|(name, entry)| validate_entry(name, entry, problems))
        .collect();
    agents.sort_by_key(|a| a.role);
    Some(Manifest { version, agents })
}

fn validate_entry(
    name: &str,
    entry: &Value,
    problems: &mut Vec<String>,
) -> Option<AgentDefinition> {
    let Ok(role) = name.parse::<Capability>() else {
        problems.push(format!(
            "agents.{name}: not a legio role; roles are: {}",
            Capability::choices()
        ));
        return None;
    };
    let Some(obj) = entry.as_object() else {
        problems.push(format!(
            "agents.{name}: must be an object, got {}",
            kind(entry)
        ));
        return None;
    };
    let before = problems.len();
    let mut field =
        |key: &str, problem: String| problems.push(format!("agents.{name}.{key}: {problem}"));

    let file = match obj.get("file") {
        Some(Value::String(f)) if is_plain_relative(f) => f.clone(),
        Some(Value::String(f)) => {
            field(
                "file",
                format!("must be a relative path inside the definitions directory, got {f:?}"),
            );
            String::new()
        }
        other => {
            field(
                "file",
                format!(
                    "must be a non-empty string, got {}",
                    other.map_or("nothing", kind)
                ),
            );
            String::new()
        }
    };
    let model = match obj.get("model") {
        Some(Value::String(m)) if is_valid_model(m) => m.clone(),
        other => {
            field(
                "model",
                format!(
                    "must be one of: {MODEL_CHOICES}, got {}",
                    other.map_or_else(|| "nothing".to_owned(), Value::to_string)
                ),
            );
            String::new()
        }
    };
    let mut list = |key: &str| -> Vec<String> {
        match obj.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        field(
                            &format!("{key}[{i}]"),
                            format!("must be a string, got {}", kind(other)),
                        );
                        None
                    }
                })
                .collect(),
            other => {
                field(
                    key,
                    format!(
                        "must be an array of strings, got {}",
                        other.map_or("nothing", kind)
                    ),
                );
                Vec::new()
            }
        }
    };
    let tools = list("tools");
    let capabilities = list("capabilities");
    let constraints = list("constraints");
    let can_spawn = match obj.get("canSpawn") {
        Some(Value::Bool(b)) => {
            let may = !role.may_spawn().is_empty();
            if *b != may {
                field(
                    "canSpawn",
                    format!(
                        "is {b}, but in legio {role} {} (the hierarchy is fixed); set it to {may}",
                        if may {
                            "may spawn agents"
                        } else {
                            "may not spawn agents"
                        }
                    ),
                );
            }
            *b
        }
        other => {
            field(
                "canSpawn",
                format!(
                    "must be true or false, got {}",
                    other.map_or("nothing", kind)
                ),
            );
            false
        }
    };
    (problems.len() == before).then_some(AgentDefinition {
        role,
        file,
        model,
        tools,
        capabilities,
        can_spawn,
        constraints,
    })
}

/// A relative path without `..`: it stays inside the directory it is joined to.
fn is_plain_relative(path: &str) -> bool {
    !path.trim().is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

fn pretty<T: Serialize>(value: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    value
        .serialize(&mut ser)
        .expect("plain data always serialises");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// Indents every line but the first by `depth` tabs.
fn indent(text: &str, depth: usize) -> String {
    let pad = "\t".repeat(depth);
    text.replace('\n', &format!("\n{pad}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/p/.legio/agent-manifest.json";

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new(PATH))
    }

    #[test]
    fn the_default_manifest_has_every_role_and_a_stable_text() {
        let m = Manifest::default();
        assert_eq!(m.agents().len(), Capability::ALL.len());
        assert!(m.get(Capability::Gateway).is_some());
        let text = m.to_json();
        assert!(text.ends_with("}\n"));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_written_text_reads_back_equal() {
        let m = Manifest::default();
        assert_eq!(parse(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn the_index_follows_first_appearance() {
        let index = Manifest::default().capability_index();
        let implement = index.iter().find(|(t, _)| t == "implement").unwrap();
        assert_eq!(implement.1, [Capability::Builder, Capability::Lead]);
        assert_eq!(index[0].0, "explore");
        assert_eq!(
            Manifest::default().find_by_tag("coordinate"),
            [
                Capability::Lead,
                Capability::Coordinator,
                Capability::Supervisor
            ]
        );
    }

    #[test]
    fn a_legio_0_1_0_manifest_loads() {
        // Nine roles (no gateway), the Task tool, supervisor with write tools: all descriptive.
        let text = r#"{
	"version": "1.0",
	"agents": {
		"scout": {"file": "scout.md", "model": "haiku", "tools": ["Read", "Glob", "Grep", "Bash"], "capabilities": ["explore", "research"], "canSpawn": false, "constraints": ["read-only"]},
		"supervisor": {"file": "supervisor.md", "model": "opus", "tools": ["Read", "Write", "Edit", "Glob", "Grep", "Bash", "Task"], "capabilities": ["coordinate", "supervise"], "canSpawn": true, "constraints": []}
	},
	"capabilityIndex": {"bogus": ["nobody"]}
}
"#;
        let m = parse(text).unwrap();
        assert_eq!(m.agents().len(), 2);
        assert_eq!(m.capability_index()[0].0, "explore");
        assert!(m.get(Capability::Gateway).is_none());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"{
	"version": "",
	"agents": {
		"wizard": {},
		"scout": "scout.md",
		"builder": {"file": "../../etc/passwd", "model": "gpt4", "tools": ["Read", 3], "capabilities": "x", "canSpawn": true}
	}
}"#;
        insta::assert_snapshot!(parse(text).unwrap_err().to_string());
    }

    #[test]
    fn json_errors_have_a_position() {
        let e = parse("{\n\t\"version\": \"1.0\",\n\t\"agents\": {,}\n}").unwrap_err();
        assert!(matches!(e, ManifestError::Json { line: 3, .. }), "{e:?}");
        assert!(matches!(
            parse("[]").unwrap_err(),
            ManifestError::Invalid { .. }
        ));
    }

    #[test]
    fn load_checks_the_definition_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("agent-manifest.json");
        let defs = tmp.path().join("agent-defs");
        std::fs::create_dir(&defs).unwrap();
        let e = Manifest::load(&path, &defs).unwrap_err();
        assert!(e.to_string().contains("run `legio init`"), "{e}");

        std::fs::write(&path, Manifest::default().to_json()).unwrap();
        for role in Capability::ALL {
            if *role != Capability::Cto {
                std::fs::write(defs.join(format!("{role}.md")), "x").unwrap();
            }
        }
        let e = Manifest::load(&path, &defs).unwrap_err().to_string();
        assert!(
            e.contains("agents.cto.file:") && e.contains("cto.md does not exist"),
            "{e}"
        );
        std::fs::write(defs.join("cto.md"), "x").unwrap();
        assert_eq!(Manifest::load(&path, &defs).unwrap(), Manifest::default());
    }

    #[test]
    fn model_resolution_prefers_config_then_manifest_then_role() {
        let mut config = Config::default();
        let mut manifest = Manifest::default();
        manifest.agents[0].model = "opus".into(); // scout
        assert_eq!(resolve_model(&config, None, Capability::Scout), "haiku");
        assert_eq!(
            resolve_model(&config, Some(&manifest), Capability::Scout),
            "opus"
        );
        config.models.insert(Capability::Scout, "sonnet".into());
        assert_eq!(
            resolve_model(&config, Some(&manifest), Capability::Scout),
            "sonnet"
        );
        assert_eq!(
            resolve_model(&config, Some(&manifest), Capability::Cto),
            "opus"
        );
    }
}
