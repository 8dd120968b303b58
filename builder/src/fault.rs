//! Faults the tests inject, named by DROPBOOT_FAULT, to prove that a
//! builder cut off at the worst moment leaves a stick that still works:
//! `after-stage2` (upgrade stops after writing stage2), `stall-copy` (add
//! stops half way through copying a file's data and waits to be killed).

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
