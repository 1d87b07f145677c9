//! Caps the C allocator's arenas. glibc gives threads that allocate at the same time
//! arenas of their own (up to 8 a core), and memory freed into one arena serves only
//! that arena again. A server holding thousands of agent connections frees and
//! reallocates their buffers on whichever thread runs them, so across many arenas
//! its resident size after a fan-out stayed about 40% above what it uses. Two arenas
//! keep that slack small at no measurable cost in throughput. An operator's own
//! `MALLOC_ARENA_MAX` wins.

/// The arenas the allocator may use.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: libc::c_int = 2;

/// Applies the cap, unless `MALLOC_ARENA_MAX` is set. Call before starting threads.
pub fn cap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt changes one allocator parameter and touches no Rust memory;
        // it runs before any other thread exists.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}
