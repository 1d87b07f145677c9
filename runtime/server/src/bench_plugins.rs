//! `bosun bench plugins`: the plugin host's costs in one run — first compile,
//! cold start from the artifact cache, warm no-op and small-file calls
//! (median and p99), spawning `/bin/true` for comparison, and peak RSS while
//! 100 calls run at once. Uses the hostile test plugin, so it needs a build
//! with the `bench-plugins` feature. A measurement, not a test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_plugin_host::{Grant, HostConfig, HostKind, Limits, PluginHost};
use serde_json::json;

const ACTION: &str = "plugin:hostile";

fn row(what: &str, value: String, note: String) {
    println!("{what:<62} {value:>12}  {note}");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn host(cache: &std::path::Path) -> Result<PluginHost, String> {
    let mut config = HostConfig::new(HostKind::Server);
    config.cache_dir = Some(cache.to_path_buf());
    config.slots = 128;
    PluginHost::new(config).map_err(|e| e.to_string())
}

/// Times `calls` sequential calls after a warm-up, and returns them sorted.
async fn time_calls(
    host: &PluginHost,
    plugin: &bosun_plugin_host::Plugin,
    inputs: &serde_json::Value,
    calls: usize,
) -> Result<Vec<Duration>, String> {
    for _ in 0..calls.min(1000) {
        host.call(plugin, ACTION, inputs).await.result.map_err(|e| e.to_string())?;
    }
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let outcome = host.call(plugin, ACTION, inputs).await;
        times.push(started.elapsed());
        outcome.result.map_err(|e| e.to_string())?;
    }
    times.sort();
    Ok(times)
}

pub async fn measure(calls: usize) -> Result<(), String> {
    let wasm = bosun_builtin_plugins::HOSTILE;
    println!("{:<62} {:>12}  NOTE", "MEASURE", "VALUE");
    let cache = tempfile::tempdir().map_err(|e| e.to_string())?;

    let first = host(cache.path())?;
    let started = Instant::now();
    first.load(wasm, vec![], None).await.map_err(|e| e.to_string())?;
    let compile = started.elapsed();
    row(
        "first load: compile + cache + link + check actions",
        format!("{:.1} ms", compile.as_secs_f64() * 1e3),
        format!("component of {} KB", wasm.len() / 1000),
    );
    drop(first);

    let host = Arc::new(host(cache.path())?);
    let started = Instant::now();
    let plugin = host.load(wasm, vec![], None).await.map_err(|e| e.to_string())?;
    let cold = started.elapsed();
    row(
        "cold start: load from the on-disk cache (mmap) + link + check",
        format!("{:.3} ms", cold.as_secs_f64() * 1e3),
        "goal < 1 ms".into(),
    );

    let noop = time_calls(&host, &plugin, &json!({"Case": "noop"}), calls).await?;
    let (noop_median, noop_p99) = (percentile(&noop, 0.5), percentile(&noop, 0.99));
    row(&format!("warm no-op call, median of {calls}"), micros(noop_median), "goal < 25 µs; instantiate + run + drop".into());
    row(&format!("warm no-op call, p99 of {calls}"), micros(noop_p99), String::new());

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(dir.path().join("small.txt"), "a small file\n").map_err(|e| e.to_string())?;
    let grant = Grant::parse(&format!("fs:ro:{}", dir.path().display())).map_err(|e| e.to_string())?;
    let reader = host.load(wasm, vec![grant], None).await.map_err(|e| e.to_string())?;
    let path = dir.path().join("small.txt").display().to_string();
    let reads = time_calls(&host, &reader, &json!({"Case": "read", "Path": path}), calls).await?;
    row(&format!("warm small-file read from a preopen, median of {calls}"), micros(percentile(&reads, 0.5)), "goal < 60 µs".into());
    row(&format!("warm small-file read from a preopen, p99 of {calls}"), micros(percentile(&reads, 0.99)), String::new());

    let spawns = calls.min(1000);
    let mut times = Vec::with_capacity(spawns);
    for _ in 0..spawns {
        let started = Instant::now();
        std::process::Command::new("/bin/true").status().map_err(|e| format!("/bin/true: {e}"))?;
        times.push(started.elapsed());
    }
    times.sort();
    let spawn = percentile(&times, 0.5);
    row(
        &format!("spawn /bin/true and wait, median of {spawns}"),
        micros(spawn),
        format!("{:.0} x the warm no-op call (goal >= 20 x)", spawn.as_secs_f64() / noop_median.as_secs_f64()),
    );

    let baseline = rss_kib().unwrap_or(0);
    let looping =
        Arc::new(host.load(wasm, vec![], Some(Limits { timeout_seconds: 1, ..Limits::default() })).await.map_err(|e| e.to_string())?);
    let running: Vec<_> = (0..100)
        .map(|_| {
            let (host, plugin) = (host.clone(), looping.clone());
            tokio::spawn(async move { host.call(&plugin, ACTION, &json!({"Case": "loop"})).await })
        })
        .collect();
    let mut peak = baseline;
    while !running.iter().all(|t| t.is_finished()) {
        peak = peak.max(rss_kib().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for task in running {
        let outcome = task.await.map_err(|e| e.to_string())?;
        if !matches!(outcome.result, Err(bosun_plugin_host::CallError::TimedOut(_))) {
            return Err(format!("a looping call ended otherwise than timed out: {:?}", outcome.result));
        }
    }
    row(
        "peak host RSS, 100 calls running at once (1 s each)",
        format!("{:.1} MiB", peak as f64 / 1024.0),
        format!("{:.1} MiB before they started", baseline as f64 / 1024.0),
    );
    Ok(())
}
