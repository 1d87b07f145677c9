//! Why an expression, a zone or an offset was refused: the part of the expression at
//! fault (a cron field, the rate's value or unit, the at's date) and the token.

/// A refused schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression's overall shape is wrong.
    #[error("{0}")]
    Shape(String),
    /// One part of the expression holds a bad token.
    #[error("{field}: {token:?}: {reason}")]
    Field { field: &'static str, token: String, reason: String },
    #[error("unknown time zone {0:?} (give an IANA name such as Europe/Berlin, or UTC)")]
    Zone(String),
    #[error("schedule offset {offset}: {reason}")]
    Offset { offset: u32, reason: String },
}

pub(crate) fn field_error(field: &'static str, token: &str, reason: impl Into<String>) -> ScheduleError {
    ScheduleError::Field { field, token: token.to_string(), reason: reason.into() }
}
