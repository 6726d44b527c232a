//! What legio writes for agents, as files on disk after `legio sling` and the root agents'
//! `start`: the overlay and settings of every worktree role, the shared root settings of every
//! root role, and the user's own root settings surviving root agents.

use legio_core::Capability;

use crate::harness::{Backend, Fleet};
use crate::support::project::legio_bin;

/// Snapshots `text` with the project root and the legio binary replaced by placeholders.
fn snapshot(f: &Fleet, name: &str, text: &str) {
    let redacted =
        f.p.redact_paths(text)
            .replace(&legio_bin().display().to_string(), "[LEGIO]");
    insta::assert_snapshot!(name, redacted);
}

#[test]
fn overlay_and_settings_of_every_worktree_role() {
    let f = Fleet::new(Backend::Headless);
    f.ok(&["task", "create", "Build the parser", "--id", "t-1"]);
    f.ok(&["spec", "write", "t-1", "--body", "# Parser\n\nParse it."]);
    for role in Capability::ALL.iter().filter(|r| !r.works_at_root()) {
        let name = format!("{role}-1");
        let mut args = vec![
            "sling",
            "t-1",
            "--name",
            &name,
            "--capability",
            role.as_str(),
        ];
        if *role == Capability::Builder {
            args.extend([
                "--files",
                "src/parser.rs,tests/parser.rs",
                "--spec",
                ".legio/specs/t-1.md",
            ]);
        }
        f.ok(&args);
        let wt = f.p.root.join(".legio/worktrees").join(&name);
        let overlay = std::fs::read_to_string(wt.join(".claude/CLAUDE.md")).unwrap();
        snapshot(&f, &format!("overlay_{role}"), &overlay);
        let settings = std::fs::read_to_string(wt.join(".claude/settings.local.json")).unwrap();
        snapshot(&f, &format!("settings_{role}"), &settings);
    }
}

#[test]
fn every_root_role_shares_one_set_of_root_hooks() {
    let f = Fleet::new(Backend::Headless);
    f.ok(&["task", "create", "Batch", "--id", "t-1"]);
    let path = f.p.root.join(".claude/settings.local.json");
    let mut first = None;
    for (role, args) in [
        ("coordinator", vec!["coordinator", "start"]),
        (
            "supervisor",
            vec!["supervisor", "start", "--name", "sup-1", "--task", "t-1"],
        ),
        ("monitor", vec!["monitor", "start"]),
        ("gateway", vec!["gateway", "start"]),
    ] {
        f.ok(&args);
        let text = std::fs::read_to_string(&path).unwrap();
        match &first {
            None => {
                snapshot(&f, "settings_root", &text);
                first = Some(text);
            }
            Some(t) => assert_eq!(&text, t, "{role} changed the shared settings"),
        }
    }
    let status = f.json(&["hooks", "status"]);
    assert_eq!(
        status["claimants"],
        serde_json::json!(["coordinator", "sup-1", "monitor", "gateway"])
    );
    f.ok(&["down"]);
    assert!(
        !path.exists(),
        "legio created the file, so it goes with the last root agent"
    );
}

#[test]
fn the_users_own_settings_survive_root_agents() {
    let f = Fleet::new(Backend::Headless);
    let path = f.p.root.join(".claude/settings.local.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // The user's own file: their key order, indentation, permissions, env and a hook of theirs.
    let user = "{\n  \"permissions\": { \"allow\": [\"Bash(cargo test)\"] },\n  \"env\": { \"RUST_LOG\": \"debug\" },\n  \"hooks\": {\n    \"PostToolUse\": [\n      { \"matcher\": \"Write\", \"hooks\": [{ \"type\": \"command\", \"command\": \"cargo fmt\" }] }\n    ]\n  }\n}\n";
    std::fs::write(&path, user).unwrap();

    f.ok(&["coordinator", "start"]);
    let merged = std::fs::read_to_string(&path).unwrap();
    snapshot(&f, "settings_root_merged_with_the_users", &merged);
    f.ok(&["gateway", "start"]);
    f.ok(&["coordinator", "stop"]);
    let still = std::fs::read_to_string(&path).unwrap();
    assert!(
        still.contains("hook PreToolUse"),
        "the gateway still needs the hooks"
    );
    f.ok(&["gateway", "stop"]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        user,
        "restored byte for byte"
    );

    // `legio hooks install` keeps them past a root agent's stop.
    f.ok(&["hooks", "install"]);
    f.ok(&["monitor", "start"]);
    f.ok(&["monitor", "stop"]);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("hook PreToolUse")
    );
    f.ok(&["hooks", "uninstall"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), user);
}
