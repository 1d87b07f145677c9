//! The patch store: baselines (custom ones change, predefined ones do not),
//! defaults, patch groups and the baseline a node resolves to, reports stored
//! and replaced with an event on a status change, summary and export pages.

use std::time::Duration;

use bosun_patching::baseline::{BaselineSpec, OperatingSystem};
use bosun_patching::{ComplianceLevel, PatchEntry, PatchState, Report, Snapshot};
use bosun_protocol::fleet::ChangeTags;

use crate::{FleetError, Store};

async fn node(store: &Store, os_name: &str, version: &str) -> String {
    let activation =
        store.create_activation(&bosun_protocol::fleet::CreateActivation { registration_limit: Some(1), ..Default::default() }).unwrap();
    let platform = bosun_protocol::agent::Platform {
        platform_type: "Linux".into(),
        name: os_name.into(),
        version: version.into(),
        hostname: "h".into(),
        ..Default::default()
    };
    store.register_node(&activation.activation_id, &activation.activation_code, &platform).await.unwrap().node_id
}

fn tag(store: &Store, node: &str, key: &str, value: &str) {
    let change = ChangeTags { add: [(key.to_string(), value.to_string())].into(), remove: Vec::new() };
    store.change_node_tags(node, &change, Duration::from_secs(60)).unwrap();
}

fn report(snapshot: &Snapshot, states: &[(&str, PatchState)]) -> Report {
    let patches = states
        .iter()
        .map(|(name, state)| PatchEntry {
            name: name.to_string(),
            arch: "amd64".into(),
            installed_version: Some("1.0".into()),
            available_version: (*state == PatchState::Missing).then(|| "1.1".to_string()),
            state: *state,
            severity: ComplianceLevel::Critical,
            classification: "Security".into(),
        })
        .collect();
    Report::new("Scan", snapshot, patches, false, Vec::new())
}

fn events(store: &Store) -> i64 {
    store.read(|c| c.query_row("SELECT COUNT(*) FROM events WHERE source = 'bosun.patch'", [], |r| r.get(0))).unwrap()
}

#[test]
fn baselines_are_created_changed_and_predefined_ones_are_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).unwrap();
    let all = store.list_patch_baselines(None).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|b| b.predefined && b.default));

    let created = store.create_patch_baseline(BaselineSpec::new("web", OperatingSystem::Debian)).unwrap();
    assert!(created.id.starts_with("pb-") && created.id.len() == 20 && !created.default);
    let dup = store.create_patch_baseline(BaselineSpec::new("web", OperatingSystem::Ubuntu)).unwrap_err();
    assert!(matches!(dup, FleetError::Conflict(_)), "{dup}");
    let mut spec = BaselineSpec::new("web-servers", OperatingSystem::Debian);
    spec.rejected_patches.push("telnet".into());
    let updated = store.update_patch_baseline(&created.id, spec).unwrap();
    assert_eq!(updated.baseline["RejectedPatches"][0], "telnet");
    assert_eq!(store.patch_baseline("web-servers").unwrap().id, created.id);
    let moved = store.update_patch_baseline(&created.id, BaselineSpec::new("web-servers", OperatingSystem::Ubuntu)).unwrap_err();
    assert!(moved.to_string().contains("OperatingSystem"), "{moved}");

    let predefined = OperatingSystem::Debian.predefined_baseline();
    for refused in [
        store.update_patch_baseline(predefined, BaselineSpec::new("x-y-z", OperatingSystem::Debian)).unwrap_err(),
        store.delete_patch_baseline(predefined).unwrap_err(),
        store.create_patch_baseline(BaselineSpec::new(predefined, OperatingSystem::Debian)).unwrap_err(),
    ] {
        assert!(matches!(refused, FleetError::Conflict(_)), "{refused}");
    }

    let default = store.set_default_patch_baseline(&created.id).unwrap();
    assert!(default.default);
    assert!(!store.patch_baseline(predefined).unwrap().default);
    assert!(store.delete_patch_baseline(&created.id).unwrap_err().to_string().contains("default"));
    store.set_default_patch_baseline(predefined).unwrap();
    store.delete_patch_baseline(&created.id).unwrap();
    assert!(matches!(store.patch_baseline(&created.id).unwrap_err(), FleetError::NotFound(_)));
    let mut bad = BaselineSpec::new("bad", OperatingSystem::Debian);
    bad.approved_patches.push("Not A Name".into());
    assert!(store.create_patch_baseline(bad).unwrap_err().to_string().contains("ApprovedPatches[0]"));
}

#[tokio::test]
async fn a_node_resolves_its_groups_baseline_or_its_systems_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).unwrap();
    let debian = node(&store, "Debian GNU/Linux", "12").await;
    let ubuntu = node(&store, "Ubuntu", "22.04").await;
    let other = node(&store, "Fedora Linux", "40").await;
    let web = store.create_patch_baseline(BaselineSpec::new("web", OperatingSystem::Debian)).unwrap();

    let snapshot = store.patch_snapshot(&debian).unwrap();
    assert_eq!((snapshot.baseline_id.as_str(), snapshot.product.as_str()), ("Bosun-DefaultPatchBaseline-Debian", "Debian12"));
    assert_eq!(store.patch_snapshot(&ubuntu).unwrap().product, "Ubuntu22.04");
    assert!(store.patch_snapshot(&other).unwrap_err().to_string().contains("Fedora"));

    store.register_patch_group("web", &web.id).unwrap();
    assert!(matches!(store.register_patch_group("web", &web.id).unwrap_err(), FleetError::Conflict(_)));
    assert!(store.register_patch_group("", &web.id).is_err());
    tag(&store, &debian, "Patch Group", "web");
    tag(&store, &ubuntu, "Patch Group", "web");
    let snapshot = store.patch_snapshot(&debian).unwrap();
    assert_eq!((snapshot.baseline_id.as_str(), snapshot.patch_group.as_deref()), (web.id.as_str(), Some("web")));
    // The group has no Ubuntu baseline: the Ubuntu node keeps its default.
    assert_eq!(store.patch_snapshot(&ubuntu).unwrap().baseline_id, "Bosun-DefaultPatchBaseline-Ubuntu");
    assert_eq!(store.patch_baseline(&web.id).unwrap().patch_groups, ["web"]);
    assert!(store.delete_patch_baseline(&web.id).unwrap_err().to_string().contains("patch group"));

    store.set_patch_settings(bosun_protocol::patch::PatchSettings { patch_group_tag_key: "PatchGroup".into() }).unwrap();
    assert_eq!(store.patch_snapshot(&debian).unwrap().baseline_id, "Bosun-DefaultPatchBaseline-Debian", "the old key no longer counts");
    tag(&store, &debian, "PatchGroup", "web");
    assert_eq!(store.patch_snapshot(&debian).unwrap().baseline_id, web.id);
    assert!(store.set_patch_settings(bosun_protocol::patch::PatchSettings { patch_group_tag_key: "aws:x".into() }).is_err());

    store.deregister_patch_group("web", &web.id).unwrap();
    assert!(matches!(store.deregister_patch_group("web", &web.id).unwrap_err(), FleetError::NotFound(_)));
    assert_eq!(store.patch_snapshot(&debian).unwrap().baseline_id, "Bosun-DefaultPatchBaseline-Debian");
}

#[tokio::test]
async fn reports_replace_each_other_and_status_changes_are_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Default::default()).unwrap();
    let a = node(&store, "Debian GNU/Linux", "12").await;
    let b = node(&store, "Debian GNU/Linux", "12").await;
    tag(&store, &b, "Patch Group", "db");
    let snap_a = store.patch_snapshot(&a).unwrap();
    let snap_b = store.patch_snapshot(&b).unwrap();

    store
        .put_patch_report(&a, "cmd-1", report(&snap_a, &[("openssl", PatchState::Missing), ("bash", PatchState::Installed)]))
        .await
        .unwrap();
    assert_eq!(events(&store), 1);
    store
        .put_patch_report(&a, "cmd-2", report(&snap_a, &[("openssl", PatchState::Missing), ("bash", PatchState::Installed)]))
        .await
        .unwrap();
    assert_eq!(events(&store), 1, "the same status again is no event");
    store.put_patch_report(&b, "cmd-2", report(&snap_b, &[("bash", PatchState::InstalledOther)])).await.unwrap();
    assert_eq!(events(&store), 2);

    let all = store.patch_compliance(None, None).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|n| n.patches.is_none()));
    let only_a = store.patch_compliance(None, Some(&a)).unwrap();
    assert_eq!(only_a[0].status, "NON_COMPLIANT");
    assert_eq!(only_a[0].counts["Missing"], 1);
    assert_eq!(only_a[0].patches.as_ref().unwrap().len(), 2);
    let group = store.patch_compliance(Some("db"), None).unwrap();
    assert_eq!((group.len(), group[0].node_id.as_str()), (1, b.as_str()));

    let summary = store.patch_summary(None).unwrap();
    assert_eq!((summary.nodes, summary.compliant, summary.non_compliant), (2, 1, 1));
    assert_eq!(summary.by_state["Installed"], 1);
    assert_eq!(summary.non_compliant_by_severity["CRITICAL"], 1);

    store.put_patch_report(&a, "cmd-3", report(&snap_a, &[("openssl", PatchState::Installed)])).await.unwrap();
    assert_eq!(events(&store), 3);
    let (first, next) = store.export_patches(None, None, 1).unwrap();
    assert_eq!(first.len(), 1);
    let (rest, end) = store.export_patches(None, next.as_ref().map(|(n, i)| (n.as_str(), *i)), 10).unwrap();
    assert_eq!((rest.len(), end), (1, None));
    assert_ne!(first[0].node_id, rest[0].node_id);

    let mut huge = report(&snap_a, &[]);
    huge.patches = vec![report(&snap_a, &[("x", PatchState::Installed)]).patches[0].clone(); crate::patches::MAX_PATCHES_PER_NODE + 1];
    assert!(store.put_patch_report(&a, "cmd-4", huge).await.unwrap_err().to_string().contains("report.Patches"));
    let mut hostile = report(&snap_a, &[("x\u{7}y", PatchState::Installed)]);
    hostile.patches[0].name = "x\u{7}y".into();
    assert!(store.put_patch_report(&a, "cmd-5", hostile).await.is_err());
    assert!(matches!(store.put_patch_report("mi-nope", "cmd-6", report(&snap_a, &[])).await.unwrap_err(), FleetError::NotFound(_)));

    store.deregister_node(&a, Duration::from_secs(60)).unwrap();
    assert_eq!(store.patch_compliance(None, None).unwrap().len(), 1, "a deregistered node's report is deleted");
}
