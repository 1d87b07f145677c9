//! The `host` interface plugins import: each function checks the capability
//! table first and hands the work to the module that owns it.

use serde_json::Value;

use crate::bindings::bosun::plugin::{host, types};
use crate::bindings::{ExecRequest, ExecResult, Field, GuestError, HttpRequest, HttpResponse, Level};
use crate::state::{CallState, LogLevel};
use crate::{exec, http};

impl types::Host for CallState {}

impl host::Host for CallState {
    async fn log(&mut self, level: Level, message: String, fields: Vec<Field>) {
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.log(level, message, fields.into_iter().map(|f| (f.key, f.value)).collect());
    }

    async fn set_output(&mut self, name: String, value: String) -> Result<(), GuestError> {
        let parsed: Value =
            serde_json::from_str(&value).map_err(|e| GuestError::InvalidInput(format!("output {name} is not JSON: {e}")))?;
        let size = name.len() + value.len();
        let previous = self.outputs.get(&name).map_or(0, |v| name.len() + v.to_string().len());
        let total = self.output_bytes - previous + size;
        if total > self.output_limit {
            return Err(GuestError::Failed(format!(
                "output too large: {total} bytes of outputs, the limit is {} bytes",
                self.output_limit
            )));
        }
        self.output_bytes = total;
        self.outputs.insert(name, parsed);
        Ok(())
    }

    async fn get_parameter(&mut self, name: String) -> Result<String, GuestError> {
        if let Err(denial) = self.caps.check_param(&name) {
            return Err(GuestError::Denied(self.deny(denial)));
        }
        match self.services.params.get(&name).await {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(GuestError::Failed(format!("parameter {name} not found"))),
            Err(message) => Err(GuestError::Failed(format!("parameter {name}: {message}"))),
        }
    }

    async fn http_request(&mut self, request: HttpRequest) -> Result<HttpResponse, GuestError> {
        http::send(self, request).await
    }

    async fn exec(&mut self, request: ExecRequest) -> Result<ExecResult, GuestError> {
        exec::run(self, request).await
    }
}
