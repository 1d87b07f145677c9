//! The expression table: month ends, leap years, daylight-saving changes, the day
//! rules, rates, at, offsets, and bad expressions with their messages.

use chrono::{DateTime, Utc};

use crate::Schedule;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// The first `count` fire times after `after`, as RFC 3339 in UTC.
fn next(expression: &str, zone: Option<&str>, offset: u32, after: &str, count: usize) -> Vec<String> {
    let schedule = Schedule::new(expression, zone, offset).unwrap_or_else(|e| panic!("{expression}: {e}"));
    schedule.upcoming(at(after), at(after)).take(count).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).collect()
}

/// An expression, its zone and offset, the time to start after, and the fires expected.
type Case<'a> = (&'a str, Option<&'a str>, u32, &'a str, &'a [&'a str]);

#[test]
fn fire_times_table() {
    let table: &[Case<'_>] = &[
        // Strictly after: a fire at `after` itself is not next.
        ("cron(0 10 * * ? *)", None, 0, "2026-01-01T10:00:00Z", &["2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z"]),
        ("cron(0/15 * * * ? *)", None, 0, "2026-01-01T10:07:00Z", &["2026-01-01T10:15:00Z", "2026-01-01T10:30:00Z"]),
        (
            "cron(5-20/5 3 * * ? *)",
            None,
            0,
            "2026-01-01T00:00:00Z",
            &["2026-01-01T03:05:00Z", "2026-01-01T03:10:00Z", "2026-01-01T03:15:00Z", "2026-01-01T03:20:00Z", "2026-01-02T03:05:00Z"],
        ),
        ("cron(0 12 1,15 * ? *)", None, 0, "2026-01-15T12:00:00Z", &["2026-02-01T12:00:00Z", "2026-02-15T12:00:00Z"]),
        // Month ends.
        (
            "cron(0 0 L * ? *)",
            None,
            0,
            "2026-01-15T00:00:00Z",
            &["2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"],
        ),
        ("cron(0 0 31 * ? *)", None, 0, "2026-01-31T00:00:00Z", &["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"]),
        ("cron(0 9 L-2 * ? *)", None, 0, "2026-01-01T00:00:00Z", &["2026-01-29T09:00:00Z", "2026-02-26T09:00:00Z"]),
        // Leap years.
        ("cron(0 0 L 2 ? *)", None, 0, "2027-03-01T00:00:00Z", &["2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"]),
        ("cron(0 12 29 2 ? *)", None, 0, "2025-01-01T00:00:00Z", &["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"]),
        // Names and ranges of names.
        ("cron(0 8 ? JAN-MAR MON-FRI *)", None, 0, "2026-03-31T08:00:00Z", &["2027-01-01T08:00:00Z", "2027-01-04T08:00:00Z"]),
        (
            "cron(0 8 ? * sun,SAT *)",
            None,
            0,
            "2026-01-01T00:00:00Z",
            &["2026-01-03T08:00:00Z", "2026-01-04T08:00:00Z", "2026-01-10T08:00:00Z"],
        ),
        // L, W and # (January 2026 starts on a Thursday).
        ("cron(0 9 ? * 6L *)", None, 0, "2026-01-01T00:00:00Z", &["2026-01-30T09:00:00Z", "2026-02-27T09:00:00Z"]),
        ("cron(0 9 ? * L *)", None, 0, "2026-01-01T00:00:00Z", &["2026-01-31T09:00:00Z"]),
        ("cron(0 9 ? * 2#1 *)", None, 0, "2026-01-01T00:00:00Z", &["2026-01-05T09:00:00Z", "2026-02-02T09:00:00Z"]),
        ("cron(0 9 ? * FRI#5 *)", None, 0, "2026-01-01T00:00:00Z", &["2026-01-30T09:00:00Z", "2026-05-29T09:00:00Z"]),
        ("cron(0 9 15W * ? *)", None, 0, "2026-02-01T00:00:00Z", &["2026-02-16T09:00:00Z", "2026-03-16T09:00:00Z", "2026-04-15T09:00:00Z"]),
        ("cron(0 9 15W 8 ? *)", None, 0, "2026-01-01T00:00:00Z", &["2026-08-14T09:00:00Z"]),
        ("cron(0 9 1W 8 ? *)", None, 0, "2026-01-01T00:00:00Z", &["2026-08-03T09:00:00Z"]),
        ("cron(0 9 LW * ? *)", None, 0, "2026-01-01T00:00:00Z", &["2026-01-30T09:00:00Z", "2026-02-27T09:00:00Z"]),
        ("cron(0 9 LW 5 ? 2026)", None, 0, "2026-01-01T00:00:00Z", &["2026-05-29T09:00:00Z"]),
        // The year field: nothing after the last year.
        ("cron(0 0 1 1 ? 2027)", None, 0, "2026-06-01T00:00:00Z", &["2027-01-01T00:00:00Z"]),
        // A time zone: 09:00 in New York is 14:00 UTC in winter, 13:00 in summer.
        ("cron(0 9 ? * MON *)", Some("America/New_York"), 0, "2026-03-01T00:00:00Z", &["2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z"]),
        // Spring forward in Berlin (2026-03-29, 02:00 → 03:00): 02:30 does not exist and
        // runs at 03:30 CEST, once.
        ("cron(30 2 * * ? *)", Some("Europe/Berlin"), 0, "2026-03-28T12:00:00Z", &["2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"]),
        // Fall back (2026-10-25, 03:00 → 02:00): 02:30 happens twice and runs at the first.
        ("cron(30 2 * * ? *)", Some("Europe/Berlin"), 0, "2026-10-24T12:00:00Z", &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        // Every half hour through the fall back: the repeated hour does not fire again.
        (
            "cron(0/30 * * * ? *)",
            Some("Europe/Berlin"),
            0,
            "2026-10-24T23:45:00Z",
            &["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:30:00Z"],
        ),
        // An offset of two days after the first Monday.
        ("cron(0 0 ? * 2#1 *)", None, 2, "2026-01-01T00:00:00Z", &["2026-01-07T00:00:00Z", "2026-02-04T00:00:00Z"]),
        ("rate(30 minutes)", None, 0, "2026-01-01T10:00:00Z", &["2026-01-01T10:30:00Z", "2026-01-01T11:00:00Z"]),
        ("rate(1 day)", None, 0, "2026-02-28T10:00:00Z", &["2026-03-01T10:00:00Z"]),
        ("at(2026-07-01T12:00:00)", Some("America/New_York"), 0, "2026-01-01T00:00:00Z", &["2026-07-01T16:00:00Z"]),
    ];
    for (expression, zone, offset, after, expected) in table {
        let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(next(expression, *zone, *offset, after, expected.len()), expected, "{expression} after {after}");
    }
}

#[test]
fn a_schedule_with_a_last_year_or_an_at_in_the_past_ends() {
    assert_eq!(next("cron(0 0 1 1 ? 2027)", None, 0, "2027-01-01T00:00:00Z", 1), Vec::<String>::new());
    assert_eq!(next("at(2026-07-01T12:00:00)", None, 0, "2026-07-01T12:00:00Z", 1), Vec::<String>::new());
    assert_eq!(next("cron(0 0 30 2 ? *)", None, 0, "2026-01-01T00:00:00Z", 1), Vec::<String>::new());
}

#[test]
fn a_rate_fires_at_its_anchor_then_every_period() {
    let schedule = Schedule::new("rate(2 hours)", None, 0).unwrap();
    let anchor = at("2026-01-01T10:00:00Z");
    assert_eq!(schedule.next_after(at("2026-01-01T09:00:00Z"), anchor), Some(anchor));
    assert_eq!(schedule.next_after(anchor, anchor), Some(at("2026-01-01T12:00:00Z")));
    assert_eq!(schedule.next_after(at("2026-01-02T11:59:59Z"), anchor), Some(at("2026-01-02T12:00:00Z")));
}

#[test]
fn bad_expressions_name_the_field_and_the_token() {
    let table: &[(&str, Option<&str>, u32, &str)] = &[
        ("cron(61 * * * ? *)", None, 0, "minutes field: \"61\": 61 is outside 0-59"),
        ("cron(0 24 * * ? *)", None, 0, "hours field: \"24\": 24 is outside 0-23"),
        (
            "cron(0 10 * * * *)",
            None,
            0,
            "day-of-week field: \"*\": give ? in day-of-month or in day-of-week: one of them must be ? (AWS cron cannot combine both)",
        ),
        ("cron(0 10 ? * ? *)", None, 0, "day-of-week field: \"?\": day-of-month and day-of-week cannot both be ?; give one of them"),
        ("cron(0 10 ? * FUNDAY *)", None, 0, "day-of-week field: \"FUNDAY\": \"FUNDAY\" is not a value (1-7 or SUN-SAT)"),
        ("cron(0 10 * SMARCH ? *)", None, 0, "month field: \"SMARCH\": \"SMARCH\" is not a value (1-12 or JAN-DEC)"),
        ("cron(0 10 * * ?)", None, 0, "cron(...) takes 6 fields (minutes hours day-of-month month day-of-week year), found 5"),
        ("cron(0 10 ? * 2#6 *)", None, 0, "day-of-week field: \"2#6\": d#n takes n from 1 to 5 (the nth such day of the month)"),
        ("cron(0 10 ? * 9L *)", None, 0, "day-of-week field: \"9L\": 9 is outside 1-7"),
        ("cron(0 10 32W * ? *)", None, 0, "day-of-month field: \"32W\": 32 is outside 1-31"),
        ("cron(0 10 L,15 * ? *)", None, 0, "day-of-month field: \"L,15\": L and W cannot be used in a list"),
        ("cron(0 10 XW * ? *)", None, 0, "day-of-month field: \"XW\": \"X\" is not a value (1-31)"),
        ("cron(*/0 * * * ? *)", None, 0, "minutes field: \"*/0\": the step \"0\" is not a number from 1 to 59"),
        ("cron(50-10 * * * ? *)", None, 0, "minutes field: \"50-10\": the range starts after it ends (50 > 10)"),
        ("cron(0 1,,2 * * ? *)", None, 0, "hours field: \"1,,2\": an empty item in the list"),
        ("cron(? 1 * * ? *)", None, 0, "minutes field: \"?\": ? is allowed only in day-of-month or day-of-week"),
        ("cron(0 1 * * ? 2200)", None, 0, "year field: \"2200\": 2200 is outside 1970-2100"),
        ("cron(0 1 * * ? -1)", None, 0, "year field: \"-1\": \"\" is not a value (1970-2100)"),
        ("rate(1 minutes)", None, 0, "rate unit: \"minutes\": write minute with 1"),
        ("rate(5 minute)", None, 0, "rate unit: \"minute\": write minutes with 5"),
        ("rate(0 minutes)", None, 0, "rate value: \"0\": not a whole number from 1 to 1000000"),
        ("rate(5 weeks)", None, 0, "rate unit: \"weeks\": not minute(s), hour(s) or day(s)"),
        ("rate(5)", None, 0, "rate(...) takes a value and a unit, such as rate(30 minutes); found \"5\""),
        ("at(2026-13-01T00:00:00)", None, 0, "at(...): \"2026-13-01T00:00:00\": not a date and time of the form 2026-01-31T22:00:00"),
        ("every(5 minutes)", None, 0, "\"every(5 minutes)\" is not a schedule: write cron(...), rate(...) or at(...)"),
        ("cron(0 10 * * ? *", None, 0, "\"cron(0 10 * * ? *\": the expression must end with )"),
        (
            "cron(0 10 * * ? *)",
            Some("Mars/Olympus_Mons"),
            0,
            "unknown time zone \"Mars/Olympus_Mons\" (give an IANA name such as Europe/Berlin, or UTC)",
        ),
        ("rate(1 day)", None, 2, "schedule offset 2: an offset applies to cron expressions only"),
        ("cron(0 10 * * ? *)", None, 7, "schedule offset 7: the offset is 0 to 6 days"),
    ];
    for (expression, zone, offset, message) in table {
        let error = Schedule::new(expression, *zone, *offset).expect_err(expression);
        assert_eq!(error.to_string(), *message, "{expression}");
    }
}

#[test]
fn hostile_expressions_are_refused_without_panic() {
    let long = format!("cron({} * * * ? *)", "1,".repeat(600));
    assert!(Schedule::new(&long, None, 0).unwrap_err().to_string().contains("longer than"));
    let long_field = format!("cron({}0 * * * ? *)", "0".repeat(300));
    assert!(Schedule::new(&long_field, None, 0).unwrap_err().to_string().starts_with("minutes field:"));
    for text in [
        "",
        "(",
        ")",
        "cron()",
        "cron(\u{e9}\u{e9} * * * ? *)",
        "rate(18446744073709551616 minutes)",
        "cron(0 0 ? * 2#99999999999 *)",
        "at()",
        "cron(0 0 L-99 * ? *)",
    ] {
        assert!(Schedule::new(text, None, 0).is_err(), "{text:?} was accepted");
    }
}

mod properties {
    use proptest::prelude::*;

    use super::at;
    use crate::Schedule;

    proptest! {
        /// Any text parses or fails with a message; a parsed schedule's fires move forward.
        #[test]
        fn any_text_parses_or_fails_without_panic(text in "(cron|rate|at)\\([ -~]{0,40}\\)|[ -~]{0,40}") {
            if let Ok(schedule) = Schedule::new(&text, Some("Europe/Berlin"), 0) {
                let after = at("2026-01-01T00:00:00Z");
                let fires: Vec<_> = schedule.upcoming(after, after).take(3).collect();
                prop_assert!(fires.windows(2).all(|w| w[0] < w[1]) && fires.iter().all(|f| *f > after));
            }
        }

        /// A daily cron fires at its minute and hour, within a day, strictly after.
        #[test]
        fn a_daily_cron_fires_at_its_time(minute in 0u32..60, hour in 0u32..24, start in 0i64..400_000_000) {
            use chrono::Timelike as _;
            let schedule = Schedule::new(&format!("cron({minute} {hour} * * ? *)"), None, 0).unwrap();
            let after = at("2026-01-01T00:00:00Z") + chrono::Duration::seconds(start);
            let fire = schedule.next_after(after, after).unwrap();
            prop_assert_eq!((fire.minute(), fire.hour(), fire.second()), (minute, hour, 0));
            prop_assert!(fire > after && fire - after <= chrono::Duration::days(1));
        }
    }
}
