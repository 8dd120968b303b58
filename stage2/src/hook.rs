//! Installing the resident INT 13h hook (stage2/resident/int13_hook.asm, built alone as a
//! flat blob): memory from the top of conventional memory (BDA 413h), its
//! header and extent table filled in, the INT 15h and INT 13h vectors
//! pointed at it, and the emulated drive counted in the BIOS data area
//! (after the real drives of its class are read for the header).

use core::mem::size_of;
use core::ptr::{read_unaligned, read_volatile, write_unaligned, write_volatile};

use bootfs::bootplan::{floppies_in, with_floppies, DriveClass, ImageRange, Presentation};

use crate::disk::ChsGeometry;
use bootfs::layout::{self, HookExtent, HookHeader, HookShared, HOOK_MAX_BYTES, HOOK_SIGNATURE, HOOK_VENDOR, SPEC_PACKET_BYTES};

static HOOK: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../build/int13_hook.bin"));

/// BDA: conventional memory in KiB.
const BDA_BASE_MEMORY: usize = layout::BDA_BASE_MEMORY as usize;
/// IVT entries of INT 13h and INT 15h (offset, segment).
const IVT_INT13: usize = 0x13 * 4;
const IVT_INT15: usize = 0x15 * 4;

/// What the hook will present, and from where.
pub struct HookPlan<'a> {
    pub presentation: Presentation,
    /// The BIOS number of the stick.
    pub disk: u8,
    /// The part of the file the drive shows, and whether it takes writes.
    pub image: ImageRange,
    /// The file's runs on the disk, in file order.
    pub extents: &'a [HookExtent],
    /// For images from an El Torito catalog: the 4B01h packet.
    pub spec_packet: Option<[u8; SPEC_PACKET_BYTES]>,
    /// The stick's geometry when the BIOS reads it only by CHS.
    pub disk_chs: Option<ChsGeometry>,
    /// Sectors one read asks of the stick's BIOS (127, or 128 when proved).
    pub max_read: u8,
}

impl HookPlan<'static> {
    /// "Boot the next disk": no file; the stick and disk `other` trade
    /// numbers.
    pub fn swap_disks(stick: u8, other: u8) -> HookPlan<'static> {
        HookPlan {
            presentation: Presentation::SwapDisks { other },
            disk: stick,
            image: ImageRange { start: 0, sectors: 0, writable: false },
            extents: &[],
            spec_packet: None,
            disk_chs: None,
            max_read: layout::BIOS_SECTORS_PER_CALL,
        }
    }
}

/// Where the hook went.
#[derive(Clone, Copy, Debug)]
pub struct Installed {
    pub segment: u16,
    pub kib: u16,
    /// The INT 13h and INT 15h vectors it replaced.
    pub previous: u32,
    pub previous_int15: u32,
    /// The BIOS data area's count of the emulated drive's class before
    /// and after the hook counted it (the equipment word for floppies).
    pub count: Option<(DriveClass, u16, u16)>,
}

// The memory the hook is given is reckoned for HOOK_MAX_BYTES of code.
const _: () = assert!(size_of::<HookExtent>() == 16);

/// Conventional memory the BIOS reports, in KiB.
pub fn base_memory_kib() -> u16 {
    // SAFETY: the BDA is identity-mapped and always readable.
    unsafe { read_volatile(BDA_BASE_MEMORY as *const u16) }
}

/// Copies the hook below the top of conventional memory, hooks INT 15h
/// (E820 hides the block) and INT 13h, then counts the emulated drive in
/// the BIOS data area. The INT 13h vector is written after everything the
/// hook reads.
pub fn install(plan: &HookPlan) -> Installed {
    let top = base_memory_kib();
    let block = bootfs::bootplan::hook_block(plan.extents.len(), top);
    let kib = block.kib;
    let new_top = top - kib;
    let base = new_top as usize * 1024;
    let segment = (base >> 4) as u16;
    let extents_at = HOOK.len().next_multiple_of(16);
    // SAFETY: [base, base + kib KiB) is conventional memory just below the
    // BIOS's reported top, which nothing uses until we lower 413h; IVT and
    // BDA writes happen with interrupts off.
    unsafe {
        let block_at = base as *mut u8;
        core::ptr::copy_nonoverlapping(HOOK.as_ptr(), block_at, HOOK.len());
        let previous = read_volatile(IVT_INT13 as *const u32);
        let previous_int15 = read_volatile(IVT_INT15 as *const u32);
        let mut h: HookHeader = read_unaligned(block_at as *const HookHeader);
        h.previous = previous;
        h.previous_int15 = previous_int15;
        let int15_entry = h.int15_entry;
        let presentation = plan.presentation;
        h.drive = presentation.drive();
        h.disk = plan.disk;
        h.kind = presentation.hook_kind();
        h.last_status = 0;
        h.sectors = plan.image.sectors;
        h.writable = plan.image.writable as u8;
        h.extent_count = plan.extents.len() as u32;
        h.extents = extents_at as u16;
        h.stack_top = block.stack_top;
        h.spec_packet = [0; 20];
        h.eltorito = plan.spec_packet.is_some() as u8;
        if let Some(packet) = &plan.spec_packet {
            h.spec_packet[..SPEC_PACKET_BYTES].copy_from_slice(packet);
        }
        h.image_start = plan.image.start as u32;
        let chs = presentation.chs();
        (h.cylinders, h.heads, h.sectors_per_track) = (chs.cylinders, chs.heads, chs.sectors);
        h.parameter_table = [0; 11];
        let class = presentation.emulated_class();
        h.real_drives = class.map_or(0, real_drives);
        let disk_chs = plan.disk_chs.map_or((0, 0), |g| (g.last_head, g.sectors_per_track));
        (h.disk_last_head, h.disk_sectors_per_track) = disk_chs;
        h.max_read = plan.max_read;
        if let Presentation::Floppy(f) = presentation {
            h.floppy_type = f.bios_type;
            h.parameter_table[..11].copy_from_slice(&f.parameter_table);
        }
        write_unaligned(block_at as *mut HookHeader, h);
        write_unaligned(block_at.add(block.stack_top as usize) as *mut HookShared, HookShared::default());
        for (i, &extent) in plan.extents.iter().enumerate() {
            write_unaligned(block_at.add(extents_at + i * size_of::<HookExtent>()) as *mut HookExtent, extent);
        }
        write_volatile(BDA_BASE_MEMORY as *mut u16, new_top);
        write_volatile(IVT_INT15 as *mut u32, (segment as u32) << 16 | int15_entry as u32);
        write_volatile(IVT_INT13 as *mut u32, (segment as u32) << 16);
        let count = class.map(|c| {
            let (before, after) = count_one_more(c);
            (c, before, after)
        });
        Installed { segment, kib, previous, previous_int15, count }
    }
}

const BDA_EQUIPMENT: usize = layout::BDA_EQUIPMENT as usize;
const BDA_HARD_DISKS: usize = layout::BDA_HARD_DISKS as usize;

/// Real drives of `class` the BIOS data area counts: floppies by the
/// equipment word (410h), hard disks at 475h.
fn real_drives(class: DriveClass) -> u8 {
    // SAFETY: the BDA is identity-mapped and always readable.
    unsafe {
        match class {
            DriveClass::Floppy => floppies_in(read_volatile(BDA_EQUIPMENT as *const u16)),
            DriveClass::HardDisk => read_volatile(BDA_HARD_DISKS as *const u8),
        }
    }
}

/// Counts one more drive of `class` in the BIOS data area; returns the
/// word or count before and after.
fn count_one_more(class: DriveClass) -> (u16, u16) {
    // SAFETY: the BDA is identity-mapped; interrupts are off.
    unsafe {
        match class {
            DriveClass::Floppy => {
                let before = read_volatile(BDA_EQUIPMENT as *const u16);
                let after = with_floppies(before, floppies_in(before) + 1);
                write_volatile(BDA_EQUIPMENT as *mut u16, after);
                (before, after)
            }
            DriveClass::HardDisk => {
                let before = read_volatile(BDA_HARD_DISKS as *const u8);
                let after = before.saturating_add(1);
                write_volatile(BDA_HARD_DISKS as *mut u8, after);
                (before as u16, after as u16)
            }
        }
    }
}

/// True when the blob carries the header stage2 was built for, within the
/// bytes its memory is reckoned for.
pub fn blob_ok() -> bool {
    let at = core::mem::offset_of!(HookHeader, signature);
    let vendor = core::mem::offset_of!(HookHeader, vendor);
    HOOK.len() > size_of::<HookHeader>()
        && HOOK.len() <= HOOK_MAX_BYTES
        && HOOK[at..at + 8] == HOOK_SIGNATURE
        && HOOK[vendor..vendor + 8] == HOOK_VENDOR
}
