//! Capability grants: the `--grant` syntax operators type and manifests use to
//! ask, parsed into one typed value per capability.
//!
//! ```text
//! fs:ro:/var/lib/dpkg              read-only directory, seen by the plugin at the same path
//! fs:rw:/srv/backup=/backup        read-write directory, seen by the plugin as /backup
//! http:https://ec2.us-east-1.amazonaws.com
//! http:https://*.example.com:8443  any subdomain of example.com, port 8443
//! exec:/usr/bin/apt-get            the program with any arguments
//! exec:/usr/bin/apt-get install -y **   arguments matched one by one; `*` inside one, `**` for the rest
//! param:/app/dev/*                 every parameter under /app/dev/
//! param:/app/dev/db-host           one parameter
//! env:HTTPS_PROXY                  one environment variable of the host
//! aws:ec2:us-east-1                signed cloud calls to one service in one region
//! aws:autoscaling:*                signed cloud calls to one service in any region
//! ```

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("grant \"{grant}\": {reason}")]
pub struct GrantError {
    pub grant: String,
    pub reason: String,
}

/// One capability an operator grants (or a manifest asks for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A host directory preopened for the plugin.
    Fs { host: String, guest: String, writable: bool },
    /// Outbound HTTP to one scheme, host pattern and port.
    Http { scheme: String, host: HostPattern, port: u16 },
    /// A program the plugin may run, with the arguments it may pass (`None`: any).
    Exec { program: String, args: Option<Vec<ArgPattern>> },
    /// Parameter Store names the plugin may read.
    Param(ParamScope),
    /// A host environment variable passed to the plugin.
    Env { name: String },
    /// Cloud API calls the host signs: one service, in one region or (`None`) any.
    Aws { service: String, region: Option<String> },
}

/// A host name, or every subdomain of one (`*.example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    SubdomainsOf(String),
}

/// One argument rule of an exec grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgPattern {
    /// A glob for one argument: `*` stands for any run of characters.
    One(String),
    /// `**`: any remaining arguments, none included.
    Rest,
}

/// The parameter names a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamScope {
    Exact(String),
    /// Everything under this path; the string ends with `/`.
    Under(String),
}

const MAX_GRANT_LEN: usize = 4096;

impl Grant {
    /// Parses one grant in the syntax above.
    pub fn parse(text: &str) -> Result<Grant, GrantError> {
        let fail = |reason: &str| GrantError { grant: text.chars().take(200).collect(), reason: reason.to_string() };
        if text.len() > MAX_GRANT_LEN {
            return Err(fail("longer than 4096 bytes"));
        }
        if text.chars().any(|c| c.is_control()) {
            return Err(fail("contains a control character"));
        }
        let Some((kind, rest)) = text.split_once(':') else {
            return Err(fail("expected KIND:VALUE, where KIND is fs, http, exec, param, env or aws"));
        };
        match kind {
            "fs" => parse_fs(rest).map_err(|r| fail(&r)),
            "http" => parse_http(rest).map_err(|r| fail(&r)),
            "exec" => parse_exec(rest).map_err(|r| fail(&r)),
            "param" => parse_param(rest).map(Grant::Param).map_err(|r| fail(&r)),
            "env" => parse_env(rest).map_err(|r| fail(&r)),
            "aws" => parse_aws(rest).map_err(|r| fail(&r)),
            other => Err(fail(&format!("unknown kind \"{other}\"; expected fs, http, exec, param, env or aws"))),
        }
    }

    /// The kind word, as in the syntax.
    pub fn kind(&self) -> &'static str {
        match self {
            Grant::Fs { .. } => "fs",
            Grant::Http { .. } => "http",
            Grant::Exec { .. } => "exec",
            Grant::Param(_) => "param",
            Grant::Env { .. } => "env",
            Grant::Aws { .. } => "aws",
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::Fs { host, guest, writable } => {
                write!(f, "fs:{}:{host}", if *writable { "rw" } else { "ro" })?;
                if guest != host {
                    write!(f, "={guest}")?;
                }
                Ok(())
            }
            Grant::Http { scheme, host, port } => {
                let host = match host {
                    // An IPv6 address is kept bare and printed in brackets.
                    HostPattern::Exact(h) if h.contains(':') => format!("[{h}]"),
                    HostPattern::Exact(h) => h.clone(),
                    HostPattern::SubdomainsOf(h) => format!("*.{h}"),
                };
                if Some(*port) == default_port(scheme) {
                    write!(f, "http:{scheme}://{host}")
                } else {
                    write!(f, "http:{scheme}://{host}:{port}")
                }
            }
            Grant::Exec { program, args } => {
                write!(f, "exec:{program}")?;
                for arg in args.iter().flatten() {
                    match arg {
                        ArgPattern::One(glob) => write!(f, " {glob}")?,
                        ArgPattern::Rest => write!(f, " **")?,
                    }
                }
                Ok(())
            }
            Grant::Param(ParamScope::Exact(name)) => write!(f, "param:{name}"),
            Grant::Param(ParamScope::Under(path)) => write!(f, "param:{path}*"),
            Grant::Env { name } => write!(f, "env:{name}"),
            Grant::Aws { service, region } => write!(f, "aws:{service}:{}", region.as_deref().unwrap_or("*")),
        }
    }
}

fn parse_fs(rest: &str) -> Result<Grant, String> {
    let (mode, paths) = rest.split_once(':').ok_or("expected fs:ro:PATH or fs:rw:PATH")?;
    let writable = match mode {
        "ro" => false,
        "rw" => true,
        other => return Err(format!("unknown mode \"{other}\"; expected ro or rw")),
    };
    let (host, guest) = match paths.split_once('=') {
        Some((host, guest)) => (host, guest),
        None => (paths, paths),
    };
    check_absolute_path(host, "host path")?;
    check_absolute_path(guest, "path inside the plugin")?;
    Ok(Grant::Fs { host: trim_slash(host), guest: trim_slash(guest), writable })
}

fn trim_slash(path: &str) -> String {
    if path.len() > 1 { path.trim_end_matches('/').to_string() } else { path.to_string() }
}

fn check_absolute_path(path: &str, what: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("the {what} must be absolute"));
    }
    if path.split('/').any(|part| part == ".." || part == ".") {
        return Err(format!("the {what} must not contain . or .. components"));
    }
    Ok(())
}

/// The port a URL of this scheme uses when it names none.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn parse_http(rest: &str) -> Result<Grant, String> {
    let (scheme, after) = rest.split_once("://").ok_or("expected http:SCHEME://HOST[:PORT]")?;
    let Some(default) = default_port(scheme) else {
        return Err(format!("unknown scheme \"{scheme}\"; expected http or https"));
    };
    let authority = after.strip_suffix('/').unwrap_or(after);
    if authority.contains(['/', '?', '#', '@']) {
        return Err("a grant names a scheme, host and port only: no path, query or user".into());
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("bad port \"{p}\""))?,
        None => default,
    };
    let host = host.to_ascii_lowercase();
    let pattern = match host.strip_prefix("*.") {
        Some(parent) => {
            check_host(parent)?;
            HostPattern::SubdomainsOf(parent.to_string())
        }
        None => {
            check_host(&host)?;
            HostPattern::Exact(host)
        }
    };
    Ok(Grant::Http { scheme: scheme.to_string(), host: pattern, port })
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or("unclosed [ in IPv6 address")?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected :PORT after ]")?),
        };
        addr.parse::<std::net::Ipv6Addr>().map_err(|_| format!("bad IPv6 address \"{addr}\""))?;
        return Ok((addr, port));
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn check_host(host: &str) -> Result<(), String> {
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(());
    }
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok { Ok(()) } else { Err(format!("bad host name \"{host}\"; wildcards are allowed only as a leading *.")) }
}

fn parse_exec(rest: &str) -> Result<Grant, String> {
    let mut words = rest.split(' ').filter(|w| !w.is_empty());
    let program = words.next().ok_or("expected exec:/absolute/program [ARG-PATTERN...]")?;
    check_absolute_path(program, "program")?;
    if program.contains('*') {
        return Err("the program must be a path, not a pattern".into());
    }
    let patterns: Vec<&str> = words.collect();
    if patterns.is_empty() {
        return Ok(Grant::Exec { program: program.to_string(), args: None });
    }
    let mut args = Vec::with_capacity(patterns.len());
    for (i, word) in patterns.iter().enumerate() {
        if *word == "**" {
            if i + 1 != patterns.len() {
                return Err("** stands for the remaining arguments, so it must come last".into());
            }
            args.push(ArgPattern::Rest);
        } else {
            args.push(ArgPattern::One(word.to_string()));
        }
    }
    Ok(Grant::Exec { program: program.to_string(), args: Some(args) })
}

fn parse_param(rest: &str) -> Result<ParamScope, String> {
    if rest.is_empty() {
        return Err("expected param:/path/* or param:/path/name".into());
    }
    if let Some(path) = rest.strip_suffix('*') {
        if !path.ends_with('/') {
            return Err("a wildcard must follow a slash, as in /app/dev/*".into());
        }
        if path.contains('*') {
            return Err("only a trailing /* is allowed".into());
        }
        return Ok(ParamScope::Under(path.to_string()));
    }
    if rest.contains('*') {
        return Err("only a trailing /* is allowed".into());
    }
    Ok(ParamScope::Exact(rest.to_string()))
}

fn parse_env(rest: &str) -> Result<Grant, String> {
    let ok =
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !rest.starts_with(|c: char| c.is_ascii_digit());
    if ok { Ok(Grant::Env { name: rest.to_string() }) } else { Err(format!("bad variable name \"{rest}\"")) }
}

fn parse_aws(rest: &str) -> Result<Grant, String> {
    let (service, region) = rest.split_once(':').ok_or("expected aws:SERVICE:REGION, as in aws:ec2:us-east-1 (REGION may be *)")?;
    let name_ok = |text: &str| {
        !text.is_empty()
            && text.len() <= 64
            && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !text.starts_with('-')
            && !text.ends_with('-')
    };
    if !name_ok(service) {
        return Err(format!("bad service \"{service}\"; expected a lowercase name such as ec2 or autoscaling"));
    }
    let region = match region {
        "*" => None,
        r if name_ok(r) => Some(r.to_string()),
        r => return Err(format!("bad region \"{r}\"; expected a lowercase name such as us-east-1, or *")),
    };
    Ok(Grant::Aws { service: service.to_string(), region })
}

impl HostPattern {
    pub fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self {
            HostPattern::Exact(h) => *h == host,
            HostPattern::SubdomainsOf(parent) => {
                host.len() > parent.len() + 1 && host.ends_with(parent.as_str()) && host[..host.len() - parent.len()].ends_with('.')
            }
        }
    }
}

impl ParamScope {
    /// True when `name` (normalised to a leading slash) is covered.
    pub fn covers(&self, name: &str) -> bool {
        let normalised = if name.starts_with('/') { name.to_string() } else { format!("/{name}") };
        match self {
            ParamScope::Exact(exact) => {
                let exact = if exact.starts_with('/') { exact.clone() } else { format!("/{exact}") };
                exact == normalised
            }
            ParamScope::Under(path) => {
                let path = if path.starts_with('/') { path.clone() } else { format!("/{path}") };
                normalised.len() > path.len() && normalised.starts_with(&path) && !normalised[path.len()..].contains("..")
            }
        }
    }
}

/// True when the arguments satisfy the patterns of one exec grant.
pub fn args_allowed(patterns: Option<&[ArgPattern]>, args: &[String]) -> bool {
    let Some(patterns) = patterns else { return true };
    let mut args = args.iter();
    for pattern in patterns {
        match pattern {
            ArgPattern::Rest => return true,
            ArgPattern::One(glob) => match args.next() {
                Some(arg) if glob_matches(glob, arg) => {}
                _ => return false,
            },
        }
    }
    args.next().is_none()
}

/// `*` matches any run of characters, everything else itself.
fn glob_matches(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(at) => middle = &middle[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Grant {
        Grant::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> String {
        Grant::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_each_kind_and_prints_it_back() {
        for text in [
            "fs:ro:/var/lib/dpkg",
            "fs:rw:/srv/backup=/backup",
            "http:https://ec2.us-east-1.amazonaws.com",
            "http:https://*.example.com:8443",
            "http:http://127.0.0.1:8080",
            "http:http://[::1]:9000",
            "exec:/usr/bin/apt-get",
            "exec:/usr/bin/apt-get install -y **",
            "param:/app/dev/*",
            "param:/app/dev/db-host",
            "env:HTTPS_PROXY",
            "aws:ec2:us-east-1",
            "aws:autoscaling:*",
        ] {
            assert_eq!(ok(text).to_string(), text);
        }
    }

    #[test]
    fn default_ports_and_trailing_slashes_normalise() {
        assert_eq!(ok("http:https://Example.COM:443/").to_string(), "http:https://example.com");
        assert_eq!(ok("fs:ro:/var/lib/dpkg/").to_string(), "fs:ro:/var/lib/dpkg");
    }

    #[test]
    fn refuses_bad_grants_with_reasons() {
        assert!(err("fs:ro:relative").contains("must be absolute"));
        assert!(err("fs:ro:/var/../etc").contains(".."));
        assert!(err("fs:rx:/var").contains("unknown mode"));
        assert!(err("http:ftp://x").contains("unknown scheme"));
        assert!(err("http:https://x.com/path").contains("no path"));
        assert!(err("http:https://a.*.com").contains("wildcards"));
        assert!(err("http:https://x.com:0").contains("bad port"));
        assert!(err("http:https://user@x.com").contains("no path, query or user"));
        assert!(err("exec:apt-get").contains("absolute"));
        assert!(err("exec:/bin/sh ** -c").contains("must come last"));
        assert!(err("param:/app*").contains("follow a slash"));
        assert!(err("env:1BAD").contains("bad variable"));
        assert!(err("net:anything").contains("unknown kind"));
        assert!(err("nothing").contains("KIND:VALUE"));
        assert!(err("env:A\nB").contains("control character"));
        assert!(err("aws:ec2").contains("aws:SERVICE:REGION"));
        assert!(err("aws:EC2:us-east-1").contains("bad service"));
        assert!(err("aws::us-east-1").contains("bad service"));
        assert!(err("aws:ec2:us east").contains("bad region"));
        assert!(err("aws:ec2:us-*").contains("bad region"));
        assert!(err(&format!("aws:ec2:{}", "a".repeat(65))).contains("bad region"));
        assert!(err(&format!("env:{}", "A".repeat(5000))).contains("longer than"));
    }

    #[test]
    fn host_patterns() {
        let Grant::Http { host, .. } = ok("http:https://*.example.com") else { panic!() };
        assert!(host.matches("api.example.com"));
        assert!(host.matches("a.b.EXAMPLE.com"));
        assert!(!host.matches("example.com"));
        assert!(!host.matches("evilexample.com"));
        let Grant::Http { host, port, .. } = ok("http:http://[::1]:9000") else { panic!() };
        assert!(host.matches("::1") && port == 9000, "IPv6 hosts are matched bare, as URLs give them");
    }

    #[test]
    fn param_scopes() {
        let Grant::Param(scope) = ok("param:/app/dev/*") else { panic!() };
        assert!(scope.covers("/app/dev/db"));
        assert!(scope.covers("app/dev/db/host"));
        assert!(!scope.covers("/app/dev"));
        assert!(!scope.covers("/app/prod/db"));
        assert!(!scope.covers("/app/dev/../prod/db"));
        let Grant::Param(exact) = ok("param:app/x") else { panic!() };
        assert!(exact.covers("/app/x"));
        assert!(!exact.covers("/app/xy"));
    }

    #[test]
    fn exec_argument_rules() {
        let Grant::Exec { args, .. } = ok("exec:/usr/bin/apt-get install -y **") else { panic!() };
        let allowed = |a: &[&str]| args_allowed(args.as_deref(), &a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(allowed(&["install", "-y"]));
        assert!(allowed(&["install", "-y", "curl", "jq"]));
        assert!(!allowed(&["remove", "-y", "curl"]));
        assert!(!allowed(&["install"]));
        let Grant::Exec { args, .. } = ok("exec:/usr/bin/dpkg-query -W -f=*") else { panic!() };
        let allowed = |a: &[&str]| args_allowed(args.as_deref(), &a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(allowed(&["-W", "-f=${Package}"]));
        assert!(!allowed(&["-W", "-f=x", "extra"]));
        assert!(!allowed(&["-W", "-g"]));
        assert!(args_allowed(None, &["anything".to_string()]));
    }

    #[test]
    fn globs() {
        assert!(glob_matches("a*c", "abc"));
        assert!(glob_matches("a*c", "ac"));
        assert!(!glob_matches("a*c", "a"));
        assert!(glob_matches("*x*", "axb"));
        assert!(!glob_matches("*x*", "ab"));
        assert!(glob_matches("exact", "exact"));
    }
}
