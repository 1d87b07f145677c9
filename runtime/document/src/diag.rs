//! Diagnostics: problems found in a document, each with a position, the field
//! path it concerns and a message, rendered as `file:line:col: path: message`.

use crate::node::Pos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// Why a diagnostic was raised. Callers filter on it (e.g. `--structure-only`
/// drops `NotAvailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagKind {
    /// The text is not valid YAML/JSON.
    Syntax,
    /// The document's shape is wrong (missing field, wrong type, unknown value, bad reference).
    Structure,
    /// A known SSM action that this installation has no implementation for.
    NotAvailable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub kind: DiagKind,
    pub pos: Pos,
    /// Field path such as `mainSteps[2].inputs.Choices[0]`; empty for the whole document.
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    pub fn error(pos: Pos, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { severity: Severity::Error, kind: DiagKind::Structure, pos, path: path.into(), message: message.into() }
    }

    pub fn warning(pos: Pos, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, kind: DiagKind::Structure, pos, path: path.into(), message: message.into() }
    }

    pub fn with_kind(mut self, kind: DiagKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: path: message` (`warning: ` before the message for warnings).
    pub fn render(&self, file: &str) -> String {
        let level = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        if self.path.is_empty() {
            format!("{file}:{}: {level}{}", self.pos, self.message)
        } else {
            format!("{file}:{}: {}: {level}{}", self.pos, self.path, self.message)
        }
    }
}

/// All diagnostics of one document, in source order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| a.pos.cmp(&b.pos).then(a.severity.cmp(&b.severity)));
    }
}
