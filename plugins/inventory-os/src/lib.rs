//! The OS collector: `AWS:InstanceInformation` (computer name, platform name,
//! type and version, kernel) from `/usr/lib/os-release` (where `/etc/os-release`
//! points on systemd distributions) and `/proc/sys/kernel`, and
//! `AWS:InstanceDetailedInformation` (CPUs, their speed) from
//! `/sys/devices/system/cpu`. The agent adds its own fields (agent type and
//! version, node id) to the first item before it uploads it.

use bosun_plugin_sdk::{Host, InventoryItem, PluginError};
use serde::Deserialize;

pub const OS_RELEASE: &str = "/usr/lib/os-release";
pub const KERNEL: &str = "/proc/sys/kernel";
pub const CPUS: &str = "/sys/devices/system/cpu";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {}

fn read(path: &str) -> Result<String, PluginError> {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(|e| bosun_plugin_sdk::fs::io_error("read", path, &e))
}

pub fn collect(_input: Input, _host: &Host) -> Result<Vec<InventoryItem>, PluginError> {
    let release = parse_os_release(&read(OS_RELEASE)?);
    let value = |key: &str| release.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
    let name = if value("NAME").is_empty() { value("ID") } else { value("NAME") };
    let information = InventoryItem::now("AWS:InstanceInformation", "1.0").entry([
        ("ComputerName", read(&format!("{KERNEL}/hostname"))?),
        ("PlatformName", name),
        ("PlatformType", "Linux".to_string()),
        ("PlatformVersion", value("VERSION_ID")),
        ("KernelVersion", read(&format!("{KERNEL}/osrelease"))?),
        ("ResourceType", "ManagedInstance".to_string()),
    ]);
    let mut detailed = vec![("CPUs".to_string(), count_cpus(&read(&format!("{CPUS}/online"))?).to_string())];
    if let Ok(khz) = read(&format!("{CPUS}/cpu0/cpufreq/cpuinfo_max_freq"))
        && let Ok(khz) = khz.parse::<u64>()
    {
        detailed.push(("CPUSpeedMHz".to_string(), (khz / 1000).to_string()));
    }
    let detailed = InventoryItem::now("AWS:InstanceDetailedInformation", "1.0").entry(detailed);
    Ok(vec![information, detailed])
}

/// `KEY=value` lines of os-release(5), quotes removed.
pub fn parse_os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches(['"', '\'']).to_string()))
        .collect()
}

/// How many CPUs a kernel CPU list (`0-3,6,8-9`) names.
pub fn count_cpus(list: &str) -> usize {
    list.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|part| match part.trim().split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => usize::from(part.trim().parse::<usize>().is_ok()),
        })
        .sum()
}

bosun_plugin_sdk::export_inventory!(collect);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_lines_are_parsed() {
        let parsed = parse_os_release("# comment\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n");
        assert_eq!(parsed[0], ("NAME".to_string(), "Debian GNU/Linux".to_string()));
        assert_eq!(parsed[1].1, "12");
        assert_eq!(parsed[2].1, "debian");
    }

    #[test]
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpus("0-3,6,8-9\n"), 7);
        assert_eq!(count_cpus("0"), 1);
        assert_eq!(count_cpus("3-1,x"), 0);
    }

    #[test]
    fn this_machine_gives_both_types() {
        if !std::path::Path::new(OS_RELEASE).exists() {
            println!("skipped: {OS_RELEASE} is absent on this machine");
            return;
        }
        let items = collect(Input {}, &bosun_plugin_sdk::testing::TestHost::new().host()).unwrap();
        assert_eq!(items[0].type_name, "AWS:InstanceInformation");
        assert!(items[1].content[0].iter().any(|(k, v)| k == "CPUs" && v != "0"));
    }
}
