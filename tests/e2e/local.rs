//! `bosun automation run --local`: the JSON shape, exit codes, parameter and
//! mock errors, tracing, and child documents.

use serde_json::json;

use crate::support::{bosun, fixture, repo_root};

fn path(name: &str) -> String {
    fixture(name).display().to_string()
}

fn hello() -> String {
    repo_root().join("runbooks/Bosun-HelloWorld.yaml").display().to_string()
}

#[test]
fn a_successful_run_prints_one_json_object_and_exits_0() {
    let run = bosun(&["automation", "run", "--local", &hello(), "-p", "Name=Ada", "--output", "json"]);
    let result = run.expect_code(0).json();
    assert!(result["executionId"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(result["status"], "Success");
    assert_eq!(result["failureMessage"], json!(null));
    assert_eq!(result["outputs"], json!({"Greet.Greeting": "Hello, Ada!"}));
    let steps = result["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Greet", "ChooseSummary", "SummariseOnce"]);
    assert_eq!(steps[0]["action"], "bosun:echo");
    assert_eq!(steps[0]["status"], "Success");
    assert_eq!(steps[0]["outputs"]["Greeting"], "Hello, Ada!");
    assert_eq!(steps[0]["failureMessage"], json!(null));
    assert_eq!(steps[2]["outputs"]["Summary"], "Hello, Ada!");
}

#[test]
fn a_failing_run_exits_1() {
    let run = bosun(&["automation", "run", "--local", &path("fails.yaml"), "--output", "json"]);
    let result = run.expect_code(1).json();
    assert_eq!(result["status"], "Failed");
    assert!(result["failureMessage"].as_str().is_some_and(|m| m.contains("disk full")), "{result}");
    let steps = result["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1]["status"], "Failed");
    assert_eq!(steps[1]["failureMessage"], "disk full");
}

#[test]
fn text_output_is_a_summary() {
    let run = bosun(&["automation", "run", "--local", &hello(), "-p", "Name=Ada", "-p", "Times=2"]);
    let out = &run.expect_code(0).stdout;
    assert!(out.contains("Status    Success"), "{out}");
    assert!(out.contains("SummariseMany"), "{out}");
    assert!(out.contains("Greet.Greeting = Hello, Ada!"), "{out}");
}

#[test]
fn parameter_errors_are_clear_and_exit_2() {
    let cases: [(&[&str], &str); 4] = [
        (&["-p", "Times=5"], "parameter Times: "),
        (&["-p", "Times=lots"], "parameter Times: "),
        (&["-p", "Times"], "-p expects Name=Value, got \"Times\""),
        (&["-p", "Nmae=Ada"], "parameter Nmae: unknown parameter"),
    ];
    for (params, expected) in cases {
        let hello = hello();
        let mut args = vec!["automation", "run", "--local", hello.as_str()];
        args.extend_from_slice(params);
        let run = bosun(&args);
        run.expect_code(2);
        assert!(run.stderr.contains(expected), "{params:?}: {}", run.stderr);
    }
}

#[test]
fn a_mock_replaces_an_action_that_is_not_available() {
    let mock = format!("Describe={}", path("describe-response.json"));
    let run = bosun(&["automation", "run", "--local", &path("mocked-api.yaml"), "--mock", &mock, "-p", "Count=3", "--output", "json"]);
    let result = run.expect_code(0).json();
    assert_eq!(result["outputs"], json!({"Describe.InstanceIds": ["i-0123", "i-0456"], "Report.Count": 3}));
    let unmocked = bosun(&["automation", "run", "--local", &path("mocked-api.yaml")]);
    assert!(unmocked.expect_code(2).stderr.contains("aws:invokeLambdaFunction"), "{}", unmocked.stderr);
}

#[test]
fn bad_mocks_are_clear_errors() {
    let cases = [
        (format!("Describe={}", path("not-an-object.json")), "must hold a JSON object"),
        (format!("Describe={}", path("broken.json")), "is not valid JSON"),
        (format!("Describe={}", path("absent.json")), "cannot read"),
        ("Describe".to_string(), "--mock expects STEP=FILE.json"),
    ];
    for (mock, expected) in cases {
        let run = bosun(&["automation", "run", "--local", &path("mocked-api.yaml"), "--mock", &mock]);
        run.expect_code(2);
        assert!(run.stderr.contains(expected), "{mock}: {}", run.stderr);
    }
    let mock = format!("Nope={}", path("describe-response.json"));
    let run = bosun(&["automation", "run", "--local", &path("fails.yaml"), "--mock", &mock]);
    assert!(run.expect_code(2).stderr.contains("--mock names step \"Nope\""), "{}", run.stderr);
}

#[test]
fn missing_files_and_unknown_documents_are_clear_errors() {
    let run = bosun(&["automation", "run", "--local", "no-such-file.yaml"]);
    assert!(run.expect_code(2).stderr.contains("cannot read no-such-file.yaml"), "{}", run.stderr);
    let run = bosun(&["automation", "run", "--local", "--document", "No-Such-Document"]);
    assert!(run.expect_code(2).stderr.contains("no document named \"No-Such-Document\""), "{}", run.stderr);
    let run = bosun(&["automation", "run", "--local", "--output", "yaml", &hello()]);
    run.expect_code(2);
}

#[test]
fn trace_prints_each_transition_on_stderr() {
    let run = bosun(&["automation", "run", "--local", &hello(), "-p", "Name=Ada", "--trace", "--output", "json"]);
    let result = run.expect_code(0).json();
    let id = result["executionId"].as_str().unwrap();
    let lines = run.stderr_lines();
    assert!(
        lines.iter().any(|l| l.contains("step #0 Greet (bosun:echo) InProgress inputs {\"Greeting\":\"Hello, Ada!\"")),
        "{}",
        run.stderr
    );
    assert!(lines.iter().any(|l| l.ends_with("step #0 Greet Success")), "{}", run.stderr);
    assert!(lines.last().is_some_and(|l| l.ends_with(&format!("execution {id} Success"))), "{}", run.stderr);
}

#[test]
fn child_documents_come_from_builtins_and_document_dirs() {
    let run = bosun(&["automation", "run", "--local", &path("parent.yaml"), "--document-dir", &path("children"), "--output", "json"]);
    let result = run.expect_code(0).json();
    assert_eq!(result["outputs"], json!({"Report.ChildStatus": "Success"}));
    assert_eq!(result["steps"][0]["outputs"]["Output"], json!({"Shout.Loud": "hey!"}));
    let run = bosun(&["automation", "run", "--local", "--document", "Bosun-HelloWorld", "--output", "json"]);
    assert_eq!(run.expect_code(0).json()["outputs"], json!({"Greet.Greeting": "Hello, World!"}));
}
