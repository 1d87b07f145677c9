//! A synthetic Debian system for benchmarks: a dpkg status database and apt
//! lists of realistic stanzas (the fields and lengths of Debian's own), with
//! one installed package in seven a version behind the main archive and a
//! security archive offering newer versions of one package in thirty.

use std::io::Write;
use std::path::Path;

/// A version of package `i` in the main archive; installed packages run one behind for every seventh.
fn main_version(i: u64) -> String {
    format!("{}.{}.{}-{}+deb12u1", 1 + i % 5, i % 13, i % 7, 1 + i % 4)
}

fn stanza(out: &mut impl Write, i: u64, version: &str, extra: &str) -> std::io::Result<()> {
    let priority = ["required", "important", "standard", "optional", "extra"][(i % 5) as usize];
    let section = ["libs", "utils", "net", "admin", "devel", "python", "perl", "web"][(i % 8) as usize];
    writeln!(out, "Package: pkg-{i:06}")?;
    write!(out, "{extra}")?;
    writeln!(out, "Source: src-{:06}\nVersion: {version}\nInstalled-Size: {}", i / 3, 100 + i % 9000)?;
    writeln!(out, "Maintainer: Debian Maintainers <maintainers-{}@lists.debian.org>\nArchitecture: amd64", i % 97)?;
    writeln!(out, "Depends: libc6 (>= 2.34), pkg-{:06} (>= 1.0), libssl3 (>= 3.0.0)", (i * 7) % 60_000)?;
    writeln!(out, "Description: synthetic package {i} standing in for a real one")?;
    writeln!(out, " A long description, as real packages have, spread over several lines")?;
    writeln!(out, " so that the lists have the size of Debian's own: the scan must skip")?;
    writeln!(out, " the fields it does not need without holding them.")?;
    writeln!(out, "Homepage: https://example.org/pkg-{i}\nSection: {section}\nPriority: {priority}")
}

/// Writes a root under `root`: a status database of `installed` packages, a main
/// list of `available` packages and a security list, with their release files;
/// returns the sizes of the two lists.
pub fn write_root(root: &Path, installed: u64, available: u64) -> std::io::Result<(u64, u64)> {
    let lists = root.join("var/lib/apt/lists");
    std::fs::create_dir_all(&lists)?;
    std::fs::create_dir_all(root.join("var/lib/dpkg"))?;
    std::fs::write(
        lists.join("deb.debian.org_debian_dists_bookworm_InRelease"),
        "Origin: Debian\nLabel: Debian\nSuite: oldstable\nDate: Sat, 10 Jan 2026 10:00:00 UTC\n",
    )?;
    std::fs::write(
        lists.join("deb.debian.org_debian-security_dists_bookworm-security_InRelease"),
        "Origin: Debian\nLabel: Debian-Security\nSuite: oldstable-security\nDate: Sat, 16 May 2026 09:43:24 UTC\n",
    )?;
    let step = (available / installed).max(1);
    let is_installed = |i: u64| i.is_multiple_of(step) && i / step < installed;
    let main_path = lists.join("deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages");
    let mut main = std::io::BufWriter::new(std::fs::File::create(&main_path)?);
    let security_path = lists.join("deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages");
    let mut security = std::io::BufWriter::new(std::fs::File::create(&security_path)?);
    let mut status = std::io::BufWriter::new(std::fs::File::create(root.join("var/lib/dpkg/status"))?);
    let fields = "Filename: pool/main/p/pkg/pkg_1.0_amd64.deb\nSize: 123456\nMD5sum: 0123456789abcdef0123456789abcdef\nSHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    for i in 0..available {
        stanza(&mut main, i, &main_version(i), "")?;
        writeln!(main, "{fields}")?;
        if i.is_multiple_of(30) {
            stanza(&mut security, i, &main_version(i).replace("deb12u1", "deb12u2"), "")?;
            writeln!(security, "{fields}")?;
        }
        if is_installed(i) {
            let version = if i.is_multiple_of(7) { main_version(i).replace("+deb12u1", "") } else { main_version(i) };
            stanza(&mut status, i, &version, "Status: install ok installed\n")?;
            writeln!(status)?;
        }
    }
    main.flush()?;
    security.flush()?;
    status.flush()?;
    Ok((std::fs::metadata(&main_path)?.len(), std::fs::metadata(&security_path)?.len()))
}
