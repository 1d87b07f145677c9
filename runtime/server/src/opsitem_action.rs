//! `bosun:createOpsItem`: an Automation step that opens an OpsItem in
//! OpsCenter, with CreateOpsItem's inputs (Title, Description, Source,
//! Severity, Category, OperationalData, RelatedResources). The step's
//! idempotency key is the OpsItem's deduplication string, so a step run again
//! after a crash counts an occurrence instead of opening a second OpsItem.

use bosun_engine::{ActionCall, ActionError};
use bosun_protocol::JsonMap;
use bosun_store::{NewOpsItem, Store};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub const CREATE_OPSITEM: &str = "bosun:createOpsItem";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Input {
    title: String,
    description: String,
    source: Option<String>,
    severity: Option<String>,
    category: Option<String>,
    #[serde(default)]
    operational_data: JsonMap,
    #[serde(default)]
    related_resources: Vec<String>,
}

/// The largest operational data an OpsItem takes from a step, in bytes of JSON.
const MAX_OPERATIONAL_DATA: usize = 64 << 10;

pub async fn create(store: &Store, call: &ActionCall) -> Result<Map<String, Value>, ActionError> {
    let input: Input = serde_json::from_value(call.inputs.clone()).map_err(|e| ActionError::InvalidInput(e.to_string()))?;
    if Value::Object(input.operational_data.clone()).to_string().len() > MAX_OPERATIONAL_DATA {
        return Err(ActionError::InvalidInput(format!("OperationalData is larger than {MAX_OPERATIONAL_DATA} bytes")));
    }
    let mut operational_data = input.operational_data;
    operational_data.insert("/bosun/execution".into(), json!(call.execution_id));
    let item = NewOpsItem {
        title: input.title,
        description: input.description,
        source: input.source.unwrap_or_else(|| "bosun.automation".into()),
        severity: input.severity.unwrap_or_else(|| "3".into()),
        category: input.category.unwrap_or_default(),
        related_resources: input.related_resources,
        operational_data,
        deduplication: Some(format!("automation:{}", call.idempotency_key)),
    };
    let (view, _) = store.open_opsitem(item, None).await.map_err(|e| match e {
        bosun_store::FleetError::Store(e) => ActionError::Failed(format!("cannot open the OpsItem: {e}")),
        other => ActionError::InvalidInput(other.to_string()),
    })?;
    Ok(Map::from_iter([("OpsItemId".to_string(), json!(view.id))]))
}
