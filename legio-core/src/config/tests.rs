//! Loading, merging, validation, warnings and the written file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::domain::agent::Capability;

const ROOT: &str = "/work/my-app";

fn files() -> [PathBuf; 2] {
    [
        PathBuf::from(format!("{ROOT}/.legio/config.yaml")),
        PathBuf::from(format!("{ROOT}/.legio/config.local.yaml")),
    ]
}

fn load2(base: Option<&str>, local: Option<&str>) -> Result<Loaded, ConfigError> {
    load_texts(Path::new(ROOT), &files(), [base, local])
}

fn ok(base: &str) -> Loaded {
    load2(Some(base), None).unwrap_or_else(|e| panic!("{e}"))
}

fn err(base: Option<&str>, local: Option<&str>) -> String {
    match load2(base, local) {
        Ok(l) => panic!("expected an error, got {:?}", l.config),
        Err(e) => e.to_string(),
    }
}

fn warnings(l: &Loaded) -> String {
    l.warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// What legio 0.1.0's `init` writes (spec 1 §5.10), with values that exercise its quoting.
const LEGACY_FILE: &str = r#"# Legio configuration
# See: https://github.com/legio/legio

project:
  name: "2048-game"
  root: /home/someone/2048-game
  canonicalBranch: develop
agents:
  manifestPath: .legio/agent-manifest.json
  baseDir: .legio/agent-defs
  maxConcurrent: 25
  staggerDelayMs: 2000
  maxDepth: 2
  maxAgentsPerLead: 5
worktrees:
  baseDir: .legio/worktrees
beads:
  enabled: true
mulch:
  enabled: true
  domains: []
  primeFormat: markdown
  domainMap:
merge:
  aiResolveEnabled: true
  reimagineEnabled: false
watchdog:
  tier0Enabled: true
  tier0IntervalMs: 30000
  tier1Enabled: false
  tier2Enabled: false
  zombieThresholdMs: 600000
  nudgeIntervalMs: 60000
models:
logging:
  verbose: false
  redactSecrets: true
qualityGates:
  test: "bun test --filter \"unit\" C:\\tmp"
  lint: npm run lint
  typecheck: npm run typecheck
"#;

#[test]
fn no_files_means_defaults_with_the_root_name() {
    let l = load2(None, None).unwrap();
    assert_eq!(l.config, Config::for_root(ROOT));
    assert_eq!(l.config.project.name, "my-app");
    assert!(l.warnings.is_empty());
}

#[test]
fn loads_a_file_written_by_legio_0_1_0() {
    let l = ok(LEGACY_FILE);
    let c = &l.config;
    assert!(l.warnings.is_empty(), "{}", warnings(&l));
    assert_eq!(c.project.name, "2048-game");
    assert_eq!(
        c.project.root,
        Path::new(ROOT),
        "project.root is never read"
    );
    assert_eq!(c.project.canonical_branch, "develop");
    assert_eq!(c.quality_gates.test, r#"bun test --filter "unit" C:\tmp"#);
    assert!(c.models.is_empty());
    assert!(c.mulch.domain_map.is_empty());
    let mut expected = Config::for_root(ROOT);
    expected.project.name = "2048-game".into();
    expected.project.canonical_branch = "develop".into();
    expected.quality_gates.test = c.quality_gates.test.clone();
    assert_eq!(*c, expected);
}

#[test]
fn file_values_override_defaults_and_keep_the_rest() {
    let l = ok(
        "agents:\n  maxConcurrent: 3\n  staggerDelayMs: 30_000\nqualityGates:\n  test: cargo test\nmulch:\n  domains:\n  - cli\n  - \"src/**\"\n  domainMap:\n    \"src/**\": [core]\n    tests/*: []\n",
    );
    let c = &l.config;
    assert_eq!(c.agents.max_concurrent, 3);
    assert_eq!(c.agents.stagger_delay, Duration::from_secs(30));
    assert_eq!(c.agents.max_depth, 2);
    assert_eq!(c.quality_gates.test, "cargo test");
    assert_eq!(c.quality_gates.lint, "npm run lint");
    assert_eq!(c.mulch.domains, ["cli", "src/**"]);
    assert_eq!(
        c.mulch.domain_map,
        [
            ("src/**".to_owned(), vec!["core".to_owned()]),
            ("tests/*".to_owned(), vec![])
        ]
    );
}

#[test]
fn the_local_file_merges_over_the_base_key_by_key() {
    let base = "watchdog:\n  zombieThresholdMs: 1000\n  tier0Enabled: true\nmodels:\n  builder: opus\n  scout: sonnet\n";
    let local = "watchdog:\n  tier0Enabled: false\nmodels:\n  scout: haiku\n";
    let c = load2(Some(base), Some(local)).unwrap().config;
    assert_eq!(c.watchdog.zombie_threshold, Duration::from_secs(1));
    assert!(!c.watchdog.tier0_enabled);
    assert_eq!(c.models[&Capability::Builder], "opus");
    assert_eq!(c.models[&Capability::Scout], "haiku");
}

#[test]
fn an_empty_local_section_does_not_erase_the_base_one() {
    let c = load2(Some("models:\n  lead: opus\n"), Some("models:\n"))
        .unwrap()
        .config;
    assert_eq!(c.models[&Capability::Lead], "opus");
}

#[test]
fn lists_and_scalars_replace() {
    let c = load2(
        Some("mulch:\n  domains: [a, b]\n"),
        Some("mulch:\n  domains: [c]\n"),
    )
    .unwrap()
    .config;
    assert_eq!(c.mulch.domains, ["c"]);
}

#[test]
fn the_local_file_works_alone_and_is_validated_with_its_name() {
    let c = load2(None, Some("agents:\n  maxDepth: 4\n"))
        .unwrap()
        .config;
    assert_eq!(c.agents.max_depth, 4);
    let e = err(None, Some("agents:\n  maxConcurrent: -1\n"));
    assert_eq!(
        e,
        "invalid configuration: /work/my-app/.legio/config.local.yaml:2:18: \
         agents.maxConcurrent: must be a positive integer, got -1"
    );
}

#[test]
fn all_problems_are_reported_together_with_their_origin() {
    let base = "\
project:
  canonicalBranch: 123 x
agents:
  maxConcurrent: 0
  maxDepth: -1
  staggerDelayMs: -100
  maxAgentsPerLead: {}
mulch:
  primeFormat: yaml
  domains: [a, [b]]
watchdog:
  tier0IntervalMs: 0
  nudgeIntervalMs: \"60000\"
  zombieThresholdMs: 1.5
  bootTimeoutMs: 99999999999999999999999
beads:
  enabled: yes
models:
  builder: gpt4
  scout: ~
";
    let local = "logging:\n  verbose: 1\nqualityGates:\n  lint: true\n";
    insta::assert_snapshot!(err(Some(base), Some(local)));
}

#[test]
fn a_scalar_where_a_section_belongs_is_an_error_not_a_crash() {
    insta::assert_snapshot!(err(Some("project: foo\nagents: [1]\n"), None), @r"
    invalid configuration (2 problems):
      /work/my-app/.legio/config.yaml:1:10: project: this key must hold a mapping of keys (`key: value` lines), got foo
      /work/my-app/.legio/config.yaml:2:9: agents: this key must hold a mapping of keys (`key: value` lines), got a list
    ");
    insta::assert_snapshot!(err(Some("- a\n- b\n"), None), @"invalid configuration: /work/my-app/.legio/config.yaml:1:1: (top level): the file must hold a mapping of keys (`key: value` lines), got a list");
}

#[test]
fn tier0_interval_may_be_zero_only_while_the_daemon_is_off() {
    let c = ok("watchdog:\n  tier0Enabled: false\n  tier0IntervalMs: 0\n").config;
    assert_eq!(c.watchdog.tier0_interval, Duration::ZERO);
    assert!(
        err(Some("watchdog:\n  tier0IntervalMs: 0\n"), None)
            .contains("watchdog.tier0IntervalMs: must be a positive number of milliseconds, got 0")
    );
}

#[test]
fn syntax_errors_give_file_line_and_column() {
    let e = load2(Some("project:\n  name: a\n   bad: [\n"), None).unwrap_err();
    let ConfigError::Syntax { line, col, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!((*line, *col), (3, 7));
    insta::assert_snapshot!(e.to_string(), @"/work/my-app/.legio/config.yaml:3:7: the config file is not valid YAML: mapping values are not allowed in this context");
    let e = load2(None, Some("a: \"open\n")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/work/my-app/.legio/config.local.yaml:"),
        "{e}"
    );
}

#[test]
fn unknown_duplicate_and_misplaced_keys_are_warnings() {
    let l = load2(
        Some("agents:\n  maxConcurent: 3\n  maxDepth: 1\n  maxDepth: 3\ncolour: blue\nmodels:\n  wizard: opus\nruntime:\n  capabilities:\n    golem: script\n  script:\n    command: [x]\n    cwd: /tmp\n"),
        Some("logging:\n  verbos: true\n"),
    )
    .unwrap();
    assert_eq!(l.config.agents.max_depth, 3);
    assert_eq!(l.config.agents.max_concurrent, 25);
    insta::assert_snapshot!(warnings(&l));
}

#[test]
fn old_watchdog_keys_migrate_per_file() {
    let old = "watchdog:\n  tier1Enabled: false\n  tier1IntervalMs: 5000\n  tier2Enabled: true\n";
    let l = ok(old);
    let w = &l.config.watchdog;
    assert!(!w.tier0_enabled);
    assert_eq!(w.tier0_interval, Duration::from_secs(5));
    assert!(w.tier1_enabled, "old tier2 (triage) is the new tier1");
    insta::assert_snapshot!(warnings(&l), @r"
    /work/my-app/.legio/config.yaml:2:3: watchdog.tier1Enabled: renamed key from before legio 0.1.0, read as watchdog.tier0Enabled; rename it in the file
    /work/my-app/.legio/config.yaml:3:3: watchdog.tier1IntervalMs: renamed key from before legio 0.1.0, read as watchdog.tier0IntervalMs; rename it in the file
    /work/my-app/.legio/config.yaml:4:3: watchdog.tier2Enabled: renamed key from before legio 0.1.0, read as watchdog.tier1Enabled; rename it in the file
    ");
}

#[test]
fn enabling_triage_in_the_local_file_enables_triage() {
    // legio 0.1.0 misread this as an old-style file: triage stayed off, the daemon forced on.
    let l = load2(
        Some("watchdog:\n  tier0Enabled: false\n"),
        Some("watchdog:\n  tier1Enabled: true\n"),
    )
    .unwrap();
    assert!(l.config.watchdog.tier1_enabled);
    assert!(!l.config.watchdog.tier0_enabled);
    assert!(l.warnings.is_empty());
}

#[test]
fn new_keys_load_and_validate() {
    let c = ok("runtime:\n  default: script\n  capabilities:\n    coordinator: claude\n  script:\n    command: [\"./agent.sh\", --fast]\n  headless: true\nwatchdog:\n  bootTimeoutMs: 5000\n  maxRecoveryAttempts: 0\n  triageTimeoutMs: 10\nmerge:\n  runQualityGates: true\n  aiResolveTimeoutMs: 1000\n").config;
    assert_eq!(c.runtime.for_role(Capability::Builder), RuntimeKind::Script);
    assert_eq!(
        c.runtime.for_role(Capability::Coordinator),
        RuntimeKind::Claude
    );
    assert_eq!(c.runtime.script.command, ["./agent.sh", "--fast"]);
    assert!(c.runtime.headless);
    assert_eq!(c.watchdog.boot_timeout, Duration::from_secs(5));
    assert_eq!(c.watchdog.max_recovery_attempts, 0);
    assert!(c.merge.run_quality_gates);
    assert_eq!(c.merge.ai_resolve_timeout, Duration::from_secs(1));
}

#[test]
fn the_script_runtime_needs_a_command() {
    insta::assert_snapshot!(err(Some("runtime:\n  capabilities:\n    builder: script\n"), None), @r#"invalid configuration: /work/my-app/.legio/config.yaml:3:14: runtime.capabilities.builder: selects the script runtime, but runtime.script.command is empty; set it to the program and its arguments, e.g. ["./agent.sh"]"#);
    assert!(
        err(
            Some("runtime:\n  default: script\n  script:\n    command: []\n"),
            None
        )
        .contains(".legio/config.yaml:4:14: runtime.script.command: selects")
    );
    assert!(
        err(Some("runtime:\n  default: docker\n"), None)
            .contains("runtime.default: must be one of: claude, script, got docker")
    );
}

#[test]
fn plain_numbers_are_text_where_text_is_expected() {
    let c = ok("project:\n  name: 2048\n  canonicalBranch: release-2\n").config;
    assert_eq!(c.project.name, "2048");
    assert!(err(Some("project:\n  name:\n"), None).contains("project.name: must not be empty"));
    let c = ok("qualityGates:\n  lint:\n  typecheck: \"\"\n").config;
    assert_eq!(c.quality_gates.enabled(), [("Tests", "npm test")]);
}

#[test]
fn full_model_ids_are_accepted() {
    let c = ok("models:\n  cto: claude-opus-4-1\n").config;
    assert_eq!(c.models[&Capability::Cto], "claude-opus-4-1");
}

#[test]
fn load_reads_the_layout_files_and_reports_unreadable_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    std::fs::create_dir_all(layout.legio_dir()).unwrap();
    assert_eq!(load(&layout).unwrap().config, Config::for_root(tmp.path()));
    std::fs::write(layout.config(), "agents:\n  maxDepth: 1\n").unwrap();
    std::fs::write(layout.config_local(), "agents:\n  maxConcurrent: 2\n").unwrap();
    let c = load(&layout).unwrap().config;
    assert_eq!((c.agents.max_depth, c.agents.max_concurrent), (1, 2));

    std::fs::remove_file(layout.config_local()).unwrap();
    std::fs::create_dir(layout.config_local()).unwrap();
    let e = load(&layout).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
    assert!(e.to_string().contains("config.local.yaml"), "{e}");

    std::fs::remove_dir(layout.config_local()).unwrap();
    std::fs::write(layout.config(), b"project:\n  name: \xff\n").unwrap();
    let e = load(&layout).unwrap_err();
    assert!(e.to_string().contains("cannot read the config file"), "{e}");
}

#[test]
fn the_written_default_file_is_stable_and_round_trips() {
    let config = Config::for_root(ROOT);
    let text = render(&config);
    insta::assert_snapshot!(text);
    let l = ok(&text);
    assert!(l.warnings.is_empty(), "{}", warnings(&l));
    assert_eq!(l.config, config);
}

#[test]
fn a_written_file_with_awkward_values_round_trips() {
    let mut c = Config::for_root(ROOT);
    c.project.name = "it's \"my\" app: v2 # \\ \t\n".into();
    c.project.canonical_branch = "007".into();
    c.agents.base_dir = "-defs".into();
    c.quality_gates.test = "true".into();
    c.quality_gates.lint = String::new();
    c.quality_gates.typecheck = "null".into();
    c.mulch.domains = vec!["- x".into(), "*y".into(), "1.5".into(), "yes".into()];
    c.mulch.domain_map = vec![
        ("src/**".into(), vec!["cli".into()]),
        ("#odd: key".into(), vec![]),
    ];
    c.models
        .insert(Capability::Builder, "claude-opus-4-1".into());
    c.models.insert(Capability::Scout, "haiku".into());
    c.runtime.default = RuntimeKind::Script;
    c.runtime
        .capabilities
        .insert(Capability::Coordinator, RuntimeKind::Claude);
    c.runtime.script.command = vec!["sh".into(), "-c".into(), "echo 'hi'; exit 0".into()];
    c.runtime.headless = true;
    c.watchdog.tier0_interval = Duration::from_millis(1);
    let l = ok(&render(&c));
    assert!(l.warnings.is_empty(), "{}", warnings(&l));
    assert_eq!(l.config, c);
}
