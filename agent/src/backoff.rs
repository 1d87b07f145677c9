//! Retry delays: exponential with jitter, capped, reset after a success. Every
//! retry loop of the agent (connection errors, reports not yet acknowledged)
//! takes its delays from here, so none of them spins.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// The delays after connection errors and server errors.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        let builder =
            ExponentialBuilder::default().with_min_delay(min).with_max_delay(max).with_factor(2.0).with_jitter().without_max_times();
        Self { delays: builder.build(), builder }
    }

    /// The next delay, longer each time up to the maximum.
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(Duration::from_secs(60))
    }

    /// Starts again from the shortest delay.
    pub fn reset(&mut self) {
        self.delays = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(100), "{first:?}");
        let later: Vec<Duration> = (0..20).map(|_| b.next_delay()).collect();
        assert!(later.iter().all(|d| *d <= Duration::from_secs(4)), "jitter adds at most the delay itself: {later:?}");
        assert!(later.last().unwrap() >= &Duration::from_secs(2));
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(250));
    }
}
