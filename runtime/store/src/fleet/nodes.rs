//! Nodes: registration with an activation (one transaction), the node credential
//! (only its sha256 is kept; deregistering revokes it at once), the platform the
//! agent reports, when the node was last seen, its ping status and its tags.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bosun_engine::StoreError;
use bosun_protocol::PingStatus;
use bosun_protocol::agent::{Platform, Registered};
use bosun_protocol::fleet::{ChangeTags, NodeView};
use bosun_protocol::target::{check_tag_key, check_tag_value};
use rusqlite::{Connection, OptionalExtension, params};
use subtle::ConstantTimeEq;

use super::{FleetError, json_error, parse_stamp, random_hex};
use crate::{Store, sql_error, timestamp, token_hash};

/// The most tags a node has, as in AWS.
pub const MAX_TAGS: usize = 50;
/// The longest text of one platform field an agent may report.
pub const MAX_PLATFORM_FIELD: usize = 256;
/// The most IP addresses an agent may report.
pub const MAX_IP_ADDRESSES: usize = 64;

/// Whether a node is reachable: Inactive once deregistered, ConnectionLost when
/// it was last seen longer than `heartbeat_gap` before `now` (or never), else Online.
pub fn ping_status(last_seen: Option<&str>, deregistered: bool, heartbeat_gap: Duration, now: chrono::DateTime<chrono::Utc>) -> PingStatus {
    if deregistered {
        return PingStatus::Inactive;
    }
    let gap = chrono::Duration::from_std(heartbeat_gap).unwrap_or(chrono::Duration::MAX);
    match last_seen.and_then(parse_stamp) {
        Some(at) if now.signed_duration_since(at) <= gap => PingStatus::Online,
        _ => PingStatus::ConnectionLost,
    }
}

/// Checks what an agent reports of its platform: bounded sizes, no control characters.
pub(crate) fn check_platform(platform: &Platform) -> Result<(), FleetError> {
    let fields = [
        ("platformType", &platform.platform_type),
        ("name", &platform.name),
        ("version", &platform.version),
        ("kernel", &platform.kernel),
        ("architecture", &platform.architecture),
        ("hostname", &platform.hostname),
        ("agentVersion", &platform.agent_version),
    ];
    let check = |field: String, text: &str| {
        if text.chars().count() > MAX_PLATFORM_FIELD {
            return Err(FleetError::invalid(field, format!("at most {MAX_PLATFORM_FIELD} characters")));
        }
        if text.chars().any(char::is_control) {
            return Err(FleetError::invalid(field, "control characters are not allowed"));
        }
        Ok(())
    };
    for (name, text) in fields {
        check(format!("platform.{name}"), text)?;
    }
    if platform.ip_addresses.len() > MAX_IP_ADDRESSES {
        return Err(FleetError::invalid("platform.ipAddresses", format!("at most {MAX_IP_ADDRESSES} addresses")));
    }
    for (i, address) in platform.ip_addresses.iter().enumerate() {
        check(format!("platform.ipAddresses[{i}]"), address)?;
    }
    Ok(())
}

const NODE_COLUMNS: &str = "id, platform, activation_id, registered_at, last_seen, deregistered_at";

/// A node's row, without its tags.
fn node_row(r: &rusqlite::Row<'_>, heartbeat_gap: Duration, now: chrono::DateTime<chrono::Utc>) -> rusqlite::Result<NodeView> {
    let platform: String = r.get(1)?;
    let last_seen: Option<String> = r.get(4)?;
    let deregistered_at: Option<String> = r.get(5)?;
    Ok(NodeView {
        node_id: r.get(0)?,
        ping_status: ping_status(last_seen.as_deref(), deregistered_at.is_some(), heartbeat_gap, now),
        tags: BTreeMap::new(),
        platform: serde_json::from_str(&platform).map_err(|e| json_error(1, e))?,
        activation_id: r.get(2)?,
        registered_at: r.get(3)?,
        last_seen,
        deregistered_at,
    })
}

fn node_tags(conn: &Connection, id: &str) -> rusqlite::Result<BTreeMap<String, String>> {
    let mut statement = conn.prepare_cached("SELECT key, value FROM node_tags WHERE node_id = ?1")?;
    statement.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

fn read_node(conn: &Connection, id: &str, heartbeat_gap: Duration) -> rusqlite::Result<Option<NodeView>> {
    let now = chrono::Utc::now();
    let sql = format!("SELECT {NODE_COLUMNS} FROM nodes WHERE id = ?1");
    let Some(mut node) = conn.query_row(&sql, params![id], |r| node_row(r, heartbeat_gap, now)).optional()? else {
        return Ok(None);
    };
    node.tags = node_tags(conn, id)?;
    Ok(Some(node))
}

/// Whether a node exists and is registered, or the refusal to change it.
fn registered(conn: &Connection, id: &str) -> Result<(), FleetError> {
    let row: Option<Option<String>> =
        conn.query_row("SELECT deregistered_at FROM nodes WHERE id = ?1", params![id], |r| r.get(0)).optional().map_err(sql_error)?;
    match row {
        None => Err(FleetError::NotFound(format!("no node {id}"))),
        Some(Some(_)) => Err(FleetError::Conflict(format!("node {id} is deregistered"))),
        Some(None) => Ok(()),
    }
}

/// A new node id: `mi-` and 17 hex digits, as SSM names managed nodes.
fn new_node_id() -> Result<String, StoreError> {
    let mut hex = random_hex(9)?;
    hex.truncate(17);
    Ok(format!("mi-{hex}"))
}

impl Store {
    /// Registers a node with an activation, in one transaction: the code is compared
    /// by hash in constant time, the activation must not be expired nor used up, its
    /// count goes up by one, and the node gets the activation's tags. The answer has
    /// the node's credential (256 random bits; only its hash is kept).
    pub async fn register_node(&self, activation_id: &str, activation_code: &str, platform: &Platform) -> Result<Registered, FleetError> {
        check_platform(platform)?;
        let node_id = new_node_id()?;
        let credential = format!("bosun-node_{}", random_hex(32)?);
        let credential_hash = token_hash(&credential);
        let code_hash = token_hash(activation_code);
        let platform = serde_json::to_string(platform).map_err(|e| StoreError(e.to_string()))?;
        let (activation_id, row_id) = (activation_id.to_string(), node_id.clone());
        self.fleet_write_async(move |conn| {
            let now = chrono::Utc::now();
            let row: Option<(Vec<u8>, String, u32, u32, String)> = conn
                .prepare_cached(
                    "SELECT code_hash, tags, registration_limit, registrations_count, expires_at FROM activations WHERE id = ?1",
                )
                .and_then(|mut s| s.query_row(params![activation_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional())
                .map_err(sql_error)?;
            // Compare even when there is no such activation, so both take as long.
            let (stored, tags, limit, count, expires_at) = row.unwrap_or_else(|| (vec![0; 32], "{}".into(), 0, 0, String::new()));
            let code_matches = bool::from(stored.as_slice().ct_eq(code_hash.as_slice()));
            let live = parse_stamp(&expires_at).is_some_and(|at| at > now);
            if !code_matches || !live || count >= limit {
                tracing::info!(activation = %activation_id, code_matches, live, used_up = count >= limit, "registration refused");
                return Err(FleetError::Refused);
            }
            let tags: BTreeMap<String, String> = serde_json::from_str(&tags).map_err(|e| StoreError(e.to_string()))?;
            conn.execute("UPDATE activations SET registrations_count = registrations_count + 1 WHERE id = ?1", params![activation_id])
                .map_err(sql_error)?;
            let at = timestamp(now);
            conn.execute(
                "INSERT INTO nodes (id, credential_hash, activation_id, platform, registered_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![row_id, &credential_hash[..], activation_id, platform, at],
            )
            .map_err(sql_error)?;
            let mut insert = conn.prepare_cached("INSERT INTO node_tags (node_id, key, value) VALUES (?1, ?2, ?3)").map_err(sql_error)?;
            for (key, value) in &tags {
                insert.execute(params![row_id, key, value]).map_err(sql_error)?;
            }
            Ok(())
        })
        .await?;
        Ok(Registered { node_id, credential })
    }

    /// The id of the registered node whose credential this is; None when no node has
    /// it or the node is deregistered. The lookup goes by the sha256 of the
    /// credential (256 random bits), then compares the hash in constant time.
    pub fn verify_node_credential(&self, credential: &str) -> Result<Option<String>, StoreError> {
        let hash = token_hash(credential);
        let row: Option<(String, Vec<u8>)> = self.read(|conn| {
            conn.prepare_cached("SELECT id, credential_hash FROM nodes WHERE credential_hash = ?1 AND deregistered_at IS NULL")?
                .query_row(params![&hash[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })?;
        Ok(row.filter(|(_, stored)| bool::from(stored.as_slice().ct_eq(hash.as_slice()))).map(|(id, _)| id))
    }

    /// Records that a registered node was seen now. Callers limit how often they call
    /// it (the API writes at most once every few seconds per node).
    pub async fn touch_node(&self, node_id: &str) -> Result<(), StoreError> {
        let (id, at) = (node_id.to_string(), timestamp(chrono::Utc::now()));
        self.writer
            .run_async(Box::new(move |conn| {
                conn.prepare_cached("UPDATE nodes SET last_seen = ?2 WHERE id = ?1 AND deregistered_at IS NULL")
                    .and_then(|mut s| s.execute(params![id, at]))
                    .map_err(sql_error)?;
                Ok(())
            }))
            .await
    }

    /// A heartbeat: the node's platform as it reports it now, and seen now.
    pub async fn node_heartbeat(&self, node_id: &str, platform: &Platform) -> Result<(), FleetError> {
        check_platform(platform)?;
        let platform = serde_json::to_string(platform).map_err(|e| StoreError(e.to_string()))?;
        let (id, at) = (node_id.to_string(), timestamp(chrono::Utc::now()));
        self.fleet_write_async(move |conn| {
            registered(conn, &id)?;
            conn.execute("UPDATE nodes SET platform = ?2, last_seen = ?3 WHERE id = ?1", params![id, platform, at]).map_err(sql_error)?;
            Ok(())
        })
        .await
    }

    /// Every node (deregistered ones too, as Inactive), by id, with its tags;
    /// with `tag`, only the nodes that have that tag with that value.
    pub fn list_nodes(&self, tag: Option<(&str, &str)>, heartbeat_gap: Duration) -> Result<Vec<NodeView>, StoreError> {
        let now = chrono::Utc::now();
        self.fleet_read(|conn| {
            let mut nodes: Vec<NodeView> = match tag {
                None => {
                    let mut statement = conn.prepare(&format!("SELECT {NODE_COLUMNS} FROM nodes ORDER BY id"))?;
                    statement.query_map([], |r| node_row(r, heartbeat_gap, now))?.collect::<Result<_, _>>()?
                }
                Some((key, value)) => {
                    let columns = NODE_COLUMNS.split(", ").map(|c| format!("n.{c}")).collect::<Vec<_>>().join(", ");
                    let mut statement = conn.prepare(&format!(
                        "SELECT {columns} FROM node_tags t JOIN nodes n ON n.id = t.node_id WHERE t.key = ?1 AND t.value = ?2 ORDER BY n.id"
                    ))?;
                    statement.query_map(params![key, value], |r| node_row(r, heartbeat_gap, now))?.collect::<Result<_, _>>()?
                }
            };
            if nodes.len() <= 16 {
                for node in &mut nodes {
                    node.tags = node_tags(conn, &node.node_id)?;
                }
            } else {
                // One pass over the tags for many nodes.
                let mut tags: HashMap<String, BTreeMap<String, String>> = HashMap::new();
                let mut statement = conn.prepare("SELECT node_id, key, value FROM node_tags")?;
                let mut rows = statement.query([])?;
                while let Some(r) = rows.next()? {
                    tags.entry(r.get(0)?).or_default().insert(r.get(1)?, r.get(2)?);
                }
                for node in &mut nodes {
                    node.tags = tags.remove(&node.node_id).unwrap_or_default();
                }
            }
            Ok(nodes)
        })
    }

    /// One node with its tags.
    pub fn get_node(&self, node_id: &str, heartbeat_gap: Duration) -> Result<Option<NodeView>, StoreError> {
        self.fleet_read(|conn| read_node(conn, node_id, heartbeat_gap))
    }

    /// Adds (or overwrites) and removes tags of a registered node in one change; a
    /// node has at most [`MAX_TAGS`] tags. Answers the node as it is then.
    pub fn change_node_tags(&self, node_id: &str, change: &ChangeTags, heartbeat_gap: Duration) -> Result<NodeView, FleetError> {
        for (key, value) in &change.add {
            check_tag_key(key).map_err(|e| FleetError::invalid(format!("add.{key}"), e.0))?;
            check_tag_value(value).map_err(|e| FleetError::invalid(format!("add.{key}"), e.0))?;
        }
        for (i, key) in change.remove.iter().enumerate() {
            check_tag_key(key).map_err(|e| FleetError::invalid(format!("remove[{i}]"), e.0))?;
            if change.add.contains_key(key) {
                return Err(FleetError::invalid(format!("remove[{i}]"), format!("tag {key:?} is both added and removed")));
            }
        }
        if change.add.len() > MAX_TAGS {
            return Err(FleetError::invalid("add", format!("a node has at most {MAX_TAGS} tags")));
        }
        let (id, change) = (node_id.to_string(), change.clone());
        self.fleet_write(move |conn| {
            registered(conn, &id)?;
            for key in &change.remove {
                conn.execute("DELETE FROM node_tags WHERE node_id = ?1 AND key = ?2", params![id, key]).map_err(sql_error)?;
            }
            for (key, value) in &change.add {
                conn.execute(
                    "INSERT INTO node_tags (node_id, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (node_id, key) DO UPDATE SET value = excluded.value",
                    params![id, key, value],
                )
                .map_err(sql_error)?;
            }
            let count: i64 =
                conn.query_row("SELECT COUNT(*) FROM node_tags WHERE node_id = ?1", params![id], |r| r.get(0)).map_err(sql_error)?;
            if count > MAX_TAGS as i64 {
                return Err(FleetError::invalid("add", format!("node {id} would have {count} tags; a node has at most {MAX_TAGS}")));
            }
            Ok(())
        })?;
        self.get_node(node_id, heartbeat_gap)?.ok_or_else(|| FleetError::NotFound(format!("no node {node_id}")))
    }

    /// Deregisters a node: its credential is refused from now on, it is Inactive,
    /// and targets no longer select it. Deregistering it again changes nothing.
    /// Deregisters a node: its credential is refused from now on, and its unfinished
    /// invocations become Undeliverable.
    pub fn deregister_node(&self, node_id: &str, heartbeat_gap: Duration) -> Result<NodeView, FleetError> {
        let (id, at) = (node_id.to_string(), timestamp(chrono::Utc::now()));
        let changed = self.fleet_write(move |conn| {
            let changed = conn
                .execute("UPDATE nodes SET deregistered_at = ?2 WHERE id = ?1 AND deregistered_at IS NULL", params![id, at])
                .map_err(sql_error)?;
            // Its credential is revoked: what it has not finished, it can never report.
            conn.execute(
                "UPDATE invocations SET status = 'Undeliverable', ended_at = ?2 WHERE node_id = ?1 AND status IN ('Pending', 'Delayed', 'InProgress')",
                params![id, at],
            )
            .map_err(sql_error)?;
            Ok(changed > 0)
        })?;
        if changed {
            tracing::info!(node = node_id, "node deregistered");
        }
        self.get_node(node_id, heartbeat_gap)?.ok_or_else(|| FleetError::NotFound(format!("no node {node_id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_status_follows_the_heartbeat_gap() {
        let now = chrono::Utc::now();
        let gap = Duration::from_secs(60);
        let ago = |s: i64| timestamp(now - chrono::Duration::seconds(s));
        assert_eq!(ping_status(Some(&ago(10)), false, gap, now), PingStatus::Online);
        assert_eq!(ping_status(Some(&ago(61)), false, gap, now), PingStatus::ConnectionLost);
        assert_eq!(ping_status(None, false, gap, now), PingStatus::ConnectionLost);
        assert_eq!(ping_status(Some(&ago(1)), true, gap, now), PingStatus::Inactive);
        assert_eq!(ping_status(Some("garbage"), false, gap, now), PingStatus::ConnectionLost);
    }

    #[test]
    fn node_ids_look_like_ssm_ones() {
        let id = new_node_id().unwrap();
        assert_eq!(id.len(), 3 + 17, "{id}");
        assert!(id.starts_with("mi-") && id[3..].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }

    #[test]
    fn platforms_are_bounded() {
        let mut platform = Platform { hostname: "web-1".into(), ..Platform::default() };
        check_platform(&platform).unwrap();
        platform.hostname = "x".repeat(MAX_PLATFORM_FIELD + 1);
        assert!(matches!(check_platform(&platform), Err(FleetError::Invalid { field, .. }) if field == "platform.hostname"));
        platform.hostname = "a\nb".into();
        assert!(check_platform(&platform).is_err());
        platform.hostname = "h".into();
        platform.ip_addresses = vec!["10.0.0.1".into(); MAX_IP_ADDRESSES + 1];
        assert!(matches!(check_platform(&platform), Err(FleetError::Invalid { field, .. }) if field == "platform.ipAddresses"));
    }
}
