//! What the node reports about itself: os-release name and version, kernel,
//! architecture, hostname and non-loopback IP addresses.

use std::net::IpAddr;

use bosun_protocol::agent::Platform;

/// Reads the platform of this machine. Missing pieces are reported as `unknown`.
pub fn detect() -> Platform {
    let release =
        std::fs::read_to_string("/etc/os-release").or_else(|_| std::fs::read_to_string("/usr/lib/os-release")).unwrap_or_default();
    let (name, version) = os_release(&release);
    let uts = nix::sys::utsname::uname().ok();
    let text = |s: Option<&std::ffi::OsStr>| s.map(|s| s.to_string_lossy().into_owned()).filter(|s| !s.is_empty());
    Platform {
        platform_type: "Linux".into(),
        name: name.unwrap_or_else(|| "Linux".into()),
        version: version.unwrap_or_else(|| "unknown".into()),
        kernel: text(uts.as_ref().map(|u| u.release())).unwrap_or_else(|| "unknown".into()),
        architecture: text(uts.as_ref().map(|u| u.machine())).unwrap_or_else(|| std::env::consts::ARCH.into()),
        hostname: nix::unistd::gethostname().ok().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|| "unknown".into()),
        ip_addresses: ip_addresses(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// NAME and VERSION_ID of an os-release file, unquoted.
pub fn os_release(text: &str) -> (Option<String>, Option<String>) {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else { continue };
        let value = unquote(value.trim());
        match key {
            "NAME" => name = Some(value),
            "VERSION_ID" => version = Some(value),
            _ => {}
        }
    }
    (name.filter(|n| !n.is_empty()), version.filter(|v| !v.is_empty()))
}

fn unquote(value: &str) -> String {
    let inner = ['"', '\''].iter().find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q))).unwrap_or(value);
    inner.replace("\\\"", "\"").replace("\\\\", "\\").replace("\\$", "$").replace("\\`", "`")
}

/// The machine's addresses, without loopback and IPv6 link-local ones.
fn ip_addresses() -> Vec<String> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    let mut out: Vec<String> = Vec::new();
    for iface in interfaces {
        let Some(address) = iface.address else { continue };
        let ip = if let Some(v4) = address.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = address.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        let link_local_v6 = matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
        if ip.is_loopback() || ip.is_unspecified() || link_local_v6 {
            continue;
        }
        let text = ip.to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_os_release() {
        let text = "PRETTY_NAME=\"Ubuntu 24.04 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\n";
        assert_eq!(os_release(text), (Some("Ubuntu".into()), Some("24.04".into())));
        assert_eq!(os_release("NAME=Alpine Linux\nVERSION_ID=3.20.1\n"), (Some("Alpine Linux".into()), Some("3.20.1".into())));
        assert_eq!(os_release("# nothing\n"), (None, None));
    }

    #[test]
    fn detects_this_machine() {
        let p = detect();
        assert_eq!(p.platform_type, "Linux");
        assert!(!p.kernel.is_empty() && !p.architecture.is_empty() && !p.hostname.is_empty());
        assert_eq!(p.agent_version, env!("CARGO_PKG_VERSION"));
        assert!(p.ip_addresses.iter().all(|ip| ip != "127.0.0.1" && ip != "::1"));
    }
}
