//! Text on its way into an agent's input, shared by both backends.

/// The text as it will be typed: every control character (newline, carriage return, tab,
/// Escape, DEL, C1 controls) becomes a space, so a message arrives as one line and cannot
/// submit early, press Escape or drive the agent's terminal UI. Everything else, including
/// leading `-`, trailing `;` and non-ASCII text, is kept.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Splits `text` into pieces of at most `max_bytes` bytes, never inside a character.
pub fn chunks(text: &str, max_bytes: usize) -> Vec<&str> {
    let max_bytes = max_bytes.max(4);
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max_bytes {
        let mut cut = max_bytes;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The last `lines` lines of `text` (a trailing newline does not count as an empty line).
pub fn last_lines(text: &str, lines: usize) -> String {
    let trimmed = text.strip_suffix('\n').unwrap_or(text);
    if lines == 0 || trimmed.is_empty() {
        return String::new();
    }
    let start = trimmed
        .rmatch_indices('\n')
        .nth(lines - 1)
        .map_or(0, |(i, _)| i + 1);
    trimmed[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_spaces_and_the_rest_is_kept() {
        assert_eq!(one_line("a\nb\r\nc\td"), "a b  c d");
        assert_eq!(one_line("esc\u{1b}[2J done\u{7f}"), "esc [2J done ");
        assert_eq!(one_line("-x --; naïve ✓;"), "-x --; naïve ✓;");
    }

    #[test]
    fn chunks_respect_character_boundaries() {
        let text = "é".repeat(10); // 20 bytes
        let parts = chunks(&text, 5);
        assert!(parts.iter().all(|p| p.len() <= 5), "{parts:?}");
        assert_eq!(parts.concat(), text);
        assert_eq!(chunks("abc", 10), vec!["abc"]);
        assert!(chunks("", 10).is_empty());
    }

    #[test]
    fn last_lines_counts_from_the_end() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("a\nb\nc", 5), "a\nb\nc");
        assert_eq!(last_lines("a\nb\nc", 0), "");
        assert_eq!(last_lines("", 3), "");
    }
}
