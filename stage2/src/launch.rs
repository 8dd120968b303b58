//! The jump to a boot image: through the trampoline (stage2/resident/trampoline.asm),
//! which copies the image over stage2's own memory and enters it in real
//! mode as a BIOS would.

use core::ptr::write_unaligned;

use bootfs::layout::{TrampolineParams, TRAMPOLINE_ADDR, TRAMPOLINE_END, TRAMPOLINE_PARAMS};

static TRAMPOLINE: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../build/trampoline.bin"));

const _: () = assert!(TRAMPOLINE_ADDR as usize + TRAMPOLINE_PARAMS + core::mem::size_of::<TrampolineParams>() <= TRAMPOLINE_END as usize);

/// Copies `image` to `dest` and jumps to `segment:offset` in real mode with
/// DL = `drive`. Never returns.
pub fn launch(image: &[u8], dest: u32, segment: u16, offset: u16, drive: u8) -> ! {
    let params =
        TrampolineParams { source: image.as_ptr() as u32, dest, length: image.len() as u32, entry_offset: offset, entry_segment: segment, drive };
    // SAFETY: [TRAMPOLINE_ADDR, TRAMPOLINE_END) is free low memory reserved
    // for the trampoline; the image stays alive (it is never freed: this
    // function does not return); the trampoline is 32-bit code entered
    // with flat segments and interrupts off, as stage2 runs.
    unsafe {
        let at = TRAMPOLINE_ADDR as *mut u8;
        core::ptr::copy_nonoverlapping(TRAMPOLINE.as_ptr(), at, TRAMPOLINE.len());
        write_unaligned(at.add(TRAMPOLINE_PARAMS) as *mut TrampolineParams, params);
        let trampoline: extern "C" fn() -> ! = core::mem::transmute(TRAMPOLINE_ADDR as usize);
        trampoline()
    }
}
