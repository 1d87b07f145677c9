//! Fuzzes the deb822 readers of a patch scan: the same bytes as a dpkg status
//! database and as an apt Packages list. Any input must give packages or an
//! error naming the file, never a panic; every package read has a name and a
//! version.
#![no_main]

use std::collections::{HashMap, HashSet};

use bosun_patching::{apt, dpkg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match dpkg::read_status(data, "status") {
        Ok(installed) => assert!(installed.iter().all(|p| !p.name.is_empty() && !p.version.is_empty())),
        Err(e) => assert_eq!(e.file, "status"),
    }
    let text = String::from_utf8_lossy(data);
    let names: HashSet<&str> = text.lines().filter_map(|l| l.strip_prefix("Package:")).map(str::trim).collect();
    let mut found = HashMap::new();
    if apt::read_packages(data, "Packages", 0, &names, &mut found).is_ok() {
        assert!(found.keys().all(|name| names.contains(name.as_str())), "only the packages asked for are kept");
    }
});
