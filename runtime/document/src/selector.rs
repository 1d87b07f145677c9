//! Step output selectors: RFC 9535 JSONPath over an action's response, typed.
use serde_json::Value;

use crate::model::ParamType;

pub fn check_selector(selector: &str) -> Result<(), String> {
    let _ = selector;
    unimplemented!()
}

pub fn select(response: &Value, selector: &str, ty: &ParamType) -> Result<Value, String> {
    let _ = (response, selector, ty);
    unimplemented!()
}
