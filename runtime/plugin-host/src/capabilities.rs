//! The capability table of one installed plugin: the operator's grants parsed
//! once into the shape each host function checks. Every check fails closed,
//! and a denial says which capability was missing and how to grant it.

use bosun_plugin_manifest::{ArgPattern, Grant, HostPattern, ParamScope, args_allowed, default_port};

/// A refused call: what was asked, and the grant that would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub capability: &'static str,
    pub message: String,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: String,
    pub guest: String,
    pub writable: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    pub mounts: Vec<Mount>,
    http: Vec<(String, HostPattern, u16)>,
    exec: Vec<(String, Option<Vec<ArgPattern>>)>,
    params: Vec<ParamScope>,
    pub env: Vec<String>,
    /// Signed cloud calls: a service, and its region or `None` for any.
    aws: Vec<(String, Option<String>)>,
}

impl Capabilities {
    pub fn from_grants(grants: &[Grant]) -> Capabilities {
        let mut caps = Capabilities::default();
        for grant in grants {
            match grant.clone() {
                Grant::Fs { host, guest, writable } => caps.mounts.push(Mount { host, guest, writable }),
                Grant::Http { scheme, host, port } => caps.http.push((scheme, host, port)),
                Grant::Exec { program, args } => caps.exec.push((program, args)),
                Grant::Param(scope) => caps.params.push(scope),
                Grant::Env { name } => caps.env.push(name),
                Grant::Aws { service, region } => caps.aws.push((service, region)),
            }
        }
        caps
    }

    pub fn check_http(&self, scheme: &str, host: &str, port: u16) -> Result<(), Denial> {
        if self.http.iter().any(|(s, pattern, p)| s == scheme && *p == port && pattern.matches(host)) {
            return Ok(());
        }
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
        let shown = if Some(port) == default_port(scheme) { format!("{scheme}://{host}") } else { format!("{scheme}://{host}:{port}") };
        Err(Denial {
            capability: "http",
            message: format!("http request to {shown} denied: not granted; grant it with --grant http:{shown}"),
        })
    }

    pub fn check_aws(&self, service: &str, region: &str) -> Result<(), Denial> {
        if self.aws.iter().any(|(s, r)| s == service && r.as_deref().is_none_or(|r| r == region)) {
            return Ok(());
        }
        Err(Denial {
            capability: "aws",
            message: format!("{service} call in {region} denied: not granted; grant it with --grant aws:{service}:{region}"),
        })
    }

    pub fn check_exec(&self, program: &str, args: &[String]) -> Result<(), Denial> {
        let grants: Vec<_> = self.exec.iter().filter(|(p, _)| p == program).collect();
        if grants.is_empty() {
            return Err(Denial {
                capability: "exec",
                message: format!("exec of {program} denied: not granted; grant it with --grant exec:{program}"),
            });
        }
        if grants.iter().any(|(_, patterns)| args_allowed(patterns.as_deref(), args)) {
            return Ok(());
        }
        Err(Denial {
            capability: "exec",
            message: format!(
                "exec of {program} denied: the arguments {args:?} match no granted pattern ({})",
                grants.iter().map(|(p, a)| Grant::Exec { program: p.clone(), args: a.clone() }.to_string()).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    pub fn check_param(&self, name: &str) -> Result<(), Denial> {
        if self.params.iter().any(|scope| scope.covers(name)) {
            return Ok(());
        }
        Err(Denial {
            capability: "param",
            message: format!(
                "reading parameter {name} denied: not granted; grant it with --grant param:{name} or a path such as param:/app/*"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(grants: &[&str]) -> Capabilities {
        Capabilities::from_grants(&grants.iter().map(|g| Grant::parse(g).unwrap()).collect::<Vec<_>>())
    }

    #[test]
    fn an_empty_table_denies_everything() {
        let c = caps(&[]);
        assert!(c.check_http("https", "example.com", 443).is_err());
        assert!(c.check_exec("/bin/true", &[]).is_err());
        assert!(c.check_param("/a").is_err());
        assert!(c.check_aws("ec2", "us-east-1").is_err());
    }

    #[test]
    fn aws_needs_service_and_region() {
        let c = caps(&["aws:ec2:us-east-1", "aws:autoscaling:*"]);
        assert!(c.check_aws("ec2", "us-east-1").is_ok());
        assert!(c.check_aws("autoscaling", "eu-west-1").is_ok());
        let denial = c.check_aws("ec2", "eu-west-1").unwrap_err();
        assert_eq!(denial.message, "ec2 call in eu-west-1 denied: not granted; grant it with --grant aws:ec2:eu-west-1");
        assert!(c.check_aws("iam", "us-east-1").is_err());
    }

    #[test]
    fn denials_say_how_to_grant() {
        let c = caps(&["http:https://api.example.com"]);
        let denial = c.check_http("http", "api.example.com", 80).unwrap_err();
        assert_eq!(
            denial.message,
            "http request to http://api.example.com denied: not granted; grant it with --grant http:http://api.example.com"
        );
        assert!(c.check_http("https", "api.example.com", 443).is_ok());
        assert!(c.check_http("https", "api.example.com", 8443).is_err());
        let v6 = caps(&["http:http://[::1]:9000"]);
        assert!(v6.check_http("http", "::1", 9000).is_ok());
        assert!(v6.check_http("http", "::1", 9001).unwrap_err().message.ends_with("--grant http:http://[::1]:9001"));
    }

    #[test]
    fn exec_needs_program_and_arguments() {
        let c = caps(&["exec:/usr/bin/apt-get install -y **", "exec:/usr/bin/apt-get update"]);
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(c.check_exec("/usr/bin/apt-get", &args(&["update"])).is_ok());
        assert!(c.check_exec("/usr/bin/apt-get", &args(&["install", "-y", "jq"])).is_ok());
        let e = c.check_exec("/usr/bin/apt-get", &args(&["remove", "jq"])).unwrap_err();
        assert!(e.message.contains("match no granted pattern"), "{e}");
        assert!(c.check_exec("/bin/sh", &[]).unwrap_err().message.contains("--grant exec:/bin/sh"));
    }
}
