//! `bosun bench sessions`: Session Manager through a real `bosun server` and a real
//! `bosun-agent` on loopback: the keystroke round trip (a byte to `cat` in a raw
//! PTY on the node and back), bulk output throughput (`head -c N /dev/zero` in a
//! PTY, recorded as configured), and the server's and the agent's memory per
//! session with many sessions open at once. Prints a table; a measurement, not a test.

use std::time::{Duration, Instant};

use bosun_agent::session::socket::{self, Incoming};
use bosun_protocol::session::{COMMAND_DOCUMENT, Frame};
use serde_json::{Value, json};

use crate::bench_fleet::{Bench, mib, percentile, row, usage};

#[derive(Debug, Clone, clap::Args)]
pub struct SessionsArgs {
    /// Keystrokes timed through the relay.
    #[arg(long, default_value_t = 2000)]
    pub keystrokes: usize,
    /// Bytes of output in the throughput measurement.
    #[arg(long, default_value_t = 200_000_000)]
    pub bulk_bytes: u64,
    /// Sessions open at once in the memory measurement.
    #[arg(long, default_value_t = 100)]
    pub sessions: usize,
}

const WAIT: Duration = Duration::from_secs(120);

struct Sessions {
    bench: Bench,
    node: String,
    tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
}

impl Sessions {
    /// Opens a session running `command` and attaches to it.
    async fn open(&self, command: &str) -> Result<(tokio::sync::mpsc::Sender<Frame>, socket::FrameReader), String> {
        let body = json!({"target": self.node, "document": COMMAND_DOCUMENT, "parameters": {"command": command}});
        let opened = self.bench.post("/v1/sessions", &body).await?;
        let path = format!("/v1/sessions/{}/stream", opened["sessionId"].as_str().unwrap_or_default());
        let socket = socket::connect(&self.bench.url, &path, &self.bench.token, self.tls.clone()).await.map_err(|e| e.to_string())?;
        let (out, input, _writer) = socket::split(socket);
        Ok((out, input))
    }

    async fn connected(&self) -> Result<usize, String> {
        Ok(self.bench.get("/v1/sessions?status=Connected&limit=10000").await?.as_array().map(Vec::len).unwrap_or(0))
    }
}

/// Reads frames until a data frame holds `byte`.
async fn until_byte(input: &mut socket::FrameReader, byte: u8) -> Result<(), String> {
    loop {
        match input.next().await {
            Incoming::Frame(Frame::Data(data)) if data.contains(&byte) => return Ok(()),
            Incoming::Frame(Frame::Exit(code)) => return Err(format!("the session exited with {code}")),
            Incoming::Frame(_) => {}
            Incoming::Closed => return Err("the session closed".into()),
            Incoming::Bad(e) => return Err(e.to_string()),
        }
    }
}

/// The keystroke round trips, in ms.
async fn keystrokes(sessions: &Sessions, count: usize) -> Result<Vec<f64>, String> {
    let (out, mut input) = sessions.open("stty raw -echo && echo ready && exec cat").await?;
    until_byte(&mut input, b'y').await?;
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let byte = b'a' + (i % 26) as u8;
        let started = Instant::now();
        out.send(Frame::Data(vec![byte])).await.map_err(|e| e.to_string())?;
        until_byte(&mut input, byte).await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples)
}

/// Bytes of output received per second.
async fn throughput(sessions: &Sessions, bytes: u64) -> Result<(u64, f64), String> {
    let (_out, mut input) = sessions.open(&format!("stty raw -echo; echo start; head -c {bytes} /dev/zero")).await?;
    until_byte(&mut input, b's').await?;
    let started = Instant::now();
    let mut received = 0u64;
    loop {
        match input.next().await {
            Incoming::Frame(Frame::Data(data)) => received += data.len() as u64,
            Incoming::Frame(Frame::Exit(_)) | Incoming::Closed => break,
            Incoming::Frame(_) => {}
            Incoming::Bad(e) => return Err(e.to_string()),
        }
    }
    Ok((received, received as f64 / started.elapsed().as_secs_f64()))
}

/// Runs the benchmark and prints the table.
pub async fn run(args: &SessionsArgs, agent: Option<std::path::PathBuf>) -> Result<(), String> {
    let (bench, server, _tmp) = Bench::start(agent)?;
    let agents = bench.agents("sessions", 0).await?;
    let nodes = bench.get("/v1/nodes?tag=Bench=sessions").await?;
    let node = nodes.as_array().and_then(|n| n.first()).and_then(|n| n["nodeId"].as_str()).unwrap_or_default().to_string();
    let mut preferences = bench.get("/v1/session-preferences").await?;
    let user = std::process::Command::new("id").arg("-un").output().map_err(|e| e.to_string())?;
    preferences["runAs"] = Value::String(String::from_utf8_lossy(&user.stdout).trim().to_string());
    bench.call(reqwest::Method::PUT, "/v1/session-preferences", Some(&preferences)).await?;
    let tls = socket::tls_config(None).map_err(|e| e.to_string())?;
    let sessions = Sessions { bench, node, tls };

    println!("{:<52} {:>16}  note", "measurement", "value");
    let samples = keystrokes(&sessions, args.keystrokes).await?;
    row(
        "keystroke round trip p50 / p99",
        format!("{:.2} / {:.2} ms", percentile(&samples, 0.5), percentile(&samples, 0.99)),
        &format!("{} keystrokes: CLI socket -> server -> agent -> PTY (cat, raw) and back", samples.len()),
    );
    let (received, rate) = throughput(&sessions, args.bulk_bytes).await?;
    row(
        "bulk output throughput",
        format!("{:.1} MiB/s", rate / 1024.0 / 1024.0),
        &format!(
            "{} bytes of head -c through a PTY; recorded up to the {} cap",
            received,
            mib(preferences["maxRecordedBytes"].as_u64().unwrap_or(0) / 1024)
        ),
    );

    let (server_pid, agent_pid) = (server.0.id(), agents.first().map(|p| p.0.id()).unwrap_or_default());
    let open_before = sessions.connected().await?;
    let (server_before, agent_before) = (usage(server_pid).rss_kib, usage(agent_pid).rss_kib);
    let mut open = Vec::with_capacity(args.sessions);
    for _ in 0..args.sessions {
        open.push(sessions.open("exec cat").await?);
    }
    let started = Instant::now();
    while sessions.connected().await? < open_before + args.sessions {
        if started.elapsed() > WAIT {
            return Err(format!("only {} of {} sessions connected", sessions.connected().await?, args.sessions));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (server_after, agent_after) = (usage(server_pid).rss_kib, usage(agent_pid).rss_kib);
    let per = |before: u64, after: u64| format!("{:.1} KiB", after.saturating_sub(before) as f64 / args.sessions as f64);
    row(
        "server memory per open session (relay)",
        per(server_before, server_after),
        &format!("RSS {} -> {} with {} sessions connected", mib(server_before), mib(server_after), args.sessions),
    );
    row(
        "agent memory per open session",
        per(agent_before, agent_after),
        &format!("RSS {} -> {} (the shells are processes of their own)", mib(agent_before), mib(agent_after)),
    );
    drop(open);
    drop(agents);
    drop(server);
    Ok(())
}
