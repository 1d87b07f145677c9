//! The store's read connections: a few, each behind its own lock, so that reads on
//! different threads run side by side (WAL readers do not block each other) instead
//! of queuing on one connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

/// How many read connections a store opens. More than the cores of a small server, so
/// a read rarely waits; each connection keeps its own page cache, so not many more.
pub(crate) const READERS: usize = 4;

pub(crate) struct Readers {
    connections: Vec<Mutex<Connection>>,
    /// Where the next search for a free connection starts, so that waits spread out.
    next: AtomicUsize,
}

impl Readers {
    pub(crate) fn new(connections: Vec<Connection>) -> Self {
        assert!(!connections.is_empty(), "a store needs at least one read connection");
        Self { connections: connections.into_iter().map(Mutex::new).collect(), next: AtomicUsize::new(0) }
    }

    /// A free connection if there is one; otherwise waits for one of them.
    pub(crate) fn get(&self) -> MutexGuard<'_, Connection> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.connections.len();
        for offset in 0..count {
            if let Ok(conn) = self.connections[(start + offset) % count].try_lock() {
                return conn;
            }
        }
        // A panic while a connection was held leaves nothing half-done: reads change nothing.
        self.connections[start % count].lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_connection_is_skipped() {
        let readers = Readers::new((0..2).map(|_| Connection::open_in_memory().unwrap()).collect());
        let first = readers.get();
        let second = readers.get();
        // Both are held at once: they are different connections.
        assert!(!std::ptr::eq(&*first, &*second));
        drop(first);
        drop(second);
        assert_eq!(readers.get().query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
    }
}
