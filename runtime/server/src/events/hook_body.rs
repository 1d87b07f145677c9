//! A webhook body checked as JSON without building it: as strict as parsing it
//! into a value (syntax, escapes, number range, nesting depth), with the top-level
//! `type` string picked out for the event's detail-type. The body is then stored
//! as it came, so it is neither built in memory nor written out again.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A body that is JSON, and what it says about itself.
#[derive(Debug, PartialEq)]
pub struct HookBody<'a> {
    /// The body's text, as received.
    pub text: &'a str,
    /// The top-level `"type"` member when it is a string (the last one, as a parser keeps).
    pub kind: Option<String>,
}

/// Checks that `bytes` is one JSON value; the error gives the line and column.
pub fn check(bytes: &[u8]) -> Result<HookBody<'_>, serde_json::Error> {
    let Kind(kind) = serde_json::from_slice(bytes)?;
    // JSON that parsed is UTF-8: its strings are checked, and everything else is ASCII.
    let text = std::str::from_utf8(bytes).map_err(|_| serde::de::Error::custom("the body is not UTF-8"))?;
    Ok(HookBody { text, kind })
}

/// What a visitor of any JSON value expects, and its visits of the scalars it reads
/// through without keeping (booleans, numbers, null): each answers `$value`. Numbers
/// still reach the visitor parsed, so one out of range is refused as a value parse
/// refuses it.
macro_rules! scalars_answer {
    ($value:expr) => {
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// `$type` is read by handing `$visitor` whatever JSON value comes (so the parser
/// checks it as it would to build it).
macro_rules! read_by {
    ($type:ident, $visitor:ident) => {
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any($visitor)
            }
        }
    };
}

/// The top-level value: an object's `type` string, read through and dropped otherwise.
struct Kind(Option<String>);

read_by!(Kind, KindVisitor);

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut kind = None;
        while let Some(Key(is_type)) = map.next_key()? {
            if is_type {
                kind = map.next_value::<Text>()?.0;
            } else {
                map.next_value::<Skipped>()?;
            }
        }
        Ok(Kind(kind))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Kind, A::Error> {
        SkippedVisitor.visit_seq(seq).map(|_| Kind(None))
    }

    fn visit_str<E>(self, _: &str) -> Result<Kind, E> {
        Ok(Kind(None))
    }

    scalars_answer!(Kind(None));
}

/// An object's key: whether it is `type`.
struct Key(bool);

read_by!(Key, KeyVisitor);

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(Key(key == "type"))
    }
}

/// A value kept only when it is a string.
struct Text(Option<String>);

read_by!(Text, TextVisitor);

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn visit_str<E>(self, text: &str) -> Result<Text, E> {
        Ok(Text(Some(text.to_string())))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
        SkippedVisitor.visit_map(map).map(|_| Text(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text, A::Error> {
        SkippedVisitor.visit_seq(seq).map(|_| Text(None))
    }

    scalars_answer!(Text(None));
}

/// Any JSON value, read through (so the parser checks it as it would build it) and dropped.
/// Unlike `serde::de::IgnoredAny`, numbers are parsed, so one out of range is an error.
struct Skipped;

read_by!(Skipped, SkippedVisitor);

struct SkippedVisitor;

impl<'de> Visitor<'de> for SkippedVisitor {
    type Value = Skipped;

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skipped, A::Error> {
        while map.next_entry::<Skipped, Skipped>()?.is_some() {}
        Ok(Skipped)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skipped, A::Error> {
        while seq.next_element::<Skipped>()?.is_some() {}
        Ok(Skipped)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skipped, E> {
        Ok(Skipped)
    }

    scalars_answer!(Skipped);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Whatever a value parse accepts, the check accepts, and the other way round.
    #[test]
    fn accepts_and_refuses_what_a_value_parse_does() {
        let deep_ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let too_deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let cases: Vec<&str> = vec![
            r#"{"type": "push", "a": [1, -2, 3.5e10, true, null, {"b": "c\u00e9"}]}"#,
            r#"[1, 2, {"type": "x"}]"#,
            r#""just a string""#,
            "42",
            " \n{}\t ",
            "1e400",
            "-1e400",
            r#"{"a": 1e999}"#,
            r#"["\ud800"]"#,
            r#"{"\ud800": 1}"#,
            r#"{"a": 1,}"#,
            "[1, 2",
            "{} {}",
            "",
            "nul",
            "\u{feff}{}",
            &deep_ok,
            &too_deep,
        ];
        for case in cases {
            let value = serde_json::from_str::<Value>(case);
            let checked = check(case.as_bytes());
            assert_eq!(checked.is_ok(), value.is_ok(), "{case:.60}: {checked:?} vs {value:?}");
            if let (Err(ours), Err(theirs)) = (checked, value) {
                assert_eq!((ours.line(), ours.column()), (theirs.line(), theirs.column()), "{case:.60}");
            }
        }
    }

    #[test]
    fn the_top_level_type_string_is_the_kind() {
        assert_eq!(check(br#"{"type": "push", "x": {"type": "inner"}}"#).unwrap().kind.as_deref(), Some("push"));
        assert_eq!(check(br#"{"type": "first", "type": "last"}"#).unwrap().kind.as_deref(), Some("last"));
        assert_eq!(check(br#"{"type": 7}"#).unwrap().kind, None);
        assert_eq!(check(br#"{"type": {"type": "nested"}}"#).unwrap().kind, None);
        assert_eq!(check(br#"[{"type": "in a list"}]"#).unwrap().kind, None);
        assert_eq!(check(br#"{"ty\u0070e": "escaped key"}"#).unwrap().kind.as_deref(), Some("escaped key"));
    }

    #[test]
    fn the_text_is_the_body_as_received() {
        let body = "{ \"a\" : [ 1 ,2 ] }\n";
        assert_eq!(check(body.as_bytes()).unwrap().text, body);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        assert!(check(b"\"\xff\"").is_err());
        assert!(check(b"{\"a\": \"\xc3\x28\"}").is_err());
    }
}
