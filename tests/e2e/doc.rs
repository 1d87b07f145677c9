//! `bosun doc validate`: exit codes and the exact `file:line:col: path: message` lines;
//! the public SSM corpus; storing versioned documents.

use crate::support::{bosun, bosun_in, fixture, repo_root};

#[test]
fn valid_documents_exit_0() {
    let root = repo_root();
    let run = bosun_in(&root, &["doc", "validate", "runbooks/Bosun-HelloWorld.yaml", "runbooks/Bosun-ApproveAndEcho.yaml"]);
    run.expect_code(0);
    assert_eq!(run.stderr, "");
    assert!(run.stdout.contains("runbooks/Bosun-HelloWorld.yaml: valid"), "{}", run.stdout);
}

#[test]
fn invalid_documents_exit_1_with_one_line_per_problem() {
    let dir = fixture("");
    let run = bosun_in(&dir, &["doc", "validate", "invalid-actions.yaml"]);
    run.expect_code(1);
    assert_eq!(
        run.stderr_lines(),
        [
            "invalid-actions.yaml:4:13: mainSteps[0].action: action \"aws:createStack\" is not available here: no installed plugin implements it",
            "invalid-actions.yaml:9:13: mainSteps[1].action: unknown action \"bosun:nope\"",
        ]
    );
}

#[test]
fn structure_only_accepts_every_known_action() {
    let run = bosun_in(&fixture(""), &["doc", "validate", "--structure-only", "invalid-actions.yaml"]);
    run.expect_code(1);
    assert_eq!(run.stderr_lines(), ["invalid-actions.yaml:9:13: mainSteps[1].action: unknown action \"bosun:nope\""]);
}

#[test]
fn syntax_errors_have_a_position() {
    let run = bosun_in(&fixture(""), &["doc", "validate", "invalid-syntax.yaml"]);
    run.expect_code(1);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].starts_with("invalid-syntax.yaml:3:1: "), "{}", run.stderr);
}

#[test]
fn one_bad_file_fails_the_whole_run_and_unreadable_files_are_named() {
    let run = bosun_in(&fixture(""), &["doc", "validate", "fails.yaml", "missing.yaml"]);
    run.expect_code(1);
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].starts_with("error: cannot read missing.yaml: "), "{}", run.stderr);
    assert!(run.stdout.contains("fails.yaml: valid"));
}

#[test]
fn json_output_lists_diagnostics() {
    let run = bosun_in(&fixture(""), &["doc", "validate", "--output", "json", "invalid-actions.yaml"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(report[0]["valid"], false);
    assert_eq!(report[0]["diagnostics"][1]["line"], 9);
    assert_eq!(report[0]["diagnostics"][1]["path"], "mainSteps[1].action");
}

#[test]
fn the_public_ssm_corpus_passes_structure_only_validation() {
    let corpus = repo_root().join("../shared/ssm-corpus");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("skipped: {} is absent", corpus.display());
        return;
    };
    let files: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")))
        .map(|p| p.display().to_string())
        .collect();
    assert!(!files.is_empty(), "no documents in {}", corpus.display());
    let mut args = vec!["doc", "validate", "--structure-only"];
    args.extend(files.iter().map(String::as_str));
    bosun(&args).expect_code(0);
}

#[test]
fn documents_are_stored_with_versions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let fails = fixture("fails.yaml");
    let mocked = fixture("mocked-api.yaml");
    let created = bosun(&["doc", "create", "--data-dir", data, "My-Doc", "--file", fails.to_str().unwrap(), "--output", "json"]);
    assert_eq!(created.expect_code(0).json()["version"], 1);
    let updated = bosun(&["doc", "update", "--data-dir", data, "My-Doc", "--file", mocked.to_str().unwrap(), "--output", "json"]);
    assert_eq!(updated.expect_code(0).json()["version"], 2);
    let same = bosun(&["doc", "update", "--data-dir", data, "My-Doc", "--file", mocked.to_str().unwrap()]);
    same.expect_code(1);
    let default = bosun(&["doc", "get", "--data-dir", data, "My-Doc", "--output", "json"]).expect_code(0).json();
    assert_eq!(default["version"], 1);
    bosun(&["doc", "set-default", "--data-dir", data, "My-Doc", "2"]).expect_code(0);
    let content = bosun(&["doc", "get", "--data-dir", data, "My-Doc", "--content"]);
    assert_eq!(content.expect_code(0).stdout, std::fs::read_to_string(&mocked).unwrap());
    let versions = bosun(&["doc", "versions", "--data-dir", data, "My-Doc", "--output", "json"]).expect_code(0).json();
    assert_eq!(versions.as_array().map(Vec::len), Some(2));
    let list = bosun(&["doc", "list", "--data-dir", data, "--output", "json"]).expect_code(0).json();
    let names: Vec<&str> = list.as_array().unwrap().iter().filter_map(|d| d["name"].as_str()).collect();
    assert!(names.contains(&"Bosun-HelloWorld") && names.contains(&"My-Doc"), "{names:?}");
    let builtin = bosun(&["doc", "delete", "--data-dir", data, "Bosun-HelloWorld"]);
    assert!(builtin.expect_code(1).stderr.contains("read-only"), "{}", builtin.stderr);
    let invalid = bosun(&["doc", "create", "--data-dir", data, "Broken", "--file", fixture("invalid-syntax.yaml").to_str().unwrap()]);
    assert!(invalid.expect_code(1).stderr.contains("invalid-syntax.yaml:3:1:"), "{}", invalid.stderr);
    bosun(&["doc", "delete", "--data-dir", data, "My-Doc"]).expect_code(0);
    bosun(&["doc", "get", "--data-dir", data, "My-Doc"]).expect_code(1);
}
