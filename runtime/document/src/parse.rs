//! Text to [`Node`]: YAML and JSON with positions.
use crate::diag::Diagnostic;
use crate::node::Node;

/// Parses `text` (`.json` files as JSON, anything else as YAML) into a tree with positions.
/// A syntax error becomes one diagnostic of kind `Syntax` at the error's position.
pub fn parse(file_name: &str, text: &str) -> Result<Node, Diagnostic> {
    let _ = (file_name, text);
    unimplemented!()
}
