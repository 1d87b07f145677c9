//! Executor tests with real `/bin/sh` processes: statuses, exit-code semantics,
//! step options, timeouts that kill grandchildren, ENV_VAR parameters,
//! preconditions, output caps, nested documents and hostile documents.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bosun_protocol::agent::{Assignment, DocumentText, InvocationReport};
use bosun_protocol::{InvocationStatus, JsonMap};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::testutil::{process_gone, wait_for};
use super::*;

fn env(max_output: usize) -> ExecEnv {
    ExecEnv {
        node_id: "mi-0000000000000test".into(),
        platform_type: "Linux".into(),
        http: reqwest::Client::new(),
        processes: Arc::new(Semaphore::new(4)),
        max_output,
        plugins: None,
    }
}

fn text(name: &str, content: &str) -> DocumentText {
    DocumentText { name: name.into(), file_name: format!("{name}.yaml"), content: content.into() }
}

fn assignment(content: &str, parameters: Value) -> Assignment {
    Assignment {
        invocation_id: "inv-1".into(),
        command_id: "cmd-1".into(),
        document: text("Doc", content),
        included: Vec::new(),
        parameters: parameters.as_object().cloned().unwrap_or_default(),
        timeout_seconds: 600,
        plugins: Vec::new(),
    }
}

/// A Command document with these steps (YAML list items).
fn doc(steps: &str) -> String {
    format!("schemaVersion: '2.2'\ndescription: test\nmainSteps:\n{steps}")
}

fn shell_step(name: &str, script: &str) -> String {
    format!("- name: {name}\n  action: aws:runShellScript\n  inputs:\n    runCommand:\n    - {}\n", serde_json::to_string(script).unwrap())
}

struct Harness {
    dir: tempfile::TempDir,
    env: ExecEnv,
    cancel: CancellationToken,
}

impl Harness {
    fn new() -> Self {
        Self::with_output(1 << 20)
    }

    fn with_output(max_output: usize) -> Self {
        Self { dir: tempfile::tempdir().unwrap(), env: env(max_output), cancel: CancellationToken::new() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    async fn outcome(&self, a: &Assignment, resume: Option<Resume>) -> Outcome {
        let ctx = InvocationCtx {
            env: &self.env,
            assignment: a,
            work_dir: self.path().join("work"),
            script_dir: self.path().join("scripts"),
            deadline: deadline_after(a.timeout_seconds),
            cancel: self.cancel.clone(),
        };
        execute(&ctx, resume).await
    }

    async fn run(&self, a: &Assignment) -> InvocationReport {
        match self.outcome(a, None).await {
            Outcome::Done(report) => report,
            other => panic!("expected a report, got {other:?}"),
        }
    }
}

fn names(report: &InvocationReport) -> Vec<&str> {
    report.steps.iter().map(|s| s.name.as_str()).collect()
}

#[tokio::test]
async fn success_with_output() {
    let h = Harness::new();
    let r = h.run(&assignment(&doc(&shell_step("hello", "echo hello; echo oops >&2; pwd")), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Success);
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(r.stdout, format!("hello\n{}\n", h.path().join("work").display()));
    assert_eq!(r.stderr, "oops\n");
    assert_eq!(r.steps.len(), 1);
    assert_eq!(r.steps[0].status, InvocationStatus::Success);
    assert!(h.path().join("scripts/00-hello.sh").exists(), "the script is written to the state dir");
}

#[tokio::test]
async fn a_failed_step_fails_the_invocation_and_the_next_step_still_runs() {
    let h = Harness::new();
    let steps = shell_step("bad", "echo before; exit 3") + &shell_step("next", "echo next");
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert_eq!(names(&r), ["bad", "next"]);
    assert_eq!(r.steps[0].status, InvocationStatus::Failed);
    assert_eq!(r.steps[0].exit_code, Some(3));
    assert_eq!(r.exit_code, Some(0), "the exit code is the last step's");
    assert_eq!(r.stdout, "before\nnext\n");
}

#[tokio::test]
async fn on_failure_exit_stops_the_document_but_not_a_finally_step() {
    let h = Harness::new();
    let steps = "- name: bad\n  action: aws:runShellScript\n  inputs: {onFailure: exit, runCommand: ['exit 4']}\n".to_string()
        + &shell_step("skipped", "echo no")
        + "- name: cleanup\n  action: aws:runShellScript\n  inputs: {finallyStep: true, runCommand: ['echo cleanup']}\n";
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert_eq!(names(&r), ["bad", "cleanup"]);
    assert_eq!(r.stdout, "cleanup\n");
}

#[tokio::test]
async fn success_and_exit_turns_a_failure_into_success_and_stops() {
    let h = Harness::new();
    let steps = "- name: probe\n  action: aws:runShellScript\n  inputs: {onFailure: successAndExit, runCommand: ['exit 1']}\n".to_string()
        + &shell_step("after", "echo no");
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Success);
    assert_eq!(names(&r), ["probe"]);
    assert_eq!(r.exit_code, Some(1));
}

#[tokio::test]
async fn on_success_exit_stops_after_a_success() {
    let h = Harness::new();
    let steps = "- name: first\n  action: aws:runShellScript\n  inputs: {onSuccess: exit, runCommand: ['true']}\n".to_string()
        + &shell_step("after", "echo no");
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Success);
    assert_eq!(names(&r), ["first"]);
}

#[tokio::test]
async fn exit_168_succeeds_and_stops() {
    let h = Harness::new();
    let steps = shell_step("first", "echo a; exit 168") + &shell_step("second", "echo b");
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Success);
    assert_eq!(names(&r), ["first"]);
    assert_eq!(r.exit_code, Some(168));
    assert_eq!(r.steps[0].status, InvocationStatus::Success);
    assert_eq!(r.stdout, "a\n");
}

#[tokio::test]
async fn exit_169_fails_and_stops() {
    let h = Harness::new();
    let steps = shell_step("first", "exit 169") + &shell_step("second", "echo b");
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert_eq!(names(&r), ["first"]);
    assert_eq!(r.exit_code, Some(169));
}

#[tokio::test]
async fn a_step_timeout_kills_the_grandchildren() {
    let h = Harness::new();
    let pid_file = h.path().join("grandchild.pid");
    let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
    let steps = format!(
        "- name: slow\n  action: aws:runShellScript\n  inputs:\n    timeoutSeconds: 1\n    runCommand: [{}]\n",
        serde_json::to_string(&script).unwrap()
    ) + &shell_step("after", "echo after");
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.steps[0].status, InvocationStatus::ExecutionTimedOut);
    assert!(r.steps[0].message.as_deref().unwrap_or_default().contains("timeoutSeconds"), "{:?}", r.steps[0]);
    assert_eq!(r.status, InvocationStatus::ExecutionTimedOut);
    assert_eq!(names(&r), ["slow", "after"], "a step's own timeout is a failure: the next step runs");
    let pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    wait_for(|| process_gone(pid)).await;
}

#[tokio::test]
async fn the_execution_timeout_stops_the_invocation() {
    let h = Harness::new();
    let steps = shell_step("slow", "sleep 300") + &shell_step("after", "echo after");
    let mut a = assignment(&doc(&steps), json!({}));
    a.timeout_seconds = 1;
    let r = h.run(&a).await;
    assert_eq!(r.status, InvocationStatus::ExecutionTimedOut);
    assert_eq!(names(&r), ["slow"]);
    assert!(r.steps[0].message.as_deref().unwrap_or_default().contains("execution timeout"));
}

#[tokio::test]
async fn cancel_kills_the_step_and_reports_cancelled() {
    let h = Harness::new();
    let marker = h.path().join("started");
    let script = format!("touch {}; sleep 300", marker.display());
    let steps = shell_step("slow", &script) + &shell_step("after", "echo after");
    let a = assignment(&doc(&steps), json!({}));
    let cancel = h.cancel.clone();
    let (report, ()) = tokio::join!(h.run(&a), async {
        wait_for(|| marker.exists()).await;
        cancel.cancel();
    });
    assert_eq!(report.status, InvocationStatus::Cancelled);
    assert_eq!(names(&report), ["slow"]);
}

#[tokio::test]
async fn env_var_parameters_reach_the_script_as_variables_only() {
    let h = Harness::new();
    let marker = h.path().join("injected");
    let content = format!(
        "schemaVersion: '2.2'\nparameters:\n  Message: {{type: String, interpolationType: ENV_VAR}}\n  Plain: {{type: String}}\nmainSteps:\n{}",
        shell_step("say", "echo \"{{ Message }}\"; echo \"$SSM_Message\"; echo {{ Plain }}")
    );
    let hostile = format!("$(touch {}) `touch {}`", marker.display(), marker.display());
    let r = h.run(&assignment(&content, json!({"Message": hostile, "Plain": "plain"}))).await;
    assert_eq!(r.status, InvocationStatus::Success, "{r:?}");
    assert_eq!(r.stdout, format!("{hostile}\n{hostile}\nplain\n"));
    assert!(!marker.exists(), "the parameter was run as shell text");
    let script = std::fs::read_to_string(h.path().join("scripts/00-say.sh")).unwrap();
    assert!(script.contains("${SSM_Message}") && !script.contains("touch"), "{script}");
}

#[tokio::test]
async fn a_false_precondition_skips_the_step() {
    let h = Harness::new();
    let steps = "- name: windows\n  action: aws:runShellScript\n  precondition: {StringEquals: [platformType, Windows]}\n  inputs: {runCommand: ['echo win']}\n"
        .to_string()
        + "- name: linux\n  action: aws:runShellScript\n  precondition: {StringEquals: [platformType, Linux]}\n  inputs: {runCommand: ['echo linux']}\n";
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Success);
    assert_eq!(names(&r), ["windows", "linux"]);
    assert!(r.steps[0].message.as_deref().unwrap().starts_with(SKIPPED_PREFIX), "{:?}", r.steps[0]);
    assert_eq!(r.steps[0].exit_code, None);
    assert_eq!(r.stdout, "linux\n");
    assert_eq!(r.exit_code, Some(0));
}

#[tokio::test]
async fn output_is_capped_keeping_the_head() {
    let h = Harness::with_output(4096);
    let r = h.run(&assignment(&doc(&shell_step("loud", "echo start; head -c 100000 /dev/zero | tr '\\0' x")), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Success);
    let out = &r.steps[0].stdout;
    assert!(out.len() <= 4096, "{}", out.len());
    assert!(out.starts_with("start\nxxx"));
    assert!(out.contains("more bytes were not kept"), "{out}");
    assert!(r.stdout.len() <= 4096);
}

#[tokio::test]
async fn a_malformed_document_fails_with_its_diagnostics() {
    let h = Harness::new();
    let r = h.run(&assignment("schemaVersion: '2.2'\nmainSteps: [", json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert!(r.stderr.contains("Doc.yaml:"), "{}", r.stderr);
    let r = h.run(&assignment("schemaVersion: '2.2'\nmainSteps:\n- {name: a, action: aws:runShelScript}\n", json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert!(r.stderr.contains("did you mean aws:runShellScript"), "{}", r.stderr);
    let r = h.run(&assignment("[1, 2]", json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    let r =
        h.run(&assignment("schemaVersion: '0.3'\nmainSteps:\n- {name: a, action: aws:sleep, inputs: {Duration: PT1S}}\n", json!({}))).await;
    assert!(r.stderr.contains("Automation document"), "{}", r.stderr);
}

#[tokio::test]
async fn an_unsupported_action_fails_its_step_by_name() {
    let h = Harness::new();
    let steps = "- name: plug\n  action: plugin:acme-thing\n  inputs: {}\n".to_string() + &shell_step("after", "echo after");
    let r = h.run(&assignment(&doc(&steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert_eq!(names(&r), ["plug", "after"]);
    assert_eq!(r.exit_code, Some(0));
    let message = r.steps[0].message.as_deref().unwrap();
    assert!(message.contains("cannot run the action \"plugin:acme-thing\""), "{message}");
}

#[tokio::test]
async fn every_action_the_protocol_lists_is_run_here() {
    let h = Harness::new();
    for action in SUPPORTED_ACTIONS {
        let r = h.run(&assignment(&doc(&format!("- name: s\n  action: {action}\n  inputs: {{}}\n")), json!({}))).await;
        let message = r.steps[0].message.clone().unwrap_or_default();
        assert!(!message.contains("cannot run the action"), "{action}: {message}");
    }
}

#[tokio::test]
async fn a_bad_parameter_reference_fails_the_step() {
    let h = Harness::new();
    let content =
        "schemaVersion: '2.2'\nmainSteps:\n- {name: a, action: aws:runShellScript, inputs: {runCommand: ['echo {{ ssm:/db/pw }}']}}\n";
    let r = h.run(&assignment(content, json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert!(r.steps[0].message.as_deref().unwrap().contains("Parameter Store"), "{:?}", r.steps[0]);
}

#[tokio::test]
async fn run_document_runs_an_included_document_with_its_parameters() {
    let h = Harness::new();
    let nested = "schemaVersion: '2.2'\nparameters:\n  Who: {type: String, default: nobody}\n  Count: {type: Integer}\nmainSteps:\n- {name: inner, action: aws:runShellScript, inputs: {runCommand: ['echo hi {{ Who }} {{ Count }}']}}\n";
    let steps = "- name: outer\n  action: aws:runDocument\n  inputs: {documentType: SSMDocument, documentPath: Greeter, documentParameters: {Who: '{{ Name }}', Count: '3'}}\n";
    let content = format!("schemaVersion: '2.2'\nparameters:\n  Name: {{type: String}}\nmainSteps:\n{steps}");
    let mut a = assignment(&content, json!({"Name": "ops"}));
    a.included.push(text("Greeter", nested));
    let r = h.run(&a).await;
    assert_eq!(r.status, InvocationStatus::Success, "{r:?}");
    assert_eq!(r.stdout, "hi ops 3\n");
    assert_eq!(r.exit_code, Some(0));

    let local = "- name: outer\n  action: aws:runDocument\n  inputs: {documentType: LocalPath, documentPath: /etc/doc.json}\n";
    let r = h.run(&assignment(&doc(local), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert!(r.steps[0].message.as_deref().unwrap().contains("LocalPath is not supported"));

    let missing = "- name: outer\n  action: aws:runDocument\n  inputs: {documentType: SSMDocument, documentPath: Nope}\n";
    let r = h.run(&assignment(&doc(missing), json!({}))).await;
    assert!(r.steps[0].message.as_deref().unwrap().contains("was not sent with the command"));
}

#[tokio::test]
async fn a_document_that_runs_itself_is_stopped_by_the_nesting_limit() {
    let h = Harness::new();
    let steps = "- name: again\n  action: aws:runDocument\n  inputs: {documentType: SSMDocument, documentPath: Doc}\n";
    let mut a = assignment(&doc(steps), json!({}));
    a.included.push(a.document.clone());
    let r = h.run(&a).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert!(r.stderr.contains("at most"), "{}", r.stderr);
}

#[tokio::test]
async fn download_paths_that_climb_out_are_refused() {
    let h = Harness::new();
    let steps = "- name: fetch\n  action: aws:downloadContent\n  inputs: {sourceType: HTTP, sourceInfo: {url: 'https://example.invalid/x'}, destinationPath: ../../etc/x}\n";
    let r = h.run(&assignment(&doc(steps), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
    assert!(r.steps[0].message.as_deref().unwrap().contains("climbs out"), "{:?}", r.steps[0]);
}

#[tokio::test]
async fn a_reboot_request_stops_and_the_step_runs_again_on_resume() {
    let h = Harness::new();
    let marker = h.path().join("rebooted");
    let script = format!("if [ -e {m} ]; then echo after reboot; else touch {m}; echo before; exit 3010; fi", m = marker.display());
    let steps = shell_step("first", "echo first") + &shell_step("patch", &script) + &shell_step("last", "echo last");
    let a = assignment(&doc(&steps), json!({}));
    let Outcome::Reboot { step, steps } = h.outcome(&a, None).await else { panic!("expected a reboot") };
    assert_eq!(step, 1);
    assert_eq!(steps.len(), 1);
    let Outcome::Done(r) = h.outcome(&a, Some(Resume { step, steps })).await else { panic!("expected a report") };
    assert_eq!(r.status, InvocationStatus::Success);
    assert_eq!(names(&r), ["first", "patch", "last"]);
    assert_eq!(r.stdout, "first\nafter reboot\nlast\n");
}

#[tokio::test]
async fn a_working_directory_and_env_are_applied() {
    let h = Harness::new();
    std::fs::create_dir_all(h.path().join("work/sub")).unwrap();
    let steps = "- name: a\n  action: aws:runShellScript\n  inputs: {workingDirectory: sub, env: {COLOR: blue}, runCommand: ['basename $(pwd)', 'echo $COLOR $AWS_SSM_INSTANCE_ID']}\n";
    let r = h.run(&assignment(&doc(steps), json!({}))).await;
    assert_eq!(r.stdout, "sub\nblue mi-0000000000000test\n");
    let bad = "- name: a\n  action: aws:runShellScript\n  inputs: {workingDirectory: /nonexistent/dir, runCommand: [ls]}\n";
    let r = h.run(&assignment(&doc(bad), json!({}))).await;
    assert_eq!(r.status, InvocationStatus::Failed);
}

#[test]
fn a_huge_timeout_does_not_overflow() {
    assert!(deadline_after(u64::MAX) > Instant::now() + Duration::from_secs(MAX_EXECUTION_SECONDS - 60));
}

#[test]
fn parameters_given_but_not_declared_are_ignored() {
    let d = load_command_document(&text("D", &doc(&shell_step("a", "ls")))).unwrap();
    let mut given = JsonMap::new();
    given.insert("Stray".into(), json!(1));
    assert!(params::DocParams::new(&d, &given, "mi-1").env().is_empty());
}
