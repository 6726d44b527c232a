//! The commented `config.yaml` that `legio init` writes.
//!
//! Every key is written with its value and a comment saying what it does, in the layout legio
//! 0.1.0 used (two-space indentation, block lists, a bare `key:` for an empty mapping), so the
//! file also stays readable by legio 0.1.0. `project.root` is not written: it is always the
//! directory that holds `.legio/`, and an absolute path does not belong in a tracked file.

use std::fmt::Write as _;
use std::time::Duration;

use super::Config;

/// Renders `config` as a commented YAML file that [`super::load`] reads back unchanged.
pub fn render(config: &Config) -> String {
    let mut w = Writer::default();
    w.line(
        0,
        "# legio configuration (.legio/config.yaml, tracked by git).",
    );
    w.line(
        0,
        "# .legio/config.local.yaml (not tracked) overrides it key by key.",
    );
    w.line(
        0,
        "# Times are in milliseconds. Unknown or misspelt keys are reported as warnings.",
    );

    let c = config;
    w.section("project");
    w.comment("Used in terminal session names.");
    w.text("name", &c.project.name);
    w.comment("The branch agents start from and merges land on.");
    w.text("canonicalBranch", &c.project.canonical_branch);

    w.section("agents");
    w.comment("The agent manifest and the role definitions, relative to the project root.");
    w.text("manifestPath", &c.agents.manifest_path.to_string_lossy());
    w.text("baseDir", &c.agents.base_dir.to_string_lossy());
    w.comment("At most this many agents active at once.");
    w.number("maxConcurrent", c.agents.max_concurrent);
    w.comment("Least time between two spawns.");
    w.millis("staggerDelayMs", c.agents.stagger_delay);
    w.comment("Deepest hierarchy level (0: only agents you start yourself).");
    w.number("maxDepth", c.agents.max_depth);
    w.comment("At most this many active children per parent agent.");
    w.number("maxAgentsPerLead", c.agents.max_agents_per_lead);

    w.section("worktrees");
    w.comment("Where agent worktrees are created, relative to the project root.");
    w.text("baseDir", &c.worktrees.base_dir.to_string_lossy());

    w.section("beads");
    w.comment("Use the bd tracker when it is installed (legio's own tracker otherwise).");
    w.flag("enabled", c.beads.enabled);

    w.section("mulch");
    w.comment("Use mulch (shared expertise) when it is installed.");
    w.flag("enabled", c.mulch.enabled);
    w.comment("Domains to prime; empty means all.");
    w.list(1, "domains", &c.mulch.domains);
    w.comment("Output format of mulch prime: markdown, xml or json.");
    w.text("primeFormat", c.mulch.prime_format.as_str());
    w.comment("File glob -> domains, used to pick expertise from an agent's file scope.");
    w.key(1, "domainMap");
    for (glob, domains) in &c.mulch.domain_map {
        w.list(2, glob, domains);
    }

    w.section("merge");
    w.comment("Let an agent resolve conflicts the mechanical tiers cannot.");
    w.flag("aiResolveEnabled", c.merge.ai_resolve_enabled);
    w.comment("Let legio re-implement a branch that cannot be merged (last resort).");
    w.flag("reimagineEnabled", c.merge.reimagine_enabled);
    w.comment("Run the quality gates after each merge; undo the merge when they fail.");
    w.flag("runQualityGates", c.merge.run_quality_gates);
    w.comment("Time limit of one AI conflict resolution.");
    w.millis("aiResolveTimeoutMs", c.merge.ai_resolve_timeout);

    w.section("watchdog");
    w.comment("The watchdog daemon and its tick.");
    w.flag("tier0Enabled", c.watchdog.tier0_enabled);
    w.millis("tier0IntervalMs", c.watchdog.tier0_interval);
    w.comment("AI triage of stalled agents.");
    w.flag("tier1Enabled", c.watchdog.tier1_enabled);
    w.comment("The monitor agent.");
    w.flag("tier2Enabled", c.watchdog.tier2_enabled);
    w.comment("Silence after which a non-persistent agent counts as a zombie.");
    w.millis("zombieThresholdMs", c.watchdog.zombie_threshold);
    w.comment("Time between escalation steps for a stalled agent.");
    w.millis("nudgeIntervalMs", c.watchdog.nudge_interval);
    w.comment("How long an agent may take to start before it counts as failed.");
    w.millis("bootTimeoutMs", c.watchdog.boot_timeout);
    w.comment("Automatic recoveries of one agent before the watchdog gives up.");
    w.number("maxRecoveryAttempts", c.watchdog.max_recovery_attempts);
    w.comment("Time limit of one triage.");
    w.millis("triageTimeoutMs", c.watchdog.triage_timeout);

    w.blank();
    w.line(
        0,
        "# Model per role: sonnet, opus, haiku or a claude-... id. Roles not listed use the",
    );
    w.line(0, "# agent manifest's model. Example:  builder: opus");
    w.key(0, "models");
    for (role, model) in &c.models {
        w.line_kv(1, role.as_str(), &quote(model));
    }

    w.section("logging");
    w.comment("Debug output on the console.");
    w.flag("verbose", c.logging.verbose);
    w.comment("Hide secrets (tokens, keys) in logs.");
    w.flag("redactSecrets", c.logging.redact_secrets);

    w.section("qualityGates");
    w.comment("Commands agents run before reporting done; \"\" disables one.");
    w.text("test", &c.quality_gates.test);
    w.text("lint", &c.quality_gates.lint);
    w.text("typecheck", &c.quality_gates.typecheck);

    w.section("runtime");
    w.comment("The agent CLI: claude (Claude Code) or script (runtime.script.command).");
    w.text("default", c.runtime.default.as_str());
    w.comment("Per-role runtime, e.g.  builder: script");
    w.key(1, "capabilities");
    for (role, kind) in &c.runtime.capabilities {
        w.line_kv(2, role.as_str(), kind.as_str());
    }
    w.key(1, "script");
    w.line(
        2,
        "# Program and arguments of the script runtime (no shell), e.g. [\"./agent.sh\"].",
    );
    w.list(2, "command", &c.runtime.script.command);
    w.comment("Run agents as background processes instead of tmux sessions.");
    w.flag("headless", c.runtime.headless);
    w.out
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn blank(&mut self) {
        self.out.push('\n');
    }

    fn section(&mut self, name: &str) {
        self.blank();
        self.key(0, name);
    }

    fn key(&mut self, indent: usize, name: &str) {
        self.line(indent, &format!("{}:", quote(name)));
    }

    fn comment(&mut self, text: &str) {
        self.line(1, &format!("# {text}"));
    }

    fn line_kv(&mut self, indent: usize, key: &str, value: &str) {
        self.line(indent, &format!("{}: {value}", quote(key)));
    }

    fn text(&mut self, key: &str, value: &str) {
        self.line_kv(1, key, &quote(value));
    }

    fn flag(&mut self, key: &str, value: bool) {
        self.line_kv(1, key, if value { "true" } else { "false" });
    }

    fn number(&mut self, key: &str, value: u32) {
        self.line_kv(1, key, &value.to_string());
    }

    fn millis(&mut self, key: &str, value: Duration) {
        self.line_kv(1, key, &value.as_millis().to_string());
    }

    fn list(&mut self, indent: usize, key: &str, items: &[String]) {
        if items.is_empty() {
            self.line_kv(indent, key, "[]");
            return;
        }
        self.key(indent, key);
        for item in items {
            self.line(indent + 1, &format!("- {}", quote(item)));
        }
    }
}

/// `s` as a YAML scalar that reads back as the same text: plain when that is unambiguous
/// (also for legio 0.1.0's reader), double-quoted with escapes otherwise.
pub(crate) fn quote(s: &str) -> String {
    if is_plain_safe(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    );
    let numeric_start = first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.')
            && s.chars().nth(1).is_some_and(|c| c.is_ascii_digit()));
    !reserved
        && !numeric_start
        && !"-?:,[]{}#&*!|>%@`'\" ".contains(first)
        && !s.ends_with([' ', ':'])
        && !s
            .chars()
            .any(|c| c.is_control() || matches!(c, ':' | '#' | '\'' | '"' | '\\'))
}
