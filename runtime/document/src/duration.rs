//! `aws:sleep` times: ISO 8601 durations (`PT10M`) and timestamps (`2026-01-01T00:00:00Z`).
//!
//! Durations take weeks, days, hours, minutes and seconds (`P1W`, `P1DT2H`,
//! `PT1H30M`, `PT0.5S`); only the last component may have a fraction. Years
//! and months are refused because their length varies. `aws:sleep` sleeps at
//! most seven days, so longer durations are errors.
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest sleep `aws:sleep` allows: seven days.
pub const MAX_SLEEP: Duration = Duration::from_secs(7 * 24 * 3600);

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Parses an ISO 8601 duration such as `PT10M` or `P1DT2H`, at most seven days.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let nanos = duration_nanos(text.trim()).map_err(|why| format!("invalid duration \"{text}\": {why}"))?;
    let max = MAX_SLEEP.as_nanos();
    if nanos > max {
        return Err(format!("duration \"{text}\" is longer than the 7-day maximum of aws:sleep"));
    }
    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| format!("duration \"{text}\" is too long"))?;
    // The remainder is below 1e9, so it fits.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Ok(Duration::new(secs, sub))
}

/// Parses an RFC 3339 timestamp (`2026-01-01T00:00:00Z`, `2026-01-01T02:00:00+02:00`).
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("invalid timestamp \"{text}\": {e}; expected RFC 3339 such as 2026-01-01T00:00:00Z"))
}

/// The units in the order ISO 8601 writes them, with their length in seconds.
/// The date part holds `W` and `D`, the time part (after `T`) `H`, `M`, `S`.
const DATE_UNITS: &[(char, u128)] = &[('W', 7 * 86_400), ('D', 86_400)];
const TIME_UNITS: &[(char, u128)] = &[('H', 3600), ('M', 60), ('S', 1)];

/// The duration in nanoseconds, or why the text is not a duration.
fn duration_nanos(text: &str) -> Result<u128, String> {
    let rest = text.strip_prefix('P').ok_or("expected an ISO 8601 duration starting with P, such as PT10M")?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => {
            if time.is_empty() {
                return Err("nothing after T".into());
            }
            (date, Some(time))
        }
        None => (rest, None),
    };
    let mut components = parse_part(date, DATE_UNITS)?;
    if let Some(time) = time {
        components.extend(parse_part(time, TIME_UNITS)?);
    }
    if components.is_empty() {
        return Err("no duration components".into());
    }
    let last = components.len() - 1;
    let mut total: u128 = 0;
    for (i, c) in components.iter().enumerate() {
        if c.fraction.is_some() && i != last {
            return Err("only the last component may have a fraction".into());
        }
        total = total.checked_add(c.nanos()?).ok_or("too long")?;
    }
    Ok(total)
}

/// One `<number><unit>` component.
struct Component {
    whole: u128,
    /// The digits after the decimal separator, at most nine.
    fraction: Option<String>,
    unit_secs: u128,
}

impl Component {
    fn nanos(&self) -> Result<u128, String> {
        let unit = self.unit_secs * NANOS_PER_SEC;
        let whole = self.whole.checked_mul(unit).ok_or("too long")?;
        let Some(digits) = &self.fraction else {
            return Ok(whole);
        };
        let scale = 10u128.pow(u32::try_from(digits.len()).map_err(|_| "fraction too long")?);
        let numerator: u128 = digits.parse().map_err(|_| "bad fraction")?;
        whole.checked_add(numerator * unit / scale).ok_or_else(|| "too long".to_string())
    }
}

/// Parses the date or time part: numbers each followed by one of `units`, in order.
fn parse_part(part: &str, units: &[(char, u128)]) -> Result<Vec<Component>, String> {
    let mut out = Vec::new();
    let mut next_unit = 0;
    let mut number = String::new();
    for ch in part.chars() {
        if ch.is_ascii_digit() || ch == '.' || ch == ',' {
            number.push(ch);
            continue;
        }
        let pos = units.iter().position(|(u, _)| *u == ch).ok_or_else(|| unexpected_unit(ch, units))?;
        if pos < next_unit {
            return Err(format!("{ch} is out of order or repeated"));
        }
        next_unit = pos + 1;
        out.push(parse_component(&number, ch, units[pos].1)?);
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("\"{number}\" has no unit"));
    }
    Ok(out)
}

fn unexpected_unit(ch: char, units: &[(char, u128)]) -> String {
    match ch {
        'Y' => "years are not supported (their length varies); use days".into(),
        'M' if units == DATE_UNITS => "months are not supported (their length varies); use days, or PT..M for minutes".into(),
        _ => {
            let names: Vec<String> = units.iter().map(|(u, _)| u.to_string()).collect();
            format!("unexpected \"{ch}\"; expected a number followed by one of {}", names.join(", "))
        }
    }
}

fn parse_component(number: &str, unit: char, unit_secs: u128) -> Result<Component, String> {
    let (whole, fraction) = match number.split_once(['.', ',']) {
        Some((w, f)) => (w, Some(f)),
        None => (number, None),
    };
    if whole.is_empty() {
        return Err(format!("missing number before {unit}"));
    }
    let whole: u128 = whole.parse().map_err(|_| format!("bad number \"{number}\" before {unit}"))?;
    let fraction = match fraction {
        None => None,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => Some(f.to_string()),
        Some(_) => return Err(format!("bad fraction in \"{number}\" (1 to 9 digits)")),
    };
    Ok(Component { whole, fraction, unit_secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> f64 {
        parse_duration(text).unwrap().as_secs_f64()
    }

    #[test]
    fn durations() {
        assert_eq!(secs("PT10M"), 600.0);
        assert_eq!(secs("PT1H30M"), 5400.0);
        assert_eq!(secs("PT5S"), 5.0);
        assert_eq!(secs("P1D"), 86_400.0);
        assert_eq!(secs("PT0.5S"), 0.5);
        assert_eq!(secs("PT1,5S"), 1.5);
        assert_eq!(secs("P1DT2H"), 93_600.0);
        assert_eq!(secs("P1W"), 604_800.0);
        assert_eq!(secs("PT1.5H"), 5400.0);
        assert_eq!(secs(" PT0S "), 0.0);
        assert_eq!(parse_duration("PT0.000000001S").unwrap(), Duration::from_nanos(1));
    }

    #[test]
    fn seven_days_is_the_maximum() {
        assert_eq!(parse_duration("P7D").unwrap(), MAX_SLEEP);
        assert_eq!(parse_duration("PT168H").unwrap(), MAX_SLEEP);
        assert_eq!(parse_duration("P7DT1S").unwrap_err(), "duration \"P7DT1S\" is longer than the 7-day maximum of aws:sleep");
        assert!(parse_duration("PT99999999999999999999999999999H").is_err());
    }

    #[test]
    fn duration_errors() {
        let err = |t: &str| parse_duration(t).unwrap_err();
        assert_eq!(err("10M"), "invalid duration \"10M\": expected an ISO 8601 duration starting with P, such as PT10M");
        assert_eq!(err("P"), "invalid duration \"P\": no duration components");
        assert_eq!(err("PT"), "invalid duration \"PT\": nothing after T");
        assert_eq!(err("PT10"), "invalid duration \"PT10\": \"10\" has no unit");
        assert_eq!(err("PT10X"), "invalid duration \"PT10X\": unexpected \"X\"; expected a number followed by one of H, M, S");
        assert_eq!(err("P1Y"), "invalid duration \"P1Y\": years are not supported (their length varies); use days");
        assert!(err("P1M").contains("months are not supported"));
        assert_eq!(err("PT5S1M"), "invalid duration \"PT5S1M\": M is out of order or repeated");
        assert_eq!(err("PTM"), "invalid duration \"PTM\": missing number before M");
        assert_eq!(err("PT1.5M2S"), "invalid duration \"PT1.5M2S\": only the last component may have a fraction");
        assert_eq!(err("PT1.S"), "invalid duration \"PT1.S\": bad fraction in \"1.\" (1 to 9 digits)");
        assert_eq!(err("PT1.2.3S"), "invalid duration \"PT1.2.3S\": bad fraction in \"1.2.3\" (1 to 9 digits)");
        assert!(err("-PT5S").contains("starting with P"));
        assert!(err("pt5s").contains("starting with P"));
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        let t = parse_timestamp("2026-01-01T02:30:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:30:00+00:00");
        let t = parse_timestamp("2026-01-01T00:00:00.250Z").unwrap();
        assert_eq!(t.timestamp_millis() % 1000, 250);
    }

    #[test]
    fn timestamp_errors() {
        let err = parse_timestamp("2026-01-01").unwrap_err();
        assert!(err.starts_with("invalid timestamp \"2026-01-01\": "), "{err}");
        assert!(err.ends_with("expected RFC 3339 such as 2026-01-01T00:00:00Z"), "{err}");
        assert!(parse_timestamp("2026-01-01T00:00:00").is_err());
        assert!(parse_timestamp("2026-13-01T00:00:00Z").is_err());
        assert!(parse_timestamp("tomorrow").is_err());
    }
}
