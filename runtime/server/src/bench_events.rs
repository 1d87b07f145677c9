//! `bosun bench events`: pattern matching over a stream of realistic events (about
//! 1 KB each) on one thread, with 10 and with 1,000 exact/prefix rules, parsing
//! included and not; and webhook ingest through a real `bosun server` on loopback
//! (Standard Webhooks signatures checked, every event durable before its 202):
//! accepted requests/s and latency. Prints a table; nothing here passes or fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bosun_events::{Pattern, RuleSet};
use serde_json::{Value, json};

use crate::bench_fleet::{create_token, percentile, start_server_with, usage};
use crate::webhook_sign::{self, Secret};

#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// Events matched in each matching measurement.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1000..=100_000_000))]
    pub events: u64,
    /// Webhook requests sent in each ingest measurement.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub requests: u64,
    /// Requests in flight at once during ingest.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub concurrency: u64,
    /// Enabled rules (matching none of the webhook events) in the extra ingest measurement
    /// that includes routing every event through them; 0 leaves it out.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub ingest_rules: u64,
}

/// The published figure of aws/event-ruler for exact/prefix rules, for comparison.
const EVENT_RULER_EVENTS_PER_S: f64 = 220_000.0;

/// A realistic event of about 1 KB: a Run Command invocation status change.
fn event(i: u64) -> Value {
    let detail_type = ["Command Invocation Status Change", "Automation Execution Status Change", "Node Status Change"][(i % 3) as usize];
    let status = ["Success", "Failed", "InProgress", "TimedOut"][((i / 7) % 4) as usize];
    let env = ["prod", "staging", "dev"][((i / 5) % 3) as usize];
    json!({
        "version": "0",
        "id": format!("6a7e8feb-b491-4cf7-a9f1-{:012x}", i),
        "detail-type": detail_type,
        "source": format!("bosun.service-{}", i % 1500),
        "account": "000000000000",
        "time": "2026-01-01T12:00:00Z",
        "region": "local",
        "resources": [format!("node/mi-{:017}", i % 5000), format!("command/{:08x}-6c1f-4fa1-9b3b-2b3c4d5e6f70", i)],
        "detail": {
            "command-id": format!("{:08x}-6c1f-4fa1-9b3b-2b3c4d5e6f70", i),
            "document-name": "AWS-RunShellScript",
            "instance-id": format!("mi-{:017}", i % 5000),
            "requested-date-time": "2026-01-01T11:59:58.123Z",
            "status": status,
            "status-details": "Success",
            "exit-code": (i % 7) as i64 - 1,
            "attempt": i % 3,
            "tags": {"Env": env, "Team": format!("team-{}", i % 40), "Role": "web"},
            "parameters": {"commands": ["systemctl restart nginx", "journalctl -u nginx --since -5m | tail -n 50"], "workingDirectory": "/srv/app"},
            "output-url": format!("https://bosun.example.internal/v1/commands/{:08x}/invocations/mi-{:017}/output", i, i % 5000),
            "platform": {"name": "Ubuntu", "version": "24.04", "kernel": "6.8.0-45-generic", "architecture": "x86_64"},
            "notes": "Invocation reported by the node agent after the last step ended; output truncated to 24000 characters."
        }
    })
}

/// Rule `i` of a set: alternately an exact rule (source and detail-type) and a prefix rule (instance id).
fn rule(i: usize) -> Value {
    if i.is_multiple_of(2) {
        json!({"source": [format!("bosun.service-{i}")], "detail-type": ["Command Invocation Status Change"], "detail": {"status": ["Failed", "TimedOut"]}})
    } else {
        json!({"detail": {"instance-id": [{"prefix": format!("mi-{:014}", i)}], "tags": {"Env": ["prod"]}}})
    }
}

struct Row {
    what: String,
    value: String,
    note: String,
}

/// Events/s matching `texts` against `rules` on this thread; with `parse`, the JSON text is parsed per event.
fn measure_matching(rules: &RuleSet<usize>, texts: &[String], values: &[Value], count: u64, parse: bool) -> (f64, u64) {
    let mut matched = 0u64;
    let started = Instant::now();
    for n in 0..count as usize {
        let at = n % texts.len();
        matched += if parse {
            let value: Value = serde_json::from_str(&texts[at]).unwrap_or(Value::Null);
            rules.matches(&value).len() as u64
        } else {
            rules.matches(&values[at]).len() as u64
        };
    }
    (count as f64 / started.elapsed().as_secs_f64(), matched)
}

fn matching(args: &EventsArgs, rows: &mut Vec<Row>) {
    let values: Vec<Value> = (0..10_000u64).map(event).collect();
    let texts: Vec<String> = values.iter().map(Value::to_string).collect();
    let average = texts.iter().map(String::len).sum::<usize>() / texts.len();
    for rule_count in [10usize, 1000] {
        let mut rules = RuleSet::new();
        for i in 0..rule_count {
            rules.insert(i, Pattern::from_value(&rule(i)).unwrap_or_else(|e| unreachable!("the bench's rules parse: {e}")));
        }
        for parse in [true, false] {
            let (rate, matched) = measure_matching(&rules, &texts, &values, args.events, parse);
            let how = if parse { "JSON text parsed and matched" } else { "parsed events matched" };
            rows.push(Row {
                what: format!("{rule_count} exact/prefix rules, {how}"),
                value: format!("{rate:.0} events/s"),
                note: format!(
                    "{} events of ~{average} B, {matched} matches; aws/event-ruler publishes ~{EVENT_RULER_EVENTS_PER_S:.0}/s",
                    args.events
                ),
            });
        }
    }
}

async fn ingest(args: &EventsArgs, durability: &str, rules: u64, rows: &mut Vec<Row>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    let token = create_token(&exe, &data)?;
    let (server, url) = start_server_with(&exe, &data, dir.path(), &["--durability", durability])?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency as usize).build().map_err(|e| e.to_string())?;
    let created: Value = http
        .post(format!("{url}/v1/hooks"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let secret = Secret::parse(created["secret"].as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
    for i in 0..rules {
        let rule = json!({
            "name": format!("bench-{i}"),
            "eventPattern": {"source": [format!("bench.elsewhere-{i}")], "detail": {"status": [{"prefix": "Fail"}]}},
            "targets": [{"id": "ops", "action": {"type": "opsItem", "title": "bench"}}],
        });
        http.post(format!("{url}/v1/rules"))
            .bearer_auth(&token)
            .json(&rule)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("creating rule {i}: {e}"))?;
    }
    let body = Arc::new(serde_json::to_vec(&event(1)).map_err(|e| e.to_string())?);
    let next = Arc::new(AtomicUsize::new(0));
    let (server_pid, client_pid) = (server.0.id(), std::process::id());
    let (server_cpu, client_cpu) = (usage(server_pid).cpu_seconds, usage(client_pid).cpu_seconds);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (http, url, secret, body, next, total) =
            (http.clone(), url.clone(), secret.clone(), body.clone(), next.clone(), args.requests as usize);
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let id = uuid::Uuid::new_v4().to_string();
                let timestamp = chrono::Utc::now().timestamp();
                let sent = Instant::now();
                let response = http
                    .post(format!("{url}/v1/hooks/bench"))
                    .header("content-type", "application/json")
                    .header(webhook_sign::ID_HEADER, &id)
                    .header(webhook_sign::TIMESTAMP_HEADER, timestamp.to_string())
                    .header(webhook_sign::SIGNATURE_HEADER, webhook_sign::sign(&secret, &id, timestamp, &body))
                    .body(body.as_ref().clone())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => latencies.push(sent.elapsed().as_secs_f64() * 1000.0),
                    _ => refused += 1,
                }
            }
            (latencies, refused)
        });
    }
    let mut latencies = Vec::new();
    let mut refused = 0;
    for (mine, theirs) in workers.join_all().await {
        latencies.extend(mine);
        refused += theirs;
    }
    let elapsed = started.elapsed();
    let per_request = |pid: u32, before: f64| (usage(pid).cpu_seconds - before) * 1e6 / args.requests as f64;
    let (server_us, client_us) = (per_request(server_pid, server_cpu), per_request(client_pid, client_cpu));
    latencies.sort_by(f64::total_cmp);
    rows.push(Row {
        what: match rules {
            0 => format!("webhook ingest, durability {durability}"),
            n => format!("  the same, routed through {n} rules"),
        },
        value: format!("{:.0} accepted/s", latencies.len() as f64 / elapsed.as_secs_f64()),
        note: format!(
            "{} requests of {} B, {} in flight, {refused} refused; latency p50 {:.2} ms, p99 {:.2} ms; CPU per request: server {server_us:.0} us, client {client_us:.0} us (two processes sharing the machine)",
            args.requests,
            body.len(),
            args.concurrency,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        ),
    });
    Ok(())
}

pub async fn run(args: &EventsArgs) -> Result<(), String> {
    let mut rows = Vec::new();
    let threads = std::thread::spawn({
        let args = args.clone();
        move || {
            let mut rows = Vec::new();
            matching(&args, &mut rows);
            rows
        }
    });
    rows.extend(threads.join().map_err(|_| "the matching thread panicked".to_string())?);
    for durability in ["normal", "full"] {
        ingest(args, durability, 0, &mut rows).await?;
        if args.ingest_rules > 0 {
            ingest(args, durability, args.ingest_rules, &mut rows).await?;
        }
    }
    let width = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r.value.len()).max().unwrap_or(0);
    for row in rows {
        crate::outln!("{:width$}  {:>value_width$}  {}", row.what, row.value, row.note);
    }
    Ok(())
}
