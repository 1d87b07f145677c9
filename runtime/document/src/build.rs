//! [`Node`] to [`Document`]: reads the SSM schema's fields, reporting every shape problem.
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{Document, DocumentKind, OnFailure, ParamType, ParameterSpec, Step, StepOutput};
use crate::node::{Key, Node, NodeValue};
use crate::params::closest_name;

/// The most attempts a step may declare (`maxAttempts`).
pub const MAX_ATTEMPTS: i64 = 100;
/// The longest `timeoutSeconds` a step may declare: one year.
pub const MAX_TIMEOUT_SECONDS: i64 = 366 * 24 * 3600;

const COMMAND_FIELDS: &[&str] = &["schemaVersion", "description", "parameters", "mainSteps"];
const AUTOMATION_FIELDS: &[&str] = &["schemaVersion", "description", "assumeRole", "parameters", "outputs", "mainSteps", "files"];
const COMMAND_STEP_FIELDS: &[&str] = &["name", "action", "description", "inputs", "precondition"];
const AUTOMATION_STEP_FIELDS: &[&str] = &[
    "name",
    "action",
    "description",
    "inputs",
    "outputs",
    "onFailure",
    "onCancel",
    "nextStep",
    "isEnd",
    "isCritical",
    "maxAttempts",
    "timeoutSeconds",
];
const PARAMETER_FIELDS: &[&str] = &[
    "type",
    "description",
    "default",
    "allowedValues",
    "allowedPattern",
    "minItems",
    "maxItems",
    "minChars",
    "maxChars",
    "displayType",
    "interpolationType",
];
const STEP_OUTPUT_FIELDS: &[&str] = &["Name", "Selector", "Type"];
/// The parameter and output type names other than AWS resource types.
pub const TYPE_NAMES: &[&str] = &["String", "StringList", "Integer", "Boolean", "MapList", "StringMap"];
/// The values of a Command step's `inputs.onFailure`.
const COMMAND_ON_FAILURE: &[&str] = &["exit", "successAndExit"];

/// Builds the typed model. Reports every problem it finds; returns `None` only when
/// the document cannot be modelled at all (not a map, no usable schemaVersion).
pub fn build(root: Node, diags: &mut Diagnostics) -> Option<Document> {
    let mut cx = Cx { diags };
    if root.value == NodeValue::Null {
        cx.error(&root, "", "the document is empty");
        return None;
    }
    if root.as_map().is_none() {
        cx.error(&root, "", format!("a document must be a map of fields, found {}", root.kind_name()));
        return None;
    }
    cx.duplicate_keys(&root, "");
    let (kind, schema_version) = cx.schema_version(&root)?;
    let fields = match kind {
        DocumentKind::Command => COMMAND_FIELDS,
        DocumentKind::Automation => AUTOMATION_FIELDS,
    };
    cx.unknown_fields(&root, "", fields, "document");
    Some(Document {
        kind,
        schema_version,
        description: cx.optional_string(&root, "", "description"),
        assume_role: cx.optional_string(&root, "", "assumeRole"),
        parameters: cx.parameters(root.get("parameters")),
        main_steps: cx.steps(kind, &root),
        outputs: cx.document_outputs(root.get("outputs")),
        node: root,
    })
}

/// At most this many candidates are compared for a suggestion, so that a huge document
/// with many wrong names cannot make validation quadratic.
const MAX_SUGGESTION_CANDIDATES: usize = 1000;

/// The diagnostic `" (did you mean X?)"` suffix, or nothing when no candidate is close.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let candidates = candidates.into_iter().filter(|c| *c != word).take(MAX_SUGGESTION_CANDIDATES);
    closest_name(word, candidates).map(|near| format!(" (did you mean {near}?)")).unwrap_or_default()
}

/// `parent.key`, or `key` at the top, or `parent` for an empty key.
pub(crate) fn join(parent: &str, key: &str) -> String {
    match (parent.is_empty(), key.is_empty()) {
        (true, _) => key.to_owned(),
        (false, true) => parent.to_owned(),
        (false, false) => format!("{parent}.{key}"),
    }
}

/// A parameter or output type name: the six SSM types, `AWS::...` and `List<AWS::...>`.
pub fn param_type(text: &str) -> Result<ParamType, String> {
    let ty = match text {
        "String" => ParamType::String,
        "StringList" => ParamType::StringList,
        "Integer" => ParamType::Integer,
        "Boolean" => ParamType::Boolean,
        "MapList" => ParamType::MapList,
        "StringMap" => ParamType::StringMap,
        _ if is_aws_resource_type(text) => ParamType::AwsResource(text.to_owned()),
        _ => match text.strip_prefix("List<").and_then(|t| t.strip_suffix('>')) {
            Some(inner) if is_aws_resource_type(inner) => ParamType::AwsResourceList(inner.to_owned()),
            _ => {
                return Err(format!("unknown type \"{text}\"{}", did_you_mean(text, TYPE_NAMES.iter().copied())));
            }
        },
    };
    Ok(ty)
}

/// `AWS::Service::Resource[::Property...]`, each part letters and digits.
fn is_aws_resource_type(text: &str) -> bool {
    text.strip_prefix("AWS::").is_some_and(|rest| {
        let parts: Vec<&str> = rest.split("::").collect();
        parts.len() >= 2 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
    })
}

/// The fields of a step that decide where execution goes and how it retries.
struct Flow {
    next_step: Option<String>,
    is_end: bool,
    is_critical: bool,
    on_failure: OnFailure,
    on_cancel: OnFailure,
    max_attempts: u32,
    timeout_seconds: Option<u64>,
}

impl Default for Flow {
    fn default() -> Self {
        Flow {
            next_step: None,
            is_end: false,
            is_critical: true,
            on_failure: OnFailure::Abort,
            on_cancel: OnFailure::Abort,
            max_attempts: 1,
            timeout_seconds: None,
        }
    }
}

/// Reads fields and records problems.
struct Cx<'d> {
    diags: &'d mut Diagnostics,
}

impl Cx<'_> {
    fn error(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(node.pos, path, message));
    }

    fn expected(&mut self, node: &Node, path: &str, what: &str) {
        self.error(node, path, format!("expected {what}, found {}", describe(node)));
    }

    /// Every map in the tree: a key written twice is an error at its second place.
    fn duplicate_keys(&mut self, node: &Node, path: &str) {
        match &node.value {
            NodeValue::Map(entries) => {
                let mut seen: HashMap<&str, &Key> = HashMap::new();
                for (key, value) in entries {
                    let here = join(path, &key.name);
                    if let Some(first) = seen.get(key.name.as_str()) {
                        let message = format!("duplicate key \"{}\" (first at line {})", key.name, first.pos.line);
                        self.diags.push(Diagnostic::error(key.pos, here.clone(), message));
                    } else {
                        seen.insert(&key.name, key);
                    }
                    self.duplicate_keys(value, &here);
                }
            }
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.duplicate_keys(item, &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }

    /// Keys of `map` not in `known`: a warning each, with a did-you-mean.
    fn unknown_fields(&mut self, map: &Node, path: &str, known: &[&str], what: &str) {
        for (key, _) in map.as_map().unwrap_or_default() {
            if !known.contains(&key.name.as_str()) {
                let hint = did_you_mean(&key.name, known.iter().copied());
                let message = format!("unknown {what} field \"{}\"{hint}; it is ignored", key.name);
                self.diags.push(Diagnostic::warning(key.pos, join(path, &key.name), message));
            }
        }
    }

    fn schema_version(&mut self, root: &Node) -> Option<(DocumentKind, String)> {
        let Some(node) = root.get("schemaVersion") else {
            let message = "missing field \"schemaVersion\" (\"2.2\" for a Command document, \"0.3\" for an Automation document)";
            self.error(root, "", message);
            return None;
        };
        let text = match &node.value {
            NodeValue::String(s) => s.clone(),
            NodeValue::Float(f) => f.to_string(),
            NodeValue::Int(i) => i.to_string(),
            _ => {
                self.expected(node, "schemaVersion", "a version such as \"0.3\"");
                return None;
            }
        };
        match text.as_str() {
            "2.2" => Some((DocumentKind::Command, text)),
            "0.3" => Some((DocumentKind::Automation, text)),
            _ => {
                let message = format!("unsupported schemaVersion \"{text}\"; supported: \"2.2\" (Command) and \"0.3\" (Automation)");
                self.error(node, "schemaVersion", message);
                None
            }
        }
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = node.as_str().map(str::to_owned);
        if text.is_none() {
            self.expected(node, path, "a string");
        }
        text
    }

    fn optional_string(&mut self, map: &Node, path: &str, key: &str) -> Option<String> {
        map.get(key).and_then(|node| self.string(node, &join(path, key)))
    }

    /// A required string field; missing is an error at the map.
    fn required_string(&mut self, map: &Node, path: &str, key: &str) -> Option<String> {
        match map.get(key) {
            Some(node) => self.string(node, &join(path, key)),
            None => {
                self.missing(map, path, key);
                None
            }
        }
    }

    fn missing(&mut self, map: &Node, path: &str, key: &str) {
        self.error(map, path, format!("missing field \"{key}\""));
    }

    /// A boolean; the strings "true"/"false" are accepted with a warning.
    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            NodeValue::Bool(b) => Some(*b),
            NodeValue::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                let message = format!("expected a boolean, found the string \"{s}\"; write {} without quotes", s.to_lowercase());
                self.diags.push(Diagnostic::warning(node.pos, path, message));
                Some(s.eq_ignore_ascii_case("true"))
            }
            _ => {
                self.expected(node, path, "true or false");
                None
            }
        }
    }

    /// An integer of at least `min`.
    fn integer(&mut self, node: &Node, path: &str, min: i64) -> Option<i64> {
        self.integer_in(node, path, min, None)
    }

    /// An integer from `min` to `max`.
    fn bounded(&mut self, node: &Node, path: &str, min: i64, max: i64) -> Option<i64> {
        self.integer_in(node, path, min, Some(max))
    }

    fn integer_in(&mut self, node: &Node, path: &str, min: i64, max: Option<i64>) -> Option<i64> {
        let range = match max {
            Some(max) => format!("from {min} to {max}"),
            None => format!("of at least {min}"),
        };
        match node.value {
            NodeValue::Int(i) if i >= min && max.is_none_or(|max| i <= max) => Some(i),
            NodeValue::Int(i) => {
                self.error(node, path, format!("expected an integer {range}, found {i}"));
                None
            }
            _ => {
                self.expected(node, path, &format!("an integer {range}"));
                None
            }
        }
    }

    fn count(&mut self, map: &Node, path: &str, key: &str) -> Option<u64> {
        let node = map.get(key)?;
        self.integer(node, &join(path, key), 0).and_then(|i| u64::try_from(i).ok())
    }

    /// A list's items; anything else is an error (and no items).
    fn list<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> &'n [Node] {
        let items = node.as_seq();
        if items.is_none() {
            self.expected(node, path, what);
        }
        items.unwrap_or_default()
    }

    fn type_name(&mut self, node: &Node, path: &str) -> Option<ParamType> {
        let text = self.string(node, path)?;
        param_type(&text).map_err(|message| self.error(node, path, message)).ok()
    }

    fn parameters(&mut self, node: Option<&Node>) -> Vec<ParameterSpec> {
        let Some(node) = node else { return Vec::new() };
        let Some(entries) = node.as_map() else {
            self.expected(node, "parameters", "a map of parameter names to their specs");
            return Vec::new();
        };
        entries.iter().map(|(key, spec)| self.parameter(key, spec)).collect()
    }

    /// One parameter. A broken spec still declares the name (as a String), so references
    /// to it are not reported again.
    fn parameter(&mut self, key: &Key, node: &Node) -> ParameterSpec {
        let path = join("parameters", &key.name);
        let mut spec = ParameterSpec::new(key.name.clone(), ParamType::String);
        spec.pos = key.pos;
        if node.as_map().is_none() {
            self.expected(node, &path, "a map with the parameter's type");
            return spec;
        }
        self.unknown_fields(node, &path, PARAMETER_FIELDS, "parameter");
        match node.get("type") {
            Some(ty) => spec.ty = self.type_name(ty, &join(&path, "type")).unwrap_or(ParamType::String),
            None => self.missing(node, &path, "type"),
        }
        spec.description = self.optional_string(node, &path, "description");
        spec.default = node.get("default").map(Node::to_json);
        spec.allowed_values = node
            .get("allowedValues")
            .map(|values| self.list(values, &join(&path, "allowedValues"), "a list of values").iter().map(Node::to_json).collect());
        spec.allowed_pattern = self.optional_string(node, &path, "allowedPattern");
        spec.min_items = self.count(node, &path, "minItems");
        spec.max_items = self.count(node, &path, "maxItems");
        spec.min_chars = self.count(node, &path, "minChars");
        spec.max_chars = self.count(node, &path, "maxChars");
        spec.env_var = match self.optional_string(node, &path, "interpolationType").as_deref() {
            None => false,
            Some("ENV_VAR") => true,
            Some(other) => {
                let at = node.get("interpolationType").unwrap_or(node);
                self.error(
                    at,
                    &join(&path, "interpolationType"),
                    format!("interpolationType \"{other}\" is not supported: the only value is ENV_VAR"),
                );
                false
            }
        };
        spec
    }

    fn steps(&mut self, kind: DocumentKind, root: &Node) -> Vec<Step> {
        let Some(node) = root.get("mainSteps") else {
            self.missing(root, "", "mainSteps");
            return Vec::new();
        };
        let items = self.list(node, "mainSteps", "a list of steps");
        if items.is_empty() && node.as_seq().is_some() {
            self.error(node, "mainSteps", "a document needs at least one step");
        }
        items.iter().enumerate().map(|(i, item)| self.step(kind, &format!("mainSteps[{i}]"), item)).collect()
    }

    /// One step. A step that is not a map still takes its place (with an empty name and
    /// action), so that step indices match `mainSteps[i]`.
    fn step(&mut self, kind: DocumentKind, path: &str, node: &Node) -> Step {
        let is_map = node.as_map().is_some();
        if !is_map {
            self.expected(node, path, "a step (a map with name, action and inputs)");
        }
        let fields = match kind {
            DocumentKind::Command => COMMAND_STEP_FIELDS,
            DocumentKind::Automation => AUTOMATION_STEP_FIELDS,
        };
        self.unknown_fields(node, path, fields, "step");
        let (name, action) =
            if is_map { (self.required_string(node, path, "name"), self.required_string(node, path, "action")) } else { (None, None) };
        let inputs = self.inputs(node, path);
        let action_is_loop = action.as_deref() == Some("aws:loop");
        let flow = match kind {
            DocumentKind::Command => self.command_flow(node, path, &inputs),
            DocumentKind::Automation => self.automation_flow(node, path),
        };
        Step {
            name: name.unwrap_or_default(),
            action: action.unwrap_or_default(),
            description: self.optional_string(node, path, "description"),
            next_step: flow.next_step,
            is_end: flow.is_end,
            is_critical: flow.is_critical,
            on_failure: flow.on_failure,
            on_cancel: flow.on_cancel,
            max_attempts: flow.max_attempts,
            timeout_seconds: flow.timeout_seconds,
            outputs: self.step_outputs(kind, node, path),
            precondition: if kind == DocumentKind::Command { self.precondition(node, path) } else { None },
            loop_steps: if kind == DocumentKind::Automation && action_is_loop { self.loop_steps(node, path) } else { Vec::new() },
            inputs,
            node: node.clone(),
        }
    }

    /// `aws:loop`: the steps of `inputs.Steps`, each built like a main step. A missing
    /// `Steps` is reported by validation, with the other required inputs.
    fn loop_steps(&mut self, step: &Node, path: &str) -> Vec<Step> {
        let Some(node) = step.get("inputs").and_then(|i| i.get("Steps")) else {
            return Vec::new();
        };
        let path = format!("{path}.inputs.Steps");
        let items = self.list(node, &path, "a list of steps");
        if items.is_empty() && node.as_seq().is_some() {
            self.error(node, &path, "aws:loop needs at least one step in Steps");
        }
        items.iter().enumerate().map(|(i, item)| self.step(DocumentKind::Automation, &format!("{path}[{i}]"), item)).collect()
    }

    /// `inputs` as JSON; absent or null is an empty map.
    fn inputs(&mut self, step: &Node, path: &str) -> Value {
        match step.get("inputs") {
            Some(node) if node.as_map().is_some() => node.to_json(),
            Some(node) if node.value != NodeValue::Null => {
                self.expected(node, &join(path, "inputs"), "a map of inputs");
                Value::Object(Map::new())
            }
            _ => Value::Object(Map::new()),
        }
    }

    /// Command steps: every plugin runs unless `inputs.onFailure` is `exit` or
    /// `successAndExit`, which stop the document when the step fails.
    fn command_flow(&mut self, step: &Node, path: &str, inputs: &Value) -> Flow {
        let mut flow = Flow { on_failure: OnFailure::Continue, ..Flow::default() };
        let Some(node) = step.get("inputs").and_then(|i| i.get("onFailure")) else {
            return flow;
        };
        let path = format!("{path}.inputs.onFailure");
        match inputs.get("onFailure").and_then(Value::as_str) {
            Some(value) if COMMAND_ON_FAILURE.contains(&value) => flow.on_failure = OnFailure::Abort,
            Some(value) => {
                let hint = did_you_mean(value, COMMAND_ON_FAILURE.iter().copied());
                self.error(node, &path, format!("unknown onFailure value \"{value}\"{hint}; use exit or successAndExit"));
            }
            None => self.expected(node, &path, "exit or successAndExit"),
        }
        flow
    }

    fn automation_flow(&mut self, step: &Node, path: &str) -> Flow {
        let mut flow = Flow::default();
        let field = |key: &str| step.get(key).map(|node| (node, join(path, key)));
        if let Some((node, path)) = field("onFailure") {
            flow.on_failure = self.on_failure(node, &path, true);
        }
        if let Some((node, path)) = field("onCancel") {
            flow.on_cancel = self.on_failure(node, &path, false);
        }
        if let Some((node, path)) = field("nextStep") {
            flow.next_step = self.string(node, &path);
        }
        if let Some((node, path)) = field("isEnd") {
            flow.is_end = self.boolean(node, &path).unwrap_or(false);
        }
        flow.is_critical = flow.on_failure != OnFailure::Continue;
        if let Some((node, path)) = field("isCritical") {
            flow.is_critical = self.boolean(node, &path).unwrap_or(flow.is_critical);
        }
        if let Some((node, path)) = field("maxAttempts") {
            let attempts = self.bounded(node, &path, 1, MAX_ATTEMPTS).and_then(|n| u32::try_from(n).ok());
            flow.max_attempts = attempts.unwrap_or(1);
        }
        if let Some((node, path)) = field("timeoutSeconds") {
            flow.timeout_seconds = self.bounded(node, &path, 1, MAX_TIMEOUT_SECONDS).and_then(|n| u64::try_from(n).ok());
        }
        flow
    }

    /// `onFailure` (`Abort`, `Continue`, `step:NAME`) or `onCancel` (no `Continue`).
    fn on_failure(&mut self, node: &Node, path: &str, allow_continue: bool) -> OnFailure {
        let field = if allow_continue { "onFailure" } else { "onCancel" };
        let choices: &[&str] = if allow_continue { &["Abort", "Continue", "step:"] } else { &["Abort", "step:"] };
        let Some(text) = self.string(node, path) else {
            return OnFailure::Abort;
        };
        match text.as_str() {
            "Abort" => return OnFailure::Abort,
            "Continue" if allow_continue => return OnFailure::Continue,
            _ => {}
        }
        if let Some(target) = text.strip_prefix("step:").map(str::trim).filter(|t| !t.is_empty()) {
            return OnFailure::Step(target.to_owned());
        }
        let hint = did_you_mean(&text, choices.iter().copied());
        let expected = if allow_continue { "Abort, Continue or step:<step name>" } else { "Abort or step:<step name>" };
        self.error(node, path, format!("unknown {field} value \"{text}\"{hint}; use {expected}"));
        OnFailure::Abort
    }

    /// Step `outputs` (Automation only; Command steps report the field as unknown).
    fn step_outputs(&mut self, kind: DocumentKind, step: &Node, path: &str) -> Vec<StepOutput> {
        let Some(node) = step.get("outputs").filter(|_| kind == DocumentKind::Automation) else {
            return Vec::new();
        };
        let path = join(path, "outputs");
        let items = self.list(node, &path, "a list of outputs with Name, Selector and Type");
        items.iter().enumerate().filter_map(|(i, item)| self.step_output(item, &format!("{path}[{i}]"))).collect()
    }

    fn step_output(&mut self, node: &Node, path: &str) -> Option<StepOutput> {
        if node.as_map().is_none() {
            self.expected(node, path, "an output (a map with Name, Selector and Type)");
            return None;
        }
        self.unknown_fields(node, path, STEP_OUTPUT_FIELDS, "output");
        let name = self.required_string(node, path, "Name");
        let selector = self.required_string(node, path, "Selector");
        let ty = match node.get("Type") {
            Some(ty) => self.type_name(ty, &join(path, "Type")),
            None => {
                self.missing(node, path, "Type");
                None
            }
        };
        Some(StepOutput { name: name?, selector: selector?, ty: ty? })
    }

    /// Command steps' `precondition`: a map of `StringEquals: [left, right]`.
    fn precondition(&mut self, step: &Node, path: &str) -> Option<Value> {
        let node = step.get("precondition")?;
        let path = join(path, "precondition");
        let Some(entries) = node.as_map() else {
            self.expected(node, &path, "a map such as {StringEquals: [platformType, Linux]}");
            return None;
        };
        for (key, value) in entries {
            let here = join(&path, &key.name);
            if key.name != "StringEquals" {
                let message = format!("unknown precondition operator \"{}\"; only StringEquals is supported", key.name);
                self.diags.push(Diagnostic::error(key.pos, here, message));
            } else if !value.as_seq().is_some_and(|items| items.len() == 2 && items.iter().all(|i| i.as_str().is_some())) {
                self.expected(value, &here, "a list of two strings");
            }
        }
        Some(node.to_json())
    }

    /// Document `outputs`: `Step.Output` strings (whether they exist is checked by validate).
    fn document_outputs(&mut self, node: Option<&Node>) -> Vec<String> {
        let Some(node) = node else { return Vec::new() };
        let items = self.list(node, "outputs", "a list of \"Step.Output\" names");
        let mut outputs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("outputs[{i}]");
            let Some(text) = self.string(item, &path) else {
                continue;
            };
            match text.split_once('.') {
                Some((step, output)) if !step.is_empty() && !output.is_empty() => outputs.push(text),
                _ => self.error(item, &path, format!("expected \"Step.Output\", found \"{text}\"")),
            }
        }
        outputs
    }
}

/// How a wrong value is named in messages: its kind, and its text when it is a scalar.
fn describe(node: &Node) -> String {
    match &node.value {
        NodeValue::String(s) => format!("the string \"{}\"", shorten(s)),
        NodeValue::Int(i) => format!("the number {i}"),
        NodeValue::Float(f) => format!("the number {f}"),
        NodeValue::Bool(b) => format!("{b}"),
        _ => node.kind_name().to_owned(),
    }
}

/// At most 40 characters of `text`, with `...` when cut.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built document and every diagnostic, rendered.
    fn built(text: &str) -> (Option<Document>, Vec<String>) {
        let node = crate::parse::parse("d.yaml", text).expect("parses");
        let mut diags = Diagnostics::default();
        let doc = build(node, &mut diags);
        diags.sort();
        (doc, diags.0.iter().map(|d| d.render("d.yaml")).collect())
    }

    fn diags(text: &str) -> Vec<String> {
        built(text).1
    }

    fn doc(text: &str) -> Document {
        let (doc, diags) = built(text);
        assert_eq!(diags, Vec::<String>::new());
        doc.expect("a document")
    }

    const AUTO: &str = "schemaVersion: '0.3'\n";
    const CMD: &str = "schemaVersion: '2.2'\n";

    fn auto(rest: &str) -> String {
        format!("{AUTO}{rest}")
    }

    #[test]
    fn a_document_must_be_a_map() {
        assert_eq!(built("- a\n"), (None, vec!["d.yaml:1:1: a document must be a map of fields, found a list".into()]));
        assert_eq!(built("# empty\n"), (None, vec!["d.yaml:1:1: the document is empty".into()]));
    }

    #[test]
    fn schema_version_is_required_and_checked() {
        let missing = "d.yaml:1:1: missing field \"schemaVersion\" (\"2.2\" for a Command document, \"0.3\" for an Automation document)";
        assert_eq!(built("mainSteps: []\n"), (None, vec![missing.into()]));
        for version in ["'1.2'", "\"2.0\"", "1.2"] {
            let (doc, diags) = built(&format!("schemaVersion: {version}\n"));
            assert!(doc.is_none());
            let shown = version.trim_matches(['\'', '"']);
            let want = format!(
                "d.yaml:1:16: schemaVersion: unsupported schemaVersion \"{shown}\"; supported: \"2.2\" (Command) and \"0.3\" (Automation)"
            );
            assert_eq!(diags, [want]);
        }
        assert_eq!(diags("schemaVersion: [1]\n"), ["d.yaml:1:16: schemaVersion: expected a version such as \"0.3\", found a list"]);
    }

    #[test]
    fn numeric_schema_versions_are_accepted() {
        let steps = "mainSteps:\n- name: a\n  action: aws:sleep\n";
        assert_eq!(doc(&format!("schemaVersion: 2.2\n{steps}")).kind, DocumentKind::Command);
        let automation = doc(&format!("schemaVersion: 0.3\n{steps}"));
        assert_eq!((automation.kind, automation.schema_version.as_str()), (DocumentKind::Automation, "0.3"));
    }

    #[test]
    fn a_minimal_automation_document_with_defaults() {
        let d = doc(&auto("description: hi\nassumeRole: r\nmainSteps:\n- name: a\n  action: aws:pause\n"));
        assert_eq!((d.description.as_deref(), d.assume_role.as_deref()), (Some("hi"), Some("r")));
        let step = &d.main_steps[0];
        assert_eq!((step.name.as_str(), step.action.as_str()), ("a", "aws:pause"));
        assert_eq!(step.inputs, serde_json::json!({}));
        assert_eq!((step.on_failure.clone(), step.on_cancel.clone()), (OnFailure::Abort, OnFailure::Abort));
        assert!(step.is_critical && !step.is_end);
        assert_eq!((step.max_attempts, step.timeout_seconds, step.next_step.clone()), (1, None, None));
        assert_eq!(step.node.pos, crate::node::Pos::new(5, 3));
    }

    #[test]
    fn main_steps_must_be_a_non_empty_list() {
        assert_eq!(diags(AUTO), ["d.yaml:1:1: missing field \"mainSteps\""]);
        assert_eq!(diags(&auto("mainSteps: []\n")), ["d.yaml:2:12: mainSteps: a document needs at least one step"]);
        assert_eq!(diags(&auto("mainSteps: {a: 1}\n")), ["d.yaml:2:12: mainSteps: expected a list of steps, found a map"]);
    }

    #[test]
    fn every_step_problem_is_reported() {
        let (doc, diags) = built(&auto("mainSteps:\n- name: a\n- action: aws:sleep\n- 5\n- name: [x]\n  action: aws:pause\n"));
        assert_eq!(
            diags,
            [
                "d.yaml:3:3: mainSteps[0]: missing field \"action\"",
                "d.yaml:4:3: mainSteps[1]: missing field \"name\"",
                "d.yaml:5:3: mainSteps[2]: expected a step (a map with name, action and inputs), found the number 5",
                "d.yaml:6:9: mainSteps[3].name: expected a string, found a list",
            ]
        );
        let steps = doc.expect("modelled").main_steps;
        assert_eq!(steps.len(), 4, "every step keeps its index");
        assert_eq!(steps[1].action, "aws:sleep");
    }

    #[test]
    fn unknown_fields_are_warnings_with_a_suggestion() {
        assert_eq!(
            diags(&auto("mainStep: []\nmainSteps:\n- name: a\n  action: aws:pause\n  nextstep: b\n")),
            [
                "d.yaml:2:1: mainStep: warning: unknown document field \"mainStep\" (did you mean mainSteps?); it is ignored",
                "d.yaml:6:3: mainSteps[0].nextstep: warning: unknown step field \"nextstep\" (did you mean nextStep?); it is ignored",
            ]
        );
    }

    #[test]
    fn parameter_types() {
        let d = doc(&auto(concat!(
            "parameters:\n",
            "  A: {type: String, default: x, description: d, allowedValues: [x, y], allowedPattern: '^x$'}\n",
            "  B: {type: 'AWS::EC2::Instance::Id'}\n",
            "  C: {type: 'List<AWS::EC2::Instance::Id>', minItems: 1, maxItems: 3}\n",
            "  D: {type: Integer, minChars: 0, maxChars: 2}\n",
            "mainSteps:\n- name: a\n  action: aws:pause\n",
        )));
        let types: Vec<ParamType> = d.parameters.iter().map(|p| p.ty.clone()).collect();
        assert_eq!(
            types,
            [
                ParamType::String,
                ParamType::AwsResource("AWS::EC2::Instance::Id".into()),
                ParamType::AwsResourceList("AWS::EC2::Instance::Id".into()),
                ParamType::Integer,
            ]
        );
        let a = &d.parameters[0];
        assert_eq!(a.default, Some(serde_json::json!("x")));
        assert_eq!(a.allowed_values, Some(vec![serde_json::json!("x"), serde_json::json!("y")]));
        assert_eq!((a.allowed_pattern.as_deref(), a.description.as_deref()), (Some("^x$"), Some("d")));
        assert_eq!(a.pos, crate::node::Pos::new(3, 3));
        assert_eq!((d.parameters[2].min_items, d.parameters[2].max_items), (Some(1), Some(3)));
        assert_eq!((d.parameters[3].min_chars, d.parameters[3].max_chars), (Some(0), Some(2)));
    }

    #[test]
    fn parameter_problems() {
        let (doc, diags) = built(&auto(concat!(
            "parameters:\n",
            "  A: {type: Strng}\n",
            "  B: {type: 'List<Foo>'}\n",
            "  C: {description: no type}\n",
            "  D: String\n",
            "  E: {type: String, minItems: -1, allowedValues: x, typo: 1}\n",
            "mainSteps:\n- name: a\n  action: aws:pause\n",
        )));
        assert_eq!(
            diags,
            [
                "d.yaml:3:13: parameters.A.type: unknown type \"Strng\" (did you mean String?)",
                "d.yaml:4:13: parameters.B.type: unknown type \"List<Foo>\"",
                "d.yaml:5:6: parameters.C: missing field \"type\"",
                "d.yaml:6:6: parameters.D: expected a map with the parameter's type, found the string \"String\"",
                "d.yaml:7:31: parameters.E.minItems: expected an integer of at least 0, found -1",
                "d.yaml:7:50: parameters.E.allowedValues: expected a list of values, found the string \"x\"",
                "d.yaml:7:53: parameters.E.typo: warning: unknown parameter field \"typo\" (did you mean type?); it is ignored",
            ]
        );
        let names: Vec<String> = doc.expect("modelled").parameters.into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["A", "B", "C", "D", "E"], "broken parameters are still declared");
    }

    fn one_step(fields: &str) -> (Option<Step>, Vec<String>) {
        let (doc, diags) = built(&auto(&format!("mainSteps:\n- name: a\n  action: aws:pause\n{fields}")));
        (doc.map(|d| d.main_steps[0].clone()), diags)
    }

    fn step(fields: &str) -> Step {
        let (step, diags) = one_step(fields);
        assert_eq!(diags, Vec::<String>::new());
        step.expect("a step")
    }

    #[test]
    fn on_failure_and_is_critical() {
        let s = step("  onFailure: Continue\n");
        assert_eq!((s.on_failure, s.is_critical), (OnFailure::Continue, false));
        let s = step("  onFailure: Continue\n  isCritical: true\n");
        assert_eq!((s.on_failure, s.is_critical), (OnFailure::Continue, true));
        let s = step("  onFailure: step:b\n  onCancel: 'step: c'\n");
        assert_eq!((s.on_failure, s.on_cancel, s.is_critical), (OnFailure::Step("b".into()), OnFailure::Step("c".into()), true));
        let s = step("  onFailure: Abort\n  isCritical: false\n");
        assert_eq!((s.on_failure, s.is_critical), (OnFailure::Abort, false));
    }

    #[test]
    fn bad_on_failure_values() {
        let (_, diags) = one_step("  onFailure: abort\n  onCancel: Continue\n");
        assert_eq!(
            diags,
            [
                "d.yaml:5:14: mainSteps[0].onFailure: unknown onFailure value \"abort\" (did you mean Abort?); use Abort, Continue or step:<step name>",
                "d.yaml:6:13: mainSteps[0].onCancel: unknown onCancel value \"Continue\"; use Abort or step:<step name>",
            ]
        );
        let (_, diags) = one_step("  onFailure: 'step:'\n");
        assert_eq!(
            diags,
            ["d.yaml:5:14: mainSteps[0].onFailure: unknown onFailure value \"step:\"; use Abort, Continue or step:<step name>"]
        );
    }

    #[test]
    fn flow_fields() {
        let s = step("  nextStep: b\n  isEnd: true\n  maxAttempts: 3\n  timeoutSeconds: 60\n");
        assert_eq!((s.next_step.as_deref(), s.is_end, s.max_attempts, s.timeout_seconds), (Some("b"), true, 3, Some(60)));
        let (s, diags) = one_step("  isEnd: 'true'\n");
        assert!(s.expect("a step").is_end);
        assert_eq!(
            diags,
            ["d.yaml:5:10: mainSteps[0].isEnd: warning: expected a boolean, found the string \"true\"; write true without quotes"]
        );
    }

    #[test]
    fn bad_flow_fields() {
        let (s, diags) = one_step("  maxAttempts: 0\n  timeoutSeconds: -5\n  isCritical: 1\n  nextStep: {a: 1}\n  isEnd: yes\n");
        assert_eq!(
            diags,
            [
                "d.yaml:5:16: mainSteps[0].maxAttempts: expected an integer from 1 to 100, found 0",
                "d.yaml:6:19: mainSteps[0].timeoutSeconds: expected an integer from 1 to 31622400, found -5",
                "d.yaml:7:15: mainSteps[0].isCritical: expected true or false, found the number 1",
                "d.yaml:8:13: mainSteps[0].nextStep: expected a string, found a map",
                "d.yaml:9:10: mainSteps[0].isEnd: expected true or false, found the string \"yes\"",
            ]
        );
        let s = s.expect("a step");
        assert_eq!((s.max_attempts, s.timeout_seconds, s.is_critical), (1, None, true));
        let (_, diags) = one_step("  maxAttempts: '3'\n  timeoutSeconds: 1.5\n");
        assert_eq!(
            diags,
            [
                "d.yaml:5:16: mainSteps[0].maxAttempts: expected an integer from 1 to 100, found the string \"3\"",
                "d.yaml:6:19: mainSteps[0].timeoutSeconds: expected an integer from 1 to 31622400, found the number 1.5",
            ]
        );
    }

    #[test]
    fn inputs_must_be_a_map() {
        let s = step("  inputs: {Message: hi}\n");
        assert_eq!(s.inputs, serde_json::json!({"Message": "hi"}));
        let (_, diags) = one_step("  inputs: [1]\n");
        assert_eq!(diags, ["d.yaml:5:11: mainSteps[0].inputs: expected a map of inputs, found a list"]);
    }

    #[test]
    fn step_outputs() {
        let s = step("  outputs:\n  - {Name: Id, Selector: $.Id, Type: String}\n  - {Name: Ids, Selector: $.Ids, Type: StringList}\n");
        let want = vec![
            StepOutput { name: "Id".into(), selector: "$.Id".into(), ty: ParamType::String },
            StepOutput { name: "Ids".into(), selector: "$.Ids".into(), ty: ParamType::StringList },
        ];
        assert_eq!(s.outputs, want);
        let (s, diags) = one_step("  outputs:\n  - {Name: Id, Type: Strin}\n  - Id\n  - {Name: X, Selector: $.x, Type: Integer, Typ: 1}\n");
        assert_eq!(
            diags,
            [
                "d.yaml:6:5: mainSteps[0].outputs[0]: missing field \"Selector\"",
                "d.yaml:6:22: mainSteps[0].outputs[0].Type: unknown type \"Strin\" (did you mean String?)",
                "d.yaml:7:5: mainSteps[0].outputs[1]: expected an output (a map with Name, Selector and Type), found the string \"Id\"",
                "d.yaml:8:45: mainSteps[0].outputs[2].Typ: warning: unknown output field \"Typ\" (did you mean Type?); it is ignored",
            ]
        );
        assert_eq!(s.expect("a step").outputs.len(), 1);
    }

    #[test]
    fn document_outputs() {
        let (doc, diags) = built(&auto("mainSteps:\n- name: a\n  action: aws:pause\noutputs: [a.b, ab, 3, .x]\n"));
        assert_eq!(
            diags,
            [
                "d.yaml:5:16: outputs[1]: expected \"Step.Output\", found \"ab\"",
                "d.yaml:5:20: outputs[2]: expected a string, found the number 3",
                "d.yaml:5:23: outputs[3]: expected \"Step.Output\", found \".x\"",
            ]
        );
        assert_eq!(doc.expect("modelled").outputs, ["a.b"]);
    }

    #[test]
    fn command_steps() {
        let text = format!(
            "{CMD}mainSteps:\n- name: a\n  action: aws:runShellScript\n  precondition: {{StringEquals: [platformType, Linux]}}\n  inputs: {{onFailure: exit, runCommand: [ls]}}\n- name: b\n  action: aws:runShellScript\n  inputs: {{runCommand: [ls]}}\n"
        );
        let d = doc(&text);
        let a = &d.main_steps[0];
        assert_eq!((a.on_failure.clone(), a.is_critical), (OnFailure::Abort, true));
        assert_eq!(a.precondition, Some(serde_json::json!({"StringEquals": ["platformType", "Linux"]})));
        assert_eq!(d.main_steps[1].on_failure, OnFailure::Continue);
    }

    #[test]
    fn command_step_problems() {
        let text = format!(
            "{CMD}mainSteps:\n- name: a\n  action: aws:runShellScript\n  onFailure: Abort\n  precondition: {{StringEqual: [a, b], StringEquals: [a]}}\n  inputs: {{onFailure: exits}}\noutputs: []\n"
        );
        assert_eq!(
            diags(&text),
            [
                "d.yaml:5:3: mainSteps[0].onFailure: warning: unknown step field \"onFailure\"; it is ignored",
                "d.yaml:6:18: mainSteps[0].precondition.StringEqual: unknown precondition operator \"StringEqual\"; only StringEquals is supported",
                "d.yaml:6:53: mainSteps[0].precondition.StringEquals: expected a list of two strings, found a list",
                "d.yaml:7:23: mainSteps[0].inputs.onFailure: unknown onFailure value \"exits\" (did you mean exit?); use exit or successAndExit",
                "d.yaml:8:1: outputs: warning: unknown document field \"outputs\"; it is ignored",
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let text = auto("mainSteps:\n- name: a\n  action: aws:pause\n  name: b\n");
        assert_eq!(diags(&text), ["d.yaml:5:3: mainSteps[0].name: duplicate key \"name\" (first at line 3)"]);
    }

    #[test]
    fn long_strings_are_shortened_in_messages() {
        assert_eq!(shorten(&"x".repeat(41)), format!("{}...", "x".repeat(40)));
        assert_eq!(shorten("é"), "é");
    }
}
