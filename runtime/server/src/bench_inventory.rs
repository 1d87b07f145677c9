//! `bosun bench inventory`: inventory at fleet size, in a temporary data
//! directory (durability normal): ingest of nodes × packages through the store
//! (one node after another, and concurrent uploads), uploads of unchanged
//! content, query latency (by name with a version filter, by name prefix, a
//! filter over every entry), the summary, and a whole export; then uploads and
//! queries through the HTTP API. Prints a table; nothing here passes or fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_protocol::fleet::CreateActivation;
use bosun_protocol::inventory::{Entry, InventoryItem, PutInventory};
use bosun_store::{Durability, Store};
use serde_json::Value;

use crate::bench_params::{ApiUnderTest, check, percentile_ms, serve_api};

#[derive(Debug, Clone, clap::Args)]
pub struct InventoryArgs {
    /// Nodes with inventory.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub inventory_nodes: u64,
    /// Packages (AWS:Application entries) on each node.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=20_000))]
    pub packages: u64,
    /// Concurrent uploads (store and HTTP).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub uploaders: u64,
    /// Runs of each query; the table shows percentiles.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub queries: u64,
}

/// Node `node`'s packages: the same names on every node, versions that vary by
/// node, and openssl older than 3.0 on one node in ten.
fn packages(node: u64, count: u64, generation: u64) -> InventoryItem {
    let content: Vec<Entry> = (0..count)
        .map(|j| {
            let (name, version) = if j == 0 {
                (
                    "openssl".to_string(),
                    if node.is_multiple_of(10) { "1.1.1w-0+deb11u1".to_string() } else { "3.0.15-1~deb12u1".to_string() },
                )
            } else {
                (format!("pkg-{j:05}"), format!("{}.{}.{}-{generation}", j % 9, (node + j) % 20, j % 7))
            };
            let entry = serde_json::json!({"Name": name, "Version": version, "Architecture": "amd64", "PackageId": "dpkg",
                "Summary": "a package of the benchmark with a summary of typical length"});
            match entry {
                Value::Object(map) => map,
                _ => unreachable!("a JSON object"),
            }
        })
        .collect();
    InventoryItem {
        type_name: "AWS:Application".into(),
        schema_version: "1.1".into(),
        capture_time: "2026-11-27T04:00:00Z".into(),
        content,
    }
}

/// The table, printed a row at a time as each measurement ends.
struct Table;

impl Table {
    fn push(&mut self, (what, value, unit): &(String, f64, &str)) {
        use std::io::Write as _;
        println!("{what:<64} {value:>12.2} {unit}");
        let _ = std::io::stdout().flush();
    }
}

/// The timings of `runs` calls of `query`.
fn timed(runs: u64, mut query: impl FnMut() -> Result<usize, String>) -> Result<(Vec<Duration>, usize), String> {
    let mut took = Vec::new();
    let mut found = 0;
    for _ in 0..runs {
        let started = Instant::now();
        found = query()?;
        took.push(started.elapsed());
    }
    took.sort();
    Ok((took, found))
}

pub async fn run(args: &InventoryArgs) -> Result<(), String> {
    let error = |e: &dyn std::fmt::Display| e.to_string();
    let dir = tempfile::tempdir().map_err(|e| error(&e))?;
    let store = Arc::new(Store::open(dir.path(), Durability::Normal).map_err(|e| error(&e))?);
    let (nodes, per_node) = (args.inventory_nodes, args.packages);
    // An activation registers at most 1,000 nodes.
    let mut ids = Vec::new();
    for batch in (0..nodes).collect::<Vec<_>>().chunks(1000) {
        let request = CreateActivation { registration_limit: Some(batch.len() as u32), ..Default::default() };
        let activation = store.create_activation(&request).map_err(|e| error(&e))?;
        for i in batch {
            let platform =
                bosun_protocol::agent::Platform { platform_type: "Linux".into(), hostname: format!("node-{i}"), ..Default::default() };
            let registered =
                store.register_node(&activation.activation_id, &activation.activation_code, &platform).await.map_err(|e| error(&e))?;
            ids.push((registered.node_id, registered.credential));
        }
    }
    println!("{:<64} {:>12} unit", format!("measurement ({nodes} nodes × {per_node} packages, durability normal)"), "value");
    let mut rows = Table;
    let entries = (nodes * per_node) as f64;

    // Half the nodes one after another, the other half with concurrent uploads.
    let half = (nodes / 2) as usize;
    let started = Instant::now();
    for (i, (node, _)) in ids.iter().enumerate().take(half) {
        store.put_inventory(node, vec![packages(i as u64, per_node, 0)]).map_err(|e| error(&e))?;
    }
    let sequential = started.elapsed().as_secs_f64();
    rows.push(&(
        format!("ingest, {half} nodes × {per_node} packages, one at a time"),
        (half as u64 * per_node) as f64 / sequential,
        "entries/s",
    ));
    rows.push(&("  per upload".into(), sequential * 1000.0 / half.max(1) as f64, "ms"));
    let started = Instant::now();
    let rest: Vec<(usize, String)> = ids.iter().enumerate().skip(half).map(|(i, (n, _))| (i, n.clone())).collect();
    let mut lanes = Vec::new();
    for lane in 0..args.uploaders as usize {
        let store = store.clone();
        let mine: Vec<(usize, String)> = rest.iter().skip(lane).step_by(args.uploaders as usize).cloned().collect();
        lanes.push(tokio::spawn(async move {
            for (i, node) in mine {
                store.put_inventory_async(&node, vec![packages(i as u64, per_node, 0)]).await.map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        }));
    }
    for lane in lanes {
        lane.await.map_err(|e| error(&e))??;
    }
    let concurrent = started.elapsed().as_secs_f64();
    rows.push(&(
        format!("ingest, {} nodes × {per_node} packages, {} uploaders", rest.len(), args.uploaders),
        (rest.len() as u64 * per_node) as f64 / concurrent,
        "entries/s",
    ));
    let started = Instant::now();
    for (i, (node, _)) in ids.iter().enumerate() {
        let result = store.put_inventory(node, vec![packages(i as u64, per_node, 0)]).map_err(|e| error(&e))?;
        if !result.stored.is_empty() {
            return Err(format!("an unchanged upload of {node} was written"));
        }
    }
    let unchanged = started.elapsed().as_secs_f64();
    rows.push(&(format!("unchanged uploads ({nodes} nodes, nothing written)"), nodes as f64 / unchanged, "uploads/s"));
    let size = std::fs::metadata(dir.path().join("bosun.db")).map(|m| m.len()).unwrap_or(0);
    rows.push(&(format!("database size with {} entries", entries as u64), size as f64 / (1 << 20) as f64, "MiB"));

    let filters = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let by_name = filters(&["Name=openssl", "Version<3.0"]);
    let (took, found) =
        timed(args.queries, || Ok(store.query_inventory("AWS:Application", &by_name, 10_000).map_err(|e| error(&e))?.rows.len()))?;
    rows.push(&(format!("query Name=openssl Version<3.0 ({found} rows) p50"), percentile_ms(&took, 0.5), "ms"));
    rows.push(&("  p99".into(), percentile_ms(&took, 0.99), "ms"));
    let prefix = filters(&["Name^=pkg-0001"]);
    let (took, found) =
        timed(args.queries, || Ok(store.query_inventory("AWS:Application", &prefix, 10_000).map_err(|e| error(&e))?.rows.len()))?;
    rows.push(&(format!("query Name^=pkg-0001 ({found} rows, first 10000) p50"), percentile_ms(&took, 0.5), "ms"));
    let scan = filters(&["Version>=8.19"]);
    let (took, found) = timed(3, || Ok(store.query_inventory("AWS:Application", &scan, 10_000).map_err(|e| error(&e))?.rows.len()))?;
    rows.push(&(format!("query Version>=8.19, every entry looked at ({found} rows) p50"), percentile_ms(&took, 0.5), "ms"));
    let (took, _) = timed(3, || Ok(store.inventory_summary(10).map_err(|e| error(&e))?.applications.len()))?;
    rows.push(&("summary (top 10 OS versions and applications) p50".into(), percentile_ms(&took, 0.5), "ms"));
    let node = ids[0].0.clone();
    let (took, _) = timed(args.queries, || Ok(store.node_inventory(&node, None).map_err(|e| error(&e))?.len()))?;
    rows.push(&(format!("show one node ({per_node} entries) p50"), percentile_ms(&took, 0.5), "ms"));
    let started = Instant::now();
    let (mut exported, mut cursor) = (0usize, None);
    loop {
        let (page, next) =
            store.inventory_page("AWS:Application", &[], cursor, bosun_store::inventory::EXPORT_PAGE).map_err(|e| error(&e))?;
        exported += page.len();
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let took = started.elapsed().as_secs_f64();
    if exported as f64 != entries {
        return Err(format!("the export found {exported} of {entries} entries"));
    }
    rows.push(&(format!("export every entry through the store ({exported})"), exported as f64 / took, "entries/s"));

    // Through the HTTP API: new versions of every node's packages, then queries.
    let ApiUnderTest { base, token, stop, server } = serve_api(&store, dir.path(), Default::default()).await?;
    let started = Instant::now();
    let mut lanes = Vec::new();
    for lane in 0..args.uploaders as usize {
        let mine: Vec<(usize, String)> =
            ids.iter().enumerate().skip(lane).step_by(args.uploaders as usize).map(|(i, (_, c))| (i, c.clone())).collect();
        let url = format!("{base}/v1/agent/inventory");
        lanes.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for (i, credential) in mine {
                let body = PutInventory { items: vec![packages(i as u64, per_node, 1)] };
                check(client.post(&url).bearer_auth(&credential).json(&body).send().await.map_err(|e| e.to_string())?)?;
            }
            Ok::<(), String>(())
        }));
    }
    for lane in lanes {
        lane.await.map_err(|e| error(&e))??;
    }
    let http = started.elapsed().as_secs_f64();
    rows.push(&(format!("ingest over HTTP, {nodes} nodes × {per_node} packages, {} clients", args.uploaders), entries / http, "entries/s"));
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/inventory?type=AWS%3AApplication&filter=Name%3Dopenssl&filter=Version%3C3.0");
    let mut took = Vec::new();
    for _ in 0..args.queries {
        let started = Instant::now();
        check(client.get(&url).bearer_auth(&token).send().await.map_err(|e| error(&e))?)?.bytes().await.map_err(|e| error(&e))?;
        took.push(started.elapsed());
    }
    took.sort();
    rows.push(&("HTTP query Name=openssl Version<3.0 p50".into(), percentile_ms(&took, 0.5), "ms"));
    rows.push(&("  p99".into(), percentile_ms(&took, 0.99), "ms"));
    let _ = stop.send(());
    let _ = server.await;

    Ok(())
}
