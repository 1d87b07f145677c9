//! Writes a recorded session as asciicast v2 (asciinema's format): a header line,
//! then one `[seconds, "o", text]` line per output chunk. A UTF-8 character split
//! across chunks is kept whole; bytes that are not UTF-8 become U+FFFD.

use bosun_store::RecordedChunk;
use serde_json::json;

/// The asciicast v2 text of a recording.
pub fn render(rows: u16, cols: u16, started_at: Option<i64>, title: &str, chunks: &[RecordedChunk]) -> String {
    let mut header = json!({"version": 2, "width": cols, "height": rows, "title": title});
    if let Some(at) = started_at {
        header["timestamp"] = json!(at);
    }
    let mut out = header.to_string();
    out.push('\n');
    let mut pending: Vec<u8> = Vec::new();
    for chunk in chunks {
        pending.extend_from_slice(&chunk.data);
        let (text, rest) = decode(&pending);
        pending = rest;
        if !text.is_empty() {
            out.push_str(&json!([chunk.at_ms as f64 / 1000.0, "o", text]).to_string());
            out.push('\n');
        }
    }
    if !pending.is_empty() {
        let at = chunks.last().map_or(0, |c| c.at_ms) as f64 / 1000.0;
        out.push_str(&json!([at, "o", String::from_utf8_lossy(&pending)]).to_string());
        out.push('\n');
    }
    out
}

/// The text of `bytes`, and the incomplete character at their end, if any.
fn decode(bytes: &[u8]) -> (String, Vec<u8>) {
    let mut text = String::new();
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                text.push_str(valid);
                return (text, Vec::new());
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                match e.error_len() {
                    None => return (text, after.to_vec()),
                    Some(bad) => {
                        text.push('\u{fffd}');
                        rest = &after[bad..];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(at_ms: u64, data: &[u8]) -> RecordedChunk {
        RecordedChunk { at_ms, data: data.to_vec() }
    }

    #[test]
    fn a_recording_becomes_asciicast_v2() {
        let euro = "€".as_bytes();
        let chunks = [chunk(0, b"$ ls\r\n"), chunk(1500, &[b'a', euro[0]]), chunk(1600, &[euro[1], euro[2], 0xff, b'z'])];
        let text = render(24, 80, Some(1_700_000_000), "s-1", &chunks);
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["version"], 2);
        assert_eq!((lines[0]["width"].as_u64(), lines[0]["height"].as_u64()), (Some(80), Some(24)));
        assert_eq!(lines[1], json!([0.0, "o", "$ ls\r\n"]));
        assert_eq!(lines[2], json!([1.5, "o", "a"]));
        assert_eq!(lines[3], json!([1.6, "o", "€\u{fffd}z"]));
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn a_cut_character_at_the_end_is_still_written() {
        let text = render(1, 1, None, "t", &[chunk(10, &[0xe2, 0x82])]);
        assert_eq!(text.lines().nth(1).unwrap(), "[0.01,\"o\",\"\u{fffd}\"]");
    }
}
