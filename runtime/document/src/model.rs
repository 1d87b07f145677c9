//! The typed document model: what a parsed and validated Command ("2.2") or
//! Automation ("0.3") document means. Built from a [`Node`] tree by `build`;
//! each part keeps the node it came from, so later checks can point into it.

use serde_json::Value;

use crate::node::{Node, Pos};

/// Which of the two SSM schemas a document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// `schemaVersion: "2.2"`: steps run on nodes.
    Command,
    /// `schemaVersion: "0.3"`: steps run centrally.
    Automation,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Command => "Command",
            DocumentKind::Automation => "Automation",
        }
    }
}

/// A parameter's declared type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamType {
    String,
    StringList,
    Integer,
    Boolean,
    MapList,
    StringMap,
    /// An AWS resource type such as `AWS::EC2::Instance::Id`, accepted as a string.
    AwsResource(String),
    /// `List<AWS::EC2::Instance::Id>` and the like, accepted as a list of strings.
    AwsResourceList(String),
}

impl ParamType {
    /// The name as written in documents.
    pub fn name(&self) -> String {
        match self {
            ParamType::String => "String".into(),
            ParamType::StringList => "StringList".into(),
            ParamType::Integer => "Integer".into(),
            ParamType::Boolean => "Boolean".into(),
            ParamType::MapList => "MapList".into(),
            ParamType::StringMap => "StringMap".into(),
            ParamType::AwsResource(t) => t.clone(),
            ParamType::AwsResourceList(t) => format!("List<{t}>"),
        }
    }
}

/// One entry of `parameters`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterSpec {
    pub name: String,
    pub ty: ParamType,
    pub description: Option<String>,
    pub default: Option<Value>,
    pub allowed_values: Option<Vec<Value>>,
    pub allowed_pattern: Option<String>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_chars: Option<u64>,
    pub max_chars: Option<u64>,
    /// `interpolationType: ENV_VAR`: on a node the value reaches commands as the
    /// environment variable `SSM_<name>`, and `{{ name }}` becomes `$SSM_<name>`.
    pub env_var: bool,
    pub pos: Pos,
}

impl ParameterSpec {
    /// A spec with only a name and a type, for tests and programmatic use.
    pub fn new(name: impl Into<String>, ty: ParamType) -> Self {
        Self {
            name: name.into(),
            ty,
            description: None,
            default: None,
            allowed_values: None,
            allowed_pattern: None,
            min_items: None,
            max_items: None,
            min_chars: None,
            max_chars: None,
            env_var: false,
            pos: Pos::default(),
        }
    }
}

/// What happens when a step fails (`onFailure`) or is cancelled (`onCancel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop the execution (the default).
    Abort,
    /// Go on with the next step.
    Continue,
    /// Jump to the named step.
    Step(String),
}

/// A step's declared output: `{Name, Selector, Type}`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    pub name: String,
    /// An RFC 9535 JSONPath over the action's response, e.g. `$.Reservations..InstanceId`.
    pub selector: String,
    pub ty: ParamType,
}

/// One entry of `mainSteps`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub action: String,
    /// The `inputs` map as written (references not yet interpolated).
    pub inputs: Value,
    pub description: Option<String>,
    pub next_step: Option<String>,
    pub is_end: bool,
    /// `isCritical`; when absent: true, except false when `onFailure` is `Continue`.
    pub is_critical: bool,
    pub on_failure: OnFailure,
    pub on_cancel: OnFailure,
    /// At least 1.
    pub max_attempts: u32,
    pub timeout_seconds: Option<u64>,
    pub outputs: Vec<StepOutput>,
    /// Command documents: the `precondition` map as written.
    pub precondition: Option<Value>,
    /// `aws:loop`: the steps of `inputs.Steps`, built like main steps (empty for other actions).
    pub loop_steps: Vec<Step>,
    /// The node the step came from, for positions of its fields.
    pub node: Node,
}

/// Where a step sits: in `mainSteps`, or in the `inputs.Steps` of an `aws:loop` main step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepRef {
    Main(usize),
    /// `mainSteps[parent].inputs.Steps[index]`.
    Nested {
        parent: usize,
        index: usize,
    },
}

impl StepRef {
    /// The `aws:loop` main step this step runs inside, if any.
    pub fn parent(self) -> Option<usize> {
        match self {
            StepRef::Main(_) => None,
            StepRef::Nested { parent, .. } => Some(parent),
        }
    }

    /// The index within the list that holds the step.
    pub fn index(self) -> usize {
        match self {
            StepRef::Main(index) | StepRef::Nested { index, .. } => index,
        }
    }

    /// The step at `index` of the same list.
    pub fn sibling(self, index: usize) -> StepRef {
        match self {
            StepRef::Main(_) => StepRef::Main(index),
            StepRef::Nested { parent, .. } => StepRef::Nested { parent, index },
        }
    }
}

/// A whole document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: DocumentKind,
    pub schema_version: String,
    pub description: Option<String>,
    pub assume_role: Option<String>,
    /// In declaration order.
    pub parameters: Vec<ParameterSpec>,
    pub main_steps: Vec<Step>,
    /// Document-level `outputs`, each `Step.Output`.
    pub outputs: Vec<String>,
    /// The root node of the source.
    pub node: Node,
}

impl Document {
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.main_steps.iter().position(|s| s.name == name)
    }

    /// The first step named `name`: a main step, or else a step inside an `aws:loop`.
    pub fn find_step(&self, name: &str) -> Option<StepRef> {
        self.step_index(name).map(StepRef::Main).or_else(|| {
            self.main_steps.iter().enumerate().find_map(|(parent, step)| {
                step.loop_steps.iter().position(|s| s.name == name).map(|index| StepRef::Nested { parent, index })
            })
        })
    }

    pub fn step(&self, at: StepRef) -> Option<&Step> {
        self.siblings(at).get(at.index())
    }

    /// The list that holds the step at `at`: `mainSteps`, or its loop's steps.
    pub fn siblings(&self, at: StepRef) -> &[Step] {
        match at {
            StepRef::Main(_) => &self.main_steps,
            StepRef::Nested { parent, .. } => self.main_steps.get(parent).map_or(&[], |p| p.loop_steps.as_slice()),
        }
    }

    /// Every step with where it sits: main steps in order, each loop's steps after it.
    pub fn all_steps(&self) -> impl Iterator<Item = (StepRef, &Step)> {
        self.main_steps.iter().enumerate().flat_map(|(parent, step)| {
            let nested = step.loop_steps.iter().enumerate().map(move |(index, s)| (StepRef::Nested { parent, index }, s));
            std::iter::once((StepRef::Main(parent), step)).chain(nested)
        })
    }

    pub fn parameter(&self, name: &str) -> Option<&ParameterSpec> {
        self.parameters.iter().find(|p| p.name == name)
    }
}
