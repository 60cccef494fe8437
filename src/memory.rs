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

/// Asks for the spare and used capacity of `v` to be backed by huge pages where the
/// kernel leaves that to the program (transparent huge pages in `madvise` mode): filling
/// gigabytes then takes one page fault per 2 MiB instead of per 4 KiB, which is most of
/// the time of reading ten million events back. Only worth it for large vectors.
pub fn prefer_huge_pages<T>(v: &mut Vec<T>) {
    const PAGE: usize = 4096;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 64 << 20 {
        return;
    }
    let start = (v.as_mut_ptr() as usize).next_multiple_of(PAGE);
    let end = (v.as_mut_ptr() as usize + bytes) / PAGE * PAGE;
    #[cfg(target_os = "linux")]
    // SAFETY: the range lies inside the vector's own allocation, and MADV_HUGEPAGE
    // changes only how its pages are backed, never their contents.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
}
