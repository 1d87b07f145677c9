//! The Bosun plugin manifest and capability grants: what a plugin declares it
//! is and asks for, what an operator grants, and the custom section of the
//! component that carries the manifest. Pure: no I/O, no WebAssembly runtime,
//! so build scripts and the agent can use it cheaply.

mod grant;
mod manifest;
mod section;

pub use grant::{ArgPattern, Grant, GrantError, HostPattern, ParamScope, args_allowed, default_port};
pub use manifest::{
    ABI_MAJOR, ABI_VERSION, ActionSpec, Limits, Manifest, ManifestError, PluginKind, SUPPORTED_ABI, abi_major, check_plugin_name,
};
pub use section::{MANIFEST_SECTION, SectionError, embed, extract};
