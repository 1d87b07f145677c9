//! Resource groups: a named tag query (for each key the values allowed, ORed;
//! keys ANDed). Members are computed when asked, from the registered nodes' tags.

use std::collections::{BTreeMap, BTreeSet};

use bosun_engine::StoreError;
use bosun_protocol::fleet::{CreateGroup, GroupView};
use bosun_protocol::target::{MAX_VALUES, check_tag_key, check_tag_value};
use rusqlite::{Connection, OptionalExtension, params};

use super::{FleetError, MAX_TAGS, json_error};
use crate::{Store, sql_error, timestamp};

/// The longest description of a group.
pub const MAX_GROUP_DESCRIPTION: usize = 512;

/// A group name: 1 to 128 letters, digits, `_`, `.` or `-`.
pub fn validate_group_name(name: &str) -> Result<(), String> {
    let fits = !name.is_empty() && name.len() <= 128 && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if fits { Ok(()) } else { Err(format!("group name {name:?} must be 1 to 128 letters, digits, '_', '.' or '-'")) }
}

/// A group's query: key to the values allowed.
pub(crate) type Query = BTreeMap<String, Vec<String>>;

fn check(group: &CreateGroup) -> Result<(), FleetError> {
    validate_group_name(&group.name).map_err(|m| FleetError::invalid("name", m))?;
    if group.description.chars().count() > MAX_GROUP_DESCRIPTION {
        return Err(FleetError::invalid("description", format!("a description has at most {MAX_GROUP_DESCRIPTION} characters")));
    }
    if group.tags.is_empty() {
        return Err(FleetError::invalid("tags", "a group needs at least one tag key with its values"));
    }
    if group.tags.len() > MAX_TAGS {
        return Err(FleetError::invalid("tags", format!("a group's query has at most {MAX_TAGS} keys")));
    }
    for (key, values) in &group.tags {
        let field = format!("tags.{key}");
        check_tag_key(key).map_err(|e| FleetError::invalid(&field, e.0))?;
        if values.is_empty() || values.len() > MAX_VALUES {
            return Err(FleetError::invalid(&field, format!("a key takes 1 to {MAX_VALUES} values")));
        }
        for value in values {
            check_tag_value(value).map_err(|e| FleetError::invalid(&field, e.0))?;
        }
    }
    Ok(())
}

/// The registered nodes whose tags match every key of `query` with one of its values.
pub(crate) fn members(conn: &Connection, query: &Query) -> rusqlite::Result<BTreeSet<String>> {
    let mut result: Option<BTreeSet<String>> = None;
    for (key, values) in query {
        let matching = super::targets::tagged(conn, key, values)?;
        result = Some(match result {
            None => matching,
            Some(so_far) => so_far.intersection(&matching).cloned().collect(),
        });
        if result.as_ref().is_some_and(BTreeSet::is_empty) {
            break;
        }
    }
    Ok(result.unwrap_or_default())
}

/// A group's query, if it exists.
pub(crate) fn group_query(conn: &Connection, name: &str) -> rusqlite::Result<Option<Query>> {
    let text: Option<String> =
        conn.prepare_cached("SELECT query FROM resource_groups WHERE name = ?1")?.query_row(params![name], |r| r.get(0)).optional()?;
    text.map(|t| serde_json::from_str(&t).map_err(|e| json_error(0, e))).transpose()
}

fn view(conn: &Connection, name: String, description: String, query: String, created_at: String) -> rusqlite::Result<GroupView> {
    let tags: Query = serde_json::from_str(&query).map_err(|e| json_error(2, e))?;
    let nodes = members(conn, &tags)?.into_iter().collect();
    Ok(GroupView { name, description, tags, created_at, nodes })
}

impl Store {
    /// Creates a group; its name must be new.
    pub fn create_group(&self, group: &CreateGroup) -> Result<GroupView, FleetError> {
        check(group)?;
        let query = serde_json::to_string(&group.tags).map_err(|e| StoreError(e.to_string()))?;
        let (group, at) = (group.clone(), timestamp(chrono::Utc::now()));
        let created_at = at.clone();
        let name = group.name.clone();
        self.fleet_write(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO resource_groups (name, description, query, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
                    params![group.name, group.description, query, created_at],
                )
                .map_err(sql_error)?;
            if inserted == 0 {
                return Err(FleetError::Conflict(format!("a group named {} exists already", group.name)));
            }
            Ok(())
        })?;
        self.get_group(&name)?.ok_or_else(|| FleetError::NotFound(format!("no group named {name}")))
    }

    /// Every group, by name, each with its members now.
    pub fn list_groups(&self) -> Result<Vec<GroupView>, StoreError> {
        self.fleet_read(|conn| {
            let mut statement = conn.prepare("SELECT name, description, query, created_at FROM resource_groups ORDER BY name")?;
            let rows: Vec<(String, String, String, String)> =
                statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
            rows.into_iter().map(|(name, description, query, created_at)| view(conn, name, description, query, created_at)).collect()
        })
    }

    /// One group with its members now.
    pub fn get_group(&self, name: &str) -> Result<Option<GroupView>, StoreError> {
        self.fleet_read(|conn| {
            let row: Option<(String, String, String, String)> = conn
                .query_row("SELECT name, description, query, created_at FROM resource_groups WHERE name = ?1", params![name], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            row.map(|(name, description, query, created_at)| view(conn, name, description, query, created_at)).transpose()
        })
    }

    /// Deletes a group; false when there is none of that name.
    pub fn delete_group(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.fleet_write(move |conn| Ok(conn.execute("DELETE FROM resource_groups WHERE name = ?1", params![name]).map_err(sql_error)? > 0))
            .map_err(|e| match e {
                FleetError::Store(e) => e,
                other => StoreError(other.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        for good in ["web", "web-prod.eu_1", &"a".repeat(128)] {
            validate_group_name(good).unwrap();
        }
        for bad in ["", "a b", "é", "a/b", &"a".repeat(129)] {
            assert!(validate_group_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn queries_are_checked() {
        let group = |tags: Query| CreateGroup { name: "web".into(), description: String::new(), tags };
        check(&group(Query::from([("Env".into(), vec!["dev".into(), "prod".into()])]))).unwrap();
        let field = |g: CreateGroup| match check(&g).unwrap_err() {
            FleetError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(group(Query::new())), "tags");
        assert_eq!(field(group(Query::from([("Env".into(), vec![])]))), "tags.Env");
        assert_eq!(field(group(Query::from([("aws:x".into(), vec!["1".into()])]))), "tags.aws:x");
        assert_eq!(field(CreateGroup { name: "a b".into(), ..group(Query::from([("Env".into(), vec!["dev".into()])])) }), "name");
    }
}
