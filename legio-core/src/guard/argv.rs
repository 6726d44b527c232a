//! Reading a program's arguments the getopt way: short clusters (`-fsSLo FILE`), long options
//! (`--output=FILE`, `--output FILE`), `--`, operands.

use super::shell::Arg;

/// A program's arguments sorted into options and operands.
#[derive(Debug, Default)]
pub struct Argv<'a> {
    /// Options in order: the name with its dashes (`-o`, `--output`) and its value if it takes one.
    pub options: Vec<(String, Option<Arg>)>,
    /// Everything else, in order. Unknown words in option position count as operands.
    pub operands: Vec<&'a Arg>,
}

impl<'a> Argv<'a> {
    /// Sorts `args` (the arguments after the program). `with_value` names the options that take
    /// a value (`-o`, `--output`): the rest of a short cluster, the part after `=`, or the next
    /// word.
    pub fn parse(args: &'a [Arg], with_value: &[&str]) -> Self {
        let mut out = Argv::default();
        let mut words = args.iter();
        let mut only_operands = false;
        while let Some(arg) = words.next() {
            let text = match arg {
                Arg::Lit(s) | Arg::Glob(s) if !only_operands => s.as_str(),
                _ => {
                    out.operands.push(arg);
                    continue;
                }
            };
            if text == "--" {
                only_operands = true;
            } else if let Some(long) = text.strip_prefix("--") {
                if let Some((name, value)) = long.split_once('=') {
                    out.options
                        .push((format!("--{name}"), Some(Arg::Lit(value.to_owned()))));
                } else if with_value.contains(&text) {
                    out.options.push((text.to_owned(), words.next().cloned()));
                } else {
                    out.options.push((text.to_owned(), None));
                }
            } else if text.len() > 1 && text.starts_with('-') {
                for (at, c) in text.char_indices().skip(1) {
                    let name = format!("-{c}");
                    if with_value.contains(&name.as_str()) {
                        let rest = &text[at + c.len_utf8()..];
                        let value = if rest.is_empty() {
                            words.next().cloned()
                        } else {
                            Some(Arg::Lit(rest.to_owned()))
                        };
                        out.options.push((name, value));
                        break;
                    }
                    out.options.push((name, None));
                }
            } else {
                out.operands.push(arg);
            }
        }
        out
    }

    /// Whether any of `names` was given.
    pub fn has(&self, names: &[&str]) -> bool {
        self.options
            .iter()
            .any(|(n, _)| names.contains(&n.as_str()))
    }

    /// The values given to any of `names`.
    pub fn values(&self, names: &[&str]) -> Vec<&Arg> {
        self.options
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .filter_map(|(_, v)| v.as_ref())
            .collect()
    }

    /// The first operand's literal text.
    pub fn first(&self) -> Option<&'a str> {
        self.operands.first().and_then(|a| a.literal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(words: &[&str]) -> Vec<Arg> {
        words.iter().map(|w| Arg::Lit((*w).to_owned())).collect()
    }

    #[test]
    fn clusters_long_options_and_operands() {
        let args = lits(&[
            "-fsSLo",
            "out.txt",
            "--retry=3",
            "--header",
            "h",
            "url",
            "--",
            "-x",
        ]);
        let opts = Argv::parse(&args, &["-o", "--header"]);
        assert!(opts.has(&["-f"]) && opts.has(&["-L"]));
        assert_eq!(opts.values(&["-o"])[0].text(), "out.txt");
        assert_eq!(opts.values(&["--retry"])[0].text(), "3");
        assert_eq!(opts.values(&["--header"])[0].text(), "h");
        let operands: Vec<_> = opts.operands.iter().map(|a| a.text()).collect();
        assert_eq!(operands, ["url", "-x"]);
    }

    #[test]
    fn attached_short_values() {
        let args = lits(&["-ofile", "-n", "x"]);
        let opts = Argv::parse(&args, &["-o"]);
        assert_eq!(opts.values(&["-o"])[0].text(), "file");
        assert!(opts.has(&["-n"]));
        assert_eq!(opts.first(), Some("x"));
    }

    #[test]
    fn unknown_words_are_operands() {
        let args = vec![Arg::Dyn("$X".into()), Arg::Lit("-v".into())];
        let opts = Argv::parse(&args, &[]);
        assert_eq!(opts.operands.len(), 1);
        assert!(opts.has(&["-v"]));
    }
}
