//! Inventory over HTTP: `POST /v1/agent/inventory` (node credential) stores a
//! node's upload; `/v1/inventory/*` (token) lists the types with their schemas,
//! queries entries across the fleet with filters, shows one node's inventory,
//! summarises the fleet, and exports a type as JSON Lines, streamed page by page.
//! Filters repeat: `?type=AWS:Application&filter=Name%3Dopenssl&filter=Version%3C3.0`.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::{Extension, Json};
use bosun_protocol::inventory::{
    InventoryQueryResult, InventorySummary, InventoryTypeSchema, NodeInventoryItem, PutInventory, PutInventoryResult,
};
use bosun_store::inventory::{EXPORT_PAGE, MAX_QUERY_ROWS};

use super::AppState;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use super::node_auth::NodeCaller;

/// The largest upload body: a node's whole inventory.
pub const UPLOAD_BODY_LIMIT: usize = 32 << 20;
/// The default number of rows a query returns, and of applications and OS versions a summary lists.
const DEFAULT_QUERY_ROWS: usize = 1000;
const DEFAULT_TOP: usize = 10;

/// The query parameters of the inventory reads (documented here; read from the raw query,
/// since `filter` repeats).
#[derive(Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct InventoryParams {
    /// The inventory type, e.g. `AWS:Application` or `Custom:RackInfo`.
    r#type: Option<String>,
    /// `Key OP Value` with OP one of `=`, `!=`, `<`, `<=`, `>`, `>=`, `^=` (begins with); repeat for more (all must hold).
    filter: Vec<String>,
    /// The most rows returned (query: default 1000, at most 10000); the most values listed (summary: default 10).
    limit: Option<usize>,
}

/// The parsed query string.
struct Params {
    type_name: Option<String>,
    filters: Vec<String>,
    limit: Option<usize>,
}

fn params(raw: Option<String>) -> Result<Params, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::invalid("query", format!("not a query string: {e}")))?;
    let mut parsed = Params { type_name: None, filters: Vec::new(), limit: None };
    for (key, value) in pairs {
        match key.as_str() {
            "type" => parsed.type_name = Some(value),
            "filter" => parsed.filters.push(value),
            "limit" => {
                parsed.limit = Some(value.parse().map_err(|_| ApiError::invalid("limit", format!("\"{value}\" is not a count")))?);
            }
            other => return Err(ApiError::invalid(other, "unknown query parameter; use type, filter and limit")),
        }
    }
    Ok(parsed)
}

fn required_type(params: &Params) -> Result<String, ApiError> {
    params.type_name.clone().ok_or_else(|| ApiError::invalid("type", "give the inventory type, e.g. type=AWS:Application"))
}

/// Stores the calling node's inventory: each item replaces what the node had of its
/// type, unless its content is the same as stored (then nothing is written). An item
/// without a capture time is stamped with the time the server received it.
#[utoipa::path(post, path = "/v1/agent/inventory", tag = "agent", security(("node" = [])), request_body = PutInventory, responses(
    (status = 200, description = "What changed and what was the same", body = PutInventoryResult),
    (status = 422, description = "A field is not valid (named in `field`); nothing was stored", body = ErrorBody),
    (status = 401, description = "No valid node credential", body = ErrorBody),
))]
pub async fn upload(
    State(state): State<AppState>,
    Extension(NodeCaller(node)): Extension<NodeCaller>,
    ApiJson(mut body): ApiJson<PutInventory>,
) -> Result<Json<PutInventoryResult>, ApiError> {
    let received = bosun_store::timestamp(chrono::Utc::now());
    for item in body.items.iter_mut().filter(|i| i.capture_time.is_empty()) {
        item.capture_time = received.clone();
    }
    let result = state.store.put_inventory_async(&node, body.items).await?;
    tracing::debug!(node = %node, stored = ?result.stored, unchanged = result.unchanged.len(), "inventory uploaded");
    Ok(Json(result))
}

/// The inventory types: the AWS types Bosun knows and the custom types recorded, with their attributes.
#[utoipa::path(get, path = "/v1/inventory/types", tag = "inventory", responses(
    (status = 200, description = "Every type's schema", body = Vec<InventoryTypeSchema>),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn types(State(state): State<AppState>) -> Result<Json<Vec<InventoryTypeSchema>>, ApiError> {
    Ok(Json(tokio::task::block_in_place(|| state.store.inventory_types())?))
}

/// Entries of one type across the fleet that pass every filter.
#[utoipa::path(get, path = "/v1/inventory", tag = "inventory", params(InventoryParams), responses(
    (status = 200, description = "The matching entries with their nodes", body = InventoryQueryResult),
    (status = 422, description = "The type or a filter is not valid (named in `field`: type, filter[N], limit)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn query(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<InventoryQueryResult>, ApiError> {
    let params = params(raw)?;
    let type_name = required_type(&params)?;
    let limit = params.limit.unwrap_or(DEFAULT_QUERY_ROWS);
    if !(1..=MAX_QUERY_ROWS).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("between 1 and {MAX_QUERY_ROWS}")));
    }
    Ok(Json(tokio::task::block_in_place(|| state.store.query_inventory(&type_name, &params.filters, limit))?))
}

/// The fleet's inventory at a glance: nodes, types, top OS versions and applications.
#[utoipa::path(get, path = "/v1/inventory/summary", tag = "inventory", params(InventoryParams), responses(
    (status = 200, description = "The summary", body = InventorySummary),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn summary(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<InventorySummary>, ApiError> {
    let top = params(raw)?.limit.unwrap_or(DEFAULT_TOP);
    if !(1..=1000).contains(&top) {
        return Err(ApiError::invalid("limit", "between 1 and 1000"));
    }
    Ok(Json(tokio::task::block_in_place(|| state.store.inventory_summary(top))?))
}

/// One node's inventory, every type or one.
#[utoipa::path(get, path = "/v1/inventory/nodes/{node}", tag = "inventory",
    params(("node" = String, Path, description = "Node id"), InventoryParams), responses(
    (status = 200, description = "The node's items with their entries", body = Vec<NodeInventoryItem>),
    (status = 404, description = "No such node", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn node(
    State(state): State<AppState>,
    Path(node): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<NodeInventoryItem>>, ApiError> {
    let params = params(raw)?;
    Ok(Json(tokio::task::block_in_place(|| state.store.node_inventory(&node, params.type_name.as_deref()))?))
}

/// Every entry of one type (passing the filters) as JSON Lines, one
/// `{"nodeId", "typeName", "captureTime", "entry"}` object a line, streamed.
#[utoipa::path(get, path = "/v1/inventory/export", tag = "inventory", params(InventoryParams), responses(
    (status = 200, description = "JSON Lines (application/x-ndjson)", content_type = "application/x-ndjson", body = String),
    (status = 422, description = "The type or a filter is not valid (named in `field`)", body = ErrorBody),
    (status = 401, description = "No valid token", body = ErrorBody),
))]
pub async fn export(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let params = params(raw)?;
    let type_name = required_type(&params)?;
    // The first page is read here, so that a bad type or filter is a 422 and not a broken stream.
    let (first, next) = tokio::task::block_in_place(|| state.store.inventory_page(&type_name, &params.filters, None, EXPORT_PAGE))?;
    let store = state.store.clone();
    super::json_lines::stream("inventory", first, next, move |cursor| {
        store.inventory_page(&type_name, &params.filters, Some(cursor), EXPORT_PAGE)
    })
}
