//! Step records as the store writes them (step-log rows and ended executions'
//! histories): without the execution id, which the row or the execution
//! already names, with one-letter field names, and with timestamps as integer
//! nanoseconds, which are shorter and faster to write than RFC 3339 text.
//! Every transition appends such records, so their size decides how often the
//! step log needs a new page. Reading accepts the full `StepRecord` JSON of
//! older databases as well.

use bosun_engine::{Decision, StepRecord, StepStatus, StoreError};
use chrono::{DateTime, FixedOffset, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON array of step records, in the store's form.
pub(crate) fn encode_steps<'a>(steps: impl IntoIterator<Item = &'a StepRecord>) -> Result<String, StoreError> {
    let steps: Vec<Stored<'_>> = steps.into_iter().map(Stored::from).collect();
    serde_json::to_string(&steps).map_err(|e| StoreError(format!("cannot encode a step record: {e}")))
}

/// Reads a JSON array of step records of the execution `execution_id`, in either form.
pub(crate) fn decode_steps(execution_id: &str, text: &str) -> Result<Vec<StepRecord>, StoreError> {
    let steps: Vec<Loaded> = serde_json::from_str(text).map_err(|e| StoreError(format!("cannot decode stored step records: {e}")))?;
    Ok(steps.into_iter().map(|s| s.into_record(execution_id)).collect())
}

/// A record in the store's form: each field's one-letter name is written beside it.
#[derive(Serialize)]
struct Stored<'a> {
    #[serde(rename = "q")]
    seq: u32,
    #[serde(rename = "n")]
    name: &'a str,
    #[serde(rename = "a")]
    action: &'a str,
    #[serde(rename = "s")]
    status: StepStatus,
    #[serde(rename = "t")]
    attempt: u32,
    #[serde(rename = "i")]
    inputs: &'a Value,
    #[serde(rename = "o", skip_serializing_if = "Map::is_empty")]
    outputs: &'a Map<String, Value>,
    #[serde(rename = "f", skip_serializing_if = "Option::is_none")]
    failure_message: Option<&'a str>,
    #[serde(rename = "b")]
    started_at: Time,
    #[serde(rename = "e", skip_serializing_if = "Option::is_none")]
    ended_at: Option<Time>,
    #[serde(rename = "w", skip_serializing_if = "Option::is_none")]
    wake_at: Option<Time>,
    #[serde(rename = "c", skip_serializing_if = "Option::is_none")]
    child_execution_id: Option<&'a str>,
    #[serde(rename = "d", skip_serializing_if = "<[Decision]>::is_empty")]
    decisions: &'a [Decision],
    #[serde(rename = "r", skip_serializing_if = "is_zero")]
    resumed: u32,
    #[serde(rename = "l", skip_serializing_if = "Option::is_none")]
    iteration: Option<u64>,
}

impl<'a> From<&'a StepRecord> for Stored<'a> {
    fn from(record: &'a StepRecord) -> Self {
        // Every field named, so that a new field of StepRecord does not go unstored unnoticed.
        let StepRecord {
            execution_id: _,
            seq,
            name,
            action,
            status,
            attempt,
            inputs,
            outputs,
            failure_message,
            started_at,
            ended_at,
            wake_at,
            child_execution_id,
            decisions,
            resumed,
            iteration,
        } = record;
        Stored {
            seq: *seq,
            name,
            action,
            status: *status,
            attempt: *attempt,
            inputs,
            outputs,
            failure_message: failure_message.as_deref(),
            started_at: Time(*started_at),
            ended_at: ended_at.map(Time),
            wake_at: wake_at.map(Time),
            child_execution_id: child_execution_id.as_deref(),
            decisions,
            resumed: *resumed,
            iteration: *iteration,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A record in either form: the store's one-letter names, or the full names of the
/// older form, which also carries the execution id.
#[derive(Deserialize)]
struct Loaded {
    /// Only in the older form; the execution's own id is used either way.
    #[serde(default, rename = "execution_id")]
    _execution_id: Option<String>,
    #[serde(rename = "q", alias = "seq")]
    seq: u32,
    #[serde(rename = "n", alias = "name")]
    name: String,
    #[serde(rename = "a", alias = "action")]
    action: String,
    #[serde(rename = "s", alias = "status")]
    status: StepStatus,
    #[serde(rename = "t", alias = "attempt")]
    attempt: u32,
    #[serde(rename = "i", alias = "inputs")]
    inputs: Value,
    #[serde(rename = "o", alias = "outputs", default)]
    outputs: Map<String, Value>,
    #[serde(rename = "f", alias = "failure_message", default)]
    failure_message: Option<String>,
    #[serde(rename = "b", alias = "started_at")]
    started_at: Time,
    #[serde(rename = "e", alias = "ended_at", default)]
    ended_at: Option<Time>,
    #[serde(rename = "w", alias = "wake_at", default)]
    wake_at: Option<Time>,
    #[serde(rename = "c", alias = "child_execution_id", default)]
    child_execution_id: Option<String>,
    #[serde(rename = "d", alias = "decisions", default)]
    decisions: Vec<Decision>,
    #[serde(rename = "r", alias = "resumed", default)]
    resumed: u32,
    #[serde(rename = "l", alias = "iteration", default)]
    iteration: Option<u64>,
}

impl Loaded {
    fn into_record(self, execution_id: &str) -> StepRecord {
        StepRecord {
            execution_id: execution_id.to_string(),
            seq: self.seq,
            name: self.name,
            action: self.action,
            status: self.status,
            attempt: self.attempt,
            inputs: self.inputs,
            outputs: self.outputs,
            failure_message: self.failure_message,
            started_at: self.started_at.0,
            ended_at: self.ended_at.map(|t| t.0),
            wake_at: self.wake_at.map(|t| t.0),
            child_execution_id: self.child_execution_id,
            decisions: self.decisions,
            resumed: self.resumed,
            iteration: self.iteration,
        }
    }
}

/// A timestamp written as nanoseconds since the Unix epoch, or as RFC 3339 text when it
/// is outside what 64-bit nanoseconds hold (years 1677 to 2262). Reads both.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Time(DateTime<Utc>);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.timestamp_nanos_opt() {
            Some(nanos) => serializer.serialize_i64(nanos),
            None => self.0.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimeVisitor)
    }
}

struct TimeVisitor;

impl Visitor<'_> for TimeVisitor {
    type Value = Time;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("nanoseconds since the Unix epoch or an RFC 3339 timestamp")
    }

    fn visit_i64<E: de::Error>(self, nanos: i64) -> Result<Time, E> {
        Ok(Time(DateTime::from_timestamp_nanos(nanos)))
    }

    fn visit_u64<E: de::Error>(self, nanos: u64) -> Result<Time, E> {
        i64::try_from(nanos).map_err(|_| E::custom("timestamp out of range")).and_then(|n| self.visit_i64(n))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Time, E> {
        text.parse::<DateTime<FixedOffset>>().map(|t| Time(t.with_timezone(&Utc))).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn record(at: DateTime<Utc>) -> StepRecord {
        StepRecord {
            execution_id: "e1".into(),
            seq: 3,
            name: "s".into(),
            action: "aws:approve".into(),
            status: StepStatus::Waiting,
            attempt: 2,
            inputs: json!({"A": [1, "two"]}),
            outputs: json!({"B": null}).as_object().cloned().unwrap_or_default(),
            failure_message: Some("once".into()),
            started_at: at,
            ended_at: Some(at + chrono::Duration::nanoseconds(1)),
            wake_at: Some(at),
            child_execution_id: Some("c".into()),
            decisions: vec![Decision { approver: "ann".into(), approved: true, comment: None, at }],
            resumed: 1,
            iteration: Some(4),
        }
    }

    #[test]
    fn records_come_back_as_written() {
        let now = Utc::now();
        let far = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
        let early = Utc.with_ymd_and_hms(1000, 1, 1, 0, 0, 0).unwrap();
        let records = vec![record(now), record(far), record(early)];
        let text = encode_steps(&records).unwrap();
        assert!(!text.contains("e1"), "the execution id is not repeated: {text}");
        assert_eq!(decode_steps("e1", &text).unwrap(), records);
    }

    #[test]
    fn the_older_form_still_reads() {
        let records = vec![record(Utc::now())];
        let text = serde_json::to_string(&records).unwrap();
        assert_eq!(decode_steps("e1", &text).unwrap(), records);
    }
}
