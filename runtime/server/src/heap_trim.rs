//! Gives the memory the C allocator keeps free back to the system after bursts of
//! connections. A fan-out to thousands of nodes opens a second connection for many
//! of them (a report sent while the next long poll waits) and allocates their
//! buffers, deliveries and reports among the long polls' live state; once those are
//! freed, glibc keeps the space (it returns only the free top of a heap, and the
//! long polls' state sits above it), so the server's resident size stayed where the
//! burst left it. `malloc_trim` hands every free page inside the heaps back. It runs
//! when connections have closed, at most once a [`TRIM_EVERY`], so a burst costs a
//! few trims and a quiet or steady server none.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// The shortest time between two trims. A trim of a heap of a few hundred MiB takes a
/// few milliseconds (tens on a loaded machine) with the allocator locked.
pub const TRIM_EVERY: Duration = Duration::from_secs(1);

/// What releases the free memory: [`trim_heap`] in the server, a counter in tests.
type Trim = Box<dyn Fn() + Send + Sync>;

/// Trims the heap after connections close.
pub struct HeapTrimmer {
    closed: Notify,
    trim: Trim,
}

impl HeapTrimmer {
    /// The server's trimmer.
    pub fn new() -> Arc<Self> {
        Self::with(Box::new(trim_heap))
    }

    fn with(trim: Trim) -> Arc<Self> {
        Arc::new(Self { closed: Notify::new(), trim })
    }

    /// A connection has closed, freeing its buffers: trim soon.
    pub fn connection_closed(&self) {
        self.closed.notify_one();
    }

    /// Trims [`TRIM_EVERY`] after a connection closed, gathering the closes meanwhile
    /// into that one trim, until `stop` resolves.
    pub async fn run_until(self: Arc<Self>, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                () = self.closed.notified() => {}
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(TRIM_EVERY) => {}
            }
            let trimmer = self.clone();
            let _ = tokio::task::spawn_blocking(move || (trimmer.trim)()).await;
        }
    }
}

/// Returns the allocator's free pages to the system.
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = std::time::Instant::now();
        // SAFETY: malloc_trim takes the allocator's own locks and touches no Rust memory.
        #[allow(unsafe_code)]
        let released = unsafe { libc::malloc_trim(0) };
        tracing::debug!(released = released == 1, took = ?started.elapsed(), "trimmed the heap");
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::{mpsc, oneshot};

    use super::*;

    /// A trimmer whose trims are counted on a channel, running until the sender is used or dropped.
    struct Counted {
        trimmer: Arc<HeapTrimmer>,
        trims: mpsc::UnboundedReceiver<()>,
        stop: oneshot::Sender<()>,
        running: tokio::task::JoinHandle<()>,
    }

    impl Counted {
        async fn start() -> Self {
            let (sender, trims) = mpsc::unbounded_channel();
            let trimmer = HeapTrimmer::with(Box::new(move || {
                let _ = sender.send(());
            }));
            let (stop, stopped) = oneshot::channel::<()>();
            let running = tokio::spawn(trimmer.clone().run_until(async move {
                let _ = stopped.await;
            }));
            settle().await;
            Counted { trimmer, trims, stop, running }
        }

        /// Stops the trimmer (a trim under way finishes first) and counts the trims not yet received.
        async fn stop(mut self) -> usize {
            let _ = self.stop.send(());
            self.running.await.unwrap();
            let mut count = 0;
            while self.trims.try_recv().is_ok() {
                count += 1;
            }
            count
        }
    }

    /// Waits for the next trim; fails if none comes within a few waits (of the paused clock).
    async fn next_trim(trims: &mut mpsc::UnboundedReceiver<()>) {
        tokio::time::timeout(TRIM_EVERY * 5, trims.recv()).await.expect("a trim").unwrap();
    }

    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_closes_is_one_trim_after_the_wait() {
        let mut counted = Counted::start().await;
        for _ in 0..1000 {
            counted.trimmer.connection_closed();
        }
        settle().await;
        tokio::time::advance(TRIM_EVERY / 2).await;
        settle().await;
        assert!(counted.trims.try_recv().is_err(), "no trim before the wait is over");
        next_trim(&mut counted.trims).await;
        // Nothing closed since: no more trims.
        tokio::time::advance(TRIM_EVERY * 10).await;
        settle().await;
        assert_eq!(counted.stop().await, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn closes_during_the_wait_bring_one_more_trim() {
        let mut counted = Counted::start().await;
        counted.trimmer.connection_closed();
        settle().await;
        tokio::time::advance(TRIM_EVERY / 2).await;
        counted.trimmer.connection_closed();
        counted.trimmer.connection_closed();
        next_trim(&mut counted.trims).await;
        next_trim(&mut counted.trims).await;
        tokio::time::advance(TRIM_EVERY * 10).await;
        settle().await;
        assert_eq!(counted.stop().await, 0, "two trims in all");
    }

    #[tokio::test(start_paused = true)]
    async fn no_close_no_trim() {
        let counted = Counted::start().await;
        tokio::time::advance(TRIM_EVERY * 10).await;
        settle().await;
        assert_eq!(counted.stop().await, 0);
    }
}
