//! Changes to parameters, each one writer job: put (a new version, with the tier,
//! size, count, pattern and history rules checked inside the job, so concurrent puts
//! to one name get gapless versions), delete, label, unlabel, and re-wrapping every
//! data key under a new master key.

use std::sync::Arc;

use bosun_protocol::params::{LabelResult, ParameterType, PutParameter, PutResult, Tier, UnlabelResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::names::{canonical_name, shown, validate_label};
use super::seal::{MasterKey, Sealed};
use super::{
    ADVANCED_COUNT_MAX, ADVANCED_VALUE_MAX, MAX_DESCRIPTION_LEN, MAX_LABELS_PER_VERSION, MAX_PATTERN_LEN, MAX_VERSIONS, ParamError,
    STANDARD_COUNT_MAX, STANDARD_VALUE_MAX, parse_tier, parse_type, policies, sql,
};
use crate::events::{NewEvent, append};
use crate::{Store, now};

/// What the current version of an existing parameter says, for an overwrite.
struct Current {
    latest: i64,
    tier: Tier,
    kind: ParameterType,
    data_type: String,
    description: Option<String>,
    allowed_pattern: Option<String>,
}

fn current(conn: &Connection, name: &str) -> Result<Option<Current>, ParamError> {
    conn.prepare_cached(
        "SELECT p.latest, p.tier, v.type, v.data_type, v.description, v.allowed_pattern
         FROM parameters p JOIN parameter_versions v ON v.name = p.name AND v.version = p.latest WHERE p.name = ?1",
    )
    .and_then(|mut s| {
        s.query_row([name], |r| {
            Ok(Current {
                latest: r.get(0)?,
                tier: parse_tier(&r.get::<_, String>(1)?)?,
                kind: parse_type(&r.get::<_, String>(2)?)?,
                data_type: r.get(3)?,
                description: r.get(4)?,
                allowed_pattern: r.get(5)?,
            })
        })
        .optional()
    })
    .map_err(sql)
}

fn invalid(field: &str, message: String) -> ParamError {
    ParamError::Invalid { field: field.into(), message }
}

/// A pattern the whole value must match, compiled with a size limit.
fn compile_pattern(pattern: &str) -> Result<regex::Regex, ParamError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(invalid("allowedPattern", format!("the pattern is {} characters long; the most is {MAX_PATTERN_LEN}", pattern.len())));
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| invalid("allowedPattern", format!("the pattern is not a valid regular expression: {e}")))
}

/// `text`, or `aws:ec2:image` (a String holding an AMI id).
fn check_data_type(data_type: &str, kind: ParameterType, value: &str) -> Result<(), ParamError> {
    match data_type {
        "text" => Ok(()),
        "aws:ec2:image" if kind != ParameterType::String => {
            Err(invalid("dataType", "the data type aws:ec2:image needs the String type".into()))
        }
        "aws:ec2:image" => {
            let hex = value.strip_prefix("ami-").unwrap_or("");
            if (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                Ok(())
            } else {
                Err(invalid("value", "a value of data type aws:ec2:image must be an AMI id (ami- and 8 or 17 hex digits)".into()))
            }
        }
        other => Err(invalid("dataType", format!("unknown data type {}; expected text or aws:ec2:image", shown(other)))),
    }
}

fn tier_count(conn: &Connection, tier: Tier) -> Result<i64, ParamError> {
    conn.prepare_cached("SELECT count FROM parameter_tier_counts WHERE tier = ?1")
        .and_then(|mut s| s.query_row([tier.as_str()], |r| r.get(0)).optional())
        .map(Option::unwrap_or_default)
        .map_err(sql)
}

fn add_to_count(conn: &Connection, tier: Tier, by: i64) -> Result<(), ParamError> {
    conn.prepare_cached(
        "INSERT INTO parameter_tier_counts (tier, count) VALUES (?1, ?2) ON CONFLICT (tier) DO UPDATE SET count = count + ?2",
    )
    .and_then(|mut s| s.execute(params![tier.as_str(), by]))
    .map(drop)
    .map_err(sql)
}

/// The tier a put lands in: the requested one checked against the value's size, the
/// policies and the tier the parameter has; Intelligent-Tiering picks the cheapest that fits.
fn choose_tier(
    requested: Option<Tier>,
    existing: Option<Tier>,
    size: usize,
    has_policies: bool,
    standard_full: bool,
) -> Result<Tier, ParamError> {
    let requested = requested.or(existing).unwrap_or(Tier::Standard);
    let tier = match requested {
        Tier::IntelligentTiering => {
            let needs_advanced =
                existing == Some(Tier::Advanced) || size > STANDARD_VALUE_MAX || has_policies || (existing.is_none() && standard_full);
            if needs_advanced { Tier::Advanced } else { Tier::Standard }
        }
        Tier::Standard if existing == Some(Tier::Advanced) => {
            return Err(ParamError::Conflict(
                "an Advanced parameter cannot go back to the Standard tier; delete it and create it again".into(),
            ));
        }
        Tier::Standard if has_policies => return Err(invalid("policies", "policies need the Advanced tier".into())),
        other => other,
    };
    let most = if tier == Tier::Standard { STANDARD_VALUE_MAX } else { ADVANCED_VALUE_MAX };
    if size > most {
        return Err(invalid("value", format!("the value is {size} bytes; the {} tier allows {most}", tier.as_str())));
    }
    Ok(tier)
}

/// Makes room for one more version: past [`MAX_VERSIONS`] the oldest goes, unless it has a label.
fn make_room(conn: &Connection, name: &str) -> Result<(), ParamError> {
    let (count, oldest): (i64, i64) = conn
        .prepare_cached("SELECT COUNT(*), COALESCE(MIN(version), 0) FROM parameter_versions WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(sql)?;
    if count < MAX_VERSIONS {
        return Ok(());
    }
    let labelled: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM parameter_labels WHERE name = ?1 AND version = ?2")
        .and_then(|mut s| s.query_row(params![name, oldest], |r| r.get(0)))
        .map_err(sql)?;
    if labelled > 0 {
        return Err(ParamError::Conflict(format!(
            "{} has {MAX_VERSIONS} versions and the oldest, version {oldest}, has a label; move or remove the label first",
            shown(name)
        )));
    }
    conn.execute("DELETE FROM parameter_versions WHERE name = ?1 AND version = ?2", params![name, oldest]).map_err(sql)?;
    Ok(())
}

fn change_event(name: &str, kind: ParameterType, operation: &str) -> NewEvent {
    NewEvent {
        source: "bosun.parameter".into(),
        detail_type: "Parameter Store Change".into(),
        resources: vec![format!("parameter:{}", super::as_path(name))],
        detail: serde_json::json!({"name": name, "type": kind.as_str(), "operation": operation}),
    }
}

/// A put checked apart from the store: the canonical name, the new version's fields.
struct CheckedPut {
    request: PutParameter,
    name: String,
    policies: Option<String>,
    by: String,
    key: Option<Arc<MasterKey>>,
}

fn check_put(request: PutParameter, by: &str, key: Option<Arc<MasterKey>>) -> Result<CheckedPut, ParamError> {
    let name = canonical_name(&request.name)?;
    if request.value.is_empty() {
        return Err(invalid("value", "the value is empty".into()));
    }
    if let Some(description) = &request.description
        && description.chars().count() > MAX_DESCRIPTION_LEN
    {
        return Err(invalid("description", format!("the description is longer than {MAX_DESCRIPTION_LEN} characters")));
    }
    if let Some(pattern) = &request.allowed_pattern {
        compile_pattern(pattern)?;
    }
    let policies = match request.policies.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let parsed = policies::parse(text)?;
            (!parsed.is_empty()).then(|| {
                serde_json::Value::Array(parsed.iter().map(|(_, t)| serde_json::from_str(t).unwrap_or_default()).collect()).to_string()
            })
        }
    };
    Ok(CheckedPut { request, name, policies, by: by.to_string(), key })
}

fn put(conn: &Connection, put: &CheckedPut) -> Result<PutResult, ParamError> {
    let request = &put.request;
    let name = put.name.as_str();
    let existing = current(conn, name)?;
    if existing.is_some() && !request.overwrite {
        return Err(ParamError::Conflict(format!("the parameter {} exists already; pass overwrite to put a new version", shown(name))));
    }
    let kind = request
        .kind
        .or(existing.as_ref().map(|c| c.kind))
        .ok_or_else(|| invalid("type", "a new parameter needs a type: String, StringList or SecureString".into()))?;
    let data_type = request.data_type.clone().or(existing.as_ref().map(|c| c.data_type.clone())).unwrap_or_else(|| "text".into());
    check_data_type(&data_type, kind, &request.value)?;
    let allowed_pattern = request.allowed_pattern.clone().or(existing.as_ref().and_then(|c| c.allowed_pattern.clone()));
    if let Some(pattern) = &allowed_pattern
        && !compile_pattern(pattern)?.is_match(&request.value)
    {
        return Err(invalid("value", format!("the value does not match the allowed pattern {}", shown(pattern))));
    }
    let description = request.description.clone().or(existing.as_ref().and_then(|c| c.description.clone()));
    let existing_tier = existing.as_ref().map(|c| c.tier);
    let standard_full = tier_count(conn, Tier::Standard)? >= STANDARD_COUNT_MAX;
    let tier = choose_tier(request.tier, existing_tier, request.value.len(), put.policies.is_some(), standard_full)?;
    if existing_tier != Some(tier) {
        let (most, full) = match tier {
            Tier::Advanced => (ADVANCED_COUNT_MAX, tier_count(conn, Tier::Advanced)? >= ADVANCED_COUNT_MAX),
            _ => (STANDARD_COUNT_MAX, standard_full),
        };
        if full {
            return Err(ParamError::LimitExceeded(format!("the store holds {most} {} parameters, the most it may", tier.as_str())));
        }
        add_to_count(conn, tier, 1)?;
        if let Some(old) = existing_tier {
            add_to_count(conn, old, -1)?;
        }
    }
    let version = existing.as_ref().map_or(1, |c| c.latest + 1);
    make_room(conn, name)?;
    let sealed = match kind {
        ParameterType::SecureString => {
            let key = put.key.as_ref().ok_or_else(|| {
                ParamError::Crypto("no master key is configured, so SecureString values cannot be sealed (see --param-key-file)".into())
            })?;
            Some(key.seal(&request.value, &version_context(name, version))?)
        }
        _ => None,
    };
    let at = now();
    let value: &[u8] = sealed.as_ref().map_or(request.value.as_bytes(), |s| &s.ciphertext);
    conn.prepare_cached(
        "INSERT INTO parameter_versions (name, version, type, tier, data_type, description, allowed_pattern, policies, value, wrapped_key, key_id, modified_at, modified_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut s| {
        s.execute(params![
            name,
            version,
            kind.as_str(),
            tier.as_str(),
            data_type,
            description,
            allowed_pattern,
            put.policies,
            value,
            sealed.as_ref().map(|s| &s.wrapped_key),
            sealed.as_ref().map(|s| &s.key_id),
            at,
            put.by
        ])
    })
    .map_err(sql)?;
    conn.prepare_cached(
        "INSERT INTO parameters (name, latest, tier, modified_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET latest = ?2, tier = ?3, modified_at = ?4",
    )
    .and_then(|mut s| s.execute(params![name, version, tier.as_str(), at]))
    .map_err(sql)?;
    append(conn, &change_event(name, kind, if version == 1 { "Create" } else { "Update" }))?;
    Ok(PutResult { version, tier })
}

/// What binds a sealed value to its parameter version.
pub(crate) fn version_context(name: &str, version: i64) -> String {
    format!("{name}#{version}")
}

/// Deletes a parameter with its history and labels (its policy firings stay, as the
/// record of what happened to the name); false when it was not there.
pub(super) fn delete(conn: &Connection, name: &str) -> Result<bool, ParamError> {
    let Some(existing) = current(conn, name)? else { return Ok(false) };
    for table in ["parameters", "parameter_versions", "parameter_labels"] {
        conn.execute(&format!("DELETE FROM {table} WHERE name = ?1"), [name]).map_err(sql)?;
    }
    add_to_count(conn, existing.tier, -1)?;
    append(conn, &change_event(name, existing.kind, "Delete"))?;
    Ok(true)
}

/// How a rotation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotateReport {
    pub rewrapped: usize,
}

impl Store {
    /// Puts a new version (the first, or with `overwrite` the next) of a parameter.
    /// `by` is who puts it; `key` seals SecureString values.
    pub fn put_parameter(&self, request: PutParameter, by: &str, key: Option<Arc<MasterKey>>) -> Result<PutResult, ParamError> {
        let checked = check_put(request, by, key)?;
        self.param_job(move |conn| put(conn, &checked))
    }

    /// The same from async code, so that concurrent puts share commits.
    pub async fn put_parameter_async(&self, request: PutParameter, by: &str, key: Option<Arc<MasterKey>>) -> Result<PutResult, ParamError> {
        let checked = check_put(request, by, key)?;
        self.param_job_async(move |conn| put(conn, &checked)).await
    }

    /// Deletes parameters with their history; returns the names deleted and those
    /// that were not there (as given).
    pub fn delete_parameters(&self, names: &[String]) -> Result<(Vec<String>, Vec<String>), ParamError> {
        let names = names.to_vec();
        self.param_job(move |conn| {
            let (mut deleted, mut invalid) = (Vec::new(), Vec::new());
            for given in &names {
                match canonical_name(given) {
                    Ok(name) if delete(conn, &name)? => deleted.push(given.clone()),
                    _ => invalid.push(given.clone()),
                }
            }
            Ok((deleted, invalid))
        })
    }

    /// Puts labels on a version (the latest when `version` is None), moving each from
    /// whatever version had it. When a label is invalid, none is applied.
    pub fn label_parameter(&self, name: &str, version: Option<i64>, labels: &[String]) -> Result<LabelResult, ParamError> {
        let name = canonical_name(name)?;
        if labels.is_empty() || labels.len() > MAX_LABELS_PER_VERSION {
            return Err(invalid("labels", format!("give 1 to {MAX_LABELS_PER_VERSION} labels")));
        }
        let invalid_labels: Vec<String> = labels.iter().filter(|l| validate_label(l).is_err()).cloned().collect();
        let labels = labels.to_vec();
        self.param_job(move |conn| {
            let latest = current(conn, &name)?.ok_or_else(|| ParamError::NotFound(format!("no parameter named {}", shown(&name))))?.latest;
            let version = version.unwrap_or(latest);
            if !invalid_labels.is_empty() {
                return Ok(LabelResult { parameter_version: version, invalid_labels: invalid_labels.clone() });
            }
            let exists: Option<i64> = conn
                .query_row("SELECT 1 FROM parameter_versions WHERE name = ?1 AND version = ?2", params![name, version], |r| r.get(0))
                .optional()
                .map_err(sql)?;
            if exists.is_none() {
                return Err(ParamError::NotFound(format!("{} has no version {version}", shown(&name))));
            }
            for label in &labels {
                conn.execute(
                    "INSERT INTO parameter_labels (name, label, version) VALUES (?1, ?2, ?3) ON CONFLICT (name, label) DO UPDATE SET version = ?3",
                    params![name, label, version],
                )
                .map_err(sql)?;
            }
            let count: i64 = conn
                .query_row("SELECT COUNT(*) FROM parameter_labels WHERE name = ?1 AND version = ?2", params![name, version], |r| r.get(0))
                .map_err(sql)?;
            if count as usize > MAX_LABELS_PER_VERSION {
                return Err(ParamError::Conflict(format!(
                    "version {version} of {} would have {count} labels; a version may have {MAX_LABELS_PER_VERSION}",
                    shown(&name)
                )));
            }
            Ok(LabelResult { parameter_version: version, invalid_labels: vec![] })
        })
    }

    /// Takes labels off a version; labels not on it are reported, not refused.
    pub fn unlabel_parameter(&self, name: &str, version: i64, labels: &[String]) -> Result<UnlabelResult, ParamError> {
        let name = canonical_name(name)?;
        if labels.is_empty() || labels.len() > MAX_LABELS_PER_VERSION {
            return Err(invalid("labels", format!("give 1 to {MAX_LABELS_PER_VERSION} labels")));
        }
        let labels = labels.to_vec();
        self.param_job(move |conn| {
            current(conn, &name)?.ok_or_else(|| ParamError::NotFound(format!("no parameter named {}", shown(&name))))?;
            let (mut removed, mut invalid) = (Vec::new(), Vec::new());
            for label in &labels {
                let gone = conn
                    .execute("DELETE FROM parameter_labels WHERE name = ?1 AND label = ?2 AND version = ?3", params![name, label, version])
                    .map_err(sql)?;
                if gone > 0 { removed.push(label.clone()) } else { invalid.push(label.clone()) }
            }
            Ok(UnlabelResult { removed_labels: removed, invalid_labels: invalid })
        })
    }

    /// Wraps every SecureString data key again under `to`, in one transaction. Values
    /// are not decrypted; a data key wrapped under neither key stops the rotation.
    pub fn rotate_parameter_key(&self, from: Arc<MasterKey>, to: Arc<MasterKey>) -> Result<RotateReport, ParamError> {
        self.param_job(move |conn| {
            let sealed = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Sealed> {
                Ok(Sealed { ciphertext: r.get(2)?, wrapped_key: r.get(3)?, key_id: r.get(4)? })
            };
            let rows: Vec<(String, i64, Sealed)> = conn
                .prepare("SELECT name, version, value, wrapped_key, key_id FROM parameter_versions WHERE key_id IS NOT NULL")
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, sealed(r)?)))?.collect())
                .map_err(sql)?;
            let mut rewrapped = 0;
            for (name, version, stored) in rows {
                if stored.key_id == to.id() {
                    continue;
                }
                let moved =
                    from.rewrap(&stored, &to).map_err(|e| ParamError::Crypto(format!("version {version} of {}: {e}", shown(&name))))?;
                conn.execute(
                    "UPDATE parameter_versions SET wrapped_key = ?3, key_id = ?4 WHERE name = ?1 AND version = ?2",
                    params![name, version, moved.wrapped_key, moved.key_id],
                )
                .map_err(sql)?;
                rewrapped += 1;
            }
            Ok(RotateReport { rewrapped })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_chosen_and_checked_at_their_bounds() {
        use Tier::*;
        assert_eq!(choose_tier(None, None, STANDARD_VALUE_MAX, false, false).unwrap(), Standard);
        assert!(choose_tier(None, None, STANDARD_VALUE_MAX + 1, false, false).unwrap_err().to_string().contains("4097 bytes"));
        assert_eq!(choose_tier(Some(IntelligentTiering), None, STANDARD_VALUE_MAX, false, false).unwrap(), Standard);
        assert_eq!(choose_tier(Some(IntelligentTiering), None, STANDARD_VALUE_MAX + 1, false, false).unwrap(), Advanced);
        assert_eq!(choose_tier(Some(IntelligentTiering), None, 10, true, false).unwrap(), Advanced);
        assert_eq!(choose_tier(Some(IntelligentTiering), None, 10, false, true).unwrap(), Advanced);
        assert_eq!(choose_tier(Some(IntelligentTiering), Some(Standard), 10, false, true).unwrap(), Standard);
        assert_eq!(choose_tier(Some(IntelligentTiering), Some(Advanced), 10, false, false).unwrap(), Advanced);
        assert_eq!(choose_tier(Some(Advanced), None, ADVANCED_VALUE_MAX, false, false).unwrap(), Advanced);
        assert!(choose_tier(Some(Advanced), None, ADVANCED_VALUE_MAX + 1, false, false).is_err());
        assert!(choose_tier(Some(IntelligentTiering), None, ADVANCED_VALUE_MAX + 1, false, false).is_err());
        assert!(matches!(choose_tier(Some(Standard), Some(Advanced), 1, false, false), Err(ParamError::Conflict(_))));
        assert_eq!(choose_tier(None, Some(Advanced), 1, false, false).unwrap(), Advanced);
        assert!(choose_tier(Some(Standard), None, 1, true, false).unwrap_err().to_string().contains("Advanced tier"));
    }

    fn put_new(name: &str, tier: Option<Tier>) -> PutParameter {
        PutParameter {
            name: name.into(),
            value: "v".into(),
            kind: Some(ParameterType::String),
            description: None,
            allowed_pattern: None,
            data_type: None,
            tier,
            policies: None,
            overwrite: false,
        }
    }

    #[test]
    fn the_count_of_standard_parameters_is_capped_at_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::Durability::Normal).unwrap();
        store.put_parameter(put_new("/first", None), "ops", None).unwrap();
        // As if the store held one parameter fewer than the bound.
        store
            .param_job(|conn| {
                conn.execute("UPDATE parameter_tier_counts SET count = ?1 WHERE tier = 'Standard'", [STANDARD_COUNT_MAX - 1])
                    .map_err(sql)?;
                Ok(())
            })
            .unwrap();
        store.put_parameter(put_new("/at-the-bound", None), "ops", None).unwrap();
        let over = store.put_parameter(put_new("/over", Some(Tier::Standard)), "ops", None).unwrap_err();
        assert!(matches!(&over, ParamError::LimitExceeded(m) if m.contains("10000 Standard")), "{over}");
        assert_eq!(store.put_parameter(put_new("/over", Some(Tier::IntelligentTiering)), "ops", None).unwrap().tier, Tier::Advanced);
        let mut again = put_new("/first", None);
        again.overwrite = true;
        assert!(store.put_parameter(again, "ops", None).is_ok(), "a new version of a Standard parameter takes no room");
        store.delete_parameters(&["/at-the-bound".into()]).unwrap();
        assert!(store.put_parameter(put_new("/room-again", None), "ops", None).is_ok());
    }

    #[test]
    fn data_types() {
        assert!(check_data_type("text", ParameterType::SecureString, "x").is_ok());
        assert!(check_data_type("aws:ec2:image", ParameterType::String, "ami-0123abcd").is_ok());
        assert!(check_data_type("aws:ec2:image", ParameterType::String, "ami-0123456789abcdef0").is_ok());
        assert!(check_data_type("aws:ec2:image", ParameterType::String, "ami-0123abc").is_err());
        assert!(check_data_type("aws:ec2:image", ParameterType::String, "ami-0123ABCD").is_err());
        assert!(check_data_type("aws:ec2:image", ParameterType::StringList, "ami-0123abcd").is_err());
        assert!(check_data_type("json", ParameterType::String, "{}").is_err());
    }

    #[test]
    fn patterns_match_the_whole_value_and_are_bounded() {
        let pattern = compile_pattern("[0-9]+").unwrap();
        assert!(pattern.is_match("123") && !pattern.is_match("12a") && !pattern.is_match("a12"));
        assert!(compile_pattern("(").unwrap_err().to_string().contains("not a valid regular expression"));
        assert!(compile_pattern(&"a".repeat(MAX_PATTERN_LEN)).is_ok());
        assert!(compile_pattern(&"a".repeat(MAX_PATTERN_LEN + 1)).is_err());
        assert!(compile_pattern("(a{1000}){1000}").is_err(), "a pattern too large to compile is refused");
    }
}
