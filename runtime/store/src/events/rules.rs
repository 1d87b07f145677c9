//! Rules as the operator wrote them (an event pattern and targets, as JSON),
//! enabled or not. The server checks a rule before it is stored here.

use bosun_engine::StoreError;
use bosun_protocol::events::{RuleSpec, RuleView};
use rusqlite::{OptionalExtension, params};

use crate::fleet::{FleetError, json_error};
use crate::generations::{bump_generation_after, generation_table};
use crate::{Store, now, sql_error};

pub(crate) const SCHEMA: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS rules (
    name TEXT PRIMARY KEY,
    -- The RuleSpec, as JSON.
    spec TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- rule_generation: bumped by every change to rules, so that a process keeping the
-- rules compiled sees any change.
",
    generation_table!("rule_generation"),
    bump_generation_after!("rule_generation", "rules_inserted", "INSERT", "rules"),
    bump_generation_after!("rule_generation", "rules_updated", "UPDATE", "rules"),
    bump_generation_after!("rule_generation", "rules_deleted", "DELETE", "rules"),
);

fn rule_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RuleView> {
    let mut spec: RuleSpec = serde_json::from_str(&r.get::<_, String>(0)?).map_err(|e| json_error(0, e))?;
    spec.enabled = r.get(1)?;
    Ok(RuleView { spec, created_at: r.get(2)?, updated_at: r.get(3)? })
}

impl Store {
    /// Stores a new rule.
    pub fn create_rule(&self, spec: &RuleSpec) -> Result<RuleView, FleetError> {
        let text = serde_json::to_string(spec).map_err(|e| StoreError(e.to_string()))?;
        let spec = spec.clone();
        self.fleet_write(move |conn| {
            let at = now();
            let inserted = conn
                .execute(
                    "INSERT OR IGNORE INTO rules (name, spec, enabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![spec.name, text, spec.enabled, at],
                )
                .map_err(sql_error)?;
            if inserted == 0 {
                return Err(FleetError::Conflict(format!("a rule named {} exists", spec.name)));
            }
            Ok(RuleView { spec: spec.clone(), created_at: at.clone(), updated_at: at })
        })
    }

    /// A number that moves whenever any rule is created, changed or deleted, by any
    /// process: read it before the rules, and keep what was read while it stays.
    pub fn rules_generation(&self) -> Result<i64, StoreError> {
        self.generation("rule_generation")
    }

    /// Every rule, by name.
    pub fn list_rules(&self) -> Result<Vec<RuleView>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached("SELECT spec, enabled, created_at, updated_at FROM rules ORDER BY name")?;
            statement.query_map([], rule_row)?.collect()
        })
    }

    pub fn get_rule(&self, name: &str) -> Result<Option<RuleView>, StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT spec, enabled, created_at, updated_at FROM rules WHERE name = ?1", [name], rule_row).optional()
        })
    }

    /// Enables or disables a rule; false when there is no such rule.
    pub fn set_rule_enabled(&self, name: &str, enabled: bool) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.write_count(move |conn| {
            conn.execute("UPDATE rules SET enabled = ?2, updated_at = ?3 WHERE name = ?1", params![name, enabled, now()])
        })
    }

    /// Deletes a rule; deliveries already due still run.
    pub fn delete_rule(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.write_count(move |conn| conn.execute("DELETE FROM rules WHERE name = ?1", [&name]))
    }
}
