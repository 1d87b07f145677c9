//! Reading parameters: one by selector, several, by path (with filters and pages)
//! and a parameter's history. Reads return [`StoredParameter`]s, still sealed; the
//! caller reveals each one with the permission it has for that name.

use base64::Engine as _;
use bosun_protocol::params::{HistoryPage, Parameter, PathFilter, PolicyFiring, PolicyView};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::names::{Selector, canonical_name, canonical_path, is_under, parse_selector, shown};
use super::seal::{MasterKey, Sealed};
use super::write::version_context;
use super::{ParamError, parse_tier, parse_type, policies, sql};
use crate::Store;

/// A parameter version as stored: its view, with a SecureString's value still sealed.
#[derive(Debug, Clone)]
pub struct StoredParameter {
    parameter: Parameter,
    sealed: Option<Sealed>,
}

impl StoredParameter {
    pub fn name(&self) -> &str {
        &self.parameter.name
    }

    pub fn is_secure(&self) -> bool {
        self.sealed.is_some()
    }

    /// The view to return: a SecureString's plaintext when `decrypt`, else its
    /// ciphertext in base64. Other types are returned as they are.
    pub fn reveal(self, key: Option<&MasterKey>, decrypt: bool) -> Result<Parameter, ParamError> {
        let Some(sealed) = &self.sealed else { return Ok(self.parameter) };
        let mut parameter = self.parameter.clone();
        parameter.value = if decrypt {
            let key =
                key.ok_or_else(|| ParamError::Crypto("no master key is configured, so SecureString values cannot be opened".into()))?;
            key.open(sealed, &version_context(&parameter.name, parameter.version))?.to_string()
        } else {
            base64::engine::general_purpose::STANDARD.encode(&sealed.ciphertext)
        };
        Ok(parameter)
    }
}

const COLUMNS: &str = "v.name, v.version, v.type, v.tier, v.data_type, v.description, v.allowed_pattern, v.policies, v.value, v.wrapped_key, v.key_id, v.modified_at, v.modified_by";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredParameter> {
    let value: Vec<u8> = r.get(8)?;
    let wrapped_key: Option<Vec<u8>> = r.get(9)?;
    let key_id: Option<String> = r.get(10)?;
    let sealed = match (wrapped_key, key_id.clone()) {
        (Some(wrapped_key), Some(key_id)) => Some(Sealed { ciphertext: value.clone(), wrapped_key, key_id }),
        _ => None,
    };
    let text = if sealed.is_some() { String::new() } else { String::from_utf8_lossy(&value).into_owned() };
    let policies_text: Option<String> = r.get(7)?;
    Ok(StoredParameter {
        parameter: Parameter {
            name: r.get(0)?,
            version: r.get(1)?,
            kind: parse_type(&r.get::<_, String>(2)?)?,
            tier: parse_tier(&r.get::<_, String>(3)?)?,
            data_type: r.get(4)?,
            description: r.get(5)?,
            allowed_pattern: r.get(6)?,
            value: text,
            selector: None,
            last_modified_date: r.get(11)?,
            last_modified_user: r.get(12)?,
            key_id,
            labels: Vec::new(),
            // Filled by `complete` from this text.
            policies: policies_text
                .map(|t| vec![PolicyView { policy_text: t, policy_type: String::new(), policy_status: String::new() }])
                .unwrap_or_default(),
        },
        sealed,
    })
}

/// Adds a version's labels and its policies' states.
fn complete(conn: &Connection, mut stored: StoredParameter) -> Result<StoredParameter, ParamError> {
    let p = &mut stored.parameter;
    p.labels = conn
        .prepare_cached("SELECT label FROM parameter_labels WHERE name = ?1 AND version = ?2 ORDER BY label")
        .and_then(|mut s| s.query_map(params![p.name, p.version], |r| r.get(0))?.collect())
        .map_err(sql)?;
    if let Some(text) = p.policies.first().map(|v| v.policy_text.clone()) {
        p.policies = policy_views(conn, &p.name, &text, &p.last_modified_date)?;
    }
    Ok(stored)
}

/// Each policy of a version with Pending or Finished (it fired for this version's due time).
fn policy_views(conn: &Connection, name: &str, text: &str, modified_at: &str) -> Result<Vec<PolicyView>, ParamError> {
    let parsed = policies::parse(text)?;
    let changed = modified_at.parse::<DateTime<Utc>>().unwrap_or_else(|_| Utc::now());
    let due = policies::due(&parsed, changed);
    let mut views = Vec::new();
    for ((_, policy_text), (kind, at)) in parsed.iter().zip(due.iter()) {
        let fired: Option<i64> = conn
            .prepare_cached("SELECT 1 FROM parameter_policy_firings WHERE name = ?1 AND policy = ?2 AND due_at = ?3")
            .and_then(|mut s| s.query_row(params![name, kind, crate::timestamp(*at)], |r| r.get(0)).optional())
            .map_err(sql)?;
        let status = if fired.is_some() { "Finished" } else { "Pending" };
        views.push(PolicyView { policy_text: policy_text.clone(), policy_type: kind.to_string(), policy_status: status.into() });
    }
    Ok(views)
}

fn select_one(conn: &Connection, name: &str, selector: &Selector) -> Result<Option<StoredParameter>, ParamError> {
    let found = match selector {
        Selector::Latest => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM parameters p JOIN parameter_versions v ON v.name = p.name AND v.version = p.latest WHERE p.name = ?1"
            ))
            .and_then(|mut s| s.query_row([name], row).optional()),
        Selector::Version(version) => conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM parameter_versions v WHERE v.name = ?1 AND v.version = ?2"))
            .and_then(|mut s| s.query_row(params![name, version], row).optional()),
        Selector::Label(label) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM parameter_labels l JOIN parameter_versions v ON v.name = l.name AND v.version = l.version
                 WHERE l.name = ?1 AND l.label = ?2"
            ))
            .and_then(|mut s| s.query_row(params![name, label], row).optional()),
    }
    .map_err(sql)?;
    found.map(|stored| complete(conn, stored)).transpose()
}

fn not_found(name: &str, selector: &Selector) -> ParamError {
    ParamError::NotFound(match selector {
        Selector::Latest => format!("no parameter named {}", shown(name)),
        Selector::Version(v) => format!("{} has no version {v}", shown(name)),
        Selector::Label(l) => format!("{} has no version labelled {}", shown(name), shown(l)),
    })
}

/// What get-by-path reads: a path, its depth, filters and a page.
#[derive(Debug, Clone, Default)]
pub struct PathQuery {
    pub path: String,
    pub recursive: bool,
    pub filters: Vec<PathFilter>,
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

/// The most results one page of get-by-path holds.
pub const MAX_PAGE: usize = 10;
/// The most results one page of history holds.
pub const MAX_HISTORY_PAGE: usize = 50;
const FILTER_KEYS: [&str; 5] = ["Type", "KeyId", "Label", "Tier", "DataType"];

fn check_filters(filters: &[PathFilter]) -> Result<(), ParamError> {
    for (at, filter) in filters.iter().enumerate() {
        let field = format!("filters[{at}]");
        if !FILTER_KEYS.contains(&filter.key.as_str()) {
            return Err(ParamError::Invalid {
                field,
                message: format!("unknown filter key {}; expected one of {}", shown(&filter.key), FILTER_KEYS.join(", ")),
            });
        }
        if filter.option.as_deref().is_some_and(|o| o != "Equals") {
            return Err(ParamError::Invalid { field, message: "the only filter option is Equals".into() });
        }
        if filter.values.is_empty() || filter.values.len() > 50 || filter.values.iter().any(|v| v.is_empty() || v.len() > 1024) {
            return Err(ParamError::Invalid { field, message: "a filter needs 1 to 50 values of 1 to 1024 characters".into() });
        }
    }
    Ok(())
}

fn passes(p: &Parameter, filters: &[PathFilter]) -> bool {
    filters.iter().all(|f| {
        let has = |v: &str| f.values.iter().any(|w| w == v);
        match f.key.as_str() {
            "Type" => has(p.kind.as_str()),
            "KeyId" => p.key_id.as_deref().is_some_and(has),
            "Label" => p.labels.iter().any(|l| has(l)),
            "Tier" => has(p.tier.as_str()),
            "DataType" => has(&p.data_type),
            _ => false,
        }
    })
}

fn page_size(asked: Option<usize>, most: usize, default: usize) -> Result<usize, ParamError> {
    match asked {
        None => Ok(default),
        Some(n) if (1..=most).contains(&n) => Ok(n),
        Some(n) => Err(ParamError::Invalid { field: "maxResults".into(), message: format!("maxResults is {n}; it must be 1 to {most}") }),
    }
}

impl Store {
    fn param_read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, ParamError>) -> Result<T, ParamError> {
        self.read(|conn| Ok(f(conn)))?
    }

    /// The version `selector_text` picks (`name`, `name:3`, `name:label`), still sealed.
    pub fn get_parameter(&self, selector_text: &str) -> Result<StoredParameter, ParamError> {
        let (name, selector) = parse_selector(selector_text)?;
        let mut stored = self.param_read(|conn| select_one(conn, &name, &selector))?.ok_or_else(|| not_found(&name, &selector))?;
        if let Some((_, suffix)) = selector_text.split_once(':') {
            stored.parameter.selector = Some(format!(":{suffix}"));
        }
        Ok(stored)
    }

    /// Every latest version under a path that `visible` lets through, one page at a time.
    /// The token of the next page is the last name of this one.
    pub fn get_parameters_by_path(
        &self,
        query: &PathQuery,
        visible: &dyn Fn(&str) -> bool,
    ) -> Result<(Vec<StoredParameter>, Option<String>), ParamError> {
        let path = canonical_path(&query.path)?;
        check_filters(&query.filters)?;
        let size = page_size(query.max_results, MAX_PAGE, MAX_PAGE)?;
        let mut cursor = match &query.next_token {
            Some(token) => canonical_name(token).map_err(|_| ParamError::Invalid {
                field: "nextToken".into(),
                message: "the next token is not one this API gave".into(),
            })?,
            None => String::new(),
        };
        // Names under `/a/` lie in ["/a/", "/a0"); one-level names have no slash, so `/` scans all.
        let (low, high) =
            if path == "/" { (String::new(), "\u{10FFFF}".to_string()) } else { (path.clone(), format!("{}0", &path[..path.len() - 1])) };
        self.param_read(|conn| {
            let mut page = Vec::new();
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM parameters p JOIN parameter_versions v ON v.name = p.name AND v.version = p.latest
                     WHERE p.name > ?1 AND p.name >= ?2 AND p.name < ?3 ORDER BY p.name LIMIT 200"
                ))
                .map_err(sql)?;
            loop {
                let batch: Vec<StoredParameter> =
                    statement.query_map(params![cursor, low, high], row).and_then(Iterator::collect).map_err(sql)?;
                let Some(last) = batch.last().map(|s| s.parameter.name.clone()) else { return Ok((page, None)) };
                for stored in batch {
                    let name = stored.parameter.name.clone();
                    if !is_under(&name, &path, query.recursive) || !visible(&name) {
                        continue;
                    }
                    let stored = complete(conn, stored)?;
                    if passes(&stored.parameter, &query.filters) {
                        page.push(stored);
                        if page.len() == size {
                            let more: Option<i64> = conn
                                .query_row(
                                    "SELECT 1 FROM parameters WHERE name > ?1 AND name >= ?2 AND name < ?3 LIMIT 1",
                                    params![name, low, high],
                                    |r| r.get(0),
                                )
                                .optional()
                                .map_err(sql)?;
                            return Ok((page, more.map(|_| name)));
                        }
                    }
                }
                cursor = last;
            }
        })
    }

    /// A parameter's versions, oldest first, a page at a time (the token is the last
    /// version shown), with the policy firings it has had.
    pub fn parameter_history(
        &self,
        name: &str,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> Result<(Vec<StoredParameter>, HistoryPage), ParamError> {
        let name = canonical_name(name)?;
        let size = page_size(max_results, MAX_HISTORY_PAGE, MAX_HISTORY_PAGE)?;
        let after = match next_token {
            Some(token) => token.parse::<i64>().map_err(|_| ParamError::Invalid {
                field: "nextToken".into(),
                message: "the next token is not one this API gave".into(),
            })?,
            None => 0,
        };
        self.param_read(|conn| {
            let exists: Option<i64> =
                conn.query_row("SELECT 1 FROM parameters WHERE name = ?1", [&name], |r| r.get(0)).optional().map_err(sql)?;
            if exists.is_none() {
                return Err(not_found(&name, &Selector::Latest));
            }
            let rows: Vec<StoredParameter> = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM parameter_versions v WHERE v.name = ?1 AND v.version > ?2 ORDER BY v.version LIMIT ?3"
                ))
                .and_then(|mut s| s.query_map(params![name, after, size as i64 + 1], row)?.collect())
                .map_err(sql)?;
            let more = rows.len() > size;
            let versions = rows.into_iter().take(size).map(|s| complete(conn, s)).collect::<Result<Vec<_>, _>>()?;
            let next_token = more.then(|| versions.last().map(|v| v.parameter.version.to_string())).flatten();
            let policy_firings = conn
                .prepare_cached("SELECT policy, due_at, fired_at, event_id FROM parameter_policy_firings WHERE name = ?1 ORDER BY fired_at")
                .and_then(|mut s| {
                    s.query_map([&name], |r| {
                        Ok(PolicyFiring { policy_type: r.get(0)?, due_at: r.get(1)?, fired_at: r.get(2)?, event_id: r.get(3)? })
                    })?
                    .collect()
                })
                .map_err(sql)?;
            Ok((versions, HistoryPage { parameters: vec![], policy_firings, next_token }))
        })
    }
}
