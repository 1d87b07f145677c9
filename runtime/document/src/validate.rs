//! Semantic checks over a built [`Document`]: actions, jump targets, the step graph,
//! `{{ }}` references, parameter defaults, action inputs and output selectors. Every
//! problem is reported at the offending key or value.
use std::collections::{HashMap, VecDeque};

use crate::actions::{ActionCatalog, Availability, BOSUN_ACTIONS, SSM_ACTIONS};
use crate::build::{did_you_mean, join};
use crate::choice::{parse_branch, parse_loop_condition};
use crate::diag::{DiagKind, Diagnostic, Diagnostics};
use crate::duration::{parse_duration, parse_timestamp};
use crate::interpolate::{Reference, references};
use crate::model::{Document, DocumentKind, OnFailure, ParamType, Step, StepRef};
use crate::node::{Node, NodeValue, Pos};
use crate::params::{ParamInput, coerce, compile_pattern};
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
/// Actions whose `runCommand` lines are shell text.
const SHELL_ACTIONS: &[&str] = &["aws:runShellScript"];

fn builtin_outputs(action: &str) -> &'static [&'static str] {
    match action {
        "aws:executeAutomation" => &["ExecutionId", "Status", "Output"],
        "aws:runCommand" => &["CommandId", "Status", "ResponseCode", "Output"],
        "aws:approve" => &["ApprovalStatus", "ApproverDecisions", "Comment"],
        "aws:createImage" | "aws:copyImage" => &["ImageId", "ImageState"],
        "aws:runInstances" => &["InstanceIds"],
        "aws:createStack" => &["StackId", "StackStatus", "StackStatusReason"],
        "aws:invokeLambdaFunction" => &["StatusCode", "FunctionError", "LogResult", "Payload"],
        "aws:loop" => &["CurrentIteration", "CurrentIteratorValue"],
        _ => &[],
    }
}

/// The outputs a step provides: the declared ones and its action's built-in ones.
fn outputs_of(step: &Step) -> impl Iterator<Item = &str> {
    let declared = step.outputs.iter().map(|o| o.name.as_str());
    declared.chain(builtin_outputs(&step.action).iter().copied())
}

/// Did-you-mean hints over document-defined names computed per document (see `suggest`).
const MAX_SUGGESTIONS: usize = 200;

/// Inputs an action cannot do without.
fn required_inputs(action: &str) -> &'static [&'static str] {
    match action {
        "aws:approve" => &["Approvers"],
        "aws:executeAutomation" => &["DocumentName"],
        "aws:loop" => &["Steps"],
        _ => &[],
    }
}

/// The most iterations an `aws:loop` runs, and the most items its `Iterators` may hold:
/// "The maximum number of iterations is 100" (AWS Systems Manager user guide,
/// automation-action-loop).
pub const MAX_LOOP_ITERATIONS: u64 = 100;

/// `mainSteps[i]`, or `mainSteps[i].inputs.Steps[j]` for a step inside a loop.
pub fn step_path(at: StepRef) -> String {
    match at {
        StepRef::Main(i) => format!("mainSteps[{i}]"),
        StepRef::Nested { parent, index } => format!("mainSteps[{parent}].inputs.Steps[{index}]"),
    }
}

/// Reports every semantic problem of `doc` into `diags`.
pub fn validate(doc: &Document, catalog: &dyn ActionCatalog, diags: &mut Diagnostics) {
    let mut names = HashMap::new();
    for (at, step) in doc.all_steps().filter(|(_, s)| !s.name.is_empty()) {
        names.entry(step.name.as_str()).or_insert(at);
    }
    let mut v = Validator { doc, diags, names, suggestions_left: MAX_SUGGESTIONS };
    for (at, step) in doc.all_steps() {
        let path = step_path(at);
        v.action(step, &path, catalog);
        v.nested_loop(at, step, &path);
        v.duplicate_name(at, step, &path);
        v.jump_targets(at, step, &path);
        v.action_inputs(step, &path);
        v.selectors(step, &path);
    }
    if doc.kind == DocumentKind::Automation {
        v.graph();
    }
    v.all_references();
    v.shell_interpolation();
    v.parameter_specs();
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
    /// Step name to where its first step sits.
    names: HashMap<&'a str, StepRef>,
    /// How many more did-you-mean hints over document-defined names may be computed.
    suggestions_left: usize,
}

impl<'a> Validator<'a, '_> {
    fn error(&mut self, pos: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(pos, path, message));
    }

    fn warning(&mut self, pos: Pos, path: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(pos, path, message));
    }

    /// A did-you-mean hint, while the budget lasts: each compares `word` with up to
    /// a thousand names, so a huge document with many wrong names stays fast.
    fn suggest<'n>(&mut self, word: &str, candidates: impl IntoIterator<Item = &'n str>) -> String {
        if self.suggestions_left == 0 {
            return String::new();
        }
        self.suggestions_left -= 1;
        did_you_mean(word, candidates)
    }

    fn step_names(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.doc.all_steps().map(|(_, s)| s.name.as_str()).filter(|n| !n.is_empty())
    }

    /// Loops do not nest: a step inside an `aws:loop` cannot be one.
    fn nested_loop(&mut self, at: StepRef, step: &Step, path: &str) {
        if at.parent().is_some() && step.action == "aws:loop" {
            self.error(field(step, "action").pos, join(path, "action"), "aws:loop cannot run inside another aws:loop");
        }
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

    fn duplicate_name(&mut self, at: StepRef, step: &Step, path: &str) {
        let first = self.names.get(step.name.as_str()).copied();
        if let Some(first) = first.filter(|first| *first != at) {
            let message = format!("duplicate step name \"{}\" (first used by {})", step.name, step_path(first));
            self.error(field(step, "name").pos, join(path, "name"), message);
        }
    }

    /// Every jump names an existing step of the same list: main steps go to main steps,
    /// steps inside a loop to steps of the same loop.
    fn jump_targets(&mut self, at: StepRef, step: &Step, path: &str) {
        let loop_name = |parent: Option<usize>| parent.and_then(|p| self.doc.main_steps.get(p)).map_or("", |s| s.name.as_str());
        for jump in jumps(step, path) {
            let Some(&target) = self.names.get(jump.target) else {
                let hint = self.suggest(jump.target, self.step_names());
                self.error(jump.node.pos, jump.path, format!("unknown step \"{}\"{hint}", jump.target));
                continue;
            };
            if target.parent() == at.parent() {
                continue;
            }
            let message = match at.parent() {
                Some(parent) => format!(
                    "step \"{}\" is outside the loop \"{}\"; a step inside a loop can only go to steps of the same loop",
                    jump.target,
                    loop_name(Some(parent))
                ),
                None => format!(
                    "step \"{}\" is inside the loop \"{}\"; only steps of that loop can go to it",
                    jump.target,
                    loop_name(target.parent())
                ),
            };
            self.error(jump.node.pos, jump.path, message);
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
            "aws:branch" => self.branch(step, inputs, anchor, &path),
            "aws:loop" => self.loop_inputs(step, inputs, anchor, &path),
            _ => {}
        }
    }

    /// `aws:loop`: exactly one of `Iterators` (a list, or a reference to one) and
    /// `LoopCondition` (a condition in the aws:branch syntax); `MaxIterations` from 1 to
    /// 100; onCancel, maxAttempts and timeoutSeconds belong on the steps inside.
    fn loop_inputs(&mut self, step: &Step, inputs: Option<&Node>, anchor: Pos, path: &str) {
        let entry = |key: &str| inputs.and_then(|i| i.entry(key));
        match (entry("Iterators"), entry("LoopCondition")) {
            (None, None) => self.error(anchor, path, "aws:loop needs the input \"Iterators\" or \"LoopCondition\""),
            (Some(_), Some((key, _))) => {
                self.error(key.pos, join(path, "LoopCondition"), "aws:loop takes \"Iterators\" or \"LoopCondition\", not both");
            }
            (Some((_, node)), None) => {
                let problem = match &node.value {
                    NodeValue::Seq(items) if items.len() as u64 > MAX_LOOP_ITERATIONS => {
                        Some(format!("Iterators has {} items; aws:loop runs at most {MAX_LOOP_ITERATIONS} iterations", items.len()))
                    }
                    NodeValue::Seq(_) => None,
                    NodeValue::String(text) if text.contains("{{") => None,
                    _ => Some(format!("expected a list of items or a {{{{ reference }}}} to one, found {}", node.kind_name())),
                };
                self.report(node.pos, join(path, "Iterators"), problem);
            }
            (None, Some((_, node))) => {
                if let Err(errors) = parse_loop_condition(&node.to_json()) {
                    for error in errors {
                        let at = inputs.map_or(node, |inputs| node_at(inputs, &error.path));
                        self.error(quoted_key_pos(at, &error.message), join(path, &error.path), error.message);
                    }
                }
            }
        }
        if let Some((_, node)) = entry("MaxIterations") {
            let fits = match &node.value {
                NodeValue::Int(n) => (1..=MAX_LOOP_ITERATIONS as i64).contains(n),
                NodeValue::String(text) => text.contains("{{"),
                _ => false,
            };
            if !fits {
                let found = match &node.value {
                    NodeValue::Int(n) => n.to_string(),
                    _ => node.kind_name().to_owned(),
                };
                let message = format!("MaxIterations must be an integer from 1 to {MAX_LOOP_ITERATIONS}, found {found}");
                self.error(node.pos, join(path, "MaxIterations"), message);
            }
        }
        if let Some((_, node)) = entry("IteratorDataType") {
            const TYPES: &[&str] = &["Boolean", "Integer", "String", "StringMap"];
            if !node.as_str().is_some_and(|t| TYPES.contains(&t) || t.contains("{{")) {
                let message = format!("IteratorDataType must be one of {}", TYPES.join(", "));
                self.error(node.pos, join(path, "IteratorDataType"), message);
            }
        }
        let step_path = path.strip_suffix(".inputs").unwrap_or(path);
        for key in ["onCancel", "maxAttempts", "timeoutSeconds"] {
            if let Some((key_node, _)) = step.node.entry(key) {
                let message = format!("{key} is not applied to aws:loop; set it on the steps inside the loop; it is ignored");
                self.warning(key_node.pos, join(step_path, key), message);
            }
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
    /// `anchor` is where a problem with the inputs as a whole belongs.
    fn branch(&mut self, step: &Step, inputs: Option<&Node>, anchor: Pos, path: &str) {
        let Err(errors) = parse_branch(&step.inputs) else {
            return;
        };
        for error in errors {
            let pos = match inputs.filter(|_| !error.path.is_empty()) {
                Some(inputs) => {
                    let node = node_at(inputs, &error.path);
                    quoted_key_pos(node, &error.message)
                }
                None => anchor,
            };
            self.error(pos, join(path, &error.path), error.message);
        }
    }

    fn selectors(&mut self, step: &Step, path: &str) {
        if self.doc.kind != DocumentKind::Automation {
            return;
        }
        let outputs = step.node.get("outputs").and_then(Node::as_seq).unwrap_or_default();
        for (i, output) in outputs.iter().enumerate() {
            let Some(node) = output.get("Selector") else {
                continue;
            };
            let Some(Err(message)) = node.as_str().map(check_selector) else {
                continue;
            };
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
        for (at, step) in self.doc.all_steps() {
            let path = step_path(at);
            for (key, value) in step.node.as_map().unwrap_or_default() {
                if FIELDS_WITHOUT_REFERENCES.contains(&key.name.as_str()) {
                    continue;
                }
                let here = format!("{path}.{}", key.name);
                if key.name != "inputs" || step.action != "aws:loop" || value.as_map().is_none() {
                    self.references_in(value, &here);
                    continue;
                }
                // The loop's own steps are checked as steps, with their own paths.
                for (input, value) in value.as_map().unwrap_or_default().iter().filter(|(k, _)| k.name != "Steps") {
                    let inner = join(&here, &input.name);
                    self.check_text(&input.name, input.pos, &inner);
                    self.references_in(value, &inner);
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

    fn parameter_problem(&mut self, name: &str) -> Option<String> {
        let doc = self.doc;
        if doc.parameter(name).is_some() || PSEUDO_PARAMETERS.contains(&name) {
            return None;
        }
        let declared = doc.parameters.iter().map(|p| p.name.as_str());
        let hint = self.suggest(name, declared.chain(PSEUDO_PARAMETERS.iter().copied()));
        Some(format!("unknown parameter \"{name}\"{hint}"))
    }

    /// Whether `step` exists and provides `output` (declared, built in, or any for `bosun:echo`).
    fn output_problem(&mut self, step_name: &str, output: &str) -> Option<String> {
        let Some(step) = self.names.get(step_name).and_then(|&at| self.doc.step(at)) else {
            let hint = self.suggest(step_name, self.step_names());
            return Some(format!("unknown step \"{step_name}\" in \"{step_name}.{output}\"{hint}"));
        };
        if step.action == "bosun:echo" || outputs_of(step).any(|name| name == output) {
            return None;
        }
        let hint = self.suggest(output, outputs_of(step));
        Some(format!("step \"{step_name}\" has no output \"{output}\"{hint}"))
    }

    /// A String parameter pasted into shell text can run commands of the caller's
    /// choosing (`; rm -rf /`): warn unless an allowedPattern or allowedValues bounds it
    /// or it reaches the script as an environment variable (`interpolationType: ENV_VAR`).
    fn shell_interpolation(&mut self) {
        for (at, step) in self.doc.all_steps().filter(|(_, s)| SHELL_ACTIONS.contains(&s.action.as_str())) {
            let Some(commands) = step.node.get("inputs").and_then(|i| i.get("runCommand")) else { continue };
            let path = format!("{}.inputs.runCommand", step_path(at));
            let lines: Vec<(&Node, String)> = match &commands.value {
                NodeValue::Seq(items) => items.iter().enumerate().map(|(i, n)| (n, format!("{path}[{i}]"))).collect(),
                _ => vec![(commands, path.clone())],
            };
            for (node, here) in lines {
                let NodeValue::String(text) = &node.value else { continue };
                for (_, reference) in references(text) {
                    let Ok(Reference::Param(name)) = reference else { continue };
                    let Some(spec) = self.doc.parameter(&name) else { continue };
                    let unbounded = spec.ty == ParamType::String && spec.allowed_pattern.is_none() && spec.allowed_values.is_none();
                    if unbounded && !spec.env_var {
                        self.warning(
                            node.pos,
                            here.clone(),
                            format!(
                                "String parameter \"{name}\" is pasted into shell text without an allowedPattern: a value can run any command; \
                                 declare `interpolationType: ENV_VAR` (the script reads $SSM_{name}) or an allowedPattern"
                            ),
                        );
                    }
                }
            }
        }
    }

    /// An `allowedPattern` must be a valid regular expression, and a default without
    /// references must fit its parameter's type and constraints. A default is not
    /// checked against a pattern that is itself invalid: that is reported once, at
    /// the pattern.
    fn parameter_specs(&mut self) {
        let specs = self.doc.node.get("parameters").and_then(Node::as_map).unwrap_or_default();
        for (key, spec_node) in specs {
            let Some(spec) = self.doc.parameter(&key.name) else {
                continue;
            };
            let mut spec = spec.clone();
            if let Some(Err(message)) = spec.allowed_pattern.as_deref().map(compile_pattern) {
                let node = spec_node.get("allowedPattern").unwrap_or(spec_node);
                self.error(node.pos, format!("parameters.{}.allowedPattern", key.name), message);
                spec.allowed_pattern = None;
            }
            let Some(node) = spec_node.get("default") else {
                continue;
            };
            let value = node.to_json();
            if crate::interpolate::has_references(&value) {
                continue;
            }
            if let Err(message) = coerce(&spec, &ParamInput::Json(value)) {
                self.error(node.pos, format!("parameters.{}.default", key.name), format!("invalid default: {message}"));
            }
        }
    }

    fn document_outputs(&mut self) {
        let items = self.doc.node.get("outputs").and_then(Node::as_seq).unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            let Some((step, output)) = item.as_str().and_then(|t| t.split_once('.')) else {
                continue;
            };
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
    names: &'a HashMap<&'a str, StepRef>,
}

impl<'a> Graph<'a> {
    fn new(doc: &'a Document, names: &'a HashMap<&'a str, StepRef>) -> Self {
        Graph { doc, names }
    }

    /// A named main step; a missing one or one inside a loop (reported elsewhere) counts as the end.
    fn target(&self, name: &str) -> Option<usize> {
        match self.names.get(name) {
            Some(StepRef::Main(i)) => Some(*i),
            _ => None,
        }
    }

    /// Where a step goes when it succeeds.
    fn on_success(&self, i: usize) -> Vec<Option<usize>> {
        let step = &self.doc.main_steps[i];
        if step.action == "aws:branch" {
            let mut next: Vec<Option<usize>> = branch_targets(step, "").iter().map(|jump| self.target(jump.target)).collect();
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
    use crate::actions::{StructureOnly, is_known_name};
    use crate::model::{ParamType, ParameterSpec};

    /// Every diagnostic of loading `text`, rendered, in source order.
    fn check_with(text: &str, catalog: &dyn ActionCatalog) -> Vec<String> {
        let loaded = crate::load("d.yaml", text, catalog);
        loaded.diagnostics.0.iter().map(|d| d.render("d.yaml")).collect()
    }

    fn check(text: &str) -> Vec<String> {
        check_with(text, &StructureOnly)
    }

    /// An Automation document whose steps start on line 5.
    fn auto(steps: &str) -> String {
        format!("schemaVersion: '0.3'\nparameters:\n  Name: {{type: String}}\nmainSteps:\n{steps}")
    }

    const NONE: [&str; 0] = [];

    /// A catalog where only the listed actions run.
    struct Only(&'static [&'static str]);

    impl ActionCatalog for Only {
        fn availability(&self, action: &str) -> Availability {
            if self.0.contains(&action) {
                Availability::Available
            } else if is_known_name(action) {
                Availability::NotAvailable
            } else {
                Availability::Unknown
            }
        }
    }

    #[test]
    fn unknown_actions() {
        let text = auto("- {name: a, action: aws:runShelScript}\n- {name: b, action: aws:frobnicate}\n");
        assert_eq!(
            check(&text),
            [
                "d.yaml:5:21: mainSteps[0].action: unknown action \"aws:runShelScript\" (did you mean aws:runShellScript?)",
                "d.yaml:6:21: mainSteps[1].action: unknown action \"aws:frobnicate\"",
            ]
        );
    }

    #[test]
    fn actions_not_available_here() {
        let text = auto("- {name: a, action: aws:pause}\n- {name: b, action: aws:executeAwsApi}\n");
        let loaded = crate::load("d.yaml", &text, &Only(&["aws:pause"]));
        let rendered: Vec<String> = loaded.diagnostics.0.iter().map(|d| d.render("d.yaml")).collect();
        assert_eq!(
            rendered,
            ["d.yaml:6:21: mainSteps[1].action: action \"aws:executeAwsApi\" is not available here: no installed plugin implements it"]
        );
        assert_eq!(loaded.diagnostics.0[0].kind, DiagKind::NotAvailable);
        assert_eq!(check(&text), NONE, "structure-only accepts every known action");
    }

    #[test]
    fn duplicate_step_names() {
        let text = auto("- {name: a, action: aws:pause}\n- {name: a, action: aws:pause}\n");
        assert_eq!(check(&text), ["d.yaml:6:10: mainSteps[1].name: duplicate step name \"a\" (first used by mainSteps[0])"]);
    }

    #[test]
    fn jumps_to_missing_steps() {
        let text = auto(concat!(
            "- {name: first, action: aws:pause, nextStep: secnd, onFailure: 'step:nope', onCancel: 'step:Second'}\n",
            "- {name: second, action: aws:pause}\n",
        ));
        assert_eq!(
            check(&text),
            [
                "d.yaml:5:46: mainSteps[0].nextStep: unknown step \"secnd\" (did you mean second?)",
                "d.yaml:5:64: mainSteps[0].onFailure: unknown step \"nope\"",
                "d.yaml:5:87: mainSteps[0].onCancel: unknown step \"Second\" (did you mean second?)",
                "d.yaml:6:10: mainSteps[1]: warning: step \"second\" is unreachable: no step leads to it",
            ]
        );
    }

    #[test]
    fn branch_targets_and_choice_errors() {
        let text = auto(concat!(
            "- name: choose\n",
            "  action: aws:branch\n",
            "  inputs:\n",
            "    Choices:\n",
            "    - NextStep: done\n",
            "      Variable: '{{ Name }}'\n",
            "      StringEquals: x\n",
            "    - NextStep: dne\n",
            "      Variable: '{{ Name }}'\n",
            "      NumericGreatr: 3\n",
            "    Default: nowhere\n",
            "- {name: done, action: aws:pause}\n",
        ));
        assert_eq!(
            check(&text),
            [
                "d.yaml:12:17: mainSteps[0].inputs.Choices[1].NextStep: unknown step \"dne\" (did you mean done?)",
                "d.yaml:14:7: mainSteps[0].inputs.Choices[1]: unknown operator \"NumericGreatr\" (did you mean NumericGreater?)",
                "d.yaml:15:14: mainSteps[0].inputs.Default: unknown step \"nowhere\"",
            ]
        );
    }

    #[test]
    fn choice_errors_point_at_the_value_they_name() {
        let text = auto(concat!(
            "- name: choose\n",
            "  action: aws:branch\n",
            "  inputs:\n",
            "    Choices:\n",
            "    - {NextStep: [x], Variable: a, StringEquals: b}\n",
        ));
        let message = parse_branch(&serde_json::json!({"Choices": [{"NextStep": ["x"], "Variable": "a", "StringEquals": "b"}]}))
            .expect_err("NextStep is not a name")
            .remove(0)
            .message;
        assert_eq!(check(&text), [format!("d.yaml:9:18: mainSteps[0].inputs.Choices[0].NextStep: {message}")]);
        let text = auto("- {name: choose, action: aws:branch}\n");
        let message = parse_branch(&serde_json::json!({})).expect_err("no choices").remove(0).message;
        assert_eq!(check(&text), [format!("d.yaml:5:26: mainSteps[0].inputs: {message}")]);
    }

    #[test]
    fn unreachable_steps() {
        let text = auto("- {name: a, action: aws:pause, isEnd: true}\n- {name: b, action: aws:pause}\n");
        assert_eq!(check(&text), ["d.yaml:6:10: mainSteps[1]: warning: step \"b\" is unreachable: no step leads to it"]);
        let text = auto("- {name: a, action: aws:pause, isEnd: true, onFailure: 'step:b'}\n- {name: b, action: aws:pause}\n");
        assert_eq!(check(&text), NONE, "a failure path reaches b");
    }

    #[test]
    fn loops_with_no_way_out() {
        let text = auto(concat!(
            "- {name: a, action: aws:pause, nextStep: b}\n",
            "- {name: b, action: aws:pause, nextStep: a}\n",
            "- {name: c, action: aws:pause}\n",
        ));
        assert_eq!(
            check(&text),
            [
                "d.yaml:5:10: mainSteps[0]: warning: steps \"a\", \"b\" loop with no way out: no path from them reaches isEnd, the last step or onFailure: Abort",
                "d.yaml:7:10: mainSteps[2]: warning: step \"c\" is unreachable: no step leads to it",
            ]
        );
        let text = auto("- {name: a, action: aws:pause, nextStep: a}\n");
        assert_eq!(
            check(&text),
            [
                "d.yaml:5:10: mainSteps[0]: warning: step \"a\" loops with no way out: no path from it reaches isEnd, the last step or onFailure: Abort"
            ]
        );
        let text = auto("- {name: a, action: aws:pause, nextStep: a, onFailure: Abort}\n");
        assert_eq!(check(&text), NONE, "an explicit Abort is a way out");
    }

    #[test]
    fn a_polling_loop_with_a_branch_exit_is_fine() {
        let text = auto(concat!(
            "- {name: poll, action: aws:pause}\n",
            "- name: check\n",
            "  action: aws:branch\n",
            "  inputs:\n",
            "    Choices:\n",
            "    - {NextStep: poll, Variable: '{{ Name }}', StringEquals: wait}\n",
            "    Default: done\n",
            "- {name: done, action: aws:pause, isEnd: true}\n",
        ));
        assert_eq!(check(&text), NONE);
    }

    #[test]
    fn references() {
        let text = concat!(
            "schemaVersion: '0.3'\n",
            "assumeRole: '{{ Rol }}'\n",
            "parameters:\n",
            "  Name: {type: String, default: '{{ TARGET_ID }}'}\n",
            "  Other: {type: String, default: '{{ nam }}'}\n",
            "mainSteps:\n",
            "- name: a\n",
            "  action: aws:executeAwsApi\n",
            "  inputs:\n",
            "    Api: '{{ Name }}-{{ Nme }}'\n",
            "    Ids: ['{{ b.Missing }}', '{{ zz.Out }}', '{{ run.ExecutionId }}', '{{ echo.anything }}', '{{ b.Out }}']\n",
            "    '{{ bad': '{{ global:REGION }} {{ automation:EXECUTION_ID }} {{ ssm:/a/b }}'\n",
            "- {name: run, action: aws:executeAutomation, inputs: {DocumentName: d}}\n",
            "- {name: echo, action: 'bosun:echo'}\n",
            "- {name: b, action: aws:executeAwsApi, outputs: [{Name: Out, Selector: $.x, Type: String}]}\n",
        );
        assert_eq!(
            check(text),
            [
                "d.yaml:2:13: assumeRole: unknown parameter \"Rol\"",
                "d.yaml:5:34: parameters.Other.default: unknown parameter \"nam\" (did you mean Name?)",
                "d.yaml:10:10: mainSteps[0].inputs.Api: unknown parameter \"Nme\" (did you mean Name?)",
                "d.yaml:11:11: mainSteps[0].inputs.Ids[0]: step \"b\" has no output \"Missing\"",
                "d.yaml:11:30: mainSteps[0].inputs.Ids[1]: unknown step \"zz\" in \"zz.Out\"",
                "d.yaml:12:5: mainSteps[0].inputs.{{ bad: unterminated reference \"{{ bad\"",
            ]
        );
    }

    #[test]
    fn document_outputs_name_existing_step_outputs() {
        let text = auto(concat!(
            "- {name: b, action: aws:executeAwsApi, outputs: [{Name: Out, Selector: $.x, Type: String}]}\n",
            "outputs: [b.Out, b.Nope, c.X]\n",
        ));
        assert_eq!(
            check(&text),
            [
                "d.yaml:6:18: outputs[1]: step \"b\" has no output \"Nope\"",
                "d.yaml:6:26: outputs[2]: unknown step \"c\" in \"c.X\" (did you mean b?)",
            ]
        );
    }

    #[test]
    fn sleep_inputs() {
        let text = auto(concat!(
            "- {name: s1, action: aws:sleep}\n",
            "- {name: s2, action: aws:sleep, inputs: {Duration: PT1M, Timestamp: '2026-01-01T00:00:00Z'}}\n",
            "- {name: s3, action: aws:sleep, inputs: {Duration: PT1X}}\n",
            "- {name: s4, action: aws:sleep, inputs: {Duration: '{{ Name }}'}}\n",
            "- {name: s5, action: aws:sleep, inputs: {Duration: 5}}\n",
            "- {name: s6, action: aws:sleep, inputs: {Timestamp: tomorrow}}\n",
            "- {name: s7, action: aws:sleep, inputs: {Timestamp: '2026-01-01T00:00:00Z'}}\n",
        ));
        let duration = parse_duration("PT1X").expect_err("bad duration");
        let timestamp = parse_timestamp("tomorrow").expect_err("bad timestamp");
        assert_eq!(
            check(&text),
            [
                "d.yaml:5:22: mainSteps[0].inputs: aws:sleep needs the input \"Duration\" or \"Timestamp\"".to_string(),
                "d.yaml:6:58: mainSteps[1].inputs.Timestamp: aws:sleep takes \"Duration\" or \"Timestamp\", not both".into(),
                format!("d.yaml:7:52: mainSteps[2].inputs.Duration: {duration}"),
                "d.yaml:9:52: mainSteps[4].inputs.Duration: expected an ISO 8601 duration such as PT10M, found a number".into(),
                format!("d.yaml:10:53: mainSteps[5].inputs.Timestamp: {timestamp}"),
            ]
        );
    }

    #[test]
    fn required_inputs_of_approve_and_execute_automation() {
        let text = auto(concat!(
            "- {name: ap, action: aws:approve, inputs: {Message: hi}}\n",
            "- {name: ex, action: aws:executeAutomation}\n",
            "- {name: pa, action: aws:pause}\n",
            "- {name: ok, action: aws:approve, inputs: {Approvers: [me]}}\n",
        ));
        assert_eq!(
            check(&text),
            [
                "d.yaml:5:35: mainSteps[0].inputs: aws:approve needs the input \"Approvers\"",
                "d.yaml:6:22: mainSteps[1].inputs: aws:executeAutomation needs the input \"DocumentName\"",
            ]
        );
    }

    #[test]
    fn output_selectors() {
        let text = auto("- {name: b, action: aws:executeAwsApi, outputs: [{Name: Out, Selector: Payload.X, Type: String}]}\n");
        let message = check_selector("Payload.X").expect_err("not rooted at $");
        assert_eq!(check(&text), [format!("d.yaml:5:72: mainSteps[0].outputs[0].Selector: {message}")]);
    }

    #[test]
    fn an_invalid_allowed_pattern_is_reported_once_at_the_pattern() {
        let text = concat!(
            "schemaVersion: '0.3'\n",
            "parameters:\n",
            "  A: {type: String, allowedPattern: '^[a-z'}\n",
            "  B: {type: String, allowedPattern: '(', default: x}\n",
            "  C: {type: Integer, allowedPattern: '(', default: abc}\n",
            "  D: {type: String, allowedPattern: '^[a-z]+$', default: x}\n",
            "mainSteps:\n",
            "- {name: a, action: aws:pause}\n",
        );
        assert_eq!(
            check(text),
            [
                "d.yaml:3:37: parameters.A.allowedPattern: invalid regular expression \"^[a-z\": unclosed character class",
                "d.yaml:4:37: parameters.B.allowedPattern: invalid regular expression \"(\": unclosed group",
                "d.yaml:5:38: parameters.C.allowedPattern: invalid regular expression \"(\": unclosed group",
                "d.yaml:5:52: parameters.C.default: invalid default: expected an integer, got a string: \"abc\"",
            ]
        );
    }

    #[test]
    fn unbounded_string_parameters_in_shell_text_are_warned_about() {
        let text = concat!(
            "schemaVersion: '2.2'\n",
            "parameters:\n",
            "  Free: {type: String}\n",
            "  Env: {type: String, interpolationType: ENV_VAR}\n",
            "  Pattern: {type: String, allowedPattern: '^[a-z]+$'}\n",
            "  Choice: {type: String, allowedValues: [a, b]}\n",
            "  Lines: {type: StringList}\n",
            "mainSteps:\n",
            "- {name: a, action: aws:runShellScript, inputs: {runCommand: ['echo {{ Free }} {{ Env }} {{ Pattern }} {{ Choice }}', '{{ Lines }}'], workingDirectory: '{{ Free }}'}}\n",
        );
        assert_eq!(
            check(text),
            [
                "d.yaml:9:63: mainSteps[0].inputs.runCommand[0]: warning: String parameter \"Free\" is pasted into shell text without an allowedPattern: a value can run any command; declare `interpolationType: ENV_VAR` (the script reads $SSM_Free) or an allowedPattern"
            ]
        );
        let bad = "schemaVersion: '2.2'\nparameters:\n  A: {type: String, interpolationType: SHELL}\nmainSteps:\n- {name: a, action: aws:runShellScript, inputs: {runCommand: [ls]}}\n";
        assert_eq!(
            check(bad),
            ["d.yaml:3:40: parameters.A.interpolationType: interpolationType \"SHELL\" is not supported: the only value is ENV_VAR"]
        );
    }

    #[test]
    fn approve_provides_a_comment_output() {
        let text = auto(concat!(
            "- {name: ap, action: aws:approve, inputs: {Approvers: [me]}}\n",
            "- {name: b, action: aws:executeAwsApi, inputs: {Note: '{{ ap.Comment }} {{ ap.ApprovalStatus }} {{ ap.ApproverDecisions }}'}}\n",
        ));
        assert_eq!(check(&text), NONE);
    }

    #[test]
    fn parameter_defaults_must_fit_their_type() {
        let text = "schemaVersion: '0.3'\nparameters:\n  N: {type: Integer, default: abc}\n  M: {type: Integer, default: '{{ N }}'}\nmainSteps:\n- {name: a, action: aws:pause}\n";
        let spec = ParameterSpec::new("N", ParamType::Integer);
        let message = coerce(&spec, &ParamInput::Json(serde_json::json!("abc"))).expect_err("not an integer");
        assert_eq!(check(text), [format!("d.yaml:3:31: parameters.N.default: invalid default: {message}")]);
    }

    #[test]
    fn command_documents() {
        let text = concat!(
            "schemaVersion: '2.2'\n",
            "mainSteps:\n",
            "- {name: a, action: aws:runShellScript, inputs: {runCommand: ['echo {{ Missing }}']}}\n",
            "- {name: a, action: aws:runShelScript}\n",
        );
        assert_eq!(
            check(text),
            [
                "d.yaml:3:63: mainSteps[0].inputs.runCommand[0]: unknown parameter \"Missing\"",
                "d.yaml:4:10: mainSteps[1].name: duplicate step name \"a\" (first used by mainSteps[0])",
                "d.yaml:4:21: mainSteps[1].action: unknown action \"aws:runShelScript\" (did you mean aws:runShellScript?)",
            ]
        );
    }

    #[test]
    fn a_valid_loop_and_its_references() {
        let text = concat!(
            "schemaVersion: '0.3'\n",
            "parameters:\n",
            "  Hosts: {type: StringList}\n",
            "mainSteps:\n",
            "- name: each\n",
            "  action: aws:loop\n",
            "  inputs:\n",
            "    Iterators: '{{ Hosts }}'\n",
            "    MaxIterations: 5\n",
            "    Steps:\n",
            "    - {name: ping, action: 'bosun:echo', inputs: {Host: '{{ each.CurrentIteratorValue }}', N: '{{ each.CurrentIteration }}'}}\n",
            "    - {name: check, action: aws:branch, inputs: {Choices: [{NextStep: ping, Variable: '{{ ping.Host }}', StringEquals: x}], Default: report}}\n",
            "    - {name: report, action: 'bosun:echo', inputs: {Seen: '{{ ping.Host }}'}}\n",
            "- {name: after, action: 'bosun:echo', inputs: {Last: '{{ each.CurrentIteratorValue }} {{ report.Seen }}'}}\n",
        );
        assert_eq!(check(text), NONE);
        let doc = crate::load("d.yaml", text, &StructureOnly).document.expect("modelled");
        let names: Vec<&str> = doc.main_steps[0].loop_steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ping", "check", "report"]);
        assert_eq!(doc.find_step("check"), Some(StepRef::Nested { parent: 0, index: 1 }));
        assert_eq!(doc.find_step("after"), Some(StepRef::Main(1)));
    }

    #[test]
    fn steps_inside_a_loop_are_checked_like_main_steps() {
        let text = auto(concat!(
            "- name: each\n",
            "  action: aws:loop\n",
            "  inputs:\n",
            "    Iterators: [a, b]\n",
            "    Steps:\n",
            "    - {name: one, action: aws:runShelScript, nextStep: after}\n",
            "    - {name: two, action: 'bosun:echo', inputs: {X: '{{ Nme }} {{ one.Nope }}'}, onFailure: 'step:nowhere'}\n",
            "    - {name: each, action: aws:loop, inputs: {LoopCondition: {Variable: x, StringEquals: y}, Steps: [{name: deep, action: aws:pause}]}}\n",
            "- {name: after, action: aws:pause, nextStep: two}\n",
        ));
        assert_eq!(
            check(&text),
            [
                "d.yaml:10:27: mainSteps[0].inputs.Steps[0].action: unknown action \"aws:runShelScript\" (did you mean aws:runShellScript?)",
                "d.yaml:10:56: mainSteps[0].inputs.Steps[0].nextStep: step \"after\" is outside the loop \"each\"; a step inside a loop can only go to steps of the same loop",
                "d.yaml:11:53: mainSteps[0].inputs.Steps[1].inputs.X: unknown parameter \"Nme\" (did you mean Name?)",
                "d.yaml:11:53: mainSteps[0].inputs.Steps[1].inputs.X: step \"one\" has no output \"Nope\"",
                "d.yaml:11:93: mainSteps[0].inputs.Steps[1].onFailure: unknown step \"nowhere\"",
                "d.yaml:12:14: mainSteps[0].inputs.Steps[2].name: duplicate step name \"each\" (first used by mainSteps[0])",
                "d.yaml:12:28: mainSteps[0].inputs.Steps[2].action: aws:loop cannot run inside another aws:loop",
                "d.yaml:13:46: mainSteps[1].nextStep: step \"two\" is inside the loop \"each\"; only steps of that loop can go to it",
            ]
        );
    }

    #[test]
    fn loop_inputs() {
        let text = auto(concat!(
            "- {name: l1, action: aws:loop, inputs: {Steps: [{name: a, action: aws:pause}]}}\n",
            "- {name: l2, action: aws:loop, inputs: {Iterators: [x], LoopCondition: {Variable: x, StringEquals: y}, Steps: [{name: b, action: aws:pause}]}}\n",
            "- {name: l3, action: aws:loop, inputs: {Iterators: 5, MaxIterations: 101, Steps: [{name: c, action: aws:pause}]}}\n",
            "- {name: l4, action: aws:loop, inputs: {LoopCondition: {Variable: x, StringEqual: y}, MaxIterations: 0, Steps: []}}\n",
            "- {name: l5, action: aws:loop, inputs: {LoopCondition: {NextStep: a, Variable: x, StringEquals: y}, Steps: [{name: e, action: aws:pause}]}}\n",
            "- {name: l6, action: aws:loop, onCancel: Abort, inputs: {Iterators: [x], IteratorDataType: Text, Steps: [{name: f, action: aws:pause}]}}\n",
            "- {name: l7, action: aws:loop}\n",
        ));
        assert_eq!(
            check(&text),
            [
                "d.yaml:5:32: mainSteps[0].inputs: aws:loop needs the input \"Iterators\" or \"LoopCondition\"",
                "d.yaml:6:57: mainSteps[1].inputs.LoopCondition: aws:loop takes \"Iterators\" or \"LoopCondition\", not both",
                "d.yaml:7:52: mainSteps[2].inputs.Iterators: expected a list of items or a {{ reference }} to one, found a number",
                "d.yaml:7:70: mainSteps[2].inputs.MaxIterations: MaxIterations must be an integer from 1 to 100, found 101",
                "d.yaml:8:70: mainSteps[3].inputs.LoopCondition: unknown operator \"StringEqual\" (did you mean StringEquals?)",
                "d.yaml:8:102: mainSteps[3].inputs.MaxIterations: MaxIterations must be an integer from 1 to 100, found 0",
                "d.yaml:8:112: mainSteps[3].inputs.Steps: aws:loop needs at least one step in Steps",
                "d.yaml:9:56: mainSteps[4].inputs.LoopCondition: NextStep is not allowed in a LoopCondition",
                "d.yaml:10:32: mainSteps[5].onCancel: warning: onCancel is not applied to aws:loop; set it on the steps inside the loop; it is ignored",
                "d.yaml:10:92: mainSteps[5].inputs.IteratorDataType: IteratorDataType must be one of Boolean, Integer, String, StringMap",
                "d.yaml:11:22: mainSteps[6].inputs: aws:loop needs the input \"Steps\"",
                "d.yaml:11:22: mainSteps[6].inputs: aws:loop needs the input \"Iterators\" or \"LoopCondition\"",
            ]
        );
    }

    #[test]
    fn paths_resolve_to_the_nearest_existing_node() {
        let root = crate::parse::parse("d.yaml", "Choices:\n- {Not: {Variable: x}}\n").expect("parses");
        assert_eq!(node_at(&root, "Choices[0].Not.Variable").pos, Pos::new(2, 20));
        assert_eq!(node_at(&root, "Choices[0].Not.Missing[3]").pos, Pos::new(2, 9));
        assert!(std::ptr::eq(node_at(&root, "Choices[7]"), node_at(&root, "Choices")));
        assert_eq!(node_at(&root, "").pos, Pos::new(1, 1));
    }

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
