//! Firing parameter policies. Candidates are found on the read connection; each due
//! policy then fires in a writer job that looks again (the version is still the
//! latest, no firing row for this policy and due time) and commits the firing row,
//! its event and, for Expiration, the deletion together. A firing is therefore
//! neither lost nor doubled across restarts or several processes.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{ParamError, policies, sql};
use crate::events::{NewEvent, append};
use crate::{Store, now, timestamp};

/// A policy that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub name: String,
    pub policy_type: String,
    pub due_at: String,
    pub event_id: String,
}

/// A policy due for a parameter's latest version.
#[derive(Debug, Clone)]
struct Due {
    name: String,
    version: i64,
    kind: String,
    policy_type: &'static str,
    due_at: String,
}

fn already_fired(conn: &Connection, due: &Due) -> Result<bool, ParamError> {
    conn.prepare_cached("SELECT 1 FROM parameter_policy_firings WHERE name = ?1 AND policy = ?2 AND due_at = ?3")
        .and_then(|mut s| s.query_row(params![due.name, due.policy_type, due.due_at], |r| r.get::<_, i64>(0)).optional())
        .map(|found| found.is_some())
        .map_err(sql)
}

/// Policies of latest versions due at `now` that have not fired.
fn due_now(conn: &Connection, now: DateTime<Utc>) -> Result<Vec<Due>, ParamError> {
    let rows: Vec<(String, i64, String, String, String)> = conn
        .prepare_cached(
            "SELECT v.name, v.version, v.type, v.policies, v.modified_at FROM parameters p
             JOIN parameter_versions v ON v.name = p.name AND v.version = p.latest WHERE v.policies IS NOT NULL",
        )
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect())
        .map_err(sql)?;
    let mut due = Vec::new();
    for (name, version, kind, text, modified_at) in rows {
        let Ok(parsed) = policies::parse(&text) else { continue };
        let changed = modified_at.parse::<DateTime<Utc>>().unwrap_or(now);
        for (policy_type, at) in policies::due(&parsed, changed) {
            let candidate = Due { name: name.clone(), version, kind: kind.clone(), policy_type, due_at: timestamp(at) };
            if at <= now && !already_fired(conn, &candidate)? {
                due.push(candidate);
            }
        }
    }
    // A notification fires before the expiration it announces when both are due.
    due.sort_by(|a, b| a.due_at.cmp(&b.due_at));
    Ok(due)
}

fn fire(conn: &Connection, due: &Due) -> Result<Option<Firing>, ParamError> {
    let latest: Option<i64> =
        conn.query_row("SELECT latest FROM parameters WHERE name = ?1", [&due.name], |r| r.get(0)).optional().map_err(sql)?;
    if latest != Some(due.version) || already_fired(conn, due)? {
        return Ok(None);
    }
    let status = match due.policy_type {
        "Expiration" => "Expired",
        "ExpirationNotification" => "ExpirationNotification",
        _ => "NoChangeNotification",
    };
    if due.policy_type == "Expiration" {
        super::write::delete(conn, &due.name)?;
    }
    let event_id = append(
        conn,
        &NewEvent {
            source: "bosun.parameter".into(),
            detail_type: "Parameter Store Policy Action".into(),
            resources: vec![format!("parameter:{}", super::as_path(&due.name))],
            detail: serde_json::json!({
                "parameter-name": due.name,
                "parameter-type": due.kind,
                "parameter-version": due.version,
                "policy-type": due.policy_type,
                "action-status": status,
                "due-at": due.due_at,
            }),
        },
    )?;
    conn.execute(
        "INSERT INTO parameter_policy_firings (name, policy, due_at, fired_at, event_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![due.name, due.policy_type, due.due_at, now(), event_id],
    )
    .map_err(sql)?;
    Ok(Some(Firing { name: due.name.clone(), policy_type: due.policy_type.into(), due_at: due.due_at.clone(), event_id }))
}

impl Store {
    /// Fires every policy due at `now` that has not fired yet, each in a transaction
    /// with its event; returns what fired.
    pub fn fire_due_policies(&self, now: DateTime<Utc>) -> Result<Vec<Firing>, ParamError> {
        let due = self.read(|conn| Ok(due_now(conn, now)))??;
        let mut fired = Vec::new();
        for candidate in due {
            if let Some(firing) = self.param_job(move |conn| fire(conn, &candidate))? {
                fired.push(firing);
            }
        }
        Ok(fired)
    }
}
