//! `legio spec write <task>`: a task's spec file, `.legio/specs/<task>.md` at the project root
//! (where `legio sling --spec` resolves relative paths). The path comes from the validated task
//! id, so it cannot leave `.legio/specs/`.

use std::path::PathBuf;

use crate::layout::Layout;
use crate::names::TaskId;
use crate::ops::checkpoint::write_atomic;

/// Why a spec could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Nothing to write.
    #[error("the spec for {0} is empty; pass --body, --file, or text on stdin")]
    Empty(String),
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The text of a spec file: an optional `<!-- written-by: <author> -->` line, then `body`,
/// ending in exactly one newline.
pub fn spec_text(body: &str, author: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(a) = author {
        text.push_str("<!-- written-by: ");
        text.push_str(&a.replace("--", "- -"));
        text.push_str(" -->\n");
    }
    text.push_str(body.trim_end_matches('\n'));
    text.push('\n');
    text
}

/// Writes (or replaces) the spec of `task` and returns its path.
pub fn write(
    layout: &Layout,
    task: &TaskId,
    body: &str,
    author: Option<&str>,
) -> Result<PathBuf, SpecError> {
    if body.trim().is_empty() {
        return Err(SpecError::Empty(task.to_string()));
    }
    let path = layout.spec(task);
    write_atomic(&path, &spec_text(body, author)).map_err(|source| SpecError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_under_specs_with_an_author_line_and_one_final_newline() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::new(tmp.path());
        let task = TaskId::new("t-1").unwrap();
        let path = write(&layout, &task, "# Goal\n\nDo it.\n\n", Some("scout-1")).unwrap();
        assert_eq!(path, tmp.path().join(".legio/specs/t-1.md"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "<!-- written-by: scout-1 -->\n# Goal\n\nDo it.\n"
        );
        write(&layout, &task, "v2", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "v2\n");
        assert!(matches!(
            write(&layout, &task, " \n ", None),
            Err(SpecError::Empty(_))
        ));
    }
}
