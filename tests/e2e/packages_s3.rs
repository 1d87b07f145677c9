//! Distributor with its archives in an S3-compatible bucket (moto's S3 on a
//! loopback port): `bosun package create` unchanged, the archive only in the
//! bucket, an install on a real agent that downloads through the control plane,
//! a tampered object refused with its sha256, a missing object named, a
//! re-upload repairing it, deletion removing the object, a missing bucket and
//! bad configurations refused naming the field, and the keys nowhere but in
//! the configuration.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::json;

use crate::cloud::moto::{self, Moto};
use crate::fleet::{FleetServer, json_of};
use crate::packages::{agent_with_install_root, configure, write_version};
use crate::support::{Run, bosun_path, poll, write};

const SECRET: &str = "bosunContentStoreSecret/NeverShownAnywhere42";
const ACCESS_KEY: &str = "AKIDBOSUNCONTENTSTORE1";

/// A request straight to moto's S3 (moto reads the service from the signature's scope and checks no more).
fn s3(moto: &Moto, method: reqwest::Method, path: &str, body: Option<Vec<u8>>) -> reqwest::blocking::Response {
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    let mut request = Client::new().request(method, format!("{}{path}", moto.url)).header("authorization", auth);
    if let Some(body) = body {
        request = request.body(body);
    }
    request.send().unwrap_or_else(|e| panic!("cannot call moto's S3: {e}"))
}

/// Creates a bucket of its own for a test; its name.
fn bucket(moto: &Moto, test: &str) -> String {
    let name = format!("{test}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let created = s3(moto, reqwest::Method::PUT, &format!("/{name}"), None);
    assert!(created.status().is_success(), "cannot create the bucket {name}: {}", created.text().unwrap_or_default());
    name
}

/// Points a data directory's content store at `bucket` in moto, with the keys in the cloud configuration.
fn configure_store(data: &Path, moto: &Moto, bucket: &str) {
    write(data, "cloud.json", &json!({"credentials": {"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET}}).to_string());
    let store =
        json!({"s3": {"bucket": bucket, "prefix": "bosun/archives/", "region": "us-east-1", "endpoint": moto.url, "pathStyle": true}});
    write(data, "content-store.json", &store.to_string());
}

#[track_caller]
fn assert_no_key(texts: &[&str], data: &Path) {
    for needle in [SECRET, ACCESS_KEY] {
        for text in texts {
            assert!(!text.contains(needle), "{needle} was shown:\n{text}");
        }
        let holding: Vec<String> = crate::cloud::files_holding(data, needle).into_iter().filter(|f| !f.ends_with("cloud.json")).collect();
        assert!(holding.is_empty(), "{needle} is stored in {holding:?}");
    }
}

#[test]
fn packages_live_in_the_bucket_and_nodes_install_them_through_the_control_plane() {
    let moto = moto::shared();
    let bucket = bucket(moto, "packages");
    let mut server = FleetServer::start(&[]);
    configure_store(server.data_dir(), moto, &bucket);
    server.restart();
    let store = server.cli(&["package", "store", "--output", "json"]);
    assert_eq!(store.json(), json!({"kind": "s3", "location": format!("s3://{bucket}/bosun/archives")}), "{}", store.stderr);
    let openapi = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    assert!(openapi["paths"]["/v1/packages/content/store"]["get"].is_object(), "the store route is in the OpenAPI document");
    assert_eq!(server.get("/v1/packages/content/store", None).status(), StatusCode::UNAUTHORIZED);

    let dir = tempfile::tempdir().unwrap();
    let install: &[u8] = b"cat VERSION > ../../marker\n";
    let files: [(&str, &[u8]); 3] = [("install.sh", install), ("uninstall.sh", b"rm -f ../../marker\n"), ("VERSION", b"1.0")];
    let (manifest, sha) = write_version(dir.path(), "1.0", &files);
    let m = manifest.to_str().unwrap();
    let created = server.cli(&["package", "create", "tools", "--manifest", m, "--output", "json"]);
    created.expect_code(0);
    let object = format!("/{bucket}/bosun/archives/{sha}");
    let stored = s3(moto, reqwest::Method::GET, &object, None);
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(bosun_package::sha256_hex(&stored.bytes().unwrap()), sha, "the bucket holds the archive under its sha256");
    assert!(!server.data_dir().join("packages").join(&sha[..2]).join(&sha).exists(), "nothing is kept in the data directory");
    let listed = server.cli(&["package", "list", "--output", "json"]);
    assert_eq!(listed.json()[0]["latestVersion"], "1.0", "{}", listed.stdout);

    // A node downloads through the control plane (it has no S3 credentials) and installs.
    let (agent, root) = agent_with_install_root(&server, dir.path(), "s3-node");
    let root_param = format!("installRoot={}", root.display());
    let done = configure(&server, &agent.node_id, &["action=Install", "name=tools", &root_param]);
    assert_eq!(done["status"], "Success", "{done}\n{}", agent.log_text());
    assert_eq!(std::fs::read_to_string(root.join("marker")).unwrap(), "1.0");

    // An object changed in the bucket: a version naming it is refused, saying so; a node refuses it too.
    let original = std::fs::read(dir.path().join("tools-1.0.zip")).unwrap();
    let mut tampered = original.clone();
    tampered[0] ^= 0xff;
    assert!(s3(moto, reqwest::Method::PUT, &object, Some(tampered)).status().is_success());
    // Version 1.1 names the same archive.
    let same = json!({"schemaVersion": "2.0", "version": "1.1", "packages": {"_any": {"_any": {"_any": {"file": "tools-1.0.zip"}}}},
        "files": {"tools-1.0.zip": {"checksums": {"sha256": sha}}}});
    let m2 = write(dir.path(), "manifest-1.1.json", &same.to_string());
    let body = json!({"manifest": same});
    let refused = json_of(server.post("/v1/packages/tools/versions", Some(&server.token), &body), StatusCode::UNPROCESSABLE_ENTITY);
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains(&format!("the archive tools-1.0.zip in s3://{bucket}/bosun/archives")), "{message}");
    assert!(message.contains(&format!("the content stored as sha256 {sha} hashes to")) && message.contains("upload it again"), "{message}");
    let (id, code) = server.activation(&json!({"registrationLimit": 1}));
    let (_, credential) = server.register(&id, &code, "s3-reader");
    let file = "/v1/agent/packages/tools/versions/1.0/files/tools-1.0.zip";
    let whole = server.get(file, Some(&credential));
    assert_eq!(whole.status(), StatusCode::OK);
    assert!(whole.bytes().is_err(), "a whole download of a changed object breaks off before its last piece");
    std::fs::remove_dir_all(root.join("tools")).unwrap();
    let corrupt = configure(&server, &agent.node_id, &["action=Install", "name=tools", &root_param]);
    assert_eq!(corrupt["status"], "Failed", "{corrupt}");
    assert!(corrupt.to_string().contains("refused, nothing was installed"), "{corrupt}");

    // Uploading the archive again repairs the object.
    server.cli(&["package", "create", "tools", "--manifest", m2.to_str().unwrap()]).expect_code(0);
    assert_eq!(bosun_package::sha256_hex(&s3(moto, reqwest::Method::GET, &object, None).bytes().unwrap()), sha);

    let intact = server.get(file, Some(&credential));
    assert_eq!(bosun_package::sha256_hex(&intact.bytes().unwrap()), sha, "a whole download of the repaired object");

    // A missing object is named, on the node's route and in the step.
    assert!(s3(moto, reqwest::Method::DELETE, &object, None).status().is_success());
    let missing = json_of(server.get(file, Some(&credential)), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(missing["message"].as_str().unwrap().contains(&format!("is missing from s3://{bucket}/bosun/archives")), "{missing}");
    let absent = configure(&server, &agent.node_id, &["action=Install", "name=tools", "version=1.0", &root_param]);
    assert_eq!(absent["status"], "Failed", "{absent}");
    assert!(s3(moto, reqwest::Method::PUT, &object, Some(original)).status().is_success());

    let deleted = server.cli(&["package", "delete", "tools", "--output", "json"]);
    deleted.expect_code(0);
    assert_eq!(deleted.json()["removedContent"], json!([sha]));
    assert_eq!(s3(moto, reqwest::Method::GET, &object, None).status(), StatusCode::NOT_FOUND, "the object left the bucket");
    assert_no_key(
        &[&server.log_text(), &agent.log_text(), &created.stdout, &created.stderr, &done.to_string(), &corrupt.to_string()],
        server.data_dir(),
    );

    // A bucket that does not exist: the upload fails naming it and the service's code.
    configure_store(server.data_dir(), moto, "no-such-bucket-for-bosun");
    server.restart();
    let (m3, _) = write_version(dir.path(), "2.0", &files);
    let failed = server.cli(&["package", "create", "tools", "--manifest", m3.to_str().unwrap()]);
    assert!(failed.code != 0 && failed.stderr.contains("s3://no-such-bucket-for-bosun/bosun/archives"), "{}", failed.stderr);
    assert!(failed.stderr.contains("NoSuchBucket"), "{}", failed.stderr);
    assert_no_key(&[&failed.stderr, &server.log_text()], server.data_dir());
}

/// Runs `bosun server` on `data`, which must refuse to start; what it said.
fn refused_start(data: &Path) -> Run {
    let mut child = Command::new(bosun_path())
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()])
        .env_remove("BOSUN_DATA_DIR")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = poll("bosun server to refuse its configuration", Duration::from_secs(30), || match child.try_wait() {
        Ok(Some(_)) => Some(true),
        Ok(None) => None,
        Err(_) => Some(false),
    });
    assert!(started);
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_bad_content_store_configuration_stops_the_server_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (config, field) in [
        (json!({"s3": {"bucket": "Bad_Bucket", "region": "us-east-1"}}), "s3.bucket"),
        (json!({"s3": {"bucket": "packages", "prefix": "../up", "region": "us-east-1"}}), "s3.prefix"),
        (json!({"s3": {"bucket": "packages", "region": "us-east-1", "endpoint": "ftp://x"}}), "s3.endpoint"),
        (json!({"s3": {"bucket": "packages"}}), "s3.region"),
        (
            json!({"s3": {"bucket": "packages", "region": "us-east-1", "credentials": {"accessKeyId": ACCESS_KEY, "secretAccessKey": 42}}}),
            "credentials",
        ),
    ] {
        write(&data, "content-store.json", &config.to_string());
        let run = refused_start(&data);
        assert_eq!(run.code, 2, "{config}: {}", run.stderr);
        assert!(run.stderr.contains("content-store.json") && run.stderr.contains(field), "{field}: {}", run.stderr);
        assert!(!run.stderr.contains(ACCESS_KEY), "{}", run.stderr);
    }
}
