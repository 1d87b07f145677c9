//! `rate(N unit)`: every N minutes, hours or days from an anchor (the schedule's start).
//! As in AWS, 1 takes the singular unit and larger values the plural.

use chrono::{DateTime, Utc};

use crate::error::{ScheduleError, field_error};

/// The largest N accepted (a thousand days in any unit is far beyond a useful rate).
const MAX_VALUE: u64 = 1_000_000;

/// A fixed period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub seconds: u64,
}

impl Rate {
    pub fn parse(body: &str) -> Result<Rate, ScheduleError> {
        let parts: Vec<&str> = body.split_whitespace().collect();
        let [value, unit] = parts[..] else {
            return Err(ScheduleError::Shape(format!("rate(...) takes a value and a unit, such as rate(30 minutes); found {body:?}")));
        };
        let n = value
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_VALUE).contains(n))
            .ok_or_else(|| field_error("rate value", value, format!("not a whole number from 1 to {MAX_VALUE}")))?;
        let (unit_seconds, singular) = match unit {
            "minute" | "minutes" => (60, "minute"),
            "hour" | "hours" => (3600, "hour"),
            "day" | "days" => (86_400, "day"),
            _ => return Err(field_error("rate unit", unit, "not minute(s), hour(s) or day(s)")),
        };
        let plural = unit.ends_with('s');
        if (n == 1) == plural {
            let wanted = if n == 1 { singular.to_string() } else { format!("{singular}s") };
            return Err(field_error("rate unit", unit, format!("write {wanted} with {n}")));
        }
        Ok(Rate { seconds: n * unit_seconds })
    }

    /// The first of `anchor + k * period` (k ≥ 0) strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if after < anchor {
            return Some(anchor);
        }
        let period = i64::try_from(self.seconds).ok()?;
        let elapsed = (after - anchor).num_seconds();
        let periods = elapsed / period + 1;
        anchor.checked_add_signed(chrono::Duration::seconds(periods.checked_mul(period)?))
    }
}
