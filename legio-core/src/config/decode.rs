//! From the merged YAML tree to a typed [`Config`]: strict types, every problem collected with
//! its key path and origin, unknown keys turned into warnings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::yaml::{Entry, Kind, Node, Pos, is_null_text};
use super::{Config, Diagnostic, RuntimeKind, is_valid_model, schema::MODEL_CHOICES};
use crate::domain::UnknownValue;
use crate::domain::agent::Capability;

/// The keys of one mapping being decoded, remembering which were read.
struct Section<'n> {
    path: String,
    entries: &'n [Entry],
    used: Vec<bool>,
    known: Vec<&'static str>,
}

impl<'n> Section<'n> {
    fn new(path: String, entries: &'n [Entry]) -> Self {
        Self {
            path,
            used: vec![false; entries.len()],
            entries,
            known: Vec::new(),
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key`, without marking it read.
    fn peek(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    /// The value of `key`, marking it read.
    fn take(&mut self, key: &'static str) -> Option<&'n Node> {
        self.known.push(key);
        let i = self.entries.iter().position(|e| e.key == key)?;
        self.used[i] = true;
        Some(&self.entries[i].value)
    }
}

/// Collects problems (errors) and warnings while filling a [`Config`].
pub(crate) struct Decoder<'a> {
    files: &'a [PathBuf],
    pub problems: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Decoder<'a> {
    pub fn new(files: &'a [PathBuf]) -> Self {
        Self {
            files,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn at(&self, source: usize, pos: Pos, key: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.files.get(source).cloned(),
            line: pos.line,
            col: pos.col,
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn problem(&mut self, node: &Node, key: &str, message: impl Into<String>) {
        let d = self.at(node.source, node.pos, key, message);
        self.problems.push(d);
    }

    /// Fills `config` from the document root (the defaults stay where a key is absent).
    pub fn decode(&mut self, root: Option<&Node>, config: &mut Config) {
        let Some(root) = root else { return };
        let Some(entries) = self.section_entries(root, "") else {
            return;
        };
        let mut top = Section::new(String::new(), entries);

        let mut s = self.sub(&mut top, "project");
        self.text(&mut s, "name", &mut config.project.name, Need::NonEmpty);
        // Written by legio 0.1.0's init; the root is always the resolved one.
        s.take("root");
        self.text(
            &mut s,
            "canonicalBranch",
            &mut config.project.canonical_branch,
            Need::BranchName,
        );
        self.finish(&s);

        let mut s = self.sub(&mut top, "agents");
        let agents = &mut config.agents;
        self.path(&mut s, "manifestPath", &mut agents.manifest_path);
        self.path(&mut s, "baseDir", &mut agents.base_dir);
        self.count(&mut s, "maxConcurrent", &mut agents.max_concurrent, 1);
        self.millis(&mut s, "staggerDelayMs", &mut agents.stagger_delay, 0);
        self.count(&mut s, "maxDepth", &mut agents.max_depth, 0);
        self.count(
            &mut s,
            "maxAgentsPerLead",
            &mut agents.max_agents_per_lead,
            1,
        );
        self.finish(&s);

        let mut s = self.sub(&mut top, "worktrees");
        self.path(&mut s, "baseDir", &mut config.worktrees.base_dir);
        self.finish(&s);

        let mut s = self.sub(&mut top, "beads");
        self.flag(&mut s, "enabled", &mut config.beads.enabled);
        self.finish(&s);

        let mut s = self.sub(&mut top, "mulch");
        let mulch = &mut config.mulch;
        self.flag(&mut s, "enabled", &mut mulch.enabled);
        self.text_list(&mut s, "domains", &mut mulch.domains);
        self.choice(&mut s, "primeFormat", &mut mulch.prime_format);
        self.domain_map(&mut s, "domainMap", &mut mulch.domain_map);
        self.finish(&s);

        let mut s = self.sub(&mut top, "merge");
        let merge = &mut config.merge;
        self.flag(&mut s, "aiResolveEnabled", &mut merge.ai_resolve_enabled);
        self.flag(&mut s, "reimagineEnabled", &mut merge.reimagine_enabled);
        self.flag(&mut s, "runQualityGates", &mut merge.run_quality_gates);
        self.millis(
            &mut s,
            "aiResolveTimeoutMs",
            &mut merge.ai_resolve_timeout,
            1,
        );
        self.finish(&s);

        let mut s = self.sub(&mut top, "watchdog");
        let watchdog = &mut config.watchdog;
        self.flag(&mut s, "tier0Enabled", &mut watchdog.tier0_enabled);
        // 0 is allowed while the daemon is off (legio 0.1.0 accepted that); checked below.
        let interval = s.take("tier0IntervalMs");
        if let Some(node) = interval {
            let min = u64::from(watchdog.tier0_enabled);
            let key = s.key_path("tier0IntervalMs");
            if let Some(ms) = self.integer(node, &key, min, u64::MAX, millis_what(min)) {
                watchdog.tier0_interval = Duration::from_millis(ms);
            }
        }
        self.flag(&mut s, "tier1Enabled", &mut watchdog.tier1_enabled);
        self.flag(&mut s, "tier2Enabled", &mut watchdog.tier2_enabled);
        self.millis(
            &mut s,
            "zombieThresholdMs",
            &mut watchdog.zombie_threshold,
            1,
        );
        self.millis(&mut s, "nudgeIntervalMs", &mut watchdog.nudge_interval, 1);
        self.millis(&mut s, "bootTimeoutMs", &mut watchdog.boot_timeout, 1);
        self.count(
            &mut s,
            "maxRecoveryAttempts",
            &mut watchdog.max_recovery_attempts,
            0,
        );
        self.millis(&mut s, "triageTimeoutMs", &mut watchdog.triage_timeout, 1);
        self.finish(&s);

        let mut s = self.sub(&mut top, "models");
        config.models = self.role_map(&mut s, |text| {
            if is_valid_model(text) {
                Ok(text.to_owned())
            } else {
                Err(format!("must be one of: {MODEL_CHOICES}"))
            }
        });

        let mut s = self.sub(&mut top, "logging");
        self.flag(&mut s, "verbose", &mut config.logging.verbose);
        self.flag(&mut s, "redactSecrets", &mut config.logging.redact_secrets);
        self.finish(&s);

        let mut s = self.sub(&mut top, "qualityGates");
        let gates = &mut config.quality_gates;
        self.text(&mut s, "test", &mut gates.test, Need::Any);
        self.text(&mut s, "lint", &mut gates.lint, Need::Any);
        self.text(&mut s, "typecheck", &mut gates.typecheck, Need::Any);
        self.finish(&s);

        let mut s = self.sub(&mut top, "runtime");
        let runtime = &mut config.runtime;
        let default_node = s.peek("default");
        self.choice(&mut s, "default", &mut runtime.default);
        let mut caps = self.sub(&mut s, "capabilities");
        let caps_entries = caps.entries;
        runtime.capabilities = self.role_map(&mut caps, |text| {
            RuntimeKind::from_str(text).map_err(|e| format!("must be one of: {}", e.choices))
        });
        let mut script = self.sub(&mut s, "script");
        let command_node = script.peek("command");
        self.text_list(&mut script, "command", &mut runtime.script.command);
        self.finish(&script);
        self.flag(&mut s, "headless", &mut runtime.headless);
        self.finish(&s);

        // The script runtime needs a command; name the key that chose it.
        if runtime.script.command.is_empty() {
            let chooser = caps_entries
                .iter()
                .find(|e| {
                    Capability::from_str(&e.key).is_ok() && scalar_text(&e.value) == Some("script")
                })
                .map(|e| (format!("runtime.capabilities.{}", e.key), &e.value))
                .or_else(|| {
                    (runtime.default == RuntimeKind::Script)
                        .then_some(default_node)
                        .flatten()
                        .map(|n| ("runtime.default".to_owned(), n))
                });
            if let Some((key, node)) = chooser {
                let message = "selects the script runtime, but runtime.script.command is empty; \
                               set it to the program and its arguments, e.g. [\"./agent.sh\"]";
                match command_node {
                    Some(cmd) => self.problem(cmd, "runtime.script.command", message),
                    None => self.problem(node, &key, message),
                }
            }
        }

        self.finish(&top);
    }

    /// The entries of a mapping node, or a problem.
    fn section_entries<'n>(&mut self, node: &'n Node, key: &str) -> Option<&'n [Entry]> {
        match &node.kind {
            Kind::Map(entries) => Some(entries),
            _ if node.is_null() => Some(&[]),
            _ => {
                let what = if key.is_empty() {
                    "the file"
                } else {
                    "this key"
                };
                self.problem(
                    node,
                    if key.is_empty() { "(top level)" } else { key },
                    format!(
                        "{what} must hold a mapping of keys (`key: value` lines), got {}",
                        describe(node)
                    ),
                );
                None
            }
        }
    }

    /// A nested section; absent, empty or invalid sections read as empty.
    fn sub<'n>(&mut self, parent: &mut Section<'n>, key: &'static str) -> Section<'n> {
        let path = parent.key_path(key);
        let entries = parent
            .take(key)
            .and_then(|node| self.section_entries(node, &path))
            .unwrap_or(&[]);
        Section::new(path, entries)
    }

    /// Unread keys of a section become warnings.
    fn finish(&mut self, s: &Section<'_>) {
        for (entry, used) in s.entries.iter().zip(&s.used) {
            if *used {
                continue;
            }
            let mut message = "unknown key (ignored)".to_owned();
            if let Some(near) = closest(&entry.key, &s.known) {
                let _ = write!(message, "; did you mean {near}?");
            }
            let d = self.at(
                entry.value.source,
                entry.key_pos,
                &s.key_path(&entry.key),
                message,
            );
            self.warnings.push(d);
        }
    }

    fn flag(&mut self, s: &mut Section<'_>, key: &'static str, out: &mut bool) {
        let Some(node) = s.take(key) else { return };
        match scalar(node) {
            Some(("true" | "True" | "TRUE", false)) => *out = true,
            Some(("false" | "False" | "FALSE", false)) => *out = false,
            _ => self.problem(
                node,
                &s.key_path(key),
                format!("must be true or false, got {}", describe(node)),
            ),
        }
    }

    fn count(&mut self, s: &mut Section<'_>, key: &'static str, out: &mut u32, min: u64) {
        let Some(node) = s.take(key) else { return };
        let what = if min == 0 {
            "non-negative integer"
        } else {
            "positive integer"
        };
        if let Some(n) = self.integer(node, &s.key_path(key), min, u64::from(u32::MAX), what) {
            *out = u32::try_from(n).expect("integer() bounds the value to u32");
        }
    }

    fn millis(&mut self, s: &mut Section<'_>, key: &'static str, out: &mut Duration, min: u64) {
        let Some(node) = s.take(key) else { return };
        if let Some(ms) = self.integer(node, &s.key_path(key), min, u64::MAX, millis_what(min)) {
            *out = Duration::from_millis(ms);
        }
    }

    /// A whole number in `min..=max`; `what` names the expectation in the message.
    fn integer(&mut self, node: &Node, key: &str, min: u64, max: u64, what: &str) -> Option<u64> {
        let fail = |d: &mut Self, extra: &str| {
            d.problem(
                node,
                key,
                format!("must be a {what}, got {}{extra}", describe(node)),
            );
            None
        };
        let Some((text, quoted)) = scalar(node) else {
            return fail(self, "");
        };
        match parse_integer(text) {
            Some(_) if quoted => fail(self, "; remove the quotes"),
            Some(n) if n >= i128::from(min) && n <= i128::from(max) => {
                Some(u64::try_from(n).expect("checked against the bounds"))
            }
            Some(n) if n > i128::from(max) => {
                fail(self, &format!("; the largest allowed is {max}"))
            }
            _ => fail(self, ""),
        }
    }

    fn text(&mut self, s: &mut Section<'_>, key: &'static str, out: &mut String, need: Need) {
        let Some(node) = s.take(key) else { return };
        let key = s.key_path(key);
        let value = match scalar(node) {
            Some((text, false)) if is_null_text(text) => {
                if need == Need::Any {
                    ""
                } else {
                    self.problem(
                        node,
                        &key,
                        format!("must not be empty, got {}", describe(node)),
                    );
                    return;
                }
            }
            Some((text @ ("true" | "True" | "TRUE" | "false" | "False" | "FALSE"), false)) => {
                self.problem(
                    node,
                    &key,
                    format!("must be text, got the boolean {text}; quote it if you mean the text"),
                );
                return;
            }
            Some((text, _)) => text,
            None => {
                self.problem(node, &key, format!("must be text, got {}", describe(node)));
                return;
            }
        };
        match need {
            Need::NonEmpty if value.trim().is_empty() => {
                self.problem(node, &key, "must not be empty");
            }
            Need::BranchName if value.trim().is_empty() => {
                self.problem(node, &key, "must name a branch, got an empty value");
            }
            Need::BranchName if value.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                self.problem(
                    node,
                    &key,
                    format!("must be a branch name without spaces, got {value:?}"),
                );
            }
            _ => value.clone_into(out),
        }
    }

    fn path(&mut self, s: &mut Section<'_>, key: &'static str, out: &mut PathBuf) {
        let mut text = String::new();
        let before = self.problems.len();
        self.text(s, key, &mut text, Need::NonEmpty);
        if self.problems.len() == before && !text.is_empty() {
            *out = PathBuf::from(text);
        }
    }

    fn text_list(&mut self, s: &mut Section<'_>, key: &'static str, out: &mut Vec<String>) {
        let Some(node) = s.take(key) else { return };
        let key = s.key_path(key);
        if let Some(list) = self.strings(node, &key) {
            *out = list;
        }
    }

    /// A list of text items (an empty value is an empty list).
    fn strings(&mut self, node: &Node, key: &str) -> Option<Vec<String>> {
        let items = match &node.kind {
            Kind::Seq(items) => items,
            _ if node.is_null() => return Some(Vec::new()),
            _ => {
                self.problem(
                    node,
                    key,
                    format!(
                        "must be a list (`[a, b]` or `- a` lines), got {}",
                        describe(node)
                    ),
                );
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        let before = self.problems.len();
        for (i, item) in items.iter().enumerate() {
            match scalar(item) {
                Some((text, quoted)) if quoted || !is_null_text(text) => out.push(text.to_owned()),
                _ => self.problem(
                    item,
                    &format!("{key}[{i}]"),
                    format!("must be text, got {}", describe(item)),
                ),
            }
        }
        (self.problems.len() == before).then_some(out)
    }

    fn choice<T>(&mut self, s: &mut Section<'_>, key: &'static str, out: &mut T)
    where
        T: FromStr<Err = UnknownValue>,
    {
        let Some(node) = s.take(key) else { return };
        let key = s.key_path(key);
        match scalar(node).map(|(text, _)| T::from_str(text)) {
            Some(Ok(value)) => *out = value,
            Some(Err(e)) => self.problem(
                node,
                &key,
                format!("must be one of: {}, got {}", e.choices, describe(node)),
            ),
            None => self.problem(node, &key, format!("must be text, got {}", describe(node))),
        }
    }

    /// `role: value` entries; unknown roles are warnings, bad values problems.
    fn role_map<V>(
        &mut self,
        s: &mut Section<'_>,
        parse: impl Fn(&str) -> Result<V, String>,
    ) -> BTreeMap<Capability, V> {
        let mut out = BTreeMap::new();
        for (i, entry) in s.entries.iter().enumerate() {
            s.used[i] = true;
            let key = s.key_path(&entry.key);
            let Ok(role) = Capability::from_str(&entry.key) else {
                let d = self.at(
                    entry.value.source,
                    entry.key_pos,
                    &key,
                    format!(
                        "unknown role (ignored); roles are: {}",
                        Capability::choices()
                    ),
                );
                self.warnings.push(d);
                continue;
            };
            match scalar(&entry.value) {
                Some((text, _)) => match parse(text) {
                    Ok(v) => {
                        out.insert(role, v);
                    }
                    Err(why) => {
                        self.problem(
                            &entry.value,
                            &key,
                            format!("{why}, got {}", describe(&entry.value)),
                        );
                    }
                },
                None => self.problem(
                    &entry.value,
                    &key,
                    format!("must be text, got {}", describe(&entry.value)),
                ),
            }
        }
        out
    }

    fn domain_map(
        &mut self,
        s: &mut Section<'_>,
        key: &'static str,
        out: &mut Vec<(String, Vec<String>)>,
    ) {
        let mut map = self.sub(s, key);
        let mut result = Vec::with_capacity(map.entries.len());
        for (i, entry) in map.entries.iter().enumerate() {
            map.used[i] = true;
            let path = map.key_path(&entry.key);
            if let Some(domains) = self.strings(&entry.value, &path) {
                result.push((entry.key.clone(), domains));
            }
        }
        *out = result;
    }
}

fn millis_what(min: u64) -> &'static str {
    if min == 0 {
        "non-negative number of milliseconds"
    } else {
        "positive number of milliseconds"
    }
}

/// What a text key requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Anything, including empty.
    Any,
    /// Non-blank.
    NonEmpty,
    /// Non-blank, no whitespace.
    BranchName,
}

fn scalar(node: &Node) -> Option<(&str, bool)> {
    match &node.kind {
        Kind::Scalar { text, quoted } => Some((text, *quoted)),
        _ => None,
    }
}

fn scalar_text(node: &Node) -> Option<&str> {
    scalar(node).map(|(t, _)| t)
}

/// A decimal integer, optionally signed, with `_` allowed between digits (as legio 0.1.0 read
/// `30_000`). Anything else, including floats and hex, is not an integer.
fn parse_integer(text: &str) -> Option<i128> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let bytes = digits.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
        && digits.len() <= 30;
    if !ok {
        return None;
    }
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    clean.parse().ok()
}

/// A value as the user wrote it, for "got ..." in messages.
fn describe(node: &Node) -> String {
    match &node.kind {
        Kind::Scalar { text, quoted: true } => format!("the quoted text {text:?}"),
        Kind::Scalar {
            text,
            quoted: false,
        } if text.is_empty() => "an empty value".into(),
        Kind::Scalar {
            text,
            quoted: false,
        } => text.clone(),
        Kind::Seq(_) => "a list".into(),
        Kind::Map(_) => "a mapping".into(),
    }
}

/// The known key closest to a misspelt one, if any is close.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| {
            (
                edit_distance(&key.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_legio_0_1_0_without_its_quirks() {
        assert_eq!(parse_integer("25"), Some(25));
        assert_eq!(parse_integer("-1"), Some(-1));
        assert_eq!(parse_integer("007"), Some(7));
        assert_eq!(parse_integer("30_000"), Some(30_000));
        for not in ["", "1.5", "1e5", "0x10", "_1", "1_", "abc", "+", "1 000"] {
            assert_eq!(parse_integer(not), None, "{not}");
        }
    }

    #[test]
    fn suggests_close_keys_only() {
        let known = ["maxConcurrent", "maxDepth", "staggerDelayMs"];
        assert_eq!(closest("maxConcurent", &known), Some("maxConcurrent"));
        assert_eq!(closest("maxconcurrent", &known), Some("maxConcurrent"));
        assert_eq!(closest("colour", &known), None);
    }
}
