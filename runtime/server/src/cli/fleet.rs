//! What the fleet commands (`bosun activation`, `node`, `group`) share: durations
//! such as `1h` or `7d`, `--tag Key=Value` flags, path segments for the API's URLs,
//! and how tags and times are shown in tables.

use std::collections::BTreeMap;
use std::time::Duration;

use super::CliError;

/// Parses a duration such as `90s`, `30m`, `1h`, `7d`, `2w` or `1d12h` (units s, m, h, d, w).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration: write a number and a unit (s, m, h, d or w), e.g. 1h, 7d or 1d12h");
    let mut seconds: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
        if digits == 0 {
            return Err(invalid());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        let mut chars = rest[digits..].chars();
        let unit = match chars.next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            Some('w') => 7 * 86_400,
            _ => return Err(invalid()),
        };
        seconds = number.checked_mul(unit).and_then(|s| seconds.checked_add(s)).ok_or_else(|| format!("{text:?} is too long"))?;
        rest = chars.as_str();
    }
    Ok(Duration::from_secs(seconds))
}

/// `--tag Key=Value` flags as a map; a key given twice is an error.
pub fn tag_map(flags: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut tags = BTreeMap::new();
    for flag in flags {
        let (key, value) = bosun_protocol::target::parse_tag(flag).map_err(|e| CliError::usage(format!("--tag: {e}")))?;
        if tags.insert(key.clone(), value).is_some() {
            return Err(CliError::usage(format!("--tag: the key {key:?} is given twice")));
        }
    }
    Ok(tags)
}

/// A path segment of an API URL: everything but unreserved characters percent-encoded.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Tags as `Key=Value, Key=Value`, or `-`.
pub fn tags_text(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() { "-".into() } else { tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ") }
}

/// A stored time shown to the second: `2026-01-02 03:04:05Z`.
pub fn short_time(time: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(time) {
        Ok(t) => t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M:%SZ").to_string(),
        Err(_) => time.to_string(),
    }
}

/// Prints rows as columns padded to their widest cell, the last column unpadded.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let text: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| if i == last { c.to_string() } else { format!("{c:<w$}", w = widths[i]) }).collect();
        crate::outln!("{}", text.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_duration("2w").unwrap(), Duration::from_secs(14 * 86_400));
        assert_eq!(parse_duration("1d12h").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(parse_duration(" 5m ").unwrap(), Duration::from_secs(300));
        for bad in ["", "h", "1", "1x", "1.5h", "-1h", "1 h", "h1", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("99999999999999999w").unwrap_err().contains("too long"));
    }

    #[test]
    fn tag_flags() {
        let tags = tag_map(&["Env=dev".into(), "Name=a=b".into()]).unwrap();
        assert_eq!(tags, BTreeMap::from([("Env".into(), "dev".into()), ("Name".into(), "a=b".into())]));
        assert!(tag_map(&["Env".into()]).is_err());
        assert!(tag_map(&["Env=a".into(), "Env=b".into()]).unwrap_err().message.contains("twice"));
        assert!(tag_map(&["aws:x=1".into()]).is_err());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("mi-0123abc"), "mi-0123abc");
        assert_eq!(segment("../x y/é"), "..%2Fx%20y%2F%C3%A9");
        assert_eq!(segment("Env=dev&x"), "Env%3Ddev%26x");
    }

    #[test]
    fn times_and_tags() {
        assert_eq!(short_time("2026-01-02T03:04:05.678Z"), "2026-01-02 03:04:05Z");
        assert_eq!(short_time("soon"), "soon");
        assert_eq!(tags_text(&BTreeMap::new()), "-");
        assert_eq!(tags_text(&BTreeMap::from([("A".into(), "1".into()), ("B".into(), "".into())])), "A=1, B=");
    }
}
