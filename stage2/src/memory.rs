//! The BIOS memory map (INT 15h E820h, E801h as a fallback) and the heap,
//! placed in the largest usable RAM above 1 MiB.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::NonNull;

use linked_list_allocator::Heap;

use crate::arch::{bios_int, RmRegs};

const MIB: u64 = 1024 * 1024;
/// The heap stays below this (32-bit pointers, and room for PCI holes).
const HEAP_CEILING: u64 = 0xC000_0000;

#[derive(Clone, Copy, Debug, Default)]
pub struct Region {
    pub base: u64,
    pub length: u64,
    pub kind: u32,
}

#[repr(C, align(8))]
struct E820Entry {
    base: u64,
    length: u64,
    kind: u32,
    acpi: u32,
}

static mut E820_BUF: E820Entry = E820Entry { base: 0, length: 0, kind: 0, acpi: 1 };

/// Calls `f` for each E820 region; false when the BIOS has no E820.
fn e820(mut f: impl FnMut(Region)) -> bool {
    let addr = (&raw mut E820_BUF) as u32;
    let mut continuation = 0;
    for i in 0..128 {
        let mut r =
            RmRegs { eax: 0xE820, ebx: continuation, ecx: 24, edx: 0x534D_4150, es: (addr >> 4) as u16, edi: addr & 0xF, ..Default::default() };
        // SAFETY: one CPU; the BIOS fills the buffer during the call.
        unsafe { E820_BUF.acpi = 1 };
        bios_int(0x15, &mut r);
        if r.carry() || r.eax != 0x534D_4150 {
            return i > 0;
        }
        // SAFETY: as above; the call has returned.
        let e = unsafe { &*(&raw const E820_BUF) };
        if r.ecx < 24 || e.acpi & 1 != 0 {
            f(Region { base: e.base, length: e.length, kind: e.kind });
        }
        continuation = r.ebx;
        if continuation == 0 {
            return true;
        }
    }
    true
}

/// The memory map: E820 regions, or one region from E801h.
pub fn memory_map(mut f: impl FnMut(Region)) -> &'static str {
    if e820(&mut f) {
        return "E820";
    }
    let mut r = RmRegs { eax: 0xE801, ..Default::default() };
    bios_int(0x15, &mut r);
    if !r.carry() {
        // Some BIOSes answer in CX/DX and leave AX/BX zero (Ralf Brown's list).
        let (ax, bx) = (r.eax as u16, r.ebx as u16);
        let (below16, above16) = if ax == 0 && bx == 0 { (r.ecx as u16 as u64, r.edx as u16 as u64) } else { (ax as u64, bx as u64) };
        f(Region { base: MIB, length: below16 * 1024 + above16 * 64 * 1024, kind: 1 });
        return "E801";
    }
    "none"
}

/// The usable range the heap takes: the largest type-1 region above 1 MiB.
pub fn heap_range() -> Option<(u64, u64)> {
    let mut best: Option<(u64, u64)> = None;
    memory_map(|r| {
        if r.kind != 1 {
            return;
        }
        let start = r.base.max(MIB);
        let end = r.base.saturating_add(r.length).min(HEAP_CEILING);
        if end > start && best.is_none_or(|(s, e)| end - start > e - s) {
            best = Some((start, end));
        }
    });
    best
}

pub struct StageAllocator(UnsafeCell<Heap>);

// SAFETY: stage2 runs on one CPU with interrupts off; nothing allocates concurrently.
unsafe impl Sync for StageAllocator {}

#[global_allocator]
pub static ALLOCATOR: StageAllocator = StageAllocator(UnsafeCell::new(Heap::empty()));

impl StageAllocator {
    /// Gives the heap its memory. Call once, before anything allocates.
    pub fn init(&self, start: u64, end: u64) {
        // SAFETY: the range is usable RAM from the BIOS map, above stage2 and
        // below 4 GiB, and this runs once before any allocation.
        unsafe { (*self.0.get()).init(start as *mut u8, (end - start) as usize) }
    }
}

unsafe impl GlobalAlloc for StageAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).allocate_first_fit(layout).map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            (*self.0.get()).deallocate(p, layout)
        }
    }
}
