//! Cloud runbooks against moto (an EC2-compatible API in server mode): calls
//! the plugin host signs, the actions of the `aws-api` plugin, the built-in
//! cloud runbooks, service errors and denials as step failures, and no
//! credential in outputs, logs or the store. moto's state is shared by the
//! tests of this binary, so each test tags what it creates with its own value.

mod ami;
pub mod moto;
mod parameter;
mod show;
mod volumes;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Run, bosun, write};
use moto::{Moto, texts};

/// A key that must never be seen outside the signer.
const SECRET: &str = "bosunCloudTestSecret/NeverShownAnywhere0123";
const ACCESS_KEY: &str = "AKIDBOSUNCLOUDTEST01";

/// A data directory whose cloud configuration points EC2 and Auto Scaling at moto.
struct CloudDir {
    _tmp: tempfile::TempDir,
    data: PathBuf,
}

impl CloudDir {
    fn new(moto: &Moto, grants: &[&str]) -> CloudDir {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        Self::configure(&data, moto, grants);
        CloudDir { _tmp: tmp, data }
    }

    /// Writes a data directory's cloud configuration (moto, the test keys) and grants the plugin.
    fn configure(data: &Path, moto: &Moto, grants: &[&str]) {
        Self::configure_with(data, moto, grants, serde_json::json!({"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET}));
    }

    /// As [`CloudDir::configure`], with another source of credentials.
    fn configure_with(data: &Path, moto: &Moto, grants: &[&str], credentials: Value) {
        let config = serde_json::json!({
            "region": "us-east-1",
            "credentials": credentials,
            "endpoints": {"ec2": moto.url, "autoscaling": moto.url},
        });
        write(data, "cloud.json", &config.to_string());
        grant(data, grants);
    }

    fn data_arg(&self) -> &str {
        self.data.to_str().unwrap()
    }

    fn grant(&self, grants: &[&str]) {
        grant(&self.data, grants);
    }

    /// Runs a document (a file, or a built-in by name) to its end; the execution as JSON.
    fn run(&self, document: &str, params: &[&str]) -> (Run, Value) {
        let path;
        let mut args = vec!["automation", "run", "--data-dir", self.data_arg(), "--output", "json"];
        if document.contains('\n') {
            path = write(&self.data, "doc.yaml", document);
            args.push(path.to_str().unwrap());
        } else {
            args.extend(["--document", document]);
        }
        for p in params {
            args.extend(["-p", p]);
        }
        let run = bosun(&args);
        let json = run.json();
        (run, json)
    }
}

/// Replaces the grants of the `aws-api` plugin of a data directory.
fn grant(data: &Path, grants: &[&str]) {
    let mut args = vec!["plugin", "grant", "--data-dir", data.to_str().unwrap(), "aws-api"];
    for grant in grants {
        args.extend(["--grant", grant]);
    }
    bosun(&args).expect_code(0);
}

/// Every file under `dir` that holds `needle`.
pub fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes())) {
            found.push(path.display().to_string());
        }
    }
    found
}

/// A value no other test uses, to tag what a test creates.
fn unique_tag(test: &str) -> String {
    format!("{test}-{}", uuid::Uuid::new_v4().simple())
}

/// Launches `count` instances tagged `Test=tag` through moto directly; their ids.
fn launch(moto: &Moto, tag: &str, count: usize) -> Vec<String> {
    let count = count.to_string();
    let xml = moto.call(
        "ec2",
        &[
            ("Action", "RunInstances"),
            ("ImageId", "ami-12345678"),
            ("MinCount", &count),
            ("MaxCount", &count),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "Test"),
            ("TagSpecification.1.Tag.1.Value", tag),
        ],
    );
    let ids = texts(&xml, "instanceId");
    assert_eq!(ids.len(), count.parse::<usize>().unwrap(), "{xml}");
    ids
}

/// The state name of each instance, as moto answers DescribeInstances.
fn states(moto: &Moto, ids: &[String]) -> Vec<String> {
    let keys: Vec<String> = (1..=ids.len()).map(|i| format!("InstanceId.{i}")).collect();
    let mut form = vec![("Action", "DescribeInstances")];
    form.extend(keys.iter().map(String::as_str).zip(ids.iter().map(String::as_str)));
    let xml = moto.call("ec2", &form);
    texts(&xml, "instanceState").iter().flat_map(|state| texts(state, "name")).collect()
}

#[track_caller]
fn assert_no_credential(dir: &CloudDir, run: &Run) {
    for needle in [SECRET, ACCESS_KEY] {
        assert!(!run.stdout.contains(needle) && !run.stderr.contains(needle), "{needle} was shown:\n{}\n{}", run.stdout, run.stderr);
    }
    assert_not_stored(&dir.data);
}

/// Neither key is in any file of the data directory but its cloud configuration.
#[track_caller]
fn assert_not_stored(data: &Path) {
    for needle in [SECRET, ACCESS_KEY] {
        let holding: Vec<String> = files_holding(data, needle).into_iter().filter(|f| !f.ends_with("cloud.json")).collect();
        assert!(holding.is_empty(), "{needle} is stored in {holding:?}");
    }
}

const LIFECYCLE: &str = r#"schemaVersion: "0.3"
parameters:
  Tag:
    type: String
mainSteps:
  - name: Launch
    action: aws:executeAwsApi
    inputs:
      Service: ec2
      Api: RunInstances
      ImageId: ami-12345678
      MinCount: 2
      MaxCount: 2
      TagSpecifications:
        - ResourceType: instance
          Tags:
            - Key: Test
              Value: "{{ Tag }}"
    outputs:
      - Name: InstanceIds
        Selector: $.Instances[*].InstanceId
        Type: StringList
      - Name: FirstId
        Selector: $.Instances[0].InstanceId
        Type: String
  - name: Running
    action: aws:waitForAwsResourceProperty
    inputs:
      Service: ec2
      Api: DescribeInstances
      InstanceIds: "{{ Launch.InstanceIds }}"
      PropertySelector: $.Reservations[*].Instances[*].State.Name
      DesiredValues: [running]
  - name: Stop
    action: aws:changeInstanceState
    inputs:
      InstanceIds: "{{ Launch.InstanceIds }}"
      DesiredState: stopped
      MaxConcurrency: "1"
  - name: Stopped
    action: aws:assertAwsResourceProperty
    inputs:
      Service: ec2
      Api: DescribeInstances
      Filters:
        - Name: "tag:Test"
          Values: ["{{ Tag }}"]
      PropertySelector: $.Reservations[*].Instances[*].State.Name
      DesiredValues: [stopped]
  - name: Image
    action: aws:createImage
    inputs:
      InstanceId: "{{ Launch.FirstId }}"
      ImageName: "image-{{ Tag }}"
outputs:
  - Launch.InstanceIds
  - Image.ImageId
  - Image.ImageState
"#;

#[test]
fn signed_calls_drive_ec2_and_keep_the_keys_hidden() {
    let moto = moto::shared();
    let dir = CloudDir::new(moto, &["aws:ec2:us-east-1"]);
    let tag = unique_tag("lifecycle");
    let (run, execution) = dir.run(LIFECYCLE, &[&format!("Tag={tag}")]);
    assert_eq!(execution["status"], "Success", "{execution}");
    let ids: Vec<String> = serde_json::from_value(execution["outputs"]["Launch.InstanceIds"].clone()).unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(states(moto, &ids), ["stopped", "stopped"], "the instances are stopped, as the API says");
    let image = execution["outputs"]["Image.ImageId"].as_str().unwrap();
    assert_eq!(execution["outputs"]["Image.ImageState"], "available");
    let images = moto.call("ec2", &[("Action", "DescribeImages"), ("ImageId.1", image)]);
    assert_eq!(texts(&images, "name"), [format!("image-{tag}")], "{images}");
    assert_no_credential(&dir, &run);
}

#[test]
fn service_errors_and_denials_are_clear_step_failures() {
    let moto = moto::shared();
    let dir = CloudDir::new(moto, &["aws:ec2:us-east-1"]);
    let call = |service: &str, api: &str, extra: &str| {
        format!(
            "schemaVersion: \"0.3\"\nmainSteps:\n  - name: Call\n    action: aws:executeAwsApi\n    inputs:\n      Service: {service}\n      Api: {api}\n{extra}"
        )
    };
    let (run, missing) = dir.run(&call("ec2", "DescribeInstances", "      InstanceIds: [i-0000000000000dead]\n"), &[]);
    assert_eq!(missing["status"], "Failed", "{missing}");
    let message = missing["failureMessage"].as_str().unwrap();
    assert!(message.contains("ec2 DescribeInstances failed: InvalidInstanceID.NotFound:") && message.contains("(HTTP 400)"), "{message}");
    assert_no_credential(&dir, &run);

    let (_, service) = dir.run(&call("autoscaling", "DescribeAutoScalingGroups", ""), &[]);
    assert_eq!(service["status"], "Failed");
    let message = service["failureMessage"].as_str().unwrap();
    assert!(
        message.contains("autoscaling call in us-east-1 denied: not granted; grant it with --grant aws:autoscaling:us-east-1"),
        "{message}"
    );

    dir.grant(&["aws:ec2:eu-west-1"]);
    let (_, region) = dir.run(&call("ec2", "DescribeInstances", ""), &[]);
    assert_eq!(region["status"], "Failed");
    assert!(region["failureMessage"].as_str().unwrap().contains("ec2 call in us-east-1 denied"), "{region}");

    dir.grant(&["aws:ec2:*"]);
    let (_, unsupported) = dir.run(&call("s3", "ListBuckets", ""), &[]);
    assert!(unsupported["failureMessage"].as_str().unwrap().contains("Service \"s3\" is not supported"), "{unsupported}");
}

/// `output` lists the instances `ids`, in any order.
fn assert_same_ids(output: &Value, ids: &[String]) {
    let mut listed: Vec<String> = serde_json::from_value(output.clone()).unwrap();
    listed.sort();
    let mut expected = ids.to_vec();
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn restart_instances_by_tag_in_batches() {
    let moto = moto::shared();
    let dir = CloudDir::new(moto, &["aws:ec2:us-east-1"]);
    let tag = unique_tag("restart");
    let ids = launch(moto, &tag, 3);
    let (run, execution) =
        dir.run("Bosun-RestartInstances", &["TagKey=Test", &format!("TagValue={tag}"), "MaxConcurrency=1", "MaxErrors=0"]);
    assert_eq!(execution["status"], "Success", "{execution}");
    assert_same_ids(&execution["outputs"]["RestartTagged.RestartedInstanceIds"], &ids);
    assert_eq!(states(moto, &ids), ["running", "running", "running"]);
    assert_no_credential(&dir, &run);

    // A missing instance is an error; past MaxErrors the execution fails and names it.
    let (_, failed) = dir.run(
        "Bosun-RestartInstances",
        &[&format!("InstanceIds={},i-0000000000000beef", ids[0]), "MaxErrors=0", "Mode=StopAllThenStartAll"],
    );
    assert_eq!(failed["status"], "Failed", "{failed}");
    let message = failed["failureMessage"].as_str().unwrap();
    assert!(message.contains("1 of 2 instances did not reach stopped (MaxErrors allows 0)"), "{message}");
    assert!(message.contains("i-0000000000000beef: ec2 StopInstances failed: InvalidInstanceID.NotFound"), "{message}");
    assert_eq!(states(moto, &ids[..1]), ["stopped"], "every instance stops before any starts: the good one stays stopped");
}

#[test]
fn a_rolling_restart_restarts_each_batch_before_the_next() {
    let moto = moto::shared();
    let dir = CloudDir::new(moto, &["aws:ec2:us-east-1"]);
    let tag = unique_tag("rolling");
    let ids = launch(moto, &tag, 3);
    let (run, execution) = dir.run("Bosun-RestartInstances", &[&format!("InstanceIds={}", ids.join(",")), "MaxConcurrency=2"]);
    assert_eq!(execution["status"], "Success", "{execution}");
    assert_same_ids(&execution["outputs"]["Rolling.RestartedInstanceIds"], &ids);
    assert_eq!(states(moto, &ids), ["running", "running", "running"]);
    assert_no_credential(&dir, &run);

    // The second batch fails: the first is already running again, the third was never stopped.
    let missing = "i-0000000000000beef";
    let (_, failed) =
        dir.run("Bosun-RestartInstances", &[&format!("InstanceIds={},{missing},{}", ids[0], ids[1]), "MaxConcurrency=1", "MaxErrors=0"]);
    assert_eq!(failed["status"], "Failed", "{failed}");
    let message = failed["failureMessage"].as_str().unwrap();
    assert!(message.contains("1 of 3 instances were not restarted (MaxErrors allows 0); 1 were not tried"), "{message}");
    assert!(message.contains(&format!("{missing}: did not stop: ec2 StopInstances failed: InvalidInstanceID.NotFound")), "{message}");
    assert_eq!(states(moto, &ids[..2]), ["running", "running"]);

    // Through the tag, in the child execution, with a tolerated error.
    let (_, tagged) = dir.run("Bosun-RestartInstances", &["TagKey=Test", &format!("TagValue={tag}"), "MaxConcurrency=34%", "MaxErrors=1"]);
    assert_eq!(tagged["status"], "Success", "{tagged}");
    assert_eq!(tagged["outputs"]["RestartTagged.RestartedInstanceIds"].as_array().map(Vec::len), Some(3), "{tagged}");
    let instance = format!("InstanceIds={}", ids[0]);
    let refused = bosun(&[
        "automation",
        "run",
        "--data-dir",
        dir.data_arg(),
        "--document",
        "Bosun-RestartInstances",
        "-p",
        &instance,
        "-p",
        "Mode=Sideways",
    ]);
    assert!(refused.expect_code(2).stderr.contains("parameter Mode: \"Sideways\" is not one of the allowed values"), "{}", refused.stderr);
}
