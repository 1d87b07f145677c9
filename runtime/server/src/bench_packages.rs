//! `bosun bench packages`: Distributor in a temporary data directory, through
//! the real HTTP API on a loopback port: upload of a package of `--package-mib`
//! (the archive by content, then the version), download of the archive by a
//! node (whole, and in the 4 MiB ranged pieces the plugin asks for), and the
//! `configure-package` plugin in a node's plugin host installing it into a
//! temporary root (time and peak memory), checking an intact installation, and
//! repairing one whose files were removed. With `--content-store FILE` (a
//! `content-store.json`), the archives go where it says, such as an
//! S3-compatible bucket. Prints a table; nothing here passes or fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_plugin_host::{ControlPlaneLink, Grant, HostConfig, Plugin, PluginHost};
use bosun_protocol::fleet::CreateActivation;
use bosun_store::{Durability, Store};
use serde_json::json;

use crate::bench_params::{ApiUnderTest, check, serve_api};

#[derive(Debug, Clone, clap::Args)]
pub struct PackagesArgs {
    /// The size of the package's payload, in MiB.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=400))]
    pub package_mib: u64,
    /// Runs of each measurement; the table shows the median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub package_runs: u32,
    /// Keep the archives where this content-store.json says (default: the temporary data directory).
    #[arg(long, value_name = "FILE")]
    pub content_store: Option<std::path::PathBuf>,
}

/// `len` bytes that do not compress (xorshift), different for each `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

struct Row {
    what: String,
    value: f64,
    unit: &'static str,
}

pub async fn run(args: &PackagesArgs) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Arc::new(Store::open(&dir.path().join("data"), Durability::Normal).map_err(|e| e.to_string())?);
    crate::plugins::load_builtins(&store)?;
    if let Some(config) = &args.content_store {
        let target = dir.path().join("data").join(crate::packages::config::CONFIG_FILE);
        std::fs::copy(config, &target).map_err(|e| format!("cannot copy {}: {e}", config.display()))?;
        crate::packages::check_configuration(&dir.path().join("data"))?;
    }
    let ApiUnderTest { base, token, stop, server } = serve_api(&store, &dir.path().join("data"), Default::default()).await?;
    let http = reqwest::Client::new();
    let location: bosun_protocol::packages::ContentStoreView = http
        .get(format!("{base}/v1/packages/content/store"))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let size = (args.package_mib << 20) as usize;
    let mib = args.package_mib as f64;
    let mut rows = Vec::new();

    // Upload: the archive by content, then the version from its manifest.
    let (mut upload_s, mut version_s) = (Vec::new(), Vec::new());
    let mut last_version = String::new();
    for run in 0..args.package_runs {
        let payload = noise(size, u64::from(run) + 1);
        let zip = bosun_package::archive::write_zip(&[
            ("install.sh", b"cp payload.bin ../../installed.bin\n"),
            ("uninstall.sh", b"rm -f ../../installed.bin\n"),
            ("payload.bin", &payload),
        ])?;
        let sha = bosun_package::sha256_hex(&zip);
        last_version = format!("1.{run}");
        let manifest = json!({"schemaVersion": "2.0", "version": last_version,
            "packages": {"_any": {"_any": {"_any": {"file": "bench.zip"}}}}, "files": {"bench.zip": {"checksums": {"sha256": sha}}}});
        let started = Instant::now();
        let put =
            http.put(format!("{base}/v1/packages/content/{sha}")).bearer_auth(&token).body(zip).send().await.map_err(|e| e.to_string())?;
        check(put)?;
        upload_s.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let created = http
            .post(format!("{base}/v1/packages/bench/versions"))
            .bearer_auth(&token)
            .json(&json!({"manifest": manifest}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        check(created)?;
        version_s.push(started.elapsed().as_secs_f64());
    }
    rows.push(Row { what: format!("upload a {mib} MiB archive (PUT by content)"), value: median(upload_s.clone()) * 1000.0, unit: "ms" });
    rows.push(Row { what: "  upload throughput".into(), value: mib / median(upload_s), unit: "MiB/s" });
    rows.push(Row { what: "create the version (manifest + archive checks)".into(), value: median(version_s) * 1000.0, unit: "ms" });

    // Download by a node: whole, and in the plugin's ranged pieces.
    let activation =
        store.create_activation(&CreateActivation { registration_limit: Some(1), ..Default::default() }).map_err(|e| e.to_string())?;
    let platform = bosun_protocol::agent::Platform { platform_type: "Linux".into(), hostname: "bench".into(), ..Default::default() };
    let node = store.register_node(&activation.activation_id, &activation.activation_code, &platform).await.map_err(|e| e.to_string())?;
    let file = format!("{base}/v1/agent/packages/bench/versions/{last_version}/files/bench.zip");
    let (mut whole_s, mut ranged_s) = (Vec::new(), Vec::new());
    for _ in 0..args.package_runs {
        let started = Instant::now();
        let bytes = check(http.get(&file).bearer_auth(&node.credential).send().await.map_err(|e| e.to_string())?)?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        whole_s.push(started.elapsed().as_secs_f64());
        let total = bytes.len() as u64;
        let started = Instant::now();
        let mut offset = 0u64;
        while offset < total {
            let range = format!("bytes={offset}-{}", offset + bosun_package::DOWNLOAD_PIECE_BYTES - 1);
            let piece =
                check(http.get(&file).bearer_auth(&node.credential).header("Range", range).send().await.map_err(|e| e.to_string())?)?;
            offset += piece.bytes().await.map_err(|e| e.to_string())?.len() as u64;
        }
        ranged_s.push(started.elapsed().as_secs_f64());
    }
    rows.push(Row { what: "download by a node, whole".into(), value: mib / median(whole_s), unit: "MiB/s" });
    rows.push(Row { what: "download by a node, 4 MiB ranges".into(), value: mib / median(ranged_s), unit: "MiB/s" });

    // Install through the plugin, in a node's plugin host.
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let r = root.display().to_string();
    let grants = [format!("fs:rw:{r}"), format!("exec:/usr/bin/env -C {r}/* **"), format!("http:{base}")]
        .iter()
        .map(|g| Grant::parse(g).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let host = PluginHost::new(HostConfig::node()).map_err(|e| e.to_string())?;
    let wasm = bosun_builtin_plugins::get("configure-package").ok_or("this build has no configure-package plugin")?.bytes;
    let plugin = host.load(wasm, grants, None).await.map_err(|e| e.to_string())?;
    let link = Arc::new(ControlPlaneLink::new(&base, &node.credential, &["/v1/agent/packages/"])?);
    let inputs = json!({"name": "bench", "action": "Install", "installRoot": r, "version": last_version});
    let call = |what: &'static str| configure_once(&host, &plugin, &link, &inputs, what);
    let (mut install, mut intact, mut repair, mut memory) = (Vec::new(), Vec::new(), Vec::new(), 0usize);
    for _ in 0..args.package_runs {
        let _ = std::fs::remove_dir_all(root.join("bench"));
        let (wall, peak, outcome) = call("install").await?;
        expect(&outcome, "Installed")?;
        install.push(wall.as_secs_f64());
        memory = memory.max(peak);
        let (wall, _, outcome) = call("re-run").await?;
        expect(&outcome, "AlreadyInstalled")?;
        intact.push(wall.as_secs_f64());
        std::fs::remove_file(root.join("bench").join(&last_version).join("payload.bin")).map_err(|e| e.to_string())?;
        let (wall, peak, outcome) = call("repair").await?;
        expect(&outcome, "Repaired")?;
        repair.push(wall.as_secs_f64());
        memory = memory.max(peak);
    }
    rows.push(Row { what: format!("install a {mib} MiB package through the plugin"), value: median(install) * 1000.0, unit: "ms" });
    rows.push(Row { what: "  re-run, every file intact (hash check only)".into(), value: median(intact) * 1000.0, unit: "ms" });
    rows.push(Row { what: "  repair after a file was removed".into(), value: median(repair) * 1000.0, unit: "ms" });
    rows.push(Row { what: "  plugin peak memory (wasm linear memory)".into(), value: memory as f64 / f64::from(1 << 20), unit: "MiB" });

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    crate::outln!("{:<52} {:>12}  unit", "measurement", "value");
    for row in rows {
        crate::outln!("{:<52} {:>12.1}  {}", row.what, row.value, row.unit);
    }
    crate::outln!("({} runs of each, median; {} MiB of incompressible payload; durability normal)", args.package_runs, args.package_mib);
    crate::outln!("(archives kept in {})", location.location);
    Ok(())
}

/// One call of the plugin: its wall time, peak memory and outcome.
async fn configure_once(
    host: &PluginHost,
    plugin: &Plugin,
    link: &Arc<ControlPlaneLink>,
    inputs: &serde_json::Value,
    what: &str,
) -> Result<(Duration, usize, String), String> {
    let outcome = host.call_linked(plugin, "aws:configurePackage", inputs, Some(link.clone())).await;
    let outputs = outcome.result.map_err(|e| format!("{what}: {e}"))?;
    Ok((outcome.wall, outcome.peak_memory_bytes, outputs["Outcome"].as_str().unwrap_or_default().to_string()))
}

fn expect(outcome: &str, wanted: &str) -> Result<(), String> {
    if outcome == wanted { Ok(()) } else { Err(format!("the plugin said {outcome}, not {wanted}")) }
}
