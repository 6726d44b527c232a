//! Secret redaction for everything legio stores from hook payloads.
//!
//! legio 0.1.0 stored every Bash command verbatim in `events.db` and knew five patterns in its
//! logger. This redactor runs on every tool call, so it is a single hand-written pass over the
//! bytes (no regex engine) that returns the input untouched, without allocating, when there is
//! nothing to hide. It replaces with [`REDACTED`]:
//!
//! - tokens recognised by their prefix: Anthropic `sk-ant-...`, OpenAI `sk-...`/`sk-proj-...`,
//!   GitHub `ghp_ gho_ ghs_ ghu_ ghr_ github_pat_`, GitLab `glpat-`, Slack `xox?-`/`xapp-`, AWS
//!   access key ids `AKIA...`/`ASIA...`, Google `AIza...`, Stripe `sk_live_`/`rk_live_`, npm
//!   `npm_`, Hugging Face `hf_`, JSON Web Tokens `eyJ...`, Slack webhook paths;
//! - the value of an assignment or flag whose name says it is a secret: `GITHUB_TOKEN=...`,
//!   `OPENAI_API_KEY="..."`, `DB_PASSWORD=...`, `client_secret=...` in a query string,
//!   `--password=...`, `--token ...`, `"password": "..."` in JSON text (names ending in TOKEN,
//!   SECRET, PASSWORD, PASSWD, PASSPHRASE, `_PASS`, `_PWD`, API_KEY, APIKEY, ACCESS_KEY,
//!   PRIVATE_KEY, any case, `-` and `.` read as `_`; `PWD` alone is the working directory); a
//!   value that is a `$VARIABLE` reference is left alone;
//! - the credential after `Bearer` / `Basic` (when it looks like one, not like a word);
//! - the password in a URL (`https://user:[REDACTED]@host`);
//! - the body of a PEM private key block.
//!
//! Words stay words: `task-list`, `MAX_TOKENS=100`, `Bearer tokens are...` are not touched.

use std::borrow::Cow;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Returns `text` with every secret it recognises replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut scan = Scan {
        text,
        bytes: text.as_bytes(),
        out: None,
        copied: 0,
    };
    scan.run();
    match scan.out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[scan.copied..]);
            Cow::Owned(out)
        }
    }
}

/// Redacts a JSON value in place: every string, and the whole value of any object key whose
/// name says it is a secret (`"api_key": "..."`).
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(redacted) = redact(s) {
                *s = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    Value::String(s) if is_secret_name(key) && !s.is_empty() => {
                        REDACTED.clone_into(s);
                    }
                    _ => redact_json(item),
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether an assignment, flag or key name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "PRIVATE_KEY",
    ];
    let name = name.trim_start_matches('-').as_bytes();
    let normalized = |b: u8| match b {
        b'-' | b'.' => b'_',
        b => b.to_ascii_uppercase(),
    };
    let ends_with = |suffix: &str| {
        name.len() >= suffix.len()
            && name[name.len() - suffix.len()..]
                .iter()
                .zip(suffix.bytes())
                .all(|(&a, b)| normalized(a) == b)
    };
    let is = |word: &str| name.len() == word.len() && ends_with(word);
    SUFFIXES.iter().any(|s| ends_with(s)) || ends_with("_PASS") || ends_with("_PWD") || is("PASS")
}

/// Bytes that may be part of a name (`GITHUB_TOKEN`, `api-key`, `db.password`).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Bytes of a token in the `[A-Za-z0-9_-]` alphabet.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
}

/// Whether a byte is part of a word for the purpose of "a token starts here".
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[derive(Clone, Copy)]
enum Charset {
    /// `[A-Za-z0-9]`.
    Alnum,
    /// `[A-Za-z0-9_]`.
    Word,
    /// `[A-Za-z0-9_-]`.
    Token,
    /// `[A-Za-z0-9-]`.
    AlnumDash,
    /// `[A-Z0-9]`.
    UpperDigit,
    /// `[A-Za-z0-9_/-]`, a URL path.
    Path,
}

impl Charset {
    fn has(self, b: u8) -> bool {
        match self {
            Charset::Alnum => b.is_ascii_alphanumeric(),
            Charset::Word => is_word_byte(b),
            Charset::Token => is_token_byte(b),
            Charset::AlnumDash => b.is_ascii_alphanumeric() || b == b'-',
            Charset::UpperDigit => b.is_ascii_uppercase() || b.is_ascii_digit(),
            Charset::Path => is_token_byte(b) || b == b'/',
        }
    }
}

/// A token recognised by its prefix.
struct PrefixRule {
    prefix: &'static [u8],
    charset: Charset,
    /// Fewest bytes after the prefix.
    min: usize,
    /// Most bytes after the prefix (the token must end there).
    max: usize,
    /// Keep the prefix and redact only what follows (webhook URLs).
    keep_prefix: bool,
}

const fn rule(prefix: &'static [u8], charset: Charset, min: usize) -> PrefixRule {
    PrefixRule {
        prefix,
        charset,
        min,
        max: usize::MAX,
        keep_prefix: false,
    }
}

const PREFIX_RULES: &[PrefixRule] = &[
    rule(b"sk-ant-", Charset::Token, 8),
    rule(b"sk-", Charset::Token, 20),
    rule(b"sk_live_", Charset::Alnum, 16),
    rule(b"sk_test_", Charset::Alnum, 16),
    rule(b"rk_live_", Charset::Alnum, 16),
    rule(b"rk_test_", Charset::Alnum, 16),
    rule(b"ghp_", Charset::Alnum, 20),
    rule(b"gho_", Charset::Alnum, 20),
    rule(b"ghs_", Charset::Alnum, 20),
    rule(b"ghu_", Charset::Alnum, 20),
    rule(b"ghr_", Charset::Alnum, 20),
    rule(b"github_pat_", Charset::Word, 20),
    rule(b"glpat-", Charset::Token, 20),
    rule(b"xoxb-", Charset::AlnumDash, 10),
    rule(b"xoxp-", Charset::AlnumDash, 10),
    rule(b"xoxa-", Charset::AlnumDash, 10),
    rule(b"xoxr-", Charset::AlnumDash, 10),
    rule(b"xoxs-", Charset::AlnumDash, 10),
    rule(b"xoxe-", Charset::AlnumDash, 10),
    rule(b"xapp-", Charset::AlnumDash, 10),
    PrefixRule {
        max: 16,
        ..rule(b"AKIA", Charset::UpperDigit, 16)
    },
    PrefixRule {
        max: 16,
        ..rule(b"ASIA", Charset::UpperDigit, 16)
    },
    rule(b"AIza", Charset::Token, 30),
    rule(b"npm_", Charset::Alnum, 30),
    rule(b"hf_", Charset::Alnum, 30),
    PrefixRule {
        keep_prefix: true,
        ..rule(b"hooks.slack.com/services/", Charset::Path, 20)
    },
];

/// Bytes where a secret may begin: `=`, `:`, `-`, and the first letters of `Bearer`, `Basic`,
/// `eyJ` and the prefixes above. Everything else is skipped at the cost of one table load.
static TRIGGERS: [bool; 256] = {
    let mut table = [false; 256];
    let starts = b"=:-BbesrgxAnh";
    let mut i = 0;
    while i < starts.len() {
        table[starts[i] as usize] = true;
        i += 1;
    }
    table
};

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    out: Option<String>,
    copied: usize,
}

impl Scan<'_> {
    /// Replaces `start..end` (ASCII boundaries) with [`REDACTED`].
    fn redact(&mut self, start: usize, end: usize) {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.text.len()));
        out.push_str(&self.text[self.copied..start]);
        out.push_str(REDACTED);
        self.copied = end;
    }

    fn run(&mut self) {
        let bytes = self.bytes;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if !TRIGGERS[usize::from(b)] {
                i += 1;
                continue;
            }
            let at_word_start = i == 0 || !is_word_byte(bytes[i - 1]);
            let next = match b {
                b'=' => self.assignment(i),
                b':' => self.url_password(i).or_else(|| self.json_member(i)),
                b'-' if bytes[i..].starts_with(b"-----BEGIN ") => self.pem_block(i),
                b'-' if at_word_start && bytes[i..].starts_with(b"--") => self.flag_value(i),
                _ if !at_word_start => None,
                b'B' | b'b' => self.auth_scheme(i),
                b'e' if bytes[i..].starts_with(b"eyJ") => self.jwt(i),
                _ => self.prefixed_token(i),
            };
            i = next.unwrap_or(i + 1);
        }
    }

    /// A token from [`PREFIX_RULES`] starting at `i`; returns where scanning resumes.
    fn prefixed_token(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let second = bytes.get(i + 1).copied();
        for rule in PREFIX_RULES {
            if rule.prefix[0] != bytes[i]
                || Some(rule.prefix[1]) != second
                || !bytes[i..].starts_with(rule.prefix)
            {
                continue;
            }
            let body = i + rule.prefix.len();
            let len = bytes[body..]
                .iter()
                .take_while(|&&b| rule.charset.has(b))
                .count();
            if len < rule.min || len > rule.max {
                continue;
            }
            let end = body + len;
            self.redact(if rule.keep_prefix { body } else { i }, end);
            return Some(end);
        }
        None
    }

    /// A JSON Web Token: three base64url parts, the first two starting `eyJ`.
    fn jwt(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let len = bytes[i..]
            .iter()
            .take_while(|&&b| is_token_byte(b) || b == b'.')
            .count();
        let token = &bytes[i..i + len];
        let parts: Vec<&[u8]> = token.split(|&b| b == b'.').collect();
        let looks_like_jwt = len >= 30
            && parts.len() == 3
            && parts[1].starts_with(b"eyJ")
            && parts.iter().all(|p| !p.is_empty());
        looks_like_jwt.then(|| {
            self.redact(i, i + len);
            i + len
        })
    }

    /// `NAME=value` where NAME is a secret name; `i` is at `=`.
    fn assignment(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let name_start = bytes[..i]
            .iter()
            .rposition(|&b| !is_name_byte(b))
            .map_or(0, |p| p + 1);
        if name_start == i || bytes.get(i + 1) == Some(&b'=') {
            return None;
        }
        if !is_secret_name(&self.text[name_start..i]) {
            return None;
        }
        self.value(i + 1)
    }

    /// `--secret-flag value` or `--secret-flag=value`; `i` is at the first `-`.
    fn flag_value(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let name_len = bytes[i..].iter().take_while(|&&b| is_name_byte(b)).count();
        let end = i + name_len;
        if bytes.get(end) != Some(&b' ') || !is_secret_name(&self.text[i..end]) {
            return None;
        }
        let value = end + bytes[end..].iter().take_while(|&&b| b == b' ').count();
        if bytes.get(value) == Some(&b'-') {
            return None;
        }
        self.value(value)
    }

    /// Redacts the value starting at `start`: quoted, or up to a shell/URL/JSON delimiter.
    /// Leaves empty values, `$VARIABLE` references and values already redacted.
    fn value(&mut self, start: usize) -> Option<usize> {
        let bytes = self.bytes;
        let (from, to, resume) = match bytes.get(start) {
            // A quote never closed (a command cut short) hides everything after it.
            Some(&quote @ (b'"' | b'\'')) => {
                let end = closing_quote(bytes, start + 1, quote).unwrap_or(bytes.len());
                (start + 1, end, (end + 1).min(bytes.len()))
            }
            // JSON inside a double-quoted shell string: `\"value\"`.
            Some(b'\\') if bytes[start..].starts_with(b"\\\"") => {
                let from = start + 2;
                let end =
                    memchr::memmem::find(&bytes[from..], b"\\\"").map_or(bytes.len(), |p| from + p);
                (from, end, (end + 2).min(bytes.len()))
            }
            Some(_) => {
                let len = bytes[start..]
                    .iter()
                    .take_while(|&&b| {
                        !b.is_ascii_whitespace()
                            && !matches!(
                                b,
                                b';' | b'&'
                                    | b'|'
                                    | b')'
                                    | b'<'
                                    | b'>'
                                    | b'`'
                                    | b'"'
                                    | b'\''
                                    | b','
                                    | b'}'
                            )
                    })
                    .count();
                (start, start + len, start + len)
            }
            None => return None,
        };
        let value = &bytes[from..to];
        if value.is_empty() || value.starts_with(b"$") || value == REDACTED.as_bytes() {
            return None;
        }
        self.redact(from, to);
        Some(resume)
    }

    /// `"name": "value"` in JSON text (also with `\"` quotes, as inside a shell string), with a
    /// secret name; `i` is at `:`.
    fn json_member(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let quote = bytes[..i].iter().rposition(|&b| b != b' ')?;
        if bytes[quote] != b'"' {
            return None;
        }
        let name_end = if quote > 0 && bytes[quote - 1] == b'\\' {
            quote - 1
        } else {
            quote
        };
        let name_start = bytes[..name_end].iter().rposition(|&b| !is_name_byte(b))?;
        if bytes[name_start] != b'"' || !is_secret_name(&self.text[name_start + 1..name_end]) {
            return None;
        }
        let value = i + 1 + bytes[i + 1..].iter().take_while(|&&b| b == b' ').count();
        let quoted = bytes.get(value) == Some(&b'"') || bytes[value..].starts_with(b"\\\"");
        if !quoted {
            return None;
        }
        self.value(value)
    }

    /// The password of `scheme://user:password@host`; `i` is at `:`.
    fn url_password(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        if !bytes[i..].starts_with(b"://") {
            return None;
        }
        let start = i + 3;
        let len = bytes[start..]
            .iter()
            .take_while(|&&b| {
                !b.is_ascii_whitespace()
                    && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'"' | b'\'' | b'<' | b'>')
            })
            .count();
        let at = start + len;
        if bytes.get(at) != Some(&b'@') {
            return None;
        }
        let colon = start + bytes[start..at].iter().position(|&b| b == b':')?;
        let password = &bytes[colon + 1..at];
        if password.is_empty() || password == REDACTED.as_bytes() || password.starts_with(b"$") {
            return None;
        }
        self.redact(colon + 1, at);
        Some(at)
    }

    /// The credential after `Bearer` or `Basic`; `i` is at the scheme's first letter.
    fn auth_scheme(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let scheme = [b"bearer".as_slice(), b"basic".as_slice()]
            .into_iter()
            .find(|s| {
                bytes.len() >= i + s.len() && bytes[i..i + s.len()].eq_ignore_ascii_case(s)
            })?;
        let gap = bytes[i + scheme.len()..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if gap == 0 {
            return None;
        }
        let start = i + scheme.len() + gap;
        let len = bytes[start..]
            .iter()
            .take_while(|&&b| is_token_byte(b) || matches!(b, b'.' | b'~' | b'+' | b'/' | b'='))
            .count();
        let token = &bytes[start..start + len];
        if !looks_like_credential(token) {
            return None;
        }
        self.redact(start, start + len);
        Some(start + len)
    }

    /// The body of `-----BEGIN ... PRIVATE KEY-----` up to its END line (or the end of text).
    fn pem_block(&mut self, i: usize) -> Option<usize> {
        let bytes = self.bytes;
        let label_start = i + b"-----BEGIN ".len();
        let label_len = memchr::memmem::find(&bytes[label_start..], b"-----")?;
        let label = &bytes[label_start..label_start + label_len];
        memchr::memmem::find(label, b"PRIVATE KEY")?;
        let body = label_start + label_len + b"-----".len();
        let end =
            memchr::memmem::find(&bytes[body..], b"-----END ").map_or(bytes.len(), |p| body + p);
        if bytes[body..end] == *REDACTED.as_bytes() {
            return None;
        }
        self.redact(body, end);
        Some(end)
    }
}

/// Index of the quote closing a string whose contents start at `from` (`\` escapes the next
/// byte inside double quotes).
fn closing_quote(bytes: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Whether the word after `Bearer`/`Basic` is a credential rather than ordinary prose: at least
/// eight characters with a digit, a symbol, or a capital letter past the first.
fn looks_like_credential(token: &[u8]) -> bool {
    token.len() >= 8
        && token.iter().enumerate().any(|(n, &b)| {
            b.is_ascii_digit() || !b.is_ascii_alphanumeric() || (n > 0 && b.is_ascii_uppercase())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, want: &str) {
        assert_eq!(redact(input), want, "input: {input}");
        // Redacting twice changes nothing more.
        assert_eq!(redact(want), want, "second pass over: {want}");
    }

    #[test]
    fn prefixed_tokens() {
        for (input, want) in [
            ("key sk-ant-api03-AbC_dEf-123456 end", "key [REDACTED] end"),
            ("sk-proj-abcdefghijklmnopqrstuvwxyz0123", "[REDACTED]"),
            ("OPENAI=sk-abcdefghijklmnopqrstuvwxyz", "OPENAI=[REDACTED]"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"),
            ("x gho_ABCDEFGHIJKLMNOPQRSTUVWX y", "x [REDACTED] y"),
            ("ghs_abcdefghijklmnopqrst1234", "[REDACTED]"),
            ("(ghu_abcdefghijklmnopqrst1234)", "([REDACTED])"),
            ("github_pat_11ABCDEFG_abcdefghijklmnopqrstuv", "[REDACTED]"),
            ("glpat-abcdefghij0123456789", "[REDACTED]"),
            ("xoxb-1234567890-abcdefghij", "[REDACTED]"),
            ("id AKIAIOSFODNN7EXAMPLE.", "id [REDACTED]."),
            ("ASIAABCDEFGHIJKLMNOP", "[REDACTED]"),
            ("AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "[REDACTED]"),
            ("sk_live_abcdefghijklmnop1234", "[REDACTED]"),
            ("npm_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"),
            ("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "[REDACTED]"),
            (
                "curl https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
                "curl https://hooks.slack.com/services/[REDACTED]",
            ),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                "jwt [REDACTED]",
            ),
        ] {
            check(input, want);
        }
    }

    #[test]
    fn secret_assignments_and_flags_keep_their_name() {
        for (input, want) in [
            (
                "export GITHUB_TOKEN=abc123 && gh pr list",
                "export GITHUB_TOKEN=[REDACTED] && gh pr list",
            ),
            (
                "ANTHROPIC_AUTH_TOKEN=xyz claude",
                "ANTHROPIC_AUTH_TOKEN=[REDACTED] claude",
            ),
            (
                "ANTHROPIC_API_KEY=sk-ant-api03-abcdefgh",
                "ANTHROPIC_API_KEY=[REDACTED]",
            ),
            (
                r#"OPENAI_API_KEY="two words" run"#,
                r#"OPENAI_API_KEY="[REDACTED]" run"#,
            ),
            (
                "DB_PASSWORD='p@ss;word' psql",
                "DB_PASSWORD='[REDACTED]' psql",
            ),
            (
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG;ls",
                "AWS_SECRET_ACCESS_KEY=[REDACTED];ls",
            ),
            ("password=hunter2", "password=[REDACTED]"),
            (
                "MYSQL_PWD=x SMTP_PASS=y",
                "MYSQL_PWD=[REDACTED] SMTP_PASS=[REDACTED]",
            ),
            (
                "https://api.x.io/v1?client_secret=abc&page=2",
                "https://api.x.io/v1?client_secret=[REDACTED]&page=2",
            ),
            (
                "spring.datasource.password=pw1",
                "spring.datasource.password=[REDACTED]",
            ),
            (
                "docker login --password s3cret -u me",
                "docker login --password [REDACTED] -u me",
            ),
            ("tool --api-key=abc123", "tool --api-key=[REDACTED]"),
            (
                r#"curl -d '{"password": "pw", "user":"me"}'"#,
                r#"curl -d '{"password": "[REDACTED]", "user":"me"}'"#,
            ),
            (r#"{"api_token":"a\"b"}"#, r#"{"api_token":"[REDACTED]"}"#),
            (
                r#"curl -d "{\"password\": \"pw\", \"user\": \"me\"}" x"#,
                r#"curl -d "{\"password\": \"[REDACTED]\", \"user\": \"me\"}" x"#,
            ),
            (
                "echo DB_PASSWORD='never closed",
                "echo DB_PASSWORD='[REDACTED]",
            ),
        ] {
            check(input, want);
        }
    }

    #[test]
    fn urls_auth_headers_and_private_keys() {
        for (input, want) in [
            (
                "git clone https://user:pa55@github.com/o/r",
                "git clone https://user:[REDACTED]@github.com/o/r",
            ),
            (
                "redis://:secret@localhost:6379",
                "redis://:[REDACTED]@localhost:6379",
            ),
            (
                "postgres://app:pw@db/app?sslmode=require",
                "postgres://app:[REDACTED]@db/app?sslmode=require",
            ),
            (
                r#"curl -H "Authorization: Bearer abc.def-123_XYZ" x"#,
                r#"curl -H "Authorization: Bearer [REDACTED]" x"#,
            ),
            (
                "authorization: bearer 0123456789abcdef",
                "authorization: bearer [REDACTED]",
            ),
            (
                "Authorization: Basic dXNlcjpwYXNz",
                "Authorization: Basic [REDACTED]",
            ),
            (
                "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK==\n-----END RSA PRIVATE KEY-----\nb",
                "a\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nb",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn (cut)",
                "-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]",
            ),
        ] {
            check(input, want);
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "",
            "cargo test -p legio-core --test task-list",
            "git commit -m 'Bearer tokens are described in the docs'",
            "Basic information about the project",
            "bearer authentication is explained below",
            "MAX_TOKENS=100 TOKENIZER=bpe input_tokens=5",
            "if [ \"$TOKEN\" == \"\" ]; then echo none; fi",
            "export GITHUB_TOKEN=$GH_TOKEN && TOKEN=${X}",
            "SECRET= nothing",
            "https://github.com/owner/repo.git and http://user@host/path",
            "mask sk-short, ghp_short, AKIA1234, the skeleton, ask-anything",
            "PWD=/home/dev OLDPWD=/tmp",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "--password-file /run/secret --token-count 5",
            "naïve café — 日本語 sk-ant-",
            "already [REDACTED] and GITHUB_TOKEN=[REDACTED]",
        ] {
            assert!(
                matches!(redact(text), Cow::Borrowed(_)),
                "changed: {text:?} -> {:?}",
                redact(text)
            );
        }
    }

    #[test]
    fn several_secrets_at_both_ends() {
        check(
            "ghp_abcdefghijklmnopqrstuvwxyz0123 mid TOKEN=a b c PASSWORD=z",
            "[REDACTED] mid TOKEN=[REDACTED] b c PASSWORD=[REDACTED]",
        );
    }

    #[test]
    fn random_soup_never_panics_and_redacting_twice_changes_nothing() {
        const PIECES: &[&str] = &[
            "=",
            ":",
            "-",
            "--",
            "\"",
            "'",
            "\\\"",
            " ",
            "@",
            "/",
            "://",
            "$",
            "é",
            "🚀",
            "\n",
            "TOKEN",
            "password",
            "api-key",
            "sk-",
            "sk-ant-",
            "ghp_",
            "AKIA",
            "eyJ",
            ".",
            "Bearer ",
            "Basic ",
            "-----BEGIN RSA PRIVATE KEY-----",
            "-----END ",
            "[REDACTED]",
            "abc123XYZ",
            "0123456789abcdefghij",
            "hooks.slack.com/services/",
            "{",
            "}",
            "\"secret\":",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut changed = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            let once = redact(&text).into_owned();
            assert_eq!(
                redact(&once),
                once.as_str(),
                "not stable: {text:?} -> {once:?}"
            );
            changed += usize::from(once != text);
            state = state.wrapping_add(1);
        }
        assert!(
            changed > 2_000,
            "only {changed} of 20000 had anything redacted"
        );
    }

    #[test]
    fn secret_names() {
        for name in [
            "GITHUB_TOKEN",
            "token",
            "client-secret",
            "DB_PASSWORD",
            "--api-key",
            "OPENAI_APIKEY",
            "aws.secret.access.key",
            "SSH_PRIVATE_KEY",
            "PASS",
            "smtp_pass",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "MAX_TOKENS",
            "TOKENIZER",
            "PWD",
            "KEY",
            "PASSAGE",
            "BYPASS",
            "password_file",
            "",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn json_values_and_secret_keys() {
        let mut value = serde_json::json!({
            "command": "GITHUB_TOKEN=abc123 gh api",
            "env": {"API_KEY": "plain-looking", "count": 3, "token": ""},
            "list": ["ok", "Bearer 0123456789abcdef"],
            "n": null,
        });
        redact_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({
                "command": "GITHUB_TOKEN=[REDACTED] gh api",
                "env": {"API_KEY": "[REDACTED]", "count": 3, "token": ""},
                "list": ["ok", "Bearer [REDACTED]"],
                "n": null,
            })
        );
    }
}
