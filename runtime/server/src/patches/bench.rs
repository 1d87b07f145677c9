//! `bosun bench patch`: a scan of a node with about 2,000 installed packages
//! against a full-size Debian archive (`bosun_patching::synthetic`: `Packages`
//! lists and a dpkg status database of realistic stanzas, written to a
//! temporary root), run
//! natively with `bosun-patching` and inside the plugin sandbox with the
//! built-in `patch-baseline` plugin; prints time and peak memory of each and
//! the sandbox's overhead. A measurement, not a test.

use std::time::{Duration, Instant};

use bosun_patching::baseline::{OperatingSystem, predefined};
use bosun_patching::{ScanOptions, Snapshot};
use serde_json::json;

use super::sandbox::Sandbox;

#[derive(Debug, Clone, clap::Args)]
pub struct PatchArgs {
    /// Installed packages of the scanned node.
    #[arg(long = "patch-installed", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=50_000))]
    pub installed: u64,
    /// Packages of the main archive's list (Debian 12 amd64 has about 63,000).
    #[arg(long = "patch-available", default_value_t = 63_000, value_parser = clap::value_parser!(u64).range(1..=500_000))]
    pub available: u64,
    /// Scans timed on each side; the table shows the fastest.
    #[arg(long = "patch-runs", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub runs: u64,
}

fn row(what: &str, value: String, note: &str) {
    println!("{what:<48} {value:>14}  {note}");
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// The process's peak resident memory (VmHWM) and current (VmRSS), in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

pub async fn run(args: &PatchArgs) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("root");
    let (main_bytes, security_bytes) = bosun_patching::synthetic::write_root(&root, args.installed, args.available)
        .map_err(|e| format!("writing the synthetic root: {e}"))?;
    let snapshot = Snapshot {
        baseline_id: OperatingSystem::Debian.predefined_baseline().into(),
        product: "Debian12".into(),
        patch_group: None,
        baseline: predefined(OperatingSystem::Debian),
    };
    println!("{:<48} {:>14}  NOTE", "MEASURE", "VALUE");
    row("main list (plain text)", mib(main_bytes), &format!("{} packages", args.available));
    row("security list", mib(security_bytes), "");

    // Natively: peak RSS above what the process held before, reset through clear_refs.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (_, before) = memory();
    let mut native = Duration::MAX;
    let mut native_report = None;
    for _ in 0..args.runs {
        let started = Instant::now();
        let report = bosun_patching::scan(&root, &snapshot, chrono::Utc::now(), &ScanOptions::default())?;
        native = native.min(started.elapsed());
        native_report = Some(report);
    }
    let (peak, _) = memory();
    let native_report = native_report.ok_or("no native run")?;
    row("native scan", millis(native), &format!("fastest of {}", args.runs));
    row("native peak memory (RSS above the start)", mib(peak.saturating_sub(before)), "");

    let started = Instant::now();
    let sandbox = Sandbox::new(&[format!("fs:ro:{}", root.display())]).await?;
    row("sandbox: compile and load the plugin", millis(started.elapsed()), "once per plugin version; agents load precompiled artifacts");
    let inputs = json!({"Operation": "Scan", "Root": root.display().to_string(), "Snapshot": snapshot});
    let mut wall = Duration::MAX;
    let mut linear = 0;
    let mut sandbox_report = None;
    for _ in 0..args.runs {
        let outcome = sandbox.run(&inputs).await;
        wall = wall.min(outcome.wall);
        linear = linear.max(outcome.peak_memory_bytes);
        sandbox_report = Some(outcome.result.map_err(|e| format!("the sandboxed scan failed: {e}"))?);
    }
    let sandbox_report = sandbox_report.ok_or("no sandbox run")?;
    row("sandbox scan", millis(wall), &format!("fastest of {}; goal under 2 s", args.runs));
    row("sandbox peak memory (linear memory)", mib(linear as u64), "");
    row("sandbox / native time", format!("{:.2}x", wall.as_secs_f64() / native.as_secs_f64()), "");
    row("installed packages", native_report.patches.len().to_string(), "");
    row(
        "missing patches (native / sandbox)",
        format!("{} / {}", native_report.missing_count, sandbox_report["MissingCount"]),
        "must agree",
    );
    if sandbox_report["MissingCount"] != native_report.missing_count {
        return Err("the sandboxed and native scans disagree".into());
    }
    Ok(())
}
