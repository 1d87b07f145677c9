//! Distributor end to end: packages created from a manifest and zip archives
//! through the CLI, hostile manifests and archives refused at upload, the agent
//! routes refusing callers without a node credential and names outside the
//! store, and a package's whole life on a real agent: installed through Run
//! Command into a temporary install root, refused when its archive is corrupt,
//! kept installed by a State Manager association that repairs it after files are
//! removed by hand, protected from deletion while the association names it,
//! updated in place and uninstalled.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bosun_package::archive::write_zip;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::Agent;
use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

const LIMIT: Duration = Duration::from_secs(90);

/// Writes `<dir>/tools-<version>.zip` and its manifest; returns the manifest's path and the archive's sha256.
pub fn write_version(dir: &Path, version: &str, files: &[(&str, &[u8])]) -> (PathBuf, String) {
    let zip = write_zip(files).unwrap();
    let sha = bosun_package::sha256_hex(&zip);
    let file = format!("tools-{version}.zip");
    std::fs::write(dir.join(&file), &zip).unwrap();
    let manifest = json!({
        "schemaVersion": "2.0", "version": version,
        "packages": {"_any": {"_any": {"_any": {"file": file}}}},
        "files": {file.clone(): {"checksums": {"sha256": sha}}},
    });
    let path = dir.join(format!("manifest-{version}.json"));
    std::fs::write(&path, manifest.to_string()).unwrap();
    (path, sha)
}

/// Sends a raw request and returns the status line's code (for what reqwest will not send).
fn raw_status(server: &FleetServer, request: &str) -> u16 {
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[test]
fn packages_are_checked_at_upload_and_served_only_to_nodes() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let scripts: [(&str, &[u8]); 2] = [("install.sh", b"true\n"), ("uninstall.sh", b"true\n")];
    let (manifest, sha) = write_version(dir.path(), "1.0", &scripts);
    let m = manifest.to_str().unwrap();
    let created = server.cli(&["package", "create", "tools", "--manifest", m, "--output", "json"]);
    created.expect_code(0);
    assert_eq!(created.json()["version"], "1.0", "{}", created.stdout);
    assert_eq!(created.json()["files"][0]["sha256"], sha.as_str());
    // The same version again: versions do not change.
    let again = server.cli(&["package", "create", "tools", "--manifest", m]);
    assert!(again.stderr.contains("versions do not change"), "{}", again.stderr);

    // A wrong sha256 is refused by the CLI before anything is sent, and by the server at upload.
    let (bad, _) = write_version(dir.path(), "1.1", &scripts);
    let text = std::fs::read_to_string(&bad).unwrap().replace(&sha, &"0".repeat(64));
    std::fs::write(&bad, text).unwrap();
    let refused = server.cli(&["package", "create", "tools", "--manifest", bad.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("tools-1.1.zip: its sha256 is"), "{}", refused.stderr);
    let put = server.send(server_put(&server, &"0".repeat(64), b"not those bytes".to_vec()), Some(&server.token));
    let answer = json_of(put, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer["message"].as_str().unwrap().contains("not 0000"), "{answer}");
    let huge = format!(
        "PUT /v1/packages/content/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 1099511627776\r\nConnection: close\r\n\r\n",
        "1".repeat(64),
        server.token
    );
    assert_eq!(raw_status(&server, &huge), 413, "an oversized upload is refused from its declared length");

    // Hostile manifests through the API: every problem named, with its path.
    let post = |manifest: Value| {
        json_of(
            server.post("/v1/packages/tools/versions", Some(&server.token), &json!({"manifest": manifest})),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let hostile = json!({"schemaVersion": "2.0", "version": "../2", "packages": {"_any": {"_any": {"_any": {"file": "../../bosun.db"}}}},
        "files": {"../../bosun.db": {"checksums": {"sha256": sha}}, "/etc/x.zip": {"checksums": {"sha256": sha}}}});
    let details = post(hostile)["details"].to_string();
    for expected in ["version", "files.\\\"../../bosun.db\\\"", "files.\\\"/etc/x.zip\\\"", "no '/'"] {
        assert!(details.contains(expected), "{expected}: {details}");
    }
    let missing = json!({"schemaVersion": "2.0", "version": "3", "packages": {"ubuntu": {"_any": {"x86_64": {"file": "n.zip"}}}},
        "files": {"n.zip": {"checksums": {"sha256": "2".repeat(64)}}}});
    assert!(post(missing)["message"].as_str().unwrap().contains("has not been uploaded"));
    let not_zip_sha = bosun_package::sha256_hex(b"plain text");
    server.send(server_put(&server, &not_zip_sha, b"plain text".to_vec()), Some(&server.token));
    let not_zip = json!({"schemaVersion": "2.0", "version": "4", "packages": {"ubuntu": {"_any": {"x86_64": {"file": "t.zip"}}}},
        "files": {"t.zip": {"checksums": {"sha256": not_zip_sha}}}});
    assert!(post(not_zip)["message"].as_str().unwrap().contains("not a zip archive"));

    let listed = server.cli(&["package", "list", "--output", "json"]);
    assert_eq!(listed.json()[0]["latestVersion"], "1.0", "{}", listed.stdout);
    let shown = server.cli(&["package", "show", "tools", "--output", "json"]);
    assert_eq!(shown.json()["platforms"], json!(["_any _any _any"]));

    // The agent routes: a node credential, never an admin token, and only names the manifest has.
    let file = "/v1/agent/packages/tools/versions/1.0/files/tools-1.0.zip";
    assert_eq!(server.get(file, None).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.get(file, Some(&server.token)).status(), StatusCode::UNAUTHORIZED);
    let (id, code) = server.activation(&json!({"registrationLimit": 1}));
    let (_, credential) = server.register(&id, &code, "pkg-node");
    let whole = server.get(file, Some(&credential));
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(bosun_package::sha256_hex(&whole.bytes().unwrap()), sha);
    let ranged = server.send(server.request(reqwest::Method::GET, file).header("Range", "bytes=0-9"), Some(&credential));
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert!(ranged.headers()["content-range"].to_str().unwrap().starts_with("bytes 0-9/"));
    for outside in ["..%2F..%2Fbosun.db", "..%2F..%2Fpackages%2Fstaging", "%2Fetc%2Fpasswd", sha.as_str()] {
        let path = format!("/v1/agent/packages/tools/versions/1.0/files/{outside}");
        assert_eq!(server.get(&path, Some(&credential)).status(), StatusCode::NOT_FOUND, "{outside}");
    }
    let openapi = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    for path in [
        "/v1/packages",
        "/v1/packages/content/{sha256}",
        "/v1/packages/{name}",
        "/v1/packages/{name}/versions",
        "/v1/agent/packages/{name}",
        "/v1/agent/packages/{name}/versions/{version}/files/{file}",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is not in the OpenAPI document");
    }
    let info = json_of(server.get("/v1/agent/packages/tools", Some(&credential)), StatusCode::OK);
    assert_eq!((info["version"].as_str(), info["node"]["platform"].as_str()), (Some("1.0"), Some("ubuntu")), "{info}");
}

fn server_put(server: &FleetServer, sha: &str, body: Vec<u8>) -> reqwest::blocking::RequestBuilder {
    server
        .request(reqwest::Method::PUT, &format!("/v1/packages/content/{sha}"))
        .header("Content-Type", "application/octet-stream")
        .body(body)
}

/// Waits for a command and returns its one invocation.
fn finished(server: &FleetServer, id: &str, node: &str) -> Value {
    let view = crate::agents::wait_command(server, id, &["Success", "Failed", "TimedOut", "Cancelled"]);
    crate::agents::invocation(&view, node).clone()
}

/// Sends Bosun-ConfigurePackage to `node` with `parameters`; returns the finished invocation.
pub fn configure(server: &FleetServer, node: &str, parameters: &[&str]) -> Value {
    let id = send_configure(server, node, parameters);
    finished(server, &id, node)
}

/// Sends Bosun-ConfigurePackage to `node` with `parameters`; returns the command's id.
fn send_configure(server: &FleetServer, node: &str, parameters: &[&str]) -> String {
    let mut args = vec!["command", "send", "--document", "AWS-ConfigureAWSPackage", "--targets"];
    let target = format!("ids:{node}");
    args.push(&target);
    for p in parameters {
        args.extend(["-p", p]);
    }
    args.extend(["--output", "json"]);
    let sent = server.cli(&args);
    sent.expect_code(0);
    sent.json()["commandId"].as_str().unwrap().to_string()
}

#[test]
fn a_package_is_installed_repaired_updated_and_uninstalled_on_a_real_agent() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (agent, root) = agent_with_install_root(&server, dir.path(), "pkg-1");
    let r = root.display().to_string();
    let node = agent.node_id.clone();

    // install.sh writes a marker beside the package (the root is the only place the test lets it write).
    let install: &[u8] = b"echo \"$(cat VERSION) $SSM_greeting\" > ../../marker\n";
    let v1 = [("install.sh", install), ("uninstall.sh", b"rm -f ../../marker\n"), ("VERSION", b"1.0"), ("bin/tool", b"tool 1.0")];
    let (m1, sha1) = write_version(dir.path(), "1.0", &v1);
    server.cli(&["package", "create", "tools", "--manifest", m1.to_str().unwrap()]).expect_code(0);

    let root_param = format!("installRoot={r}");
    let done = configure(&server, &node, &["action=Install", "name=tools", &root_param, r#"additionalArguments={"SSM_greeting":"hi"}"#]);
    assert_eq!(done["status"], "Success", "{done}\n{}", agent.log_text());
    assert_eq!(std::fs::read_to_string(root.join("marker")).unwrap(), "1.0 hi\n");
    assert!(done["stdout"].as_str().unwrap().contains("\"Outcome\":\"Installed\""), "{done}");
    let record: Value = serde_json::from_slice(&std::fs::read(root.join("tools/installed.json")).unwrap()).unwrap();
    assert_eq!((record["version"].as_str(), record["sha256"].as_str()), (Some("1.0"), Some(sha1.as_str())));

    // Kept installed by an association: removed by hand, it comes back at the next run.
    let association = json!({"name": "keep-tools", "documentName": "Bosun-ConfigurePackage", "targets": [{"key": "InstanceIds", "values": [node]}],
        "parameters": {"action": "Install", "name": "tools", "version": "1.0", "installRoot": r}, "scheduleExpression": "rate(30 minutes)"});
    json_of(server.post("/v1/associations", Some(&server.token), &association), StatusCode::CREATED);
    wait_association(&server, &node, 1);
    std::fs::remove_dir_all(root.join("tools/1.0/bin")).unwrap();
    std::fs::remove_file(root.join("marker")).unwrap();
    server.cli(&["association", "run-now", "keep-tools"]).expect_code(0);
    let run = wait_association(&server, &node, 2);
    assert_eq!(std::fs::read(root.join("tools/1.0/bin/tool")).unwrap(), b"tool 1.0", "{run}");
    assert!(root.join("marker").exists(), "install.sh ran again");

    // The version the association names cannot be deleted.
    let in_use = server.cli(&["package", "delete", "tools", "--version", "1.0"]);
    assert!(in_use.code != 0 && in_use.stderr.contains("in use by the association(s) keep-tools"), "{}", in_use.stderr);
    server.cli(&["association", "delete", "keep-tools"]).expect_code(0);

    // A corrupt archive in the store is refused on the node: nothing changes there.
    let v2 = [
        ("install.sh", install),
        ("uninstall.sh", b"rm -f ../../marker\n"),
        ("update.sh", b"echo updated > ../../marker\n"),
        ("VERSION", b"2.0"),
    ];
    let (m2, sha2) = write_version(dir.path(), "2.0", &v2);
    server.cli(&["package", "create", "tools", "--manifest", m2.to_str().unwrap()]).expect_code(0);
    let stored = server.data_dir().join("packages").join(&sha2[..2]).join(&sha2);
    let good = std::fs::read(&stored).unwrap();
    std::fs::write(&stored, b"tampered with on the server").unwrap();
    let refused = configure(&server, &node, &["action=Install", "name=tools", &root_param]);
    assert_eq!(refused["status"], "Failed", "{refused}");
    assert!(refused.to_string().contains("refused, nothing was installed"), "{refused}");
    assert!(root.join("tools/1.0/bin/tool").exists() && !root.join("tools/2.0").exists());
    std::fs::write(&stored, good).unwrap();

    // The latest version, in place: update.sh runs, the old version's files go.
    let updated = configure(&server, &node, &["action=Install", "name=tools", "installationType=In-place update", &root_param]);
    assert_eq!(updated["status"], "Success", "{updated}");
    assert_eq!(std::fs::read_to_string(root.join("marker")).unwrap(), "updated\n");
    assert!(!root.join("tools/1.0").exists());

    let gone = configure(&server, &node, &["action=Uninstall", "name=tools", &root_param]);
    assert_eq!(gone["status"], "Success", "{gone}");
    assert!(!root.join("marker").exists() && !root.join("tools/2.0").exists() && !root.join("tools/installed.json").exists());
    server.cli(&["package", "delete", "tools"]).expect_code(0);
    assert!(!stored.exists(), "archives no version uses leave the store");
}

#[test]
fn runs_for_one_package_on_a_node_wait_for_each_other_and_other_packages_do_not() {
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (agent, root) = agent_with_install_root(&server, dir.path(), "pkg-serial");
    let node = agent.node_id.clone();
    let root_param = format!("installRoot={}", root.display());
    // install.sh logs its start, waits for the test's word, and logs its end.
    let slow: &[u8] = b"echo start >> ../../log\nwhile [ ! -e ../../release ]; do sleep 0.1; done\necho end >> ../../log\n";
    let (m1, _) = write_version(dir.path(), "1.0", &[("install.sh", slow), ("uninstall.sh", b"true\n")]);
    server.cli(&["package", "create", "tools", "--manifest", m1.to_str().unwrap()]).expect_code(0);
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let (m2, _) = write_version(&other_dir, "1.0", &[("install.sh", b"touch ../../other-installed\n"), ("uninstall.sh", b"true\n")]);
    server.cli(&["package", "create", "other", "--manifest", m2.to_str().unwrap()]).expect_code(0);

    let first = send_configure(&server, &node, &["action=Install", "name=tools", &root_param]);
    let log = root.join("log");
    poll("the first install to start", LIMIT, || std::fs::read_to_string(&log).ok().filter(|t| t.contains("start")));
    let second = send_configure(&server, &node, &["action=Install", "name=tools", &root_param]);
    crate::agents::wait_running(&server, &second);
    // Another package is not held up while the first install waits.
    let other = configure(&server, &node, &["action=Install", "name=other", &root_param]);
    assert_eq!(other["status"], "Success", "{other}");
    assert!(root.join("other-installed").exists());
    // Time for an unserialised second run to reach its own install.sh; serialised, it waits whatever the time.
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(root.join("release"), b"").unwrap();
    let (first, second) = (finished(&server, &first, &node), finished(&server, &second, &node));
    assert_eq!((first["status"].as_str(), second["status"].as_str()), (Some("Success"), Some("Success")), "{first}\n{second}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "start\nend\n", "the install scripts did not overlap");
    assert!(second["stdout"].as_str().unwrap().contains("\"Outcome\":\"AlreadyInstalled\""), "{second}");
}

/// Grants `configure-package` an install root under `dir` and the server's origin, and starts an agent; the agent and the root.
pub fn agent_with_install_root(server: &FleetServer, dir: &Path, name: &str) -> (Agent, PathBuf) {
    let root = dir.join("pkgroot");
    std::fs::create_dir_all(&root).unwrap();
    let r = root.display().to_string();
    let data = server.data_dir().to_str().unwrap().to_string();
    let grants = [format!("fs:rw:{r}"), format!("exec:/usr/bin/env -C {r}/* **"), format!("http:{}", server.url)];
    let mut args = vec!["plugin", "grant", "--data-dir", &data, "configure-package"];
    for g in &grants {
        args.extend(["--grant", g.as_str()]);
    }
    server.cli(&args).expect_code(0);
    (Agent::start(server, dir, name, &[("Role", "pkg")]), root)
}

/// Waits until the association has `runs` runs for `node`, the newest ended Success; returns it.
fn wait_association(server: &FleetServer, node: &str, runs: usize) -> Value {
    poll(&format!("keep-tools to succeed {runs} times on {node}"), LIMIT, || {
        let history = json_of(server.get(&format!("/v1/associations/keep-tools/nodes/{node}"), Some(&server.token)), StatusCode::OK);
        let history = history.as_array()?.clone();
        let newest = history.first()?;
        (history.len() >= runs && newest["status"] == "Success" && !newest["endedAt"].is_null()).then(|| newest.clone())
    })
}
