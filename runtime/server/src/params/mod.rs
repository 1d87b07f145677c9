//! Parameter Store on the server: [`Parameters`] reads and writes parameters for a
//! principal (an API token's name), applying its path scopes to every read and
//! opening SecureString values with the master key only when it may decrypt; it is
//! also the engine's source for `{{ ssm:... }}` and `{{ ssm-secure:... }}`.

pub mod key;
pub mod policy_loop;

use std::sync::Arc;

use bosun_engine::ParameterSource;
use bosun_protocol::params::{Parameter, ParameterType, PutParameter, PutResult};
use bosun_store::params::{PathQuery, canonical_name};
use bosun_store::{MasterKey, ParamError, ParamScopes, Store};

/// Who asks: an API token's name, or `None` for the operator of the data directory
/// (local commands), who is not restricted.
pub type Principal<'a> = Option<&'a str>;

pub struct Parameters {
    pub store: Arc<Store>,
    pub key: Option<Arc<MasterKey>>,
}

fn denied(principal: Principal<'_>, what: &str, name: &str) -> ParamError {
    ParamError::Denied(format!("token {} may not {what} {name}", principal.unwrap_or("-")))
}

impl Parameters {
    pub fn new(store: Arc<Store>, key: Option<Arc<MasterKey>>) -> Arc<Self> {
        Arc::new(Self { store, key })
    }

    /// The principal's scopes; the local operator has none (unrestricted).
    pub fn scopes(&self, principal: Principal<'_>) -> Result<ParamScopes, ParamError> {
        match principal {
            Some(token) => self.store.parameter_scopes(token),
            None => Ok(ParamScopes::default()),
        }
    }

    /// Refuses a change by a principal whose reads are scoped.
    pub fn check_may_change(&self, principal: Principal<'_>, name: &str) -> Result<(), ParamError> {
        if self.scopes(principal)?.is_unrestricted() { Ok(()) } else { Err(denied(principal, "change", name)) }
    }

    /// One parameter as `principal` may see it: refused when it may not read the name,
    /// or asks for decryption it may not do.
    pub fn get(&self, principal: Principal<'_>, selector: &str, decrypt: bool) -> Result<Parameter, ParamError> {
        let scopes = self.scopes(principal)?;
        self.get_with(&scopes, principal, selector, decrypt)
    }

    pub fn get_with(&self, scopes: &ParamScopes, principal: Principal<'_>, selector: &str, decrypt: bool) -> Result<Parameter, ParamError> {
        let name = canonical_name(selector.split_once(':').map_or(selector, |(n, _)| n))?;
        if !scopes.may_read(&name) {
            return Err(denied(principal, "read", &name));
        }
        let stored = self.store.get_parameter(selector)?;
        if decrypt && stored.is_secure() && !scopes.may_decrypt(&name) {
            return Err(denied(principal, "decrypt", &name));
        }
        stored.reveal(self.key.as_deref(), decrypt)
    }

    /// Several parameters: those that are invalid, missing or not readable are listed
    /// apart, as given; asking to decrypt one it may not decrypt is refused.
    pub fn get_many(
        &self,
        principal: Principal<'_>,
        selectors: &[String],
        decrypt: bool,
    ) -> Result<(Vec<Parameter>, Vec<String>), ParamError> {
        let scopes = self.scopes(principal)?;
        let (mut found, mut invalid) = (Vec::new(), Vec::new());
        for selector in selectors {
            let readable = canonical_name(selector.split_once(':').map_or(selector.as_str(), |(n, _)| n)).map(|n| scopes.may_read(&n));
            if readable == Ok(false) {
                invalid.push(selector.clone());
                continue;
            }
            match self.get_with(&scopes, principal, selector, decrypt) {
                Ok(parameter) => found.push(parameter),
                Err(ParamError::Invalid { .. } | ParamError::NotFound(_)) => invalid.push(selector.clone()),
                Err(other) => return Err(other),
            }
        }
        Ok((found, invalid))
    }

    /// A page of parameters under a path: names the principal may not read are left
    /// out; decryption is refused when it may not decrypt one that is in the page.
    pub fn by_path(
        &self,
        principal: Principal<'_>,
        query: &PathQuery,
        decrypt: bool,
    ) -> Result<(Vec<Parameter>, Option<String>), ParamError> {
        let scopes = self.scopes(principal)?;
        let (page, next) = self.store.get_parameters_by_path(query, &|name| scopes.may_read(name))?;
        let mut shown = Vec::with_capacity(page.len());
        for stored in page {
            if decrypt && stored.is_secure() && !scopes.may_decrypt(stored.name()) {
                return Err(denied(principal, "decrypt", stored.name()));
            }
            shown.push(stored.reveal(self.key.as_deref(), decrypt)?);
        }
        Ok((shown, next))
    }

    /// A page of a parameter's history, with the same checks as [`Parameters::get`].
    pub fn history(
        &self,
        principal: Principal<'_>,
        name: &str,
        decrypt: bool,
        max_results: Option<usize>,
        next_token: Option<&str>,
    ) -> Result<bosun_protocol::params::HistoryPage, ParamError> {
        let scopes = self.scopes(principal)?;
        let canonical = canonical_name(name)?;
        if !scopes.may_read(&canonical) {
            return Err(denied(principal, "read", &canonical));
        }
        let (versions, mut page) = self.store.parameter_history(name, max_results, next_token)?;
        for stored in versions {
            if decrypt && stored.is_secure() && !scopes.may_decrypt(stored.name()) {
                return Err(denied(principal, "decrypt", stored.name()));
            }
            page.parameters.push(stored.reveal(self.key.as_deref(), decrypt)?);
        }
        Ok(page)
    }

    /// Puts a parameter for a principal that may change parameters.
    pub async fn put(&self, principal: Principal<'_>, request: PutParameter) -> Result<PutResult, ParamError> {
        self.check_may_change(principal, &request.name)?;
        self.store.put_parameter_async(request, principal.unwrap_or("local"), self.key.clone()).await
    }
}

impl ParameterSource for Parameters {
    fn parameter(&self, principal: Option<&str>, selector: &str, secure: bool) -> Result<String, String> {
        let parameter = self.get(principal, selector, secure).map_err(|e| e.to_string())?;
        match (parameter.kind, secure) {
            (ParameterType::SecureString, false) => Err(format!("{} is a SecureString: refer to it with ssm-secure:", parameter.name)),
            (ParameterType::SecureString, true) => Ok(parameter.value),
            (_, true) => Err(format!("{} is not a SecureString: refer to it with ssm:", parameter.name)),
            (_, false) => Ok(parameter.value),
        }
    }
}
