//! Reads the parts of an AWS error answer (`<Error><Code>…</Code><Message>…</Message>`,
//! in the Query services' and S3's XML alike) that Bosun reports.

/// The trimmed text of the first `<name>` element of `xml`, cut to `max_chars`;
/// `None` when there is none or it is not closed.
pub fn element(xml: &str, name: &str, max_chars: usize) -> Option<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(xml[start..end].trim().chars().take(max_chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_read_closed_and_cut() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message> Access Denied </Message></Error>";
        assert_eq!(element(xml, "Code", 200).as_deref(), Some("AccessDenied"));
        assert_eq!(element(xml, "Message", 200).as_deref(), Some("Access Denied"));
        assert_eq!(element(xml, "RequestId", 200), None);
        assert_eq!(element("<Code>unterminated", "Code", 200), None);
        assert_eq!(element(&format!("<Code>{}</Code>", "x".repeat(10_000)), "Code", 200).unwrap().len(), 200);
    }
}
