//! `bosun server --tls-cert/--tls-key`: the API over HTTPS with a self-signed
//! certificate, trusted by a client and by the CLI through BOSUN_CA_CERT; plain
//! HTTP and untrusting clients get no answer.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;

use crate::agents::Agent;
use crate::fleet::FleetServer;

#[test]
fn the_api_is_served_over_tls_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();

    let mut server = FleetServer::start(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    server.trust(certified.cert.pem().as_bytes());
    assert!(server.url.starts_with("https://"), "{}", server.url);

    let trusting = Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let health = trusting.get(format!("{}/v1/health", server.url)).send().unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let unauthenticated = trusting.get(format!("{}/v1/nodes", server.url)).send().unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);

    let untrusting = Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    assert!(untrusting.get(format!("{}/v1/health", server.url)).send().is_err(), "an unknown certificate must not be accepted");
    let plain = server.url.replacen("https://", "http://", 1);
    assert!(untrusting.get(format!("{plain}/v1/health")).send().is_err(), "plain HTTP must get no answer");

    // The CLI trusts the certificate through BOSUN_CA_CERT (or --ca-cert).
    let without = server.cli(&["node", "list", "--output", "json"]);
    assert_ne!(without.code, 0, "{}", without.stdout);
    let with = server.cli(&["node", "list", "--output", "json", "--ca-cert", cert.to_str().unwrap()]);
    with.expect_code(0);
    assert_eq!(with.json(), serde_json::json!([]));

    // An agent trusts it with --ca-cert, registers and runs a command over HTTPS.
    let agents = tempfile::tempdir().unwrap();
    let agent = Agent::start_with(&server, agents.path(), "tls", &[], &["--ca-cert", cert.to_str().unwrap()]);
    let run = server.cli(&[
        "command",
        "send",
        "--document",
        "AWS-RunShellScript",
        "--targets",
        &format!("ids:{}", agent.node_id),
        "-p",
        "commands=echo secure",
        "--wait",
        "--output",
        "json",
        "--ca-cert",
        cert.to_str().unwrap(),
    ]);
    run.expect_code(0);
    assert_eq!(run.json()["invocations"][0]["stdout"], "secure\n");
}

#[test]
fn a_missing_or_broken_certificate_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not PEM").unwrap();
    let data = dir.path().join("data");
    let run = crate::support::bosun(&[
        "server",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        junk.to_str().unwrap(),
        "--tls-key",
        junk.to_str().unwrap(),
    ]);
    run.expect_code(2);
    assert!(run.stderr.contains("junk.pem"), "{}", run.stderr);
    let half = crate::support::bosun(&["server", "--data-dir", data.to_str().unwrap(), "--tls-cert", junk.to_str().unwrap()]);
    assert_eq!(half.code, 2, "{}", half.stderr);
    assert!(half.stderr.contains("--tls-key"), "{}", half.stderr);
}
