//! The dropboot disk layout and the stage2 header: defined once here and
//! used by stage1 (through the generated `layout.inc`), stage2's linker
//! script (generated `layout.ld`), stage2 itself and the builder.
//!
//! ```text
//! LBA 0          stage1 code (bytes 0..440), disk signature, partition table, 55AA
//! LBA 1..768     stage2: a 32-byte [`Stage2Header`] then its code and data
//! LBA 769        the ISO partition record (what stage2 wrote into LBA 0)
//! LBA 770        the builder's journal record (a FAT32 change not finished)
//! LBA 1024..2047 the added-files area: what stage2 adds to an ISO as it
//!                boots (bootfs::added_files), zeroed at the next start
//! LBA 2048..     partition 1, the data partition (FAT32 / exFAT)
//! ```

/// Bytes of the MBR that hold boot code; the disk signature starts here.
pub const MBR_CODE_BYTES: usize = 440;
/// First sector of the stage2 area.
pub const STAGE2_LBA: u32 = 1;
/// Where the builder puts the data partition (1 MiB): also the end of the
/// stage2 area.
pub const DATA_PARTITION_LBA: u32 = 2048;
/// The record of the ISO partition entry stage2 wrote into the MBR at its
/// last boot ([`crate::iso_partition::Record`]), so the next start (or the
/// builder) can undo it: a fixed sector after the largest stage2, so a
/// stage2 of another size still finds it.
pub const ISO_PARTITION_RECORD_LBA: u32 = 769;
/// The builder's journal record ([`crate::journal::Record`]): where the
/// sectors of a change to the data partition that a kill may have cut off
/// lie, so that the next dropboot finishes it. Stage2 never writes it.
pub const BUILDER_JOURNAL_LBA: u32 = 770;
/// The added-files area ([`crate::added_files`]): sectors past the largest
/// stage2 and its records, before the data partition, that no filesystem
/// owns. stage2 writes there the blocks it serves an ISO with added files
/// from, and zeroes them at its next start. Why not a reserved file on the
/// data partition: stage2 writes no filesystem, a file would have to be
/// made by the builder on every stick (and survive defrag and other
/// tools), and these 512 KiB are on every stick dropboot made.
pub const ADDED_FILES_LBA: u32 = 1024;
pub const ADDED_FILES_SECTORS: u32 = DATA_PARTITION_LBA - ADDED_FILES_LBA;
/// The BIOS data area's words stage2 and the hook read and write: the
/// equipment word (bit 0: floppies present, bits 6-7: floppies - 1),
/// conventional memory in KiB, and the count of hard disks.
pub const BDA_EQUIPMENT: u32 = 0x410;
pub const BDA_BASE_MEMORY: u32 = 0x413;
pub const BDA_HARD_DISKS: u32 = 0x475;

/// Linear address stage1 loads stage2 at (0000:8000).
pub const STAGE2_LOAD_ADDR: u32 = 0x8000;
/// Largest stage2 image stage1 will load. Stage2's code, data, stacks and
/// buffers all live below [`STAGE2_END_LIMIT`].
pub const STAGE2_MAX_SECTORS: u32 = 0x300; // 384 KiB
/// Nothing of stage2 (including .bss) may reach this address; the EBDA and
/// the resident hook live above it.
pub const STAGE2_END_LIMIT: u32 = 0x70000;
/// Top of the real-mode stack used by stage1 and stage2's BIOS thunk
/// (stage1 runs at 0x7C00, just above it).
pub const REAL_MODE_STACK_TOP: u32 = 0x7C00;

/// `"DRPBOOT2"`: the first 8 bytes of the stage2 area.
pub const STAGE2_MAGIC: [u8; 8] = *b"DRPBOOT2";
/// Layout version of [`Stage2Header`].
pub const STAGE2_HEADER_FORMAT: u16 = 1;
/// Size of [`Stage2Header`]; stage2's real-mode entry point follows it.
pub const STAGE2_HEADER_SIZE: usize = 32;
/// Byte offset of `sectors` in the header (read by stage1).
pub const STAGE2_HEADER_SECTORS_OFFSET: usize = 12;
/// Linear address stage1 jumps to, with DL = boot drive.
pub const STAGE2_ENTRY_ADDR: u32 = STAGE2_LOAD_ADDR + STAGE2_HEADER_SIZE as u32;

/// stage2's GDT, which entry.S and the trampoline both load: the null
/// descriptor, then flat 32-bit code and data (base 0, 4 GiB), then 16-bit
/// code and data (base 0, 64 KiB) for the way back to real mode.
pub const GDT: [u64; 5] = [0, 0x00CF_9A00_0000_FFFF, 0x00CF_9200_0000_FFFF, 0x0000_9A00_0000_FFFF, 0x0000_9200_0000_FFFF];
/// The selectors of [`GDT`]'s segments.
pub const SELECTOR_CODE32: u16 = 0x08;
pub const SELECTOR_DATA32: u16 = 0x10;
pub const SELECTOR_CODE16: u16 = 0x18;
pub const SELECTOR_DATA16: u16 = 0x20;
const _: () = assert!(GDT.len() * 8 == SELECTOR_DATA16 as usize + 8);

/// Where stage2 copies the final trampoline (0000:0600, clear of stage1,
/// stacks and every load segment it accepts).
pub const TRAMPOLINE_ADDR: u32 = 0x0600;
/// The trampoline must end below this.
pub const TRAMPOLINE_END: u32 = 0x0800;

/// The trampoline's parameters, at [`TRAMPOLINE_PARAMS`] in its blob
/// (stage2/resident/trampoline.asm checks its labels against these offsets).
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrampolineParams {
    /// Flat address of the boot image stage2 loaded.
    pub source: u32,
    /// Flat address to copy it to (its load segment << 4).
    pub dest: u32,
    pub length: u32,
    /// Real-mode CS:IP to jump to.
    pub entry_offset: u16,
    pub entry_segment: u16,
    /// DL at the jump.
    pub drive: u8,
}

pub const TRAMPOLINE_PARAMS: usize = 4;

/// The resident INT 13h hook's header: the first bytes of build/int13_hook.bin
/// (stage2/resident/int13_hook.asm, which reserves it with these offsets) and
/// the patch area stage2 fills when it installs the hook. A memdisk-style
/// "$INT13SF" safe-hook header comes first so other tools can find it.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HookHeader {
    /// A near jump to the handler (memdisk's layout: the signature at +3,
    /// the old vector at +19, flags at +23).
    pub jump: [u8; 3],
    /// "$INT13SF".
    pub signature: [u8; 8],
    /// "DROPBOOT".
    pub vendor: [u8; 8],
    /// The INT 13h vector the hook replaced (offset, segment): every call
    /// for another drive goes there, and reads of the stick too.
    pub previous: u32,
    pub flags: u32,
    /// The drive number the boot file answers as (E0h for a CD).
    pub drive: u8,
    /// The BIOS number of the stick the file is read from.
    pub disk: u8,
    /// [`HOOK_KIND_CD`], ...
    pub kind: u8,
    /// INT 13h AH=01h's answer.
    pub last_status: u8,
    /// Size of the image in 512-byte sectors.
    pub sectors: u64,
    /// Entries in the extent table.
    pub extent_count: u32,
    /// Offset of the extent table ([`HookExtent`]s) in the hook's block.
    pub extents: u16,
    /// Offset of the top of the hook's own stack in its block; its
    /// [`HookShared`] words lie just above it.
    pub stack_top: u16,
    /// The El Torito specification packet INT 13h AX=4B01h returns.
    pub spec_packet: [u8; 20],
    /// File sector where the image starts (an El Torito emulation image
    /// starts at its load block; a CD or a `.img` at 0).
    pub image_start: u32,
    /// CHS geometry of an emulated floppy or hard disk.
    pub cylinders: u16,
    pub heads: u16,
    pub sectors_per_track: u16,
    /// INT 13h AH=08h's BL for an emulated floppy.
    pub floppy_type: u8,
    /// 1 when the image came from an El Torito catalog (the hook answers 4Bh).
    pub eltorito: u8,
    /// The diskette parameter table AH=08h points at.
    pub parameter_table: [u8; 11],
    /// 1 when writes (AH=03h, 43h) go through to the file on the stick (a
    /// disk image file); 0 answers them write-protected (CDs, and images
    /// inside an ISO).
    pub writable: u8,
    /// Offset of the INT 15h handler in the block (set by the assembly):
    /// it takes the hook's own memory out of the E820 map.
    pub int15_entry: u16,
    /// Real drives of the emulated class before the hook (floppies or
    /// hard disks): those renumber one up, no other numbers do.
    pub real_drives: u8,
    /// The stick's CHS geometry when its BIOS has no INT 13h extensions
    /// (the hook then reads it with AH=02h): last head and sectors per
    /// track. 0 sectors: the hook reads it with AH=42h.
    pub disk_last_head: u8,
    pub disk_sectors_per_track: u8,
    /// The INT 15h vector the hook replaced (offset, segment).
    pub previous_int15: u32,
    /// Sectors the hook asks of the stick's BIOS in one read into a buffer
    /// at offset 0 of its segment: [`BIOS_SECTORS_PER_CALL`], or
    /// [`BIOS_PROVEN_SECTORS_PER_CALL`] when stage2 proved at its start
    /// that this BIOS reads that many whole. The hook lowers it for the
    /// rest of the boot at the first such read that fails.
    pub max_read: u8,
}

/// The hook presents a no-emulation CD with 2048-byte sectors.
pub const HOOK_KIND_CD: u8 = 0;
/// The hook presents a floppy (drive 00h; real floppies move up one).
pub const HOOK_KIND_FLOPPY: u8 = 1;
/// The hook presents a hard disk (drive 80h; real hard disks move up one).
pub const HOOK_KIND_HARD_DISK: u8 = 2;
/// The hook serves no file: it swaps two real hard disks' numbers, the
/// stick's (`disk`) and another's (`drive`), so the disk booted after the
/// stick answers as the stick's number (80h) as it would without it.
pub const HOOK_KIND_SWAP: u8 = 3;
pub const HOOK_SIGNATURE: [u8; 8] = *b"$INT13SF";
pub const HOOK_VENDOR: [u8; 8] = *b"DROPBOOT";
/// The most runs a boot file may be in: the hook's table then takes
/// 32,000 bytes of conventional memory. A file in more pieces gets a
/// message naming `dropboot defrag`, which stores it in one piece.
pub const HOOK_MAX_EXTENTS: usize = 2000;
/// The most bytes the hook's code and header may take (int13_hook.asm
/// fails to assemble past it); its memory is reckoned with this.
pub const HOOK_MAX_BYTES: usize = 2560;
/// Bytes of stack the hook keeps in its block, at least: its own frames
/// (about 100 bytes a call, nested calls included) and room for a vendor
/// BIOS's USB code, which runs on the stack it is called on.
pub const HOOK_STACK_BYTES: usize = 2048;
/// The hook's block keeps what every call writes (its stack and
/// [`HookShared`]) out of the 4 KiB pages that hold its code
/// (`bootplan::hook_block`). A store into a page of code costs a CPU a
/// flush of what it fetched there and an emulator (QEMU's TCG) a search
/// of the code it translated from that page: `make bench` measured the
/// hook at 0.89 of the stick's speed over USB with 2 KiB requests with
/// the stack beside the code, 1.00 with the stack on a page of its own.
pub const PAGE_BYTES: usize = 4096;

/// The words the resident hook's calls share, just above its stack's top
/// (`HookHeader::stack_top`), on a page without code. stage2 writes them
/// zero; then the hook alone writes them, interrupts off.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default)]
pub struct HookShared {
    /// The outer call's stack (ESP whole, for a caller whose high half is
    /// not clear), and its SS.
    pub caller_esp: u32,
    pub caller_ss: u16,
    /// Calls under way: only the outer one moves to the hook's stack.
    pub depth: u8,
    pub reserved: u8,
    /// The caller's BX while the outer call moves to the hook's stack.
    pub caller_bx: u16,
}
pub const HOOK_SHARED_SIZE: usize = 10;
const _: () = assert!(core::mem::size_of::<HookShared>() == HOOK_SHARED_SIZE);
/// Sectors stage2 and the hook ask of the stick's BIOS in one AH=42h or
/// 43h call: EDD 3.0 caps the count at 127 (7Fh), and GRUB, syslinux and
/// iPXE's BIOS drives stay within it.
pub const BIOS_SECTORS_PER_CALL: u8 = 127;
/// The one larger count dropboot ever asks for: 64 KiB, a boot loader's
/// largest request (32 CD blocks), in one call instead of 127 + 1. Only
/// for reads into a buffer at offset 0 of its segment (so the transfer
/// ends exactly at FFFFh and no DI can wrap), and only on a BIOS that
/// stage2 saw read 128 sectors whole at its start (`disk.rs`); the README
/// says why not more.
pub const BIOS_PROVEN_SECTORS_PER_CALL: u8 = 128;
/// Bytes of the El Torito specification packet (4B01h).
pub const SPEC_PACKET_BYTES: usize = 0x13;

/// One run of the boot file: `count` 512-byte sectors from `file_sector`
/// on are on the stick from `disk_lba` on.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookExtent {
    pub file_sector: u32,
    pub count: u32,
    pub disk_lba: u64,
}

pub const HOOK_HEADER_SIZE: usize = 101;
const _: () = assert!(core::mem::size_of::<HookHeader>() == HOOK_HEADER_SIZE);
// memdisk's safe-hook header, which tools walk the INT 13h chain by.
const _: () = assert!(core::mem::offset_of!(HookHeader, signature) == 3);
const _: () = assert!(core::mem::offset_of!(HookHeader, vendor) == 11);
const _: () = assert!(core::mem::offset_of!(HookHeader, previous) == 19);
const _: () = assert!(core::mem::offset_of!(HookHeader, flags) == 23);
const _: () = assert!(core::mem::size_of::<HookExtent>() == 16);

/// dropboot's version as one number: major << 16 | minor << 8 | patch.
pub const VERSION: u32 = 0x00_01_00;

/// The header at the start of the stage2 area.
///
/// Stage2's linker script puts it first with `sectors` and `checksum` zero;
/// the builder seals it ([`seal_stage2`]) when it writes the boot code.
/// Stage1 checks `magic`, that `sectors` is 1..=[`STAGE2_MAX_SECTORS`], and
/// that the 32-bit little-endian words of all `sectors` sum to zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage2Header {
    pub magic: [u8; 8],
    pub format: u16,
    pub header_size: u16,
    /// Length of the stage2 image in 512-byte sectors, header included.
    pub sectors: u32,
    /// Makes the wrapping sum of every u32 word of the image zero.
    pub checksum: u32,
    /// [`VERSION`] of the build that made this stage2.
    pub version: u32,
    /// The EFLAGS bits stage2's first code toggles to tell a 486 from a
    /// 386 ([`EFLAGS_AC`]): a 386 cannot change them. A test clears them
    /// (and seals again) to play a 386 on a 486.
    pub cpu_probe_flags: u32,
    pub reserved: u32,
}

/// EFLAGS' alignment-check bit, which a 486 can change and a 386 cannot.
pub const EFLAGS_AC: u32 = 1 << 18;

const _: () = assert!(core::mem::size_of::<Stage2Header>() == STAGE2_HEADER_SIZE);
const _: () = assert!(core::mem::offset_of!(Stage2Header, sectors) == STAGE2_HEADER_SECTORS_OFFSET);
const _: () = assert!(STAGE2_LOAD_ADDR + STAGE2_MAX_SECTORS * 512 <= STAGE2_END_LIMIT);
const _: () = assert!(STAGE2_LBA + STAGE2_MAX_SECTORS <= DATA_PARTITION_LBA);
const _: () = assert!(ISO_PARTITION_RECORD_LBA >= STAGE2_LBA + STAGE2_MAX_SECTORS && ISO_PARTITION_RECORD_LBA < DATA_PARTITION_LBA);
const _: () = assert!(BUILDER_JOURNAL_LBA > ISO_PARTITION_RECORD_LBA && BUILDER_JOURNAL_LBA < DATA_PARTITION_LBA);

impl Stage2Header {
    /// The header as stage2 is linked with it (not yet sealed).
    pub const fn unsealed() -> Self {
        Stage2Header {
            magic: STAGE2_MAGIC,
            format: STAGE2_HEADER_FORMAT,
            header_size: STAGE2_HEADER_SIZE as u16,
            sectors: 0,
            checksum: 0,
            version: VERSION,
            cpu_probe_flags: EFLAGS_AC,
            reserved: 0,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, Stage2Error> {
        if bytes.len() < STAGE2_HEADER_SIZE || bytes[..8] != STAGE2_MAGIC {
            return Err(Stage2Error::NoMagic);
        }
        let u16at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
        let u32at = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let h = Stage2Header {
            magic: STAGE2_MAGIC,
            format: u16at(8),
            header_size: u16at(10),
            sectors: u32at(12),
            checksum: u32at(16),
            version: u32at(20),
            cpu_probe_flags: u32at(24),
            reserved: u32at(28),
        };
        if h.format != STAGE2_HEADER_FORMAT || h.header_size as usize != STAGE2_HEADER_SIZE {
            return Err(Stage2Error::UnknownFormat(h.format));
        }
        if h.sectors == 0 || h.sectors > STAGE2_MAX_SECTORS {
            return Err(Stage2Error::BadLength(h.sectors));
        }
        Ok(h)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage2Error {
    NoMagic,
    UnknownFormat(u16),
    BadLength(u32),
    TooLarge(usize),
    Checksum,
}

impl core::fmt::Display for Stage2Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Stage2Error::NoMagic => write!(f, "no dropboot stage2 header (magic DRPBOOT2 missing)"),
            Stage2Error::UnknownFormat(v) => write!(f, "unknown stage2 header format {v}"),
            Stage2Error::BadLength(s) => write!(f, "stage2 length {s} sectors is out of range"),
            Stage2Error::TooLarge(n) => {
                write!(f, "stage2 is {n} bytes; the stage2 area holds {}", STAGE2_MAX_SECTORS * 512)
            }
            Stage2Error::Checksum => write!(f, "stage2 checksum is wrong"),
        }
    }
}

/// Wrapping sum of the little-endian u32 words of `bytes` (length a multiple of 4).
pub fn word_sum(bytes: &[u8]) -> u32 {
    bytes.chunks_exact(4).fold(0u32, |s, w| s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
}

/// Pads a linked stage2 image to whole sectors and fills in `sectors` and
/// `checksum`. Returns the sealed image, ready for LBA [`STAGE2_LBA`].
pub fn seal_stage2(image: &[u8]) -> Result<alloc::vec::Vec<u8>, Stage2Error> {
    if image.len() < STAGE2_HEADER_SIZE || image[..8] != STAGE2_MAGIC {
        return Err(Stage2Error::NoMagic);
    }
    let sectors = image.len().div_ceil(512);
    if sectors > STAGE2_MAX_SECTORS as usize {
        return Err(Stage2Error::TooLarge(image.len()));
    }
    let mut out = image.to_vec();
    out.resize(sectors * 512, 0);
    out[12..16].copy_from_slice(&(sectors as u32).to_le_bytes());
    out[16..20].copy_from_slice(&0u32.to_le_bytes());
    let sum = word_sum(&out);
    out[16..20].copy_from_slice(&0u32.wrapping_sub(sum).to_le_bytes());
    Ok(out)
}

/// Checks a sealed stage2 image the way stage1 does.
pub fn verify_stage2(image: &[u8]) -> Result<Stage2Header, Stage2Error> {
    let h = Stage2Header::parse(image)?;
    let len = h.sectors as usize * 512;
    if image.len() < len {
        return Err(Stage2Error::BadLength(h.sectors));
    }
    if word_sum(&image[..len]) != 0 {
        return Err(Stage2Error::Checksum);
    }
    Ok(h)
}

/// A [`VERSION`]-style number, shown as "major.minor.patch".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version(pub u32);

impl core::fmt::Display for Version {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{}.{}", self.0 >> 16, (self.0 >> 8) & 0xFF, self.0 & 0xFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_stage2_verifies_and_one_flipped_bit_does_not() {
        let mut img = alloc::vec![0u8; 1000];
        img[..8].copy_from_slice(&STAGE2_MAGIC);
        img[8..10].copy_from_slice(&STAGE2_HEADER_FORMAT.to_le_bytes());
        img[10..12].copy_from_slice(&(STAGE2_HEADER_SIZE as u16).to_le_bytes());
        img[500] = 0x5A;
        let mut sealed = seal_stage2(&img).unwrap();
        assert_eq!(sealed.len(), 1024);
        assert_eq!(verify_stage2(&sealed).unwrap().sectors, 2);
        sealed[700] ^= 0x10;
        assert_eq!(verify_stage2(&sealed), Err(Stage2Error::Checksum));
    }

    #[test]
    fn an_oversized_stage2_is_refused() {
        let mut img = alloc::vec![0u8; (STAGE2_MAX_SECTORS as usize + 1) * 512];
        img[..8].copy_from_slice(&STAGE2_MAGIC);
        assert!(matches!(seal_stage2(&img), Err(Stage2Error::TooLarge(_))));
    }
}
