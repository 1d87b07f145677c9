//! The network collector: `AWS:Network`, one entry per interface of
//! `/sys/class/net` (each a link into `/sys/devices`, where its MAC address
//! is), with its IPv4 addresses (the local addresses of `/proc/net/fib_trie`,
//! placed on an interface by the longest matching route of `/proc/net/route`),
//! subnet mask and gateway, and its IPv6 addresses (`/proc/net/if_inet6`).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};

use bosun_plugin_sdk::{Host, InventoryItem, PluginError};
use serde::Deserialize;

pub const CLASS_NET: &str = "/sys/class/net";
pub const PROC_NET: &str = "/proc/net";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {}

/// One interface as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    pub mac: String,
    pub ipv4: Vec<Ipv4Addr>,
    pub ipv6: Vec<Ipv6Addr>,
    pub mask: Option<Ipv4Addr>,
    pub gateway: Option<Ipv4Addr>,
}

/// One line of /proc/net/route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub iface: String,
    pub destination: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub mask: Ipv4Addr,
}

pub fn collect(_input: Input, _host: &Host) -> Result<Vec<InventoryItem>, PluginError> {
    let names = std::fs::read_dir(CLASS_NET).map_err(|e| bosun_plugin_sdk::fs::io_error("list", CLASS_NET, &e))?;
    let mut interfaces: BTreeMap<String, Interface> = BTreeMap::new();
    for entry in names.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // The entry is a link into /sys/devices; the MAC address is read there.
        let device = std::fs::read_link(entry.path()).map(|target| resolve(Path::new(CLASS_NET), &target)).unwrap_or_else(|_| entry.path());
        let mac = std::fs::read_to_string(device.join("address")).map(|s| s.trim().to_string()).unwrap_or_default();
        interfaces.insert(name, Interface { mac, ..Interface::default() });
    }
    let read = |file: &str| std::fs::read_to_string(format!("{PROC_NET}/{file}")).unwrap_or_default();
    let routes = parse_routes(&read("route"));
    for address in parse_fib_trie_locals(&read("fib_trie")) {
        let Some(route) = best_route(&routes, address) else {
            if address.is_loopback()
                && let Some(lo) = interfaces.get_mut("lo")
            {
                lo.ipv4.push(address);
                lo.mask.get_or_insert(Ipv4Addr::new(255, 0, 0, 0));
            }
            continue;
        };
        if let Some(interface) = interfaces.get_mut(&route.iface) {
            interface.ipv4.push(address);
            interface.mask.get_or_insert(route.mask);
        }
    }
    for route in routes.iter().filter(|r| r.destination.is_unspecified() && r.mask.is_unspecified()) {
        if let Some(interface) = interfaces.get_mut(&route.iface) {
            interface.gateway.get_or_insert(route.gateway);
        }
    }
    for (name, address) in parse_if_inet6(&read("if_inet6")) {
        if let Some(interface) = interfaces.get_mut(&name) {
            interface.ipv6.push(address);
        }
    }
    let join = |list: Vec<String>| list.join(",");
    let entries = interfaces
        .into_iter()
        .map(|(name, i)| {
            let mut entry = vec![("Name".to_string(), name), ("MacAddress".to_string(), i.mac)];
            entry.push(("IPV4".to_string(), join(i.ipv4.iter().map(ToString::to_string).collect())));
            entry.push(("IPV6".to_string(), join(i.ipv6.iter().map(ToString::to_string).collect())));
            if let Some(mask) = i.mask {
                entry.push(("SubnetMask".to_string(), mask.to_string()));
            }
            if let Some(gateway) = i.gateway {
                entry.push(("Gateway".to_string(), gateway.to_string()));
            }
            entry
        })
        .collect();
    Ok(vec![InventoryItem::now("AWS:Network", "1.0").entry_list(entries)])
}

/// `target` (a link's relative target) resolved against `base`, `..` applied.
fn resolve(base: &Path, target: &Path) -> PathBuf {
    let mut path = base.to_path_buf();
    for part in target.components() {
        match part {
            Component::ParentDir => {
                path.pop();
            }
            Component::RootDir => path = PathBuf::from("/"),
            Component::Normal(p) => path.push(p),
            _ => {}
        }
    }
    path
}

/// A little-endian hex address of /proc/net/route.
fn hex_ipv4(text: &str) -> Option<Ipv4Addr> {
    u32::from_str_radix(text, 16).ok().map(|n| Ipv4Addr::from(n.swap_bytes()))
}

pub fn parse_routes(text: &str) -> Vec<Route> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            Some(Route {
                iface: f.first()?.to_string(),
                destination: hex_ipv4(f.get(1)?)?,
                gateway: hex_ipv4(f.get(2)?)?,
                mask: hex_ipv4(f.get(7)?)?,
            })
        })
        .collect()
}

/// The route with the longest mask that holds `address`, default routes aside.
pub fn best_route(routes: &[Route], address: Ipv4Addr) -> Option<&Route> {
    routes
        .iter()
        .filter(|r| !r.mask.is_unspecified() && u32::from(address) & u32::from(r.mask) == u32::from(r.destination))
        .max_by_key(|r| u32::from(r.mask).count_ones())
}

/// The local (`/32 host LOCAL`) addresses of /proc/net/fib_trie, each once.
pub fn parse_fib_trie_locals(text: &str) -> Vec<Ipv4Addr> {
    let mut last: Option<Ipv4Addr> = None;
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches([' ', '|', '+', '-']).trim();
        if let Ok(address) = line.parse::<Ipv4Addr>() {
            last = Some(address);
        } else if line.starts_with("/32 host LOCAL")
            && let Some(address) = last
            && !found.contains(&address)
        {
            found.push(address);
        }
    }
    found
}

/// (interface, address) pairs of /proc/net/if_inet6.
pub fn parse_if_inet6(text: &str) -> Vec<(String, Ipv6Addr)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let address = u128::from_str_radix(f.first()?, 16).ok()?;
            Some((f.get(5)?.to_string(), Ipv6Addr::from(address)))
        })
        .collect()
}

bosun_plugin_sdk::export_inventory!(collect);

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
eth1\t0010A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    const FIB: &str = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 10.0.0.0/24 2 0 2\n        |-- 10.0.0.5\n           /32 host LOCAL\n        |-- 10.0.0.255\n           /32 link BROADCAST\nLocal:\n  |-- 10.0.0.5\n     /32 host LOCAL\n  |-- 127.0.0.1\n     /32 host LOCAL\n  |-- 192.168.16.7\n     /32 host LOCAL\n";

    #[test]
    fn routes_and_local_addresses_place_addresses_on_interfaces() {
        let routes = parse_routes(ROUTE);
        assert_eq!(routes.len(), 3);
        assert_eq!(routes[0].gateway, Ipv4Addr::new(10, 0, 0, 1));
        let locals = parse_fib_trie_locals(FIB);
        assert_eq!(locals, vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(192, 168, 16, 7)]);
        assert_eq!(best_route(&routes, locals[0]).unwrap().iface, "eth0");
        assert_eq!(best_route(&routes, locals[2]).unwrap().mask, Ipv4Addr::new(255, 255, 255, 0));
        assert!(best_route(&routes, locals[1]).is_none());
    }

    #[test]
    fn ipv6_lines_name_their_interface() {
        let parsed = parse_if_inet6(
            "00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000fcfffe000001 02 40 20 80     eth0\n",
        );
        assert_eq!(parsed[0], ("lo".to_string(), Ipv6Addr::LOCALHOST));
        assert_eq!(parsed[1].1.to_string(), "fe80::fcff:fe00:1");
    }

    #[test]
    fn links_resolve_into_sys_devices() {
        assert_eq!(
            resolve(Path::new("/sys/class/net"), Path::new("../../devices/virtual/net/lo")),
            PathBuf::from("/sys/devices/virtual/net/lo")
        );
    }
}
