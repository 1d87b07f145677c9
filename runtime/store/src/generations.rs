//! One-row generation tables, bumped by triggers on the tables they watch, that tell
//! a process whether what it keeps in memory from those tables is still current.

use bosun_engine::StoreError;
use rusqlite::OptionalExtension;

use crate::Store;

/// The one-row generation table named `$generation`.
macro_rules! generation_table {
    ($generation:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS ",
            $generation,
            " (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    generation INTEGER NOT NULL
);
"
        )
    };
}
pub(crate) use generation_table;

/// A trigger named `$trigger` that bumps the one-row generation table `$generation`
/// after `$event` on `$table`, so that a process caching what it read from `$table`
/// sees any change, made by any process. Its statements cannot conflict: the conflict
/// clause of the statement that fires a trigger (`INSERT OR IGNORE`) would otherwise
/// apply to them too, and could skip the bump.
macro_rules! bump_generation_after {
    ($generation:literal, $trigger:literal, $event:literal, $table:literal) => {
        concat!(
            "CREATE TRIGGER IF NOT EXISTS ",
            $trigger,
            " AFTER ",
            $event,
            " ON ",
            $table,
            " BEGIN
    INSERT INTO ",
            $generation,
            " (id, generation) SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM ",
            $generation,
            ");
    UPDATE ",
            $generation,
            " SET generation = generation + 1 WHERE id = 0;
END;
"
        )
    };
}
pub(crate) use bump_generation_after;

impl Store {
    /// The generation in the one-row table `table` now (0 before its first bump). Read it
    /// before what is cached under it, so a change committed after this read moves the
    /// generation past the cached entry.
    pub(crate) fn generation(&self, table: &'static str) -> Result<i64, StoreError> {
        let generation: Option<i64> = self.read(|conn| {
            conn.prepare_cached(&format!("SELECT generation FROM {table} WHERE id = 0"))?.query_row([], |r| r.get(0)).optional()
        })?;
        Ok(generation.unwrap_or(0))
    }
}
