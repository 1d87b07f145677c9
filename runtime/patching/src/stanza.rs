//! A streaming reader of deb822 files (dpkg's status database, apt's
//! `Packages` lists): stanzas of `Field: value` lines separated by blank
//! lines, continuation lines starting with a space. Lines are capped, so a
//! hostile file costs bounded memory; a malformed line is an error naming the
//! file and the line.

use std::io::BufRead;

/// The longest line accepted.
pub const MAX_LINE: usize = 256 * 1024;

/// What went wrong reading a file, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanzaError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for StanzaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// One stanza's fields that the caller asked for (first lines only; continuation lines are skipped).
#[derive(Debug, Default, Clone)]
pub struct Stanza {
    fields: Vec<(&'static str, String)>,
}

impl Stanza {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.iter().find(|(f, _)| f.eq_ignore_ascii_case(field)).map(|(_, v)| v.as_str())
    }
}

/// Reads stanzas one by one.
pub struct StanzaReader<R> {
    reader: R,
    file: String,
    line_no: usize,
    buf: Vec<u8>,
    /// Bytes read so far, against `max_bytes`.
    read: u64,
    max_bytes: u64,
}

impl<R: BufRead> StanzaReader<R> {
    /// A reader of `file` (named in errors) that refuses to read more than `max_bytes`.
    pub fn new(reader: R, file: impl Into<String>, max_bytes: u64) -> StanzaReader<R> {
        StanzaReader { reader, file: file.into(), line_no: 0, buf: Vec::new(), read: 0, max_bytes }
    }

    fn error(&self, message: impl Into<String>) -> StanzaError {
        StanzaError { file: self.file.clone(), line: self.line_no, message: message.into() }
    }

    /// Reads the next line, without its newline, into `buf`; false at the end.
    fn next_line(&mut self) -> Result<bool, StanzaError> {
        self.buf.clear();
        self.line_no += 1;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.error(format!("cannot read: {e}"))),
            };
            if available.is_empty() {
                return Ok(!self.buf.is_empty());
            }
            let (take, done) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (at, true),
                None => (available.len(), false),
            };
            if self.buf.len() + take > MAX_LINE {
                return Err(self.error(format!("a line longer than {MAX_LINE} bytes")));
            }
            self.buf.extend_from_slice(&available[..take]);
            let consumed = take + usize::from(done);
            self.reader.consume(consumed);
            self.read += consumed as u64;
            if self.read > self.max_bytes {
                return Err(self.error(format!("the file is larger than {} bytes", self.max_bytes)));
            }
            if done {
                return Ok(true);
            }
        }
    }

    /// Reads the next stanza into `out`, keeping the `wanted` fields. After the
    /// first field, `keep` sees it (`Package: name`); when it says no, the rest
    /// of the stanza is skipped unparsed and `out` is left empty. False at the end.
    pub fn next_stanza(
        &mut self,
        wanted: &[&'static str],
        out: &mut Stanza,
        keep: &mut dyn FnMut(&str, &str) -> bool,
    ) -> Result<bool, StanzaError> {
        out.fields.clear();
        let mut in_stanza = false;
        let mut skipping = false;
        loop {
            if !self.next_line()? {
                return Ok(in_stanza);
            }
            let line = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                if in_stanza {
                    return Ok(true);
                }
                continue;
            }
            if skipping || line[0] == b' ' || line[0] == b'\t' {
                if !in_stanza {
                    return Err(self.error("a continuation line outside a stanza"));
                }
                continue;
            }
            if line[0] == b'#' {
                continue;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                let shown: String = String::from_utf8_lossy(line).chars().take(60).collect();
                return Err(self.error(format!("\"{shown}\" is not a \"Field: value\" line")));
            };
            let field = std::str::from_utf8(&line[..colon]).map_err(|_| self.error("a field name that is not UTF-8"))?;
            if field.is_empty() || field.contains(char::is_whitespace) {
                return Err(self.error(format!("\"{}\" is not a field name", field.chars().take(60).collect::<String>())));
            }
            let first = !in_stanza;
            in_stanza = true;
            let wanted_field = wanted.iter().find(|w| w.eq_ignore_ascii_case(field));
            if wanted_field.is_none() && !first {
                continue;
            }
            let value = String::from_utf8_lossy(&line[colon + 1..]).trim().to_string();
            if first && !keep(field, &value) {
                skipping = true;
                continue;
            }
            if let Some(name) = wanted_field {
                out.fields.push((name, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str, wanted: &[&'static str]) -> Result<Vec<Stanza>, StanzaError> {
        let mut reader = StanzaReader::new(text.as_bytes(), "status", u64::MAX);
        let mut all = Vec::new();
        let mut stanza = Stanza::default();
        while reader.next_stanza(wanted, &mut stanza, &mut |_, _| true)? {
            all.push(stanza.clone());
        }
        Ok(all)
    }

    #[test]
    fn stanzas_and_fields() {
        let text = "Package: a\nVersion: 1.0\nDescription: x\n more\n .\n\n\nPackage: b\r\nversion: 2\r\n";
        let all = read_all(text, &["Package", "Version"]).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].get("Version"), Some("1.0"));
        assert_eq!(all[1].get("Version"), Some("2"));
        assert_eq!(all[1].get("Description"), None);
    }

    #[test]
    fn skipped_stanzas_are_not_parsed() {
        let mut reader = StanzaReader::new("Package: a\nno colon here\n\nPackage: b\nVersion: 2\n".as_bytes(), "Packages", u64::MAX);
        let mut stanza = Stanza::default();
        let mut names = Vec::new();
        while reader.next_stanza(&["Package", "Version"], &mut stanza, &mut |_, v| v != "a").unwrap() {
            names.extend(stanza.get("Package").map(str::to_string));
        }
        assert_eq!(names, vec!["b"]);
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let e = read_all("Package: a\nVersion 1.0\n", &["Package"]).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("status", 2));
        assert!(e.to_string().starts_with("status:2: \"Version 1.0\""), "{e}");
        let e = read_all(" continuation\n", &["Package"]).unwrap_err();
        assert!(e.message.contains("continuation"), "{e}");
        let e = read_all(&format!("Package: {}\n", "x".repeat(MAX_LINE + 1)), &["Package"]).unwrap_err();
        assert!(e.message.contains("longer than"), "{e}");
        let mut reader = StanzaReader::new("Package: a\nVersion: 1\n\n".as_bytes(), "big", 10);
        let e = reader.next_stanza(&["Package"], &mut Stanza::default(), &mut |_, _| true).unwrap_err();
        assert!(e.message.contains("larger than 10 bytes"), "{e}");
        let e = read_all(": value\n", &["Package"]).unwrap_err();
        assert!(e.message.contains("not a field name"), "{e}");
    }
}
