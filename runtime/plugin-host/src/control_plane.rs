//! The link from a node's plugin call to the control plane that node talks to:
//! a plugin asks for a relative URL (`/v1/agent/packages/...`), and the host
//! sends it to the control plane with the node's credential, which never enters
//! the sandbox. Only the paths the link names are reachable, after the dot
//! segments of the URL are resolved, and the control plane's origin must still
//! be granted to the plugin (`http:` grant), like any other host.

use reqwest::Url;

/// Where relative URLs of one call go, and with which credential.
#[derive(Clone)]
pub struct ControlPlaneLink {
    base: Url,
    credential: String,
    /// Path prefixes under the base that the plugin may reach, e.g. `/v1/agent/packages/`.
    paths: Vec<String>,
}

impl std::fmt::Debug for ControlPlaneLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlaneLink").field("base", &self.base.as_str()).field("paths", &self.paths).finish_non_exhaustive()
    }
}

impl ControlPlaneLink {
    /// A link to the control plane at `base` (an http or https URL, possibly with a path).
    pub fn new(base: &str, credential: &str, paths: &[&str]) -> Result<ControlPlaneLink, String> {
        let base = Url::parse(base).map_err(|e| format!("the control plane's URL {base:?}: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("the control plane's URL {base} is not http or https"));
        }
        Ok(ControlPlaneLink { base, credential: credential.to_string(), paths: paths.iter().map(|p| p.to_string()).collect() })
    }

    /// The absolute URL of a relative one, when the link reaches it.
    pub(crate) fn resolve(&self, relative: &str) -> Result<Url, String> {
        let prefix = self.base.path().trim_end_matches('/').to_string();
        let mut joined = self.base.clone();
        joined.set_query(None);
        let (path, query) = relative.split_once('?').map_or((relative, None), |(p, q)| (p, Some(q)));
        joined.set_path(&format!("{prefix}{path}"));
        joined.set_query(query);
        // set_path resolves `..` and `.`, also percent-encoded: the check sees the path as sent.
        let reachable = self.paths.iter().any(|allowed| joined.path().starts_with(&format!("{prefix}{allowed}")));
        if !reachable {
            return Err(format!("{relative:?} is not a control-plane path this call may reach ({})", self.paths.join(", ")));
        }
        Ok(joined)
    }

    /// The Authorization header's value.
    pub(crate) fn authorization(&self) -> String {
        format!("Bearer {}", self.credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_named_paths_are_reachable() {
        let link = ControlPlaneLink::new("https://bosun.example:8443/ops/", "secret", &["/v1/agent/packages/"]).unwrap();
        let url = link.resolve("/v1/agent/packages/tools?version=1.0").unwrap();
        assert_eq!(url.as_str(), "https://bosun.example:8443/ops/v1/agent/packages/tools?version=1.0");
        for hostile in [
            "/v1/agent/packages/../poll",
            "/v1/agent/packages/%2e%2e/poll",
            "/v1/agent/poll",
            "/v1/packages/tools",
            "/../v1/agent/packages/x",
        ] {
            assert!(link.resolve(hostile).is_err(), "{hostile}: {:?}", link.resolve(hostile));
        }
        assert!(!format!("{link:?}").contains("secret"), "the credential is not in debug output");
    }
}
