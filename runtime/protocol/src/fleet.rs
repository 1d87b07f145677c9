//! The fleet API: activations (`/v1/activations`), nodes (`/v1/nodes`) and
//! resource groups by tag query (`/v1/groups`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::agent::Platform;
use crate::status::PingStatus;

/// The default lifetime of an activation code.
pub const DEFAULT_ACTIVATION_SECONDS: u64 = 24 * 3600;
/// The longest lifetime of an activation code, as in SSM (30 days).
pub const MAX_ACTIVATION_SECONDS: u64 = 30 * 24 * 3600;
/// The most registrations one activation allows, as in SSM.
pub const MAX_REGISTRATIONS: u32 = 1000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateActivation {
    #[serde(default)]
    pub description: String,
    /// Tags every node registered with this activation gets.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// How many nodes may register with the code (default 1).
    pub registration_limit: Option<u32>,
    /// How long the code is valid (default a day, at most 30 days).
    pub expires_in_seconds: Option<u64>,
}

/// A new activation: the code is shown once and only its hash is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ActivationCreated {
    pub activation_id: String,
    pub activation_code: String,
    pub expires_at: String,
    pub registration_limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ActivationView {
    pub activation_id: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub registration_limit: u32,
    pub registrations_count: u32,
    pub created_at: String,
    pub expires_at: String,
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    pub node_id: String,
    pub ping_status: PingStatus,
    pub tags: BTreeMap<String, String>,
    pub platform: Platform,
    pub activation_id: String,
    pub registered_at: String,
    /// The last call the node made (a heartbeat or a poll).
    pub last_seen: Option<String>,
    pub deregistered_at: Option<String>,
}

/// Adds (or overwrites) and removes tags of a node, in one change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeTags {
    #[serde(default)]
    pub add: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// A group's tag query: a node is a member when, for every key, its tag has one of the values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Tag key to the values it may have (ORed); keys are ANDed.
    pub tags: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    pub name: String,
    pub description: String,
    pub tags: BTreeMap<String, Vec<String>>,
    pub created_at: String,
    /// The ids of the registered nodes the query matches now.
    pub nodes: Vec<String>,
}
