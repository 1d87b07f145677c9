//! The scheduler of parameter policies: every second, the store fires what is due
//! (each firing committed with its event, so a restart neither loses nor repeats one).
//! Only the process that drives the data directory runs it.

use std::sync::Arc;
use std::time::Duration;

use bosun_store::Store;

/// How often due policies are looked for.
const EVERY: Duration = Duration::from_secs(1);

/// Fires due policies until `stop` resolves.
pub async fn run_until(store: Arc<Store>, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store.fire_due_policies(chrono::Utc::now())).await {
                    Ok(Ok(fired)) => {
                        for firing in fired {
                            tracing::info!(parameter = %firing.name, policy = %firing.policy_type, due_at = %firing.due_at, event = %firing.event_id, "parameter policy fired");
                        }
                    }
                    Ok(Err(error)) => tracing::warn!(%error, "cannot fire parameter policies"),
                    Err(error) => tracing::warn!(%error, "the parameter policy task failed"),
                }
            }
        }
    }
}
