//! The wit-bindgen output for the plugin ABI in `wit/plugin`, and nothing
//! else: the only module of the SDK allowed `unsafe` (generated glue). The
//! host imports are generated once, in `imports`; each exported world reuses
//! them, so an action plugin and an inventory plugin share one `Host`.

#[allow(unsafe_code)]
pub mod imports {
    wit_bindgen::generate!({
        inline: "package bosun:sdk; world imports { import bosun:plugin/host@0.1.0; }",
        path: "../wit/plugin",
        world: "bosun:sdk/imports",
        generate_all,
        // The exported worlds take their types from here, `inventory-item` too.
        generate_unused_types: true,
    });
}

#[cfg(feature = "action")]
#[allow(unsafe_code)]
pub mod action {
    wit_bindgen::generate!({
        path: "../wit/plugin",
        world: "action-plugin",
        with: {
            "bosun:plugin/types@0.1.0": crate::bindings::imports::bosun::plugin::types,
            "bosun:plugin/host@0.1.0": crate::bindings::imports::bosun::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "__bosun_export_action_world",
    });
}

#[cfg(feature = "inventory")]
#[allow(unsafe_code)]
pub mod inventory {
    wit_bindgen::generate!({
        path: "../wit/plugin",
        world: "inventory-plugin",
        with: {
            "bosun:plugin/types@0.1.0": crate::bindings::imports::bosun::plugin::types,
            "bosun:plugin/host@0.1.0": crate::bindings::imports::bosun::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "__bosun_export_inventory_world",
    });
}
