//! `bosun schedule next`: the next fire times of a schedule expression, so an author
//! can check one before putting it in an association. Local: no server needed.

use std::process::ExitCode;

use bosun_schedule::Schedule;
use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::CliError;
use crate::output::{OutputArg, OutputFormat, print_json};

/// The most fire times printed at once.
const MAX_COUNT: usize = 1000;

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Print the next fire times of cron(...), rate(...) or at(...), RFC 3339, one a line.
    Next {
        /// The expression, e.g. 'cron(0 2 ? * SUN *)', 'rate(30 minutes)', 'at(2026-07-01T12:00:00)'.
        expression: String,
        /// How many fire times.
        #[arg(long, default_value_t = 5)]
        count: usize,
        /// The IANA zone the expression runs in (times are printed with its offset).
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Start after this time (RFC 3339; default now); a rate counts from it.
        #[arg(long, value_name = "TIME")]
        after: Option<String>,
        /// Days added to each cron fire (0 to 6).
        #[arg(long, default_value_t = 0)]
        offset: u32,
        #[command(flatten)]
        output: OutputArg,
    },
}

/// The fire times as RFC 3339 text in the schedule's zone.
pub fn next_fires(expression: &str, tz: Option<&str>, offset: u32, after: DateTime<Utc>, count: usize) -> Result<Vec<String>, CliError> {
    if count == 0 || count > MAX_COUNT {
        return Err(CliError::usage(format!("--count is 1 to {MAX_COUNT}")));
    }
    let schedule = Schedule::new(expression, tz, offset).map_err(|e| CliError::usage(e.to_string()))?;
    Ok(schedule.upcoming(after, after).take(count).map(|t| t.with_timezone(&schedule.zone).to_rfc3339()).collect())
}

pub fn run(command: ScheduleCommand) -> Result<ExitCode, CliError> {
    match command {
        ScheduleCommand::Next { expression, count, tz, after, offset, output } => {
            let after = match after {
                None => Utc::now(),
                Some(text) => DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| CliError::usage(format!("--after {text:?}: not an RFC 3339 time ({e})")))?,
            };
            let fires = next_fires(&expression, tz.as_deref(), offset, after, count)?;
            match output.output {
                OutputFormat::Json => print_json(&serde_json::json!(fires)),
                OutputFormat::Text => {
                    if fires.is_empty() {
                        eprintln!("the schedule does not fire after {}", after.to_rfc3339());
                    }
                    for fire in fires {
                        crate::outln!("{fire}");
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fire_times_are_printed_in_the_zone_and_bad_input_is_a_usage_error() {
        let after: DateTime<Utc> = "2026-03-28T12:00:00Z".parse().unwrap();
        let fires = next_fires("cron(30 2 * * ? *)", Some("Europe/Berlin"), 0, after, 2).unwrap();
        assert_eq!(fires, ["2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"]);
        let error = next_fires("cron(0 25 * * ? *)", None, 0, after, 2).unwrap_err();
        assert_eq!((error.code, error.message.as_str()), (2, "hours field: \"25\": 25 is outside 0-23"));
        assert_eq!(next_fires("rate(1 day)", None, 0, after, 0).unwrap_err().code, 2);
        assert_eq!(next_fires("rate(1 day)", None, 0, after, MAX_COUNT + 1).unwrap_err().code, 2);
    }
}
