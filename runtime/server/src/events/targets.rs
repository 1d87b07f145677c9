//! What a rule target does with an event: the input it gets (the event, a constant,
//! or an input transformer's output), then start an Automation, send a Run Command,
//! POST a signed webhook, or open an OpsItem. An OpsItem is opened in the same
//! transaction that marks the delivery done, and a Run Command's id is derived from
//! the delivery, so both happen once however often a delivery is tried.

use std::sync::Arc;

use bosun_document::params::ParamInput;
use bosun_engine::{Engine, StartRequest};
use bosun_protocol::JsonMap;
use bosun_protocol::command::SendCommand;
use bosun_protocol::events::{RuleTarget, TargetAction};
use bosun_store::{DueDelivery, NewAudit, NewOpsItem, Store};
use serde_json::Value;

use super::rules::transformer;
use crate::run_command::RunCommand;
use crate::run_command::automation::command_id_for;
use crate::run_command::notify::{describe, parse_url, signed_post};
use crate::run_command::send::SendError;
use crate::webhook_sign::Secret;

/// Why a delivery attempt failed; a permanent failure is not tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    pub message: String,
    pub permanent: bool,
}

impl TargetError {
    fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: true }
    }

    fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false }
    }
}

/// What targets need to act.
pub struct Services {
    pub store: Arc<Store>,
    pub engine: Arc<Engine>,
    pub run_command: Arc<RunCommand>,
    pub http: reqwest::Client,
}

/// The text a target receives for an event.
pub fn input_text(target: &RuleTarget, event: &Value) -> String {
    match (&target.input, &target.input_transformer) {
        (Some(constant), _) => constant.to_string(),
        (None, Some(spec)) => transformer(spec).apply(event),
        (None, None) => event.to_string(),
    }
}

/// The input as a JSON object (parameters, OpsItem fields).
fn input_object(text: &str) -> Result<JsonMap, TargetError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(TargetError::permanent("the target's input is not a JSON object")),
        Err(e) => Err(TargetError::permanent(format!("the target's input is not JSON: {e}"))),
    }
}

impl Services {
    /// One attempt at one delivery. Ok means done (and recorded as done when the target's effect is in the store).
    pub async fn deliver(&self, delivery: &DueDelivery) -> Result<Done, TargetError> {
        let target: RuleTarget =
            serde_json::from_str(&delivery.target).map_err(|e| TargetError::permanent(format!("the stored target does not parse: {e}")))?;
        let event = serde_json::to_value(&delivery.event).map_err(|e| TargetError::permanent(e.to_string()))?;
        let input = input_text(&target, &event);
        let by = format!("rule:{}", delivery.rule);
        match &target.action {
            TargetAction::Automation { document_name } => {
                let parameters = input_object(&input)?;
                let id = self.start_automation(document_name, parameters).await?;
                let audit = NewAudit {
                    principal: by,
                    action: format!("start-execution {document_name}"),
                    source_address: "-".into(),
                    outcome: format!("started {id}"),
                };
                if let Err(error) = self.store.record_audit(audit).await {
                    tracing::warn!(%error, "cannot record an execution start in the audit trail");
                }
                Ok(Done::ToRecord)
            }
            TargetAction::RunCommand { document_name, targets } => {
                let request = SendCommand {
                    document_name: Some(document_name.clone()),
                    document_version: None,
                    document: None,
                    targets: targets.clone(),
                    parameters: input_object(&input)?,
                    max_concurrency: None,
                    max_errors: None,
                    timeout_seconds: None,
                    delivery_timeout_seconds: None,
                    comment: format!("rule {}", delivery.rule),
                };
                let id = command_id_for(&format!("event-delivery/{}", delivery.id));
                let existing =
                    self.run_command.view(&id, crate::run_command::Detail::Summary).map_err(|e| TargetError::transient(e.to_string()))?;
                if existing.is_none() {
                    self.run_command.send_with_id(&request, &by, Some(id)).await.map_err(|e| match e {
                        SendError::Store(message) => TargetError::transient(message),
                        SendError::Invalid { field, message, .. } => TargetError::permanent(format!("{field}: {message}")),
                        SendError::NotFound(message) => TargetError::permanent(message),
                    })?;
                }
                Ok(Done::ToRecord)
            }
            TargetAction::Webhook { url, secret } => {
                let url = parse_url(url).map_err(TargetError::permanent)?;
                let secret = Secret::parse(secret).map_err(|e| TargetError::permanent(e.to_string()))?;
                let id = format!("evd_{}", delivery.id);
                let response = signed_post(&self.http, url, &secret, &id, input.into_bytes())
                    .send()
                    .await
                    .map_err(|e| TargetError::transient(describe(&e)))?;
                let status = response.status();
                if status.is_success() { Ok(Done::ToRecord) } else { Err(TargetError::transient(format!("the webhook answered {status}"))) }
            }
            TargetAction::OpsItem { title, severity, category, deduplication } => {
                let fields =
                    if target.input.is_some() || target.input_transformer.is_some() { input_object(&input)? } else { JsonMap::new() };
                let text = |key: &str, default: Option<&String>| {
                    fields.get(key).and_then(Value::as_str).map(str::to_string).or_else(|| default.cloned())
                };
                let mut operational_data = JsonMap::new();
                operational_data.insert("/bosun/event".into(), event.clone());
                operational_data.insert("/bosun/rule".into(), Value::String(delivery.rule.clone()));
                let item = NewOpsItem {
                    title: text("title", Some(title)).unwrap_or_default(),
                    description: text("description", None).unwrap_or_default(),
                    source: delivery.event.source.clone(),
                    severity: text("severity", severity.as_ref()).unwrap_or_else(|| "3".into()),
                    category: text("category", category.as_ref()).unwrap_or_default(),
                    related_resources: delivery.event.resources.clone(),
                    operational_data,
                    deduplication: text("deduplication", deduplication.as_ref()),
                };
                self.store.open_opsitem(item, Some(delivery.id)).await.map_err(|e| match e {
                    bosun_store::FleetError::Store(e) => TargetError::transient(e.to_string()),
                    other => TargetError::permanent(other.to_string()),
                })?;
                Ok(Done::Recorded)
            }
        }
    }

    /// Creates an execution of a stored document (the server's driver runs it).
    pub async fn start_automation(&self, document_name: &str, parameters: JsonMap) -> Result<String, TargetError> {
        let found = self.store.get_document(document_name, None).map_err(|e| TargetError::transient(e.to_string()))?;
        let Some((_, document)) = found else {
            return Err(TargetError::permanent(format!("no document named {document_name}")));
        };
        let parameters = parameters.into_iter().map(|(name, value)| (name, ParamInput::Json(value))).collect();
        self.engine.create(StartRequest { document, parameters, mocks: JsonMap::new() }).await.map_err(|e| {
            use bosun_engine::EngineError::*;
            match e {
                InvalidDocument(_) | InvalidParameters(_) | InvalidRequest(_) => TargetError::permanent(e.to_string()),
                other => TargetError::transient(other.to_string()),
            }
        })
    }
}

/// How a successful attempt ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The delivery was marked done with the target's effect.
    Recorded,
    /// The delivery is still to be marked done.
    ToRecord,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_protocol::events::InputTransformerSpec;
    use serde_json::json;

    fn target(input: Option<Value>, transformer: Option<InputTransformerSpec>) -> RuleTarget {
        RuleTarget { id: "t".into(), action: TargetAction::Automation { document_name: "D".into() }, input, input_transformer: transformer }
    }

    #[test]
    fn inputs() {
        let event = json!({"source": "s", "detail": {"node": "n1"}});
        assert_eq!(serde_json::from_str::<Value>(&input_text(&target(None, None), &event)).unwrap(), event);
        assert_eq!(input_text(&target(Some(json!({"a": 1})), None), &event), r#"{"a":1}"#);
        let spec = InputTransformerSpec {
            input_paths: [("n".to_string(), "$.detail.node".to_string())].into(),
            input_template: r#"{"Node": "<n>"}"#.into(),
        };
        assert_eq!(input_text(&target(None, Some(spec)), &event), r#"{"Node": "n1"}"#);
        assert!(input_object("[1]").unwrap_err().permanent);
        assert!(input_object("{").unwrap_err().message.contains("not JSON"));
    }
}
