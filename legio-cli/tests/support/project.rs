//! A throwaway git repository for running the real `legio` binary against: its own HOME, no
//! inherited `LEGIO_*` variables, colour off, a fixed git identity.

#![allow(dead_code)] // each test binary uses a different part of the support module

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary repository (`main` branch, one commit).
pub struct Project {
    dir: tempfile::TempDir,
    /// The repository's root (canonical path).
    pub root: PathBuf,
    home: PathBuf,
}

/// The legio binary under test.
pub fn legio_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_legio"))
}

/// Runs git in `dir` with a hermetic configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test process's PATH, handed to legio (git and tmux must be found).
fn path_var() -> std::ffi::OsString {
    #[allow(clippy::disallowed_methods)] // tests pass their own PATH through to the binary
    std::env::var_os("PATH").unwrap_or_default()
}

impl Project {
    /// A fresh repository with one commit on `main`, without `.legio/`.
    pub fn bare() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path())
            .expect("canonical")
            .join("repo");
        let home = root.with_file_name("home");
        std::fs::create_dir_all(&root).expect("repo dir");
        std::fs::create_dir_all(&home).expect("home dir");
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.name", "Test"]);
        git(&root, &["config", "user.email", "test@example.com"]);
        std::fs::write(root.join("README.md"), "# demo\n").expect("readme");
        git(&root, &["add", "."]);
        git(&root, &["commit", "-q", "-m", "initial"]);
        Self { dir, root, home }
    }

    /// A fresh repository after `legio init`.
    pub fn new() -> Self {
        let p = Self::bare();
        p.ok(&["init"]);
        p
    }

    /// A directory outside any repository (still inside the temp dir).
    pub fn outside(&self) -> PathBuf {
        let d = self.dir.path().join("elsewhere");
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    /// The HOME legio runs with.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A `legio` command in the project root with a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(legio_bin());
        cmd.args(args)
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", path_var())
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs legio with `args`, feeding `stdin`, with extra environment.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let Some(input) = stdin else {
            return cmd.output().expect("legio runs");
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("legio starts");
        {
            use std::io::Write as _;
            let mut pipe = child.stdin.take().expect("stdin");
            // legio may exit before reading its input (a usage error): that is not a failure here.
            let _ = pipe.write_all(input.as_bytes());
        }
        child.wait_with_output().expect("legio finishes")
    }

    /// Runs legio and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, &[], None);
        assert!(
            out.status.success(),
            "legio {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs legio, asserts it failed with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args, &[], None);
        assert_eq!(
            out.status.code(),
            Some(code),
            "legio {args:?}: expected exit {code}; stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs `legio hook <event>` as agent `agent` with `payload` on stdin; returns stdout.
    pub fn hook(
        &self,
        event: &str,
        agent: &str,
        extra_env: &[(&str, &str)],
        payload: &str,
    ) -> String {
        let mut env = vec![("LEGIO_AGENT_NAME", agent)];
        env.extend_from_slice(extra_env);
        let out = self.run(&["hook", event], &env, Some(payload));
        assert!(
            out.status.success(),
            "hook {event} exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Replaces the project's root path in `text` with `[ROOT]` (for snapshots).
    pub fn redact_paths(&self, text: &str) -> String {
        text.replace(&self.root.display().to_string(), "[ROOT]")
            .replace(&self.home.display().to_string(), "[HOME]")
    }
}

/// Replaces generated message ids (`msg-` + 12 characters) with `[MSG]`.
pub fn redact_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("msg-") {
        let tail = &rest[i + 4..];
        let id_len = tail.bytes().take_while(u8::is_ascii_alphanumeric).count();
        out.push_str(&rest[..i]);
        if id_len == 12 {
            out.push_str("[MSG]");
        } else {
            out.push_str(&rest[i..i + 4 + id_len]);
        }
        rest = &tail[id_len..];
    }
    out.push_str(rest);
    out
}
