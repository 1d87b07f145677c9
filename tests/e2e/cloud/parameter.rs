//! Credentials kept as a Parameter Store SecureString: a `bosun server` signs
//! with them, and they appear in no output, log or store row in plain text.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::moto::{self, texts};
use super::{ACCESS_KEY, CloudDir, SECRET, assert_not_stored, launch, unique_tag};
use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

#[test]
fn credentials_from_a_secure_string_sign_calls() {
    let moto = moto::shared();
    let mut server = FleetServer::start(&[]);
    std::fs::write(server.data_dir().join("param.key"), format!("{}\n", "22".repeat(32))).unwrap();
    CloudDir::configure_with(server.data_dir(), moto, &["aws:ec2:us-east-1"], json!({"parameter": "/bosun/cloud/keys"}));
    server.restart();
    let keys = json!({"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET}).to_string();
    let put = server.post(
        "/v1/parameters/put",
        Some(&server.token),
        &json!({"name": "/bosun/cloud/keys", "value": keys, "type": "SecureString"}),
    );
    assert_eq!(put.status(), StatusCode::OK);

    let tag = unique_tag("parameter");
    let ids = launch(moto, &tag, 1);
    let document = format!(
        "schemaVersion: \"0.3\"\nmainSteps:\n  - name: Describe\n    action: aws:executeAwsApi\n    inputs:\n      Service: ec2\n      Api: DescribeInstances\n      InstanceIds: [{}]\n    outputs:\n      - Name: State\n        Selector: $.Reservations[0].Instances[0].State.Name\n        Type: String\noutputs:\n  - Describe.State\n",
        ids[0]
    );
    let created = server.post("/v1/documents", Some(&server.token), &json!({"name": "describe-one", "content": document}));
    assert!(created.status().is_success(), "{}", created.text().unwrap_or_default());
    let started = json_of(server.post("/v1/executions", Some(&server.token), &json!({"document": "describe-one"})), StatusCode::CREATED);
    let id = started["executionId"].as_str().unwrap().to_string();
    let execution = poll("the execution to end", Duration::from_secs(120), || {
        let execution = json_of(server.get(&format!("/v1/executions/{id}"), Some(&server.token)), StatusCode::OK);
        matches!(execution["status"].as_str(), Some("Success" | "Failed")).then_some(execution)
    });
    assert_eq!(execution["status"], "Success", "{execution}");
    assert_eq!(execution["outputs"]["Describe.State"], "running");
    assert_eq!(texts(&moto.call("ec2", &[("Action", "DescribeInstances"), ("InstanceId.1", &ids[0])]), "instanceId"), ids);
    let log = server.log_text();
    assert!(!log.contains(SECRET) && !log.contains(ACCESS_KEY), "a key is in the server's log:\n{log}");
    assert!(!execution.to_string().contains(SECRET));
    assert_not_stored(server.data_dir());
}
