//! Wildcard values (`*` for any run of characters, `\*` and `\\` for a literal star
//! and backslash), matched in time linear in the text: the pieces between stars are
//! found left to right, so no pattern can make matching backtrack.

/// A parsed wildcard value: the literal pieces between its stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    /// Always one more piece than stars; the first must start the text and the last
    /// end it (when there is a star at all).
    pieces: Vec<String>,
}

impl Wildcard {
    /// Parses a wildcard value, or says what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars().peekable();
        let mut after_star = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '\\')) => {
                        pieces.last_mut().unwrap_or_else(|| unreachable!("pieces is never empty")).push(escaped);
                        after_star = false;
                    }
                    Some(other) => return Err(format!("`\\{other}` is not an escape in a wildcard (only `\\*` and `\\\\` are)")),
                    None => return Err("a wildcard ends with a lone `\\`".into()),
                },
                '*' if after_star => return Err("a wildcard has `**`: consecutive stars are not allowed".into()),
                '*' => {
                    pieces.push(String::new());
                    after_star = true;
                }
                c => {
                    pieces.last_mut().unwrap_or_else(|| unreachable!("pieces is never empty")).push(c);
                    after_star = false;
                }
            }
        }
        Ok(Self { pieces })
    }

    /// How many stars it has: the measure of its cost.
    pub(crate) fn stars(&self) -> usize {
        self.pieces.len() - 1
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let (first, rest) = self.pieces.split_first().unwrap_or_else(|| unreachable!("pieces is never empty"));
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) || !text.ends_with(last.as_str()) {
            return false;
        }
        let mut window = &text[first.len()..text.len() - last.len()];
        for piece in middle {
            match window.find(piece.as_str()) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, text: &str) -> bool {
        Wildcard::parse(pattern).unwrap().matches(text)
    }

    #[test]
    fn stars_match_any_run() {
        assert!(m("*", ""));
        assert!(m("a*", "abc"));
        assert!(m("*c", "abc"));
        assert!(m("a*c", "ac"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abc"));
        assert!(!m("a*b*c", "acb"));
        assert!(!m("ab*ba", "aba"), "the first and last pieces may not overlap");
        assert!(m("*.png", "dir/file.png"));
        assert!(m("x", "x"));
        assert!(!m("x", "xy"));
    }

    #[test]
    fn escapes_are_literal() {
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\*", r"a\anything"));
        assert_eq!(Wildcard::parse(r"a\*b*").unwrap().stars(), 1);
    }

    #[test]
    fn malformed_wildcards_are_refused() {
        assert!(Wildcard::parse("a**b").unwrap_err().contains("**"));
        assert!(Wildcard::parse(r"a\b").unwrap_err().contains(r"\b"));
        assert!(Wildcard::parse("a\\").unwrap_err().contains("lone"));
    }
}
