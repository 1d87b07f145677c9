//! Fire times of a cron expression in wall-clock time. The `cron` crate searches the
//! minutes, hours, months, years and plain day sets; the day rules it cannot express
//! (`L`, `W`, `#`) are checked here on each day it proposes, and a rejected day moves
//! the search to the next day.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};

use crate::error::ScheduleError;
use crate::fields::{CronFields, MonthDays, Values, WeekDays};

/// A cron expression ready to search.
#[derive(Debug, Clone)]
pub struct CronExpression {
    pub fields: CronFields,
    search: cron::Schedule,
    /// Whether days are checked here (a rule the `cron` crate cannot express).
    day_rule: bool,
}

fn render(values: &Values) -> String {
    match values {
        None => "*".into(),
        Some(set) => set.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
    }
}

impl CronExpression {
    pub fn parse(body: &str) -> Result<CronExpression, ScheduleError> {
        let fields = CronFields::parse(body)?;
        let plain_month_days = match &fields.month_days {
            MonthDays::Values(values) => Some(render(values)),
            MonthDays::Unspecified => Some("*".into()),
            _ => None,
        };
        let plain_week_days = match &fields.week_days {
            WeekDays::Values(values) => Some(render(values)),
            WeekDays::Unspecified => Some("*".into()),
            _ => None,
        };
        let day_rule = plain_month_days.is_none() || plain_week_days.is_none();
        let (month_days, week_days) = match (plain_month_days, plain_week_days) {
            (Some(m), Some(w)) => (m, w),
            _ => ("*".into(), "*".into()),
        };
        let text = format!(
            "0 {} {} {month_days} {} {week_days} {}",
            render(&fields.minutes),
            render(&fields.hours),
            render(&fields.months),
            render(&fields.years)
        );
        let search = cron::Schedule::from_str(&text).map_err(|e| ScheduleError::Shape(format!("cron(...): {e}")))?;
        Ok(CronExpression { fields, search, day_rule })
    }

    /// The first wall-clock fire time strictly after `after`.
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut from = after;
        loop {
            let candidate = self.search.after(&Utc.from_utc_datetime(&from)).next()?.naive_utc();
            if !self.day_rule || self.day_matches(candidate.date()) {
                return Some(candidate);
            }
            // The day does not match: go on from its last second.
            from = candidate.date().and_hms_opt(23, 59, 59)?;
        }
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let last = last_day(date);
        let day = date.day();
        let month_days = match &self.fields.month_days {
            MonthDays::Unspecified => true,
            MonthDays::Values(values) => contains(values, day),
            MonthDays::Last { before } => last.checked_sub(*before) == Some(day),
            MonthDays::LastWeekday => nearest_weekday(date, last) == Some(day),
            MonthDays::NearestWeekday(n) => nearest_weekday(date, *n) == Some(day),
        };
        let weekday = date.weekday().number_from_sunday();
        let week_days = match &self.fields.week_days {
            WeekDays::Unspecified => true,
            WeekDays::Values(values) => contains(values, weekday),
            WeekDays::Last(d) => weekday == *d && day + 7 > last,
            WeekDays::Nth { day: d, nth } => weekday == *d && (day - 1) / 7 + 1 == *nth,
        };
        month_days && week_days
    }
}

fn contains(values: &Values, value: u32) -> bool {
    values.as_ref().is_none_or(|set: &BTreeSet<u32>| set.contains(&value))
}

fn last_day(date: NaiveDate) -> u32 {
    let (year, month) = if date.month() == 12 { (date.year() + 1, 1) } else { (date.year(), date.month() + 1) };
    NaiveDate::from_ymd_opt(year, month, 1).and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

/// The weekday (Monday to Friday) nearest to day `n` of `date`'s month, not leaving the
/// month; none when the month has no day `n`.
fn nearest_weekday(date: NaiveDate, n: u32) -> Option<u32> {
    let last = last_day(date);
    let target = date.with_day(n)?;
    Some(match target.weekday() {
        Weekday::Sat if n > 1 => n - 1,
        Weekday::Sat => n + 2,
        Weekday::Sun if n < last => n + 1,
        Weekday::Sun => n - 2,
        _ => n,
    })
}
