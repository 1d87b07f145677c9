//! Bosun's built-in plugins as bytes: components for wasm32-wasip2, each with
//! its manifest embedded, compiled from `plugins/` by this crate's build
//! script. With the `test-plugins` feature, also the hostile test plugin.

/// One built-in plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinPlugin {
    /// The manifest's name, e.g. `read-file`.
    pub name: &'static str,
    /// The component, manifest embedded.
    pub bytes: &'static [u8],
}

/// A built-in plugin compiled by the build script, by its manifest name.
macro_rules! builtin {
    ($name:literal) => {
        BuiltinPlugin { name: $name, bytes: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".wasm")) }
    };
}

static BUILTIN: &[BuiltinPlugin] = &[
    builtin!("read-file"),
    builtin!("inventory-packages"),
    builtin!("inventory-os"),
    builtin!("inventory-services"),
    builtin!("inventory-network"),
    builtin!("inventory-files"),
    builtin!("inventory-custom"),
    builtin!("configure-package"),
    builtin!("aws-api"),
    builtin!("patch-baseline"),
];

/// Every built-in plugin.
pub fn builtin() -> &'static [BuiltinPlugin] {
    BUILTIN
}

/// The built-in plugin of this name.
pub fn get(name: &str) -> Option<&'static BuiltinPlugin> {
    BUILTIN.iter().find(|p| p.name == name)
}

/// The hostile test plugin (`tests/plugins/hostile`): action `plugin:hostile`.
#[cfg(feature = "test-plugins")]
pub const HOSTILE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hostile.wasm"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_builtin_carries_its_manifest() {
        assert!(!builtin().is_empty());
        for plugin in builtin() {
            let manifest = bosun_plugin_manifest::extract(plugin.bytes).unwrap_or_else(|e| panic!("{}: {e}", plugin.name));
            assert_eq!(manifest.name, plugin.name);
            assert_eq!(get(plugin.name), Some(plugin));
        }
        let read_file = bosun_plugin_manifest::extract(get("read-file").unwrap().bytes).unwrap();
        assert!(read_file.action("bosun:readFile").is_some());
    }

    #[cfg(feature = "test-plugins")]
    #[test]
    fn the_hostile_plugin_is_there() {
        let manifest = bosun_plugin_manifest::extract(HOSTILE).unwrap();
        assert!(manifest.action("plugin:hostile").is_some());
    }
}
