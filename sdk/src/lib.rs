//! `bosun-plugin-sdk`: write Bosun plugins as plain Rust functions.
//!
//! A plugin action is a function from a serde input type to a serde output
//! type, given a [`Host`] for logging, step outputs, parameters, HTTP and exec:
//!
//! ```
//! use bosun_plugin_sdk::{Host, PluginError};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "PascalCase")]
//! pub struct Input { pub name: String }
//!
//! #[derive(Serialize)]
//! #[serde(rename_all = "PascalCase")]
//! pub struct Output { pub greeting: String }
//!
//! pub fn run(input: Input, host: &Host) -> Result<Output, PluginError> {
//!     host.info("greeting");
//!     Ok(Output { greeting: format!("hello {}", input.name) })
//! }
//!
//! bosun_plugin_sdk::export_action!("plugin:greet" => run);
//! // or, one function per action name:
//! // bosun_plugin_sdk::export_action!("plugin:greet" => run, "plugin:wave" => wave);
//! ```
//!
//! The macro exports the ABI's `action` interface on wasm32 (build with
//! `cargo build --target wasm32-wasip2`, or `bosun plugin build`), and on every
//! target defines `pub fn bosun_dispatch(action, inputs_json, &Host)`, which
//! runs an action exactly as the host would, and `pub const BOSUN_ACTIONS`. Inputs that do not deserialise
//! become [`PluginError::InvalidInput`] with serde's message.
//!
//! On native targets `Host` calls go to [`testing::TestHost`], so plugins are
//! unit-tested with plain `cargo test`. The crate type of a plugin is
//! `["cdylib", "rlib"]`.
//!
//! Features: `action` (default) exports the `action-plugin` world with
//! [`export_action!`]; `inventory` exports the `inventory-plugin` world with
//! [`export_inventory!`]. A component exports one world, so enable one.

mod dispatch;
mod error;
pub mod fs;
mod host;
mod inventory;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod guest;
#[cfg(not(target_arch = "wasm32"))]
pub mod sandbox;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use error::PluginError;
pub use host::{ExecOutput, ExecRequest, Host, HttpRequest, HttpResponse, Level};
pub use inventory::{InventoryItem, capture_time_now, rfc3339_utc};

/// What the macros expand to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    #[cfg(all(target_arch = "wasm32", feature = "action"))]
    pub use crate::bindings::action as action_bindings;
    #[cfg(all(target_arch = "wasm32", feature = "action"))]
    pub use crate::bindings::action::exports::bosun::plugin::action::Guest as ActionGuest;
    #[cfg(all(target_arch = "wasm32", feature = "inventory"))]
    pub use crate::bindings::inventory as inventory_bindings;
    #[cfg(all(target_arch = "wasm32", feature = "inventory"))]
    pub use crate::bindings::inventory::exports::bosun::plugin::collector::Guest as CollectorGuest;
    pub use crate::dispatch::{call, collect, unknown_action};
    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::{WitError, WitInventoryItem, action_names, run_action, run_collect};
}

/// Exports action functions: `export_action!("plugin:a" => a, "plugin:b" => b)`
/// maps each action name to its function; an unknown name is `InvalidInput`.
/// The names are also what the component's `actions()` export reports, which
/// the host checks against the manifest.
///
/// Each function is `fn(Input, &Host) -> Result<Output, PluginError>` with
/// `Input: Deserialize` and `Output: Serialize`. Use it once, at the crate root.
#[macro_export]
macro_rules! export_action {
    ($($action:literal => $handler:path),+ $(,)?) => {
        /// Runs `action` with JSON `inputs`, as the host does: the generated
        /// entry point of this plugin, callable from native tests.
        pub fn bosun_dispatch(
            action: &str,
            inputs: &str,
            host: &$crate::Host,
        ) -> ::core::result::Result<::std::string::String, $crate::PluginError> {
            match action {
                $($action => $crate::__private::call($handler, inputs, host),)+
                other => ::core::result::Result::Err($crate::__private::unknown_action(other, &[$($action),+])),
            }
        }
        /// The action names this plugin implements, in the order given.
        pub const BOSUN_ACTIONS: &[&str] = &[$($action),+];
        $crate::__export_action_world!();
    };
}

/// Exports a collector: `export_inventory!(collect)` with
/// `fn collect(Input, &Host) -> Result<Vec<InventoryItem>, PluginError>`.
/// Needs the `inventory` feature (and, for a component, not `action`).
#[macro_export]
macro_rules! export_inventory {
    ($handler:path) => {
        /// Runs the collector with JSON `inputs`, as the host does.
        pub fn bosun_collect(
            inputs: &str,
            host: &$crate::Host,
        ) -> ::core::result::Result<::std::vec::Vec<$crate::InventoryItem>, $crate::PluginError> {
            $crate::__private::collect($handler, inputs, host)
        }
        $crate::__export_inventory_world!();
    };
}

#[doc(hidden)]
#[cfg(all(target_arch = "wasm32", feature = "action"))]
#[macro_export]
macro_rules! __export_action_world {
    () => {
        const _: () = {
            struct BosunActionPlugin;
            impl $crate::__private::ActionGuest for BosunActionPlugin {
                fn actions() -> ::std::vec::Vec<::std::string::String> {
                    $crate::__private::action_names(BOSUN_ACTIONS)
                }
                fn run(
                    action: ::std::string::String,
                    inputs: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, $crate::__private::WitError> {
                    $crate::__private::run_action(&action, &inputs, bosun_dispatch)
                }
            }
            $crate::__private::action_bindings::__bosun_export_action_world!(
                BosunActionPlugin with_types_in $crate::__private::action_bindings
            );
        };
    };
}

#[doc(hidden)]
#[cfg(all(target_arch = "wasm32", not(feature = "action")))]
#[macro_export]
macro_rules! __export_action_world {
    () => {
        ::core::compile_error!("export_action! needs the `action` feature of bosun-plugin-sdk");
    };
}

#[doc(hidden)]
#[cfg(not(target_arch = "wasm32"))]
#[macro_export]
macro_rules! __export_action_world {
    () => {};
}

#[doc(hidden)]
#[cfg(all(target_arch = "wasm32", feature = "inventory"))]
#[macro_export]
macro_rules! __export_inventory_world {
    () => {
        const _: () = {
            struct BosunCollector;
            impl $crate::__private::CollectorGuest for BosunCollector {
                fn collect(
                    inputs: ::std::string::String,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::__private::WitInventoryItem>, $crate::__private::WitError> {
                    $crate::__private::run_collect(&inputs, bosun_collect)
                }
            }
            $crate::__private::inventory_bindings::__bosun_export_inventory_world!(
                BosunCollector with_types_in $crate::__private::inventory_bindings
            );
        };
    };
}

#[doc(hidden)]
#[cfg(all(target_arch = "wasm32", not(feature = "inventory")))]
#[macro_export]
macro_rules! __export_inventory_world {
    () => {
        ::core::compile_error!("export_inventory! needs the `inventory` feature of bosun-plugin-sdk");
    };
}

#[doc(hidden)]
#[cfg(not(target_arch = "wasm32"))]
#[macro_export]
macro_rules! __export_inventory_world {
    () => {};
}
