//! `bosun bench schedules`: State Manager's scheduler at scale — associations over
//! registered nodes (10,000 over 1,000 by default) in a throw-away store: the time to
//! compute every next fire, to claim them all when a driven clock makes them due, one
//! reconcile (targets resolved again for new nodes), and the driver's idle CPU and RSS
//! on the system clock. A measurement, not a test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_protocol::Target;
use bosun_protocol::agent::Platform;
use bosun_protocol::association::AssociationDefinition;
use bosun_protocol::fleet::CreateActivation;
use bosun_schedule::Schedule;
use bosun_store::{Durability, RunSent, Store};
use chrono::Utc;

use crate::associations::{Associations, Clock, ManualClock, SystemClock};
use crate::bench_fleet::usage;
use crate::run_command::RunCommand;

/// The schedules the associations cycle through.
const SCHEDULES: [(&str, Option<&str>); 5] = [
    ("cron(0 2 ? * SUN *)", None),
    ("rate(30 minutes)", None),
    ("cron(0/15 * * * ? *)", None),
    ("cron(0 9 ? * 2#1 *)", Some("Europe/Berlin")),
    ("cron(30 23 L * ? *)", Some("America/New_York")),
];
/// Node teams: each association targets one team's nodes by tag.
const TEAMS: usize = 10;

#[derive(Debug, Clone, clap::Args)]
pub struct SchedulesArgs {
    /// Associations to create.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub associations: u64,
    /// Registered nodes, in 10 tagged teams.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=100_000))]
    pub schedule_nodes: u64,
    /// Seconds the driver runs idle while CPU and RSS are measured.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub scheduler_idle_seconds: u64,
}

fn platform(i: u64) -> Platform {
    Platform {
        platform_type: "Linux".into(),
        name: "Ubuntu".into(),
        version: "24.04".into(),
        kernel: "6.8.0".into(),
        architecture: "x86_64".into(),
        hostname: format!("bench-{i}"),
        ip_addresses: vec![],
        ..Default::default()
    }
}

fn row(what: &str, value: f64, unit: &str) {
    println!("{what:<58} {value:>14.2} {unit}");
}

pub async fn run(args: &SchedulesArgs) -> Result<(), String> {
    let error = |e: &dyn std::fmt::Display| e.to_string();
    let dir = tempfile::tempdir().map_err(|e| error(&e))?;
    let store = Arc::new(Store::open(dir.path(), Durability::Normal).map_err(|e| error(&e))?);
    crate::runbooks::load_builtins(&store)?;
    let per_team = args.schedule_nodes.div_ceil(TEAMS as u64);
    let mut team_nodes: Vec<Vec<String>> = vec![Vec::new(); TEAMS];
    for (team, nodes) in team_nodes.iter_mut().enumerate() {
        let request = CreateActivation {
            description: String::new(),
            tags: [("Team".to_string(), format!("t{team}"))].into(),
            registration_limit: Some(per_team as u32),
            expires_in_seconds: None,
        };
        let activation = store.create_activation(&request).map_err(|e| error(&e))?;
        for i in 0..per_team {
            let registered =
                store.register_node(&activation.activation_id, &activation.activation_code, &platform(i)).await.map_err(|e| error(&e))?;
            nodes.push(registered.node_id);
        }
    }
    // Schedules start a day ahead, so nothing falls due while the driver idles.
    let start = Utc::now() + chrono::Duration::days(1);
    let definitions: Vec<AssociationDefinition> = (0..args.associations)
        .map(|i| {
            let (expression, zone) = SCHEDULES[i as usize % SCHEDULES.len()];
            AssociationDefinition {
                name: format!("bench-{i}"),
                document_name: "AWS-RunShellScript".into(),
                document_version: None,
                parameters: serde_json::from_value(serde_json::json!({"commands": ["true"]})).unwrap_or_default(),
                targets: vec![Target::Tag { key: "Team".into(), values: vec![format!("t{}", i as usize % TEAMS)] }],
                schedule_expression: Some(expression.into()),
                schedule_timezone: zone.map(str::to_string),
                schedule_offset: 0,
                max_concurrency: None,
                max_errors: None,
                compliance_severity: None,
            }
        })
        .collect();

    println!("{:<58} {:>14} unit", format!("measurement ({} associations, {} nodes)", args.associations, per_team * TEAMS as u64), "value");
    let began = Instant::now();
    let fires: Vec<_> = definitions
        .iter()
        .filter_map(|d| {
            let schedule = Schedule::new(d.schedule_expression.as_deref()?, d.schedule_timezone.as_deref(), d.schedule_offset).ok()?;
            schedule.next_after(start, start)
        })
        .collect();
    let compute = began.elapsed();
    row("parse and compute every next fire", compute.as_secs_f64() * 1000.0, "ms");
    row("  fires computed", fires.len() as f64, "");

    let began = Instant::now();
    for definition in &definitions {
        tokio::task::block_in_place(|| store.create_association(definition, start)).map_err(|e| error(&e))?;
    }
    let created = began.elapsed();
    row("create associations (each one transaction)", args.associations as f64 / created.as_secs_f64(), "assoc/s");

    // Steady state: every association has been applied to its team's nodes.
    let began = Instant::now();
    for run in store.pending_association_runs().map_err(|e| error(&e))? {
        let team = run.definition.name.trim_start_matches("bench-").parse::<usize>().unwrap_or(0) % TEAMS;
        let nodes = team_nodes[team].clone();
        tokio::task::block_in_place(|| {
            store.record_association_run(&run.run_id, RunSent::Refused { reason: "bench".into(), nodes }, start)
        })
        .map_err(|e| error(&e))?;
    }
    row("record node statuses of the first runs", began.elapsed().as_secs_f64(), "s");

    let began = Instant::now();
    let new_runs = tokio::task::block_in_place(|| store.claim_new_node_runs(start)).map_err(|e| error(&e))?;
    row("full reconcile for new nodes, nothing new", began.elapsed().as_secs_f64() * 1000.0, "ms");
    if !new_runs.is_empty() {
        return Err(format!("the reconcile found {} runs to make in a steady fleet", new_runs.len()));
    }
    let began = Instant::now();
    tokio::task::block_in_place(|| store.reconcile_fingerprint()).map_err(|e| error(&e))?;
    row("reconcile fingerprint (an idle reconcile's whole cost)", began.elapsed().as_secs_f64() * 1000.0, "ms");
    let began = Instant::now();
    let idle_claim = tokio::task::block_in_place(|| store.claim_due_associations(start)).map_err(|e| error(&e))?;
    row("claim when nothing is due", began.elapsed().as_secs_f64() * 1000.0, "ms");
    if !idle_claim.is_empty() {
        return Err("associations were due at their creation".into());
    }

    // The driver idle on the system clock: nothing is due before tomorrow.
    let run_command = RunCommand::new(store.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = tokio::spawn(Associations::new(store.clone(), run_command.clone(), clock).run_until(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = usage(std::process::id());
    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.scheduler_idle_seconds)).await;
    let after = usage(std::process::id());
    let _ = stop.send(());
    let _ = driver.await;
    row(
        "driver idle CPU (1 s ticks, fingerprint every 5 s)",
        100.0 * (after.cpu_seconds - before.cpu_seconds) / began.elapsed().as_secs_f64(),
        "% of a core",
    );
    row("process RSS with the store open", after.rss_kib as f64 / 1024.0, "MiB");

    // A driven clock makes every association due at once: how long claiming all takes.
    let clock = ManualClock::new(start);
    clock.set_to(start + chrono::Duration::days(40));
    let began = Instant::now();
    let mut claimed = 0;
    loop {
        let runs = tokio::task::block_in_place(|| store.claim_due_associations(clock.now())).map_err(|e| error(&e))?;
        if runs.is_empty() {
            break;
        }
        claimed += runs.len();
    }
    let claiming = began.elapsed();
    row("claim every association due at once (runs recorded)", claimed as f64, "runs");
    row("  claim rate (run + next fire, one transaction per 500)", claimed as f64 / claiming.as_secs_f64(), "runs/s");
    Ok(())
}
