//! The action catalog: which action names exist (the SSM `aws:*` actions,
//! Bosun's `bosun:*` actions, third-party `plugin:*`), and which of them this
//! installation can run.

/// Whether an action can run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Implemented by the engine or an installed plugin.
    Available,
    /// A real SSM action that nothing installed implements yet.
    NotAvailable,
    /// No such action anywhere.
    Unknown,
}

/// Tells the validator which actions can run. The engine implements it from
/// its control-flow actions and its action dispatcher.
pub trait ActionCatalog {
    fn availability(&self, action: &str) -> Availability;
}

/// Every action of the SSM Automation and Command schemas, by name.
pub const SSM_ACTIONS: &[&str] = &[
    // Automation
    "aws:approve",
    "aws:assertAwsResourceProperty",
    "aws:branch",
    "aws:changeInstanceState",
    "aws:copyImage",
    "aws:createImage",
    "aws:createStack",
    "aws:createTags",
    "aws:deleteImage",
    "aws:deleteStack",
    "aws:executeAutomation",
    "aws:executeAwsApi",
    "aws:executeScript",
    "aws:executeStateMachine",
    "aws:invokeLambdaFunction",
    "aws:invokeWebhook",
    "aws:loop",
    "aws:pause",
    "aws:runCommand",
    "aws:runInstances",
    "aws:sleep",
    "aws:updateVariable",
    "aws:waitForAwsResourceProperty",
    // Command
    "aws:applications",
    "aws:cloudWatch",
    "aws:configureDocker",
    "aws:configurePackage",
    "aws:domainJoin",
    "aws:downloadContent",
    "aws:psModule",
    "aws:refreshAssociation",
    "aws:runDockerAction",
    "aws:runDocument",
    "aws:runPatchBaseline",
    "aws:runPowerShellScript",
    "aws:runShellScript",
    "aws:softwareInventory",
    "aws:updateAgent",
    "aws:updateSsmAgent",
];

/// Bosun's own actions.
pub const BOSUN_ACTIONS: &[&str] =
    &["bosun:echo", "bosun:readFile", "bosun:findOrphanedVolumes", "bosun:createOpsItem", "bosun:waitForNode", "bosun:restartInstances"];

/// A catalog for structure-only checks: every well-formed action name counts as available.
#[derive(Debug, Clone, Copy, Default)]
pub struct StructureOnly;

impl ActionCatalog for StructureOnly {
    fn availability(&self, action: &str) -> Availability {
        if is_known_name(action) { Availability::Available } else { Availability::Unknown }
    }
}

/// True for an SSM action, one of Bosun's own actions, and any well-formed `plugin:<name>[@<version>]`.
pub fn is_known_name(action: &str) -> bool {
    SSM_ACTIONS.contains(&action) || BOSUN_ACTIONS.contains(&action) || is_plugin_name(action)
}

/// `plugin:<name>[@<version>]` where name is `[a-z0-9][a-z0-9._/-]*`.
pub fn is_plugin_name(action: &str) -> bool {
    let Some(rest) = action.strip_prefix("plugin:") else { return false };
    let name = rest.split_once('@').map_or(rest, |(n, v)| if v.is_empty() { "" } else { n });
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._/-".contains(c))
}
