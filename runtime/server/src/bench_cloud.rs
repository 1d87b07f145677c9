//! `bosun bench cloud`: the cost of a cloud call made by a plugin (the
//! `aws-api` plugin's `aws:executeAwsApi`, signed by the host) against the raw
//! HTTP round trip of the same request to the same endpoint, in one run. The
//! endpoint is `--cloud-endpoint`, or moto started here (`python3 -m
//! moto.server`, moto installed). A measurement, not a test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bosun_plugin_host::{Grant, HostConfig, HostKind, PluginHost};
use serde_json::json;

use crate::cloud::{CloudConfig, CredentialSource, ServerCloud};

#[derive(Debug, Clone, clap::Args)]
pub struct CloudArgs {
    /// An EC2-compatible endpoint (http://HOST:PORT); without it, moto is started on loopback.
    #[arg(long, value_name = "URL")]
    pub cloud_endpoint: Option<String>,
    /// The python that runs moto when no endpoint is given.
    #[arg(long, default_value = "python3")]
    pub moto_python: String,
    /// Calls timed in each measurement (after as many again to warm up, at most 100).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=100_000))]
    pub cloud_calls: u64,
}

/// moto, stopped when dropped.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto(python: &str) -> Result<(Moto, String), String> {
    let mut child = Command::new(python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot start moto with {python}: {e} (install it with `pip install 'moto[server]'`, or pass --cloud-endpoint)")
        })?;
    let stderr = child.stderr.take().ok_or("moto's stderr is not piped")?;
    let moto = Moto(child);
    for line in BufReader::new(stderr).lines() {
        let line = line.map_err(|e| format!("reading moto's output: {e}"))?;
        if let Some(at) = line.find("Running on http://") {
            let url = line[at + "Running on ".len()..].trim().to_string();
            return Ok((moto, url));
        }
    }
    Err("moto exited before it listened (is moto[server] installed for that python?)".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() as f64) - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

async fn timed<F, Fut>(calls: usize, mut call: F) -> Result<Vec<Duration>, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    for _ in 0..calls.min(100) {
        call().await?;
    }
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        call().await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times)
}

pub async fn run(args: &CloudArgs) -> Result<(), String> {
    let (_moto, endpoint) = match &args.cloud_endpoint {
        Some(url) => (None, url.trim_end_matches('/').to_string()),
        None => {
            let (moto, url) = start_moto(&args.moto_python)?;
            (Some(moto), url)
        }
    };
    let calls = args.cloud_calls as usize;
    let http = reqwest::Client::new();
    let raw_form = |extra: &[(&str, &str)]| {
        let mut form = vec![("Version", "2016-11-15")];
        form.extend_from_slice(extra);
        http.post(&endpoint)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
            )
            .form(&form)
    };
    let launched = raw_form(&[("Action", "RunInstances"), ("ImageId", "ami-12345678"), ("MinCount", "1"), ("MaxCount", "1")])
        .send()
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let instance = launched
        .split("<instanceId>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .ok_or_else(|| format!("{endpoint} launched no instance: {launched}"))?
        .to_string();

    let config = CloudConfig {
        region: Some("us-east-1".into()),
        credentials: Some(CredentialSource::Keys {
            access_key_id: "AKIDBENCH".into(),
            secret_access_key: "bench-secret".into(),
            session_token: None,
        }),
        endpoints: [("ec2".to_string(), endpoint.clone())].into_iter().collect(),
    };
    let mut host_config = HostConfig::new(HostKind::Server);
    host_config.cloud = std::sync::Arc::new(ServerCloud::new(config, None));
    let host = PluginHost::new(host_config).map_err(|e| e.to_string())?;
    let wasm = bosun_builtin_plugins::get("aws-api").ok_or("this build has no aws-api plugin")?.bytes;
    let granted =
        host.load(wasm, vec![Grant::parse("aws:ec2:us-east-1").map_err(|e| e.to_string())?], None).await.map_err(|e| e.to_string())?;
    let denied = host.load(wasm, vec![], None).await.map_err(|e| e.to_string())?;
    let inputs = json!({"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": [instance]});

    let raw = timed(calls, || async {
        let response = raw_form(&[("Action", "DescribeInstances"), ("InstanceId.1", &instance)]).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        response.bytes().await.map_err(|e| e.to_string())?;
        if status.is_success() { Ok(()) } else { Err(format!("raw DescribeInstances answered {status}")) }
    })
    .await?;
    let plugin =
        timed(calls, || async { host.call(&granted, "aws:executeAwsApi", &inputs).await.result.map(|_| ()).map_err(|e| e.to_string()) })
            .await?;
    let refused = timed(calls, || async {
        match host.call(&denied, "aws:executeAwsApi", &inputs).await.result {
            Err(bosun_plugin_host::CallError::Denied(_)) => Ok(()),
            other => Err(format!("an ungranted call was not denied: {other:?}")),
        }
    })
    .await?;

    println!("cloud call: ec2 DescribeInstances of one instance at {endpoint}, {calls} sequential calls each");
    println!("{:<58} {:>11} {:>11}", "MEASURE", "P50", "P99");
    let row =
        |what: &str, times: &[Duration]| println!("{what:<58} {:>11} {:>11}", ms(percentile(times, 0.5)), ms(percentile(times, 0.99)));
    row("raw HTTP round trip (unsigned form POST, body read)", &raw);
    row("plugin call: aws:executeAwsApi, signed by the host", &plugin);
    row("plugin call denied by the host (no request sent)", &refused);
    let overhead = percentile(&plugin, 0.5).saturating_sub(percentile(&raw, 0.5));
    println!("{:<58} {:>11}", "overhead of the plugin-mediated signed call (p50 - p50)", ms(overhead));
    Ok(())
}
