//! Semantic checks over a built [`Document`]: actions, references, step graph.
use crate::actions::ActionCatalog;
use crate::diag::Diagnostics;
use crate::model::Document;

pub fn validate(doc: &Document, catalog: &dyn ActionCatalog, diags: &mut Diagnostics) {
    let _ = (doc, catalog, diags);
    unimplemented!()
}
