//! The native side of `Host`: `TestHost`, a test double that plugin authors
//! configure with parameters and canned HTTP and exec results, and that
//! records logs, outputs and requests. Anything not configured is denied, as
//! the real host denies what the operator did not grant. Not on wasm32.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::host::{ExecOutput, ExecRequest, HttpRequest, HttpResponse, Level};
use crate::{Host, PluginError};

/// One log line a plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

impl LogLine {
    /// The value of a field, if the line has it.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A canned exec result: program, exact arguments (none: any), result.
type CannedExec = (String, Option<Vec<String>>, Result<ExecOutput, PluginError>);

#[derive(Debug, Default)]
struct State {
    parameters: BTreeMap<String, String>,
    http: Vec<(String, String, Result<HttpResponse, PluginError>)>,
    exec: Vec<CannedExec>,
    logs: Vec<LogLine>,
    outputs: BTreeMap<String, serde_json::Value>,
    http_requests: Vec<HttpRequest>,
    exec_requests: Vec<ExecRequest>,
}

/// A host for native tests. Cloning it shares the same state.
///
/// ```
/// use bosun_plugin_sdk::testing::TestHost;
/// use bosun_plugin_sdk::{HttpRequest, HttpResponse, PluginError};
///
/// let test = TestHost::builder()
///     .parameter("/app/db-host", "db.internal")
///     .http("GET", "https://example.com/health", HttpResponse::new(200, "ok"))
///     .build();
/// let host = test.host();
/// assert_eq!(host.get_parameter("/app/db-host").unwrap(), "db.internal");
/// assert!(matches!(host.get_parameter("/other"), Err(PluginError::Denied(_))));
/// assert_eq!(host.http(&HttpRequest::get("https://example.com/health")).unwrap().status, 200);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TestHost {
    state: Arc<Mutex<State>>,
}

/// Configures a [`TestHost`].
#[derive(Debug, Default)]
pub struct TestHostBuilder {
    state: State,
}

impl TestHostBuilder {
    /// A parameter `get_parameter` returns.
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.state.parameters.insert(name.into(), value.into());
        self
    }

    /// The response to every request with this method and exact URL.
    pub fn http(mut self, method: impl Into<String>, url: impl Into<String>, response: HttpResponse) -> Self {
        self.state.http.push((method.into(), url.into(), Ok(response)));
        self
    }

    /// The error every request with this method and exact URL gets.
    pub fn http_error(mut self, method: impl Into<String>, url: impl Into<String>, error: PluginError) -> Self {
        self.state.http.push((method.into(), url.into(), Err(error)));
        self
    }

    /// The result of running `program` with exactly these arguments.
    pub fn exec<I: IntoIterator<Item = S>, S: Into<String>>(mut self, program: impl Into<String>, args: I, output: ExecOutput) -> Self {
        self.state.exec.push((program.into(), Some(args.into_iter().map(Into::into).collect()), Ok(output)));
        self
    }

    /// The result of running `program` with any arguments.
    pub fn exec_any_args(mut self, program: impl Into<String>, output: ExecOutput) -> Self {
        self.state.exec.push((program.into(), None, Ok(output)));
        self
    }

    /// The error running `program` with any arguments gets.
    pub fn exec_error(mut self, program: impl Into<String>, error: PluginError) -> Self {
        self.state.exec.push((program.into(), None, Err(error)));
        self
    }

    pub fn build(self) -> TestHost {
        TestHost { state: Arc::new(Mutex::new(self.state)) }
    }
}

impl TestHost {
    pub fn builder() -> TestHostBuilder {
        TestHostBuilder::default()
    }

    /// A host with nothing granted: every call but logging is denied.
    pub fn new() -> TestHost {
        TestHost::default()
    }

    /// The `Host` to pass to a plugin function.
    pub fn host(&self) -> Host {
        Host::new(Backend { test: self.clone() })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking plugin under test must not hide what it recorded.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every log line, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.state().logs.clone()
    }

    /// The outputs set with `set_output`, parsed.
    pub fn outputs(&self) -> BTreeMap<String, serde_json::Value> {
        self.state().outputs.clone()
    }

    /// One output set with `set_output`.
    pub fn output(&self, name: &str) -> Option<serde_json::Value> {
        self.state().outputs.get(name).cloned()
    }

    /// Every HTTP request made, granted or not.
    pub fn http_requests(&self) -> Vec<HttpRequest> {
        self.state().http_requests.clone()
    }

    /// Every exec request made, granted or not.
    pub fn exec_requests(&self) -> Vec<ExecRequest> {
        self.state().exec_requests.clone()
    }
}

/// `Host`'s calls on native targets: they go to a [`TestHost`].
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    test: TestHost,
}

impl Backend {
    pub(crate) fn log(&self, level: Level, message: &str, fields: &[(&str, &str)]) {
        let fields = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.test.state().logs.push(LogLine { level, message: message.to_string(), fields });
    }

    pub(crate) fn set_output(&self, name: &str, json: &str) -> Result<(), PluginError> {
        let value = serde_json::from_str(json).map_err(|e| PluginError::InvalidInput(format!("output \"{name}\" is not JSON: {e}")))?;
        self.test.state().outputs.insert(name.to_string(), value);
        Ok(())
    }

    pub(crate) fn get_parameter(&self, name: &str) -> Result<String, PluginError> {
        self.test
            .state()
            .parameters
            .get(name)
            .cloned()
            .ok_or_else(|| PluginError::Denied(format!("parameter \"{name}\" is not granted to this plugin (grant param:{name})")))
    }

    pub(crate) fn http(&self, request: &HttpRequest) -> Result<HttpResponse, PluginError> {
        let mut state = self.test.state();
        state.http_requests.push(request.clone());
        let canned = state.http.iter().find(|(method, url, _)| method.eq_ignore_ascii_case(&request.method) && *url == request.url);
        match canned {
            Some((_, _, result)) => result.clone(),
            None => Err(PluginError::Denied(format!(
                "http: {} {} is not granted to this plugin (TestHost has no response for it)",
                request.method, request.url
            ))),
        }
    }

    pub(crate) fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, PluginError> {
        let mut state = self.test.state();
        state.exec_requests.push(request.clone());
        let canned = state
            .exec
            .iter()
            .find(|(program, args, _)| *program == request.program && args.as_ref().is_none_or(|args| *args == request.args));
        match canned {
            Some((_, _, result)) => result.clone(),
            None => Err(PluginError::Denied(format!(
                "exec: {} {} is not granted to this plugin (TestHost has no result for it)",
                request.program,
                request.args.join(" ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_logs_and_outputs() {
        let test = TestHost::new();
        let host = test.host();
        host.log(Level::Warn, "disk almost full", &[("device", "/dev/sda1")]);
        host.set_output("Free", &12).unwrap();
        host.set_output("Free", &13).unwrap();
        let logs = test.logs();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].level, Level::Warn);
        assert_eq!(logs[0].field("device"), Some("/dev/sda1"));
        assert_eq!(test.output("Free"), Some(serde_json::json!(13)));
    }

    #[test]
    fn what_is_not_configured_is_denied() {
        let host = TestHost::new().host();
        let e = host.get_parameter("/a").unwrap_err();
        assert!(matches!(&e, PluginError::Denied(m) if m.contains("param:/a")), "{e}");
        assert!(matches!(host.http(&HttpRequest::get("https://x.test/")), Err(PluginError::Denied(_))));
        assert!(matches!(host.exec(&ExecRequest::new("/bin/true")), Err(PluginError::Denied(_))));
    }

    #[test]
    fn canned_http_and_exec() {
        let test = TestHost::builder()
            .http("GET", "https://x.test/a", HttpResponse::new(404, "gone"))
            .http_error("POST", "https://x.test/a", PluginError::timed_out("slow"))
            .exec("/usr/bin/uname", ["-r"], ExecOutput { exit_code: 0, stdout: b"6.1\n".to_vec(), stderr: vec![] })
            .exec_any_args("/bin/false", ExecOutput { exit_code: 1, ..Default::default() })
            .build();
        let host = test.host();
        let response = host.http(&HttpRequest::get("https://x.test/a")).unwrap();
        assert_eq!((response.status, response.text().unwrap()), (404, "gone"));
        assert_eq!(host.http(&HttpRequest::post("https://x.test/a", "b")), Err(PluginError::TimedOut("slow".into())));
        assert_eq!(host.exec(&ExecRequest::new("/usr/bin/uname").arg("-r")).unwrap().stdout_text(), "6.1\n");
        assert!(matches!(host.exec(&ExecRequest::new("/usr/bin/uname").arg("-a")), Err(PluginError::Denied(_))));
        assert_eq!(host.exec(&ExecRequest::new("/bin/false").args(["x", "y"])).unwrap().exit_code, 1);
        assert_eq!(test.http_requests().len(), 2);
        assert_eq!(test.exec_requests().len(), 3);
    }
}
