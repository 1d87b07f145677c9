//! The six fields of an AWS cron expression (`minutes hours day-of-month month
//! day-of-week year`) parsed into value sets and the day rules (`L`, `W`, `#`), each
//! error naming the field and the token. Days of the week run 1-7 from Sunday, as in AWS.

use std::collections::BTreeSet;

use crate::error::{ScheduleError, field_error};

const MONTH_NAMES: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// The last year a schedule may name: the `cron` crate's search ends with 2100.
pub const LAST_YEAR: u32 = 2100;
/// The longest token accepted in a field (a list of every minute is 170 characters).
const MAX_FIELD_CHARS: usize = 256;

/// Which field of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Minutes,
    Hours,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    pub const ALL: [Field; 6] = [Field::Minutes, Field::Hours, Field::DayOfMonth, Field::Month, Field::DayOfWeek, Field::Year];

    pub fn name(self) -> &'static str {
        match self {
            Field::Minutes => "minutes field",
            Field::Hours => "hours field",
            Field::DayOfMonth => "day-of-month field",
            Field::Month => "month field",
            Field::DayOfWeek => "day-of-week field",
            Field::Year => "year field",
        }
    }

    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minutes => (0, 59),
            Field::Hours => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (1, 7),
            Field::Year => (1970, LAST_YEAR),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &MONTH_NAMES,
            Field::DayOfWeek => &DAY_NAMES,
            _ => &[],
        }
    }

    fn describe_values(self) -> String {
        let (low, high) = self.bounds();
        match self.names() {
            [] => format!("{low}-{high}"),
            names => format!("{low}-{high} or {}-{}", names[0], names[names.len() - 1]),
        }
    }
}

/// The values a plain field allows; `None` is every value (`*`).
pub type Values = Option<BTreeSet<u32>>;

/// The day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonthDays {
    /// `?`: the day-of-week field decides.
    Unspecified,
    Values(Values),
    /// `L` or `L-n`: the last day of the month, or n days before it.
    Last {
        before: u32,
    },
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekday,
    /// `nW`: the weekday nearest to day n, within the month.
    NearestWeekday(u32),
}

/// The day-of-week field (1 is Sunday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeekDays {
    /// `?`: the day-of-month field decides.
    Unspecified,
    Values(Values),
    /// `dL` (or `L`, Saturday): the last such day of the month.
    Last(u32),
    /// `d#n`: the nth such day of the month.
    Nth {
        day: u32,
        nth: u32,
    },
}

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronFields {
    pub minutes: Values,
    pub hours: Values,
    pub month_days: MonthDays,
    pub months: Values,
    pub week_days: WeekDays,
    pub years: Values,
}

impl CronFields {
    /// Parses the text inside `cron(...)`.
    pub fn parse(body: &str) -> Result<CronFields, ScheduleError> {
        let parts: Vec<&str> = body.split_whitespace().collect();
        if parts.len() != 6 {
            return Err(ScheduleError::Shape(format!(
                "cron(...) takes 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                parts.len()
            )));
        }
        for (field, token) in Field::ALL.iter().zip(&parts) {
            if token.len() > MAX_FIELD_CHARS {
                return Err(field_error(
                    field.name(),
                    &token[..token.floor_char_boundary(32)],
                    format!("longer than {MAX_FIELD_CHARS} characters"),
                ));
            }
        }
        let fields = CronFields {
            minutes: values(Field::Minutes, parts[0])?,
            hours: values(Field::Hours, parts[1])?,
            month_days: month_days(parts[2])?,
            months: values(Field::Month, parts[3])?,
            week_days: week_days(parts[4])?,
            years: values(Field::Year, parts[5])?,
        };
        match (&fields.month_days, &fields.week_days) {
            (MonthDays::Unspecified, WeekDays::Unspecified) => {
                Err(field_error(Field::DayOfWeek.name(), "?", "day-of-month and day-of-week cannot both be ?; give one of them"))
            }
            (MonthDays::Unspecified, _) | (_, WeekDays::Unspecified) => Ok(fields),
            _ => Err(field_error(
                Field::DayOfWeek.name(),
                parts[4],
                "give ? in day-of-month or in day-of-week: one of them must be ? (AWS cron cannot combine both)",
            )),
        }
    }
}

fn number(field: Field, token: &str, text: &str) -> Result<u32, ScheduleError> {
    let upper = text.to_ascii_uppercase();
    let value = match field.names().iter().position(|n| *n == upper) {
        Some(i) => i as u32 + 1,
        None => text
            .parse::<u32>()
            .map_err(|_| field_error(field.name(), token, format!("{text:?} is not a value ({})", field.describe_values())))?,
    };
    let (low, high) = field.bounds();
    if !(low..=high).contains(&value) {
        return Err(field_error(field.name(), token, format!("{value} is outside {low}-{high}")));
    }
    Ok(value)
}

/// A plain field: `*`, or a list of values, ranges and steps.
fn values(field: Field, text: &str) -> Result<Values, ScheduleError> {
    if text == "*" {
        return Ok(None);
    }
    if text == "?" {
        return Err(field_error(field.name(), text, "? is allowed only in day-of-month or day-of-week"));
    }
    let (low, high) = field.bounds();
    let mut set = BTreeSet::new();
    for item in text.split(',') {
        if item.is_empty() {
            return Err(field_error(field.name(), text, "an empty item in the list"));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step = step
                    .parse::<u32>()
                    .ok()
                    .filter(|s| (1..=high).contains(s))
                    .ok_or_else(|| field_error(field.name(), item, format!("the step {step:?} is not a number from 1 to {high}")))?;
                (range, step)
            }
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (low, high)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (number(field, item, a)?, number(field, item, b)?);
            if a > b {
                return Err(field_error(field.name(), item, format!("the range starts after it ends ({a} > {b})")));
            }
            (a, b)
        } else {
            let start = number(field, item, range)?;
            // `a/n` runs from a to the end of the field, as in AWS.
            (start, if item.contains('/') { high } else { start })
        };
        set.extend((start..=end).step_by(step as usize));
    }
    Ok(Some(set))
}

fn month_days(text: &str) -> Result<MonthDays, ScheduleError> {
    let field = Field::DayOfMonth;
    if text == "?" {
        return Ok(MonthDays::Unspecified);
    }
    if !text.contains(['L', 'l', 'W', 'w']) {
        return values(field, text).map(MonthDays::Values);
    }
    let upper = text.to_ascii_uppercase();
    if text.contains(',') {
        return Err(field_error(field.name(), text, "L and W cannot be used in a list"));
    }
    if upper == "L" {
        return Ok(MonthDays::Last { before: 0 });
    }
    if upper == "LW" {
        return Ok(MonthDays::LastWeekday);
    }
    if let Some(before) = upper.strip_prefix("L-") {
        return match before.parse::<u32>() {
            Ok(n) if (1..=30).contains(&n) => Ok(MonthDays::Last { before: n }),
            _ => Err(field_error(field.name(), text, "L-n takes n from 1 to 30 (days before the last day)")),
        };
    }
    if let Some(day) = upper.strip_suffix('W') {
        return Ok(MonthDays::NearestWeekday(number(field, text, day)?));
    }
    Err(field_error(field.name(), text, "not a day rule (L, L-n, LW or nW, such as 15W)"))
}

fn week_days(text: &str) -> Result<WeekDays, ScheduleError> {
    let field = Field::DayOfWeek;
    if text == "?" {
        return Ok(WeekDays::Unspecified);
    }
    // No day name holds an L, so L and # mark the rules.
    if !text.contains(['L', 'l', '#']) {
        return values(field, text).map(WeekDays::Values);
    }
    if text.contains(',') {
        return Err(field_error(field.name(), text, "L and # cannot be used in a list"));
    }
    if text.eq_ignore_ascii_case("L") {
        return Ok(WeekDays::Last(7));
    }
    if let Some((day, nth)) = text.split_once('#') {
        let day = number(field, text, day)?;
        return match nth.parse::<u32>() {
            Ok(nth) if (1..=5).contains(&nth) => Ok(WeekDays::Nth { day, nth }),
            _ => Err(field_error(field.name(), text, "d#n takes n from 1 to 5 (the nth such day of the month)")),
        };
    }
    if let Some(day) = text.strip_suffix(['L', 'l']) {
        return Ok(WeekDays::Last(number(field, text, day)?));
    }
    Err(field_error(field.name(), text, "not a day rule (L, dL such as 6L, or d#n such as 2#1)"))
}
