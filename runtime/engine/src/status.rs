//! Execution and step statuses, with the names AWS Systems Manager uses.

use std::fmt;
use std::str::FromStr;

/// Status of an Automation execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ExecutionStatus {
    Pending,
    InProgress,
    Waiting,
    Success,
    TimedOut,
    Cancelling,
    Cancelled,
    Failed,
}

/// Status of one step execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum StepStatus {
    Pending,
    InProgress,
    Waiting,
    Success,
    TimedOut,
    Cancelled,
    Failed,
}

/// An unknown status name read back from storage or given by a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status \"{0}\"")]
pub struct UnknownStatus(pub String);

macro_rules! status_names {
    ($ty:ident { $($variant:ident),* $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => stringify!($variant)),* }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| UnknownStatus(s.to_string()))
            }
        }
    };
}

status_names!(ExecutionStatus { Pending, InProgress, Waiting, Success, TimedOut, Cancelling, Cancelled, Failed });
status_names!(StepStatus { Pending, InProgress, Waiting, Success, TimedOut, Cancelled, Failed });

impl ExecutionStatus {
    /// No further transition happens from a terminal status.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Success | Self::TimedOut | Self::Cancelled | Self::Failed)
    }
}

impl StepStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Success | Self::TimedOut | Self::Cancelled | Self::Failed)
    }

    /// A failed outcome that `onFailure` applies to.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::TimedOut | Self::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ExecutionStatus::ALL {
            assert_eq!(s.as_str().parse::<ExecutionStatus>().unwrap(), *s);
        }
        for s in StepStatus::ALL {
            assert_eq!(s.to_string().parse::<StepStatus>().unwrap(), *s);
        }
        assert_eq!("Running".parse::<ExecutionStatus>(), Err(UnknownStatus("Running".into())));
    }

    #[test]
    fn terminal_statuses() {
        assert!(ExecutionStatus::TimedOut.is_terminal());
        assert!(!ExecutionStatus::Cancelling.is_terminal());
        assert!(!ExecutionStatus::Waiting.is_terminal());
    }
}
