//! Bosun-CleanupOrphanedVolumes through a real `bosun server` against moto: a
//! dry run that deletes nothing, and a run past the approval threshold that
//! waits for an approval, snapshots, deletes and records an OpsItem.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::moto::{self, Moto, texts};
use super::{CloudDir, unique_tag};
use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

const LIMIT: Duration = Duration::from_secs(120);

/// Creates `count` unattached volumes tagged `Test=tag`; their ids.
fn create_volumes(moto: &Moto, tag: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| {
            let xml = moto.call(
                "ec2",
                &[
                    ("Action", "CreateVolume"),
                    ("Size", "1"),
                    ("AvailabilityZone", "us-east-1a"),
                    ("TagSpecification.1.ResourceType", "volume"),
                    ("TagSpecification.1.Tag.1.Key", "Test"),
                    ("TagSpecification.1.Tag.1.Value", tag),
                ],
            );
            texts(&xml, "volumeId").remove(0)
        })
        .collect()
}

fn volumes_tagged(moto: &Moto, tag: &str) -> Vec<String> {
    let xml = moto.call("ec2", &[("Action", "DescribeVolumes"), ("Filter.1.Name", "tag:Test"), ("Filter.1.Value.1", tag)]);
    texts(&xml, "volumeId")
}

fn snapshots_of(moto: &Moto, volume: &str) -> Vec<String> {
    let xml = moto.call("ec2", &[("Action", "DescribeSnapshots"), ("Filter.1.Name", "volume-id"), ("Filter.1.Value.1", volume)]);
    texts(&xml, "snapshotId")
}

fn start(server: &FleetServer, parameters: Value) -> String {
    let body = json!({"document": "Bosun-CleanupOrphanedVolumes", "parameters": parameters});
    let started = json_of(server.post("/v1/executions", Some(&server.token), &body), StatusCode::CREATED);
    started["executionId"].as_str().unwrap().to_string()
}

fn wait_for(server: &FleetServer, id: &str, statuses: &[&str]) -> Value {
    poll(&format!("execution {id} to reach {statuses:?}"), LIMIT, || {
        let execution = json_of(server.get(&format!("/v1/executions/{id}"), Some(&server.token)), StatusCode::OK);
        statuses.contains(&execution["status"].as_str().unwrap_or_default()).then_some(execution)
    })
}

#[test]
fn cleanup_lists_on_a_dry_run_and_deletes_after_approval() {
    let moto = moto::shared();
    let mut server = FleetServer::start(&[]);
    CloudDir::configure(server.data_dir(), moto, &["aws:ec2:us-east-1"]);
    server.restart();
    let tag = unique_tag("volumes");
    let volumes = create_volumes(moto, &tag, 3);
    let filters = json!([{"Name": "tag:Test", "Values": [tag]}]);

    let dry = start(&server, json!({"MinimumAgeDays": 0, "Filters": filters}));
    let dry = wait_for(&server, &dry, &["Success", "Failed"]);
    assert_eq!(dry["status"], "Success", "{dry}");
    assert_eq!(dry["outputs"]["FindVolumes.Count"], 3);
    assert_eq!(volumes_tagged(moto, &tag).len(), 3, "a dry run deletes nothing");

    // Volumes younger than the minimum age are left alone.
    let young =
        wait_for(&server, &start(&server, json!({"MinimumAgeDays": 1, "Filters": filters, "DryRun": false})), &["Success", "Failed"]);
    assert_eq!(young["outputs"]["FindVolumes.Count"], 0, "{young}");

    let id = start(
        &server,
        json!({"MinimumAgeDays": 0, "Filters": filters, "DryRun": false, "SnapshotBeforeDelete": true, "ApprovalThreshold": 2}),
    );
    wait_for(&server, &id, &["Waiting"]);
    assert_eq!(volumes_tagged(moto, &tag).len(), 3, "nothing is deleted before the approval");
    let signal = server.post(
        &format!("/v1/executions/{id}/signals"),
        Some(&server.token),
        &json!({"kind": "approve", "comment": "old test volumes"}),
    );
    assert!(signal.status().is_success(), "{}", signal.text().unwrap_or_default());
    let done = wait_for(&server, &id, &["Success", "Failed"]);
    assert_eq!(done["status"], "Success", "{done}");
    assert!(volumes_tagged(moto, &tag).is_empty(), "the volumes are deleted");
    for volume in &volumes {
        assert_eq!(snapshots_of(moto, volume).len(), 1, "a snapshot of {volume} was kept");
    }
    let opsitem = done["outputs"]["Record.OpsItemId"].as_str().unwrap();
    let item = json_of(server.get(&format!("/v1/opsitems/{opsitem}"), Some(&server.token)), StatusCode::OK);
    let mut listed: Vec<String> = serde_json::from_value(item["relatedResources"].clone()).unwrap();
    listed.sort();
    let mut expected = volumes.clone();
    expected.sort();
    assert_eq!(listed, expected, "{item}");
    assert_eq!(item["title"], "Deleted 3 unattached EBS volumes");
}
