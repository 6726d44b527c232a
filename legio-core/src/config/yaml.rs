//! A YAML document as a tree of positioned nodes, built from `granit-parser`'s event stream.
//!
//! Scalars keep their source text and whether they were quoted; their type (number, boolean,
//! null, text) is decided by the decoder, which knows what each key expects. That keeps YAML's
//! implicit typing from surprising anyone (`yes` is never a boolean, a quoted `"5"` is never a
//! number) and lets every message say where a value came from.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, Span};

/// Deeper nesting than this is refused (a config file has three levels).
const MAX_DEPTH: usize = 64;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    fn of(span: &Span) -> Self {
        Self {
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }
}

/// One value of the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: Pos,
    /// Which source file it came from (an index into the loader's file list).
    pub source: usize,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A scalar: its text after escape processing, and whether it was quoted (or a block scalar,
    /// or tagged `!!str`): quoted text is always text.
    Scalar { text: String, quoted: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order, keys unique (the last of duplicate keys wins).
    Map(Vec<Entry>),
}

/// One key of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Node {
    /// A plain scalar meaning "no value": empty, `~` or `null`.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, quoted: false } if is_null_text(text))
    }

    /// The entries of a mapping.
    #[cfg(test)]
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }
}

/// YAML's spellings of null in the core schema.
pub(crate) fn is_null_text(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A key given twice in one mapping (the later one is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The dotted path of the key.
    pub path: String,
    /// Where the later (kept) occurrence is.
    pub pos: Pos,
    /// The line of the earlier (ignored) occurrence.
    pub first_line: usize,
}

/// A document that is not YAML (or not the kind of YAML a config can be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// A parsed document: its root (`None` for an empty document) and the duplicate keys found.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub root: Option<Node>,
    pub duplicates: Vec<Duplicate>,
}

/// Parses one YAML document.
pub(crate) fn parse(text: &str, source: usize) -> Result<Document, SyntaxError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        source,
        anchors: HashMap::new(),
        path: Vec::new(),
        duplicates: Vec::new(),
        last: Pos::default(),
    };
    let root = builder.document()?;
    Ok(Document {
        root,
        duplicates: builder.duplicates,
    })
}

struct Builder<'a> {
    parser: Parser<'a, granit_parser::StrInput<'a>>,
    source: usize,
    anchors: HashMap<usize, Node>,
    path: Vec<String>,
    duplicates: Vec<Duplicate>,
    last: Pos,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                self.last = Pos::of(&span);
                Ok((event, span))
            }
            Some(Err(e)) => Err(SyntaxError {
                pos: Pos {
                    line: e.marker().line(),
                    col: e.marker().col() + 1,
                },
                message: e.info(),
            }),
            None => Err(syntax(self.last, "unexpected end of the document")),
        }
    }

    fn document(&mut self) -> Result<Option<Node>, SyntaxError> {
        let mut root = None;
        let mut documents = 0;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd => {}
                Event::StreamEnd => return Ok(root),
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        return Err(syntax(
                            Pos::of(&span),
                            "a second YAML document (`---`) starts here; a config file holds one",
                        ));
                    }
                }
                event => root = Some(self.node(event, &span, 0)?),
            }
        }
    }

    fn node(&mut self, event: Event<'a>, span: &Span, depth: usize) -> Result<Node, SyntaxError> {
        let pos = Pos::of(span);
        if depth > MAX_DEPTH {
            return Err(syntax(pos, "values are nested too deeply"));
        }
        let (kind, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag.as_deref().and_then(|t| t.core_suffix()) == Some("str");
                let quoted = tagged_str || !matches!(style, ScalarStyle::Plain);
                (
                    Kind::Scalar {
                        text: text.into_owned(),
                        quoted,
                    },
                    anchor,
                )
            }
            Event::SequenceStart(_, anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    match event {
                        Event::SequenceEnd => break,
                        event => {
                            self.path.push(format!("[{}]", items.len()));
                            let item = self.node(event, &span, depth + 1);
                            self.path.pop();
                            items.push(item?);
                        }
                    }
                }
                (Kind::Seq(items), anchor)
            }
            Event::MappingStart(_, anchor, _) => (Kind::Map(self.mapping(depth)?), anchor),
            Event::Alias(id) => {
                return match self.anchors.get(&id) {
                    Some(node) => Ok(Node {
                        pos,
                        ..node.clone()
                    }),
                    None => Err(syntax(pos, "this alias names no anchor defined before it")),
                };
            }
            other => return Err(syntax(pos, format!("unexpected YAML event {other:?}"))),
        };
        let node = Node {
            kind,
            pos,
            source: self.source,
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn mapping(&mut self, depth: usize) -> Result<Vec<Entry>, SyntaxError> {
        let mut entries: Vec<Entry> = Vec::new();
        loop {
            let (event, span) = self.next()?;
            let key_pos = Pos::of(&span);
            let key = match event {
                Event::MappingEnd => return Ok(entries),
                Event::Scalar(text, ..) => text.into_owned(),
                Event::Alias(id) => match self.anchors.get(&id).map(|n| &n.kind) {
                    Some(Kind::Scalar { text, .. }) => text.clone(),
                    _ => return Err(syntax(key_pos, "a mapping key must be plain text")),
                },
                _ => return Err(syntax(key_pos, "a mapping key must be plain text")),
            };
            let (event, span) = self.next()?;
            self.path.push(key.clone());
            let value = self.node(event, &span, depth + 1);
            self.path.pop();
            let value = value?;
            let entry = Entry {
                key,
                key_pos,
                value,
            };
            if let Some(earlier) = entries.iter_mut().find(|e| e.key == entry.key) {
                let mut path = self.path.clone();
                path.push(entry.key.clone());
                self.duplicates.push(Duplicate {
                    path: join_path(&path),
                    pos: entry.key_pos,
                    first_line: earlier.key_pos.line,
                });
                *earlier = entry;
            } else {
                entries.push(entry);
            }
        }
    }
}

fn syntax(pos: Pos, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        pos,
        message: message.into(),
    }
}

/// Joins path segments with dots; sequence indexes (`[0]`) attach without one.
pub(crate) fn join_path(segments: &[String]) -> String {
    let mut out = String::new();
    for s in segments {
        if !out.is_empty() && !s.starts_with('[') {
            out.push('.');
        }
        out.push_str(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> (&str, bool) {
        match &node.kind {
            Kind::Scalar { text, quoted } => (text, *quoted),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn keeps_text_style_and_position() {
        let doc = parse("a:\n  b: 5\n  c: \"x\\\"y\"\n  d:\n", 1).unwrap();
        let root = doc.root.unwrap();
        let a = root.get("a").unwrap();
        assert_eq!(scalar(a.get("b").unwrap()), ("5", false));
        assert_eq!(scalar(a.get("c").unwrap()), ("x\"y", true));
        assert!(a.get("d").unwrap().is_null());
        assert_eq!(a.get("b").unwrap().pos, Pos { line: 2, col: 6 });
        assert_eq!(a.get("b").unwrap().source, 1);
    }

    #[test]
    fn empty_and_comment_only_documents_have_no_root() {
        assert!(parse("", 0).unwrap().root.is_none());
        assert!(parse("# just a comment\n\n", 0).unwrap().root.is_none());
    }

    #[test]
    fn reports_syntax_errors_with_line_and_column() {
        let err = parse("a:\n  b: 1\n c: [\n", 0).unwrap_err();
        assert!(err.pos.line >= 2, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn refuses_a_second_document() {
        let err = parse("a: 1\n---\nb: 2\n", 0).unwrap_err();
        assert_eq!(err.pos.line, 2);
        assert!(err.message.contains("second YAML document"));
    }

    #[test]
    fn duplicate_keys_keep_the_last_and_are_reported() {
        let doc = parse("a:\n  b: 1\n  b: 2\n", 0).unwrap();
        let root = doc.root.unwrap();
        assert_eq!(scalar(root.get("a").unwrap().get("b").unwrap()).0, "2");
        assert_eq!(
            doc.duplicates,
            vec![Duplicate {
                path: "a.b".into(),
                pos: Pos { line: 3, col: 3 },
                first_line: 2
            }]
        );
    }

    #[test]
    fn aliases_copy_their_anchor_and_tags_force_text() {
        let doc = parse("x: &v 3\ny: *v\nz: !!str 7\n", 0).unwrap();
        let root = doc.root.unwrap();
        assert_eq!(scalar(root.get("y").unwrap()), ("3", false));
        assert_eq!(scalar(root.get("z").unwrap()), ("7", true));
        assert!(parse("y: *nope\n", 0).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let err = parse(&text, 0).unwrap_err();
        assert!(err.message.contains("nested too deeply"), "{err:?}");
    }

    #[test]
    fn joins_paths() {
        assert_eq!(join_path(&["a".into(), "b".into(), "[2]".into()]), "a.b[2]");
    }
}
