//! The scan natively in an optimised build: `cargo bench -p bosun-patching`
//! writes the synthetic root of `bosun bench patch` (2,000 installed packages,
//! 63,000 available) and prints the fastest of five scans. `bosun bench patch`
//! measures the same scan inside the plugin sandbox.

use std::time::{Duration, Instant};

use bosun_patching::baseline::{OperatingSystem, predefined};
use bosun_patching::{ScanOptions, Snapshot};

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (main, security) = bosun_patching::synthetic::write_root(dir.path(), 2000, 63_000).expect("the synthetic root");
    let snapshot = Snapshot {
        baseline_id: OperatingSystem::Debian.predefined_baseline().into(),
        product: "Debian12".into(),
        patch_group: None,
        baseline: predefined(OperatingSystem::Debian),
    };
    let mut fastest = Duration::MAX;
    let mut missing = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let report = bosun_patching::scan(dir.path(), &snapshot, chrono::Utc::now(), &ScanOptions::default()).expect("the scan");
        fastest = fastest.min(started.elapsed());
        missing = report.missing_count;
    }
    println!("lists: main {:.1} MiB, security {:.1} MiB", main as f64 / 1048576.0, security as f64 / 1048576.0);
    println!("native scan, optimised: {:.0} ms (fastest of 5); missing patches: {missing}", fastest.as_secs_f64() * 1e3);
}
