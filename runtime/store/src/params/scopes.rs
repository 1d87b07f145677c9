//! Path-scoped permissions of API tokens on parameters. A token with no scope is
//! unrestricted; a token with scopes reads only names matching a `read` pattern,
//! decrypts only names matching a `decrypt` pattern as well, and changes nothing.
//! Patterns are names with `*` matching any run of characters, `/` included
//! (`/app/dev/*`), matched against the name as a full path (`/db` for `db`).

use rusqlite::params;

use super::names::{MAX_NAME_LEN, as_path, shown};
use super::{ParamError, sql};
use crate::Store;

/// What a scope grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Decrypt,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Decrypt => "decrypt",
        }
    }
}

/// A token's parameter permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamScopes {
    pub read: Vec<String>,
    pub decrypt: Vec<String>,
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// A scope pattern: begins with `/`, letters, digits, `_ . - /` and `*`.
pub fn validate_scope_pattern(pattern: &str) -> Result<(), ParamError> {
    let fits = pattern.starts_with('/')
        && pattern.len() <= MAX_NAME_LEN + 1
        && pattern.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/*".contains(c));
    if fits {
        Ok(())
    } else {
        Err(ParamError::Invalid {
            field: "scope".into(),
            message: format!("the parameter scope {} must begin with '/' and hold only letters, digits, _ . - / and *", shown(pattern)),
        })
    }
}

impl ParamScopes {
    /// No scope at all: the token is not restricted.
    pub fn is_unrestricted(&self) -> bool {
        self.read.is_empty() && self.decrypt.is_empty()
    }

    pub fn may_read(&self, name: &str) -> bool {
        let path = as_path(name);
        self.is_unrestricted() || self.read.iter().any(|p| glob(p, &path))
    }

    pub fn may_decrypt(&self, name: &str) -> bool {
        let path = as_path(name);
        self.is_unrestricted() || (self.may_read(name) && self.decrypt.iter().any(|p| glob(p, &path)))
    }
}

impl Store {
    /// Gives a token its parameter scopes, replacing any it had.
    pub fn set_parameter_scopes(&self, token: &str, scopes: &ParamScopes) -> Result<(), ParamError> {
        for pattern in scopes.read.iter().chain(&scopes.decrypt) {
            validate_scope_pattern(pattern)?;
        }
        let (token, scopes) = (token.to_string(), scopes.clone());
        self.param_job(move |conn| {
            conn.execute("DELETE FROM parameter_scopes WHERE token = ?1", [&token]).map_err(sql)?;
            for (access, patterns) in [(Access::Read, &scopes.read), (Access::Decrypt, &scopes.decrypt)] {
                for pattern in patterns {
                    conn.execute(
                        "INSERT OR IGNORE INTO parameter_scopes (token, access, pattern) VALUES (?1, ?2, ?3)",
                        params![token, access.as_str(), pattern],
                    )
                    .map_err(sql)?;
                }
            }
            Ok(())
        })
    }

    /// A token's parameter scopes (none: unrestricted), kept in memory until any token
    /// or scope changes.
    pub fn parameter_scopes(&self, token: &str) -> Result<ParamScopes, ParamError> {
        let generation = self.token_generation()?;
        if let Some(scopes) = self.token_cache.param_scopes(generation, token) {
            return Ok(scopes);
        }
        let rows: Vec<(String, String)> = self.read(|conn| {
            conn.prepare_cached("SELECT access, pattern FROM parameter_scopes WHERE token = ?1 ORDER BY pattern")?
                .query_map([token], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })?;
        let mut scopes = ParamScopes::default();
        for (access, pattern) in rows {
            if access == Access::Read.as_str() { scopes.read.push(pattern) } else { scopes.decrypt.push(pattern) }
        }
        self.token_cache.remember_param_scopes(generation, token, scopes.clone());
        Ok(scopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("/app/dev/*", "/app/dev/db"));
        assert!(glob("/app/dev/*", "/app/dev/a/b/c"));
        assert!(!glob("/app/dev/*", "/app/prod/db"));
        assert!(!glob("/app/dev/*", "/app/dev"));
        assert!(glob("/app/*/db", "/app/x/db"));
        assert!(glob("/exact", "/exact"));
        assert!(!glob("/exact", "/exactly"));
        assert!(glob("*", "/anything"));
        assert!(glob("/a*b*c", "/aXXbYYc"));
        assert!(!glob("/a*b*c", "/aXXbYY"));
    }

    #[test]
    fn scopes_restrict_reads_and_decryption_separately() {
        let scopes = ParamScopes {
            read: vec!["/app/dev/*".into(), "/shared".into()],
            decrypt: vec!["/app/dev/secret/*".into(), "/app/prod/*".into()],
        };
        assert!(scopes.may_read("/app/dev/url"));
        assert!(!scopes.may_read("/app/prod/url"));
        assert!(scopes.may_read("shared"), "a one-level name matches as /shared");
        assert!(!scopes.may_decrypt("/app/dev/url"));
        assert!(scopes.may_decrypt("/app/dev/secret/pw"));
        assert!(!scopes.may_decrypt("/app/prod/pw"), "decrypting needs reading too");
        let open = ParamScopes::default();
        assert!(open.may_read("/x") && open.may_decrypt("/x"));
    }

    #[test]
    fn patterns_are_checked() {
        assert!(validate_scope_pattern("/app/*").is_ok());
        assert!(validate_scope_pattern("app/*").is_err());
        assert!(validate_scope_pattern("/a b").is_err());
        assert!(validate_scope_pattern(&format!("/{}", "a".repeat(MAX_NAME_LEN + 1))).is_err());
    }
}
