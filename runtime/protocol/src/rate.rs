//! Rate-control values as SSM writes them: `N` or `N%` (MaxConcurrency, MaxErrors).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of targets, absolute or as a percentage of the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Count(u32),
    /// 0 to 100.
    Percent(u8),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a number of targets: write N (e.g. 10) or a percentage N% (e.g. 10%, at most 100%)")]
pub struct LimitError(pub String);

impl Limit {
    /// SSM's default MaxConcurrency.
    pub const DEFAULT_CONCURRENCY: Limit = Limit::Count(50);
    /// SSM's default MaxErrors.
    pub const DEFAULT_ERRORS: Limit = Limit::Count(0);

    pub fn parse(text: &str) -> Result<Self, LimitError> {
        let bad = || LimitError(text.to_string());
        let text_trimmed = text.trim();
        if let Some(number) = text_trimmed.strip_suffix('%') {
            let n: u8 = number.parse().map_err(|_| bad())?;
            if n > 100 {
                return Err(bad());
            }
            Ok(Self::Percent(n))
        } else {
            text_trimmed.parse().map(Self::Count).map_err(|_| bad())
        }
    }

    /// How many invocations may run at once among `targets`: a percentage is rounded up,
    /// and at least one always runs (10% of 9 targets is 1).
    pub fn concurrency(self, targets: usize) -> usize {
        match self {
            Self::Count(n) => (n as usize).max(1),
            Self::Percent(p) => (targets * p as usize).div_ceil(100).max(1),
        }
    }

    /// How many errors are tolerated among `targets`: a percentage is rounded down
    /// (10% of 50 targets is 5: dispatch stops at the sixth failure).
    pub fn errors(self, targets: usize) -> usize {
        match self {
            Self::Count(n) => n as usize,
            Self::Percent(p) => targets * p as usize / 100,
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl std::str::FromStr for Limit {
    type Err = LimitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_percentages() {
        assert_eq!(Limit::parse("10").unwrap(), Limit::Count(10));
        assert_eq!(Limit::parse("10%").unwrap(), Limit::Percent(10));
        assert_eq!(Limit::parse("100%").unwrap(), Limit::Percent(100));
        for bad in ["", "%", "-1", "101%", "ten", "1.5", "5 %", "99999999999"] {
            assert!(Limit::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Limit::parse("ten").unwrap_err().to_string().contains("\"ten\""));
    }

    #[test]
    fn ssm_rounding() {
        assert_eq!(Limit::Percent(10).errors(50), 5);
        assert_eq!(Limit::Percent(10).errors(9), 0);
        assert_eq!(Limit::Percent(10).concurrency(9), 1);
        assert_eq!(Limit::Percent(10).concurrency(55), 6);
        assert_eq!(Limit::Percent(0).concurrency(10), 1);
        assert_eq!(Limit::Count(0).concurrency(10), 1);
        assert_eq!(Limit::Count(3).errors(10), 3);
    }

    #[test]
    fn serde_uses_the_text_form() {
        assert_eq!(serde_json::to_string(&Limit::Percent(10)).unwrap(), "\"10%\"");
        assert_eq!(serde_json::from_str::<Limit>("\"7\"").unwrap(), Limit::Count(7));
        assert!(serde_json::from_str::<Limit>("\"7x\"").is_err());
    }
}
