//! Activations: an id, a code shown once (only its sha256 is kept), a description,
//! the tags its nodes get, how many nodes may register with it and until when.

use std::collections::BTreeMap;
use std::time::Duration;

use bosun_engine::StoreError;
use bosun_protocol::fleet::{
    ActivationCreated, ActivationView, CreateActivation, DEFAULT_ACTIVATION_SECONDS, MAX_ACTIVATION_SECONDS, MAX_REGISTRATIONS,
};
use rusqlite::params;

use super::{FleetError, check_tags, json_error, parse_stamp, random_hex};
use crate::{Store, sql_error, timestamp, token_hash};

/// The longest description of an activation, as in SSM.
pub const MAX_DESCRIPTION: usize = 256;

/// Checks a new activation and fills in the defaults: (registration limit, lifetime).
fn check(request: &CreateActivation) -> Result<(u32, Duration), FleetError> {
    if request.description.chars().count() > MAX_DESCRIPTION {
        return Err(FleetError::invalid("description", format!("a description has at most {MAX_DESCRIPTION} characters")));
    }
    check_tags("tags", &request.tags)?;
    let limit = request.registration_limit.unwrap_or(1);
    if !(1..=MAX_REGISTRATIONS).contains(&limit) {
        return Err(FleetError::invalid("registrationLimit", format!("the registration limit is 1 to {MAX_REGISTRATIONS}, not {limit}")));
    }
    let seconds = request.expires_in_seconds.unwrap_or(DEFAULT_ACTIVATION_SECONDS);
    if !(1..=MAX_ACTIVATION_SECONDS).contains(&seconds) {
        return Err(FleetError::invalid(
            "expiresInSeconds",
            format!("an activation lasts 1 to {MAX_ACTIVATION_SECONDS} seconds (30 days), not {seconds}"),
        ));
    }
    Ok((limit, Duration::from_secs(seconds)))
}

fn view(r: &rusqlite::Row<'_>, now: chrono::DateTime<chrono::Utc>) -> rusqlite::Result<ActivationView> {
    let tags: String = r.get(2)?;
    let expires_at: String = r.get(6)?;
    Ok(ActivationView {
        activation_id: r.get(0)?,
        description: r.get(1)?,
        tags: serde_json::from_str::<BTreeMap<String, String>>(&tags).map_err(|e| json_error(2, e))?,
        registration_limit: r.get(3)?,
        registrations_count: r.get(4)?,
        created_at: r.get(5)?,
        expired: parse_stamp(&expires_at).is_none_or(|at| at <= now),
        expires_at,
    })
}

impl Store {
    /// Creates an activation; its code is in the answer and nowhere else.
    pub fn create_activation(&self, request: &CreateActivation) -> Result<ActivationCreated, FleetError> {
        let (limit, lifetime) = check(request)?;
        let id = format!("act-{}", random_hex(16)?);
        // 160 random bits; only the hash is written.
        let code = random_hex(20)?;
        let hash = token_hash(&code);
        let created = chrono::Utc::now();
        let expires = created + chrono::Duration::from_std(lifetime).map_err(|e| StoreError(e.to_string()))?;
        let (created_at, expires_at) = (timestamp(created), timestamp(expires));
        let tags = serde_json::to_string(&request.tags).map_err(|e| StoreError(e.to_string()))?;
        let (row_id, description, row_expires) = (id.clone(), request.description.clone(), expires_at.clone());
        self.fleet_write(move |conn| {
            conn.execute(
                "INSERT INTO activations (id, code_hash, description, tags, registration_limit, registrations_count, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7)",
                params![row_id, &hash[..], description, tags, limit, created_at, row_expires],
            )
            .map_err(sql_error)?;
            Ok(())
        })?;
        Ok(ActivationCreated { activation_id: id, activation_code: code, expires_at, registration_limit: limit })
    }

    /// Every activation, newest first (never the codes).
    pub fn list_activations(&self) -> Result<Vec<ActivationView>, StoreError> {
        let now = chrono::Utc::now();
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, description, tags, registration_limit, registrations_count, created_at, expires_at \
                 FROM activations ORDER BY created_at DESC, id",
            )?;
            statement.query_map([], |r| view(r, now))?.collect()
        })
    }

    /// Deletes an activation: no node registers with it from then on; the nodes that
    /// did stay registered. False when there is no such activation.
    pub fn delete_activation(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let deleted =
            self.fleet_write(move |conn| Ok(conn.execute("DELETE FROM activations WHERE id = ?1", params![id]).map_err(sql_error)? > 0));
        deleted.map_err(|e| match e {
            FleetError::Store(e) => e,
            other => StoreError(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_lifetimes_are_checked() {
        let ok = CreateActivation::default();
        assert_eq!(check(&ok).unwrap(), (1, Duration::from_secs(DEFAULT_ACTIVATION_SECONDS)));
        let field = |request: CreateActivation| match check(&request).unwrap_err() {
            FleetError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(CreateActivation { registration_limit: Some(0), ..ok.clone() }), "registrationLimit");
        assert_eq!(field(CreateActivation { registration_limit: Some(MAX_REGISTRATIONS + 1), ..ok.clone() }), "registrationLimit");
        assert_eq!(field(CreateActivation { expires_in_seconds: Some(0), ..ok.clone() }), "expiresInSeconds");
        assert_eq!(field(CreateActivation { expires_in_seconds: Some(MAX_ACTIVATION_SECONDS + 1), ..ok.clone() }), "expiresInSeconds");
        assert_eq!(field(CreateActivation { description: "x".repeat(MAX_DESCRIPTION + 1), ..ok.clone() }), "description");
        let tags = BTreeMap::from([("aws:name".to_string(), "x".to_string())]);
        assert_eq!(field(CreateActivation { tags, ..ok.clone() }), "tags.aws:name");
        let many = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(field(CreateActivation { tags: many, ..ok }), "tags");
    }
}
