//! Bosun's document model: parse SSM Command ("2.2") and Automation ("0.3")
//! documents from YAML or JSON with positions, validate them with
//! `file:line:col` diagnostics, coerce parameters and interpolate references.
//! Pure: no IO beyond the text it is given.

pub mod actions;
pub mod build;
pub mod choice;
pub mod diag;
pub mod duration;
pub mod interpolate;
pub mod model;
pub mod node;
pub mod params;
pub mod parse;
pub mod selector;
pub mod validate;

pub use actions::{ActionCatalog, Availability};
pub use diag::{DiagKind, Diagnostic, Diagnostics, Severity};
pub use model::{Document, DocumentKind, OnFailure, ParamType, ParameterSpec, Step, StepOutput, StepRef};
pub use node::{Key, Node, NodeValue, Pos};

/// The outcome of loading one document: the model when it could be built, and
/// every problem found (errors and warnings, in source order).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub document: Option<Document>,
    pub diagnostics: Diagnostics,
}

impl Loaded {
    /// The document, only when there is no error.
    pub fn valid(&self) -> Option<&Document> {
        if self.diagnostics.has_errors() { None } else { self.document.as_ref() }
    }
}

/// Parses, builds and validates one document. `file_name` picks the format
/// (`.json` is JSON, anything else YAML; JSON text also loads as YAML).
pub fn load(file_name: &str, text: &str, catalog: &dyn ActionCatalog) -> Loaded {
    let mut diagnostics = Diagnostics::default();
    let node = match parse::parse(file_name, text) {
        Ok(node) => node,
        Err(d) => {
            diagnostics.push(d);
            return Loaded { document: None, diagnostics };
        }
    };
    let document = build::build(node, &mut diagnostics);
    if let Some(doc) = &document {
        validate::validate(doc, catalog, &mut diagnostics);
    }
    diagnostics.sort();
    Loaded { document, diagnostics }
}
