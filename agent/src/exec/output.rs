//! Capped output: keeps the head of a stream up to a byte limit, counts what it
//! drops, and says where it cut.

/// Room kept at the end of a capped text for the truncation note.
const NOTE_RESERVE: usize = 128;

/// The head of one output stream, at most `limit` bytes, and how many bytes came after it.
#[derive(Debug, Clone)]
pub struct Capped {
    head: Vec<u8>,
    limit: usize,
    dropped: u64,
}

impl Capped {
    pub fn new(limit: usize) -> Self {
        Self { head: Vec::new(), limit, dropped: 0 }
    }

    /// Appends what fits and counts the rest.
    pub fn push(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.head.len());
        let keep = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..keep]);
        self.dropped += (bytes.len() - keep) as u64;
    }

    /// Bytes seen so far, kept or not.
    pub fn total(&self) -> u64 {
        self.head.len() as u64 + self.dropped
    }

    /// The text (invalid UTF-8 replaced), at most `limit` bytes, with a note where it was cut.
    pub fn into_text(self) -> String {
        let text = String::from_utf8_lossy(&self.head).into_owned();
        fit(text, self.limit, self.dropped)
    }
}

/// `text` when it fits in `limit` bytes and nothing was dropped before; otherwise its
/// head cut at a character boundary, followed by a note of how much was left out.
pub fn fit(mut text: String, limit: usize, dropped_before: u64) -> String {
    if dropped_before == 0 && text.len() <= limit {
        return text;
    }
    let mut cut = limit.saturating_sub(NOTE_RESERVE).min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = dropped_before + (text.len() - cut) as u64;
    text.truncate(cut);
    let note = format!("\n[bosun-agent: output truncated here; {dropped} more bytes were not kept]\n");
    if text.len() + note.len() <= limit {
        text.push_str(&note);
    }
    text
}

/// Appends `part` to `whole` (SSM style: the steps' outputs one after the other).
pub fn append(whole: &mut String, part: &str) {
    if part.is_empty() {
        return;
    }
    if !whole.is_empty() && !whole.ends_with('\n') {
        whole.push('\n');
    }
    whole.push_str(part);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut c = Capped::new(1000);
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.total(), 11);
        assert_eq!(c.into_text(), "hello world");
    }

    #[test]
    fn long_output_keeps_the_head_and_notes_the_cut() {
        let mut c = Capped::new(1000);
        for _ in 0..50 {
            c.push(&[b'x'; 100]);
        }
        assert_eq!(c.total(), 5000);
        let text = c.into_text();
        assert!(text.len() <= 1000, "{}", text.len());
        assert!(text.starts_with("xxxx"));
        let kept = text.bytes().take_while(|b| *b == b'x').count();
        assert!(text.contains(&format!("{} more bytes were not kept", 5000 - kept)), "{text}");
    }

    #[test]
    fn cuts_at_a_character_boundary() {
        let text = "é".repeat(600);
        let out = fit(text, 1000, 0);
        assert!(out.len() <= 1000);
        assert!(out.starts_with("éé"));
        assert!(out.contains("more bytes were not kept"));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut c = Capped::new(100);
        c.push(&[0xff, b'a']);
        assert_eq!(c.into_text(), "\u{fffd}a");
    }

    #[test]
    fn append_separates_parts_by_a_newline() {
        let mut all = String::new();
        append(&mut all, "a");
        append(&mut all, "");
        append(&mut all, "b\n");
        append(&mut all, "c");
        assert_eq!(all, "a\nb\nc");
    }
}
