//! `aws:downloadContent` with `sourceType: HTTP`: fetches `sourceInfo.url` to
//! `destinationPath` (relative paths stay below the invocation's working
//! directory), checks `sourceInfo.sha256` when given, and replaces the file
//! only once the whole content has arrived and matched.

use std::path::{Component, Path, PathBuf};

use bosun_document::Step;
use bosun_document::interpolate::loose_bool;
use bosun_protocol::InvocationStatus;
use reqwest::Url;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::InvocationCtx;
use super::flow::{Flow, StepOutcome};
use super::params::DocParams;

/// What to fetch and where to put it.
#[derive(Debug, Clone, PartialEq)]
struct Inputs {
    url: Url,
    sha256: Option<String>,
    destination: PathBuf,
}

pub async fn run(ctx: &InvocationCtx<'_>, params: &DocParams, step: &Step) -> StepOutcome {
    let inputs = match params.interpolate(&step.inputs) {
        Ok(v) => parse(&v, &ctx.work_dir),
        Err(e) => Err(format!("inputs: {}: {}", e.reference, e.message)),
    };
    let inputs = match inputs {
        Ok(inputs) => inputs,
        Err(message) => return StepOutcome::failed(step, message),
    };
    let fetched = tokio::select! {
        r = fetch(&ctx.env.http, &inputs) => r,
        () = ctx.cancel.cancelled() => return StepOutcome::new(step, InvocationStatus::Cancelled, Flow::Cancelled),
        () = tokio::time::sleep_until(ctx.deadline) => {
            let mut o = StepOutcome::new(step, InvocationStatus::ExecutionTimedOut, Flow::Deadline);
            o.report.message = Some("the command's execution timeout ran out during the download".into());
            return o;
        }
    };
    match fetched {
        Ok((bytes, digest)) => {
            let mut o = StepOutcome::new(step, InvocationStatus::Success, Flow::Next);
            o.report.stdout =
                format!("Downloaded {bytes} bytes from {} to {} (sha256 {digest})\n", inputs.url, inputs.destination.display());
            o
        }
        Err(message) => StepOutcome::failed(step, message),
    }
}

fn parse(inputs: &Value, work_dir: &Path) -> Result<Inputs, String> {
    let source_type = inputs.get("sourceType").and_then(Value::as_str).ok_or("aws:downloadContent needs the input \"sourceType\"")?;
    if !source_type.eq_ignore_ascii_case("HTTP") {
        return Err(format!("sourceType \"{source_type}\" is not supported by this agent; it downloads sourceType HTTP only"));
    }
    let info = match inputs.get("sourceInfo") {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| format!("inputs.sourceInfo: expected a JSON map such as {{\"url\": \"https://...\"}}, found {text:?}"))?,
        Some(other) => return Err(format!("inputs.sourceInfo: expected a map with url, found {other}")),
        None => return Err("aws:downloadContent needs the input \"sourceInfo\"".into()),
    };
    let url_text = info.get("url").and_then(Value::as_str).ok_or("inputs.sourceInfo needs \"url\"")?;
    let url = Url::parse(url_text).map_err(|e| format!("inputs.sourceInfo.url: \"{url_text}\" is not a valid URL: {e}"))?;
    let sha256 = match info.get("sha256") {
        None | Some(Value::Null) => None,
        Some(Value::String(h)) if h.trim().is_empty() => None,
        Some(Value::String(h)) if h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()) => Some(h.to_ascii_lowercase()),
        Some(other) => return Err(format!("inputs.sourceInfo.sha256: expected 64 hexadecimal digits, found {other}")),
    };
    let insecure_allowed = info.get("allowInsecureDownload").and_then(loose_bool).unwrap_or(false);
    match url.scheme() {
        "https" => {}
        "http" if insecure_allowed || sha256.is_some() => {}
        "http" => {
            return Err(format!(
                "refusing to download {url} over plain http without a sha256 to check it; give sourceInfo.sha256, use https, or set allowInsecureDownload: true"
            ));
        }
        other => return Err(format!("inputs.sourceInfo.url: the scheme \"{other}\" is not supported; use https or http")),
    }
    let destination = match inputs.get("destinationPath") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(other) => return Err(format!("inputs.destinationPath: expected a path, found {other}")),
    };
    let destination = destination_path(work_dir, destination, &url)?;
    Ok(Inputs { url, sha256, destination })
}

/// Where the content goes. No path: the URL's file name in the working directory.
/// A relative path is taken below the working directory and may not climb out of
/// it with `..`; an absolute path is used as given. A path ending in `/`, or an
/// existing directory, gets the URL's file name.
fn destination_path(work_dir: &Path, given: Option<&str>, url: &Url) -> Result<PathBuf, String> {
    let file_name = url.path_segments().and_then(|mut s| s.rfind(|p| !p.is_empty())).unwrap_or("download").to_string();
    let file_name = if file_name == "." || file_name == ".." { "download".to_string() } else { file_name };
    let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) else {
        return Ok(work_dir.join(file_name));
    };
    let path = Path::new(given);
    if path.is_relative() && path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!(
            "inputs.destinationPath: \"{given}\" climbs out of the invocation's working directory with \"..\"; use a path below it or an absolute path"
        ));
    }
    let full = work_dir.join(path);
    if given.ends_with('/') || full.is_dir() { Ok(full.join(file_name)) } else { Ok(full) }
}

/// Downloads to the destination; returns the size and the SHA-256 in hex.
async fn fetch(http: &reqwest::Client, inputs: &Inputs) -> Result<(u64, String), String> {
    let url = &inputs.url;
    let mut response = http.get(url.clone()).send().await.map_err(|e| format!("cannot download {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("cannot download {url}: the server answered {}", response.status()));
    }
    let dest = &inputs.destination;
    let dir = dest.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(dir).await.map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let part = dir.join(format!(".{}.part-{}", dest.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(), std::process::id()));
    let mut sink = Sink::create(&part).await?;
    let written = async {
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("cannot download {url}: {e}"))? {
            sink.write(&chunk).await?;
        }
        sink.finish(inputs.sha256.as_deref(), dest).await
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    written
}

/// A partial file and the hash of what went into it.
struct Sink {
    file: tokio::fs::File,
    path: PathBuf,
    hasher: Sha256,
    bytes: u64,
}

impl Sink {
    async fn create(path: &Path) -> Result<Self, String> {
        let file = tokio::fs::File::create(path).await.map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Self { file, path: path.to_path_buf(), hasher: Sha256::new(), bytes: 0 })
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), String> {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        self.file.write_all(chunk).await.map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }

    /// Checks the hash, then moves the file into place.
    async fn finish(self, expected: Option<&str>, dest: &Path) -> Result<(u64, String), String> {
        self.file.sync_all().await.map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        let digest = hex::encode(self.hasher.finalize());
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(format!(
                "the content's sha256 is {digest}, not the expected {expected}; nothing was written to {}",
                dest.display()
            ));
        }
        tokio::fs::rename(&self.path, dest).await.map_err(|e| format!("cannot move the download to {}: {e}", dest.display()))?;
        Ok((self.bytes, digest))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn url(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    #[test]
    fn destinations() {
        let work = Path::new("/w");
        let u = url("https://example.com/files/tool.tar.gz?x=1");
        assert_eq!(destination_path(work, None, &u).unwrap(), Path::new("/w/tool.tar.gz"));
        assert_eq!(destination_path(work, Some("sub/"), &u).unwrap(), Path::new("/w/sub/tool.tar.gz"));
        assert_eq!(destination_path(work, Some("sub/x.bin"), &u).unwrap(), Path::new("/w/sub/x.bin"));
        assert_eq!(destination_path(work, Some("/opt/x"), &u).unwrap(), Path::new("/opt/x"));
        assert_eq!(destination_path(work, None, &url("https://example.com/")).unwrap(), Path::new("/w/download"));
    }

    #[test]
    fn path_escapes_are_refused() {
        let u = url("https://example.com/a");
        for bad in ["../x", "a/../../x", "a/b/../../../etc/passwd", ".."] {
            let err = destination_path(Path::new("/w"), Some(bad), &u).unwrap_err();
            assert!(err.contains("climbs out"), "{bad}: {err}");
        }
    }

    #[test]
    fn inputs_are_checked() {
        let work = Path::new("/w");
        let ok = parse(&json!({"sourceType": "HTTP", "sourceInfo": "{\"url\": \"https://h/a.sh\"}"}), work).unwrap();
        assert_eq!(ok.destination, Path::new("/w/a.sh"));
        let sha = "a".repeat(64);
        assert!(parse(&json!({"sourceType": "HTTP", "sourceInfo": {"url": "http://h/a", "sha256": sha}}), work).is_ok());
        let err = |v: Value| parse(&v, work).unwrap_err();
        assert!(err(json!({"sourceType": "S3", "sourceInfo": {"path": "s3://b/k"}})).contains("HTTP only"));
        assert!(err(json!({"sourceType": "HTTP", "sourceInfo": {"url": "http://h/a"}})).contains("plain http"));
        assert!(err(json!({"sourceType": "HTTP", "sourceInfo": {"url": "file:///etc/passwd"}})).contains("not supported"));
        assert!(err(json!({"sourceType": "HTTP", "sourceInfo": {"url": "https://h/a", "sha256": "xyz"}})).contains("sha256"));
        assert!(
            err(json!({"sourceType": "HTTP", "sourceInfo": {"url": "https://h/a"}, "destinationPath": "../../etc/cron.d/x"}))
                .contains("climbs out")
        );
    }

    #[tokio::test]
    async fn the_hash_is_checked_before_the_file_is_placed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        let part = dir.path().join(".part");
        let mut sink = Sink::create(&part).await.unwrap();
        sink.write(b"hello").await.unwrap();
        let wrong = "0".repeat(64);
        let err = sink.finish(Some(&wrong), &dest).await.unwrap_err();
        assert!(err.contains("not the expected"), "{err}");
        assert!(!dest.exists());

        let mut sink = Sink::create(&part).await.unwrap();
        sink.write(b"hel").await.unwrap();
        sink.write(b"lo").await.unwrap();
        let good = hex::encode(Sha256::digest(b"hello"));
        assert_eq!(sink.finish(Some(&good), &dest).await.unwrap(), (5, good));
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello");
    }
}
