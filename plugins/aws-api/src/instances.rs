//! `aws:changeInstanceState`, Bosun's rolling `bosun:restartInstances` and
//! `aws:createImage`: EC2 calls followed by a wait for the state they lead to.
//! Instance changes go in batches of `MaxConcurrency` and stop past
//! `MaxErrors` (SSM's rate-control syntax).

use bosun_plugin_sdk::{Host, PluginError};
use bosun_protocol::rate::Limit;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{api, wait};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    Running,
    Stopped,
    Terminated,
}

impl DesiredState {
    fn name(self) -> &'static str {
        match self {
            DesiredState::Running => "running",
            DesiredState::Stopped => "stopped",
            DesiredState::Terminated => "terminated",
        }
    }

    fn api(self) -> &'static str {
        match self {
            DesiredState::Running => "StartInstances",
            DesiredState::Stopped => "StopInstances",
            DesiredState::Terminated => "TerminateInstances",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChangeInput {
    pub instance_ids: Vec<String>,
    pub desired_state: DesiredState,
    #[serde(default)]
    pub check_state_only: bool,
    #[serde(default)]
    pub force: bool,
    /// How many instances change at once (`N` or `N%`); all by default.
    pub max_concurrency: Option<String>,
    /// How many instances may fail before no new batch starts; 0 by default.
    pub max_errors: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeOutput {
    pub succeeded_instance_ids: Vec<String>,
    pub failed_instance_ids: Vec<String>,
}

/// The largest instance list one step takes.
const MAX_INSTANCES: usize = 1000;

fn limit(text: Option<&str>, default: Limit, name: &str) -> Result<Limit, PluginError> {
    text.map_or(Ok(default), |t| Limit::parse(t).map_err(|e| PluginError::invalid_input(format!("{name}: {e}"))))
}

/// How one batch went: each instance, and why it failed if it did.
type BatchResult = Vec<(String, Result<(), String>)>;

/// Runs `change` over `ids` in batches of `MaxConcurrency`, counting failed
/// instances against `MaxErrors`: past it no further batch starts and the step
/// fails, naming each failed instance and why (`what` says what they did not do).
fn in_batches(
    ids: &[String],
    max_concurrency: Option<&str>,
    max_errors: Option<&str>,
    what: &str,
    mut change: impl FnMut(&[String]) -> BatchResult,
) -> Result<ChangeOutput, PluginError> {
    if ids.is_empty() || ids.len() > MAX_INSTANCES {
        return Err(PluginError::invalid_input(format!("InstanceIds must hold 1 to {MAX_INSTANCES} instance ids")));
    }
    let total = ids.len();
    let batch = limit(max_concurrency, Limit::Percent(100), "MaxConcurrency")?.concurrency(total);
    let tolerated = limit(max_errors, Limit::DEFAULT_ERRORS, "MaxErrors")?.errors(total);
    let mut output = ChangeOutput { succeeded_instance_ids: Vec::new(), failed_instance_ids: Vec::new() };
    let mut reasons = Vec::new();
    for ids in ids.chunks(batch) {
        if output.failed_instance_ids.len() > tolerated {
            break;
        }
        for (id, result) in change(ids) {
            match result {
                Ok(()) => output.succeeded_instance_ids.push(id),
                Err(why) => {
                    reasons.push(format!("{id}: {why}"));
                    output.failed_instance_ids.push(id);
                }
            }
        }
    }
    if output.failed_instance_ids.len() > tolerated {
        let skipped = total - output.succeeded_instance_ids.len() - output.failed_instance_ids.len();
        return Err(PluginError::failed(format!(
            "{} of {total} instances {what} (MaxErrors allows {tolerated}){}: {}",
            output.failed_instance_ids.len(),
            if skipped > 0 { format!("; {skipped} were not tried") } else { String::new() },
            reasons.join("; ")
        )));
    }
    Ok(output)
}

/// Asks for `desired` for a batch and waits for it: the instances that got there, and the others with why.
fn change_and_wait(host: &Host, ids: &[String], desired: DesiredState, force: bool) -> BatchResult {
    let mut results = Vec::new();
    let mut changing = Vec::new();
    for (id, result) in request_change(host, ids, desired, force) {
        match result {
            Ok(()) => changing.push(id),
            Err(e) => results.push((id, Err(e.message().to_string()))),
        }
    }
    results.extend(wait_for_state(host, &changing, desired));
    results
}

pub fn change_instance_state(input: ChangeInput, host: &Host) -> Result<ChangeOutput, PluginError> {
    let what = format!("did not reach {}", input.desired_state.name());
    in_batches(&input.instance_ids, input.max_concurrency.as_deref(), input.max_errors.as_deref(), &what, |ids| {
        if input.check_state_only {
            wait_for_state(host, ids, input.desired_state)
        } else {
            change_and_wait(host, ids, input.desired_state, input.force)
        }
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RestartInput {
    pub instance_ids: Vec<String>,
    /// Force the stop (as `aws:changeInstanceState`'s Force).
    #[serde(default)]
    pub force: bool,
    pub max_concurrency: Option<String>,
    pub max_errors: Option<String>,
}

/// `bosun:restartInstances`: a rolling restart. Each batch of `MaxConcurrency`
/// instances is stopped, waited for, started again and waited for before the
/// next batch starts; an instance that fails to stop or to start again counts
/// once against `MaxErrors`.
pub fn restart_instances(input: RestartInput, host: &Host) -> Result<ChangeOutput, PluginError> {
    in_batches(&input.instance_ids, input.max_concurrency.as_deref(), input.max_errors.as_deref(), "were not restarted", |ids| {
        let mut results = Vec::new();
        let mut stopped = Vec::new();
        for (id, result) in change_and_wait(host, ids, DesiredState::Stopped, input.force) {
            match result {
                Ok(()) => stopped.push(id),
                Err(why) => results.push((id, Err(format!("did not stop: {why}")))),
            }
        }
        if !stopped.is_empty() {
            let started = change_and_wait(host, &stopped, DesiredState::Running, false);
            results.extend(started.into_iter().map(|(id, r)| (id, r.map_err(|why| format!("stopped, but did not start again: {why}")))));
        }
        results
    })
}

/// Asks for the change of a batch; when the call for the whole batch fails,
/// each instance is asked alone, so one bad id fails only itself.
fn request_change(host: &Host, ids: &[String], desired: DesiredState, force: bool) -> Vec<(String, Result<(), PluginError>)> {
    let call = |ids: &[String]| {
        let mut params = Map::new();
        params.insert("InstanceIds".into(), json!(ids));
        if force && desired == DesiredState::Stopped {
            params.insert("Force".into(), json!(true));
        }
        api::call(host, "ec2", desired.api(), &params).map(|_| ())
    };
    match call(ids) {
        Ok(()) => ids.iter().map(|id| (id.clone(), Ok(()))).collect(),
        Err(e) if ids.len() == 1 => vec![(ids[0].clone(), Err(e))],
        Err(_) => ids.iter().map(|id| (id.clone(), call(std::slice::from_ref(id)))).collect(),
    }
}

/// Waits until every instance is in `desired`; one that ends up terminated
/// when it should not, or disappears, fails.
fn wait_for_state(host: &Host, ids: &[String], desired: DesiredState) -> Vec<(String, Result<(), String>)> {
    let mut done: Vec<(String, Result<(), String>)> = Vec::new();
    let mut pending: Vec<String> = ids.to_vec();
    let waited = wait::until(host, &format!("instances to be {}", desired.name()), || {
        if pending.is_empty() {
            return Ok(Some(()));
        }
        let answer = api::call(host, "ec2", "DescribeInstances", &Map::from_iter([("InstanceIds".to_string(), json!(pending))]))?;
        let states = instance_states(&Value::Object(answer));
        pending.retain(|id| match states.iter().find(|(i, _)| i == id).map(|(_, s)| s.as_str()) {
            Some(state) if state == desired.name() => {
                done.push((id.clone(), Ok(())));
                false
            }
            Some("terminated") => {
                done.push((id.clone(), Err(format!("the instance is terminated, not {}", desired.name()))));
                false
            }
            Some(_) => true,
            None => {
                done.push((id.clone(), Err("the instance is not found".into())));
                false
            }
        });
        Ok(pending.is_empty().then_some(()))
    });
    if let Err(e) = waited {
        done.extend(pending.into_iter().map(|id| (id, Err(e.message().to_string()))));
    }
    done
}

/// (instance id, state name) of every instance in a DescribeInstances answer.
fn instance_states(answer: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for reservation in answer["Reservations"].as_array().into_iter().flatten() {
        for instance in reservation["Instances"].as_array().into_iter().flatten() {
            if let (Some(id), Some(state)) = (instance["InstanceId"].as_str(), instance["State"]["Name"].as_str()) {
                out.push((id.to_string(), state.to_string()));
            }
        }
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImageInput {
    pub instance_id: String,
    pub image_name: String,
    pub image_description: Option<String>,
    #[serde(default)]
    pub no_reboot: bool,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageOutput {
    pub image_id: String,
    pub image_state: String,
}

pub fn create_image(input: ImageInput, host: &Host) -> Result<ImageOutput, PluginError> {
    let mut params = Map::new();
    params.insert("InstanceId".into(), json!(input.instance_id));
    params.insert("Name".into(), json!(input.image_name));
    if let Some(description) = &input.image_description {
        params.insert("Description".into(), json!(description));
    }
    params.insert("NoReboot".into(), json!(input.no_reboot));
    let created = api::call(host, "ec2", "CreateImage", &params)?;
    let image_id = created
        .get("ImageId")
        .and_then(Value::as_str)
        .ok_or_else(|| PluginError::failed("ec2 CreateImage answered without an ImageId"))?
        .to_string();
    let state = wait::until(host, &format!("image {image_id} to be available"), || {
        let answer = api::call(host, "ec2", "DescribeImages", &Map::from_iter([("ImageIds".to_string(), json!([image_id]))]))?;
        let state = answer["Images"][0]["State"].as_str().unwrap_or_default().to_string();
        match state.as_str() {
            "available" => Ok(Some(state)),
            "failed" | "invalid" | "deregistered" | "error" => Err(PluginError::failed(format!("image {image_id} is {state}"))),
            _ => Ok(None),
        }
    })?;
    Ok(ImageOutput { image_id, image_state: state })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_plugin_sdk::HttpResponse;
    use bosun_plugin_sdk::testing::TestHost;

    fn input(v: Value) -> ChangeInput {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn states_come_from_every_reservation() {
        let answer = json!({"Reservations": [
            {"Instances": [{"InstanceId": "i-1", "State": {"Name": "running"}}]},
            {"Instances": [{"InstanceId": "i-2", "State": {"Name": "stopped"}}, {"InstanceId": "i-3"}]},
        ]});
        assert_eq!(instance_states(&answer), vec![("i-1".into(), "running".into()), ("i-2".into(), "stopped".into())]);
    }

    #[test]
    fn check_state_only_asks_for_no_change() {
        let describe = r#"<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId><instanceState><name>stopped</name></instanceState></item></instancesSet></item></reservationSet></DescribeInstancesResponse>"#;
        let test = TestHost::builder().http("POST", "aws://ec2/", HttpResponse::new(200, describe)).build();
        let out =
            change_instance_state(input(json!({"InstanceIds": ["i-1"], "DesiredState": "stopped", "CheckStateOnly": true})), &test.host())
                .unwrap();
        assert_eq!(out.succeeded_instance_ids, vec!["i-1".to_string()]);
        let bodies: Vec<String> = test.http_requests().iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
        assert!(bodies.iter().all(|b| b.starts_with("Action=DescribeInstances")), "{bodies:?}");
    }

    #[test]
    fn errors_past_the_threshold_fail_the_step() {
        let error = "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>nope</Message></Error></Errors></Response>";
        let test = TestHost::builder().http("POST", "aws://ec2/", HttpResponse::new(400, error)).build();
        let e = change_instance_state(
            input(json!({"InstanceIds": ["i-1", "i-2", "i-3"], "DesiredState": "running", "MaxConcurrency": "1", "MaxErrors": "1"})),
            &test.host(),
        )
        .unwrap_err();
        assert!(
            e.message().starts_with("2 of 3 instances did not reach running (MaxErrors allows 1); 1 were not tried"),
            "{}",
            e.message()
        );
        assert!(e.message().contains("i-1: ec2 StartInstances failed: InvalidInstanceID.NotFound: nope"), "{}", e.message());
    }

    #[test]
    fn a_rolling_restart_stops_past_the_threshold_before_the_next_batch() {
        let error = "<Response><Errors><Error><Code>IncorrectInstanceState</Code><Message>busy</Message></Error></Errors></Response>";
        let test = TestHost::builder().http("POST", "aws://ec2/", HttpResponse::new(400, error)).build();
        let restart = |v: Value| serde_json::from_value::<RestartInput>(v).unwrap();
        let e = restart_instances(restart(json!({"InstanceIds": ["i-1", "i-2", "i-3"], "MaxConcurrency": "1"})), &test.host()).unwrap_err();
        assert_eq!(
            e.message(),
            "1 of 3 instances were not restarted (MaxErrors allows 0); 2 were not tried: i-1: did not stop: ec2 StopInstances failed: IncorrectInstanceState: busy (HTTP 400)"
        );
        let bodies: Vec<String> = test.http_requests().iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
        assert_eq!(bodies.len(), 1, "one stop, then nothing: {bodies:?}");
        assert!(bodies[0].starts_with("Action=StopInstances") && bodies[0].contains("InstanceId.1=i-1"), "{bodies:?}");
        let host = TestHost::new().host();
        assert!(restart_instances(restart(json!({"InstanceIds": []})), &host).unwrap_err().message().contains("1 to 1000"));
        let e = restart_instances(restart(json!({"InstanceIds": ["i-1"], "MaxConcurrency": "-1"})), &host).unwrap_err();
        assert!(e.message().starts_with("MaxConcurrency:"), "{}", e.message());
        assert!(serde_json::from_value::<RestartInput>(json!({"InstanceIds": ["i-1"], "DesiredState": "running"})).is_err());
        assert!(serde_json::from_value::<RestartInput>(json!({"InstanceIds": "i-1"})).is_err());
        let many: Vec<String> = (0..1001).map(|i| format!("i-{i}")).collect();
        assert!(restart_instances(restart(json!({"InstanceIds": many})), &host).unwrap_err().message().contains("1 to 1000"));
    }

    #[test]
    fn a_hostile_instance_id_stays_one_form_value() {
        let error = "<Response><Errors><Error><Code>InvalidInstanceID.Malformed</Code><Message>bad</Message></Error></Errors></Response>";
        let test = TestHost::builder().http("POST", "aws://ec2/", HttpResponse::new(400, error)).build();
        let input = serde_json::from_value::<RestartInput>(json!({"InstanceIds": ["i-1&Action=TerminateInstances"]})).unwrap();
        let e = restart_instances(input, &test.host()).unwrap_err();
        assert!(e.message().contains("i-1&Action=TerminateInstances: did not stop: ec2 StopInstances failed: InvalidInstanceID.Malformed"));
        let body = String::from_utf8_lossy(&test.http_requests()[0].body).into_owned();
        assert!(body.starts_with("Action=StopInstances&") && body.contains("InstanceId.1=i-1%26Action%3DTerminateInstances"), "{body}");
        assert_eq!(body.matches("Action=").count(), 1, "{body}");
    }

    #[test]
    fn bad_inputs_are_refused() {
        let host = TestHost::new().host();
        assert!(change_instance_state(input(json!({"InstanceIds": [], "DesiredState": "running"})), &host).is_err());
        let e = change_instance_state(input(json!({"InstanceIds": ["i-1"], "DesiredState": "running", "MaxErrors": "lots"})), &host)
            .unwrap_err();
        assert!(e.message().starts_with("MaxErrors:"), "{}", e.message());
        assert!(serde_json::from_value::<ChangeInput>(json!({"InstanceIds": ["i-1"], "DesiredState": "rebooted"})).is_err());
    }
}
