//! Entries of `ApprovedPatches` and `RejectedPatches` for Debian and Ubuntu:
//! `name`, `name:arch`, `name=version` or `name:arch=version`, where the name
//! may hold `*` wildcards (`linux-image-*`), and how an entry matches a package.

/// One parsed list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec<'a> {
    pub name: &'a str,
    pub arch: Option<&'a str>,
    pub version: Option<&'a str>,
}

impl<'a> PackageSpec<'a> {
    /// Parses an entry; an error says what is wrong with it.
    pub fn parse(text: &'a str) -> Result<PackageSpec<'a>, String> {
        let shown: String = text.chars().take(64).collect();
        let (rest, version) = match text.split_once('=') {
            Some((rest, version)) => (rest, Some(version)),
            None => (text, None),
        };
        let (name, arch) = match rest.split_once(':') {
            Some((name, arch)) => (name, Some(arch)),
            None => (rest, None),
        };
        let name_ok = !name.is_empty()
            && name.len() <= 100
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-*".contains(&b));
        if !name_ok {
            return Err(format!("\"{shown}\": a package name is a-z, 0-9, +, ., - (and * as a wildcard)"));
        }
        if arch.is_some_and(|a| a.is_empty() || !a.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')) {
            return Err(format!("\"{shown}\": the architecture after ':' is a-z, 0-9 and -"));
        }
        if version.is_some_and(|v| v.is_empty() || v.len() > 100 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~:-".contains(&b)))
        {
            return Err(format!("\"{shown}\": the version after '=' is A-Z, a-z, 0-9, ., +, ~, : and -"));
        }
        Ok(PackageSpec { name, arch, version })
    }

    /// True when the entry names this package (and version, when it gives one).
    pub fn matches(&self, name: &str, arch: &str, version: &str) -> bool {
        wildcard(self.name, name)
            && self.arch.is_none_or(|a| a == arch)
            && self.version.is_none_or(|v| bosun_debversion::compare(v, version).is_eq())
    }
}

/// True when any entry of `list` names the package; entries that do not parse match nothing.
pub fn any_matches(list: &[String], name: &str, arch: &str, version: &str) -> bool {
    list.iter().filter_map(|entry| PackageSpec::parse(entry).ok()).any(|spec| spec.matches(name, arch, version))
}

/// `*` matches any run of characters; everything else matches itself.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else { return rest.is_empty() };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_match() {
        let spec = PackageSpec::parse("libc6:amd64=2.36-9+deb12u4").unwrap();
        assert_eq!(spec, PackageSpec { name: "libc6", arch: Some("amd64"), version: Some("2.36-9+deb12u4") });
        assert!(spec.matches("libc6", "amd64", "2.36-9+deb12u4"));
        assert!(!spec.matches("libc6", "i386", "2.36-9+deb12u4"));
        assert!(!spec.matches("libc6", "amd64", "2.36-9+deb12u7"));
        assert!(PackageSpec::parse("openssl").unwrap().matches("openssl", "amd64", "3.0"));
        assert!(PackageSpec::parse("linux-image-*").unwrap().matches("linux-image-6.1.0-18-amd64", "amd64", "1"));
        assert!(!PackageSpec::parse("linux-image-*").unwrap().matches("linux-headers-6.1", "amd64", "1"));
        for bad in ["", "Caps", "a b", "x:", "x=", "x=1 2", "x:AMD", "rm -rf /"] {
            assert!(PackageSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards() {
        for (pattern, text, expected) in [
            ("*", "", true),
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c", "ac", true),
            ("a*b*c", "axbyc", true),
            ("a*b*c", "axbyd", false),
            ("ab*ba", "aba", false),
            ("abc", "abcd", false),
        ] {
            assert_eq!(wildcard(pattern, text), expected, "{pattern} {text}");
        }
    }
}
