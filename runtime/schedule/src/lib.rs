//! Schedule expressions as AWS writes them — `cron(minutes hours day-of-month month
//! day-of-week year)`, `rate(N unit)` and `at(yyyy-mm-ddThh:mm:ss)` — in an IANA time
//! zone with an optional offset in days, and the instants they fire at. Pure: no IO,
//! no clock; callers pass the times.

mod cron_eval;
mod error;
mod fields;
mod rate;
mod zone;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

pub use cron_eval::CronExpression;
pub use error::ScheduleError;
pub use fields::{CronFields, Field, LAST_YEAR, MonthDays, WeekDays};
pub use rate::Rate;

/// The longest expression accepted.
pub const MAX_EXPRESSION_CHARS: usize = 1024;
/// The schedule offset's largest value, in days (as SSM's ScheduleOffset).
pub const MAX_OFFSET_DAYS: u32 = 6;

/// What an expression says, without its zone.
#[derive(Debug, Clone)]
pub enum Expression {
    Cron(Box<CronExpression>),
    Rate(Rate),
    /// Once, at this wall-clock time.
    At(NaiveDateTime),
}

impl Expression {
    pub fn parse(text: &str) -> Result<Expression, ScheduleError> {
        if text.len() > MAX_EXPRESSION_CHARS {
            return Err(ScheduleError::Shape(format!("the expression is longer than {MAX_EXPRESSION_CHARS} characters")));
        }
        let text = text.trim();
        let shape = || ScheduleError::Shape(format!("{text:?} is not a schedule: write cron(...), rate(...) or at(...)"));
        let (kind, rest) = text.split_once('(').ok_or_else(shape)?;
        let body = rest.strip_suffix(')').ok_or_else(|| ScheduleError::Shape(format!("{text:?}: the expression must end with )")))?;
        match kind.trim() {
            "cron" => CronExpression::parse(body).map(|c| Expression::Cron(Box::new(c))),
            "rate" => Rate::parse(body).map(Expression::Rate),
            "at" => NaiveDateTime::parse_from_str(body.trim(), "%Y-%m-%dT%H:%M:%S")
                .map(Expression::At)
                .map_err(|_| error::field_error("at(...)", body.trim(), "not a date and time of the form 2026-01-31T22:00:00")),
            _ => Err(shape()),
        }
    }
}

/// An expression with its zone and offset: what a scheduler stores and evaluates.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub expression: Expression,
    pub zone: Tz,
    /// Days added to every fire of a cron expression.
    pub offset_days: u32,
}

impl Schedule {
    /// `zone` is an IANA name (UTC when absent); an offset applies to cron expressions only.
    pub fn new(expression: &str, zone: Option<&str>, offset_days: u32) -> Result<Schedule, ScheduleError> {
        let expression = Expression::parse(expression)?;
        let zone = match zone {
            None => Tz::UTC,
            Some(name) => zone::parse_zone(name).ok_or_else(|| ScheduleError::Zone(name.chars().take(64).collect()))?,
        };
        if offset_days > 0 {
            if !matches!(expression, Expression::Cron(_)) {
                return Err(ScheduleError::Offset { offset: offset_days, reason: "an offset applies to cron expressions only".into() });
            }
            if offset_days > MAX_OFFSET_DAYS {
                return Err(ScheduleError::Offset { offset: offset_days, reason: format!("the offset is 0 to {MAX_OFFSET_DAYS} days") });
            }
        }
        Ok(Schedule { expression, zone, offset_days })
    }

    /// The first fire strictly after `after`. `anchor` is a rate schedule's start (it
    /// fires at the anchor and every period after it); cron and at ignore it.
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.expression {
            Expression::Rate(rate) => rate.next_after(after, anchor),
            Expression::At(local) => Some(zone::instant(self.zone, *local)).filter(|at| *at > after),
            Expression::Cron(cron) => {
                let offset = chrono::Duration::days(i64::from(self.offset_days));
                let mut from = zone::wall_clock(self.zone, after - offset);
                loop {
                    let local = cron.next_after(from)?;
                    let at = zone::instant(self.zone, local) + offset;
                    // The repeated hour of a fall-back maps to its first pass, which may
                    // lie before `after`: go on from there.
                    if at > after {
                        return Some(at);
                    }
                    from = local;
                }
            }
        }
    }

    /// The fire times after `after`, in order.
    pub fn upcoming(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(self.next_after(after, anchor), move |last| self.next_after(*last, anchor))
    }

    /// The zone the schedule runs in.
    pub fn zone_name(&self) -> &'static str {
        self.zone.name()
    }
}

#[cfg(test)]
mod tests;
