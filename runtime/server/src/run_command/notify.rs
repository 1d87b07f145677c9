//! Completion notifications: when a command ends (Success, Failed, TimedOut,
//! Cancelled), a POST of `bosun.command.completed` to the webhook of
//! `--command-webhook`, signed as Standard Webhooks sign (`crate::webhook_sign`).
//!
//! Delivery is at least once. The store says which ended commands are still due
//! (`notified_at` NULL), so what was due when the server stopped — even `kill -9`
//! between the end and the POST — is sent at the next start. An attempt succeeds on
//! any 2xx within [`ATTEMPT_TIMEOUT`]; a failed one is tried again after 1 s, 2 s,
//! 4 s … at most [`MAX_BACKOFF`] apart, until [`GIVE_UP_AFTER`] has passed since the
//! command ended: then a warning, and the command is marked `GaveUp`. Without a
//! webhook, ended commands are marked `NoWebhook` at once, so configuring one later
//! does not send the history. The dispatcher pokes the notifier when a command
//! ends; it also looks every [`RESCAN`] for commands that ended otherwise.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bosun_protocol::command::CommandView;
use bosun_store::{DueNotification, NotifyOutcome, timestamp};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::{Detail, RunCommand};
use crate::webhook_sign::{self, Secret};

/// The `type` of the notification's body.
pub const EVENT_TYPE: &str = "bosun.command.completed";
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait after the first failed attempt; it doubles with each failure.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// How long after its command ended a notification is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// How often the store is looked at without a poke.
const RESCAN: Duration = Duration::from_secs(60);

/// Where completion notifications go, and the secret they are signed with.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: reqwest::Url,
    secret: Secret,
}

impl Webhook {
    /// A webhook at `url` (checked with [`parse_url`]).
    pub fn new(url: &str, secret: Secret) -> Result<Self, String> {
        Ok(Self { url: parse_url(url)?, secret })
    }

    /// Where notifications go, for logs: scheme, host and port only (a path or a
    /// query may hold a token).
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }
}

/// A webhook URL: http or https, with a host.
pub fn parse_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("a webhook must be an http:// or https:// URL, not {}://", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    Ok(parsed)
}

/// The `webhook-id` of a command's notification: the same for every attempt.
pub fn message_id(command_id: &str) -> String {
    format!("cmd_{command_id}")
}

/// The wait after `failures` failed attempts (1 or more): 1 s, 2 s, 4 s … at most [`MAX_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1u32.checked_shl(failures.saturating_sub(1)).unwrap_or(u32::MAX));
    doubled.min(MAX_BACKOFF)
}

/// The body: `{"type", "timestamp" (when the command ended), "data" (the command's summary, without invocations)}`.
pub fn completion_body(view: &CommandView, ended_at: &str) -> serde_json::Result<Vec<u8>> {
    let mut data = serde_json::to_value(view)?;
    if let Some(fields) = data.as_object_mut() {
        fields.remove("invocations");
    }
    serde_json::to_vec(&serde_json::json!({"type": EVENT_TYPE, "timestamp": ended_at, "data": data}))
}

/// A POST of `body` (JSON) to `url`, signed with `secret` as Standard Webhooks sign:
/// the `webhook-id` is `id`, the `webhook-timestamp` now.
pub fn signed_post(client: &reqwest::Client, url: reqwest::Url, secret: &Secret, id: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
    let sent_at = Utc::now().timestamp();
    let signature = webhook_sign::sign(secret, id, sent_at, &body);
    client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(webhook_sign::ID_HEADER, id)
        .header(webhook_sign::TIMESTAMP_HEADER, sent_at.to_string())
        .header(webhook_sign::SIGNATURE_HEADER, signature)
        .body(body)
}

/// An error with its causes, which reqwest keeps apart.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// A notification that failed, in memory: after a restart it is tried at once.
#[derive(Debug, Clone, Copy)]
struct Retry {
    failures: u32,
    at: Instant,
    first_failure: DateTime<Utc>,
}

/// The notifier's state between passes.
struct Notifier {
    webhook: Option<Webhook>,
    client: reqwest::Client,
    retries: HashMap<i64, Retry>,
}

impl RunCommand {
    /// Lets the notifier look for ended commands now.
    pub fn poke_notifier(&self) {
        self.notifier_wake.notify_one();
    }

    /// Sends the completion notifications of ended commands until `stop` resolves
    /// (with no webhook, marks them `NoWebhook`).
    pub async fn notify_until(self: Arc<Self>, webhook: Option<Webhook>, stop: impl Future<Output = ()>) {
        let client = match reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("bosun/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(error = %describe(&error), "cannot make the HTTP client of the command webhook; no notifications are sent");
                return;
            }
        };
        let mut notifier = Notifier { webhook, client, retries: HashMap::new() };
        tokio::pin!(stop);
        loop {
            // Stopping in the middle of an attempt loses nothing: it is still due at the next start.
            let next = tokio::select! {
                () = &mut stop => return,
                next = self.notify_due(&mut notifier) => next,
            };
            let rescan = Instant::now() + RESCAN;
            tokio::select! {
                () = &mut stop => return,
                () = self.notifier_wake.notified() => {}
                () = tokio::time::sleep_until(next.map_or(rescan, |at| at.min(rescan))) => {}
            }
        }
    }

    /// One pass over the due notifications; returns when the next retry is due.
    async fn notify_due(&self, notifier: &mut Notifier) -> Option<Instant> {
        let due = match tokio::task::block_in_place(|| self.store.due_notifications()) {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "cannot read the command notifications due; trying again");
                return Some(Instant::now() + FIRST_BACKOFF);
            }
        };
        notifier.retries.retain(|no, _| due.iter().any(|d| d.command_no == *no));
        let mut next: Option<Instant> = None;
        for item in due {
            let Some(webhook) = notifier.webhook.as_ref() else {
                self.mark(&item, NotifyOutcome::NoWebhook).await;
                continue;
            };
            if let Some(retry) = notifier.retries.get(&item.command_no)
                && retry.at > Instant::now()
            {
                next = Some(next.map_or(retry.at, |n| n.min(retry.at)));
                continue;
            }
            match self.deliver(webhook, &notifier.client, &item).await {
                Ok(()) => {
                    notifier.retries.remove(&item.command_no);
                    tracing::info!(command = %item.command_id, status = %item.status, "command completion notified");
                    self.mark(&item, NotifyOutcome::Delivered).await;
                }
                Err(error) => {
                    let now = Utc::now();
                    let previous = notifier.retries.get(&item.command_no).copied();
                    let failures = previous.map_or(1, |r| r.failures.saturating_add(1));
                    let first_failure = previous.map_or(now, |r| r.first_failure);
                    let since = item.completed_at.as_deref().and_then(parse_time).unwrap_or(first_failure).min(first_failure);
                    let give_up = chrono::Duration::from_std(GIVE_UP_AFTER).unwrap_or(chrono::Duration::MAX);
                    if now - since >= give_up {
                        tracing::warn!(command = %item.command_id, attempts = failures, %error,
                            "giving up on the command completion notification: the webhook failed for 24 hours");
                        notifier.retries.remove(&item.command_no);
                        self.mark(&item, NotifyOutcome::GaveUp).await;
                        continue;
                    }
                    let wait = backoff(failures);
                    if failures == 1 {
                        tracing::warn!(command = %item.command_id, %error, retry_in = ?wait, "the command webhook failed; trying again");
                    } else {
                        tracing::info!(command = %item.command_id, attempts = failures, %error, retry_in = ?wait, "the command webhook failed again");
                    }
                    let at = Instant::now() + wait;
                    notifier.retries.insert(item.command_no, Retry { failures, at, first_failure });
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        next
    }

    /// One attempt: the signed POST; Ok on a 2xx.
    async fn deliver(&self, webhook: &Webhook, client: &reqwest::Client, item: &DueNotification) -> Result<(), String> {
        let view = self
            .view(&item.command_id, Detail::Summary)
            .map_err(|e| format!("cannot read the command: {e}"))?
            .ok_or_else(|| "the command is gone".to_string())?;
        let ended_at = item.completed_at.clone().unwrap_or_else(|| timestamp(Utc::now()));
        let body = completion_body(&view, &ended_at).map_err(|e| format!("cannot write the notification: {e}"))?;
        let id = message_id(&item.command_id);
        let response = signed_post(client, webhook.url.clone(), &webhook.secret, &id, body).send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("the webhook answered {status}")) }
    }

    async fn mark(&self, item: &DueNotification, outcome: NotifyOutcome) {
        if let Err(error) = self.store.mark_notified(item.command_no, outcome, &timestamp(Utc::now())).await {
            // Still due: sent again (at least once) or marked at the next pass.
            tracing::warn!(command = %item.command_id, %error, "cannot record the command's notification");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_by_doubling_up_to_five_minutes() {
        let waits: Vec<u64> = (1..=11).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(0), FIRST_BACKOFF);
        assert_eq!(backoff(40), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn only_http_and_https_webhooks() {
        let secret = || Secret::generate().unwrap();
        assert_eq!(parse_url("https://hooks.example.com/bosun").unwrap().as_str(), "https://hooks.example.com/bosun");
        let webhook = Webhook::new("http://user:pw@127.0.0.1:9000/hook/T0KEN?key=K", secret()).unwrap();
        assert_eq!(webhook.origin(), "http://127.0.0.1:9000");
        let refused = |url: &str| Webhook::new(url, secret()).unwrap_err();
        assert!(refused("ftp://example.com/x").contains("http:// or https://"), "{}", refused("ftp://example.com/x"));
        assert!(refused("file:///etc/passwd").contains("http:// or https://"));
        assert!(refused("example.com/hook").contains("not a URL"));
        assert!(refused("").contains("not a URL"));
    }

    #[test]
    fn the_body_is_the_commands_summary() {
        let view: CommandView = serde_json::from_value(serde_json::json!({
            "commandId": "c-1", "documentName": "AWS-RunShellScript", "documentVersion": 1, "status": "Success",
            "comment": "", "requestedBy": "ops", "requestedAt": "2024-01-01T00:00:00.000Z", "completedAt": "2024-01-01T00:00:01.000Z",
            "targets": [], "parameters": {}, "maxConcurrency": "50", "maxErrors": "0", "timeoutSeconds": 3600,
            "deliveryTimeoutSeconds": 3600, "targetCount": 1, "completedCount": 1, "errorCount": 0, "counts": {"Success": 1},
            "invocations": [],
        }))
        .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&completion_body(&view, "2024-01-01T00:00:01.000Z").unwrap()).unwrap();
        assert_eq!(body["type"], EVENT_TYPE);
        assert_eq!(body["timestamp"], "2024-01-01T00:00:01.000Z");
        assert_eq!(body["data"]["commandId"], "c-1");
        assert_eq!(body["data"]["status"], "Success");
        assert!(body["data"].get("invocations").is_none(), "{body}");
        assert_eq!(message_id("c-1"), "cmd_c-1");
    }
}
