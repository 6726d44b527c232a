//! Tier 2: mechanical resolution that never drops either side.
//!
//! Two resolutions exist, both all-or-nothing per file:
//! - [`keep_both`]: a three-way text merge in which every conflict hunk must be one where both
//!   sides only *added* lines at the same place (an empty base section). Both additions are
//!   kept, the target's first; lines the two additions share at their start or end are kept
//!   once. Any hunk that changes or removes base lines makes the whole file unresolvable here.
//! - [`jsonl_union`]: a JSON Lines file merged as a set: records added on either side are kept
//!   (target's order first, then the branch's new records), records removed on one side and
//!   untouched on the other are removed, and a record both sides added is kept once. Every
//!   non-blank line must be a JSON object, or the file is not treated as JSONL.
//!
//! Files marked `merge=union` in `.gitattributes` are merged by libgit2's union driver during
//! the in-memory merge itself; the engine reports them as mechanically resolved.
//!
//! Conflict hunks are read back from libgit2's diff3 output with markers 32 characters wide,
//! and a file in which any side already has a line starting with such a marker is refused, so
//! content can never be mistaken for a marker. CRLF line endings are kept as they are.

use git2::{MergeFileInput, MergeFileOptions};

/// The width of the conflict markers legio asks libgit2 for when it parses hunks.
const PARSE_MARKER: usize = 32;

/// Why a file cannot be resolved mechanically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolvable(pub String);

/// Three versions of one file's content.
#[derive(Debug, Clone, Copy)]
pub struct Sides<'a> {
    /// The merge base (empty when the file did not exist there).
    pub base: &'a [u8],
    /// The target's version.
    pub ours: &'a [u8],
    /// The branch's version.
    pub theirs: &'a [u8],
}

/// Labels for the conflict markers.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// The base.
    pub base: &'a str,
    /// The target.
    pub ours: &'a str,
    /// The branch.
    pub theirs: &'a str,
}

/// `text` with a final line ending added if it has none (and is not empty).
fn terminated(text: &[u8], eol: &[u8]) -> Vec<u8> {
    let mut t = text.to_vec();
    if !t.is_empty() && !t.ends_with(b"\n") {
        t.extend_from_slice(eol);
    }
    t
}

/// Runs libgit2's three-way file merge in diff3 style; returns the text with markers of
/// `marker` characters and whether it merged without conflicts.
///
/// libgit2 (1.9) fails on some diff3 merges of sides without a final newline, so every side
/// is given one first (see [`unterminated_result`]).
pub fn diff3(
    sides: Sides<'_>,
    labels: Labels<'_>,
    marker: u16,
) -> Result<(Vec<u8>, bool), Unresolvable> {
    // git2 initialises libgit2 lazily, but not in `merge_file`: a merge before any other git2
    // call fails with "no error". Any call that initialises it will do.
    let _ = git2::Oid::from_bytes(&[0; 20]);
    let eol = line_ending(sides.ours);
    let (b, o, t) = (
        terminated(sides.base, eol),
        terminated(sides.ours, eol),
        terminated(sides.theirs, eol),
    );
    let mut base = MergeFileInput::new();
    base.content(&b);
    let mut ours = MergeFileInput::new();
    ours.content(&o);
    let mut theirs = MergeFileInput::new();
    theirs.content(&t);
    let mut opts = MergeFileOptions::new();
    opts.style_diff3(true)
        .marker_size(marker)
        .ancestor_label(labels.base)
        .our_label(labels.ours)
        .their_label(labels.theirs);
    let result = git2::merge_file(&base, &ours, &theirs, Some(&mut opts))
        .map_err(|e| Unresolvable(format!("libgit2 could not merge it: {}", e.message())))?;
    Ok((result.content().to_vec(), result.is_automergeable()))
}

/// Whether a merge result should end without a line ending: when neither the target nor the
/// branch version had one.
fn unterminated_result(sides: Sides<'_>) -> bool {
    let unterminated = |t: &[u8]| !t.is_empty() && !t.ends_with(b"\n");
    unterminated(sides.ours) && unterminated(sides.theirs)
}

/// Splits into lines, each keeping its terminator.
fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|&b| b == b'\n').collect()
}

fn is_marker(line: &[u8], ch: u8, width: usize) -> bool {
    line.len() >= width
        && line[..width].iter().all(|&b| b == ch)
        && line
            .get(width)
            .is_none_or(|&b| b == b' ' || b == b'\n' || b == b'\r')
}

/// Whether any line of `text` starts with `width` copies of a conflict marker character.
pub fn has_marker_lines(text: &[u8], width: usize) -> bool {
    lines(text).iter().any(|l| {
        [b'<', b'|', b'=', b'>']
            .iter()
            .any(|&c| l.len() >= width && l[..width].iter().all(|&b| b == c))
    })
}

/// One conflict hunk of a diff3 merge, or a run of merged lines.
enum Chunk<'a> {
    Merged(Vec<&'a [u8]>),
    Conflict {
        ours: Vec<&'a [u8]>,
        base: Vec<&'a [u8]>,
        theirs: Vec<&'a [u8]>,
    },
}

fn parse_chunks(merged: &[u8], width: usize) -> Result<Vec<Chunk<'_>>, Unresolvable> {
    #[derive(PartialEq)]
    enum State {
        Out,
        Ours,
        Base,
        Theirs,
    }
    let broken = || Unresolvable("libgit2's conflict output could not be read back".into());
    let mut chunks = Vec::new();
    let mut plain = Vec::new();
    let (mut ours, mut base, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    let mut state = State::Out;
    for line in lines(merged) {
        match state {
            State::Out if is_marker(line, b'<', width) => {
                chunks.push(Chunk::Merged(std::mem::take(&mut plain)));
                state = State::Ours;
            }
            State::Out => plain.push(line),
            State::Ours | State::Base if is_marker(line, b'=', width) => state = State::Theirs,
            State::Ours if is_marker(line, b'|', width) => state = State::Base,
            State::Ours => ours.push(line),
            State::Base => base.push(line),
            State::Theirs if is_marker(line, b'>', width) => {
                chunks.push(Chunk::Conflict {
                    ours: std::mem::take(&mut ours),
                    base: std::mem::take(&mut base),
                    theirs: std::mem::take(&mut theirs),
                });
                state = State::Out;
            }
            State::Theirs => theirs.push(line),
        }
    }
    if state != State::Out {
        return Err(broken());
    }
    chunks.push(Chunk::Merged(plain));
    Ok(chunks)
}

/// Appends `line` to `out`, first ending the previous line if it had no terminator (it was the
/// last line of one side and something now follows it).
fn push_line(out: &mut Vec<u8>, line: &[u8], eol: &[u8]) {
    if out.last().is_some_and(|&b| b != b'\n') {
        out.extend_from_slice(eol);
    }
    out.extend_from_slice(line);
}

/// The line ending a file mostly uses.
fn line_ending(text: &[u8]) -> &'static [u8] {
    let crlf = text.windows(2).filter(|w| w == b"\r\n").count();
    let lf = text.split(|&b| b == b'\n').count() - 1;
    if crlf * 2 > lf { b"\r\n" } else { b"\n" }
}

/// Resolves a text file whose conflict hunks are all "both sides added lines here": both
/// additions are kept, the target's first.
pub fn keep_both(sides: Sides<'_>) -> Result<Vec<u8>, Unresolvable> {
    for (text, name) in [
        (sides.base, "the base"),
        (sides.ours, "the target"),
        (sides.theirs, "the branch"),
    ] {
        if has_marker_lines(text, PARSE_MARKER) {
            return Err(Unresolvable(format!(
                "{name} has lines that look like conflict markers"
            )));
        }
    }
    let labels = Labels {
        base: "base",
        ours: "ours",
        theirs: "theirs",
    };
    let (merged, clean) = diff3(sides, labels, PARSE_MARKER as u16)?;
    let eol = line_ending(sides.ours);
    let mut out = if clean {
        merged
    } else {
        resolve_additions(&merged, eol)?
    };
    if unterminated_result(sides) && out.ends_with(eol) {
        out.truncate(out.len() - eol.len());
    }
    Ok(out)
}

/// Rebuilds a diff3 merge, keeping both sides of every hunk that only adds lines.
fn resolve_additions(merged: &[u8], eol: &[u8]) -> Result<Vec<u8>, Unresolvable> {
    let mut out = Vec::with_capacity(merged.len());
    for chunk in parse_chunks(merged, PARSE_MARKER)? {
        match chunk {
            Chunk::Merged(ls) => ls.iter().for_each(|l| push_line(&mut out, l, eol)),
            Chunk::Conflict { ours, base, theirs } => {
                if !base.is_empty() {
                    return Err(Unresolvable(format!(
                        "a hunk changes {} line(s) of the base on both sides",
                        base.len()
                    )));
                }
                // Every line of both additions, the target's first: lines the two share at
                // their edges (a closing `}`, a blank line) are kept twice, since each side's
                // block needs its own.
                let kept = ours.iter().chain(&theirs);
                kept.for_each(|l| push_line(&mut out, l, eol));
            }
        }
    }
    Ok(out)
}

/// A parsed JSONL line: its text and a canonical form for comparisons.
struct Record<'a> {
    line: &'a [u8],
    key: Option<String>,
}

fn records(text: &[u8]) -> Result<Vec<Record<'_>>, Unresolvable> {
    lines(text)
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                return Ok(Record { line, key: None });
            }
            match serde_json::from_slice::<serde_json::Value>(trimmed) {
                // serde_json's default map is ordered, so equal objects print equally.
                Ok(v @ serde_json::Value::Object(_)) => Ok(Record {
                    line,
                    key: Some(v.to_string()),
                }),
                Ok(_) => Err(Unresolvable(format!(
                    "line {} is JSON but not an object",
                    i + 1
                ))),
                Err(e) => Err(Unresolvable(format!("line {} is not JSON: {e}", i + 1))),
            }
        })
        .collect()
}

/// Merges a JSON Lines file as a set of records (see the module docs).
pub fn jsonl_union(sides: Sides<'_>) -> Result<Vec<u8>, Unresolvable> {
    use std::collections::HashSet;
    let base = records(sides.base)?;
    let ours = records(sides.ours)?;
    let theirs = records(sides.theirs)?;
    let keys = |rs: &[Record<'_>]| -> HashSet<String> {
        rs.iter().filter_map(|r| r.key.clone()).collect()
    };
    let (base_keys, our_keys, their_keys) = (keys(&base), keys(&ours), keys(&theirs));
    // A record of the base that one side removed stays removed.
    let removed =
        |k: &String| base_keys.contains(k) && (!our_keys.contains(k) || !their_keys.contains(k));
    let eol = line_ending(sides.ours);
    let mut out = Vec::new();
    for r in &ours {
        match &r.key {
            Some(k) if removed(k) => {}
            _ => push_line(&mut out, r.line, eol),
        }
    }
    let mut emitted = our_keys.clone();
    for r in &theirs {
        if let Some(k) = &r.key
            && !removed(k)
            && emitted.insert(k.clone())
        {
            push_line(&mut out, r.line, eol);
        }
    }
    if out.last().is_some_and(|&b| b != b'\n') {
        out.extend_from_slice(eol);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sides<'a>(base: &'a str, ours: &'a str, theirs: &'a str) -> Sides<'a> {
        Sides {
            base: base.as_bytes(),
            ours: ours.as_bytes(),
            theirs: theirs.as_bytes(),
        }
    }

    fn text(v: Result<Vec<u8>, Unresolvable>) -> String {
        String::from_utf8(v.expect("resolvable")).unwrap()
    }

    #[test]
    fn both_additions_at_one_place_are_kept_target_first() {
        let got = keep_both(sides("a\nz\n", "a\nours 1\nours 2\nz\n", "a\ntheirs\nz\n"));
        assert_eq!(text(got), "a\nours 1\nours 2\ntheirs\nz\n");
    }

    #[test]
    fn lines_both_sides_added_keep_their_own_edges() {
        // Each side's block keeps its own opening and closing lines: sharing them would drop
        // a line of one side (a `}`), and the result would no longer parse.
        let got = keep_both(sides(
            "a\nz\n",
            "a\nfn x() {\nours\n}\nz\n",
            "a\nfn x() {\ntheirs\n}\nz\n",
        ));
        assert_eq!(text(got), "a\nfn x() {\nours\n}\nfn x() {\ntheirs\n}\nz\n");
        let got = keep_both(sides(
            "a() {\n  echo a\n}\n",
            "a() {\n  echo a\n}\n\nb() {\n  echo b\n}\n",
            "a() {\n  echo a\n}\n\nc() {\n  echo c\n}\n",
        ));
        assert_eq!(
            text(got),
            "a() {\n  echo a\n}\n\nb() {\n  echo b\n}\n\nc() {\n  echo c\n}\n"
        );
    }

    #[test]
    fn add_add_of_a_new_file_keeps_both_versions() {
        let got = keep_both(sides("", "one\n", "two\n"));
        assert_eq!(text(got), "one\ntwo\n");
    }

    #[test]
    fn a_missing_final_newline_does_not_glue_lines() {
        let got = keep_both(sides("a\n", "a\nours", "a\ntheirs"));
        assert_eq!(text(got), "a\nours\ntheirs");
    }

    #[test]
    fn crlf_files_resolve_and_keep_their_endings() {
        let got = keep_both(sides(
            "a\r\nz\r\n",
            "a\r\nours\r\nz\r\n",
            "a\r\ntheirs\r\nz\r\n",
        ));
        assert_eq!(text(got), "a\r\nours\r\ntheirs\r\nz\r\n");
    }

    #[test]
    fn changing_a_base_line_on_both_sides_is_not_mechanical() {
        let err = keep_both(sides("a\nb\nc\n", "a\nB1\nc\n", "a\nB2\nc\n")).unwrap_err();
        assert!(err.0.contains("changes 1 line"), "{err:?}");
    }

    #[test]
    fn marker_lookalikes_in_content_are_refused() {
        let fake = format!("{}\n", "<".repeat(40));
        let ours = format!("a\n{fake}");
        let err = keep_both(sides("a\n", &ours, "a\nx\n")).unwrap_err();
        assert!(err.0.contains("look like conflict markers"), "{err:?}");
    }

    #[test]
    fn standard_markers_inside_content_are_kept_verbatim() {
        // 7-character markers are ordinary content for a 32-wide parse.
        let got = keep_both(sides("a\n", "a\n<<<<<<< old\n", "a\nx\n"));
        assert_eq!(text(got), "a\n<<<<<<< old\nx\n");
    }

    #[test]
    fn jsonl_union_keeps_every_new_record_once() {
        let base = "{\"id\":1}\n{\"id\":2}\n";
        let ours = "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":5}\n";
        let theirs = "{\"id\":1}\n{\"id\":2}\n{\"id\":4}\n{ \"id\": 5 }\n";
        let got = text(jsonl_union(sides(base, ours, theirs)));
        assert_eq!(
            got,
            "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":5}\n{\"id\":4}\n"
        );
    }

    #[test]
    fn jsonl_union_honours_a_one_sided_removal() {
        let base = "{\"id\":1}\n{\"id\":2}\n";
        let ours = "{\"id\":2}\n{\"id\":3}\n";
        let theirs = "{\"id\":1}\n{\"id\":2}\n{\"id\":4}\n";
        let got = text(jsonl_union(sides(base, ours, theirs)));
        assert_eq!(got, "{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n");
    }

    #[test]
    fn jsonl_union_refuses_non_objects() {
        let err = jsonl_union(sides("", "{\"a\":1}\n", "[1]\n")).unwrap_err();
        assert!(err.0.contains("not an object"), "{err:?}");
        let err = jsonl_union(sides("", "{\"a\":1}\n", "nope\n")).unwrap_err();
        assert!(err.0.contains("not JSON"), "{err:?}");
    }
}
