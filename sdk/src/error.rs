//! `PluginError`: the four ways a plugin call fails, as the ABI's `error`
//! variant names them, with conversions from the errors plugins meet most.

use std::fmt;

/// Why a plugin call failed. The host turns each case into a step failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The inputs are not what the plugin accepts.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A capability the plugin needed was not granted.
    #[error("denied: {0}")]
    Denied(String),
    /// The plugin ran and failed.
    #[error("failed: {0}")]
    Failed(String),
    /// The plugin gave up waiting on something.
    #[error("timed out: {0}")]
    TimedOut(String),
}

impl PluginError {
    pub fn invalid_input(message: impl fmt::Display) -> Self {
        PluginError::InvalidInput(message.to_string())
    }

    pub fn denied(message: impl fmt::Display) -> Self {
        PluginError::Denied(message.to_string())
    }

    pub fn failed(message: impl fmt::Display) -> Self {
        PluginError::Failed(message.to_string())
    }

    pub fn timed_out(message: impl fmt::Display) -> Self {
        PluginError::TimedOut(message.to_string())
    }

    /// The message without the case name.
    pub fn message(&self) -> &str {
        match self {
            PluginError::InvalidInput(m) | PluginError::Denied(m) | PluginError::Failed(m) | PluginError::TimedOut(m) => m,
        }
    }
}

/// An I/O error is a failure with its message; one that timed out is `TimedOut`.
impl From<std::io::Error> for PluginError {
    fn from(error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::TimedOut => PluginError::TimedOut(error.to_string()),
            _ => PluginError::Failed(error.to_string()),
        }
    }
}

/// JSON that the plugin itself reads or writes (inputs are checked by the SDK
/// and become `InvalidInput` there).
impl From<serde_json::Error> for PluginError {
    fn from(error: serde_json::Error) -> Self {
        PluginError::Failed(error.to_string())
    }
}

impl From<std::str::Utf8Error> for PluginError {
    fn from(error: std::str::Utf8Error) -> Self {
        PluginError::Failed(error.to_string())
    }
}

impl From<std::string::FromUtf8Error> for PluginError {
    fn from(error: std::string::FromUtf8Error) -> Self {
        PluginError::Failed(error.to_string())
    }
}

impl From<std::num::ParseIntError> for PluginError {
    fn from(error: std::num::ParseIntError) -> Self {
        PluginError::Failed(error.to_string())
    }
}

impl From<std::fmt::Error> for PluginError {
    fn from(error: std::fmt::Error) -> Self {
        PluginError::Failed(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_their_message() {
        let e: PluginError = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file").into();
        assert_eq!(e, PluginError::Failed("no such file".into()));
        let e: PluginError = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow").into();
        assert_eq!(e, PluginError::TimedOut("slow".into()));
    }

    #[test]
    fn display_names_the_case() {
        assert_eq!(PluginError::denied("no grant").to_string(), "denied: no grant");
        assert_eq!(PluginError::invalid_input("x").message(), "x");
    }
}
