//! Data-driven fixtures from `tests/fixtures/`: every valid document runs on the
//! engine over the SQLite store and ends as its `X.expect.json` says; every
//! invalid document gives exactly the diagnostics listed in its `X.errors`.
//!
//! An expect file holds `parameters` (name -> text, or JSON for a typed value),
//! `mocks` (step -> response), `signals` (sent in order, each once the execution
//! is `Waiting` or `Sleeping`, the next one after the previous was consumed),
//! `status`, `steps` (names in run order), `outputs` (`Step.Output` -> value: the
//! document's outputs exactly, plus any step output named), and optionally
//! `failure` (the execution's failure message) and `attempts` (step -> attempt).
//! In expected strings `${EXECUTION_ID}` stands for the execution's id.
//! Documents without an expect file (or with `"child": true`) are child documents,
//! stored under their file stem for aws:executeAutomation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bosun_document::DiagKind;
use bosun_document::params::ParamInput;
use bosun_engine::{DocumentSnapshot, ExecutionStatus, ExecutionStore, SignalKind, StartRequest, StoredExecution};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::support::Fixture;

/// Each fixture directory must hold at least this many documents to check.
const MIN_FIXTURES: usize = 15;
const DEADLINE: Duration = Duration::from_secs(30);

fn fixtures_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(kind)
}

/// The documents in `dir` (`.yaml`, `.yml`, `.json` but not `.expect.json`), sorted.
fn documents(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("fixture directory {} is missing: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = file_name(path);
            !name.ends_with(".expect.json") && [".yaml", ".yml", ".json"].iter().any(|ext| name.ends_with(ext))
        })
        .collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    child: bool,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    mocks: Map<String, Value>,
    #[serde(default)]
    signals: Vec<Signal>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    steps: Vec<String>,
    #[serde(default)]
    outputs: Map<String, Value>,
    failure: Option<String>,
    #[serde(default)]
    attempts: BTreeMap<String, u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signal {
    kind: String,
    actor: String,
    comment: Option<String>,
    when: When,
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum When {
    /// The execution's status is Waiting (aws:pause, aws:approve).
    Waiting,
    /// The current step is an aws:sleep with its wake-up time set.
    Sleeping,
}

impl When {
    fn holds(self, e: &StoredExecution) -> bool {
        match self {
            When::Waiting => e.record.status == ExecutionStatus::Waiting,
            When::Sleeping => e.steps.last().is_some_and(|s| s.action == "aws:sleep" && s.wake_at.is_some() && !s.status.is_terminal()),
        }
    }
}

/// One document of the valid directory: its expectations, or `None` for a child document.
fn expectation(path: &Path) -> Result<Option<Expect>, String> {
    let expect_path = path.with_file_name(format!("{}.expect.json", stem(path)));
    if !expect_path.exists() {
        return Ok(None);
    }
    let expect: Expect = serde_json::from_str(&read(&expect_path)).map_err(|e| format!("{}: {e}", file_name(&expect_path)))?;
    Ok(if expect.child { None } else { Some(expect) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_fixtures_run_as_expected() {
    let dir = fixtures_dir("valid");
    let paths = documents(&dir);
    let mut children = Vec::new();
    let mut runs = Vec::new();
    for path in &paths {
        match expectation(path) {
            Ok(Some(expect)) => runs.push((path.clone(), expect)),
            Ok(None) => children.push(path.clone()),
            Err(message) => panic!("{message}"),
        }
    }
    assert!(runs.len() >= MIN_FIXTURES, "{} holds {} runnable fixtures; expected at least {MIN_FIXTURES}", dir.display(), runs.len());

    let mut tasks = tokio::task::JoinSet::new();
    for (path, expect) in runs {
        let children = children.clone();
        tasks.spawn(async move {
            let name = file_name(&path);
            let result = tokio::time::timeout(DEADLINE, run_fixture(&path, &children, &expect)).await;
            (name, result.unwrap_or_else(|_| Err(format!("did not finish within {} s", DEADLINE.as_secs()))))
        });
    }
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(message))) => failures.push(format!("valid/{name}: {message}")),
            Err(error) => failures.push(format!("a fixture task panicked: {error}")),
        }
    }
    failures.sort();
    assert!(failures.is_empty(), "{} valid fixture(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

async fn run_fixture(path: &Path, children: &[PathBuf], expect: &Expect) -> Result<(), String> {
    let f = Fixture::new();
    for child in children {
        let text = read(child);
        let name = stem(child);
        let file = file_name(child);
        let document =
            bosun_store::NewDocument { name: &name, file_name: &file, content: &text, document_type: "Automation", schema_version: "0.3" };
        f.store.create_document(&document).map_err(|e| format!("storing child document {file}: {e}"))?;
    }

    let text = read(path);
    let file = file_name(path);
    let loaded = bosun_document::load(&file, &text, &*f.engine);
    // As when the engine starts it: a mocked step needs no implementation of its action.
    let mocked: Vec<String> = loaded
        .document
        .iter()
        .flat_map(|d| d.main_steps.iter().enumerate())
        .filter(|(_, step)| expect.mocks.contains_key(&step.name))
        .map(|(i, _)| format!("mainSteps[{i}]."))
        .collect();
    let diagnostics: Vec<String> = loaded
        .diagnostics
        .0
        .iter()
        .filter(|d| !(d.kind == DiagKind::NotAvailable && mocked.iter().any(|m| d.path.starts_with(m.as_str()))))
        .map(|d| d.render(&file))
        .collect();
    if !diagnostics.is_empty() {
        return Err(format!("a valid fixture must load without diagnostics, got:\n  {}", diagnostics.join("\n  ")));
    }

    let parameters = expect
        .parameters
        .iter()
        .map(|(k, v)| {
            let input = match v {
                Value::String(s) => ParamInput::Text(s.clone()),
                other => ParamInput::Json(other.clone()),
            };
            (k.clone(), input)
        })
        .collect();
    let request = StartRequest {
        document: DocumentSnapshot { name: stem(path), version: None, file_name: file.clone(), text },
        parameters,
        mocks: expect.mocks.clone(),
    };
    let id = f.engine.start(request).await.map_err(|e| format!("start failed: {e}"))?;

    for (i, signal) in expect.signals.iter().enumerate() {
        send_signal(&f, &id, i, signal).await?;
    }
    let e = f.wait(&id).await;
    compare(expect, &e)
}

/// Waits for the state the signal needs, sends it, and waits until the engine consumed it.
async fn send_signal(f: &Fixture, id: &str, index: usize, signal: &Signal) -> Result<(), String> {
    let kind = SignalKind::parse(&signal.kind).ok_or_else(|| format!("signals[{index}]: unknown kind {:?}", signal.kind))?;
    loop {
        let e = f.engine.get(id).await.map_err(|e| e.to_string())?;
        if signal.when.holds(&e) {
            break;
        }
        if e.record.status.is_terminal() {
            return Err(format!(
                "signals[{index}] ({} by {}): the execution ended with {} before it was {:?}; steps: {:?}",
                signal.kind,
                signal.actor,
                e.record.status,
                signal.when,
                step_names(&e)
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f.engine
        .signal(id, kind, &signal.actor, signal.comment.clone())
        .await
        .map_err(|e| format!("signals[{index}] ({} by {}): {e}", signal.kind, signal.actor))?;
    loop {
        let pending = f.store.pending_signals(id).await.map_err(|e| e.to_string())?;
        let e = f.engine.get(id).await.map_err(|e| e.to_string())?;
        if pending.is_empty() || e.record.status.is_terminal() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn step_names(e: &StoredExecution) -> Vec<String> {
    e.steps.iter().map(|s| s.name.clone()).collect()
}

/// `${EXECUTION_ID}` in expected strings becomes the execution's id.
fn substitute(value: &Value, id: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("${EXECUTION_ID}", id)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, id)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, id))).collect()),
        other => other.clone(),
    }
}

fn compare(expect: &Expect, e: &StoredExecution) -> Result<(), String> {
    let mut problems = Vec::new();
    let status = e.record.status.to_string();
    if status != expect.status {
        problems.push(format!("status: expected {}, got {status} (failure: {:?})", expect.status, e.record.failure_message));
    }
    let steps = step_names(e);
    if steps != expect.steps {
        problems.push(format!("steps: expected {:?}, got {steps:?}", expect.steps));
    }
    if let Some(failure) = &expect.failure
        && e.record.failure_message.as_deref() != Some(failure.as_str())
    {
        problems.push(format!("failure: expected {failure:?}, got {:?}", e.record.failure_message));
    }
    for name in e.record.outputs.keys().filter(|k| !expect.outputs.contains_key(*k)) {
        problems.push(format!("outputs: the document output {name} = {} is not in the expect file", e.record.outputs[name]));
    }
    for (name, want) in &expect.outputs {
        let want = substitute(want, &e.record.id);
        let got = e.record.outputs.get(name).cloned().or_else(|| step_output(e, name));
        match got {
            Some(got) if got == want => {}
            Some(got) => problems.push(format!("outputs[{name}]: expected {want}, got {got}")),
            None => problems.push(format!("outputs[{name}]: expected {want}, got nothing")),
        }
    }
    for (step, want) in &expect.attempts {
        let got = e.steps.iter().rev().find(|s| &s.name == step).map(|s| s.attempt);
        if got != Some(*want) {
            problems.push(format!("attempts[{step}]: expected {want}, got {got:?}"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let detail: Vec<String> = e
        .steps
        .iter()
        .map(|s| format!("    {} {} attempt {}: {}", s.name, s.status, s.attempt, s.failure_message.as_deref().unwrap_or("-")))
        .collect();
    Err(format!("{}\n  step runs:\n{}", problems.join("\n"), detail.join("\n")))
}

/// `Step.Output` from the last run of the step that has that output.
fn step_output(e: &StoredExecution, name: &str) -> Option<Value> {
    let (step, output) = name.split_once('.')?;
    e.steps.iter().rev().filter(|s| s.name == step).find_map(|s| s.outputs.get(output).cloned())
}

#[tokio::test]
async fn invalid_fixtures_give_the_expected_diagnostics() {
    let dir = fixtures_dir("invalid");
    let paths = documents(&dir);
    assert!(paths.len() >= MIN_FIXTURES, "{} holds {} documents; expected at least {MIN_FIXTURES}", dir.display(), paths.len());
    let f = Fixture::new();
    let mut failures = Vec::new();
    for path in &paths {
        let file = file_name(path);
        let errors_path = path.with_file_name(format!("{}.errors", stem(path)));
        let Ok(expected) = std::fs::read_to_string(&errors_path) else {
            failures.push(format!("invalid/{file}: no {} next to it", file_name(&errors_path)));
            continue;
        };
        let expected: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
        let loaded = bosun_document::load(&file, &read(path), &*f.engine);
        let actual: Vec<String> = loaded.diagnostics.0.iter().map(|d| d.render(&file)).collect();
        if expected.is_empty() {
            failures
                .push(format!("invalid/{file}: {} is empty; an invalid fixture needs at least one diagnostic", file_name(&errors_path)));
        }
        if actual != expected {
            failures.push(format!("invalid/{file}: diagnostics differ (- expected, + actual)\n{}", diff(&expected, &actual)));
        }
    }
    assert!(failures.is_empty(), "{} invalid fixture(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// A line diff: `  ` both, `- ` expected only, `+ ` actual only (longest common subsequence).
fn diff(expected: &[&str], actual: &[String]) -> String {
    let (n, m) = (expected.len(), actual.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == actual[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && expected[i] == actual[j] {
            out.push(format!("  {}", expected[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", expected[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", actual[j]));
            j += 1;
        }
    }
    out.join("\n")
}
