//! `bosun bench fleet`: Run Command at scale, measured with real processes — a
//! `bosun server` on a temporary data directory and `bosun-agent --simulate N`
//! (N virtual agents in one process, each with its own identity, speaking the real
//! protocol). Fan-out of `echo hi` to N nodes (time until every result is stored,
//! per-node latency from the stored times, the server's RSS and CPU), dispatch
//! latency to an idle real agent, and that agent's idle RSS and CPU. Prints a table.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bosun_protocol::command::CommandView;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The benchmark's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {
    /// Fan-out sizes, in simulated nodes.
    #[arg(long, value_delimiter = ',', default_values_t = [100usize, 1000, 5000])]
    pub nodes: Vec<usize>,
    /// Commands sent one by one to an idle real agent for the dispatch latency.
    #[arg(long, default_value_t = 50)]
    pub latency_samples: usize,
    /// Seconds the real agent is watched while idle.
    #[arg(long, default_value_t = 10)]
    pub idle_seconds: u64,
    /// The bosun-agent binary (default: beside this one).
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,
}

const WAIT: Duration = Duration::from_secs(300);
/// The most registrations one activation allows.
const MAX_REGISTRATIONS: usize = bosun_protocol::fleet::MAX_REGISTRATIONS as usize;

/// A child process killed when dropped.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident and peak memory (KiB) and CPU seconds (user + system) of a process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    pub(crate) rss_kib: u64,
    peak_kib: u64,
    threads: u64,
    /// Open file descriptors: mostly connections.
    fds: usize,
    pub(crate) cpu_seconds: f64,
}

pub(crate) fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let after: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| after.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat; `after` starts at field 3. The kernel counts in 1/100 s.
    Usage {
        rss_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
        threads: field("Threads:"),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0),
        cpu_seconds: (ticks(11) + ticks(12)) as f64 / 100.0,
    }
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?).ok().map(|t| t.with_timezone(&Utc))
}

pub(crate) struct Bench {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) dir: PathBuf,
    pub(crate) agent: PathBuf,
}

impl Bench {
    /// Starts a server on a fresh data directory with an admin token, for benchmarks that
    /// run real agents (`agent`, or `bosun-agent` beside this executable). The directory
    /// lives as long as the returned guard.
    pub(crate) fn start(agent: Option<PathBuf>) -> Result<(Bench, Process, tempfile::TempDir), String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let agent = agent.unwrap_or_else(|| exe.with_file_name("bosun-agent"));
        if !agent.is_file() {
            return Err(format!("{} is missing: build it (cargo build --release -p bosun-agent) or pass --agent PATH", agent.display()));
        }
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = tmp.path().to_path_buf();
        let data = dir.join("data");
        let token = create_token(&exe, &data)?;
        let (server, url) = start_server_with(&exe, &data, &dir, &[])?;
        let http = reqwest::Client::builder().pool_max_idle_per_host(4).build().map_err(|e| e.to_string())?;
        Ok((Bench { http, url, token, dir, agent }, server, tmp))
    }

    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{path}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Starts agents (simulated when `simulate > 0`) tagged `Bench=<tag>` and waits until
    /// `count` nodes with that tag are registered. An activation allows at most 1,000
    /// registrations (as in SSM), so larger fleets run as several simulating processes.
    pub(crate) async fn agents(&self, tag: &str, simulate: usize) -> Result<Vec<Process>, String> {
        let count = simulate.max(1);
        let mut processes = Vec::new();
        for (part, size) in
            (0..count).step_by(MAX_REGISTRATIONS).map(|from| (from / MAX_REGISTRATIONS, (count - from).min(MAX_REGISTRATIONS)))
        {
            let activation = self.post("/v1/activations", &json!({"tags": {"Bench": tag}, "registrationLimit": size})).await?;
            let (id, code) =
                (activation["activationId"].as_str().unwrap_or_default(), activation["activationCode"].as_str().unwrap_or_default());
            let state = self.dir.join(format!("agent-{tag}-{part}"));
            let log = std::fs::File::create(self.dir.join(format!("agent-{tag}-{part}.log"))).map_err(|e| e.to_string())?;
            let mut command = Command::new(&self.agent);
            command
                .args(["--server", &self.url, "--state-dir", &state.to_string_lossy(), "--activation-id", id, "--activation-code", code])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            if simulate > 0 {
                command.args(["--simulate", &size.to_string()]);
            }
            processes.push(Process(command.spawn().map_err(|e| format!("cannot start {}: {e}", self.agent.display()))?));
        }
        let started = Instant::now();
        loop {
            let nodes = self.get(&format!("/v1/nodes?tag=Bench={tag}")).await?;
            let registered = nodes.as_array().map(Vec::len).unwrap_or(0);
            if registered >= count {
                return Ok(processes);
            }
            if started.elapsed() > WAIT {
                return Err(format!("only {registered} of {count} nodes registered"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Sends `echo hi` to the nodes tagged `Bench=<tag>`, all at once; returns the command's id.
    async fn send(&self, tag: &str) -> Result<String, String> {
        let body = json!({
            "documentName": "AWS-RunShellScript",
            "targets": [{"key": format!("tag:Bench"), "values": [tag]}],
            "parameters": {"commands": ["echo hi"]},
            "maxConcurrency": "100%",
            "maxErrors": "100%",
        });
        let sent = self.post("/v1/commands", &body).await?;
        Ok(sent["commandId"].as_str().unwrap_or_default().to_string())
    }

    /// Waits until the command has ended (reading only its counts meanwhile).
    async fn wait(&self, id: &str, poll: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let view: CommandView =
                serde_json::from_value(self.get(&format!("/v1/commands/{id}?summary=true")).await?).map_err(|e| e.to_string())?;
            if view.status.is_terminal() {
                return Ok(());
            }
            if started.elapsed() > WAIT {
                return Err(format!("command {id} did not end: {:?}", view.counts));
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// A command with every invocation.
    async fn view(&self, id: &str) -> Result<CommandView, String> {
        serde_json::from_value(self.get(&format!("/v1/commands/{id}")).await?).map_err(|e| e.to_string())
    }
}

/// Per-node latencies (ms) from the command's request to each invocation's start and end, as stored.
fn latencies(view: &CommandView) -> (Vec<f64>, Vec<f64>) {
    let requested = time(Some(&view.requested_at));
    let ms = |at: Option<&str>| Some((time(at)? - requested?).num_microseconds()? as f64 / 1000.0);
    let mut started: Vec<f64> = view.invocations.iter().filter_map(|i| ms(i.started_at.as_deref())).collect();
    let mut ended: Vec<f64> = view.invocations.iter().filter_map(|i| ms(i.ended_at.as_deref())).collect();
    started.sort_by(f64::total_cmp);
    ended.sort_by(f64::total_cmp);
    (started, ended)
}

pub(crate) fn row(what: &str, value: String, note: &str) {
    println!("{what:<52} {value:>16}  {note}");
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Runs the benchmark and prints the table.
pub async fn run(args: &FleetArgs) -> Result<(), String> {
    let (bench, server, _tmp) = Bench::start(args.agent.clone())?;
    let pid = server.0.id();

    println!("{:<52} {:>16}  note", "measurement", "value");
    for &n in &args.nodes {
        let agents = bench.agents(&format!("fan{n}"), n).await?;
        // Let every node settle into its long poll.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = usage(pid);
        row(
            &format!("server RSS with {n} nodes polling, idle"),
            mib(before.rss_kib),
            &format!("{} threads, {} open files", before.threads, before.fds),
        );
        let started = Instant::now();
        let id = bench.send(&format!("fan{n}")).await?;
        bench.wait(&id, Duration::from_millis(20)).await?;
        let whole = started.elapsed();
        let after = usage(pid);
        let view = bench.view(&id).await?;
        let (_, ended) = latencies(&view);
        let ok = view.counts.get("Success").copied().unwrap_or(0);
        let goal = match n {
            1000 => "goal < 3 s",
            _ => "",
        };
        row(
            &format!("fan-out to {n} nodes: send until all stored"),
            format!("{:.2} s", whole.as_secs_f64()),
            &format!("{ok}/{n} Success; {goal}"),
        );
        row(
            &format!("  per-node latency p50 / p99 ({n})"),
            format!("{:.0} / {:.0} ms", percentile(&ended, 0.5), percentile(&ended, 0.99)),
            "request to result stored",
        );
        row(
            &format!("  server RSS now / peak ({n})"),
            format!("{} / {}", mib(after.rss_kib), mib(after.peak_kib)),
            &format!(
                "{} threads, {} open files{}",
                after.threads,
                after.fds,
                if n >= 5000 { "; goal peak < 200 MiB at 5,000" } else { "" }
            ),
        );
        row(&format!("  server CPU during the fan-out ({n})"), format!("{:.2} s", after.cpu_seconds - before.cpu_seconds), "user + system");
        drop(agents);
    }

    // Dispatch latency and idle cost of one real agent.
    let real = bench.agents("real", 0).await?;
    let nodes = bench.get("/v1/nodes?tag=Bench=real").await?;
    let node = nodes[0]["nodeId"].as_str().unwrap_or_default().to_string();
    let mut starts = Vec::new();
    for _ in 0..args.latency_samples {
        let body = json!({"documentName": "AWS-RunShellScript", "targets": [{"key": "InstanceIds", "values": [node]}], "parameters": {"commands": ["true"]}});
        let id = bench.post("/v1/commands", &body).await?["commandId"].as_str().unwrap_or_default().to_string();
        bench.wait(&id, Duration::from_millis(5)).await?;
        let view = bench.view(&id).await?;
        starts.extend(latencies(&view).0);
        // Let the agent go back to its long poll: the next command finds it idle.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    starts.sort_by(f64::total_cmp);
    row(
        "dispatch latency to an idle agent p50 / p99",
        format!("{:.1} / {:.1} ms", percentile(&starts, 0.5), percentile(&starts, 0.99)),
        &format!("send to the agent's start, {} samples; goal p99 < 250 ms", starts.len()),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let agent_pid = real.first().map(|p| p.0.id()).unwrap_or_default();
    let idle_before = usage(agent_pid);
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let idle_after = usage(agent_pid);
    row("agent idle RSS", mib(idle_after.rss_kib), "goal < 15 MiB");
    row(
        "agent idle CPU",
        format!("{:.2} %", 100.0 * (idle_after.cpu_seconds - idle_before.cpu_seconds) / args.idle_seconds as f64),
        &format!("over {} s between polls; goal ~0 %", args.idle_seconds),
    );
    drop(real);
    drop(server);
    Ok(())
}

pub(crate) fn create_token(exe: &Path, data: &Path) -> Result<String, String> {
    let output = Command::new(exe)
        .args(["token", "create", "bench", "--output", "json", "--data-dir"])
        .arg(data)
        .output()
        .map_err(|e| e.to_string())?;
    let created: Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("token create: {e}: {}", String::from_utf8_lossy(&output.stderr)))?;
    Ok(created["token"].as_str().unwrap_or_default().to_string())
}

/// The same, with global flags before `server` (e.g. `--durability full`).
pub(crate) fn start_server_with(exe: &Path, data: &Path, dir: &Path, flags: &[&str]) -> Result<(Process, String), String> {
    let out = dir.join("server.out");
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .args(flags)
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| e.to_string())?;
    let server = Process(child);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(url) = text.lines().find_map(|l| l.strip_prefix("listening on ")) {
            return Ok((server, url.trim().to_string()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the server did not start listening within 60 s".into())
}
