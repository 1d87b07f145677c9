//! `bosun:findOrphanedVolumes`: the EBS volumes in state `available` (attached
//! to nothing) created more than `MinimumAgeDays` ago, every page of
//! DescribeVolumes, at most `MaxVolumes` of them, oldest first.

use bosun_plugin_sdk::{Host, PluginError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::api;

/// The most volumes one step returns: an `aws:loop` runs at most 100 iterations.
const MAX_VOLUMES: usize = 100;
/// The most DescribeVolumes pages read.
const MAX_PAGES: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FindInput {
    pub minimum_age_days: u32,
    /// More EC2 filters, as the SDKs take them (`[{Name, Values}]`).
    #[serde(default)]
    pub filters: Vec<Value>,
    pub max_volumes: Option<usize>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub volume_id: String,
    pub size: String,
    pub create_time: String,
    pub availability_zone: String,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct FindOutput {
    pub volume_ids: Vec<String>,
    pub volumes: Vec<Volume>,
    pub count: usize,
    /// True when more volumes matched than `MaxVolumes`.
    pub truncated: bool,
}

pub fn find_orphaned_volumes(input: FindInput, host: &Host) -> Result<FindOutput, PluginError> {
    let limit = input.max_volumes.unwrap_or(MAX_VOLUMES);
    if limit == 0 || limit > MAX_VOLUMES {
        return Err(PluginError::invalid_input(format!("MaxVolumes must be between 1 and {MAX_VOLUMES}")));
    }
    let cutoff = Utc::now() - Duration::days(i64::from(input.minimum_age_days));
    let mut filters = vec![json!({"Name": "status", "Values": ["available"]})];
    filters.extend(input.filters);
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut params = Map::new();
        params.insert("Filters".into(), Value::Array(filters.clone()));
        if let Some(next) = &token {
            params.insert("NextToken".into(), json!(next));
        }
        let answer = api::call(host, "ec2", "DescribeVolumes", &params)?;
        for volume in answer.get("Volumes").and_then(Value::as_array).into_iter().flatten() {
            if let Some(volume) = older_than(volume, cutoff)? {
                found.push(volume);
            }
        }
        token = answer.get("NextToken").and_then(Value::as_str).filter(|t| !t.is_empty()).map(String::from);
        if token.is_none() {
            break;
        }
    }
    found.sort_by(|a, b| a.create_time.cmp(&b.create_time));
    let truncated = found.len() > limit;
    found.truncate(limit);
    Ok(FindOutput { volume_ids: found.iter().map(|v| v.volume_id.clone()).collect(), count: found.len(), volumes: found, truncated })
}

/// The volume, when it is available and was created before `cutoff`.
fn older_than(volume: &Value, cutoff: DateTime<Utc>) -> Result<Option<Volume>, PluginError> {
    let text = |key: &str| volume.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    if text("State") != "available" {
        return Ok(None);
    }
    let created = text("CreateTime");
    let at = DateTime::parse_from_rfc3339(&created)
        .map_err(|e| PluginError::failed(format!("volume {}: CreateTime {created:?} is not a time: {e}", text("VolumeId"))))?;
    if at.with_timezone(&Utc) > cutoff {
        return Ok(None);
    }
    Ok(Some(Volume { volume_id: text("VolumeId"), size: text("Size"), create_time: created, availability_zone: text("AvailabilityZone") }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_plugin_sdk::HttpResponse;
    use bosun_plugin_sdk::testing::TestHost;

    fn volume(id: &str, state: &str, created: &str) -> String {
        format!(
            "<item><volumeId>{id}</volumeId><status>{state}</status><createTime>{created}</createTime><size>8</size><availabilityZone>us-east-1a</availabilityZone></item>"
        )
    }

    #[test]
    fn keeps_available_volumes_older_than_the_cutoff_oldest_first() {
        let now = Utc::now();
        let days_ago = |d: i64| (now - Duration::days(d)).to_rfc3339();
        let body = format!(
            "<DescribeVolumesResponse><volumeSet>{}{}{}{}</volumeSet></DescribeVolumesResponse>",
            volume("vol-new", "available", &days_ago(1)),
            volume("vol-old", "available", &days_ago(40)),
            volume("vol-older", "available", &days_ago(90)),
            volume("vol-used", "in-use", &days_ago(90)),
        );
        let test = TestHost::builder().http("POST", "aws://ec2/", HttpResponse::new(200, body)).build();
        let out = find_orphaned_volumes(FindInput { minimum_age_days: 30, filters: vec![], max_volumes: None }, &test.host()).unwrap();
        assert_eq!(out.volume_ids, ["vol-older", "vol-old"]);
        assert_eq!(out.count, 2);
        assert!(!out.truncated);
        let sent = String::from_utf8_lossy(&test.http_requests()[0].body).into_owned();
        assert!(sent.contains("Filter.1.Name=status&Filter.1.Value.1=available"), "{sent}");
        let capped = find_orphaned_volumes(FindInput { minimum_age_days: 0, filters: vec![], max_volumes: Some(1) }, &test.host()).unwrap();
        assert_eq!((capped.count, capped.truncated), (1, true));
        assert!(find_orphaned_volumes(FindInput { minimum_age_days: 0, filters: vec![], max_volumes: Some(101) }, &test.host()).is_err());
    }

    #[test]
    fn a_bad_create_time_is_a_clear_failure() {
        let body = format!(
            "<DescribeVolumesResponse><volumeSet>{}</volumeSet></DescribeVolumesResponse>",
            volume("vol-1", "available", "yesterday")
        );
        let test = TestHost::builder().http("POST", "aws://ec2/", HttpResponse::new(200, body)).build();
        let e = find_orphaned_volumes(FindInput { minimum_age_days: 0, filters: vec![], max_volumes: None }, &test.host()).unwrap_err();
        assert!(e.message().starts_with("volume vol-1: CreateTime \"yesterday\" is not a time"), "{}", e.message());
    }
}
