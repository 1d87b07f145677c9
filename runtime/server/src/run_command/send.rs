//! Turns a send request into a command to record: the document (stored, by an SSM
//! name that resolves to its Bosun equivalent, or sent inline), checked as a Command
//! document the agent can run; its parameters; the documents its aws:runDocument
//! steps name; the target nodes; rate control and timeouts.

use bosun_document::actions::{ActionCatalog, Availability, is_known_name};
use bosun_document::params::{ParamInput, resolve_parameters};
use bosun_document::{Document, DocumentKind};
use std::collections::HashMap;

use bosun_protocol::agent::{AGENT_ACTIONS, DocumentText, PluginRef};
use bosun_protocol::command::{DEFAULT_DELIVERY_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS, SendCommand};
use bosun_protocol::{Limit, Target};
use bosun_store::{NewCommand, Store};
use serde_json::{Map, Value};

/// SSM document names and the built-in documents that implement them.
pub const SSM_EQUIVALENTS: &[(&str, &str)] = &[
    ("AWS-RunShellScript", "Bosun-RunShellScript"),
    ("AWS-GatherSoftwareInventory", "Bosun-GatherSoftwareInventory"),
    ("AWS-ConfigureAWSPackage", "Bosun-ConfigurePackage"),
    ("AWS-RunPatchBaseline", "Bosun-RunPatchBaseline"),
];

/// The longest execution timeout, as SSM allows (48 hours).
pub const MAX_TIMEOUT_SECONDS: u64 = 172_800;
/// The delivery timeout's bounds, as SSM's (30 seconds to 30 days).
pub const DELIVERY_TIMEOUT_BOUNDS: (u64, u64) = (30, 2_592_000);
/// How deep aws:runDocument may nest stored documents.
const MAX_INCLUDE_DEPTH: usize = 3;

/// Why a send was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// A field's value is not acceptable (422).
    Invalid {
        field: String,
        message: String,
        details: Vec<String>,
    },
    /// A named document does not exist (404).
    NotFound(String),
    Store(String),
}

fn invalid(field: &str, message: impl Into<String>) -> SendError {
    SendError::Invalid { field: field.into(), message: message.into(), details: Vec::new() }
}

/// What the agent can run: the catalog Command documents are checked against.
pub struct AgentCatalog;

impl ActionCatalog for AgentCatalog {
    fn availability(&self, action: &str) -> Availability {
        if AGENT_ACTIONS.contains(&action) {
            Availability::Available
        } else if is_known_name(action) {
            Availability::NotAvailable
        } else {
            Availability::Unknown
        }
    }
}

/// What a node can run: the agent's own actions and the installed plugins'
/// actions, which the agent runs in its plugin host (resolved as the plugin
/// dispatcher resolves them).
pub struct NodeCatalog {
    routes: HashMap<String, crate::plugins::Route>,
    /// The inventory collectors an `aws:softwareInventory` step runs.
    collectors: Vec<PluginRef>,
}

impl NodeCatalog {
    pub fn of(store: &Store) -> Result<NodeCatalog, SendError> {
        Ok(NodeCatalog {
            routes: crate::plugins::routes_of(store).map_err(SendError::Store)?,
            collectors: crate::plugins::collectors_of(store).map_err(SendError::Store)?,
        })
    }

    /// The plugin version that runs `action`, if a plugin does.
    pub fn plugin(&self, action: &str) -> Option<PluginRef> {
        if AGENT_ACTIONS.contains(&action) {
            return None;
        }
        self.routes.get(action).map(|route| PluginRef {
            action: action.to_string(),
            plugin_action: route.action.clone(),
            name: route.plugin.name.clone(),
            version: route.plugin.version.clone(),
            sha256: route.plugin.sha256.clone(),
        })
    }

    /// The plugins of a document's steps, added to `found` once per action name.
    fn collect(&self, doc: &Document, found: &mut Vec<PluginRef>) {
        for step in &doc.main_steps {
            if step.action == crate::plugins::COLLECT_ACTION && !found.iter().any(|p| p.action == step.action) {
                found.extend(self.collectors.iter().cloned());
            }
            if !found.iter().any(|p| p.action == step.action)
                && let Some(plugin) = self.plugin(&step.action)
            {
                found.push(plugin);
            }
        }
    }
}

impl ActionCatalog for NodeCatalog {
    fn availability(&self, action: &str) -> Availability {
        match AgentCatalog.availability(action) {
            Availability::Available => Availability::Available,
            _ if self.routes.contains_key(action) => Availability::Available,
            other => other,
        }
    }
}

/// The stored JSON of a command's document.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SentDocument {
    pub document: DocumentText,
    pub included: Vec<DocumentText>,
    /// The plugin versions that run the plugin steps.
    #[serde(default)]
    pub plugins: Vec<PluginRef>,
}

/// Loads a document and checks it is a Command document a node can run.
fn check_command_document(catalog: &NodeCatalog, field: &str, text: &DocumentText) -> Result<Document, SendError> {
    let loaded = bosun_document::load(&text.file_name, &text.content, catalog);
    let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.render(&text.file_name)).collect();
    match loaded.document {
        Some(doc) if errors.is_empty() => {
            if doc.kind != DocumentKind::Command {
                return Err(invalid(
                    field,
                    format!(
                        "{} is an {} document; Run Command sends Command documents (start Automation with `bosun automation start`)",
                        text.name,
                        doc.kind.as_str()
                    ),
                ));
            }
            Ok(doc)
        }
        _ => Err(SendError::Invalid {
            field: field.into(),
            message: format!("{} is not a valid Command document", text.name),
            details: errors,
        }),
    }
}

/// A stored document by name and version, with SSM names resolving to their Bosun equivalents.
fn stored_document(store: &Store, name: &str, version: Option<&str>) -> Result<(DocumentText, Option<u32>), SendError> {
    let found = store.get_document(name, version).map_err(|e| SendError::Store(e.to_string()))?;
    let found = match found {
        Some(found) => Some(found),
        None => match SSM_EQUIVALENTS.iter().find(|(ssm, _)| *ssm == name) {
            Some((_, bosun)) => store.get_document(bosun, version).map_err(|e| SendError::Store(e.to_string()))?,
            None => None,
        },
    };
    let (info, snapshot) = found.ok_or_else(|| {
        SendError::NotFound(match version {
            Some(v) => format!("no document named {name} with version {v}"),
            None => format!("no document named {name}"),
        })
    })?;
    Ok((DocumentText { name: info.name, file_name: snapshot.file_name, content: snapshot.text }, Some(info.version)))
}

/// The stored documents that aws:runDocument steps name, depth first, each once.
fn includes(
    store: &Store,
    catalog: &NodeCatalog,
    doc: &Document,
    depth: usize,
    found: &mut Vec<DocumentText>,
    plugins: &mut Vec<PluginRef>,
) -> Result<(), SendError> {
    for step in doc.main_steps.iter().filter(|s| s.action == "aws:runDocument") {
        let kind = step.inputs.get("documentType").and_then(Value::as_str).unwrap_or("SSMDocument");
        let Some(path) = step.inputs.get("documentPath").and_then(Value::as_str) else { continue };
        if kind != "SSMDocument" || path.contains("{{") || found.iter().any(|d| d.name == path) {
            continue;
        }
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(invalid("document", format!("aws:runDocument nests documents deeper than {MAX_INCLUDE_DEPTH} levels at {path}")));
        }
        let (text, _) = stored_document(store, path, None).map_err(|e| match e {
            SendError::NotFound(m) => {
                invalid("document", format!("step {}: aws:runDocument names a document that is not stored: {m}", step.name))
            }
            other => other,
        })?;
        let nested = check_command_document(catalog, "document", &text)?;
        catalog.collect(&nested, plugins);
        found.push(text);
        includes(store, catalog, &nested, depth + 1, found, plugins)?;
    }
    Ok(())
}

/// Parameter values from the API: strings, lists, numbers and booleans as JSON.
fn parameters(doc: &Document, given: &Map<String, Value>) -> Result<Map<String, Value>, SendError> {
    let given: Vec<(String, ParamInput)> = given.iter().map(|(k, v)| (k.clone(), ParamInput::Json(v.clone()))).collect();
    resolve_parameters(&doc.parameters, &given).map_err(|errors| {
        let field = errors.first().map(|e| format!("parameters.{}", e.parameter)).unwrap_or_else(|| "parameters".into());
        let details: Vec<String> = errors.iter().map(ToString::to_string).collect();
        SendError::Invalid { field, message: details.join("; "), details }
    })
}

/// A request's document, checked, with what it includes and its checked parameters.
struct CheckedDocument {
    text: DocumentText,
    version: Option<u32>,
    sent: SentDocument,
    parameters: Map<String, Value>,
}

/// Checks a request's document and parameters, as a send would (for State Manager,
/// which checks them when an association is created, before any node matches).
pub fn check_document_and_parameters(store: &Store, request: &SendCommand) -> Result<(), SendError> {
    checked_document(store, request).map(|_| ())
}

fn checked_document(store: &Store, request: &SendCommand) -> Result<CheckedDocument, SendError> {
    let (text, version) = match (&request.document_name, &request.document) {
        (Some(name), None) => stored_document(store, name, request.document_version.as_deref())?,
        (None, Some(text)) => {
            if request.document_version.is_some() {
                return Err(invalid("documentVersion", "a version applies to a stored document, not to one sent with the command"));
            }
            (text.clone(), None)
        }
        _ => return Err(invalid("documentName", "give either documentName (a stored document) or document (one sent with the command)")),
    };
    let catalog = NodeCatalog::of(store)?;
    let doc = check_command_document(&catalog, "document", &text)?;
    let mut included = Vec::new();
    let mut plugins = Vec::new();
    catalog.collect(&doc, &mut plugins);
    includes(store, &catalog, &doc, 0, &mut included, &mut plugins)?;
    let parameters = parameters(&doc, &request.parameters)?;
    let sent = SentDocument { document: text.clone(), included, plugins };
    Ok(CheckedDocument { text, version, sent, parameters })
}

/// Checks a send request and builds the command to record.
pub fn prepare(store: &Store, request: &SendCommand, requested_by: &str, now: &str) -> Result<NewCommand, SendError> {
    if request.targets.is_empty() {
        return Err(invalid("targets", "give at least one target (ids, a tag or a group)"));
    }
    for (i, target) in request.targets.iter().enumerate() {
        target.check().map_err(|e| invalid(&format!("targets[{i}]"), e.0))?;
    }
    let CheckedDocument { text, version, sent, parameters } = checked_document(store, request)?;

    let resolved = store.resolve_targets(&request.targets).map_err(|e| SendError::Store(e.to_string()))?;
    if let Some(group) = resolved.missing_groups.first() {
        return Err(invalid("targets", format!("no resource group named {group} (see `bosun group list`)")));
    }
    let mut undeliverable = resolved.unknown;
    undeliverable.extend(resolved.deregistered);
    if resolved.nodes.is_empty() && undeliverable.is_empty() {
        let described: Vec<String> = request.targets.iter().map(Target::to_string).collect();
        return Err(invalid("targets", format!("no registered node matches {}", described.join(" and "))));
    }
    let timeout_seconds = request.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if !(1..=MAX_TIMEOUT_SECONDS).contains(&timeout_seconds) {
        return Err(invalid("timeoutSeconds", format!("the execution timeout is 1 to {MAX_TIMEOUT_SECONDS} seconds")));
    }
    let delivery = request.delivery_timeout_seconds.unwrap_or(DEFAULT_DELIVERY_TIMEOUT_SECONDS);
    let (low, high) = DELIVERY_TIMEOUT_BOUNDS;
    if !(low..=high).contains(&delivery) {
        return Err(invalid("deliveryTimeoutSeconds", format!("the delivery timeout is {low} to {high} seconds")));
    }
    Ok(NewCommand {
        id: uuid::Uuid::new_v4().to_string(),
        document_name: text.name,
        document_version: version,
        document: to_json(&sent),
        parameters: to_json(&parameters),
        targets: to_json(&request.targets),
        max_concurrency: request.max_concurrency.unwrap_or(Limit::DEFAULT_CONCURRENCY).to_string(),
        max_errors: request.max_errors.unwrap_or(Limit::DEFAULT_ERRORS).to_string(),
        timeout_seconds,
        delivery_timeout_seconds: delivery,
        comment: request.comment.clone(),
        requested_by: requested_by.to_string(),
        requested_at: now.to_string(),
        nodes: resolved.nodes,
        undeliverable,
    })
}

/// JSON text of a value built here (those always serialize).
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
