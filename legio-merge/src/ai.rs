//! Tier 3: what legio asks the agent runtime, and how it judges the answer.
//!
//! The prompt carries one conflicted file in diff3 form (target, base, branch). The answer is
//! accepted only if it is plausibly that file resolved: no conflict markers, no markdown fence
//! wrapping it, and no conversational text around it. Rather than matching a list of opening
//! phrases (which rejects real files that begin with "The "), the check looks at *foreign*
//! lines, lines found in none of the three versions: a foreign sentence as the first or last
//! line is a preamble or an explanation, and an answer whose lines are mostly foreign is not a
//! resolution of this file. The quality gates are the final judge after that.

use crate::mechanical::Sides;

/// Why an answer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Nothing but whitespace.
    #[error("the answer is empty")]
    Empty,
    /// Conflict markers remain.
    #[error("the answer still contains conflict markers (line {line})")]
    Markers {
        /// 1-based line number.
        line: usize,
    },
    /// The file is wrapped in a markdown fence.
    #[error("the answer is wrapped in a markdown code fence")]
    Fenced,
    /// A sentence of conversation before or after the content.
    #[error("the answer talks instead of giving the file: {line:?}")]
    Prose {
        /// The offending line.
        line: String,
    },
    /// Most lines come from neither side.
    #[error("{foreign} of {total} lines of the answer come from neither side of the conflict")]
    Unrelated {
        /// Lines found in no version.
        foreign: usize,
        /// Non-blank lines in the answer.
        total: usize,
    },
}

/// What the prompt says about the merge.
#[derive(Debug, Clone, Copy)]
pub struct PromptContext<'a> {
    /// The file.
    pub path: &'a str,
    /// The branch being merged.
    pub branch: &'a str,
    /// The target branch.
    pub target: &'a str,
    /// The agent that made the branch.
    pub agent: &'a str,
    /// Its task.
    pub task: &'a str,
}

/// The prompt for one conflicted file, given its diff3 text.
pub fn prompt(ctx: PromptContext<'_>, conflicted: &str) -> String {
    format!(
        "You are resolving a git merge conflict in the file `{path}`.\n\
         The branch `{branch}` (agent {agent}, task {task}) is being merged into `{target}`.\n\
         Below is the file with conflict markers in diff3 form: the `{target}` side, then the \
         common base, then the `{branch}` side.\n\
         Write the file as it should be after the merge, keeping the intent of both sides.\n\
         Reply with the complete file content and nothing else: no explanation, no markdown \
         fences, no conflict markers.\n\n{conflicted}",
        path = ctx.path,
        branch = ctx.branch,
        target = ctx.target,
        agent = ctx.agent,
        task = ctx.task,
    )
}

fn is_marker_line(line: &str) -> bool {
    let t = line.trim_end();
    ["<<<<<<<", ">>>>>>>", "|||||||"]
        .iter()
        .any(|m| t.starts_with(m) && t[m.len()..].chars().next().is_none_or(|c| c == ' '))
        || t == "======="
}

/// Whether a foreign line reads like a sentence of conversation rather than content.
fn reads_as_prose(line: &str) -> bool {
    let t = line.trim();
    let words = t.split_whitespace().count();
    let starts_capital = t.chars().next().is_some_and(char::is_uppercase);
    let ends_like_speech = t.ends_with(':') || t.ends_with('.') || t.ends_with('!');
    starts_capital && words >= 3 && ends_like_speech
}

/// Checks an answer against the three versions of the file; returns the content to write.
pub fn check_answer(answer: &str, sides: Sides<'_>) -> Result<Vec<u8>, Rejection> {
    if answer.trim().is_empty() {
        return Err(Rejection::Empty);
    }
    let known: std::collections::HashSet<&str> = [sides.base, sides.ours, sides.theirs]
        .iter()
        .flat_map(|s| s.split(|&b| b == b'\n'))
        .filter_map(|l| std::str::from_utf8(l).ok())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let lines: Vec<&str> = answer.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if is_marker_line(line) && !known.contains(line.trim()) {
            return Err(Rejection::Markers { line: i + 1 });
        }
        if line.trim_start().starts_with("```") && !known.contains(line.trim()) {
            return Err(Rejection::Fenced);
        }
    }
    let content: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let foreign = |l: &&str| !known.contains(*l);
    for edge in [content.first(), content.last()].into_iter().flatten() {
        if foreign(edge) && reads_as_prose(edge) {
            return Err(Rejection::Prose {
                line: (*edge).to_owned(),
            });
        }
    }
    let foreign_count = content.iter().filter(|l| foreign(l)).count();
    if foreign_count * 2 > content.len() {
        return Err(Rejection::Unrelated {
            foreign: foreign_count,
            total: content.len(),
        });
    }
    let mut out = answer.as_bytes().to_vec();
    // Keep the target's convention for the final newline.
    if sides.ours.ends_with(b"\n") && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "The title\nfn a() {}\n";
    const OURS: &str = "The title\nfn a() {}\nfn ours() {}\n";
    const THEIRS: &str = "The title\nfn a() {}\nfn theirs() {}\n";

    fn sides() -> Sides<'static> {
        Sides {
            base: BASE.as_bytes(),
            ours: OURS.as_bytes(),
            theirs: THEIRS.as_bytes(),
        }
    }

    #[test]
    fn a_real_resolution_is_accepted_even_if_it_starts_with_the() {
        let answer = "The title\nfn a() {}\nfn ours() {}\nfn theirs() {}";
        let got = check_answer(answer, sides()).unwrap();
        assert_eq!(got, format!("{answer}\n").into_bytes());
    }

    #[test]
    fn some_new_lines_are_fine() {
        let answer =
            "The title\nfn a() {}\nfn ours() {}\nfn theirs() {}\nfn both() { ours(); theirs() }\n";
        assert!(check_answer(answer, sides()).is_ok());
    }

    #[test]
    fn conversation_fences_markers_and_strangers_are_rejected() {
        type Check = fn(&Rejection) -> bool;
        let cases: &[(&str, Check)] = &[
            ("   \n", |r| matches!(r, Rejection::Empty)),
            ("Here is the resolved file:\nThe title\nfn a() {}\n", |r| {
                matches!(r, Rejection::Prose { .. })
            }),
            (
                "The title\nfn a() {}\nfn ours() {}\nI kept both functions as requested.\n",
                |r| matches!(r, Rejection::Prose { .. }),
            ),
            ("```rust\nThe title\nfn a() {}\n```\n", |r| {
                matches!(r, Rejection::Fenced)
            }),
            (
                "The title\n<<<<<<< main\nfn ours() {}\n=======\nfn theirs() {}\n>>>>>>> b\n",
                |r| matches!(r, Rejection::Markers { line: 2 }),
            ),
            ("I cannot do that\nsorry\nno access here\n", |r| {
                matches!(r, Rejection::Unrelated { .. })
            }),
        ];
        for (answer, want) in cases {
            let got = check_answer(answer, sides()).unwrap_err();
            assert!(want(&got), "{answer:?} gave {got:?}");
        }
    }

    #[test]
    fn a_marker_like_line_the_file_already_had_is_content() {
        let base = "Title\n=======\ntext\n";
        let s = Sides {
            base: base.as_bytes(),
            ours: b"Title\n=======\ntext\nours\n",
            theirs: b"Title\n=======\ntext\ntheirs\n",
        };
        assert!(check_answer("Title\n=======\ntext\nours\ntheirs\n", s).is_ok());
    }

    #[test]
    fn the_prompt_names_the_file_the_sides_and_the_rules() {
        let p = prompt(
            PromptContext {
                path: "src/a.rs",
                branch: "legio/b1/t-1",
                target: "main",
                agent: "b1",
                task: "t-1",
            },
            "<<<<<<< main\nx\n",
        );
        assert!(p.contains("`src/a.rs`"));
        assert!(p.contains("agent b1, task t-1"));
        assert!(p.contains("no markdown fences"));
        assert!(p.ends_with("<<<<<<< main\nx\n"));
    }
}
