//! Faults the tests inject, named by DROPBOOT_FAULT, to prove that a
//! builder cut off at the worst moment leaves a stick that still works:
//! `after-stage2` (upgrade stops after writing stage2), `stall-copy` (add
//! stops half way through copying a file's data and waits to be killed),
//! `kill-at-write:N` (the process dies at once, as a pulled plug would,
//! instead of making its Nth write to the data partition).

/// True when DROPBOOT_FAULT names `fault`.
pub fn is(fault: &str) -> bool {
    std::env::var("DROPBOOT_FAULT").is_ok_and(|f| f == fault)
}

/// Called as a copy progresses: under `stall-copy`, once half the bytes
/// are written, says so on stderr and waits to be killed.
pub fn copy_progress(done: u64, total: u64) {
    if done * 2 >= total && total > 0 && is("stall-copy") {
        eprintln!("dropboot: DROPBOOT_FAULT=stall-copy: stopped after {done} of {total} bytes");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// Called before each write to the data partition: under
/// `kill-at-write:N`, the Nth is not made and the process dies on the spot
/// (no destructor runs, nothing is flushed).
pub fn before_write() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let Ok(fault) = std::env::var("DROPBOOT_FAULT") else { return };
    let Some(n) = fault.strip_prefix("kill-at-write:").and_then(|n| n.parse::<u64>().ok()) else { return };
    if WRITES.fetch_add(1, Ordering::Relaxed) + 1 == n {
        eprintln!("dropboot: DROPBOOT_FAULT=kill-at-write:{n}: killed before write {n}");
        std::process::abort();
    }
}
