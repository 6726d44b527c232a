//! The typed configuration and its defaults: every key of legio 0.1.0 plus legio's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::agent::Capability;
use crate::domain::string_enum;

/// The whole configuration, after merging, migration and validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `project.*`.
    pub project: ProjectConfig,
    /// `agents.*`.
    pub agents: AgentsConfig,
    /// `worktrees.*`.
    pub worktrees: WorktreesConfig,
    /// `beads.*`: the optional `bd` tracker adapter.
    pub beads: BeadsConfig,
    /// `mulch.*`: the optional `mulch` expertise adapter.
    pub mulch: MulchConfig,
    /// `merge.*`.
    pub merge: MergeConfig,
    /// `watchdog.*`.
    pub watchdog: WatchdogConfig,
    /// `models.<role>`: per-role model overrides (highest precedence).
    pub models: BTreeMap<Capability, String>,
    /// `logging.*`.
    pub logging: LoggingConfig,
    /// `qualityGates.*`.
    pub quality_gates: QualityGates,
    /// `runtime.*`: which agent CLI runs each role.
    pub runtime: RuntimeConfig,
}

/// `project.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectConfig {
    /// Used in session names; defaults to the root directory's name.
    pub name: String,
    /// The resolved project root. Never read from a file.
    pub root: PathBuf,
    /// The merge target and the base of agent branches.
    pub canonical_branch: String,
}

/// `agents.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentsConfig {
    /// The agent manifest, relative to the root.
    pub manifest_path: PathBuf,
    /// Where role definitions live, relative to the root.
    pub base_dir: PathBuf,
    /// Most agents active at once (at least 1).
    pub max_concurrent: u32,
    /// Least time between two spawns.
    pub stagger_delay: Duration,
    /// Deepest allowed hierarchy level (0: only the orchestrator's direct children).
    pub max_depth: u32,
    /// Most active children one parent may have (at least 1).
    pub max_agents_per_lead: u32,
}

/// `worktrees.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreesConfig {
    /// Parent directory of agent worktrees, relative to the root.
    pub base_dir: PathBuf,
}

/// `beads.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeadsConfig {
    /// Use the `bd` tracker when it is installed (the built-in tracker otherwise).
    pub enabled: bool,
}

string_enum! {
    /// `mulch.primeFormat`.
    pub enum PrimeFormat ("prime format") {
        /// Markdown.
        Markdown => "markdown",
        /// XML.
        Xml => "xml",
        /// JSON.
        Json => "json",
    }
}

/// `mulch.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MulchConfig {
    /// Use `mulch` when it is installed.
    pub enabled: bool,
    /// Domains to prime; empty means all.
    pub domains: Vec<String>,
    /// `mulch prime --format`.
    pub prime_format: PrimeFormat,
    /// Glob -> domains, in file order (order decides output order). Empty: built-in map.
    pub domain_map: Vec<(String, Vec<String>)>,
}

/// `merge.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConfig {
    /// Allow the AI conflict-resolution tier.
    pub ai_resolve_enabled: bool,
    /// Allow the reimagine tier.
    pub reimagine_enabled: bool,
    /// Run the quality gates after each merge and undo the merge when they fail.
    pub run_quality_gates: bool,
    /// Limit of one AI resolution.
    pub ai_resolve_timeout: Duration,
}

/// `watchdog.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// The mechanical daemon.
    pub tier0_enabled: bool,
    /// Its tick (positive when enabled).
    pub tier0_interval: Duration,
    /// AI triage of stalled agents.
    pub tier1_enabled: bool,
    /// The monitor agent.
    pub tier2_enabled: bool,
    /// Inactivity after which a non-persistent agent is a zombie.
    pub zombie_threshold: Duration,
    /// Time between escalation stages.
    pub nudge_interval: Duration,
    /// How long an agent may stay `booting` before it counts as failed to start.
    pub boot_timeout: Duration,
    /// Automatic recoveries of one agent before the watchdog gives up.
    pub max_recovery_attempts: u32,
    /// Limit of one triage call.
    pub triage_timeout: Duration,
}

/// `logging.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// Debug output on the console.
    pub verbose: bool,
    /// Redact secrets in logs.
    pub redact_secrets: bool,
}

/// `qualityGates.*`: shell commands agents run before reporting done. Empty disables one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityGates {
    /// Tests.
    pub test: String,
    /// Lint.
    pub lint: String,
    /// Type check.
    pub typecheck: String,
}

impl QualityGates {
    /// The configured gates in order, as (label, command), skipping empty ones.
    pub fn enabled(&self) -> Vec<(&'static str, &str)> {
        [
            ("Tests", self.test.as_str()),
            ("Lint", self.lint.as_str()),
            ("Typecheck", self.typecheck.as_str()),
        ]
        .into_iter()
        .filter(|(_, cmd)| !cmd.trim().is_empty())
        .collect()
    }
}

string_enum! {
    /// An agent runtime: which CLI runs an agent.
    pub enum RuntimeKind ("agent runtime") {
        /// Claude Code.
        Claude => "claude",
        /// The command of `runtime.script.command` (tests, demos).
        Script => "script",
    }
}

/// `runtime.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// The runtime of every role without an override.
    pub default: RuntimeKind,
    /// Per-role overrides.
    pub capabilities: BTreeMap<Capability, RuntimeKind>,
    /// `runtime.script.*`.
    pub script: ScriptRuntimeConfig,
    /// Run agents as detached processes instead of tmux sessions.
    pub headless: bool,
}

impl RuntimeConfig {
    /// The runtime that runs `role`.
    pub fn for_role(&self, role: Capability) -> RuntimeKind {
        self.capabilities
            .get(&role)
            .copied()
            .unwrap_or(self.default)
    }
}

/// `runtime.script.*`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScriptRuntimeConfig {
    /// Program and arguments (argv, never a shell string).
    pub command: Vec<String>,
}

/// The model aliases Claude Code accepts.
pub const MODEL_ALIASES: &[&str] = &["sonnet", "opus", "haiku"];

/// Whether `model` is a model legio accepts: an alias, or a Claude model id such as
/// `claude-opus-4-1` (lowercase letters, digits, `.`, `-`).
pub fn is_valid_model(model: &str) -> bool {
    MODEL_ALIASES.contains(&model)
        || model.strip_prefix("claude-").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        })
}

/// What `is_valid_model` accepts, for messages.
pub const MODEL_CHOICES: &str = "sonnet, opus, haiku, or a model id starting with claude-";

impl Config {
    /// The defaults for the project at `root`; the name is the root directory's name.
    pub fn for_root(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            project: ProjectConfig {
                name,
                root,
                canonical_branch: "main".into(),
            },
            ..Self::default()
        }
    }

    /// `path` resolved against the project root (absolute paths stay as they are).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.project.root.join(path)
    }

    /// The absolute path of the agent manifest.
    pub fn manifest_file(&self) -> PathBuf {
        self.resolve(&self.agents.manifest_path)
    }

    /// The absolute directory of role definitions.
    pub fn agent_defs_dir(&self) -> PathBuf {
        self.resolve(&self.agents.base_dir)
    }

    /// The absolute parent directory of agent worktrees.
    pub fn worktrees_dir(&self) -> PathBuf {
        self.resolve(&self.worktrees.base_dir)
    }
}

impl Default for Config {
    /// legio 0.1.0's defaults, legio's new keys' defaults, an empty root and name.
    fn default() -> Self {
        Self {
            project: ProjectConfig {
                name: String::new(),
                root: PathBuf::new(),
                canonical_branch: "main".into(),
            },
            agents: AgentsConfig {
                manifest_path: ".legio/agent-manifest.json".into(),
                base_dir: ".legio/agent-defs".into(),
                max_concurrent: 25,
                stagger_delay: Duration::from_secs(2),
                max_depth: 2,
                max_agents_per_lead: 5,
            },
            worktrees: WorktreesConfig {
                base_dir: ".legio/worktrees".into(),
            },
            beads: BeadsConfig { enabled: true },
            mulch: MulchConfig {
                enabled: true,
                domains: Vec::new(),
                prime_format: PrimeFormat::Markdown,
                domain_map: Vec::new(),
            },
            merge: MergeConfig {
                ai_resolve_enabled: true,
                reimagine_enabled: false,
                run_quality_gates: false,
                ai_resolve_timeout: Duration::from_secs(120),
            },
            watchdog: WatchdogConfig {
                tier0_enabled: true,
                tier0_interval: Duration::from_secs(30),
                tier1_enabled: false,
                tier2_enabled: false,
                zombie_threshold: Duration::from_secs(600),
                nudge_interval: Duration::from_secs(60),
                boot_timeout: Duration::from_secs(120),
                max_recovery_attempts: 2,
                triage_timeout: Duration::from_secs(30),
            },
            models: BTreeMap::new(),
            logging: LoggingConfig {
                verbose: false,
                redact_secrets: true,
            },
            quality_gates: QualityGates {
                test: "npm test".into(),
                lint: "npm run lint".into(),
                typecheck: "npm run typecheck".into(),
            },
            runtime: RuntimeConfig {
                default: RuntimeKind::Claude,
                capabilities: BTreeMap::new(),
                script: ScriptRuntimeConfig::default(),
                headless: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_legio_0_1_0_and_the_new_keys() {
        let c = Config::for_root("/home/u/my-app");
        assert_eq!(c.project.name, "my-app");
        assert_eq!(c.project.root, Path::new("/home/u/my-app"));
        assert_eq!(c.agents.max_agents_per_lead, 5);
        assert_eq!(c.quality_gates.test, "npm test");
        assert_eq!(c.watchdog.boot_timeout, Duration::from_secs(120));
        assert_eq!(c.runtime.for_role(Capability::Builder), RuntimeKind::Claude);
        assert_eq!(
            c.manifest_file(),
            Path::new("/home/u/my-app/.legio/agent-manifest.json")
        );
    }

    #[test]
    fn models_are_aliases_or_claude_ids() {
        for ok in ["sonnet", "opus", "haiku", "claude-opus-4-1", "claude-3.5-x"] {
            assert!(is_valid_model(ok), "{ok}");
        }
        for bad in [
            "gpt4",
            "",
            "claude-",
            "Claude-opus",
            "claude-opus 4",
            "Sonnet",
        ] {
            assert!(!is_valid_model(bad), "{bad}");
        }
    }

    #[test]
    fn empty_gates_are_skipped() {
        let mut g = Config::default().quality_gates;
        g.lint = "  ".into();
        assert_eq!(
            g.enabled(),
            vec![("Tests", "npm test"), ("Typecheck", "npm run typecheck")]
        );
    }
}
