//! Every `bindgen!` expansion of the plugin ABI, in one place. Old ABI versions
//! get a module of their own here when a new one is added. The inventory world
//! reuses the `types` and `host` interfaces of the action world, so one `host`
//! implementation (and one linker) serves both kinds of plugin.

wasmtime::component::bindgen!({
    world: "action-plugin",
    path: "../../wit/plugin",
    imports: { default: async },
    exports: { default: async },
});

pub use bosun::plugin::types::{
    Error as GuestError, ExecRequest, ExecResult, Field, InventoryItem as GuestInventoryItem, Level, Request as HttpRequest,
    Response as HttpResponse,
};

/// The `inventory-plugin` world: collectors.
pub mod inventory {
    wasmtime::component::bindgen!({
        world: "inventory-plugin",
        path: "../../wit/plugin",
        imports: { default: async },
        exports: { default: async },
        with: {
            "bosun:plugin/types": crate::bindings::bosun::plugin::types,
            "bosun:plugin/host": crate::bindings::bosun::plugin::host,
        },
    });
}
