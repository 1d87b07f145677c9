//! Status names, spelled as AWS Systems Manager spells them.

use serde::{Deserialize, Serialize};

/// The status of one command on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InvocationStatus {
    /// Not yet delivered to the node.
    Pending,
    /// Delivered; the node runs it.
    InProgress,
    /// The node was not reachable; delivery is retried until the delivery timeout.
    Delayed,
    Success,
    /// Not delivered before the delivery timeout.
    DeliveryTimedOut,
    /// Ran longer than the execution timeout; the node killed it.
    ExecutionTimedOut,
    Failed,
    Cancelled,
    /// The node is deregistered or cannot run the document.
    Undeliverable,
    /// Never dispatched: the command stopped (error threshold reached) first.
    Terminated,
}

impl InvocationStatus {
    pub const ALL: [Self; 10] = [
        Self::Pending,
        Self::InProgress,
        Self::Delayed,
        Self::Success,
        Self::DeliveryTimedOut,
        Self::ExecutionTimedOut,
        Self::Failed,
        Self::Cancelled,
        Self::Undeliverable,
        Self::Terminated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Delayed => "Delayed",
            Self::Success => "Success",
            Self::DeliveryTimedOut => "DeliveryTimedOut",
            Self::ExecutionTimedOut => "ExecutionTimedOut",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::Undeliverable => "Undeliverable",
            Self::Terminated => "Terminated",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the invocation has ended.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending | Self::InProgress | Self::Delayed)
    }

    /// Whether it counts against MaxErrors: only Failed and ExecutionTimedOut do, as in SSM.
    pub fn counts_as_error(self) -> bool {
        matches!(self, Self::Failed | Self::ExecutionTimedOut)
    }
}

impl std::fmt::Display for InvocationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a whole command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CommandStatus {
    Pending,
    InProgress,
    Success,
    Cancelling,
    Cancelled,
    Failed,
    /// Every unfinished invocation timed out (delivery or execution).
    TimedOut,
}

impl CommandStatus {
    pub const ALL: [Self; 7] =
        [Self::Pending, Self::InProgress, Self::Success, Self::Cancelling, Self::Cancelled, Self::Failed, Self::TimedOut];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Success => "Success",
            Self::Cancelling => "Cancelling",
            Self::Cancelled => "Cancelled",
            Self::Failed => "Failed",
            Self::TimedOut => "TimedOut",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Success | Self::Cancelled | Self::Failed | Self::TimedOut)
    }
}

impl std::fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a node is reachable, as SSM's PingStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PingStatus {
    Online,
    /// No heartbeat for longer than the server's heartbeat gap.
    ConnectionLost,
    /// Deregistered: its credential is revoked.
    Inactive,
}

impl std::fmt::Display for PingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Online => "Online",
            Self::ConnectionLost => "ConnectionLost",
            Self::Inactive => "Inactive",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in InvocationStatus::ALL {
            assert_eq!(InvocationStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        for s in CommandStatus::ALL {
            assert_eq!(CommandStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(InvocationStatus::parse("success"), None);
    }

    #[test]
    fn only_failed_and_execution_timed_out_are_errors() {
        let errors: Vec<_> = InvocationStatus::ALL.into_iter().filter(|s| s.counts_as_error()).collect();
        assert_eq!(errors, [InvocationStatus::ExecutionTimedOut, InvocationStatus::Failed]);
    }
}
