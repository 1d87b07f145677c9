//! The wasm32 side of `Host`: each call goes to the host through the
//! generated imports, with conversions between the SDK's types and the
//! generated ones. Also the entry points the export macros call.

use crate::bindings::imports::bosun::plugin::{host as wit_host, types as wit};
use crate::host::{ExecOutput, ExecRequest, HttpRequest, HttpResponse, Level};
use crate::{Host, InventoryItem, PluginError};

/// The real host: a handle with no state.
#[derive(Debug, Clone)]
pub(crate) struct Backend;

impl Backend {
    pub(crate) fn log(&self, level: Level, message: &str, fields: &[(&str, &str)]) {
        let level = match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        };
        let fields: Vec<wit::Field> = fields.iter().map(|(k, v)| wit::Field { key: k.to_string(), value: v.to_string() }).collect();
        wit_host::log(level, message, &fields);
    }

    pub(crate) fn set_output(&self, name: &str, json: &str) -> Result<(), PluginError> {
        wit_host::set_output(name, json).map_err(from_wit)
    }

    pub(crate) fn get_parameter(&self, name: &str) -> Result<String, PluginError> {
        wit_host::get_parameter(name).map_err(from_wit)
    }

    pub(crate) fn http(&self, request: &HttpRequest) -> Result<HttpResponse, PluginError> {
        let request = wit::Request {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let response = wit_host::http_request(&request).map_err(from_wit)?;
        Ok(HttpResponse { status: response.status, headers: response.headers, body: response.body })
    }

    pub(crate) fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, PluginError> {
        let request = wit::ExecRequest { program: request.program.clone(), args: request.args.clone(), stdin: request.stdin.clone() };
        let result = wit_host::exec(&request).map_err(from_wit)?;
        Ok(ExecOutput { exit_code: result.exit_code, stdout: result.stdout, stderr: result.stderr })
    }
}

pub(crate) fn from_wit(error: wit::Error) -> PluginError {
    match error {
        wit::Error::InvalidInput(m) => PluginError::InvalidInput(m),
        wit::Error::Denied(m) => PluginError::Denied(m),
        wit::Error::Failed(m) => PluginError::Failed(m),
        wit::Error::TimedOut(m) => PluginError::TimedOut(m),
    }
}

pub(crate) fn to_wit(error: PluginError) -> wit::Error {
    match error {
        PluginError::InvalidInput(m) => wit::Error::InvalidInput(m),
        PluginError::Denied(m) => wit::Error::Denied(m),
        PluginError::Failed(m) => wit::Error::Failed(m),
        PluginError::TimedOut(m) => wit::Error::TimedOut(m),
    }
}

/// The error type of the exported functions.
pub type WitError = wit::Error;
/// The item type `collect` returns.
pub type WitInventoryItem = wit::InventoryItem;

/// A panic is logged to the step's log before the component traps, so the
/// step failure can say why.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            Backend.log(Level::Error, &format!("plugin panicked: {info}"), &[]);
            previous(info);
        }));
    });
}

/// Called by the `actions` export that `export_action!` generates.
pub fn action_names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Called by the `run` export that `export_action!` generates.
pub fn run_action(action: &str, inputs: &str, dispatch: fn(&str, &str, &Host) -> Result<String, PluginError>) -> Result<String, WitError> {
    install_panic_hook();
    dispatch(action, inputs, &Host::new(Backend)).map_err(to_wit)
}

/// Called by the `collect` export that `export_inventory!` generates.
pub fn run_collect(
    inputs: &str,
    dispatch: fn(&str, &Host) -> Result<Vec<InventoryItem>, PluginError>,
) -> Result<Vec<WitInventoryItem>, WitError> {
    install_panic_hook();
    let items = dispatch(inputs, &Host::new(Backend)).map_err(to_wit)?;
    Ok(items
        .into_iter()
        .map(|item| WitInventoryItem {
            type_name: item.type_name,
            schema_version: item.schema_version,
            capture_time: item.capture_time,
            content: item.content,
        })
        .collect())
}
