//! Parameter Store names, selectors, labels and paths, with SSM's rules: the
//! characters allowed, the length and depth limits, the reserved prefixes, and a
//! one-level name being the same parameter with or without its leading slash.

use super::ParamError;

/// The longest name a caller may create (SSM keeps the rest of its 2,048 for itself).
pub const MAX_NAME_LEN: usize = 1011;
/// The most levels a hierarchical name may have.
pub const MAX_DEPTH: usize = 15;
/// The longest label.
pub const MAX_LABEL_LEN: usize = 100;

fn invalid(field: &str, message: String) -> ParamError {
    ParamError::Invalid { field: field.into(), message }
}

/// What a name or label may not begin with (any case), with or without a slash.
fn reserved_prefix(text: &str) -> Option<&'static str> {
    let lower = text.trim_start_matches('/').to_ascii_lowercase();
    ["aws", "ssm"].into_iter().find(|p| lower.starts_with(p))
}

/// Shows a name in a message: control characters escaped, cut after 80 characters.
pub(crate) fn shown(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    let escaped = cut.escape_debug().to_string();
    if text.chars().count() > 80 { format!("\"{escaped}...\"") } else { format!("\"{escaped}\"") }
}

/// Checks a name and returns its canonical form: a one-level name is kept without
/// its leading slash, so `/name` and `name` are one parameter; a name with more
/// levels must be fully qualified (`/a/b`).
pub fn canonical_name(name: &str) -> Result<String, ParamError> {
    let field = "name";
    if name.is_empty() {
        return Err(invalid(field, "the name is empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(field, format!("the name is {} characters long; the most is {MAX_NAME_LEN}", name.len())));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-/".contains(*c))) {
        return Err(invalid(
            field,
            format!("the name {} contains {:?}; a name may contain only letters, digits and _ . - /", shown(name), c),
        ));
    }
    if let Some(prefix) = reserved_prefix(name) {
        return Err(invalid(field, format!("the name {} begins with the reserved prefix \"{prefix}\"", shown(name))));
    }
    let levels: Vec<&str> = name.strip_prefix('/').unwrap_or(name).split('/').collect();
    if levels.len() > 1 && !name.starts_with('/') {
        return Err(invalid(field, format!("the name {} has levels, so it must begin with '/'", shown(name))));
    }
    if levels.iter().any(|l| l.is_empty()) {
        return Err(invalid(field, format!("the name {} has an empty level (\"//\" or a trailing '/')", shown(name))));
    }
    if levels.iter().any(|l| *l == "." || *l == "..") {
        return Err(invalid(field, format!("the name {} has a \".\" or \"..\" level", shown(name))));
    }
    if levels.len() > MAX_DEPTH {
        return Err(invalid(field, format!("the name {} has {} levels; the most is {MAX_DEPTH}", shown(name), levels.len())));
    }
    Ok(if levels.len() == 1 { levels[0].to_string() } else { name.to_string() })
}

/// Checks a path for get-by-path: `/`, or a fully qualified name prefix (`/a/b`,
/// a trailing `/` allowed). Returns it with exactly one trailing `/`.
pub fn canonical_path(path: &str) -> Result<String, ParamError> {
    if path == "/" {
        return Ok(path.into());
    }
    if !path.starts_with('/') {
        return Err(invalid("path", format!("the path {} must begin with '/'", shown(path))));
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let name = canonical_name(trimmed).map_err(|e| match e {
        ParamError::Invalid { message, .. } => invalid("path", message.replacen("the name", "the path", 1)),
        other => other,
    })?;
    let full = if name.starts_with('/') { name } else { format!("/{name}") };
    Ok(format!("{full}/"))
}

/// Which version a selector picks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Latest,
    Version(i64),
    Label(String),
}

/// Splits `name`, `name:3` or `name:label` into the canonical name and what it selects.
pub fn parse_selector(text: &str) -> Result<(String, Selector), ParamError> {
    let Some((name, selector)) = text.split_once(':') else {
        return Ok((canonical_name(text)?, Selector::Latest));
    };
    let name = canonical_name(name)?;
    if !selector.is_empty() && selector.bytes().all(|b| b.is_ascii_digit()) {
        let version = selector
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or_else(|| invalid("name", format!("the version in {} must be a number from 1", shown(text))))?;
        return Ok((name, Selector::Version(version)));
    }
    validate_label(selector)?;
    Ok((name, Selector::Label(selector.into())))
}

/// A label: 1 to 100 letters, digits, `.`, `-` or `_`; not beginning with a digit,
/// `aws` or `ssm`.
pub fn validate_label(label: &str) -> Result<(), ParamError> {
    let field = "labels";
    let problem = if label.is_empty() {
        Some("a label is empty".to_string())
    } else if label.len() > MAX_LABEL_LEN {
        Some(format!("the label {} is {} characters long; the most is {MAX_LABEL_LEN}", shown(label), label.len()))
    } else if !label.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        Some(format!("the label {} may contain only letters, digits and . - _", shown(label)))
    } else if label.starts_with(|c: char| c.is_ascii_digit()) {
        Some(format!("the label {} begins with a digit", shown(label)))
    } else {
        reserved_prefix(label).map(|p| format!("the label {} begins with the reserved prefix \"{p}\"", shown(label)))
    };
    match problem {
        Some(message) => Err(invalid(field, message)),
        None => Ok(()),
    }
}

/// The canonical name as a full path (`/name` for a one-level name), for path matching.
pub fn as_path(name: &str) -> String {
    if name.starts_with('/') { name.to_string() } else { format!("/{name}") }
}

/// Whether `name` lies under `path` (as [`canonical_path`] gives it): directly when
/// not recursive, at any depth when recursive.
pub fn is_under(name: &str, path: &str, recursive: bool) -> bool {
    let full = as_path(name);
    match full.strip_prefix(path) {
        Some(rest) => !rest.is_empty() && (recursive || !rest.contains('/')),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(name: &str) -> String {
        match canonical_name(name) {
            Err(ParamError::Invalid { message, .. }) => message,
            other => panic!("{name:?} gave {other:?}"),
        }
    }

    #[test]
    fn one_level_names_are_the_same_with_or_without_a_slash() {
        assert_eq!(canonical_name("/db").unwrap(), "db");
        assert_eq!(canonical_name("db").unwrap(), "db");
        assert_eq!(canonical_name("/app/db/url").unwrap(), "/app/db/url");
        assert_eq!(canonical_name("a.b-c_D9").unwrap(), "a.b-c_D9");
    }

    #[test]
    fn the_name_length_limit_is_exact() {
        let at = format!("/{}", "a".repeat(MAX_NAME_LEN - 1));
        assert!(canonical_name(&at).is_ok());
        assert!(canonical_name(&at[..MAX_NAME_LEN - 1]).is_ok());
        assert!(err(&format!("{at}a")).contains("1012 characters long; the most is 1011"));
        assert!(err(&"x".repeat(2000)).contains("2000 characters"));
    }

    #[test]
    fn the_depth_limit_is_exact() {
        let levels = |n: usize| (0..n).map(|i| format!("/l{i}")).collect::<String>();
        assert!(canonical_name(&levels(14)).is_ok());
        assert!(canonical_name(&levels(15)).is_ok());
        assert!(err(&levels(16)).contains("16 levels; the most is 15"));
    }

    #[test]
    fn hostile_names_are_refused_with_the_reason() {
        assert!(err("").contains("empty"));
        assert!(err("/a//b").contains("empty level"));
        assert!(err("/a/b/").contains("empty level"));
        assert!(err("/").contains("empty level"));
        assert!(err("/a/../b").contains("\"..\" level"));
        assert!(err("../etc/passwd").contains("must begin with '/'"));
        assert!(err("/a/./b").contains("has a \".\" or"));
        assert!(err("a/b").contains("must begin with '/'"));
        assert!(err("/a\nb").contains("\\n"));
        assert!(err("/a\u{0}b").contains("contains"));
        assert!(err("/a b").contains("' '"));
        assert!(err("/é").contains("contains"));
        assert!(err("/a:b").contains("':'"));
        assert!(err("awsx").contains("reserved prefix \"aws\""));
        assert!(err("/SSM/x").contains("reserved prefix \"ssm\""));
        assert!(err("/Aws").contains("reserved"));
    }

    #[test]
    fn messages_cut_long_names() {
        let message = err(&format!("/{}\u{7}", "b".repeat(1500)));
        assert!(message.len() < 300, "{message}");
    }

    #[test]
    fn selectors() {
        assert_eq!(parse_selector("/a/b").unwrap(), ("/a/b".into(), Selector::Latest));
        assert_eq!(parse_selector("/a/b:3").unwrap(), ("/a/b".into(), Selector::Version(3)));
        assert_eq!(parse_selector("/a:prod").unwrap(), ("a".into(), Selector::Label("prod".into())));
        assert!(parse_selector("/a/b:0").is_err());
        assert!(parse_selector("/a/b:99999999999999999999").is_err());
        assert!(parse_selector("/a/b:").is_err());
        assert!(parse_selector("/a/b:x:y").is_err());
        assert!(parse_selector("/a/b:aws-x").is_err());
    }

    #[test]
    fn labels_at_and_over_their_limits() {
        assert!(validate_label(&format!("l{}", "x".repeat(MAX_LABEL_LEN - 1))).is_ok());
        assert!(validate_label(&format!("l{}", "x".repeat(MAX_LABEL_LEN))).is_err());
        assert!(validate_label("9lives").is_err());
        assert!(validate_label("ssmthing").is_err());
        assert!(validate_label("a/b").is_err());
        assert!(validate_label("").is_err());
        assert!(validate_label("Prod-1.x_y").is_ok());
    }

    #[test]
    fn paths() {
        assert_eq!(canonical_path("/").unwrap(), "/");
        assert_eq!(canonical_path("/app").unwrap(), "/app/");
        assert_eq!(canonical_path("/app/dev/").unwrap(), "/app/dev/");
        assert!(canonical_path("app").is_err());
        assert!(canonical_path("/app//x").is_err());
        assert!(is_under("/app/dev/a", "/app/", true));
        assert!(!is_under("/app/dev/a", "/app/", false));
        assert!(is_under("/app/a", "/app/", false));
        assert!(!is_under("/application/a", "/app/", true));
        assert!(is_under("top", "/", false));
        assert!(!is_under("/app/x", "/", false));
    }
}
