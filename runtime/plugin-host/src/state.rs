//! What one call's store holds: WASI context, limits, the plugin's capability
//! table, the services host functions use, and what the call produced.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::capabilities::{Capabilities, Denial};
use crate::control_plane::ControlPlaneLink;
use crate::limiter::CallLimiter;
use crate::services::Services;

/// At most this many log lines a call; later ones are counted, not kept.
const MAX_LOG_LINES: usize = 10_000;
/// A log message or field longer than this is cut.
const MAX_LOG_TEXT: usize = 16 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

/// One structured log line written by a plugin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

pub struct CallState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: CallLimiter,
    pub caps: Arc<Capabilities>,
    pub services: Arc<Services>,
    pub plugin: Arc<str>,
    pub outputs: Map<String, Value>,
    pub output_bytes: usize,
    pub output_limit: usize,
    pub logs: Vec<LogLine>,
    pub logs_dropped: usize,
    pub denials: Vec<Denial>,
    pub deadline: Instant,
    /// Where relative URLs go (a node's call only).
    pub link: Option<Arc<ControlPlaneLink>>,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_LOG_TEXT {
        let mut end = MAX_LOG_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

impl CallState {
    pub fn log(&mut self, level: LogLevel, message: String, fields: Vec<(String, String)>) {
        if self.logs.len() >= MAX_LOG_LINES {
            self.logs_dropped += 1;
            return;
        }
        let line = LogLine { level, message: cut(message), fields: fields.into_iter().map(|(k, v)| (cut(k), cut(v))).collect() };
        tracing::debug!(plugin = %self.plugin, level = ?line.level, message = %line.message, "plugin log");
        self.logs.push(line);
    }

    /// Records a denial and returns its message, for the guest's error.
    pub fn deny(&mut self, denial: Denial) -> String {
        let message = denial.message.clone();
        tracing::info!(plugin = %self.plugin, capability = denial.capability, "{message}");
        self.denials.push(denial);
        message
    }
}
