//! Reading a Bash command the way bash will run it.
//!
//! [`read`] parses the command with `brush-parser` and flattens it into the list of
//! [`Invocation`]s that may run: every simple command of every list, pipeline, `&&`/`||`
//! chain, subshell, brace group, loop, `if`/`case` branch and function body, plus every command
//! hidden in `$(...)`, backticks, `<(...)`, here-documents and `${x:-...}`-free words, with the
//! wrappers that only launch another program peeled off (`env`, `command`, `exec`, `nice`,
//! `timeout`, `xargs`, `sudo`, `find -exec`, `npx`, ...) and the strings that are really code
//! read again (`sh -c`, `bash -c`, `eval`, `trap`, a shell fed a here-document).
//!
//! Words are expanded only as far as the text decides them: quotes and escapes are removed,
//! `~` and a few variables legio knows (`$HOME`, `$PWD`, `$LEGIO_WORKTREE_PATH`,
//! `$LEGIO_AGENT_NAME`) are filled in; anything else makes the word [`Arg::Dyn`], and the rules
//! decide what an unknown value means for them (usually: deny). The directory each command runs
//! in is tracked through `cd` (`cd x && ...` is trusted, `cd x; ...` is not, since the `cd` may
//! have failed).
//!
//! What cannot be read at all (a syntax error, a shell reading code from a pipe, a command
//! inside `${...}` or `$((...))`, nesting deeper than [`MAX_DEPTH`]) is an [`Unreadable`]: the
//! guard denies it.

mod wrappers;

use wrappers::CdTo;

use std::path::{Path, PathBuf};

use brush_parser::ast;
use brush_parser::word::{Parameter, ParameterExpr, TildeExpr, WordPiece, WordPieceWithSource};

/// How deep `sh -c`, `eval` and substitutions may nest before the guard gives up.
pub const MAX_DEPTH: usize = 12;

/// One word of a command line after reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Fixed by the text.
    Lit(String),
    /// Fixed by the text, but an unquoted glob (`*`, `?`, `[`) that the shell expands.
    Glob(String),
    /// Known only when it runs (variables, substitutions, brace expansion, input). Holds the
    /// source text, for messages.
    Dyn(String),
}

impl Arg {
    /// The value when the text decides it (literal or glob pattern).
    pub fn literal(&self) -> Option<&str> {
        match self {
            Self::Lit(s) | Self::Glob(s) => Some(s),
            Self::Dyn(_) => None,
        }
    }

    /// The text as written or decided, for messages.
    pub fn text(&self) -> &str {
        match self {
            Self::Lit(s) | Self::Glob(s) | Self::Dyn(s) => s,
        }
    }

    /// Whether this word is exactly `s`.
    pub fn is(&self, s: &str) -> bool {
        matches!(self, Self::Lit(v) if v == s)
    }
}

/// What a command reads on standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    /// Whatever the Bash tool gives (nothing useful).
    Inherited,
    /// Text fixed by the command: a here-document or here-string.
    Text(String),
    /// A pipe, a file or a here-document with substitutions: not known in advance.
    Unknown,
}

/// One program run, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The program (`args[0]`, as written: may be a path) and its arguments. Empty for a
    /// command that only assigns or redirects.
    pub args: Vec<Arg>,
    /// Variables assigned for this command (`GIT_DIR=x git ...`, `env A=b ...`).
    pub env: Vec<(String, Arg)>,
    /// Files opened for writing by redirections (`>`, `>>`, `&>`, `<>`, `>|`).
    pub writes: Vec<Arg>,
    /// The directory it runs in; `None` when the reading cannot tell.
    pub cwd: Option<PathBuf>,
    /// Its standard input.
    pub stdin: Stdin,
    /// Whether it runs inside a loop (`while`, `until`, `for`, a function body).
    pub in_loop: bool,
}

impl Invocation {
    /// The program's name: the last path component of `args[0]` (`/usr/bin/git` -> `git`).
    pub fn program(&self) -> Option<&str> {
        self.args.first()?.literal().map(program_name)
    }

    /// The arguments after the program.
    pub fn rest(&self) -> &[Arg] {
        self.args.get(1..).unwrap_or_default()
    }
}

/// The last path component of a program as written (`/usr/bin/git` -> `git`, `\git` is
/// already `git` after reading).
pub fn program_name(arg0: &str) -> &str {
    arg0.rsplit('/').next().unwrap_or(arg0)
}

/// Programs that read shell code (`-c STRING`, a script file, or standard input).
pub(crate) const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "yash", "rbash", "fish",
];

/// The directory `dir` names, from `cwd` (`None`: unknown). Kept as written (`a/..` stays):
/// `..` and symlinks are resolved later, the way the kernel does.
pub(crate) fn chdir(cwd: Option<&Path>, dir: Option<&Arg>) -> Option<PathBuf> {
    let dir = Path::new(dir?.literal()?);
    if dir.is_absolute() {
        Some(dir.to_path_buf())
    } else {
        cwd.map(|c| c.join(dir))
    }
}

/// Why a command could not be read; the guard denies it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

/// What the reader may fill in for the command.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShellEnv<'a> {
    /// `~` and `$HOME`.
    pub home: Option<&'a Path>,
    /// `$LEGIO_WORKTREE_PATH`.
    pub worktree: Option<&'a Path>,
    /// `$LEGIO_AGENT_NAME`.
    pub agent: Option<&'a str>,
}

/// Reads `script` run in `cwd` into the invocations it may perform, in order.
pub fn read(
    script: &str,
    cwd: Option<PathBuf>,
    env: ShellEnv<'_>,
) -> Result<Vec<Invocation>, Unreadable> {
    precheck(script)?;
    let mut reader = Reader {
        env,
        options: brush_parser::ParserOptions::default(),
        out: Vec::new(),
        depth: 0,
    };
    reader.program(script, &Scope::new(cwd))?;
    Ok(reader.out)
}

/// The longest command legio reads.
pub const MAX_LEN: usize = 64 * 1024;
/// The deepest nesting of parentheses and braces legio reads (the parser recurses on them).
const MAX_NESTING: usize = 64;

/// Refuses input the parser should not see: very long or deeply nested text (a parser that
/// overflowed its stack would crash the hook, and a crashed hook lets the call through), and
/// `CDPATH`, which makes `cd` go somewhere the text does not say.
fn precheck(script: &str) -> Result<(), Unreadable> {
    if script.len() > MAX_LEN {
        return Err(Unreadable(format!(
            "a command of {} bytes (legio reads up to {MAX_LEN}); put long scripts in a file",
            script.len()
        )));
    }
    let mut depth = 0usize;
    for b in script.bytes() {
        match b {
            b'(' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Unreadable(format!(
                        "parentheses or braces nested more than {MAX_NESTING} deep"
                    )));
                }
            }
            b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if script.contains("CDPATH") {
        return Err(Unreadable(
            "CDPATH, which makes `cd` go where the command does not say".into(),
        ));
    }
    Ok(())
}

/// Refuses compound commands (`if`, `while`, `for`, `case`, `{`, `(`) nested deeper than
/// [`MAX_NESTING`]: the parser recurses on them. Only words in command position count, so an
/// `if` in an argument or a here-document is text.
fn keyword_nesting(tokens: &[brush_parser::Token]) -> Result<(), Unreadable> {
    use brush_parser::Token;
    /// Words in one `[[ ... ]]` (its `!`, `&&` and `(` nest in the parser too).
    const MAX_TEST_WORDS: usize = 256;
    /// `!`, `time`, `coproc` in a row.
    const MAX_PREFIXES: usize = 8;
    let mut depth = 0usize;
    let mut command_start = true;
    let mut test_words: Option<usize> = None;
    let mut prefixes = 0usize;
    for token in tokens {
        if let Some(count) = test_words.as_mut() {
            *count += 1;
            if *count > MAX_TEST_WORDS {
                return Err(Unreadable(format!(
                    "a `[[ ... ]]` test of more than {MAX_TEST_WORDS} words"
                )));
            }
            if token.to_str() == "]]" {
                test_words = None;
            }
            continue;
        }
        if command_start && token.to_str() == "[[" {
            test_words = Some(0);
            continue;
        }
        match token {
            Token::Operator(op, _) => {
                match op.as_str() {
                    "(" => depth += 1,
                    ")" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                command_start = matches!(
                    op.as_str(),
                    ";" | ";;" | ";&" | ";;&" | "&" | "&&" | "||" | "|" | "|&" | "(" | ")" | "\n"
                );
            }
            Token::Word(word, _) if command_start => {
                // `! ! !`, `time time`, `coproc coproc` also nest in the parser
                prefixes = if matches!(word.as_str(), "!" | "time" | "coproc") {
                    prefixes + 1
                } else {
                    0
                };
                if prefixes > MAX_PREFIXES {
                    return Err(Unreadable(format!(
                        "more than {MAX_PREFIXES} `!`, `time` or `coproc` in a row"
                    )));
                }
                match word.as_str() {
                    "if" | "while" | "until" | "for" | "case" | "select" | "{" => depth += 1,
                    "fi" | "done" | "esac" | "}" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                command_start = matches!(
                    word.as_str(),
                    "if" | "then"
                        | "else"
                        | "elif"
                        | "do"
                        | "while"
                        | "until"
                        | "!"
                        | "{"
                        | "}"
                        | "fi"
                        | "done"
                        | "esac"
                        | "time"
                        | "coproc"
                );
            }
            Token::Word(..) => {}
        }
        if depth > MAX_NESTING {
            return Err(Unreadable(format!(
                "compound commands nested more than {MAX_NESTING} deep"
            )));
        }
    }
    Ok(())
}

/// Builtins whose meaning the reader relies on; a function with one of these names would
/// make the reading wrong.
const RESERVED_FUNCTIONS: &[&str] = &[
    "cd", "pushd", "popd", "builtin", "command", "eval", "exec", "source", ".", "trap", "env",
    "sudo", "xargs", "find", "sh", "bash", "git", "legio",
];

/// Where a piece of the script runs.
#[derive(Debug, Clone)]
struct Scope {
    cwd: Option<PathBuf>,
    in_loop: bool,
    /// Standard input comes from a pipe (so a bare `bash` would run what it reads).
    piped: bool,
}

impl Scope {
    fn new(cwd: Option<PathBuf>) -> Self {
        Self {
            cwd,
            in_loop: false,
            piped: false,
        }
    }

    fn at(&self, cwd: Option<PathBuf>) -> Self {
        Self {
            cwd,
            ..self.clone()
        }
    }

    fn looping(&self) -> Self {
        Self {
            in_loop: true,
            ..self.clone()
        }
    }
}

/// The directory after something that may or may not have happened: known only if both agree.
fn either(a: Option<PathBuf>, b: Option<PathBuf>) -> Option<PathBuf> {
    match (a, b) {
        (a, b) if a == b => a,
        _ => None,
    }
}

struct Reader<'a> {
    env: ShellEnv<'a>,
    options: brush_parser::ParserOptions,
    out: Vec<Invocation>,
    depth: usize,
}

impl Reader<'_> {
    /// Parses and walks a whole script; returns the directory it leaves the shell in.
    fn program(&mut self, text: &str, scope: &Scope) -> Result<Option<PathBuf>, Unreadable> {
        if self.depth >= MAX_DEPTH {
            return Err(Unreadable(format!(
                "commands nested more than {MAX_DEPTH} levels deep (sh -c, eval, $(...))"
            )));
        }
        self.depth += 1;
        let tokens = brush_parser::uncached_tokenize_str(text, &self.options.tokenizer_options())
            .map_err(|e| Unreadable(format!("bash syntax error ({e})")))?;
        keyword_nesting(&tokens)?;
        let program = brush_parser::parse_tokens(&tokens, &self.options)
            .map_err(|e| Unreadable(format!("bash syntax error ({e})")))?;
        let mut cwd = scope.cwd.clone();
        for list in &program.complete_commands {
            cwd = self.list(list, &scope.at(cwd))?;
        }
        self.depth -= 1;
        Ok(cwd)
    }

    fn list(
        &mut self,
        list: &ast::CompoundList,
        scope: &Scope,
    ) -> Result<Option<PathBuf>, Unreadable> {
        let mut cwd = scope.cwd.clone();
        for ast::CompoundListItem(and_or, separator) in &list.0 {
            let after = self.and_or(and_or, &scope.at(cwd.clone()))?;
            if !matches!(separator, ast::SeparatorOperator::Async) {
                cwd = after;
            }
        }
        Ok(cwd)
    }

    /// `a && b || c`: each part runs in the directory left by the outcome it depends on.
    fn and_or(
        &mut self,
        list: &ast::AndOrList,
        scope: &Scope,
    ) -> Result<Option<PathBuf>, Unreadable> {
        let (mut ok, mut failed) = self.pipeline(&list.first, scope)?;
        for next in &list.additional {
            match next {
                ast::AndOr::And(p) => {
                    let (s, f) = self.pipeline(p, &scope.at(ok.clone()))?;
                    failed = either(failed, f);
                    ok = s;
                }
                ast::AndOr::Or(p) => {
                    let (s, f) = self.pipeline(p, &scope.at(failed.clone()))?;
                    ok = either(ok, s);
                    failed = f;
                }
            }
        }
        Ok(either(ok, failed))
    }

    /// Returns the directory after the pipeline succeeded and after it failed.
    fn pipeline(
        &mut self,
        pipeline: &ast::Pipeline,
        scope: &Scope,
    ) -> Result<(Option<PathBuf>, Option<PathBuf>), Unreadable> {
        let (ok, failed) = if let [only] = pipeline.seq.as_slice() {
            self.command(only, scope)?
        } else {
            // every part of a pipeline runs in its own subshell
            for (i, command) in pipeline.seq.iter().enumerate() {
                let part = Scope {
                    piped: scope.piped || i > 0,
                    ..scope.clone()
                };
                self.command(command, &part)?;
            }
            (scope.cwd.clone(), scope.cwd.clone())
        };
        Ok(if pipeline.bang {
            (failed, ok)
        } else {
            (ok, failed)
        })
    }

    fn command(
        &mut self,
        command: &ast::Command,
        scope: &Scope,
    ) -> Result<(Option<PathBuf>, Option<PathBuf>), Unreadable> {
        let after = match command {
            ast::Command::Simple(simple) => return self.simple(simple, scope),
            ast::Command::Compound(compound, redirects) => {
                let mut shell = Invocation::empty(scope);
                for redirect in redirects.iter().flat_map(|r| &r.0) {
                    self.redirect(redirect, &mut shell, scope)?;
                }
                let after = self.compound(compound, scope)?;
                if !shell.writes.is_empty() {
                    self.out.push(shell);
                }
                after
            }
            ast::Command::Function(function) => {
                let name = function.fname.value.as_str();
                if RESERVED_FUNCTIONS.contains(&name) {
                    return Err(Unreadable(format!(
                        "a function named `{name}`, which changes what `{name}` means"
                    )));
                }
                // the body runs wherever the function is called, maybe many times
                self.compound(&function.body.0, &scope.looping())?;
                let mut shell = Invocation::empty(scope);
                for redirect in function.body.1.iter().flat_map(|r| &r.0) {
                    self.redirect(redirect, &mut shell, scope)?;
                }
                if !shell.writes.is_empty() {
                    self.out.push(shell);
                }
                scope.cwd.clone()
            }
            ast::Command::ExtendedTest(test, redirects) => {
                self.test_expr(&test.expr, scope)?;
                let mut shell = Invocation::empty(scope);
                for redirect in redirects.iter().flat_map(|r| &r.0) {
                    self.redirect(redirect, &mut shell, scope)?;
                }
                if !shell.writes.is_empty() {
                    self.out.push(shell);
                }
                scope.cwd.clone()
            }
        };
        Ok((after.clone(), after))
    }

    fn compound(
        &mut self,
        compound: &ast::CompoundCommand,
        scope: &Scope,
    ) -> Result<Option<PathBuf>, Unreadable> {
        use ast::CompoundCommand as C;
        let unchanged = |this: Option<PathBuf>| either(this, scope.cwd.clone());
        match compound {
            C::BraceGroup(group) => self.list(&group.list, scope),
            C::Subshell(sub) => {
                self.list(&sub.list, scope)?;
                Ok(scope.cwd.clone())
            }
            C::Arithmetic(arith) => {
                arithmetic(&arith.expr.value)?;
                Ok(scope.cwd.clone())
            }
            C::ArithmeticForClause(for_) => {
                for expr in [&for_.initializer, &for_.condition, &for_.updater]
                    .into_iter()
                    .flatten()
                {
                    arithmetic(&expr.value)?;
                }
                let body = self.list(&for_.body.list, &scope.looping())?;
                Ok(unchanged(body))
            }
            C::ForClause(for_) => {
                for word in for_.values.iter().flatten() {
                    self.expand(&word.value, scope)?;
                }
                let body = self.list(&for_.body.list, &scope.looping())?;
                Ok(unchanged(body))
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                let inner = scope.looping();
                let cond = self.list(&w.0, &inner)?;
                let body = self.list(&w.1.list, &inner)?;
                Ok(unchanged(either(cond, body)))
            }
            C::IfClause(if_) => {
                let mut after = self.list(&if_.condition, scope)?;
                after = either(after, self.list(&if_.then, scope)?);
                for branch in if_.elses.iter().flatten() {
                    if let Some(condition) = &branch.condition {
                        after = either(after, self.list(condition, scope)?);
                    }
                    after = either(after, self.list(&branch.body, scope)?);
                }
                Ok(unchanged(after))
            }
            C::CaseClause(case) => {
                self.expand(&case.value.value, scope)?;
                let mut after = scope.cwd.clone();
                for item in &case.cases {
                    for pattern in &item.patterns {
                        self.expand(&pattern.value, scope)?;
                    }
                    if let Some(cmd) = &item.cmd {
                        after = either(after, self.list(cmd, scope)?);
                    }
                }
                Ok(after)
            }
            C::Coprocess(co) => {
                self.command(&co.body, scope)?;
                Ok(scope.cwd.clone())
            }
        }
    }

    fn test_expr(&mut self, expr: &ast::ExtendedTestExpr, scope: &Scope) -> Result<(), Unreadable> {
        use ast::ExtendedTestExpr as T;
        match expr {
            T::And(a, b) | T::Or(a, b) => {
                self.test_expr(a, scope)?;
                self.test_expr(b, scope)
            }
            T::Not(a) | T::Parenthesized(a) => self.test_expr(a, scope),
            T::UnaryTest(_, w) => self.expand(&w.value, scope).map(drop),
            T::BinaryTest(_, a, b) => {
                self.expand(&a.value, scope)?;
                self.expand(&b.value, scope).map(drop)
            }
        }
    }

    fn simple(
        &mut self,
        simple: &ast::SimpleCommand,
        scope: &Scope,
    ) -> Result<(Option<PathBuf>, Option<PathBuf>), Unreadable> {
        let mut inv = Invocation::empty(scope);
        for item in simple.prefix.iter().flat_map(|p| &p.0) {
            self.item(item, true, &mut inv, scope)?;
        }
        if let Some(word) = &simple.word_or_name {
            inv.args.push(self.expand(&word.value, scope)?);
        }
        for item in simple.suffix.iter().flat_map(|s| &s.0) {
            self.item(item, false, &mut inv, scope)?;
        }
        let before = scope.cwd.clone();
        match self.run(inv, scope)? {
            Some(CdTo(cd)) => Ok((cd, before)),
            None => Ok((before.clone(), before)),
        }
    }

    fn item(
        &mut self,
        item: &ast::CommandPrefixOrSuffixItem,
        in_prefix: bool,
        inv: &mut Invocation,
        scope: &Scope,
    ) -> Result<(), Unreadable> {
        use ast::CommandPrefixOrSuffixItem as I;
        match item {
            I::IoRedirect(redirect) => self.redirect(redirect, inv, scope)?,
            I::ProcessSubstitution(_, sub) => {
                self.list(&sub.list, scope)?;
                inv.args.push(Arg::Dyn("<(...)".into()));
            }
            I::AssignmentWord(assignment, word) => {
                let value = self.assignment(assignment, scope)?;
                if in_prefix {
                    let (ast::AssignmentName::VariableName(name)
                    | ast::AssignmentName::ArrayElementName(name, _)) = &assignment.name;
                    inv.env.push((name.clone(), value));
                } else {
                    // `export X=...`, `declare X=...`: an argument of that builtin
                    inv.args.push(self.expand(&word.value, scope)?);
                }
            }
            I::Word(word) => inv.args.push(self.expand(&word.value, scope)?),
        }
        Ok(())
    }

    fn assignment(
        &mut self,
        assignment: &ast::Assignment,
        scope: &Scope,
    ) -> Result<Arg, Unreadable> {
        match &assignment.value {
            ast::AssignmentValue::Scalar(word) => self.expand(&word.value, scope),
            ast::AssignmentValue::Array(items) => {
                for (key, value) in items {
                    if let Some(key) = key {
                        self.expand(&key.value, scope)?;
                    }
                    self.expand(&value.value, scope)?;
                }
                Ok(Arg::Dyn("(...)".into()))
            }
        }
    }

    fn redirect(
        &mut self,
        redirect: &ast::IoRedirect,
        inv: &mut Invocation,
        scope: &Scope,
    ) -> Result<(), Unreadable> {
        use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T, IoRedirect as R};
        match redirect {
            R::File(_, kind, target) => match target {
                T::ProcessSubstitution(_, sub) => {
                    self.list(&sub.list, scope)?;
                }
                T::Fd(_) => {}
                T::Filename(word) | T::Duplicate(word) => {
                    let arg = self.expand(&word.value, scope)?;
                    match kind {
                        K::Read => inv.stdin = Stdin::Unknown,
                        K::DuplicateInput => {}
                        K::DuplicateOutput => {
                            // `2>&1`, `>&-`: descriptors; `>&file`: a file
                            let fd = arg.literal().is_some_and(|s| {
                                s == "-" || s.trim_end_matches('-').parse::<u32>().is_ok()
                            });
                            if !fd {
                                inv.writes.push(arg);
                            }
                        }
                        K::Write | K::Append | K::Clobber | K::ReadAndWrite => inv.writes.push(arg),
                    }
                }
            },
            R::OutputAndError(word, _) => {
                let arg = self.expand(&word.value, scope)?;
                inv.writes.push(arg);
            }
            R::HereString(_, word) => {
                inv.stdin = match self.expand(&word.value, scope)? {
                    Arg::Lit(text) | Arg::Glob(text) => Stdin::Text(text),
                    Arg::Dyn(_) => Stdin::Unknown,
                };
            }
            R::HereDocument(_, doc) => {
                inv.stdin = if doc.requires_expansion {
                    let pieces = brush_parser::word::parse_heredoc(&doc.doc.value, &self.options)
                        .map_err(|e| {
                        Unreadable(format!("a here-document legio cannot read ({e})"))
                    })?;
                    match self.pieces(&doc.doc.value, &pieces, true, scope)? {
                        Arg::Lit(text) | Arg::Glob(text) => Stdin::Text(text),
                        Arg::Dyn(_) => Stdin::Unknown,
                    }
                } else {
                    Stdin::Text(doc.doc.value.clone())
                };
            }
        }
        Ok(())
    }

    /// Expands one word as far as its text decides it; reads every command hidden in it.
    fn expand(&mut self, word: &str, scope: &Scope) -> Result<Arg, Unreadable> {
        let pieces = brush_parser::word::parse(word, &self.options)
            .map_err(|e| Unreadable(format!("a word legio cannot read: {word:?} ({e})")))?;
        self.pieces(word, &pieces, false, scope)
    }

    fn pieces(
        &mut self,
        source: &str,
        pieces: &[WordPieceWithSource],
        quoted: bool,
        scope: &Scope,
    ) -> Result<Arg, Unreadable> {
        let mut text = String::new();
        let mut dynamic = false;
        let mut glob = false;
        for piece in pieces {
            let raw = source
                .get(piece.start_index..piece.end_index)
                .unwrap_or(source);
            match &piece.piece {
                WordPiece::Text(t) => {
                    if !quoted {
                        if brace_expands(t) {
                            dynamic = true;
                        }
                        glob |= t.contains(['*', '?', '[']) || is_extglob(t);
                    }
                    text.push_str(t);
                }
                WordPiece::SingleQuotedText(t) => text.push_str(t),
                WordPiece::AnsiCQuotedText(t) => {
                    // `$'..'` escapes are not decoded here: a backslash makes the value unknown
                    dynamic |= t.contains('\\');
                    text.push_str(t);
                }
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    match self.pieces(source, inner, true, scope)? {
                        Arg::Dyn(t) => {
                            dynamic = true;
                            text.push_str(&t);
                        }
                        Arg::Lit(t) | Arg::Glob(t) => text.push_str(&t),
                    }
                }
                WordPiece::EscapeSequence(e) => text.push_str(&unescape(e, quoted)),
                WordPiece::TildeExpansion(TildeExpr::Home) => {
                    if let Some(home) = self.env.home {
                        text.push_str(&home.to_string_lossy());
                    } else {
                        dynamic = true;
                        text.push('~');
                    }
                }
                WordPiece::TildeExpansion(_) => {
                    dynamic = true;
                    text.push_str(raw);
                }
                WordPiece::ParameterExpansion(expr) => {
                    if raw.contains("$(")
                        || raw.contains('`')
                        || raw.contains("<(")
                        || raw.contains(">(")
                    {
                        return Err(Unreadable(format!(
                            "a command inside a parameter expansion ({raw})"
                        )));
                    }
                    if let Some(value) = self.known_variable(expr, scope) {
                        text.push_str(&value);
                    } else {
                        dynamic = true;
                        text.push_str(raw);
                    }
                }
                WordPiece::CommandSubstitution(inner) => {
                    self.program(
                        inner,
                        &Scope {
                            piped: false,
                            ..scope.clone()
                        },
                    )?;
                    if let Some(dir) = self.known_output(inner, scope) {
                        text.push_str(&dir.to_string_lossy());
                    } else {
                        dynamic = true;
                        text.push_str(raw);
                    }
                }
                WordPiece::BackquotedCommandSubstitution(inner) => {
                    self.program(
                        &unescape_backquoted(inner),
                        &Scope {
                            piped: false,
                            ..scope.clone()
                        },
                    )?;
                    dynamic = true;
                    text.push_str(raw);
                }
                WordPiece::ArithmeticExpression(expr) => {
                    arithmetic(&expr.value)?;
                    dynamic = true;
                    text.push_str(raw);
                }
            }
        }
        Ok(if dynamic {
            Arg::Dyn(text)
        } else if glob {
            Arg::Glob(text)
        } else {
            Arg::Lit(text)
        })
    }

    /// The output of `$(pwd)` and `$(git rev-parse --show-toplevel)` when legio knows it: the
    /// directory, and the worktree when the directory is inside it.
    fn known_output(&self, inner: &str, scope: &Scope) -> Option<PathBuf> {
        let cwd = scope.cwd.as_ref()?;
        let plain = |p: &Path| {
            p.components().all(|c| {
                matches!(
                    c,
                    std::path::Component::RootDir | std::path::Component::Normal(_)
                )
            })
        };
        match inner.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["pwd"] if plain(cwd) => Some(cwd.clone()),
            ["git", "rev-parse", "--show-toplevel"] => {
                let worktree = self.env.worktree?;
                (plain(cwd) && cwd.starts_with(worktree)).then(|| worktree.to_path_buf())
            }
            _ => None,
        }
    }

    fn known_variable(&self, expr: &ParameterExpr, scope: &Scope) -> Option<String> {
        let ParameterExpr::Parameter {
            parameter: Parameter::Named(name),
            indirect: false,
        } = expr
        else {
            return None;
        };
        let path = match name.as_str() {
            "HOME" => self.env.home?,
            "LEGIO_WORKTREE_PATH" => self.env.worktree?,
            "LEGIO_AGENT_NAME" => return self.env.agent.map(str::to_owned),
            "PWD" => scope.cwd.as_deref()?,
            _ => return None,
        };
        Some(path.to_string_lossy().into_owned())
    }
}

impl Invocation {
    fn empty(scope: &Scope) -> Self {
        Self {
            args: Vec::new(),
            env: Vec::new(),
            writes: Vec::new(),
            cwd: scope.cwd.clone(),
            stdin: if scope.piped {
                Stdin::Unknown
            } else {
                Stdin::Inherited
            },
            in_loop: scope.in_loop,
        }
    }
}

/// `$((...))` and `((...))` evaluate `$(...)` inside them; legio does not read those.
fn arithmetic(expr: &str) -> Result<(), Unreadable> {
    if expr.contains("$(") || expr.contains('`') {
        Err(Unreadable(format!(
            "a command inside an arithmetic expression ({expr})"
        )))
    } else {
        Ok(())
    }
}

/// `@(a|b)`, `!(x)`, `+(x)` and friends (extended globs).
fn is_extglob(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|w| matches!(w[0], b'@' | b'!' | b'+' | b'*' | b'?') && w[1] == b'(')
}

/// Unquoted `{a,b}` and `{1..3}` expand to several words: treat the word as unknown.
fn brace_expands(text: &str) -> bool {
    text.find('{').is_some_and(|open| {
        text[open..].find('}').is_some_and(|close| {
            let inner = &text[open..open + close];
            inner.contains(',') || inner.contains("..")
        })
    })
}

/// An escape sequence (`\x`) as bash reads it, outside or inside double quotes.
fn unescape(escape: &str, quoted: bool) -> String {
    let Some(rest) = escape.strip_prefix('\\') else {
        return escape.to_owned();
    };
    if rest == "\n" {
        return String::new();
    }
    if quoted && !matches!(rest, "$" | "`" | "\"" | "\\") {
        escape.to_owned()
    } else {
        rest.to_owned()
    }
}

/// Inside backticks, `\$`, `` \` `` and `\\` stand for the character itself.
fn unescape_backquoted(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(next, '$' | '`' | '\\')
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
