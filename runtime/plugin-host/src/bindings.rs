//! Every `bindgen!` expansion of the plugin ABI, in one place. Old ABI versions
//! get a module of their own here when a new one is added.

wasmtime::component::bindgen!({
    world: "action-plugin",
    path: "../../wit/plugin",
    imports: { default: async },
    exports: { default: async },
});

pub use bosun::plugin::types::{
    Error as GuestError, ExecRequest, ExecResult, Field, Level, Request as HttpRequest, Response as HttpResponse,
};
