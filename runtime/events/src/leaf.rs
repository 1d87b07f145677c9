//! The matchers of one field (the entries of a field's list in a pattern), parsed
//! from JSON, and how each matches one leaf value of an event.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::wildcard::Wildcard;

/// The largest magnitude a numeric matcher takes, as in EventBridge.
const NUMERIC_LIMIT: f64 = 5.0e9;

/// A literal value an event field is compared with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
}

impl Literal {
    fn equals(&self, value: &Value) -> bool {
        match (self, value) {
            (Literal::String(s), Value::String(v)) => s == v,
            (Literal::Number(n), Value::Number(v)) => v.as_f64() == Some(*n),
            (Literal::Bool(b), Value::Bool(v)) => b == v,
            (Literal::Null, Value::Null) => true,
            _ => false,
        }
    }
}

/// One entry of a field's list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    Exact(Literal),
    Prefix(String),
    /// Lower-cased.
    PrefixIgnoreCase(String),
    Suffix(String),
    /// Lower-cased.
    SuffixIgnoreCase(String),
    /// Lower-cased.
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    AnythingBut(AnythingBut),
    Numeric(Range),
    Exists(bool),
    Cidr(Cidr),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Values(Vec<Literal>),
    Prefix(String),
    Suffix(String),
    /// Lower-cased.
    EqualsIgnoreCase(Vec<String>),
    Wildcard(Vec<Wildcard>),
}

/// A numeric range: each bound is (value, inclusive).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Range {
    lower: Option<(f64, bool)>,
    upper: Option<(f64, bool)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// A leaf value of an event: anything but an object or an array.
fn as_str(value: &Value) -> Option<&str> {
    value.as_str()
}

fn lower_case_eq(pattern_lower: &str, text: &str) -> bool {
    if text.is_ascii() && pattern_lower.is_ascii() {
        pattern_lower.eq_ignore_ascii_case(text)
    } else {
        text.to_lowercase() == pattern_lower
    }
}

fn starts_with_ignore_case(text: &str, prefix_lower: &str) -> bool {
    if text.is_ascii() {
        text.len() >= prefix_lower.len() && text.as_bytes()[..prefix_lower.len()].eq_ignore_ascii_case(prefix_lower.as_bytes())
    } else {
        text.to_lowercase().starts_with(prefix_lower)
    }
}

fn ends_with_ignore_case(text: &str, suffix_lower: &str) -> bool {
    if text.is_ascii() {
        text.len() >= suffix_lower.len() && text.as_bytes()[text.len() - suffix_lower.len()..].eq_ignore_ascii_case(suffix_lower.as_bytes())
    } else {
        text.to_lowercase().ends_with(suffix_lower)
    }
}

impl Matcher {
    /// Whether one leaf value matches. `Exists` is decided by the caller, who knows
    /// whether the field has any leaf value at all.
    pub(crate) fn matches(&self, value: &Value) -> bool {
        match self {
            Matcher::Exact(literal) => literal.equals(value),
            Matcher::Prefix(p) => as_str(value).is_some_and(|s| s.starts_with(p.as_str())),
            Matcher::PrefixIgnoreCase(p) => as_str(value).is_some_and(|s| starts_with_ignore_case(s, p)),
            Matcher::Suffix(p) => as_str(value).is_some_and(|s| s.ends_with(p.as_str())),
            Matcher::SuffixIgnoreCase(p) => as_str(value).is_some_and(|s| ends_with_ignore_case(s, p)),
            Matcher::EqualsIgnoreCase(p) => as_str(value).is_some_and(|s| lower_case_eq(p, s)),
            Matcher::Wildcard(w) => as_str(value).is_some_and(|s| w.matches(s)),
            Matcher::AnythingBut(but) => but.matches(value),
            Matcher::Numeric(range) => value.as_f64().is_some_and(|n| range.contains(n)),
            Matcher::Exists(_) => false,
            Matcher::Cidr(cidr) => as_str(value).and_then(|s| s.parse::<IpAddr>().ok()).is_some_and(|ip| cidr.contains(ip)),
        }
    }

    /// How many wildcard stars it holds.
    pub(crate) fn stars(&self) -> usize {
        match self {
            Matcher::Wildcard(w) => w.stars(),
            Matcher::AnythingBut(AnythingBut::Wildcard(ws)) => ws.iter().map(Wildcard::stars).sum(),
            _ => 0,
        }
    }
}

impl AnythingBut {
    fn matches(&self, value: &Value) -> bool {
        match self {
            AnythingBut::Values(values) => !values.iter().any(|l| l.equals(value)),
            AnythingBut::Prefix(p) => as_str(value).is_some_and(|s| !s.starts_with(p.as_str())),
            AnythingBut::Suffix(p) => as_str(value).is_some_and(|s| !s.ends_with(p.as_str())),
            AnythingBut::EqualsIgnoreCase(values) => as_str(value).is_some_and(|s| !values.iter().any(|p| lower_case_eq(p, s))),
            AnythingBut::Wildcard(ws) => as_str(value).is_some_and(|s| !ws.iter().any(|w| w.matches(s))),
        }
    }
}

impl Range {
    fn contains(&self, n: f64) -> bool {
        let above = self.lower.is_none_or(|(bound, inclusive)| if inclusive { n >= bound } else { n > bound });
        let below = self.upper.is_none_or(|(bound, inclusive)| if inclusive { n <= bound } else { n < bound });
        above && below
    }
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = text.split_once('/').ok_or_else(|| format!("{text:?} is not in CIDR notation (ADDRESS/BITS)"))?;
        let network: IpAddr = address.parse().map_err(|_| format!("{address:?} is not an IP address"))?;
        let most = if network.is_ipv4() { 32 } else { 128 };
        let prefix: u8 =
            prefix.parse().ok().filter(|p| *p <= most).ok_or_else(|| format!("{prefix:?} is not a prefix length of 0 to {most}"))?;
        Ok(Self { network, prefix })
    }
}

/// A matcher's parse error: the extra path below the matcher, and the message.
pub(crate) type LeafError = (String, String);

fn err(path: impl Into<String>, message: impl Into<String>) -> LeafError {
    (path.into(), message.into())
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|n| n.is_finite())
}

fn literal(value: &Value) -> Result<Literal, LeafError> {
    match value {
        Value::String(s) => Ok(Literal::String(s.clone())),
        Value::Number(_) => number(value).map(Literal::Number).ok_or_else(|| err("", "the number is out of range")),
        Value::Bool(b) => Ok(Literal::Bool(*b)),
        Value::Null => Ok(Literal::Null),
        Value::Array(_) => Err(err("", "a list inside a field's list: put the values in the field's list itself")),
        Value::Object(_) => Err(err("", "not a matcher")),
    }
}

fn string<'a>(value: &'a Value, what: &str) -> Result<&'a str, LeafError> {
    value.as_str().ok_or_else(|| err("", format!("{what} takes a string")))
}

/// A string, or a `{"equals-ignore-case": STRING}` object: for prefix and suffix.
fn maybe_ignore_case(value: &Value, what: &str) -> Result<(String, bool), LeafError> {
    if let Some(s) = value.as_str() {
        return Ok((s.to_string(), false));
    }
    if let Some(object) = value.as_object()
        && object.len() == 1
        && let Some(inner) = object.get("equals-ignore-case")
    {
        let s = string(inner, "equals-ignore-case").map_err(|(_, m)| err(".equals-ignore-case", m))?;
        return Ok((s.to_lowercase(), true));
    }
    Err(err("", format!("{what} takes a string or {{\"equals-ignore-case\": STRING}}")))
}

fn strings_or_one(value: &Value, what: &str) -> Result<Vec<String>, LeafError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, v)| v.as_str().map(str::to_string).ok_or_else(|| err(format!("[{i}]"), format!("{what} takes strings"))))
            .collect(),
        _ => Err(err("", format!("{what} takes a string or a non-empty list of strings"))),
    }
}

fn wildcard(text: &str) -> Result<Wildcard, LeafError> {
    Wildcard::parse(text).map_err(|m| err("", m))
}

fn anything_but(value: &Value) -> Result<AnythingBut, LeafError> {
    let nested = |path: &str, e: LeafError| err(format!("{path}{}", e.0), e.1);
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(err("", "anything-but takes a non-empty list"));
            }
            let literals = items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(_) | Value::Number(_) => literal(v).map_err(|e| nested(&format!("[{i}]"), e)),
                    _ => Err(err(format!("[{i}]"), "anything-but lists hold strings or numbers")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let strings = literals.iter().filter(|l| matches!(l, Literal::String(_))).count();
            if strings != 0 && strings != literals.len() {
                return Err(err("", "an anything-but list holds only strings or only numbers, not both"));
            }
            Ok(AnythingBut::Values(literals))
        }
        Value::Object(object) => {
            let (operator, operand) = single_entry(object)?;
            let inner = |e: LeafError| nested(&format!(".{operator}"), e);
            match operator.as_str() {
                "prefix" => Ok(AnythingBut::Prefix(string(operand, "anything-but prefix").map_err(inner)?.to_string())),
                "suffix" => Ok(AnythingBut::Suffix(string(operand, "anything-but suffix").map_err(inner)?.to_string())),
                "equals-ignore-case" => Ok(AnythingBut::EqualsIgnoreCase(
                    strings_or_one(operand, "anything-but equals-ignore-case").map_err(inner)?.iter().map(|s| s.to_lowercase()).collect(),
                )),
                "wildcard" => Ok(AnythingBut::Wildcard(
                    strings_or_one(operand, "anything-but wildcard")
                        .map_err(inner)?
                        .iter()
                        .enumerate()
                        .map(|(i, s)| wildcard(s).map_err(|e| nested(&format!(".wildcard[{i}]"), e)))
                        .collect::<Result<_, _>>()?,
                )),
                other => Err(err(
                    format!(".{other}"),
                    format!("anything-but takes a value, a list, or one of prefix, suffix, equals-ignore-case, wildcard; not {other:?}"),
                )),
            }
        }
        Value::Bool(_) | Value::Null => Err(err("", "anything-but takes a string, a number, a list of them, or an object")),
        scalar => Ok(AnythingBut::Values(vec![literal(scalar)?])),
    }
}

fn single_entry(object: &Map<String, Value>) -> Result<(&String, &Value), LeafError> {
    let mut entries = object.iter();
    match (entries.next(), entries.next()) {
        (Some(entry), None) => Ok(entry),
        (None, _) => Err(err("", "an empty object is not a matcher")),
        (Some(_), Some((second, _))) => Err(err(format!(".{second}"), "a matcher object holds exactly one operator")),
    }
}

fn numeric(value: &Value) -> Result<Range, LeafError> {
    let items = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| err("", "numeric takes a list: [\">\", 0, \"<=\", 5]"))?;
    if items.len() % 2 != 0 || items.len() > 4 {
        return Err(err("", "numeric takes one or two pairs of an operator and a number"));
    }
    let mut range = Range { lower: None, upper: None };
    for (pair, chunk) in items.chunks(2).enumerate() {
        let at = pair * 2;
        let operator = chunk[0].as_str().ok_or_else(|| err(format!("[{at}]"), "an operator (=, <, <=, >, >=) is a string"))?;
        let n = number(&chunk[1]).ok_or_else(|| err(format!("[{}]", at + 1), "numeric takes a number after each operator"))?;
        if n.abs() > NUMERIC_LIMIT {
            return Err(err(format!("[{}]", at + 1), format!("{n} is outside the numeric range of -5e9 to 5e9")));
        }
        let slot = match operator {
            "=" if items.len() == 2 => {
                range = Range { lower: Some((n, true)), upper: Some((n, true)) };
                continue;
            }
            "=" => return Err(err(format!("[{at}]"), "\"=\" stands alone: [\"=\", N]")),
            ">" | ">=" => &mut range.lower,
            "<" | "<=" => &mut range.upper,
            other => return Err(err(format!("[{at}]"), format!("{other:?} is not an operator (=, <, <=, >, >=)"))),
        };
        if slot.is_some() {
            return Err(err(format!("[{at}]"), "a range has at most one lower and one upper bound"));
        }
        *slot = Some((n, operator.ends_with('=')));
    }
    if let (Some((low, low_inclusive)), Some((high, high_inclusive))) = (range.lower, range.upper)
        && (low > high || (low == high && !(low_inclusive && high_inclusive)))
    {
        return Err(err("", format!("the range is empty: no number is above {low} and below {high}")));
    }
    Ok(range)
}

/// Parses one entry of a field's list. The error's path is relative to the entry.
pub(crate) fn parse_matcher(value: &Value) -> Result<Matcher, LeafError> {
    let Value::Object(object) = value else {
        return literal(value).map(Matcher::Exact);
    };
    let (operator, operand) = single_entry(object)?;
    let inner = |e: LeafError| err(format!(".{operator}{}", e.0), e.1);
    let matcher = match operator.as_str() {
        "prefix" => match maybe_ignore_case(operand, "prefix").map_err(inner)? {
            (p, false) => Matcher::Prefix(p),
            (p, true) => Matcher::PrefixIgnoreCase(p),
        },
        "suffix" => match maybe_ignore_case(operand, "suffix").map_err(inner)? {
            (p, false) => Matcher::Suffix(p),
            (p, true) => Matcher::SuffixIgnoreCase(p),
        },
        "equals-ignore-case" => Matcher::EqualsIgnoreCase(string(operand, "equals-ignore-case").map_err(inner)?.to_lowercase()),
        "wildcard" => Matcher::Wildcard(wildcard(string(operand, "wildcard").map_err(inner)?).map_err(inner)?),
        "anything-but" => Matcher::AnythingBut(anything_but(operand).map_err(inner)?),
        "numeric" => Matcher::Numeric(numeric(operand).map_err(inner)?),
        "exists" => Matcher::Exists(operand.as_bool().ok_or_else(|| inner(err("", "exists takes true or false")))?),
        "cidr" => Matcher::Cidr(Cidr::parse(string(operand, "cidr").map_err(inner)?).map_err(|m| inner(err("", m)))?),
        other => {
            return Err(err(
                format!(".{other}"),
                format!("{other:?} is not a matcher (prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr)"),
            ));
        }
    };
    Ok(matcher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cidr_masks_the_host_bits() {
        let cidr = Cidr::parse("10.0.0.0/24").unwrap();
        assert!(cidr.contains("10.0.0.255".parse().unwrap()));
        assert!(!cidr.contains("10.0.1.0".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("2001:db8::/32").unwrap().contains("2001:db8::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0.0").is_err());
    }

    #[test]
    fn numeric_ranges() {
        let range = numeric(&json!([">", 0, "<=", 5])).unwrap();
        assert!(!range.contains(0.0) && range.contains(0.001) && range.contains(5.0) && !range.contains(5.001));
        assert!(numeric(&json!(["=", 3])).unwrap().contains(3.0));
        assert!(numeric(&json!([">", 5, "<", 5])).unwrap_err().1.contains("empty"));
        assert_eq!(numeric(&json!([">", 1, ">", 2])).unwrap_err().0, "[2]");
        assert_eq!(numeric(&json!(["~", 1])).unwrap_err().0, "[0]");
        assert_eq!(numeric(&json!([">", "1"])).unwrap_err().0, "[1]");
        assert!(numeric(&json!([">", 6e9])).unwrap_err().1.contains("outside"));
    }
}
