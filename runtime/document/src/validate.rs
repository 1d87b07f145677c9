//! Semantic checks over a built [`Document`]: actions, jump targets, the step graph,
//! `{{ }}` references, parameter defaults, action inputs and output selectors. Every
//! problem is reported at the offending key or value.
use std::collections::{HashMap, VecDeque};

use crate::actions::{ActionCatalog, Availability, BOSUN_ACTIONS, SSM_ACTIONS};
use crate::build::{did_you_mean, join};
use crate::choice::parse_branch;
use crate::diag::{DiagKind, Diagnostic, Diagnostics};
use crate::duration::{parse_duration, parse_timestamp};
use crate::interpolate::{Reference, references};
use crate::model::{Document, DocumentKind, OnFailure, Step};
use crate::node::{Node, NodeValue, Pos};
use crate::params::{ParamInput, coerce};
use crate::selector::check_selector;

/// Names SSM fills in without a declaration (maintenance windows, Run Command targets).
pub const PSEUDO_PARAMETERS: &[&str] = &[
    "TARGET_ID",
    "TARGET_TYPE",
    "INSTANCE_ID",
    "RESOURCE_ID",
    "WINDOW_ID",
    "WINDOW_TASK_ID",
    "WINDOW_EXECUTION_ID",
    "TASK_EXECUTION_ID",
    "LOGGING_S3_BUCKET_NAME",
    "LOGGING_S3_KEY_PREFIX",
    "LOGGING_S3_REGION",
];

/// Step fields whose strings are not interpolated.
const FIELDS_WITHOUT_REFERENCES: &[&str] = &["name", "action", "description", "outputs"];

/// Outputs an action provides without declaring them (per the SSM action reference).
/// `bosun:echo` echoes its inputs, so any output name is accepted for it.
fn builtin_outputs(action: &str) -> &'static [&'static str] {
    match action {
        "aws:executeAutomation" => &["ExecutionId", "Status", "Output"],
        "aws:runCommand" => &["CommandId", "Status", "ResponseCode", "Output"],
        "aws:approve" => &["ApprovalStatus", "ApproverDecisions"],
        "aws:createImage" | "aws:copyImage" => &["ImageId", "ImageState"],
        "aws:runInstances" => &["InstanceIds"],
        "aws:createStack" => &["StackId", "StackStatus", "StackStatusReason"],
        "aws:invokeLambdaFunction" => &["StatusCode", "FunctionError", "LogResult", "Payload"],
        "aws:loop" => &["CurrentIteration", "CurrentIteratorValue"],
        _ => &[],
    }
}

/// Inputs an action cannot do without.
fn required_inputs(action: &str) -> &'static [&'static str] {
    match action {
        "aws:approve" => &["Approvers"],
        "aws:executeAutomation" => &["DocumentName"],
        _ => &[],
    }
}

/// Reports every semantic problem of `doc` into `diags`.
pub fn validate(doc: &Document, catalog: &dyn ActionCatalog, diags: &mut Diagnostics) {
    let mut names = HashMap::new();
    for (i, step) in doc.main_steps.iter().enumerate().filter(|(_, s)| !s.name.is_empty()) {
        names.entry(step.name.as_str()).or_insert(i);
    }
    let mut v = Validator { doc, diags, names };
    for (i, step) in doc.main_steps.iter().enumerate() {
        let path = format!("mainSteps[{i}]");
        v.action(step, &path, catalog);
        v.duplicate_name(i, step, &path);
        v.jump_targets(step, &path);
        v.action_inputs(step, &path);
        v.selectors(step, &path);
    }
    if doc.kind == DocumentKind::Automation {
        v.graph();
    }
    v.all_references();
    v.parameter_defaults();
    v.document_outputs();
}

/// The node of a step's field, or the step itself when the field is absent.
fn field<'a>(step: &'a Step, key: &str) -> &'a Node {
    step.node.get(key).unwrap_or(&step.node)
}

/// A place a step can send execution to: the value naming it, its path, the step name.
struct Jump<'a> {
    node: &'a Node,
    path: String,
    target: &'a str,
}

/// Every step that `step` names in `nextStep`, `onFailure`, `onCancel` and branch choices.
fn jumps<'a>(step: &'a Step, path: &str) -> Vec<Jump<'a>> {
    let mut out = Vec::new();
    let mut add = |key: &str, target: Option<&'a str>| {
        if let Some(target) = target {
            out.push(Jump { node: field(step, key), path: join(path, key), target });
        }
    };
    add("nextStep", step.next_step.as_deref());
    add("onFailure", jump_target(&step.on_failure));
    add("onCancel", jump_target(&step.on_cancel));
    out.extend(branch_targets(step, path));
    out
}

fn jump_target(on_failure: &OnFailure) -> Option<&str> {
    match on_failure {
        OnFailure::Step(name) => Some(name),
        OnFailure::Abort | OnFailure::Continue => None,
    }
}

/// `aws:branch` targets as written: each choice's `NextStep` and the `Default`.
/// Read from the node (not from choice parsing) so that they are checked even when
/// a condition is malformed.
fn branch_targets<'a>(step: &'a Step, path: &str) -> Vec<Jump<'a>> {
    let inputs = step.node.get("inputs");
    if step.action != "aws:branch" || inputs.is_none() {
        return Vec::new();
    }
    let choices = inputs.and_then(|i| i.get("Choices")).and_then(Node::as_seq).unwrap_or_default();
    let mut out: Vec<Jump<'a>> = choices
        .iter()
        .enumerate()
        .filter_map(|(i, choice)| {
            let node = choice.get("NextStep")?;
            Some(Jump { node, path: format!("{path}.inputs.Choices[{i}].NextStep"), target: node.as_str()? })
        })
        .collect();
    if let Some(node) = inputs.and_then(|i| i.get("Default")) {
        out.extend(node.as_str().map(|target| Jump { node, path: format!("{path}.inputs.Default"), target }));
    }
    out
}

/// One segment of a relative path such as `Choices[0].Not`.
enum Segment<'p> {
    Key(&'p str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out.push(Segment::Key(key));
        }
        out.extend(pieces.filter_map(|p| p.strip_suffix(']')?.parse().ok()).map(Segment::Index));
    }
    out
}

/// The node at `path` below `root`, or the nearest existing ancestor.
fn node_at<'a>(root: &'a Node, path: &str) -> &'a Node {
    let mut node = root;
    for segment in segments(path) {
        let next = match segment {
            Segment::Key(key) => node.get(key),
            Segment::Index(i) => node.as_seq().and_then(|items| items.get(i)),
        };
        match next {
            Some(child) => node = child,
            None => break,
        }
    }
    node
}

/// Where a message about `node` belongs: the key of `node` it quotes, if any, else `node`.
fn quoted_key_pos(node: &Node, message: &str) -> Pos {
    let entries = node.as_map().unwrap_or_default();
    entries.iter().find(|(k, _)| message.contains(&format!("\"{}\"", k.name))).map_or(node.pos, |(k, _)| k.pos)
}

struct Validator<'a, 'd> {
    doc: &'a Document,
    diags: &'d mut Diagnostics,
    /// Step name to the index of its first step.
    names: HashMap<&'a str, usize>,
}

impl<'a> Validator<'a, '_> {
    fn error(&mut self, pos: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(pos, path, message));
    }

    fn warning(&mut self, pos: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(pos, path, message));
    }

    fn step_names(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.doc.main_steps.iter().map(|s| s.name.as_str()).filter(|n| !n.is_empty())
    }

    fn action(&mut self, step: &Step, path: &str, catalog: &dyn ActionCatalog) {
        let action = step.action.as_str();
        if action.is_empty() {
            return;
        }
        let pos = field(step, "action").pos;
        let path = join(path, "action");
        match catalog.availability(action) {
            Availability::Available => {}
            Availability::NotAvailable => {
                let message = format!("action \"{action}\" is not available here: no installed plugin implements it");
                self.diags.push(Diagnostic::error(pos, path, message).with_kind(DiagKind::NotAvailable));
            }
            Availability::Unknown => {
                let hint = did_you_mean(action, SSM_ACTIONS.iter().chain(BOSUN_ACTIONS).copied());
                self.error(pos, path, format!("unknown action \"{action}\"{hint}"));
            }
        }
    }

    fn duplicate_name(&mut self, index: usize, step: &Step, path: &str) {
        let first = self.names.get(step.name.as_str()).copied();
        if let Some(first) = first.filter(|first| *first != index) {
            let message = format!("duplicate step name \"{}\" (first used by mainSteps[{first}])", step.name);
            self.error(field(step, "name").pos, join(path, "name"), message);
        }
    }

    fn jump_targets(&mut self, step: &Step, path: &str) {
        for jump in jumps(step, path) {
            if !self.names.contains_key(jump.target) {
                let hint = did_you_mean(jump.target, self.step_names());
                self.error(jump.node.pos, jump.path, format!("unknown step \"{}\"{hint}", jump.target));
            }
        }
    }

    fn action_inputs(&mut self, step: &Step, path: &str) {
        let inputs = step.node.entry("inputs");
        // A missing input is reported at the `inputs` key, or at the action without one.
        let anchor = inputs.map_or(field(step, "action").pos, |(key, _)| key.pos);
        let inputs = inputs.map(|(_, node)| node);
        let path = join(path, "inputs");
        for name in required_inputs(&step.action) {
            if inputs.and_then(|i| i.get(name)).is_none() {
                self.error(anchor, path.as_str(), format!("{} needs the input \"{name}\"", step.action));
            }
        }
        match step.action.as_str() {
            "aws:sleep" => self.sleep(inputs, anchor, &path),
            "aws:branch" => self.branch(step, inputs, &path),
            _ => {}
        }
    }

    /// `aws:sleep`: exactly one of `Duration` and `Timestamp`, each well-formed unless it
    /// holds a reference.
    fn sleep(&mut self, inputs: Option<&Node>, anchor: Pos, path: &str) {
        let entry = |key: &str| inputs.and_then(|i| i.entry(key));
        match (entry("Duration"), entry("Timestamp")) {
            (None, None) => self.error(anchor, path, "aws:sleep needs the input \"Duration\" or \"Timestamp\""),
            (Some(_), Some((key, _))) => {
                let message = "aws:sleep takes \"Duration\" or \"Timestamp\", not both";
                self.error(key.pos, join(path, "Timestamp"), message);
            }
            (Some((_, node)), None) => {
                let problem = time_problem(node, "an ISO 8601 duration such as PT10M", |t| parse_duration(t).err());
                self.report(node.pos, join(path, "Duration"), problem);
            }
            (None, Some((_, node))) => {
                let what = "an RFC 3339 timestamp such as 2026-01-01T00:00:00Z";
                let problem = time_problem(node, what, |t| parse_timestamp(t).err());
                self.report(node.pos, join(path, "Timestamp"), problem);
            }
        }
    }

    fn report(&mut self, pos: Pos, path: String, problem: Option<String>) {
        if let Some(message) = problem {
            self.error(pos, path, message);
        }
    }

    /// `aws:branch`: every problem choice parsing finds, at the node it names.
    fn branch(&mut self, step: &Step, inputs: Option<&Node>, path: &str) {
        let Err(errors) = parse_branch(&step.inputs) else { return };
        let inputs = inputs.unwrap_or(&step.node);
        for error in errors {
            let node = node_at(inputs, &error.path);
            let pos = quoted_key_pos(node, &error.message);
            self.error(pos, join(path, &error.path), error.message);
        }
    }

    fn selectors(&mut self, step: &Step, path: &str) {
        if self.doc.kind != DocumentKind::Automation {
            return;
        }
        let outputs = step.node.get("outputs").and_then(Node::as_seq).unwrap_or_default();
        for (i, output) in outputs.iter().enumerate() {
            let Some(node) = output.get("Selector") else { continue };
            let Some(Err(message)) = node.as_str().map(check_selector) else { continue };
            self.error(node.pos, format!("{path}.outputs[{i}].Selector"), message);
        }
    }

    /// Steps no path reaches (warning), and steps from which no path reaches the end.
    fn graph(&mut self) {
        let graph = Graph::new(self.doc, &self.names);
        let reachable = graph.reachable();
        let exits = graph.can_exit();
        for (i, step) in self.doc.main_steps.iter().enumerate() {
            if !reachable[i] && !step.name.is_empty() {
                let message = format!("step \"{}\" is unreachable: no step leads to it", step.name);
                self.warning(field(step, "name").pos, format!("mainSteps[{i}]"), message);
            }
        }
        let trapped: Vec<usize> = (0..self.doc.main_steps.len()).filter(|&i| reachable[i] && !exits[i]).collect();
        if let Some(&first) = trapped.first() {
            let steps = &self.doc.main_steps;
            let names: Vec<String> = trapped.iter().map(|&i| format!("\"{}\"", steps[i].name)).collect();
            let (subject, verb, them) = if names.len() == 1 { ("step", "loops", "it") } else { ("steps", "loop", "them") };
            let message = format!(
                "{subject} {} {verb} with no way out: no path from {them} reaches isEnd, the last step or onFailure: Abort",
                names.join(", ")
            );
            self.warning(field(&steps[first], "name").pos, format!("mainSteps[{first}]"), message);
        }
    }

    /// References in `assumeRole`, parameter defaults and every step field but
    /// name, action, description and outputs.
    fn all_references(&mut self) {
        let root = &self.doc.node;
        if let Some(node) = root.get("assumeRole") {
            self.references_in(node, "assumeRole");
        }
        for (key, spec) in root.get("parameters").and_then(Node::as_map).unwrap_or_default() {
            if let Some(default) = spec.get("default") {
                self.references_in(default, &format!("parameters.{}.default", key.name));
            }
        }
        for (i, step) in self.doc.main_steps.iter().enumerate() {
            for (key, value) in step.node.as_map().unwrap_or_default() {
                if !FIELDS_WITHOUT_REFERENCES.contains(&key.name.as_str()) {
                    self.references_in(value, &format!("mainSteps[{i}].{}", key.name));
                }
            }
        }
    }

    fn references_in(&mut self, node: &Node, path: &str) {
        match &node.value {
            NodeValue::String(text) => self.check_text(text, node.pos, path),
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.references_in(item, &format!("{path}[{i}]"));
                }
            }
            NodeValue::Map(entries) => {
                for (key, value) in entries {
                    let here = join(path, &key.name);
                    self.check_text(&key.name, key.pos, &here);
                    self.references_in(value, &here);
                }
            }
            _ => {}
        }
    }

    fn check_text(&mut self, text: &str, pos: Pos, path: &str) {
        for (_, reference) in references(text) {
            let problem = match reference {
                Err(message) => Some(message),
                Ok(Reference::Param(name)) => self.parameter_problem(&name),
                Ok(Reference::StepOutput { step, output }) => self.output_problem(&step, &output),
                Ok(Reference::Automation(_) | Reference::Global(_) | Reference::Ssm { .. }) => None,
            };
            self.report(pos, path.to_owned(), problem);
        }
    }

    fn parameter_problem(&self, name: &str) -> Option<String> {
        if self.doc.parameter(name).is_some() || PSEUDO_PARAMETERS.contains(&name) {
            return None;
        }
        let declared = self.doc.parameters.iter().map(|p| p.name.as_str());
        let hint = did_you_mean(name, declared.chain(PSEUDO_PARAMETERS.iter().copied()));
        Some(format!("unknown parameter \"{name}\"{hint}"))
    }

    /// Whether `step` exists and provides `output` (declared, built in, or any for `bosun:echo`).
    fn output_problem(&self, step_name: &str, output: &str) -> Option<String> {
        let Some(&index) = self.names.get(step_name) else {
            let hint = did_you_mean(step_name, self.step_names());
            return Some(format!("unknown step \"{step_name}\" in \"{step_name}.{output}\"{hint}"));
        };
        let step = &self.doc.main_steps[index];
        let declared = step.outputs.iter().map(|o| o.name.as_str());
        let mut known = declared.chain(builtin_outputs(&step.action).iter().copied());
        if step.action == "bosun:echo" || known.any(|name| name == output) {
            return None;
        }
        let declared = step.outputs.iter().map(|o| o.name.as_str());
        let hint = did_you_mean(output, declared.chain(builtin_outputs(&step.action).iter().copied()));
        Some(format!("step \"{step_name}\" has no output \"{output}\"{hint}"))
    }

    /// A default without references must fit its parameter's type and constraints.
    fn parameter_defaults(&mut self) {
        let specs = self.doc.node.get("parameters").and_then(Node::as_map).unwrap_or_default();
        for (key, spec_node) in specs {
            let (Some(node), Some(spec)) = (spec_node.get("default"), self.doc.parameter(&key.name)) else { continue };
            let value = node.to_json();
            if crate::interpolate::has_references(&value) {
                continue;
            }
            if let Err(message) = coerce(spec, &ParamInput::Json(value)) {
                self.error(node.pos, format!("parameters.{}.default", key.name), format!("invalid default: {message}"));
            }
        }
    }

    fn document_outputs(&mut self) {
        let items = self.doc.node.get("outputs").and_then(Node::as_seq).unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            let Some((step, output)) = item.as_str().and_then(|t| t.split_once('.')) else { continue };
            if step.is_empty() || output.is_empty() {
                continue;
            }
            let problem = self.output_problem(step, output);
            self.report(item.pos, format!("outputs[{i}]"), problem);
        }
    }
}

/// Whether a sleep time value is wrong: not a string, or unparsable without a reference.
fn time_problem(node: &Node, what: &str, parse: impl Fn(&str) -> Option<String>) -> Option<String> {
    match node.as_str() {
        Some(text) if text.contains("{{") => None,
        Some(text) => parse(text),
        None => Some(format!("expected {what}, found {}", node.kind_name())),
    }
}

/// The Automation step graph. `None` as a successor is the end of the execution.
struct Graph<'a> {
    doc: &'a Document,
    names: &'a HashMap<&'a str, usize>,
}

impl<'a> Graph<'a> {
    fn new(doc: &'a Document, names: &'a HashMap<&'a str, usize>) -> Self {
        Graph { doc, names }
    }

    /// A named step; a missing one (reported elsewhere) counts as the end.
    fn target(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }

    /// Where a step goes when it succeeds.
    fn on_success(&self, i: usize) -> Vec<Option<usize>> {
        let step = &self.doc.main_steps[i];
        if step.action == "aws:branch" {
            let mut next: Vec<Option<usize>> =
                branch_targets(step, "").iter().map(|jump| self.target(jump.target)).collect();
            let has_default = step.node.get("inputs").and_then(|i| i.get("Default")).is_some();
            if !has_default {
                // No choice matches and no Default: the branch fails, which ends the execution.
                next.push(None);
            }
            return next;
        }
        if step.is_end {
            return vec![None];
        }
        match &step.next_step {
            Some(name) => vec![self.target(name)],
            None => vec![(i + 1 < self.doc.main_steps.len()).then_some(i + 1)],
        }
    }

    /// Where a step goes when it fails, as written: an implicit Abort is not a way out
    /// of a loop (the loop only ends by failing), an explicit `onFailure: Abort` is.
    fn on_failure(&self, i: usize) -> Vec<Option<usize>> {
        let step = &self.doc.main_steps[i];
        match &step.on_failure {
            OnFailure::Abort if step.node.get("onFailure").is_some() => vec![None],
            OnFailure::Abort => Vec::new(),
            OnFailure::Continue => self.on_success(i),
            OnFailure::Step(name) => vec![self.target(name)],
        }
    }

    fn on_cancel(&self, i: usize) -> Vec<Option<usize>> {
        match &self.doc.main_steps[i].on_cancel {
            OnFailure::Step(name) => vec![self.target(name)],
            OnFailure::Abort | OnFailure::Continue => Vec::new(),
        }
    }

    /// Steps reached from the first one by any edge (success, failure, cancel).
    fn reachable(&self) -> Vec<bool> {
        let count = self.doc.main_steps.len();
        let mut seen = vec![false; count];
        let mut queue: VecDeque<usize> = (0..count.min(1)).collect();
        while let Some(i) = queue.pop_front() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let next = [self.on_success(i), self.on_failure(i), self.on_cancel(i)].concat();
            queue.extend(next.into_iter().flatten().filter(|&n| !seen[n]));
        }
        seen
    }

    /// Steps from which a success or written-failure path reaches the end.
    fn can_exit(&self) -> Vec<bool> {
        let count = self.doc.main_steps.len();
        let mut callers: Vec<Vec<usize>> = vec![Vec::new(); count];
        let mut queue = VecDeque::new();
        for i in 0..count {
            for next in [self.on_success(i), self.on_failure(i)].concat() {
                match next {
                    Some(n) => callers[n].push(i),
                    None => queue.push_back(i),
                }
            }
        }
        let mut exits = vec![false; count];
        while let Some(i) = queue.pop_front() {
            if !std::mem::replace(&mut exits[i], true) {
                queue.extend(callers[i].iter().copied().filter(|&c| !exits[c]));
            }
        }
        exits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::StructureOnly;

    /// Every file of the shared SSM corpus loads without errors (warnings are fine).
    /// The files are third-party: they are read in place, never copied here.
    #[test]
    fn ssm_corpus_loads_without_errors() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ssm-corpus");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("skipped: ../shared/ssm-corpus not present");
            return;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.retain(|p| p.file_name().is_some_and(|n| n != "SOURCES.md"));
        paths.sort();
        assert!(!paths.is_empty(), "the corpus folder is empty");
        let mut failures = Vec::new();
        for path in &paths {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let text = std::fs::read_to_string(path).expect("readable corpus file");
            let loaded = crate::load(&name, &text, &StructureOnly);
            for d in loaded.diagnostics.0.iter() {
                println!("{}", d.render(&name));
            }
            failures.extend(loaded.diagnostics.errors().map(|d| d.render(&name)));
            let steps = loaded.document.map_or(0, |d| d.main_steps.len());
            assert!(steps > 0, "{name} was not modelled with its steps");
        }
        assert_eq!(failures, Vec::<String>::new());
    }
}
