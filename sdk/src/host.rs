//! `Host`: the typed calls a plugin makes to the host (logging, step outputs,
//! parameters, HTTP, exec) and their request and response types. The calls go
//! to the real host on wasm32 and to `testing::TestHost` elsewhere.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PluginError;
#[cfg(target_arch = "wasm32")]
use crate::guest::Backend;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::Backend;

/// The level of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// An HTTP request for [`Host::http`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// GET, POST, PUT, DELETE, PATCH or HEAD.
    pub method: String,
    /// An absolute http or https URL; its scheme, host and port must be granted. On a node, a
    /// relative URL under `/v1/agent/packages/` goes to the node's control plane, with the
    /// node's credential added by the host (the control plane's origin must be granted).
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        HttpRequest { method: method.into(), url: url.into(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest::new("GET", url)
    }

    pub fn post(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        HttpRequest::new("POST", url).body(body)
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body, with `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self, PluginError> {
        Ok(self.header("content-type", "application/json").body(serde_json::to_vec(value)?))
    }
}

/// The response to an [`HttpRequest`]. Any status is a response; only a
/// request that could not be made is an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse { status, headers: Vec::new(), body: body.into() }
    }

    /// The first header of this name, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, PluginError> {
        Ok(std::str::from_utf8(&self.body)?)
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// A program to run with [`Host::exec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// The absolute path of a granted program.
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Vec<u8>,
}

impl ExecRequest {
    pub fn new(program: impl Into<String>) -> Self {
        ExecRequest { program: program.into(), args: Vec::new(), stdin: Vec::new() }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn stdin(mut self, stdin: impl Into<Vec<u8>>) -> Self {
        self.stdin = stdin.into();
        self
    }
}

/// How a program run with [`Host::exec`] ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// The exit code, or -1 when the process was ended by a signal.
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The host, as a plugin sees it. Every call is checked against the
/// capabilities the operator granted; an ungranted call returns
/// [`PluginError::Denied`].
#[derive(Debug, Clone)]
pub struct Host {
    backend: Backend,
}

impl Host {
    pub(crate) fn new(backend: Backend) -> Host {
        Host { backend }
    }

    /// Writes a structured log line to the step's log.
    pub fn log(&self, level: Level, message: &str, fields: &[(&str, &str)]) {
        self.backend.log(level, message, fields);
    }

    pub fn trace(&self, message: &str) {
        self.log(Level::Trace, message, &[]);
    }

    pub fn debug(&self, message: &str) {
        self.log(Level::Debug, message, &[]);
    }

    pub fn info(&self, message: &str) {
        self.log(Level::Info, message, &[]);
    }

    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message, &[]);
    }

    pub fn error(&self, message: &str) {
        self.log(Level::Error, message, &[]);
    }

    /// Sets one output of the step to `value` as JSON. Later calls replace
    /// earlier ones; outputs the action returns take precedence.
    pub fn set_output<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<(), PluginError> {
        let json = serde_json::to_string(value)?;
        self.backend.set_output(name, &json)
    }

    /// Reads a Parameter Store value under a granted path.
    pub fn get_parameter(&self, name: &str) -> Result<String, PluginError> {
        self.backend.get_parameter(name)
    }

    /// Sends an HTTP request to a granted scheme://host:port.
    pub fn http(&self, request: &HttpRequest) -> Result<HttpResponse, PluginError> {
        self.backend.http(request)
    }

    /// Runs a granted program. Only on nodes.
    pub fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, PluginError> {
        self.backend.exec(request)
    }
}
