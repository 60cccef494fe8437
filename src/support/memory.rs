//! Giving memory back to the system after a merge of written events. A merge builds a new
//! index of every event (hundreds of MB at a million events) on another thread and then
//! frees the old one; glibc keeps what is freed for reuse by default, so without this the
//! process would hold both. Elsewhere than glibc these do nothing.

/// Allocations of 4 MiB and up get their own mapping, returned to the system when freed
/// (glibc otherwise raises that threshold as large blocks are freed, keeping them). Not
/// lower: a response body of a few hundred KB mapped and unmapped per request spent an
/// eighth of a near query's time in page faults and `munmap`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called once at start-up.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Returns the free pages of every allocator arena to the system.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory already free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes handed out by the allocator and not yet freed (arenas and large mappings), where
/// known: beside the process's RSS it tells live data from memory held for reuse.
pub fn in_use_bytes() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads allocator statistics.
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}
