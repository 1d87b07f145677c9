//! Patch baselines: create, update, delete, read, list, and the default of
//! each operating system. Predefined baselines come from `bosun-patching` and
//! are never stored, so they cannot be changed or deleted.

use bosun_patching::baseline::{BaselineSpec, OperatingSystem, predefined};
use bosun_protocol::patch::PatchBaselineView;
use rusqlite::{Connection, OptionalExtension, params};

use crate::fleet::{json_error, random_hex};
use crate::{FleetError, Store, now, sql_error};

/// The most custom baselines a store keeps.
pub const MAX_BASELINES: usize = 1000;

/// A stored or predefined baseline, before views add groups and the default flag.
pub(crate) struct Baseline {
    pub id: String,
    pub spec: BaselineSpec,
    pub predefined: bool,
    pub created_at: Option<String>,
    pub modified_at: Option<String>,
}

fn predefined_by_id(id: &str) -> Option<Baseline> {
    OperatingSystem::ALL.into_iter().find(|os| os.predefined_baseline() == id).map(|os| Baseline {
        id: id.to_string(),
        spec: predefined(os),
        predefined: true,
        created_at: None,
        modified_at: None,
    })
}

fn stored_spec(text: &str) -> Result<BaselineSpec, rusqlite::Error> {
    serde_json::from_str(text).map_err(|e| json_error(1, e))
}

/// A baseline by id or name.
pub(crate) fn find(conn: &Connection, id_or_name: &str) -> Result<Option<Baseline>, rusqlite::Error> {
    if let Some(found) = predefined_by_id(id_or_name) {
        return Ok(Some(found));
    }
    conn.prepare_cached("SELECT id, spec, created_at, modified_at FROM patch_baselines WHERE id = ?1 OR name = ?1")?
        .query_row([id_or_name], |r| {
            let id: String = r.get(0)?;
            let spec: String = r.get(1)?;
            Ok(Baseline { spec: stored_spec(&spec)?, id, predefined: false, created_at: r.get(2)?, modified_at: r.get(3)? })
        })
        .optional()
}

/// The default baseline's id of an operating system.
pub(crate) fn default_of(conn: &Connection, os: OperatingSystem) -> Result<String, rusqlite::Error> {
    let stored: Option<String> = conn
        .prepare_cached("SELECT baseline_id FROM patch_default_baselines WHERE operating_system = ?1")?
        .query_row([os.as_str()], |r| r.get(0))
        .optional()?;
    Ok(stored.unwrap_or_else(|| os.predefined_baseline().to_string()))
}

fn view(conn: &Connection, baseline: Baseline) -> Result<PatchBaselineView, rusqlite::Error> {
    let os = baseline.spec.operating_system;
    let groups: Vec<String> = conn
        .prepare_cached("SELECT name FROM patch_groups WHERE baseline_id = ?1 ORDER BY name")?
        .query_map([&baseline.id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(PatchBaselineView {
        default: default_of(conn, os)? == baseline.id,
        id: baseline.id,
        name: baseline.spec.name.clone(),
        operating_system: os.as_str().to_string(),
        predefined: baseline.predefined,
        patch_groups: groups,
        baseline: baseline.spec.to_value(),
        created_at: baseline.created_at,
        modified_at: baseline.modified_at,
    })
}

fn read_only(id: &str) -> FleetError {
    FleetError::Conflict(format!("{id} is a predefined baseline and cannot be changed; create your own and make it the default"))
}

fn not_found(id: &str) -> FleetError {
    FleetError::NotFound(format!("no patch baseline {id}"))
}

fn name_taken(conn: &Connection, name: &str, except_id: &str) -> Result<bool, FleetError> {
    if OperatingSystem::ALL.iter().any(|os| os.predefined_baseline() == name) {
        return Ok(true);
    }
    let found: Option<String> =
        conn.query_row("SELECT id FROM patch_baselines WHERE name = ?1", [name], |r| r.get(0)).optional().map_err(sql_error)?;
    Ok(found.is_some_and(|id| id != except_id))
}

fn create(conn: &Connection, spec: &BaselineSpec) -> Result<PatchBaselineView, FleetError> {
    if name_taken(conn, &spec.name, "")? {
        return Err(FleetError::Conflict(format!("a patch baseline named {} exists", spec.name)));
    }
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM patch_baselines", [], |r| r.get(0)).map_err(sql_error)?;
    if count as usize >= MAX_BASELINES {
        return Err(FleetError::Conflict(format!("this store keeps at most {MAX_BASELINES} patch baselines")));
    }
    let id = format!("pb-{}", &random_hex(9)?[..17]);
    let at = now();
    let text = serde_json::to_string(spec).map_err(|e| FleetError::invalid("baseline", e.to_string()))?;
    conn.execute(
        "INSERT INTO patch_baselines (id, name, operating_system, spec, created_at, modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![id, spec.name, spec.operating_system.as_str(), text, at],
    )
    .map_err(sql_error)?;
    let created = find(conn, &id).map_err(sql_error)?.ok_or_else(|| not_found(&id))?;
    view(conn, created).map_err(|e| sql_error(e).into())
}

fn update(conn: &Connection, id: &str, spec: &BaselineSpec) -> Result<PatchBaselineView, FleetError> {
    let existing = find(conn, id).map_err(sql_error)?.ok_or_else(|| not_found(id))?;
    if existing.predefined {
        return Err(read_only(id));
    }
    if existing.spec.operating_system != spec.operating_system {
        return Err(FleetError::invalid("OperatingSystem", "a baseline's operating system cannot change; create another baseline"));
    }
    if name_taken(conn, &spec.name, &existing.id)? {
        return Err(FleetError::Conflict(format!("a patch baseline named {} exists", spec.name)));
    }
    let text = serde_json::to_string(spec).map_err(|e| FleetError::invalid("baseline", e.to_string()))?;
    conn.execute(
        "UPDATE patch_baselines SET name = ?2, spec = ?3, modified_at = ?4 WHERE id = ?1",
        params![existing.id, spec.name, text, now()],
    )
    .map_err(sql_error)?;
    let updated = find(conn, &existing.id).map_err(sql_error)?.ok_or_else(|| not_found(id))?;
    view(conn, updated).map_err(|e| sql_error(e).into())
}

fn delete(conn: &Connection, id: &str) -> Result<(), FleetError> {
    let existing = find(conn, id).map_err(sql_error)?.ok_or_else(|| not_found(id))?;
    if existing.predefined {
        return Err(read_only(id));
    }
    if default_of(conn, existing.spec.operating_system).map_err(sql_error)? == existing.id {
        return Err(FleetError::Conflict(format!(
            "{} is the default baseline of {}; make another one the default first",
            existing.id,
            existing.spec.operating_system.as_str()
        )));
    }
    let groups: i64 =
        conn.query_row("SELECT COUNT(*) FROM patch_groups WHERE baseline_id = ?1", [&existing.id], |r| r.get(0)).map_err(sql_error)?;
    if groups > 0 {
        return Err(FleetError::Conflict(format!("{} is registered with {groups} patch group(s); deregister them first", existing.id)));
    }
    conn.execute("DELETE FROM patch_baselines WHERE id = ?1", [&existing.id]).map_err(sql_error)?;
    Ok(())
}

fn set_default(conn: &Connection, id: &str) -> Result<PatchBaselineView, FleetError> {
    let baseline = find(conn, id).map_err(sql_error)?.ok_or_else(|| not_found(id))?;
    let os = baseline.spec.operating_system;
    if baseline.predefined {
        conn.execute("DELETE FROM patch_default_baselines WHERE operating_system = ?1", [os.as_str()]).map_err(sql_error)?;
    } else {
        conn.execute(
            "INSERT INTO patch_default_baselines (operating_system, baseline_id) VALUES (?1, ?2)
             ON CONFLICT (operating_system) DO UPDATE SET baseline_id = excluded.baseline_id",
            [os.as_str(), &baseline.id],
        )
        .map_err(sql_error)?;
    }
    view(conn, baseline).map_err(|e| sql_error(e).into())
}

impl Store {
    /// Creates a custom baseline (checked again here; names are unique).
    pub fn create_patch_baseline(&self, spec: BaselineSpec) -> Result<PatchBaselineView, FleetError> {
        spec.check().map_err(|e| FleetError::invalid("baseline", e))?;
        self.fleet_write(move |conn| create(conn, &spec))
    }

    /// Replaces a custom baseline's definition.
    pub fn update_patch_baseline(&self, id: &str, spec: BaselineSpec) -> Result<PatchBaselineView, FleetError> {
        spec.check().map_err(|e| FleetError::invalid("baseline", e))?;
        let id = id.to_string();
        self.fleet_write(move |conn| update(conn, &id, &spec))
    }

    /// Deletes a custom baseline that is neither a default nor registered with a group.
    pub fn delete_patch_baseline(&self, id: &str) -> Result<(), FleetError> {
        let id = id.to_string();
        self.fleet_write(move |conn| delete(conn, &id))
    }

    /// Makes a baseline its operating system's default.
    pub fn set_default_patch_baseline(&self, id: &str) -> Result<PatchBaselineView, FleetError> {
        let id = id.to_string();
        self.fleet_write(move |conn| set_default(conn, &id))
    }

    /// A baseline by id or name.
    pub fn patch_baseline(&self, id_or_name: &str) -> Result<PatchBaselineView, FleetError> {
        let found = self.fleet_read(|conn| find(conn, id_or_name)?.map(|b| view(conn, b)).transpose())?;
        found.ok_or_else(|| not_found(id_or_name))
    }

    /// Every baseline (predefined first), of one operating system when given.
    pub fn list_patch_baselines(&self, os: Option<OperatingSystem>) -> Result<Vec<PatchBaselineView>, FleetError> {
        Ok(self.fleet_read(|conn| {
            let mut all = Vec::new();
            for system in OperatingSystem::ALL.into_iter().filter(|s| os.is_none_or(|o| o == *s)) {
                if let Some(b) = predefined_by_id(system.predefined_baseline()) {
                    all.push(view(conn, b)?);
                }
            }
            let ids: Vec<String> = conn
                .prepare("SELECT id FROM patch_baselines WHERE ?1 IS NULL OR operating_system = ?1 ORDER BY name")?
                .query_map([os.map(|o| o.as_str())], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in ids {
                if let Some(b) = find(conn, &id)? {
                    all.push(view(conn, b)?);
                }
            }
            Ok(all)
        })?)
    }
}
