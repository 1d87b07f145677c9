//! Memory and table limits of one call, with the peak memory it reached, so a
//! memory bomb fails with a clear message and `plugin test` can report usage.

use wasmtime::ResourceLimiter;

/// Instances and tables are few in a well-formed component; more is hostile.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

pub struct CallLimiter {
    pub memory_limit: usize,
    pub peak_memory: usize,
    /// Memory is the sum over the component's memories; this is what is in use now.
    current_total: usize,
    pub exceeded: Option<usize>,
}

impl CallLimiter {
    pub fn new(memory_limit: usize) -> CallLimiter {
        CallLimiter { memory_limit, peak_memory: 0, current_total: 0, exceeded: None }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.current_total - current.min(self.current_total) + desired;
        if total > self.memory_limit {
            self.exceeded = Some(total);
            return Err(wasmtime::Error::msg(format!(
                "memory limit exceeded: the plugin asked for {} MiB, its limit is {} MiB",
                total.div_ceil(1 << 20),
                self.memory_limit >> 20
            )));
        }
        self.current_total = total;
        self.peak_memory = self.peak_memory.max(total);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
