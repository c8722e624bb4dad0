//! Giving back the memory a long-lived process holds and does not use: a
//! supervisor is a fork of the `hupsafe` that started it, and would keep,
//! for days, the pages that process touched (clap's parser, the start's
//! heap), and then those that serving a client brought in (each page fault
//! on code maps up to 64 KiB around it: the kernel's fault-around).

/// Drops what this process holds but may not need: free heap pages
/// (`malloc_trim`) and its page-table entries of read-only file
/// mappings (code and constants of hupsafe and libc), which the pages it
/// still uses fault back in from the page cache (shared with every other
/// process, so they cost the machine nothing more). Memory protection,
/// addresses (ASLR) and the pages' contents stay as they were. Best effort:
/// a failure only leaves the memory where it was.
pub fn shed() {
    // SAFETY: malloc_trim only gives free heap memory back; nothing of
    // ours points into free memory.
    unsafe { libc::malloc_trim(0) };
    let Ok(copies) = crate::sys::proc::own_file_copies() else {
        return;
    };
    for (start, end) in copies {
        // SAFETY: MADV_DONTNEED on a private, read-only mapping without a
        // page copied on write (checked by own_file_copies, and nothing
        // can write to it since) only drops page-table entries: every
        // later access reads the same bytes from the file again. No Rust
        // object lives in such a mapping but code and constants.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}
