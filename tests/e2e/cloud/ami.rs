//! Bosun-PatchAmiAndRefreshAsg through a real `bosun server` against moto (whose
//! instance refreshes are the fixture's, moto_instance_refresh.py): the test
//! learns the build instance's id from the running execution and starts a real
//! `bosun-agent` registered with an activation tagged `InstanceId=<that id>`, so
//! the Run Command step really scans on a node. Then the state is checked
//! through the EC2 and Auto Scaling APIs: the AMI, the template version, the
//! terminated build instance, the refresh and the replaced instances. Failure
//! paths: a refresh that fails, and an agent that never registers (the build
//! instance is terminated all the same). `bosun:waitForNode` alone: a silent node
//! and two Online nodes with the tag are refused.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::moto::{self, Moto, texts};
use super::{CloudDir, states, unique_tag};
use crate::agents::{Agent, command, invocation};
use crate::fleet::{FleetServer, json_of};
use crate::support::poll;

const LIMIT: Duration = Duration::from_secs(120);
const DOCUMENT: &str = "Bosun-PatchAmiAndRefreshAsg";
/// An image id moto does not have: instances launch from it, a refresh to it fails.
const MISSING_AMI: &str = "ami-12345678";

/// A server whose aws-api plugin may call EC2 and Auto Scaling in moto, and whose
/// patch-baseline plugin may read this machine's package databases.
fn cloud_server(moto: &Moto) -> FleetServer {
    let mut server = FleetServer::start(&[]);
    CloudDir::configure(server.data_dir(), moto, &["aws:ec2:us-east-1", "aws:autoscaling:us-east-1"]);
    let data = server.data_dir().to_str().unwrap().to_string();
    let grants = ["--grant", "fs:ro:/var/lib/dpkg", "--grant", "fs:ro:/var/lib/apt/lists", "--grant", "fs:ro:/run"];
    crate::support::bosun(&[&["plugin", "grant", "--data-dir", &data, "patch-baseline"][..], &grants[..]].concat()).expect_code(0);
    server.restart();
    server
}

/// A launch template (version 1 uses `image`) and a group of `size` instances
/// launched from `version` of it; the template id and the instance ids.
fn template_and_group(moto: &Moto, name: &str, image: &str, version: &str, size: usize) -> (String, Vec<String>) {
    let template =
        moto.call("ec2", &[("Action", "CreateLaunchTemplate"), ("LaunchTemplateName", name), ("LaunchTemplateData.ImageId", image)]);
    let template = texts(&template, "launchTemplateId").remove(0);
    let size = size.to_string();
    let created = moto.call(
        "autoscaling",
        &[
            ("Action", "CreateAutoScalingGroup"),
            ("AutoScalingGroupName", name),
            ("MinSize", &size),
            ("MaxSize", &size),
            ("DesiredCapacity", &size),
            ("LaunchTemplate.LaunchTemplateId", &template),
            ("LaunchTemplate.Version", version),
            ("AvailabilityZones.member.1", "us-east-1a"),
        ],
    );
    assert!(!created.contains("<Error>"), "{created}");
    (template, group_instances(moto, name))
}

fn group_instances(moto: &Moto, group: &str) -> Vec<String> {
    let xml = moto.call("autoscaling", &[("Action", "DescribeAutoScalingGroups"), ("AutoScalingGroupNames.member.1", group)]);
    let mut ids = texts(&xml, "InstanceId");
    ids.sort();
    ids
}

fn start(server: &FleetServer, parameters: Value) -> String {
    let body = json!({"document": DOCUMENT, "parameters": parameters});
    let started = json_of(server.post("/v1/executions", Some(&server.token), &body), StatusCode::CREATED);
    started["executionId"].as_str().unwrap().to_string()
}

fn execution(server: &FleetServer, id: &str) -> Value {
    json_of(server.get(&format!("/v1/executions/{id}"), Some(&server.token)), StatusCode::OK)
}

fn wait_end(server: &FleetServer, id: &str) -> Value {
    poll(&format!("execution {id} to end"), LIMIT, || {
        let view = execution(server, id);
        matches!(view["status"].as_str(), Some("Success" | "Failed" | "TimedOut" | "Cancelled")).then_some(view)
    })
}

/// The build instance's id, once the execution has launched it.
fn build_instance(server: &FleetServer, id: &str) -> String {
    poll(&format!("execution {id} to launch its build instance"), LIMIT, || {
        let view = execution(server, id);
        let steps = view["steps"].as_array()?;
        let launch = steps.iter().find(|s| s["name"] == "LaunchBuildInstance")?;
        launch["outputs"]["InstanceId"].as_str().map(str::to_string)
    })
}

/// The step of an execution named `name`.
fn step<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["steps"].as_array().and_then(|s| s.iter().find(|s| s["name"] == name)).unwrap_or_else(|| panic!("no step {name}: {view}"))
}

fn scannable() -> bool {
    let ready = std::path::Path::new("/var/lib/dpkg/status").exists() && std::path::Path::new("/var/lib/apt/lists").exists();
    if !ready {
        println!("skipped: this machine has no dpkg database or apt lists for the build node to scan");
    }
    ready
}

#[test]
fn a_patched_ami_rolls_out_and_a_failed_refresh_fails_the_execution() {
    if !scannable() {
        return;
    }
    let moto = moto::shared();
    let server = cloud_server(moto);
    let tag = unique_tag("ami");
    let (template, before) = template_and_group(moto, &tag, MISSING_AMI, "$Latest", 2);
    let id = start(
        &server,
        json!({"SourceAmiId": "ami-0123456789abcdef0", "LaunchTemplateId": template, "AutoScalingGroupName": tag,
               "PatchOperation": "Scan", "SetAsDefault": true, "NodeRegistrationTimeoutSeconds": 120}),
    );
    let instance = build_instance(&server, &id);
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, dir.path(), "ami-build", &[("InstanceId", &instance)]);
    let done = wait_end(&server, &id);
    assert_eq!(done["status"], "Success", "{done}\n{}", agent.log_text());

    let image = done["outputs"]["CreateImage.ImageId"].as_str().unwrap().to_string();
    let refresh = done["outputs"]["StartInstanceRefresh.InstanceRefreshId"].as_str().unwrap().to_string();
    let images = moto.call("ec2", &[("Action", "DescribeImages"), ("ImageId.1", &image)]);
    assert_eq!(texts(&images, "imageState"), ["available"], "{images}");
    assert_eq!(states(moto, std::slice::from_ref(&instance)), ["terminated"], "the build instance is gone");
    let versions = moto.call(
        "ec2",
        &[("Action", "DescribeLaunchTemplateVersions"), ("LaunchTemplateId", &template), ("LaunchTemplateVersion.1", "$Default")],
    );
    assert_eq!(texts(&versions, "versionNumber"), ["2"], "the new version is the default: {versions}");
    assert_eq!(texts(&versions, "imageId"), std::slice::from_ref(&image), "{versions}");
    let refreshes = moto.call(
        "autoscaling",
        &[("Action", "DescribeInstanceRefreshes"), ("AutoScalingGroupName", &tag), ("InstanceRefreshIds.member.1", &refresh)],
    );
    assert_eq!(texts(&refreshes, "Status"), ["Successful"], "{refreshes}");
    let after = group_instances(moto, &tag);
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|i| !before.contains(i)), "every instance was replaced: {before:?} -> {after:?}");
    let described = moto.call("ec2", &[("Action", "DescribeInstances"), ("InstanceId.1", &after[0]), ("InstanceId.2", &after[1])]);
    assert_eq!(texts(&described, "imageId"), [image.clone(), image.clone()], "the new instances run the new AMI");

    let command_id = step(&done, "PatchBuildInstance")["outputs"]["CommandId"].as_str().unwrap().to_string();
    let run = command(&server, &command_id);
    assert_eq!(run["documentName"], "Bosun-RunPatchBaseline", "{run}");
    let invoked = invocation(&run, &agent.node_id);
    assert_eq!(invoked["status"], "Success", "{invoked}");

    // A group pinned to a version whose image is gone: the refresh fails, and so does the execution.
    let pinned = unique_tag("ami-pinned");
    let (template, _) = template_and_group(moto, &pinned, MISSING_AMI, "1", 1);
    let id = start(
        &server,
        json!({"SourceAmiId": "ami-0123456789abcdef0", "LaunchTemplateId": template, "AutoScalingGroupName": pinned,
               "PatchOperation": "Scan", "NodeRegistrationTimeoutSeconds": 120}),
    );
    let instance = build_instance(&server, &id);
    let retag = json!({"add": {"InstanceId": instance}});
    json_of(server.post(&format!("/v1/nodes/{}/tags", agent.node_id), Some(&server.token), &retag), StatusCode::OK);
    let failed = wait_end(&server, &id);
    assert_eq!(failed["status"], "Failed", "{failed}");
    let message = failed["failureMessage"].as_str().unwrap();
    assert!(message.contains("step \"RefreshFailed\""), "{message}");
    assert!(
        message.contains(&format!("of {pinned} ended Failed")) && message.contains(&format!("{MISSING_AMI}]' does not exist")),
        "{message}"
    );
    assert!(failed["outputs"]["CreateImage.ImageId"].is_string(), "the AMI was still made: {failed}");
    assert_eq!(states(moto, &[instance]), ["terminated"]);
    drop(agent);
}

#[test]
fn a_build_node_that_never_registers_times_out_and_the_instance_is_terminated() {
    let moto = moto::shared();
    let server = cloud_server(moto);
    let tag = unique_tag("ami-lonely");
    let (template, before) = template_and_group(moto, &tag, MISSING_AMI, "$Latest", 1);
    let id = start(
        &server,
        json!({"SourceAmiId": "ami-0123456789abcdef0", "LaunchTemplateId": template, "AutoScalingGroupName": tag,
               "NodeRegistrationTimeoutSeconds": 2}),
    );
    let done = wait_end(&server, &id);
    assert_eq!(done["status"], "Failed", "{done}");
    let instance = step(&done, "LaunchBuildInstance")["outputs"]["InstanceId"].as_str().unwrap().to_string();
    let message = done["failureMessage"].as_str().unwrap();
    assert!(
        message.starts_with("step \"WaitForNode\" Failed: no node tagged InstanceId=")
            && message.contains(&instance)
            && message.contains("within 2 s (no node has that tag)"),
        "{message}"
    );
    assert_eq!(step(&done, "TerminateAfterFailure")["status"], "Success", "{done}");
    assert_eq!(states(moto, &[instance]), ["terminated"], "no build instance is left running");
    assert!(done["outputs"].get("CreateImage.ImageId").is_none(), "{done}");
    assert_eq!(group_instances(moto, &tag), before, "the group was not touched");

    // Hostile parameters are refused before anything is launched, naming the parameter.
    let good = json!({"SourceAmiId": "ami-0123456789abcdef0", "LaunchTemplateId": template, "AutoScalingGroupName": tag});
    for (name, value) in [
        ("SourceAmiId", json!("ami-0123456789abcdef0; reboot")),
        ("SourceAmiId", json!("x".repeat(100_000))),
        ("LaunchTemplateId", json!("lt-../../etc")),
        ("SourceVersion", json!("$Latest\n")),
        ("AutoScalingGroupName", json!("web\u{0}")),
        ("PatchOperation", json!("Uninstall")),
        ("NodeRegistrationTimeoutSeconds", json!("soon")),
        ("InstanceType", json!("t3.micro --user-data")),
    ] {
        let mut parameters = good.clone();
        parameters[name] = value;
        let body = json!({"document": DOCUMENT, "parameters": parameters});
        let answer = json_of(server.post("/v1/executions", Some(&server.token), &body), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(answer.to_string().contains(name), "{name}: {answer}");
    }
}

/// A runbook of one `bosun:waitForNode` step for `InstanceId=value`.
fn wait_document(value: &str, timeout: u32) -> String {
    format!(
        "schemaVersion: \"0.3\"\nmainSteps:\n  - name: Wait\n    action: bosun:waitForNode\n    inputs:\n      TagKey: InstanceId\n      TagValue: {value}\n      TimeoutSeconds: {timeout}\n    outputs:\n      - Name: NodeId\n        Selector: $.NodeId\n        Type: String\n"
    )
}

fn run_document(server: &FleetServer, name: &str, content: &str) -> Value {
    let created = server.post("/v1/documents", Some(&server.token), &json!({"name": name, "content": content}));
    assert!(created.status().is_success(), "{}", created.text().unwrap_or_default());
    let started = json_of(server.post("/v1/executions", Some(&server.token), &json!({"document": name})), StatusCode::CREATED);
    wait_end(server, started["executionId"].as_str().unwrap())
}

#[test]
fn wait_for_node_takes_one_online_node_only() {
    // A registered node that went silent is not Online.
    let server = FleetServer::start(&["--heartbeat-gap", "1"]);
    let (activation, code) = server.activation(&json!({"tags": {"InstanceId": "i-0000000000000aaaa"}}));
    let (silent, _) = server.register(&activation, &code, "silent");
    poll("the node to lose its connection", LIMIT, || {
        let node = json_of(server.get(&format!("/v1/nodes/{silent}"), Some(&server.token)), StatusCode::OK);
        (node["pingStatus"] == "ConnectionLost").then_some(())
    });
    let lost = run_document(&server, "wait-silent", &wait_document("i-0000000000000aaaa", 1));
    assert_eq!(lost["status"], "Failed", "{lost}");
    assert!(lost["failureMessage"].as_str().unwrap().contains("within 1 s (1 node(s) have it but none is Online)"), "{lost}");
    let hostile = wait_document("v", 1).replace("TagKey: InstanceId", "TagKey: \"aws:x\"");
    let hostile = run_document(&server, "wait-hostile", &hostile);
    assert!(
        hostile["failureMessage"].as_str().unwrap_or_default().contains("TagKey: tag key \"aws:x\": the aws: prefix is reserved"),
        "{hostile}"
    );
    drop(server);

    // Two Online nodes with the tag: it names no single node.
    let server = FleetServer::start(&[]);
    let (activation, code) = server.activation(&json!({"tags": {"InstanceId": "i-0000000000000bbbb"}, "registrationLimit": 2}));
    let (first, _) = server.register(&activation, &code, "twin-1");
    let (second, _) = server.register(&activation, &code, "twin-2");
    let two = run_document(&server, "wait-two", &wait_document("i-0000000000000bbbb", 5));
    assert_eq!(two["status"], "Failed", "{two}");
    let mut twins = [first, second];
    twins.sort();
    let expected =
        format!("2 online nodes are tagged InstanceId=i-0000000000000bbbb ({}, {}): the tag must name one node", twins[0], twins[1]);
    assert!(two["failureMessage"].as_str().unwrap().contains(&expected), "{two}");
}
