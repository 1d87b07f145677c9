//! `bosun bench params`: Parameter Store over HTTP on loopback, against the real API
//! (router, token check, store) on a temporary data directory with durability full:
//! GetParameter requests/s and latency percentiles with many concurrent clients,
//! durable PutParameter writes/s, and get-by-path --recursive over many parameters
//! (every page). The clients run in this process, beside the server: the CPU time per
//! GetParameter is both sides'. Prints a table; nothing here passes or fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_protocol::params::{ParameterType, ParametersPage, PutParameter, Tier};
use bosun_store::{Durability, MasterKey, Store};
use serde_json::json;

/// The benchmark's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ParamsArgs {
    /// Concurrent HTTP clients for GetParameter and PutParameter.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub clients: u64,
    /// Seconds each rate is measured.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Parameters under the path that get-by-path reads.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub path_size: u64,
}

/// Latencies of calls made by `clients` tasks for `for_how_long`; `call(client, i)` makes one call.
async fn hammer<F, Fut>(clients: u64, for_how_long: Duration, call: F) -> Result<(f64, Vec<Duration>), String>
where
    F: Fn(reqwest::Client, u64, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let started = Instant::now();
    let deadline = started + for_how_long;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let call = call.clone();
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().map_err(|e| e.to_string())?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let at = Instant::now();
                call(client.clone(), c, i).await?;
                latencies.push(at.elapsed());
                i += 1;
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    Ok((all.len() as f64 / elapsed, all))
}

pub(crate) fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    sorted.get(((sorted.len().saturating_sub(1)) as f64 * p).round() as usize).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

pub(crate) fn check(response: reqwest::Response) -> Result<reqwest::Response, String> {
    if response.status().is_success() { Ok(response) } else { Err(format!("the server answered {}", response.status())) }
}

fn string(name: String, value: &str, overwrite: bool) -> PutParameter {
    PutParameter {
        name,
        value: value.into(),
        kind: Some(ParameterType::String),
        description: None,
        allowed_pattern: None,
        data_type: None,
        tier: None,
        policies: None,
        overwrite,
    }
}

/// The real API on a loopback port, over `store`, with an admin token.
pub(crate) struct ApiUnderTest {
    pub base: String,
    pub token: String,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub server: tokio::task::JoinHandle<()>,
}

/// Serves the API over `store` (data directory `dir`) on a loopback port the OS picks.
pub(crate) async fn serve_api(
    store: &Arc<Store>,
    dir: &std::path::Path,
    settings: crate::api::ApiSettings,
) -> Result<ApiUnderTest, String> {
    let token = crate::cli::token::new_token().map_err(|e| e.message)?;
    store.create_token("bench", bosun_store::token_hash(&token)).map_err(|e| e.to_string())?;
    let run_command = crate::run_command::RunCommand::new(store.clone());
    let engine = crate::cli::engine(store, dir, Some(run_command.clone())).map_err(|e| e.message)?;
    let services = crate::events::targets::Services {
        store: store.clone(),
        engine: engine.clone(),
        run_command: run_command.clone(),
        http: reqwest::Client::new(),
    };
    let bus = crate::events::bus::EventBus::new(services, Default::default());
    let app = crate::api::router(store.clone(), engine, run_command, bus, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(crate::http_serve::serve(listener, app, stopped));
    Ok(ApiUnderTest { base, token, stop, server })
}

pub async fn run(args: &ParamsArgs) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Arc::new(Store::open(dir.path(), Durability::Full).map_err(|e| e.to_string())?);
    let key = Arc::new(MasterKey::generate().map_err(|e| e.to_string())?);
    let settings = crate::api::ApiSettings { param_key: Some(key), ..Default::default() };
    let ApiUnderTest { base, token, stop, server } = serve_api(&store, dir.path(), settings).await?;
    let for_how_long = Duration::from_secs_f64(args.seconds.max(0.5));
    let mut rows: Vec<(String, f64, &str)> = Vec::new();

    store
        .put_parameter(string("/bench/one".into(), "value-of-a-typical-size-0123456789", false), "bench", None)
        .map_err(|e| e.to_string())?;
    let (url, bearer) = (format!("{base}/v1/parameters/get"), token.clone());
    let cpu_before = crate::bench_fleet::usage(std::process::id()).cpu_seconds;
    let (rate, latencies) = hammer(args.clients, for_how_long, move |client, _, _| {
        let (url, bearer) = (url.clone(), bearer.clone());
        async move {
            let response =
                client.post(&url).bearer_auth(&bearer).json(&json!({"name": "/bench/one"})).send().await.map_err(|e| e.to_string())?;
            check(response)?.bytes().await.map(drop).map_err(|e| e.to_string())
        }
    })
    .await?;
    let cpu = crate::bench_fleet::usage(std::process::id()).cpu_seconds - cpu_before;
    let clients = args.clients;
    rows.push((format!("GetParameter, {clients} clients"), rate, "req/s"));
    rows.push(("GetParameter p50".into(), percentile_ms(&latencies, 0.50), "ms"));
    rows.push(("GetParameter p99".into(), percentile_ms(&latencies, 0.99), "ms"));
    // Clients and server run in this one process: the CPU time is both sides'.
    rows.push(("GetParameter CPU per request, clients and server".into(), cpu * 1e6 / latencies.len().max(1) as f64, "us"));

    let (url, bearer) = (format!("{base}/v1/parameters/put"), token.clone());
    let (rate, latencies) = hammer(args.clients, for_how_long, move |client, c, i| {
        let (url, bearer) = (url.clone(), bearer.clone());
        async move {
            let body = string(format!("/bench/put/{c}"), &format!("value {i}"), true);
            check(client.post(&url).bearer_auth(&bearer).json(&body).send().await.map_err(|e| e.to_string())?).map(drop)
        }
    })
    .await?;
    rows.push((format!("PutParameter (fsync per commit), {clients} clients"), rate, "writes/s"));
    rows.push(("PutParameter p99".into(), percentile_ms(&latencies, 0.99), "ms"));

    let seeded = Instant::now();
    let mut puts = Vec::new();
    for i in 0..args.path_size {
        let store = store.clone();
        puts.push(tokio::spawn(async move {
            // Advanced: with the parameters written above, 10,000 more would pass the Standard tier's count limit.
            let put = PutParameter { tier: Some(Tier::Advanced), ..string(format!("/tree/a{}/b{}/p{i}", i % 10, i % 7), "v", false) };
            store.put_parameter_async(put, "bench", None).await.map(drop)
        }));
    }
    for put in puts {
        put.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    rows.push((
        format!("seeding {} parameters (concurrent puts, in process)", args.path_size),
        seeded.elapsed().as_secs_f64() * 1000.0,
        "ms",
    ));
    let client = reqwest::Client::new();
    let walked = Instant::now();
    let (mut found, mut pages, mut next_token) = (0usize, 0usize, None::<String>);
    loop {
        let body = json!({"path": "/tree", "recursive": true, "nextToken": next_token});
        let response = client
            .post(format!("{base}/v1/parameters/get-by-path"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let page: ParametersPage = check(response)?.json().await.map_err(|e| e.to_string())?;
        found += page.parameters.len();
        pages += 1;
        match page.next_token {
            Some(token) => next_token = Some(token),
            None => break,
        }
    }
    let took = walked.elapsed().as_secs_f64();
    if found as u64 != args.path_size {
        return Err(format!("get-by-path found {found} of {} parameters", args.path_size));
    }
    rows.push((format!("get-by-path --recursive, {found} parameters, {pages} pages"), took * 1000.0, "ms"));
    rows.push(("get-by-path --recursive rate".into(), found as f64 / took, "params/s"));

    let _ = stop.send(());
    let _ = server.await;
    println!("{:<56} {:>12} unit", "measurement (HTTP on loopback, durability full)", "value");
    for (what, value, unit) in rows {
        println!("{what:<56} {value:>12.2} {unit}");
    }
    Ok(())
}
