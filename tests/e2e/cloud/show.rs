//! `bosun cloud show` and `bosun cloud check` (and their routes) through a real
//! `bosun server`: the configuration in effect without a key, a signed call that
//! moto answers, and a refusal that reports the service's error code.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;

use reqwest::StatusCode;
use serde_json::json;

use super::moto;
use super::{ACCESS_KEY, CloudDir, SECRET};
use crate::fleet::{FleetServer, json_of};
use crate::support::write;

/// A loopback endpoint that refuses every request as AWS does bad keys; its URL.
fn refusing_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let _ = reader.read_exact(&mut vec![0; length]);
            let body = "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors></Response>";
            let answer = format!("HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = (&stream).write_all(answer.as_bytes());
        }
    });
    url
}

#[test]
fn show_reports_the_configuration_and_check_makes_a_signed_call() {
    let moto = moto::shared();
    let mut server = FleetServer::start(&[]);
    CloudDir::configure(server.data_dir(), moto, &["aws:ec2:us-east-1", "aws:autoscaling:us-east-1"]);
    server.restart();

    let shown = server.cli(&["cloud", "show", "--output", "json"]);
    shown.expect_code(0);
    let view = shown.json();
    assert_eq!(view["region"], "us-east-1");
    assert_eq!(view["regionFrom"], "config");
    assert_eq!(view["credentials"], json!({"source": "inline", "sessionToken": false}));
    assert_eq!(view["endpoints"], json!({"ec2": moto.url, "autoscaling": moto.url}));
    assert_eq!(view["grants"], json!(["aws:ec2:us-east-1", "aws:autoscaling:us-east-1"]));
    assert_eq!(view["configFound"], true);
    let text = server.cli(&["cloud", "show"]);
    assert!(text.expect_code(0).stdout.contains("inline, in the configuration file"), "{}", text.stdout);
    for run in [&shown, &text] {
        for key in [SECRET, ACCESS_KEY] {
            assert!(!run.stdout.contains(key) && !run.stderr.contains(key), "{key} was shown:\n{}", run.stdout);
        }
    }

    let checked = server.cli(&["cloud", "check", "--output", "json"]);
    checked.expect_code(0);
    let result = checked.json();
    assert_eq!(
        (result["ok"].as_bool(), result["api"].as_str(), result["httpStatus"].as_u64()),
        (Some(true), Some("DescribeRegions"), Some(200))
    );
    let groups = server.cli(&["cloud", "check", "--service", "autoscaling"]);
    assert!(groups.expect_code(0).stdout.starts_with("ok: autoscaling DescribeAutoScalingGroups in us-east-1"), "{}", groups.stdout);
    assert!(!checked.stdout.contains(SECRET) && !server.log_text().contains(SECRET));

    // Hostile or wrong requests.
    server.cli(&["cloud", "check", "--service", "s3"]).expect_code(2);
    for body in [json!({"service": "x".repeat(100_000)}), json!({"service": 5}), json!({"other": 1}), json!([])] {
        let response = server.post("/v1/cloud/check", Some(&server.token), &body);
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(!response.text().unwrap().contains(&"x".repeat(100)), "the answer does not echo the input");
    }
    for (method, path) in [(reqwest::Method::GET, "/v1/cloud"), (reqwest::Method::POST, "/v1/cloud/check")] {
        let response = server.send(server.request(method, path).json(&json!({})), None);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let doc = json_of(server.get("/v1/openapi.json", Some(&server.token)), StatusCode::OK);
    assert!(doc["paths"]["/v1/cloud"]["get"].is_object() && doc["paths"]["/v1/cloud/check"]["post"].is_object());

    // Keys the service refuses: the check fails with the service's error code.
    let config = json!({"region": "eu-west-1", "credentials": {"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET},
                        "endpoints": {"ec2": refusing_endpoint()}});
    write(server.data_dir(), "cloud.json", &config.to_string());
    let still = server.cli(&["cloud", "show", "--output", "json"]).json();
    assert_eq!(still["region"], "us-east-1", "a changed file applies at the next start, as for runbooks");
    server.restart();
    let refused = server.cli(&["cloud", "check"]);
    refused.expect_code(1);
    assert!(
        refused.stdout.contains("failed: ec2 DescribeRegions in eu-west-1")
            && refused.stdout.contains("AuthFailure: AWS was not able to validate the provided access credentials (HTTP 401)"),
        "{}",
        refused.stdout
    );
    assert!(!refused.stdout.contains(SECRET) && !refused.stdout.contains(ACCESS_KEY));

    // Credentials from the environment (none set for the server): shown as such, and the check says what is missing.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        println!("skipped the environment case: AWS_ACCESS_KEY_ID is set");
        return;
    }
    write(server.data_dir(), "cloud.json", r#"{"region": "us-east-1", "endpoints": {"ec2": "http://127.0.0.1:9"}}"#);
    server.restart();
    let view = server.cli(&["cloud", "show", "--output", "json"]).json();
    assert_eq!(view["credentials"]["source"], "environment");
    let missing = server.cli(&["cloud", "check", "--output", "json"]);
    missing.expect_code(1);
    assert!(missing.json()["message"].as_str().unwrap().contains("no cloud credentials are configured"), "{}", missing.stdout);
}
