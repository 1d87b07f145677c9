//! Who may open sessions to which nodes: a token's session scopes are tag
//! conditions (`Env=dev`, `Team=web-*`), and a node is open to the token when one
//! of its tags matches one condition (`*` matches any run of characters). A token
//! with no scope of any kind (neither session nor parameter scopes) is
//! unrestricted; a scoped token without a session condition opens no session.

use std::collections::BTreeMap;

use bosun_engine::StoreError;
use rusqlite::params;

use crate::params::glob;
use crate::{Store, sql_error};

/// The longest tag key or pattern of a condition.
const MAX_PART: usize = 128;

/// One condition: the node has tag `key` with a value matching `pattern`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCondition {
    pub key: String,
    pub pattern: String,
}

impl TagCondition {
    /// Reads `KEY=PATTERN`.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let Some((key, pattern)) = text.split_once('=') else {
            return Err(StoreError(format!("the session scope {text:?} is not KEY=PATTERN (e.g. Env=dev)")));
        };
        let fits = |part: &str| !part.is_empty() && part.len() <= MAX_PART && !part.chars().any(char::is_control);
        if !fits(key) || key.contains('*') || !fits(pattern) {
            return Err(StoreError(format!(
                "the session scope {text:?} needs a tag key without '*' and a pattern, each 1 to {MAX_PART} printable characters"
            )));
        }
        Ok(Self { key: key.to_string(), pattern: pattern.to_string() })
    }

    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(&self.key).is_some_and(|value| glob(&self.pattern, value))
    }
}

impl std::fmt::Display for TagCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.pattern)
    }
}

/// What a token may open sessions to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionScopes {
    /// A token with no scope of any kind.
    Unrestricted,
    /// Only nodes matching one of these conditions (none: no node).
    Nodes(Vec<TagCondition>),
}

impl SessionScopes {
    pub fn allows(&self, tags: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Unrestricted => true,
            Self::Nodes(conditions) => conditions.iter().any(|c| c.matches(tags)),
        }
    }
}

impl Store {
    /// Gives a token its session conditions, replacing any it had.
    pub fn set_session_scopes(&self, token: &str, conditions: &[TagCondition]) -> Result<(), StoreError> {
        let (token, conditions) = (token.to_string(), conditions.to_vec());
        self.writer.run_blocking(Box::new(move |conn| {
            conn.execute("DELETE FROM session_scopes WHERE token = ?1", [&token]).map_err(sql_error)?;
            for c in &conditions {
                conn.execute(
                    "INSERT OR IGNORE INTO session_scopes (token, tag_key, pattern) VALUES (?1, ?2, ?3)",
                    params![token, c.key, c.pattern],
                )
                .map_err(sql_error)?;
            }
            Ok(())
        }))
    }

    /// What a token may open sessions to.
    pub fn session_scopes(&self, token: &str) -> Result<SessionScopes, StoreError> {
        self.read(|conn| {
            let conditions: Vec<TagCondition> = conn
                .prepare_cached("SELECT tag_key, pattern FROM session_scopes WHERE token = ?1 ORDER BY tag_key, pattern")?
                .query_map([token], |r| Ok(TagCondition { key: r.get(0)?, pattern: r.get(1)? }))?
                .collect::<Result<_, _>>()?;
            let param_scoped: bool =
                conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM parameter_scopes WHERE token = ?1)")?.query_row([token], |r| r.get(0))?;
            Ok(if conditions.is_empty() && !param_scoped { SessionScopes::Unrestricted } else { SessionScopes::Nodes(conditions) })
        })
    }
}
