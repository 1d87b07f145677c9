//! Patch Manager end to end, with the real server and a real agent: a custom
//! baseline registered for the node's patch group, AWS-RunPatchBaseline (which
//! resolves to Bosun-RunPatchBaseline) scanning this machine's dpkg database
//! and apt lists in the agent's plugin sandbox, and the report visible through
//! `bosun patch compliance`, the summary and the export; then hostile
//! baselines, reports and callers refused.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::{Agent, invocation, send, wait_command};
use crate::fleet::{FleetServer, json_of};

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
const LISTS: &str = "/var/lib/apt/lists";

fn installed_packages() -> usize {
    let text = std::fs::read_to_string(DPKG_STATUS).unwrap();
    text.split("\n\n").filter(|p| p.lines().any(|l| l.starts_with("Status:") && l.trim_end().ends_with(" installed"))).count()
}

#[test]
fn a_scan_through_a_real_agent_reaches_the_compliance_store() {
    if !std::path::Path::new(DPKG_STATUS).exists() || !std::path::Path::new(LISTS).exists() {
        println!("skipped: this machine has no dpkg database or apt lists to scan");
        return;
    }
    let server = FleetServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(&server, dir.path(), "patch-1", &[("Role", "patching"), ("Patch Group", "web")]);
    let node = agent.node_id.clone();
    let data = server.data_dir().to_str().unwrap().to_string();
    let grants = ["--grant", "fs:ro:/var/lib/dpkg", "--grant", "fs:ro:/var/lib/apt/lists", "--grant", "fs:ro:/run"];
    server.cli(&[&["plugin", "grant", "--data-dir", &data, "patch-baseline"][..], &grants[..]].concat()).expect_code(0);

    let baseline = dir.path().join("baseline.json");
    let spec = json!({
        "Name": "web-debian", "OperatingSystem": "DEBIAN",
        "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {"PatchFilters": [{"Key": "PRIORITY", "Values": ["*"]}]},
                                          "ComplianceLevel": "HIGH", "EnableNonSecurity": true}]},
        "RejectedPatches": ["telnet"], "RejectedPatchesAction": "BLOCK"
    });
    std::fs::write(&baseline, spec.to_string()).unwrap();
    let created = server.cli(&["patch", "baseline", "create", baseline.to_str().unwrap(), "--output", "json"]);
    created.expect_code(0);
    let baseline_id = created.json()["id"].as_str().unwrap().to_string();
    server.cli(&["patch", "group", "register", "--baseline", &baseline_id, "web"]).expect_code(0);

    let id = send(
        &server,
        &json!({"documentName": "AWS-RunPatchBaseline", "targets": [{"key": "tag:Role", "values": ["patching"]}],
                                    "parameters": {"Operation": "Scan"}}),
    );
    let view = wait_command(&server, &id, &["Success", "Failed", "TimedOut", "Cancelled"]);
    let run = invocation(&view, &node);
    assert_eq!(run["status"], "Success", "{run}");
    assert!(run["stdout"].as_str().unwrap().contains(&format!("Baseline: {baseline_id}")), "{run}");

    let shown = server.cli(&["patch", "compliance", "--node", &node, "--output", "json"]);
    shown.expect_code(0);
    let report = &shown.json()[0];
    assert_eq!((report["baselineId"].as_str(), report["patchGroup"].as_str()), (Some(baseline_id.as_str()), Some("web")), "{report}");
    assert_eq!(report["commandId"], id.as_str());
    let patches = report["patches"].as_array().unwrap();
    assert_eq!(patches.len(), installed_packages(), "one row per installed package");
    let missing = patches.iter().filter(|p| p["state"] == "Missing").count() as u64;
    assert_eq!(report["counts"]["Missing"], missing);
    assert_eq!(report["status"], if missing > 0 { "NON_COMPLIANT" } else { "COMPLIANT" });
    let dpkg = patches.iter().find(|p| p["name"] == "dpkg").unwrap();
    assert!(dpkg["installedVersion"].is_string(), "{dpkg}");

    let by_group = server.cli(&["patch", "compliance", "--group", "web", "--output", "json"]).json();
    assert_eq!(by_group.as_array().unwrap().len(), 1);
    assert!(by_group[0].get("patches").is_none(), "the list leaves the patches out");
    let summary = server.cli(&["patch", "summary", "--output", "json"]).json();
    assert_eq!(summary["nodes"], 1, "{summary}");
    assert_eq!(summary["byState"]["Missing"], missing);
    let export = server.cli(&["patch", "export"]);
    export.expect_code(0);
    assert_eq!(export.stdout.lines().count(), patches.len());
    let csv = server.cli(&["patch", "export", "--format", "csv"]);
    assert_eq!(csv.stdout.lines().next(), Some("nodeId,name,arch,installedVersion,availableVersion,state,severity,classification"));

    let events = json_of(server.get("/v1/events", Some(&server.token)), StatusCode::OK);
    assert!(events.to_string().contains("Patch Compliance Changed"), "{events}");
    drop(agent);
}

#[test]
fn hostile_baselines_reports_and_callers_are_refused() {
    let server = FleetServer::start(&[]);
    let token = server.token.clone();
    let post = |path: &str, bearer: Option<&str>, body: &Value| {
        let response = server.post(path, bearer, body);
        let status = response.status();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };
    for (body, field) in [
        (json!({"Name": "x"}), "Name"),
        (json!({"Name": "web", "OperatingSystem": "WINDOWS"}), "OperatingSystem"),
        (
            json!({"Name": "web", "ApprovalRules": {"PatchRules": [{"PatchFilterGroup": {}, "ApproveAfterDays": 400}]}}),
            "ApprovalRules.PatchRules[0].ApproveAfterDays",
        ),
        (json!({"Name": "web", "RejectedPatches": ["$(reboot)"]}), "RejectedPatches[0]"),
        (json!({"Name": "web", "ApprovedPatches": vec!["a"; 51]}), "ApprovedPatches"),
        (json!({"Name": "web", "Unknown": 1}), "Unknown"),
        (json!({"Name": "web", "Description": "d".repeat(70_000)}), "baseline"),
    ] {
        let (status, answer) = post("/v1/patch/baselines", Some(&token), &body);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        let said = format!("{} {}", answer["field"], answer["message"]);
        assert!(said.contains(field), "{field}: {answer}");
    }
    let (status, _) = post("/v1/patch/baselines", None, &json!({"Name": "web"}));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let predefined =
        server.send(server_client().delete(format!("{}/v1/patch/baselines/Bosun-DefaultPatchBaseline-Debian", server.url)), Some(&token));
    assert_eq!(predefined.status(), StatusCode::CONFLICT);

    let (id, code) = server.activation(&json!({}));
    let (_, credential) = server.register(&id, &code, "hostile-patch");
    assert_eq!(
        server.get("/v1/patch/baselines", Some(&credential)).status(),
        StatusCode::UNAUTHORIZED,
        "a node credential is no admin token"
    );
    let snapshot = json_of(server.get("/v1/agent/patch/snapshot", Some(&credential)), StatusCode::OK);
    assert_eq!(
        (snapshot["BaselineId"].as_str(), snapshot["Product"].as_str()),
        (Some("Bosun-DefaultPatchBaseline-Ubuntu"), Some("Ubuntu24.04"))
    );
    for (body, field) in [
        (json!({"commandId": "c-1", "report": {"Status": "COMPLIANT"}}), "report"),
        (json!({"commandId": "", "report": {}}), "commandId"),
        (json!({"commandId": "c-1"}), "report"),
    ] {
        let (status, answer) = post("/v1/agent/patch/compliance", Some(&credential), &body);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(
            answer["field"].as_str().unwrap_or("").contains(field) || answer["message"].as_str().unwrap_or("").contains(field),
            "{answer}"
        );
    }
    let (status, _) = post("/v1/agent/patch/compliance", Some(&token), &json!({"commandId": "c", "report": {}}));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an admin token is no node credential");

    let doc = json_of(server.get("/v1/openapi.json", Some(&token)), StatusCode::OK);
    for path in ["/v1/patch/baselines", "/v1/patch/baselines/{id}/default", "/v1/patch/compliance/export", "/v1/agent/patch/snapshot"] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not in the OpenAPI document");
    }
}

fn server_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[test]
fn a_patch_policy_is_an_association_and_a_maintenance_window() {
    let server = FleetServer::start(&[]);
    let create = |name: &str, install: &str| {
        server.cli(&[
            "patch",
            "policy",
            "create",
            name,
            "--targets",
            "tag:Role=web",
            "--scan-schedule",
            "rate(12 hours)",
            "--install-schedule",
            install,
            "--max-concurrency",
            "10%",
            "--max-errors",
            "1",
            "--reboot-option",
            "NoReboot",
            "--output",
            "json",
        ])
    };
    let made = create("weekly", "cron(0 3 ? * SUN *)");
    made.expect_code(0);
    let made = made.json();
    assert_eq!(made["scanAssociation"]["definition"]["parameters"]["Operation"], "Scan");
    assert_eq!(made["scanAssociation"]["definition"]["maxConcurrency"], "10%");
    assert_eq!(made["installWindow"]["task"]["task"]["parameters"], json!({"Operation": "Install", "RebootOption": "NoReboot"}), "{made}");
    assert_eq!(made["installWindow"]["task"]["task"]["maxErrors"], "1");
    json_of(server.get("/v1/associations/weekly-scan", Some(&server.token)), StatusCode::OK);
    json_of(server.get("/v1/windows/weekly-install", Some(&server.token)), StatusCode::OK);

    // A bad install schedule leaves nothing half made.
    let bad = create("broken", "every sunday");
    assert_ne!(bad.code, 0);
    assert_eq!(server.get("/v1/associations/broken-scan", Some(&server.token)).status(), StatusCode::NOT_FOUND);

    server.cli(&["patch", "policy", "delete", "weekly"]).expect_code(0);
    assert_eq!(server.get("/v1/associations/weekly-scan", Some(&server.token)).status(), StatusCode::NOT_FOUND);
    assert_eq!(server.get("/v1/windows/weekly-install", Some(&server.token)).status(), StatusCode::NOT_FOUND);
    assert_ne!(server.cli(&["patch", "policy", "delete", "weekly"]).code, 0);
}
