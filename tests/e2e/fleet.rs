//! The fleet through a real `bosun server`: activations, agent registration and
//! heartbeats over HTTP, ping status past the heartbeat gap, refused codes and
//! credentials, the separation of admin tokens and node credentials, bad bodies,
//! and the `bosun activation|node|group` commands.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::support::{Run, bosun, bosun_path, poll};

const LIMIT: Duration = Duration::from_secs(60);

/// A running `bosun server` with extra flags; killed when dropped.
pub struct FleetServer {
    child: Child,
    pub url: String,
    pub token: String,
    log: PathBuf,
    client: Client,
    data: PathBuf,
    flags: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Starts `bosun server` on `data` at `listen`; returns the process and its URL once it listens.
fn spawn_server(dir: &Path, data: &Path, listen: &str, flags: &[String]) -> (Child, String) {
    let (out, log) = (dir.join("server.out"), dir.join("server.log"));
    let create = |p: &Path| std::fs::File::create(p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
    let mut child = Command::new(bosun_path())
        .args(["server", "--listen", listen, "--data-dir", data.to_str().unwrap_or_default()])
        .args(flags)
        .env_remove("BOSUN_DATA_DIR")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(create(&out))
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start bosun server: {e}"));
    let url = poll("bosun server to listen", LIMIT, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("bosun server exited with {status}:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        let text = std::fs::read_to_string(&out).ok()?;
        Some(text.lines().find_map(|l| l.strip_prefix("listening on "))?.trim().to_string())
    });
    (child, url)
}

impl FleetServer {
    pub fn start(flags: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let d = data.to_str().unwrap_or_default();
        let run = bosun(&["token", "create", "ops", "--data-dir", d, "--output", "json"]);
        run.expect_code(0);
        let token = run.json()["token"].as_str().unwrap_or_default().to_string();
        let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        let log = dir.path().join("server.log");
        let (child, url) = spawn_server(dir.path(), &data, "127.0.0.1:0", &flags);
        let client = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        FleetServer { child, url, token, log, client, data, flags, _dir: dir }
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Trusts a CA certificate (PEM) in this helper's own HTTP calls (a server with --tls-cert).
    pub fn trust(&mut self, pem: &[u8]) {
        let certificate = reqwest::Certificate::from_pem(pem).unwrap();
        self.client = Client::builder().timeout(Duration::from_secs(30)).add_root_certificate(certificate).build().unwrap();
    }

    /// SIGTERM, as a service manager stops it; its exit status once it has stopped.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success()));
        let child = &mut self.child;
        poll("bosun server to stop", LIMIT, || child.try_wait().ok().flatten())
    }

    /// Kills the server process with SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same data directory and address.
    pub fn restart(&mut self) {
        self.kill9();
        let address = self.url.split("://").nth(1).unwrap_or_default().to_string();
        let root = self.data.parent().unwrap().to_path_buf();
        let (child, url) = spawn_server(&root, &self.data, &address, &self.flags);
        assert_eq!(url, self.url, "the restarted server listens elsewhere");
        self.child = child;
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn send(&self, request: RequestBuilder, bearer: Option<&str>) -> Response {
        let request = match bearer {
            Some(bearer) => request.bearer_auth(bearer),
            None => request,
        };
        request
            .send()
            .unwrap_or_else(|e| panic!("request failed: {e}\nserver log:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default()))
    }

    /// A request to `path` of this server, to add headers or a body to before `send`.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    pub fn get(&self, path: &str, bearer: Option<&str>) -> Response {
        self.send(self.client.get(format!("{}{path}", self.url)), bearer)
    }

    pub fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> Response {
        self.post_raw(path, bearer, "application/json", body.to_string())
    }

    pub fn post_raw(&self, path: &str, bearer: Option<&str>, content_type: &str, body: String) -> Response {
        self.send(self.client.post(format!("{}{path}", self.url)).header("content-type", content_type).body(body), bearer)
    }

    /// Creates an activation through the API; returns (id, code).
    pub fn activation(&self, body: &Value) -> (String, String) {
        let created = json_of(self.post("/v1/activations", Some(&self.token), body), StatusCode::CREATED);
        (created["activationId"].as_str().unwrap().to_string(), created["activationCode"].as_str().unwrap().to_string())
    }

    /// Registers a node as an agent does; returns (node id, credential).
    pub fn register(&self, id: &str, code: &str, hostname: &str) -> (String, String) {
        let registered = json_of(self.post("/v1/agent/register", None, &register_body(id, code, hostname)), StatusCode::CREATED);
        (registered["nodeId"].as_str().unwrap().to_string(), registered["credential"].as_str().unwrap().to_string())
    }

    /// `bosun ARGS...` against this server, with BOSUN_ENDPOINT and BOSUN_TOKEN set.
    pub fn cli(&self, args: &[&str]) -> Run {
        let output = Command::new(bosun_path())
            .args(args)
            .env_remove("BOSUN_DATA_DIR")
            .env_remove("RUST_LOG")
            .env("BOSUN_ENDPOINT", &self.url)
            .env("BOSUN_TOKEN", &self.token)
            .output()
            .unwrap_or_else(|e| panic!("cannot run bosun: {e}"));
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Drop for FleetServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[track_caller]
pub fn json_of(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().unwrap_or_default();
    assert_eq!(got, status, "{text}");
    if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")) }
}

pub fn platform(hostname: &str) -> Value {
    json!({
        "platformType": "Linux", "name": "Ubuntu", "version": "24.04", "kernel": "6.8.0",
        "architecture": "x86_64", "hostname": hostname, "ipAddresses": ["10.0.0.7"], "agentVersion": "0.1.0",
    })
}

pub fn register_body(id: &str, code: &str, hostname: &str) -> Value {
    json!({"activationId": id, "activationCode": code, "platform": platform(hostname)})
}

fn node(server: &FleetServer, id: &str) -> Value {
    json_of(server.get(&format!("/v1/nodes/{id}"), Some(&server.token)), StatusCode::OK)
}

#[test]
fn a_node_registers_heartbeats_and_is_online_with_the_activations_tags() {
    let server = FleetServer::start(&["--heartbeat-gap", "3"]);
    let (id, code) = server.activation(&json!({"tags": {"Env": "dev", "Team": "ops"}, "registrationLimit": 2, "description": "web"}));
    assert!(id.starts_with("act-"));
    let (node_id, credential) = server.register(&id, &code, "web-1");
    assert!(node_id.starts_with("mi-") && node_id.len() == 20, "{node_id}");
    json_of(server.post("/v1/agent/heartbeat", Some(&credential), &json!({"platform": platform("web-1b")})), StatusCode::NO_CONTENT);

    let nodes = json_of(server.get("/v1/nodes", Some(&server.token)), StatusCode::OK);
    let listed = &nodes.as_array().unwrap()[0];
    assert_eq!(listed["nodeId"], node_id.as_str());
    assert_eq!(listed["pingStatus"], "Online", "{listed}");
    assert_eq!(listed["tags"], json!({"Env": "dev", "Team": "ops"}));
    assert_eq!(listed["platform"]["hostname"], "web-1b");
    assert_eq!(listed["activationId"], id.as_str());
    let filtered = json_of(server.get("/v1/nodes?tag=Team%3Dops", Some(&server.token)), StatusCode::OK);
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let filtered = json_of(server.get("/v1/nodes?tag=Team%3Ddev", Some(&server.token)), StatusCode::OK);
    assert!(filtered.as_array().unwrap().is_empty());

    let activations = json_of(server.get("/v1/activations", Some(&server.token)), StatusCode::OK);
    assert_eq!(activations[0]["registrationsCount"], 1);
    assert!(activations[0].get("activationCode").is_none(), "the code is never shown again");

    // Silent past the gap: ConnectionLost; a heartbeat brings it back.
    poll("the node to be ConnectionLost", LIMIT, || (node(&server, &node_id)["pingStatus"] == "ConnectionLost").then_some(()));
    json_of(server.post("/v1/agent/heartbeat", Some(&credential), &json!({"platform": platform("web-1b")})), StatusCode::NO_CONTENT);
    assert_eq!(node(&server, &node_id)["pingStatus"], "Online");

    // The agent routes are in the OpenAPI document, under their own security scheme.
    let doc = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    for path in ["/v1/agent/register", "/v1/agent/heartbeat", "/v1/activations", "/v1/nodes/{id}/tags", "/v1/groups/{name}"] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
    assert_eq!(doc["paths"]["/v1/agent/heartbeat"]["post"]["security"], json!([{"node": []}]));
}

#[test]
fn expired_used_and_wrong_codes_are_refused() {
    let server = FleetServer::start(&[]);
    let refused = |id: &str, code: &str| {
        let body = json_of(server.post("/v1/agent/register", None, &register_body(id, code, "h")), StatusCode::UNAUTHORIZED);
        assert_eq!(body["message"], "the activation id or code is wrong, expired or used up");
        body
    };
    // Single use by default: the second registration is refused.
    let (id, code) = server.activation(&json!({}));
    server.register(&id, &code, "one");
    let used = refused(&id, &code);
    // A wrong code and an unknown id get the same answer.
    let (other, _) = server.activation(&json!({"registrationLimit": 5}));
    assert_eq!(refused(&other, "0123456789abcdef0123456789abcdef01234567"), used);
    assert_eq!(refused("act-00000000000000000000000000000000", &code), used);

    let (id, code) = server.activation(&json!({"registrationLimit": 5, "expiresInSeconds": 1}));
    poll("the activation to expire", LIMIT, || {
        let list = json_of(server.get("/v1/activations", Some(&server.token)), StatusCode::OK);
        list.as_array().unwrap().iter().any(|a| a["activationId"] == id.as_str() && a["expired"] == true).then_some(())
    });
    refused(&id, &code);
}

#[test]
fn a_deregistered_nodes_credential_is_refused() {
    let server = FleetServer::start(&[]);
    let (id, code) = server.activation(&json!({"tags": {"Env": "dev"}}));
    let (node_id, credential) = server.register(&id, &code, "h");
    let beat = json!({"platform": platform("h")});
    json_of(server.post("/v1/agent/heartbeat", Some(&credential), &beat), StatusCode::NO_CONTENT);
    let view = json_of(server.post(&format!("/v1/nodes/{node_id}/deregister"), Some(&server.token), &json!({})), StatusCode::OK);
    assert_eq!(view["pingStatus"], "Inactive");
    let body = json_of(server.post("/v1/agent/heartbeat", Some(&credential), &beat), StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap().contains("unknown or revoked"), "{body}");
    json_of(server.post("/v1/agent/poll", Some(&credential), &json!({"waitSeconds": 0})), StatusCode::UNAUTHORIZED);
    assert_eq!(node(&server, &node_id)["pingStatus"], "Inactive");
    let tags = json!({"add": {"Role": "web"}});
    json_of(server.post(&format!("/v1/nodes/{node_id}/tags"), Some(&server.token), &tags), StatusCode::CONFLICT);
    json_of(server.post("/v1/nodes/mi-00000000000000000/deregister", Some(&server.token), &json!({})), StatusCode::NOT_FOUND);
}

#[test]
fn admin_tokens_and_node_credentials_work_on_their_own_routes_only() {
    let server = FleetServer::start(&[]);
    let (id, code) = server.activation(&json!({}));
    let (_, credential) = server.register(&id, &code, "h");
    let beat = json!({"platform": platform("h")});
    // Admin token on an agent route.
    let body = json_of(server.post("/v1/agent/heartbeat", Some(&server.token), &beat), StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap().contains("admin API tokens do not work"), "{body}");
    json_of(server.post("/v1/agent/poll", Some(&server.token), &json!({"waitSeconds": 0})), StatusCode::UNAUTHORIZED);
    // Node credential on admin routes.
    for path in ["/v1/nodes", "/v1/activations", "/v1/groups", "/v1/documents"] {
        json_of(server.get(path, Some(&credential)), StatusCode::UNAUTHORIZED);
    }
    json_of(server.post("/v1/activations", Some(&credential), &json!({})), StatusCode::UNAUTHORIZED);
    // Nothing at all.
    for path in ["/v1/nodes", "/v1/activations", "/v1/groups", "/v1/nodes/mi-1"] {
        let body = json_of(server.get(path, None), StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "unauthorized", "{path}");
    }
    json_of(server.post("/v1/agent/heartbeat", None, &beat), StatusCode::UNAUTHORIZED);
    json_of(server.post("/v1/agent/heartbeat", Some("bosun-node_forged"), &beat), StatusCode::UNAUTHORIZED);
    // The right ones.
    json_of(server.post("/v1/agent/heartbeat", Some(&credential), &beat), StatusCode::NO_CONTENT);
    json_of(server.get("/v1/nodes", Some(&server.token)), StatusCode::OK);
}

#[test]
fn bad_bodies_get_4xx_naming_the_field() {
    let server = FleetServer::start(&["--max-body", "4096"]);
    let token = Some(server.token.as_str());
    let field = |response: Response, status: StatusCode| json_of(response, status)["field"].as_str().unwrap_or_default().to_string();

    assert_eq!(
        field(server.post("/v1/activations", token, &json!({"registrationLimit": 0})), StatusCode::UNPROCESSABLE_ENTITY),
        "registrationLimit"
    );
    assert_eq!(
        field(server.post("/v1/activations", token, &json!({"registrationLimit": 1001})), StatusCode::UNPROCESSABLE_ENTITY),
        "registrationLimit"
    );
    assert_eq!(
        field(server.post("/v1/activations", token, &json!({"expiresInSeconds": 2_600_000})), StatusCode::UNPROCESSABLE_ENTITY),
        "expiresInSeconds"
    );
    assert_eq!(field(server.post("/v1/activations", token, &json!({"colour": "red"})), StatusCode::UNPROCESSABLE_ENTITY), "colour");
    assert_eq!(
        field(server.post("/v1/activations", token, &json!({"tags": {"aws:x": "1"}})), StatusCode::UNPROCESSABLE_ENTITY),
        "tags.aws:x"
    );
    let malformed = json_of(server.post_raw("/v1/activations", token, "application/json", "{\"tags\": ".into()), StatusCode::BAD_REQUEST);
    assert!(malformed["message"].as_str().unwrap().contains("line 1 column"), "{malformed}");
    json_of(server.post_raw("/v1/activations", token, "text/plain", "{}".into()), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = json!({"description": "x".repeat(10_000)}).to_string();
    json_of(server.post_raw("/v1/activations", token, "application/json", big.clone()), StatusCode::PAYLOAD_TOO_LARGE);
    json_of(server.post_raw("/v1/agent/register", None, "application/json", big), StatusCode::PAYLOAD_TOO_LARGE);

    let (id, code) = server.activation(&json!({"registrationLimit": 10}));
    let missing = json!({"activationId": id, "activationCode": code});
    assert_eq!(field(server.post("/v1/agent/register", None, &missing), StatusCode::UNPROCESSABLE_ENTITY), "platform");
    let long = register_body(&id, &code, &"h".repeat(300));
    assert_eq!(field(server.post("/v1/agent/register", None, &long), StatusCode::UNPROCESSABLE_ENTITY), "platform.hostname");
    let (node_id, credential) = server.register(&id, &code, "h");
    assert_eq!(
        field(
            server.post("/v1/agent/heartbeat", Some(&credential), &json!({"platform": platform("h"), "extra": 1})),
            StatusCode::UNPROCESSABLE_ENTITY
        ),
        "extra"
    );
    let tags = format!("/v1/nodes/{node_id}/tags");
    assert_eq!(field(server.post(&tags, token, &json!({"add": {"aws:name": "x"}})), StatusCode::UNPROCESSABLE_ENTITY), "add.aws:name");
    json_of(server.post(&tags, token, &json!({"remove": "Env"})), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(server.get("/v1/nodes?tag=novalue", token), StatusCode::BAD_REQUEST), "tag");
    assert_eq!(
        field(server.post("/v1/groups", token, &json!({"name": "a b", "tags": {"Env": ["dev"]}})), StatusCode::UNPROCESSABLE_ENTITY),
        "name"
    );
    assert_eq!(field(server.post("/v1/groups", token, &json!({"name": "web", "tags": {}})), StatusCode::UNPROCESSABLE_ENTITY), "tags");
    assert_eq!(field(server.post("/v1/groups", token, &json!({"name": "web"})), StatusCode::UNPROCESSABLE_ENTITY), "tags");
    json_of(server.post("/v1/groups", token, &json!({"name": "web", "tags": {"Env": ["dev"]}})), StatusCode::CREATED);
    json_of(server.post("/v1/groups", token, &json!({"name": "web", "tags": {"Env": ["dev"]}})), StatusCode::CONFLICT);
}

#[test]
fn the_fleet_commands_work_through_the_api() {
    let server = FleetServer::start(&[]);
    let created = server.cli(&[
        "activation",
        "create",
        "--tag",
        "Env=dev",
        "--count",
        "2",
        "--expires",
        "7d",
        "--description",
        "lab",
        "--output",
        "json",
    ]);
    let created = created.expect_code(0).json();
    let keys: Vec<&str> = created.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["activationId", "activationCode", "expiresAt", "registrationLimit"]);
    assert_eq!(created["registrationLimit"], 2);
    let (id, code) = (created["activationId"].as_str().unwrap(), created["activationCode"].as_str().unwrap());
    let text = server.cli(&["activation", "create", "--expires", "1h"]);
    assert!(text.expect_code(0).stdout.contains("Activation code"), "{}", text.stdout);
    server.cli(&["activation", "create", "--expires", "31d"]).expect_code(2);
    server.cli(&["activation", "create", "--expires", "soon"]).expect_code(2);
    server.cli(&["activation", "create", "--count", "0"]).expect_code(2);
    let list = server.cli(&["activation", "list"]);
    assert!(list.expect_code(0).stdout.contains(id) && list.stdout.contains("Env=dev"), "{}", list.stdout);
    assert_eq!(server.cli(&["activation", "list", "--output", "json"]).expect_code(0).json().as_array().unwrap().len(), 2);

    let (a, _) = server.register(id, code, "web-1");
    let (b, _) = server.register(id, code, "web-2");
    let nodes = server.cli(&["node", "list", "--output", "json"]).expect_code(0).json();
    assert_eq!(nodes.as_array().unwrap().len(), 2);
    let table = server.cli(&["node", "list"]);
    assert!(table.expect_code(0).stdout.contains("PING STATUS") && table.stdout.contains("web-2"), "{}", table.stdout);

    let tagged = server.cli(&["node", "tag", &a, "Role=web", "Tier=1", "--output", "json"]).expect_code(0).json();
    assert_eq!(tagged["tags"], json!({"Env": "dev", "Role": "web", "Tier": "1"}));
    let untagged = server.cli(&["node", "untag", &a, "Tier", "--output", "json"]).expect_code(0).json();
    assert_eq!(untagged["tags"], json!({"Env": "dev", "Role": "web"}));
    server.cli(&["node", "tag", &a, "aws:x=1"]).expect_code(2);
    let filtered = server.cli(&["node", "list", "--tag", "Role=web", "--output", "json"]).expect_code(0).json();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let shown = server.cli(&["node", "show", &b]);
    assert!(shown.expect_code(0).stdout.contains("web-2") && shown.stdout.contains("Online"), "{}", shown.stdout);
    server.cli(&["node", "show", "mi-00000000000000000"]).expect_code(2);

    let group = server.cli(&["group", "create", "web", "--tag", "Env=dev", "--tag", "Role=web", "--tag", "Role=db", "--output", "json"]);
    let group = group.expect_code(0).json();
    assert_eq!(group["tags"], json!({"Env": ["dev"], "Role": ["web", "db"]}));
    assert_eq!(group["nodes"], json!([a]));
    let all = server.cli(&["group", "create", "dev", "--tag", "Env=dev", "--description", "every dev node"]);
    assert!(all.expect_code(0).stdout.contains("Nodes        2"), "{}", all.stdout);
    server.cli(&["group", "create", "dev", "--tag", "Env=dev"]).expect_code(2);
    let groups = server.cli(&["group", "list"]);
    assert!(groups.expect_code(0).stdout.contains("Env=dev AND Role=web|db"), "{}", groups.stdout);
    assert_eq!(server.cli(&["group", "show", "dev", "--output", "json"]).expect_code(0).json()["nodes"].as_array().unwrap().len(), 2);

    let deregistered = server.cli(&["node", "deregister", &b, "--output", "json"]).expect_code(0).json();
    assert_eq!(deregistered["pingStatus"], "Inactive");
    assert_eq!(server.cli(&["group", "show", "dev", "--output", "json"]).expect_code(0).json()["nodes"], json!([a]));
    server.cli(&["group", "delete", "dev"]).expect_code(0);
    server.cli(&["group", "show", "dev"]).expect_code(2);
    server.cli(&["activation", "delete", id]).expect_code(0);
    server.cli(&["activation", "delete", id]).expect_code(2);
    assert_eq!(server.cli(&["node", "list", "--output", "json"]).expect_code(0).json().as_array().unwrap().len(), 2);

    let unconfigured = bosun(&["node", "list"]);
    assert!(unconfigured.expect_code(2).stderr.contains("BOSUN_ENDPOINT"), "{}", unconfigured.stderr);
}
