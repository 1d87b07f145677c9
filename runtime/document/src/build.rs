//! [`Node`] to [`Document`]: reads the SSM schema's fields, reporting every shape problem.
use crate::diag::Diagnostics;
use crate::model::Document;
use crate::node::Node;

/// Builds the typed model. Reports every problem it finds; returns `None` only when
/// the document cannot be modelled at all (not a map, no usable schemaVersion).
pub fn build(root: Node, diags: &mut Diagnostics) -> Option<Document> {
    let _ = (root, diags);
    unimplemented!()
}
