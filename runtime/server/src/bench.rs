//! `bosun bench engine`: measures the store's commit rate and the engine's
//! throughput in each durability mode, and document validation, and prints a
//! table. A measurement, not a test: nothing here passes or fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_document::actions::StructureOnly;
use bosun_engine::{DocumentSnapshot, Echo, Engine, EngineConfig, ExecutionStatus, StartRequest};
use bosun_store::{Durability, Store, measure_commit_rate};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// What to measure: engine, plugins (needs a build with `--features bench-plugins`), fleet (Run Command with simulated agents), events (pattern matching and webhook ingest), params (Parameter Store over HTTP), schedules (State Manager's scheduler), inventory (ingest and queries at fleet size), sessions (Session Manager's relay), packages (Distributor: upload, download, install through the plugin), cloud (a plugin's signed cloud call against the raw HTTP round trip) or patch (a Patch Manager scan, native and sandboxed).
    #[arg(value_parser = ["engine", "plugins", "fleet", "events", "params", "schedules", "inventory", "sessions", "packages", "cloud", "patch"], default_value = "engine")]
    pub target: String,
    #[command(flatten)]
    pub fleet: crate::bench_fleet::FleetArgs,
    #[command(flatten)]
    pub events: crate::bench_events::EventsArgs,
    #[command(flatten)]
    pub params: crate::bench_params::ParamsArgs,
    #[command(flatten)]
    pub schedules: crate::bench_schedules::SchedulesArgs,
    #[command(flatten)]
    pub inventory: crate::bench_inventory::InventoryArgs,
    #[command(flatten)]
    pub sessions: crate::bench_sessions::SessionsArgs,
    #[command(flatten)]
    pub packages: crate::bench_packages::PackagesArgs,
    #[command(flatten)]
    pub cloud: crate::bench_cloud::CloudArgs,
    #[command(flatten)]
    pub patch: crate::patches::bench::PatchArgs,
    /// Plugin calls timed in each warm-call measurement.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub calls: u64,
    /// Steps of the single long runbook.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Concurrent runbooks in the group-commit measurement.
    #[arg(long, default_value_t = 100)]
    pub concurrent: usize,
    /// Steps of each concurrent runbook.
    #[arg(long, default_value_t = 100)]
    pub concurrent_steps: usize,
    /// Seconds spent measuring the commit rate before each single-runbook run.
    #[arg(long, default_value_t = 1.0)]
    pub commit_seconds: f64,
    /// Steps of the document whose validation is timed.
    #[arg(long, default_value_t = 500)]
    pub validate_steps: usize,
    /// Durability modes to measure.
    #[arg(long, value_parser = ["normal", "full"], num_args = 1.., default_values_t = ["normal".to_string(), "full".to_string()])]
    pub modes: Vec<String>,
    /// Runs of each engine measurement; the table shows the median.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
}

/// Runs the benchmark on its own runtime and prints the table to stdout.
pub fn run(args: &BenchArgs) -> Result<(), String> {
    let args = args.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
        if args.target == "plugins" {
            return runtime.block_on(plugins(args.calls as usize));
        }
        if args.target == "schedules" {
            return runtime.block_on(crate::bench_schedules::run(&args.schedules));
        }
        if args.target == "fleet" {
            return runtime.block_on(crate::bench_fleet::run(&args.fleet));
        }
        if args.target == "events" {
            return runtime.block_on(crate::bench_events::run(&args.events));
        }
        if args.target == "inventory" {
            return runtime.block_on(crate::bench_inventory::run(&args.inventory));
        }
        if args.target == "patch" {
            return runtime.block_on(crate::patches::bench::run(&args.patch));
        }
        if args.target == "sessions" {
            return runtime.block_on(crate::bench_sessions::run(&args.sessions, args.fleet.agent.clone()));
        }
        if args.target == "packages" {
            return runtime.block_on(crate::bench_packages::run(&args.packages));
        }
        if args.target == "cloud" {
            return runtime.block_on(crate::bench_cloud::run(&args.cloud));
        }
        if args.target == "params" {
            return runtime.block_on(crate::bench_params::run(&args.params));
        }
        runtime.block_on(measure(&args))
    })
    .join()
    .map_err(|_| "the benchmark thread panicked".to_string())?
}

struct Row {
    what: String,
    value: f64,
    unit: &'static str,
    note: String,
}

async fn measure(args: &BenchArgs) -> Result<(), String> {
    let mut rows = Vec::new();
    let commit_time = Duration::from_secs_f64(args.commit_seconds.max(0.1));
    let modes = [("normal", Durability::Normal), ("full", Durability::Full)];
    for (mode, durability) in modes.into_iter().filter(|(m, _)| args.modes.iter().any(|d| d == m)) {
        // Each run is paired with a commit-rate measurement just before it, so that a
        // change in the machine's load between measurements moves both figures alike.
        let pairs = repeated(args.repeat, || async {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let rate = measure_commit_rate(dir.path(), durability, commit_time).map_err(|e| e.to_string())?;
            Ok((rate, single_runbook(durability, args.steps).await?))
        })
        .await?;
        let rate = median_of(pairs.iter().map(|(rate, _)| *rate));
        let spread = |ratios: Vec<f64>| {
            let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (median_of(ratios), low, high)
        };
        rows.push(Row {
            what: format!("single-row commits, {mode}"),
            value: rate,
            unit: "commits/s",
            note: format!("{:.1} s before each runbook run", commit_time.as_secs_f64()),
        });
        let driven = median_of(pairs.iter().map(|(_, run)| run.driven_steps_per_s()));
        let whole = median_of(pairs.iter().map(|(_, run)| run.steps_per_s()));
        let start_ms = median_of(pairs.iter().map(|(_, run)| run.start.as_secs_f64() * 1000.0));
        let (ratio, low, high) = spread(pairs.iter().map(|(rate, run)| run.driven_steps_per_s() / rate).collect());
        rows.push(Row {
            what: format!("one {}-step runbook, {mode}", args.steps),
            value: driven,
            unit: "steps/s",
            note: format!(
                "{ratio:.2} x commit rate (goal >= 0.5; runs {low:.2}-{high:.2}, each against its own commit rate); from its committed start to its end"
            ),
        });
        let (ratio, _, _) = spread(pairs.iter().map(|(rate, run)| run.steps_per_s() / rate).collect());
        rows.push(Row {
            what: format!("  the same, with its start, {mode}"),
            value: whole,
            unit: "steps/s",
            note: format!("{ratio:.2} x commit rate; the start (check, create) takes {start_ms:.1} ms"),
        });
        if durability == Durability::Full {
            let aggregate = median(args.repeat, || concurrent_runbooks(durability, args.concurrent, args.concurrent_steps)).await?;
            let alone = median_of(
                repeated(args.repeat, || single_runbook(durability, args.concurrent_steps)).await?.iter().map(RunTimes::steps_per_s),
            );
            rows.push(Row {
                what: format!("one {}-step runbook, {mode}", args.concurrent_steps),
                value: alone,
                unit: "steps/s",
                note: String::new(),
            });
            rows.push(Row {
                what: format!("{} concurrent {}-step runbooks, {mode}", args.concurrent, args.concurrent_steps),
                value: aggregate,
                unit: "steps/s",
                note: format!("{:.1} x one runbook (goal >= 10)", aggregate / alone),
            });
        }
    }
    let ms = validation_ms(args.validate_steps);
    rows.push(Row {
        what: format!("validate a {}-step document (median of 30)", args.validate_steps),
        value: ms,
        unit: "ms",
        note: "goal < 5 ms".into(),
    });
    print_table(&rows);
    Ok(())
}

/// The median of `runs` runs of a measurement.
async fn median<F: std::future::Future<Output = Result<f64, String>>>(runs: u32, measure: impl FnMut() -> F) -> Result<f64, String> {
    Ok(median_of(repeated(runs, measure).await?))
}

/// `runs` runs of a measurement, one after the other.
async fn repeated<T, F: std::future::Future<Output = Result<T, String>>>(
    runs: u32,
    mut measure: impl FnMut() -> F,
) -> Result<Vec<T>, String> {
    let mut values = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        values.push(measure().await?);
    }
    Ok(values)
}

fn median_of(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn print_table(rows: &[Row]) {
    println!("{:<48} {:>14} {:<10} note", "measurement (runbooks: median of --repeat runs)", "value", "unit");
    for row in rows {
        println!("{:<48} {:>14.2} {:<10} {}", row.what, row.value, row.unit, row.note);
    }
}

/// A runbook of `steps` bosun:echo steps, each passing on the previous step's output.
pub fn echo_runbook(steps: usize) -> String {
    let mut text = String::from("schemaVersion: '0.3'\ndescription: benchmark runbook\nmainSteps:\n");
    for i in 0..steps {
        text.push_str(&format!("  - name: step{i}\n    action: bosun:echo\n    inputs:\n      Index: {i}\n"));
        if i > 0 {
            text.push_str(&format!("      Previous: '{{{{ step{}.Index }}}}'\n", i - 1));
        }
    }
    text
}

fn engine_on(store: Arc<Store>) -> Arc<Engine> {
    Engine::new(store.clone(), Arc::new(Echo), store, EngineConfig::default())
}

fn request(steps: usize) -> StartRequest {
    StartRequest {
        document: DocumentSnapshot { name: "bench".into(), version: None, file_name: "bench.yaml".into(), text: echo_runbook(steps) },
        parameters: vec![],
        mocks: Default::default(),
    }
}

/// The times of one runbook run: its start (check the document, commit the Pending
/// execution) and driving it from there to its end (every step transition committed).
struct RunTimes {
    steps: usize,
    start: Duration,
    driven: Duration,
}

impl RunTimes {
    fn steps_per_s(&self) -> f64 {
        self.steps as f64 / (self.start + self.driven).as_secs_f64()
    }

    fn driven_steps_per_s(&self) -> f64 {
        self.steps as f64 / self.driven.as_secs_f64()
    }
}

/// Runs one runbook of `steps` steps in a fresh store. The start is timed apart from the
/// rest: the engine creates the execution (checks the document, commits it as Pending) and
/// then drives it, as `bosun dev` drives an execution another process created.
async fn single_runbook(durability: Durability, steps: usize) -> Result<RunTimes, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Arc::new(Store::open(dir.path(), durability).map_err(|e| e.to_string())?);
    let engine = engine_on(store);
    let started = Instant::now();
    let id = engine.create(request(steps)).await.map_err(|e| e.to_string())?;
    let start = started.elapsed();
    let driving = Instant::now();
    engine.resume_all().await.map_err(|e| e.to_string())?;
    let status = engine.wait_until_ended(&id).await.map_err(|e| e.to_string())?;
    let driven = driving.elapsed();
    expect_success(status)?;
    Ok(RunTimes { steps, start, driven })
}

async fn concurrent_runbooks(durability: Durability, runbooks: usize, steps: usize) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Arc::new(Store::open(dir.path(), durability).map_err(|e| e.to_string())?);
    let engine = engine_on(store);
    let started = Instant::now();
    // Started at once, as by as many callers: each task starts one runbook and waits for it.
    let tasks: Vec<_> = (0..runbooks)
        .map(|_| {
            let engine = Arc::clone(&engine);
            tokio::spawn(async move {
                let id = engine.start(request(steps)).await.map_err(|e| e.to_string())?;
                expect_success(engine.wait_until_ended(&id).await.map_err(|e| e.to_string())?)
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok((runbooks * steps) as f64 / started.elapsed().as_secs_f64())
}

fn expect_success(status: ExecutionStatus) -> Result<(), String> {
    if status == ExecutionStatus::Success { Ok(()) } else { Err(format!("a benchmark runbook ended with status {status}")) }
}

fn validation_ms(steps: usize) -> f64 {
    let text = echo_runbook(steps);
    let mut samples: Vec<f64> = (0..30)
        .map(|_| {
            let started = Instant::now();
            let loaded = bosun_document::load("bench.yaml", &text, &StructureOnly);
            std::hint::black_box(&loaded);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[cfg(feature = "bench-plugins")]
async fn plugins(calls: usize) -> Result<(), String> {
    crate::bench_plugins::measure(calls).await
}

#[cfg(not(feature = "bench-plugins"))]
async fn plugins(_calls: usize) -> Result<(), String> {
    Err("this build carries no benchmark plugins: run `cargo run --release -p bosun --features bench-plugins -- bench plugins`".into())
}
