//! Where a write lands: joining against the command's directory, resolving `.`, `..` and
//! symlinks the way the kernel does, and matching the result against the worktree, the
//! `--files` scope and the scratch directories.
//!
//! The only I/O is reading symlinks, behind [`Links`], so tests can describe a filesystem
//! with a map and the hook can ask the real one.

use std::path::{Component, Path, PathBuf};

/// How the guard learns where symlinks point.
pub trait Links {
    /// The target of `path` if `path` is a symlink (its own target, not followed further);
    /// `None` when it is not a symlink or does not exist.
    fn read_link(&self, path: &Path) -> Option<PathBuf>;
}

/// No symlinks anywhere: purely lexical resolution. For tests and dry checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLinks;

impl Links for NoLinks {
    fn read_link(&self, _path: &Path) -> Option<PathBuf> {
        None
    }
}

/// The real filesystem (`lstat` + `readlink` per path component).
#[derive(Debug, Clone, Copy, Default)]
pub struct FsLinks;

impl Links for FsLinks {
    fn read_link(&self, path: &Path) -> Option<PathBuf> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if meta.file_type().is_symlink() {
            std::fs::read_link(path).ok()
        } else {
            None
        }
    }
}

/// Linux gives up after 40 symlinks in one resolution; so do we (and call the path unknown).
const MAX_LINKS: usize = 40;

/// Resolves `path` (absolute, or relative to `cwd`) to the absolute path the kernel would
/// open: `.` dropped, symlinks replaced by their targets as they are met, `..` applied to the
/// resolved parent. Components that do not exist are kept as written.
///
/// `None` when the path is relative and `cwd` is unknown, or when symlinks loop.
pub fn resolve(links: &dyn Links, cwd: Option<&Path>, path: &Path) -> Option<PathBuf> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        // the directory itself may hold `..` and symlinks (`cd ..`, `cd link`): walk it too
        cwd.filter(|c| c.is_absolute())?.join(path)
    };
    let mut budget = MAX_LINKS;
    walk(links, PathBuf::from("/"), &full, &mut budget)
}

fn walk(links: &dyn Links, mut at: PathBuf, path: &Path, budget: &mut usize) -> Option<PathBuf> {
    for component in path.components() {
        match component {
            Component::RootDir => at = PathBuf::from("/"),
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                at.pop();
            }
            Component::Normal(name) => {
                let next = at.join(name);
                match links.read_link(&next) {
                    Some(target) => {
                        *budget = budget.checked_sub(1)?;
                        at = walk(links, at, &target, budget)?;
                    }
                    None => at = next,
                }
            }
        }
    }
    Some(at)
}

/// Whether `pattern` (a `--files` entry) covers `relative` (a path relative to the worktree).
///
/// An entry names a file, or a directory that covers everything below it (`src/` or `src`),
/// or a glob where `*` matches within one component and `**` any number of components.
pub fn scope_covers(pattern: &str, relative: &Path) -> bool {
    let pattern = pattern.trim().trim_start_matches("./");
    let pattern = pattern.trim_end_matches('/');
    if pattern.is_empty() {
        return false;
    }
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    if path.len() != relative.components().count() {
        // a component that is not valid UTF-8, or a leftover `..`: never in scope
        return false;
    }
    // a plain entry also covers everything below it (a directory)
    if !pattern.contains('*') {
        return path.len() >= pat.len() && pat.iter().zip(&path).all(|(p, s)| p == s);
    }
    glob_components(&pat, &path)
}

fn glob_components(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| glob_components(rest, &path[skip..])),
        Some((first, rest)) => path
            .split_first()
            .is_some_and(|(name, tail)| glob_one(first, name) && glob_components(rest, tail)),
    }
}

/// `*` within one path component (no other metacharacters).
fn glob_one(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The device files every role may write to: they hold no data.
pub fn is_harmless_device(path: &Path) -> bool {
    matches!(
        path.to_str(),
        Some("/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty" | "/dev/zero")
    ) || path
        .strip_prefix("/dev/fd")
        .is_ok_and(|rest| rest.to_str().is_some_and(|n| n.parse::<u32>().is_ok()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct MapLinks(HashMap<PathBuf, PathBuf>);

    impl Links for MapLinks {
        fn read_link(&self, path: &Path) -> Option<PathBuf> {
            self.0.get(path).cloned()
        }
    }

    fn links(pairs: &[(&str, &str)]) -> MapLinks {
        MapLinks(
            pairs
                .iter()
                .map(|(a, b)| (PathBuf::from(a), PathBuf::from(b)))
                .collect(),
        )
    }

    #[test]
    fn resolves_dots_against_the_cwd() {
        let wt = Path::new("/repo/wt");
        let r = |p: &str| resolve(&NoLinks, Some(wt), Path::new(p)).unwrap();
        assert_eq!(r("src/./a.rs"), PathBuf::from("/repo/wt/src/a.rs"));
        assert_eq!(r("../../etc/passwd"), PathBuf::from("/etc/passwd"));
        assert_eq!(r("/repo/wt/../x"), PathBuf::from("/repo/x"));
        assert_eq!(r("/../../.."), PathBuf::from("/"));
        assert_eq!(resolve(&NoLinks, None, Path::new("a")), None);
        assert_eq!(
            resolve(&NoLinks, Some(Path::new("rel")), Path::new("a")),
            None
        );
        let up = Path::new("/repo/wt/..");
        assert_eq!(
            resolve(&NoLinks, Some(up), Path::new("b")),
            Some(PathBuf::from("/repo/b"))
        );
        assert_eq!(
            resolve(&NoLinks, None, Path::new("/a")),
            Some(PathBuf::from("/a"))
        );
    }

    #[test]
    fn follows_symlinks_before_applying_dotdot() {
        let fs = links(&[("/wt/out", "/etc/app"), ("/wt/rel", "../elsewhere")]);
        let r = |p: &str| resolve(&fs, Some(Path::new("/wt")), Path::new(p)).unwrap();
        assert_eq!(r("out/conf"), PathBuf::from("/etc/app/conf"));
        // the kernel goes up from the link's target, not from the link's directory
        assert_eq!(r("out/../x"), PathBuf::from("/etc/x"));
        assert_eq!(r("rel/y"), PathBuf::from("/elsewhere/y"));
    }

    #[test]
    fn symlink_loops_are_unknown() {
        let fs = links(&[("/wt/a", "/wt/b"), ("/wt/b", "/wt/a")]);
        assert_eq!(resolve(&fs, None, Path::new("/wt/a/x")), None);
    }

    #[test]
    fn scope_entries_cover_files_directories_and_globs() {
        let p = Path::new;
        assert!(scope_covers("src/lib.rs", p("src/lib.rs")));
        assert!(!scope_covers("src/lib.rs", p("src/lib.rs.bak")));
        assert!(scope_covers("src/", p("src/a/b.rs")));
        assert!(scope_covers("./src", p("src/a.rs")));
        assert!(!scope_covers("src", p("srcx/a.rs")));
        assert!(scope_covers("src/*.rs", p("src/a.rs")));
        assert!(!scope_covers("src/*.rs", p("src/a/b.rs")));
        assert!(scope_covers("src/**/*.rs", p("src/a/b/c.rs")));
        assert!(scope_covers("src/**/*.rs", p("src/c.rs")));
        assert!(scope_covers("tests/*_test.*", p("tests/x_test.py")));
        assert!(!scope_covers("", p("a")));
        assert!(!scope_covers("a", p("../a")));
    }

    #[test]
    fn only_data_free_devices_are_harmless() {
        assert!(is_harmless_device(Path::new("/dev/null")));
        assert!(is_harmless_device(Path::new("/dev/fd/2")));
        assert!(!is_harmless_device(Path::new("/dev/sda")));
        assert!(!is_harmless_device(Path::new("/dev/fd/x")));
    }
}
