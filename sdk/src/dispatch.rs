//! What the export macros expand to call: JSON in, typed function, JSON out.
//! Not part of the public API; reached through `__private`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Host, InventoryItem, PluginError};

/// Parses `inputs` into the handler's input type (a bad input is
/// `InvalidInput` with serde's message), runs it, and serialises its output.
pub fn call<I, O, F>(handler: F, inputs: &str, host: &Host) -> Result<String, PluginError>
where
    I: DeserializeOwned,
    O: Serialize,
    F: FnOnce(I, &Host) -> Result<O, PluginError>,
{
    let input: I = parse_inputs(inputs)?;
    let output = handler(input, host)?;
    serde_json::to_string(&output).map_err(|e| PluginError::Failed(format!("the outputs could not be serialised: {e}")))
}

/// As [`call`], for a collector.
pub fn collect<I, F>(handler: F, inputs: &str, host: &Host) -> Result<Vec<InventoryItem>, PluginError>
where
    I: DeserializeOwned,
    F: FnOnce(I, &Host) -> Result<Vec<InventoryItem>, PluginError>,
{
    handler(parse_inputs(inputs)?, host)
}

fn parse_inputs<I: DeserializeOwned>(inputs: &str) -> Result<I, PluginError> {
    // The host sends an object; an empty string is taken as no inputs.
    let inputs = if inputs.trim().is_empty() { "{}" } else { inputs };
    serde_json::from_str(inputs).map_err(|e| PluginError::InvalidInput(e.to_string()))
}

/// The error for an action name the plugin does not implement.
pub fn unknown_action(action: &str, known: &[&str]) -> PluginError {
    PluginError::InvalidInput(format!("this plugin does not implement the action \"{action}\"; it implements {}", known.join(", ")))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use serde::{Deserialize, Serialize};

    use crate::testing::TestHost;
    use crate::{Host, PluginError};

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    struct Input {
        name: String,
        #[serde(default)]
        times: u32,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Output {
        greeting: String,
    }

    fn greet(input: Input, host: &Host) -> Result<Output, PluginError> {
        host.info("greeting");
        if input.name.is_empty() {
            return Err(PluginError::failed("nobody to greet"));
        }
        Ok(Output { greeting: format!("hello {}", input.name).repeat(input.times.max(1) as usize) })
    }

    #[test]
    fn json_in_json_out() {
        let test = TestHost::new();
        let out = super::call(greet, r#"{"Name":"ops"}"#, &test.host()).unwrap();
        assert_eq!(out, r#"{"Greeting":"hello ops"}"#);
        assert_eq!(test.logs().len(), 1);
    }

    #[test]
    fn bad_inputs_are_invalid_input_with_serdes_message() {
        let host = TestHost::new().host();
        let e = super::call(greet, r#"{"Times":2}"#, &host).unwrap_err();
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("missing field `Name`")), "{e}");
        let e = super::call(greet, r#"{"Name":"a","Extra":1}"#, &host).unwrap_err();
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("unknown field `Extra`")), "{e}");
        let e = super::call(greet, "not json", &host).unwrap_err();
        assert!(matches!(e, PluginError::InvalidInput(_)));
    }

    #[test]
    fn handler_errors_pass_through() {
        let e = super::call(greet, r#"{"Name":""}"#, &TestHost::new().host()).unwrap_err();
        assert_eq!(e, PluginError::Failed("nobody to greet".into()));
    }

    mod exported {
        use super::*;

        fn shout(input: Input, _host: &Host) -> Result<Output, PluginError> {
            Ok(Output { greeting: input.name.to_uppercase() })
        }

        crate::export_action!("plugin:greet" => greet, "plugin:shout" => shout);

        #[test]
        fn the_macro_maps_action_names() {
            let host = TestHost::new().host();
            assert_eq!(bosun_dispatch("plugin:shout", r#"{"Name":"ops"}"#, &host).unwrap(), r#"{"Greeting":"OPS"}"#);
            assert_eq!(bosun_dispatch("plugin:greet", r#"{"Name":"ops"}"#, &host).unwrap(), r#"{"Greeting":"hello ops"}"#);
            let e = bosun_dispatch("plugin:other", "{}", &host).unwrap_err();
            assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("plugin:greet, plugin:shout")), "{e}");
            assert_eq!(BOSUN_ACTIONS, ["plugin:greet", "plugin:shout"]);
        }
    }
}
