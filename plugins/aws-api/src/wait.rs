//! Polling until a condition holds: checks at once, then after 1 s, 2 s, 4 s …
//! (at most 15 s apart). The step's `timeoutSeconds` and the plugin's deadline
//! bound how long.

use std::time::Duration;

use bosun_plugin_sdk::{Host, PluginError};

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(15);

/// Runs `check` until it gives a value; an error ends the wait.
pub fn until<T>(host: &Host, what: &str, mut check: impl FnMut() -> Result<Option<T>, PluginError>) -> Result<T, PluginError> {
    let mut pause = FIRST_PAUSE;
    let mut tries = 0u32;
    loop {
        tries += 1;
        if let Some(done) = check()? {
            return Ok(done);
        }
        host.log(bosun_plugin_sdk::Level::Debug, "waiting", &[("for", what), ("tries", &tries.to_string())]);
        std::thread::sleep(pause);
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}
