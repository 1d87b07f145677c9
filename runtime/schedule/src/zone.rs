//! Wall-clock times in an IANA zone and the instants they name, across daylight-saving
//! changes: a time the clocks skip (spring forward) is moved later by the gap's length
//! (02:30 in a 02:00→03:00 gap is 03:30), and a time the clocks pass twice (fall back)
//! names its first occurrence, so a schedule fires once in the repeated hour.

use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The wall-clock time in `zone` at `at`.
pub(crate) fn wall_clock(zone: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&zone).naive_local()
}

/// The instant a wall-clock time in `zone` names.
pub(crate) fn instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: read the time with the offset in force before the gap. Zones do
            // not change offset twice within a day, so a day earlier is before the gap.
            let before = zone.offset_from_utc_datetime(&(local - chrono::Duration::days(1))).fix();
            Utc.from_utc_datetime(&(local - chrono::Duration::seconds(i64::from(before.local_minus_utc()))))
        }
    }
}

/// A zone by its IANA name.
pub(crate) fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}
