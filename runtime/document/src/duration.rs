//! `aws:sleep` times: ISO 8601 durations (`PT10M`) and timestamps (`2026-01-01T00:00:00Z`).
use std::time::Duration;

use chrono::{DateTime, Utc};

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let _ = text;
    unimplemented!()
}

pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    let _ = text;
    unimplemented!()
}
