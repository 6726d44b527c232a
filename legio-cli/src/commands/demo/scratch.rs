//! What the demo works on: textkit, a small POSIX `sh` program with its test script (nothing
//! to install beyond `sh`, `awk`, `tr` and `wc`), the tasks that grow it, and the plans the
//! simulated agents (`legio sim-agent`) follow.
//!
//! The fleet: the coordinator slings one lead; the lead slings the builders, waits for their
//! `worker_done`, sends `merge_ready` for each branch and reports `worker_done` itself; the
//! coordinator waits for those, then runs `legio merge --all`. Builders 1 and 2 both add a
//! command at the end of `lib/text.sh`, so the second merge needs the mechanical tier. The last
//! builder commits half its work and ends its turn, and the demo kills it; its plan is replaced
//! by [`resume_plan`] first, so the agent the watchdog restarts picks up where it left off.
//!
//! Everything here is pure: text and JSON values, written by the caller.

use serde_json::{Value, json};

/// One command a builder adds to textkit.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// The textkit command.
    pub name: &'static str,
    /// What it does (the task's title).
    pub what: &'static str,
    /// Its shell function, on one line.
    pub function: &'static str,
    /// Its test: a `check NAME EXPECTED COMMAND INPUT` line.
    pub test: &'static str,
}

/// The commands builders add, in order; the demo runs at most this many builders.
pub const FEATURES: [Feature; 8] = [
    Feature {
        name: "reverse",
        what: "reverse each line",
        function: r#"cmd_reverse() { awk '{ s = ""; for (i = length($0); i > 0; i--) s = s substr($0, i, 1); print s }'; }"#,
        test: r#"check reverse "olleh" reverse "hello""#,
    },
    Feature {
        name: "words",
        what: "count the words",
        function: "cmd_words() { wc -w | tr -d ' '; }",
        test: r#"check words "3" words "one two three""#,
    },
    Feature {
        name: "lower",
        what: "lower-case the text",
        function: "cmd_lower() { tr '[:upper:]' '[:lower:]'; }",
        test: r#"check lower "legio" lower "LeGiO""#,
    },
    Feature {
        name: "rot13",
        what: "rotate letters by 13",
        function: "cmd_rot13() { tr 'A-Za-z' 'N-ZA-Mn-za-m'; }",
        test: r#"check rot13 "Uryyb" rot13 "Hello""#,
    },
    Feature {
        name: "squeeze",
        what: "squeeze runs of spaces",
        function: "cmd_squeeze() { tr -s ' '; }",
        test: r#"check squeeze "a b c" squeeze "a  b   c""#,
    },
    Feature {
        name: "vowels",
        what: "count the vowels",
        function: "cmd_vowels() { tr -cd 'aeiouAEIOU' | wc -c | tr -d ' '; }",
        test: r#"check vowels "5" vowels "legio demo""#,
    },
    Feature {
        name: "initials",
        what: "print the initials",
        function: r#"cmd_initials() { awk '{ s = ""; for (i = 1; i <= NF; i++) s = s toupper(substr($i, 1, 1)); print s }'; }"#,
        test: r#"check initials "LD" initials "legio demo""#,
    },
    Feature {
        name: "chars",
        what: "count the characters",
        function: "cmd_chars() { tr -d '\\n' | wc -c | tr -d ' '; }",
        test: r#"check chars "5" chars "hello""#,
    },
];

/// The fewest builders that show everything: two share a file, one is killed.
pub const MIN_BUILDERS: usize = 3;
/// The most builders (one per feature).
pub const MAX_BUILDERS: usize = FEATURES.len();

/// The file builders 1 and 2 both append to.
const SHARED_FILE: &str = "lib/text.sh";
/// The lead's task.
pub const LEAD_TASK: &str = "demo-lead";
/// The lead's name.
pub const LEAD: &str = "lead";
/// How long a simulated agent waits for the mail it expects before giving up (the demo's
/// own deadline is shorter).
const MAIL_WAIT_MS: u64 = 300_000;

/// The files of textkit's first commit: the program, one command, the test runner, one test.
pub fn program_files() -> Vec<(&'static str, String)> {
    vec![
        (
            "textkit",
            "#!/bin/sh\n\
             # textkit: small text tools. Usage: textkit COMMAND < input\n\
             here=$(dirname \"$0\")\n\
             for lib in \"$here\"/lib/*.sh; do . \"$lib\"; done\n\
             [ $# -ge 1 ] || { echo \"usage: textkit COMMAND < input\" >&2; exit 2; }\n\
             cmd=$1; shift\n\
             command -v \"cmd_$cmd\" >/dev/null 2>&1 || { echo \"textkit: no command $cmd\" >&2; exit 2; }\n\
             \"cmd_$cmd\" \"$@\"\n"
                .to_owned(),
        ),
        (
            SHARED_FILE,
            "# Text commands: each reads stdin and writes stdout, one function per line.\n\
             cmd_upper() { tr '[:lower:]' '[:upper:]'; }\n"
                .to_owned(),
        ),
        (
            "test.sh",
            "#!/bin/sh\n\
             # Runs every tests/*.sh; each line there is: check NAME EXPECTED COMMAND INPUT\n\
             here=$(cd \"$(dirname \"$0\")\" && pwd)\n\
             pass=0 fail=0\n\
             check() {\n\
             \x20   got=$(printf '%s' \"$4\" | sh \"$here/textkit\" \"$3\")\n\
             \x20   if [ \"$got\" = \"$2\" ]; then pass=$((pass + 1))\n\
             \x20   else fail=$((fail + 1)); echo \"FAIL $1: expected [$2], got [$got]\"; fi\n\
             }\n\
             for t in \"$here\"/tests/*.sh; do . \"$t\"; done\n\
             echo \"$pass passed, $fail failed\"\n\
             [ \"$fail\" -eq 0 ] && [ \"$pass\" -gt 0 ]\n"
                .to_owned(),
        ),
        ("tests/upper.sh", "check upper \"HELLO\" upper \"hello\"\n".to_owned()),
    ]
}

/// One builder's job.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// `builder-<k>`.
    pub agent: String,
    /// `demo-<k>`.
    pub task: String,
    /// The command it adds.
    pub feature: Feature,
    /// The file its function goes to.
    pub file: String,
    /// Whether another builder appends to the same file.
    pub shared: bool,
    /// Whether this is the builder the demo kills part-way.
    pub victim: bool,
}

impl Assignment {
    /// Its branch, as `legio sling` names it.
    pub fn branch(&self) -> String {
        format!("legio/{}/{}", self.agent, self.task)
    }

    /// The task's title.
    pub fn title(&self) -> String {
        format!("textkit {}: {}", self.feature.name, self.feature.what)
    }
}

/// The jobs of `builders` builders (between [`MIN_BUILDERS`] and [`MAX_BUILDERS`]).
pub fn assignments(builders: usize) -> Vec<Assignment> {
    FEATURES
        .iter()
        .take(builders)
        .enumerate()
        .map(|(i, feature)| {
            let k = i + 1;
            let shared = k <= 2;
            Assignment {
                agent: format!("builder-{k}"),
                task: format!("demo-{k}"),
                feature: *feature,
                file: if shared {
                    SHARED_FILE.to_owned()
                } else {
                    format!("lib/{}.sh", feature.name)
                },
                shared,
                victim: k == builders,
            }
        })
        .collect()
}

/// The coordinator's plan: start the lead, wait for every branch to be ready and for the
/// lead's report, merge.
pub fn coordinator_plan(builders: usize) -> Value {
    json!({"steps": [
        {"run": format!("legio sling {LEAD_TASK} --name {LEAD} --capability lead")},
        {"wait_mail": {"timeout_ms": MAIL_WAIT_MS, "type": "merge_ready", "count": builders}},
        {"wait_mail": {"timeout_ms": MAIL_WAIT_MS, "type": "worker_done", "count": 1}},
        {"run": "legio merge --all"},
    ], "then": "wait"})
}

/// The lead's plan: sling the builders, wait for all of them, hand their branches on.
pub fn lead_plan(jobs: &[Assignment]) -> Value {
    let mut steps: Vec<Value> = jobs
        .iter()
        .map(|a| json!({"run": format!("legio sling {} --name {}", a.task, a.agent)}))
        .collect();
    steps.push(json!({"wait_mail": {
        "timeout_ms": MAIL_WAIT_MS, "type": "worker_done", "count": jobs.len()
    }}));
    steps.extend(jobs.iter().map(|a| {
        json!({"mail": {
            "type": "merge_ready",
            "subject": format!("Merge ready: {}", a.branch()),
            "body": format!("{} reported its tests passing; reviewed.", a.agent),
            "payload": {"branch": a.branch(), "beadId": a.task, "agentName": a.agent},
        }})
    }));
    steps.push(json!({"mail": {
        "type": "worker_done",
        "subject": "Worker done: ${TASK}",
        "body": format!("{} builders done; their branches are ready to merge.", jobs.len()),
    }}));
    json!({"steps": steps, "then": "wait"})
}

fn read_overlay(a: &Assignment) -> Value {
    json!({"run": format!("grep -q -- {} .claude/CLAUDE.md", a.task)})
}

fn add_function(a: &Assignment) -> Value {
    let line = format!("{}\n", a.feature.function);
    if a.shared {
        json!({"append": {"path": a.file, "content": line}})
    } else {
        let content = format!("# textkit {}: {}.\n{line}", a.feature.name, a.feature.what);
        json!({"write": {"path": a.file, "content": content}})
    }
}

fn finish(a: &Assignment) -> Vec<Value> {
    vec![
        json!({"write": {"path": format!("tests/{}.sh", a.feature.name), "content": format!("{}\n", a.feature.test)}}),
        json!({"run": "sh test.sh"}),
        json!({"commit": format!("textkit {}: {}", a.feature.name, a.feature.what)}),
        json!({"mail": {
            "type": "worker_done",
            "subject": "Worker done: ${TASK}",
            "body": format!("textkit {} added; sh test.sh passes.", a.feature.name),
        }}),
    ]
}

/// A builder's plan. The victim commits its function and ends its turn (which leaves the
/// checkpoint a restart resumes from), waiting for a prompt until it is killed.
pub fn builder_plan(a: &Assignment) -> Value {
    let mut steps = vec![read_overlay(a), add_function(a)];
    if a.victim {
        steps.push(
            json!({"commit": format!("textkit {}: the function (tests to come)", a.feature.name)}),
        );
    } else {
        steps.extend(finish(a));
    }
    json!({"steps": steps, "then": "wait"})
}

/// The victim's plan once restarted: its committed function is still there; it adds the test
/// and finishes.
pub fn resume_plan(a: &Assignment) -> Value {
    let mut steps = vec![
        read_overlay(a),
        json!({"run": format!("grep -q 'cmd_{}()' {}", a.feature.name, a.file)}),
    ];
    steps.extend(finish(a));
    json!({"steps": steps, "then": "wait"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_builders_share_a_file_and_the_last_one_is_the_victim() {
        let jobs = assignments(4);
        let shared: Vec<&str> = jobs
            .iter()
            .filter(|a| a.shared)
            .map(|a| a.agent.as_str())
            .collect();
        assert_eq!(shared, ["builder-1", "builder-2"]);
        assert!(jobs[0].file == jobs[1].file && jobs[2].file != jobs[0].file);
        let victims: Vec<&str> = jobs
            .iter()
            .filter(|a| a.victim)
            .map(|a| a.agent.as_str())
            .collect();
        assert_eq!(victims, ["builder-4"]);
        assert_eq!(jobs[3].branch(), "legio/builder-4/demo-4");
    }

    #[test]
    fn every_plan_parses_as_a_sim_agent_plan() {
        let jobs = assignments(MAX_BUILDERS);
        let mut plans = vec![coordinator_plan(jobs.len()), lead_plan(&jobs)];
        plans.extend(jobs.iter().map(builder_plan));
        plans.extend(jobs.iter().map(resume_plan));
        for plan in plans {
            let parsed: Result<super::super::super::sim_agent::Plan, _> =
                serde_json::from_value(plan.clone());
            assert!(parsed.is_ok(), "{parsed:?}: {plan:#}");
        }
    }

    #[test]
    fn the_victim_stops_after_committing_and_resumes_with_its_test() {
        let victim = assignments(3).pop().unwrap();
        let first = builder_plan(&victim).to_string();
        assert!(
            first.contains("commit") && !first.contains("worker_done"),
            "{first}"
        );
        let resume = resume_plan(&victim).to_string();
        assert!(
            resume.contains("cmd_lower()") && resume.contains("worker_done"),
            "{resume}"
        );
    }

    /// The program and every feature pass their tests with `sh`, with all features merged.
    #[test]
    fn textkit_passes_its_tests_with_every_feature() {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in program_files() {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        for a in assignments(MAX_BUILDERS) {
            let file = dir.path().join(&a.file);
            let mut text = std::fs::read_to_string(&file).unwrap_or_default();
            text.push_str(a.feature.function);
            text.push('\n');
            std::fs::write(&file, text).unwrap();
            let test_file = dir.path().join(format!("tests/{}.sh", a.feature.name));
            std::fs::write(test_file, format!("{}\n", a.feature.test)).unwrap();
        }
        let out = std::process::Command::new("sh")
            .arg("test.sh")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("9 passed, 0 failed"), "{text}");
        // A wrong expectation fails the run.
        std::fs::write(
            dir.path().join("tests/upper.sh"),
            "check upper \"NO\" upper \"hello\"\n",
        )
        .unwrap();
        let out = std::process::Command::new("sh")
            .arg("test.sh")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success());
    }
}
