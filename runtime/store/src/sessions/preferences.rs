//! The server's session preferences (idle timeout, maximum duration, run-as user,
//! shell profile, recording cap): one JSON row, the defaults until set.

use bosun_engine::StoreError;
use bosun_protocol::session::SessionPreferences;
use rusqlite::OptionalExtension;

use crate::{Store, sql_error};

impl Store {
    /// The preferences in force.
    pub fn session_preferences(&self) -> Result<SessionPreferences, StoreError> {
        let text: Option<String> =
            self.read(|conn| conn.query_row("SELECT preferences FROM session_settings WHERE id = 1", [], |r| r.get(0)).optional())?;
        match text {
            None => Ok(SessionPreferences::default()),
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| StoreError(format!("the stored session preferences are not readable: {e}")))
            }
        }
    }

    /// Replaces the preferences (checked first).
    pub fn set_session_preferences(&self, preferences: &SessionPreferences) -> Result<(), StoreError> {
        preferences.check().map_err(|(field, message)| StoreError(format!("{field}: {message}")))?;
        let text = serde_json::to_string(preferences).map_err(|e| StoreError(e.to_string()))?;
        self.writer.run_blocking(Box::new(move |conn| {
            conn.execute(
                "INSERT INTO session_settings (id, preferences) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET preferences = excluded.preferences",
                [&text],
            )
            .map(|_| ())
            .map_err(sql_error)
        }))
    }
}
