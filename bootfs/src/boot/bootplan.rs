//! What the loader does with a boot file: how it presents it
//! ([`Presentation`]: a CD E0h, a floppy 00h or a hard disk 80h, with what
//! geometry), which bytes it loads as the boot image, and the limits it
//! refuses a plan by, all in one verdict ([`judge`]). stage2 boots by the
//! verdict and the builder's `check` prints it, so `check` never promises a
//! boot the menu refuses and both say a refusal in the same words. Nothing
//! here touches a BIOS.

use alloc::string::String;

use crate::block::IoError;
use crate::diskimage::{classify, eltorito_floppy, hard_disk_geometry, partition_geometry, Chs, DiskImageError, DiskKind, FloppyFormat};
use crate::eltorito::{BootEntry, Catalog, EltoritoError, Media};
use crate::file::ByteSource;
use crate::iso9660::{IsoError, Volume, BLOCK};
use crate::iso_partition::{ImagePart, NoEntry, Placement};
use crate::layout::{
    HookExtent, HOOK_KIND_CD, HOOK_KIND_FLOPPY, HOOK_KIND_HARD_DISK, HOOK_KIND_SWAP, HOOK_MAX_BYTES, HOOK_MAX_EXTENTS, HOOK_SHARED_SIZE,
    HOOK_STACK_BYTES, PAGE_BYTES, SPEC_PACKET_BYTES, TRAMPOLINE_END,
};
use crate::vdisk::{PartitionKind, Vdisk, VdiskFormat, VdiskRefusal};

/// Emulated floppies and hard disks take the first number of their class.
pub const FLOPPY_DRIVE: u8 = 0x00;
pub const HARD_DISK_DRIVE: u8 = 0x80;
/// The drive number a no-emulation CD answers as (SeaBIOS's, memdisk's
/// and Ventoy's choice; GRUB takes any number from 90h on for a CD and
/// ISOLINUX any from 81h on).
pub const CD_DRIVE: u8 = 0xE0;

/// How the resident hook presents a boot file to the BIOS's callers (or,
/// for "boot the next disk", two real disks): one hook kind each (the
/// `HOOK_KIND_*` numbers layout.rs exports to the assembly). A new way to
/// present a file is one more variant here, and the compiler names every
/// place that must learn it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presentation {
    /// A no-emulation El Torito CD: 2048-byte blocks, drive [`CD_DRIVE`].
    Cd,
    /// An emulated floppy, drive [`FLOPPY_DRIVE`], in this format.
    Floppy(&'static FloppyFormat),
    /// An emulated hard disk, drive [`HARD_DISK_DRIVE`], with this geometry.
    HardDisk(Chs),
    /// No file: the stick and another real hard disk trade numbers, so
    /// the disk booted after the stick answers as the stick's number.
    SwapDisks {
        /// The other disk, which answers as the stick's number.
        other: u8,
    },
}

/// A class of BIOS drives whose count the BIOS data area keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveClass {
    /// Counted by the equipment word (410h).
    Floppy,
    /// Counted at 475h.
    HardDisk,
}

impl Presentation {
    /// The number the hook's assembly dispatches on.
    pub fn hook_kind(&self) -> u8 {
        match self {
            Presentation::Cd => HOOK_KIND_CD,
            Presentation::Floppy(_) => HOOK_KIND_FLOPPY,
            Presentation::HardDisk(_) => HOOK_KIND_HARD_DISK,
            Presentation::SwapDisks { .. } => HOOK_KIND_SWAP,
        }
    }

    /// The drive number the boot image is entered with.
    pub fn drive(&self) -> u8 {
        match self {
            Presentation::Cd => CD_DRIVE,
            Presentation::Floppy(_) => FLOPPY_DRIVE,
            Presentation::HardDisk(_) => HARD_DISK_DRIVE,
            Presentation::SwapDisks { other } => *other,
        }
    }

    /// The CHS geometry the hook answers with (none for a CD or a swap).
    pub fn chs(&self) -> Chs {
        match self {
            Presentation::Floppy(f) => f.chs,
            Presentation::HardDisk(chs) => *chs,
            Presentation::Cd | Presentation::SwapDisks { .. } => NO_CHS,
        }
    }

    /// The class of drives the presented one joins, one number above the
    /// real ones moving up (El Torito's rule); none for a CD or a swap.
    pub fn emulated_class(&self) -> Option<DriveClass> {
        match self {
            Presentation::Floppy(_) => Some(DriveClass::Floppy),
            Presentation::HardDisk(_) => Some(DriveClass::HardDisk),
            Presentation::Cd | Presentation::SwapDisks { .. } => None,
        }
    }
}

impl core::fmt::Display for Presentation {
    /// In words, for the screen, the log and `dropboot check`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Presentation::Cd => write!(f, "CD {CD_DRIVE:02X}h"),
            Presentation::Floppy(format) => write!(f, "{} floppy {FLOPPY_DRIVE:02X}h", format.name),
            Presentation::HardDisk(chs) => {
                write!(f, "hard disk {HARD_DISK_DRIVE:02X}h ({}/{}/{})", chs.cylinders, chs.heads, chs.sectors)
            }
            Presentation::SwapDisks { other } => write!(f, "disk {other:02X}h with the stick's number"),
        }
    }
}

/// Floppies the equipment word (BDA 410h) counts: bit 0 says there are
/// any, bits 6-7 how many less one. (The assembly's one decoder is
/// int13_hook.asm's `floppy_count`.)
pub fn floppies_in(equipment: u16) -> u8 {
    if equipment & 1 == 0 {
        0
    } else {
        ((equipment >> 6) & 3) as u8 + 1
    }
}

/// The equipment word `equipment` with `floppies` (1 to 4) counted.
pub fn with_floppies(equipment: u16, floppies: u8) -> u16 {
    (equipment & !0xC0) | 1 | ((floppies.clamp(1, 4) as u16 - 1) << 6)
}

/// Why a file cannot boot, before any memory or BIOS question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    Read(IoError),
    CdImage(EltoritoError),
    /// An El Torito media type dropboot does not know.
    Emulation(Media),
    /// A `.img` that is no disk image dropboot can present.
    DiskImage(DiskImageError),
    /// An emulated image runs past the end of the ISO.
    EmulatedImageOutside {
        what: &'static str,
        rba: u32,
    },
    /// An emulated hard disk's first sector has no 55AA.
    NoBootSignature,
    /// The boot image lies (partly) outside the file.
    ImageOutside {
        rba: u32,
        bytes: u64,
    },
    /// A disk image file that cannot be booted in place (a dynamic VHD, ...).
    Vdisk(VdiskRefusal),
}

impl From<IoError> for PlanError {
    fn from(e: IoError) -> Self {
        PlanError::Read(e)
    }
}

impl From<EltoritoError> for PlanError {
    fn from(e: EltoritoError) -> Self {
        match e {
            EltoritoError::Iso(IsoError::Io(io)) => PlanError::Read(io),
            e => PlanError::CdImage(e),
        }
    }
}

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PlanError::Read(e) => write!(f, "{e}"),
            PlanError::CdImage(e) => write!(f, "{e}"),
            PlanError::Emulation(m) => write!(f, "El Torito {} is not supported", m.describe()),
            PlanError::DiskImage(e) => write!(f, "{e}"),
            PlanError::EmulatedImageOutside { what, rba } => {
                write!(f, "its {what} image at block {rba} runs past the end of the file; is it truncated?")
            }
            PlanError::NoBootSignature => write!(f, "its first sector has no boot signature (55AA)"),
            PlanError::ImageOutside { rba, bytes } => {
                write!(f, "its boot image ({bytes} bytes at block {rba}) lies outside the file; is it truncated?")
            }
            PlanError::Vdisk(r) => write!(f, "{r}"),
        }
    }
}

/// What the loader will do with the file `name` (an `.iso` boots by its El
/// Torito catalog, anything else as a disk image: raw, VHD, VHDX or VDI,
/// by its content), read through `source`.
pub fn plan(name: &str, source: &mut (impl ByteSource + ?Sized)) -> Result<Plan, PlanError> {
    let file_sectors = source.len() / 512;
    let plan = if name.to_ascii_lowercase().ends_with(".iso") {
        let (volume, catalog) = Catalog::read(source)?;
        let mut plan = plan_iso_catalog(source, file_sectors, &catalog)?;
        plan.catalog = Some((volume, catalog));
        plan
    } else {
        let disk = match crate::vdisk::recognize(source) {
            Ok(disk) => disk,
            // No format and no boot signature: the image's own checks
            // below say what it lacks.
            Err(VdiskRefusal::NotADisk) => Vdisk { format: VdiskFormat::Raw, data_start: 0, data_bytes: source.len() },
            Err(VdiskRefusal::Read(e)) => return Err(PlanError::Read(e)),
            Err(r) => return Err(PlanError::Vdisk(r)),
        };
        plan_disk_image(source, disk)?
    };
    let boot = plan.boot_image;
    if boot.offset.checked_add(boot.bytes).is_none_or(|end| end > source.len()) {
        return Err(PlanError::ImageOutside { rba: (boot.offset / BLOCK) as u32, bytes: boot.bytes });
    }
    Ok(plan)
}

/// How the chosen file will answer, and what boots from it.
pub struct Plan {
    pub presentation: Presentation,
    /// The part of the file the drive shows.
    pub image: ImageRange,
    /// What is loaded and entered.
    pub boot_image: BootImage,
    /// The El Torito packet (4B01h), for images from a catalog.
    pub spec_packet: Option<[u8; SPEC_PACKET_BYTES]>,
    /// The ISO's volume and catalog, for an ISO.
    pub catalog: Option<(Volume, Catalog)>,
    /// For a disk image file: its format and where its disk lies in it.
    pub disk_file: Option<Vdisk>,
}

/// The sectors of a file a presented drive shows: from file sector
/// `start`, `sectors` long (an El Torito emulation image starts at its load
/// block; a CD or a `.img` at 0), and whether the drive's writes go through
/// to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageRange {
    pub start: u64,
    pub sectors: u64,
    /// A disk image file takes its system's writes (AH=03h, 43h); a CD,
    /// and an image inside an ISO, answer them write-protected.
    pub writable: bool,
}

/// Bytes of the file loaded as the boot image, and the segment they are
/// loaded at and entered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootImage {
    pub offset: u64,
    pub bytes: u64,
    pub load_segment: u16,
}

/// Conventional memory the hook leaves at least (DOS-era loaders and the
/// boot image need room).
pub const MIN_BASE_MEMORY_KIB: u16 = 256;
/// Conventional memory (BDA 413h) of a PC whose BIOS took 1 KiB for its
/// EBDA: what `dropboot check` judges by.
pub const TYPICAL_BASE_MEMORY_KIB: u16 = 639;
/// The lowest address a boot image may load at: the trampoline that copies
/// it there lies below.
pub const LOWEST_LOAD_ADDR: u32 = TRAMPOLINE_END;

/// Where the resident hook lies below the top of conventional memory: a
/// block of whole KiB (BDA 413h counts KiB) holding, from its start, the
/// code (reckoned at [`HOOK_MAX_BYTES`]) and the extent table, and at its
/// end the stack with the [`HookShared`] words above it. No 4 KiB page
/// holds both code and what a call writes ([`PAGE_BYTES`] says why); that
/// costs the block 0 to 3 KiB more than its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookBlock {
    /// The block's size.
    pub kib: u16,
    /// Offset of the stack's top in the block (`HookHeader::stack_top`).
    pub stack_top: u16,
}

/// The hook's block with `extents` runs under a top of conventional
/// memory at `base_kib`. The stack has at least [`HOOK_STACK_BYTES`]; a
/// `base_kib` too small for the block gives one as large as the memory,
/// which [`Refusal::NoLowMemory`] then refuses.
pub fn hook_block(extents: usize, base_kib: u16) -> HookBlock {
    let top = base_kib as usize * 1024;
    let shared = top.saturating_sub(HOOK_SHARED_SIZE);
    let stack_bottom = shared.saturating_sub(HOOK_STACK_BYTES);
    let code_end = stack_bottom / PAGE_BYTES * PAGE_BYTES;
    let table_bytes = extents * size_of::<HookExtent>();
    let start = code_end.min(stack_bottom.saturating_sub(table_bytes)).saturating_sub(HOOK_MAX_BYTES.next_multiple_of(16)) / 1024 * 1024;
    let bytes = top - start;
    HookBlock { kib: (bytes / 1024) as u16, stack_top: (shared - start).min(0xFFFE) as u16 }
}

/// KiB of conventional memory the resident hook takes with `extents` runs
/// under a top at `base_kib`: its code, its table, its stack.
pub fn hook_kib(extents: usize, base_kib: u16) -> u16 {
    hook_block(extents, base_kib).kib
}

/// Why the loader refuses a plan it could make, before it hooks anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The file is in more pieces than the hook's table holds.
    TooFragmented { path: String, extents: usize },
    /// The file is larger than the hook's 32-bit sector numbers reach.
    TooLarge { bytes: u64 },
    /// Too little conventional memory for the hook.
    NoLowMemory { need_kib: u16, have_kib: u16 },
    /// The boot image does not fit between its load address and the hook.
    ImageTooLarge { dest: u32, bytes: u64, limit: u32 },
    /// The BIOS reads the stick only by CHS, and the file ends (at disk
    /// sector `end`) past what CHS reaches (`reach` sectors).
    BeyondChs { end: u64, reach: u64 },
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::TooFragmented { path, extents } => write!(
                f,
                "it is in {extents} pieces, more than the {HOOK_MAX_EXTENTS} dropboot can map; on a computer, run: dropboot defrag STICK {path}"
            ),
            Refusal::TooLarge { bytes } => write!(f, "it is {bytes} bytes, more than the 2 TiB dropboot can map"),
            Refusal::NoLowMemory { need_kib, have_kib } => {
                write!(f, "not enough conventional memory ({have_kib} KiB, the hook needs {need_kib} KiB more)")
            }
            Refusal::ImageTooLarge { dest, bytes, limit } => {
                write!(f, "its boot image ({bytes} bytes at {dest:#x}) does not fit below {limit:#x}")
            }
            Refusal::BeyondChs { end, reach } => write!(
                f,
                "the BIOS reads the stick only by CHS (it has no INT 13h extensions), which reaches its first {reach_mib} MiB, and the file ends at {} MiB; files within the first {reach_mib} MiB boot on this PC",
                end.div_ceil(2048),
                reach_mib = reach / 2048
            ),
        }
    }
}

/// The PC a verdict is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Conventional memory (BDA 413h), KiB.
    pub base_kib: u16,
    /// Sectors of the stick its BIOS reads, when it reads only by CHS
    /// (no INT 13h extensions); `None` with extensions.
    pub chs_reach: Option<u64>,
}

impl Machine {
    /// The PC `dropboot check` judges for: 639 KiB, INT 13h extensions.
    pub const TYPICAL: Machine = Machine { base_kib: TYPICAL_BASE_MEMORY_KIB, chs_reach: None };
}

/// Sectors CHS reaches on the largest geometry a BIOS gives a disk (1024
/// cylinders of 255 heads and 63 sectors): what `dropboot check` warns by
/// for a BIOS without INT 13h extensions.
pub const LARGEST_CHS_REACH: u64 = 1024 * 255 * 63;

/// Everything the loader decides about one boot file: how it will be
/// presented, whether the machine can boot it (and the sentence that says
/// why not, with its fix), the hook's table, and what its system will find
/// after the kernel starts. stage2 acts on it; `dropboot check` prints it.
pub struct Verdict {
    pub plan: Plan,
    /// Why it cannot boot on that machine; `None` when it boots.
    pub refusal: Option<Refusal>,
    /// The file's runs on the whole disk, as the hook's table (empty when
    /// refused for its pieces or its size).
    pub extents: alloc::vec::Vec<crate::layout::HookExtent>,
    /// The disk sector after the file's last: what a BIOS without INT 13h
    /// extensions must reach by CHS.
    pub disk_end: u64,
    /// For an ISO with a Linux live system: its root folder.
    pub live_system: Option<&'static str>,
    /// The entries the stick's partition table gets for the system it
    /// starts (none when refused).
    pub partitions: StickPartitions,
}

/// The entries the stick's partition table gets for the system a file
/// starts, and why any it needs does not: an ISO's own entry, so that a
/// live system finds its medium (bootfs::iso_partition); an installed
/// system's partitions, so that its kernel mounts its root and its fstab
/// by UUID from inside the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StickPartitions {
    pub placements: alloc::vec::Vec<Placement>,
    pub missing: alloc::vec::Vec<NoEntry>,
    /// An installed system's partitions as Linux will number them on the
    /// stick: (its own number, the stick's), logical ones included.
    pub renumbered: alloc::vec::Vec<(u32, u32)>,
}

impl StickPartitions {
    /// For an installed system, what its kernel will see, in words:
    /// "its partitions 1 and 5 will be sda2 and sda5; ...".
    pub fn installed_system(&self) -> Option<String> {
        if self.renumbered.is_empty() {
            return None;
        }
        let theirs: alloc::vec::Vec<u32> = self.renumbered.iter().map(|r| r.0).collect();
        let names: alloc::vec::Vec<String> = self.renumbered.iter().map(|r| alloc::format!("sda{}", r.1)).collect();
        let plural = if theirs.len() == 1 { "partition" } else { "partitions" };
        Some(alloc::format!(
            "an installed system: its {plural} {} will be {} (on a stick that is sda); root=UUID and LABEL work, root=/dev/sda1 and PARTUUID do not",
            crate::text::list_in_words(&theirs),
            crate::text::list_in_words(&names)
        ))
    }
}

/// The verdict on the file `name` at `path`, read through `source` (its
/// runs on a data partition from disk sector `partition_start`), for
/// `machine`, with the stick's sector 0 as it will be at the boot
/// (`table`; `None` when the configuration turns the entries off).
pub fn judge<D: crate::BlockDevice>(
    name: &str,
    path: &str,
    source: &mut crate::file::MappedFile<D>,
    partition_start: u64,
    machine: &Machine,
    table: Option<&[u8; 512]>,
) -> Result<Verdict, PlanError> {
    let plan = plan(name, source)?;
    let live_system = match &plan.catalog {
        Some((volume, _)) => crate::iso_partition::live_system(&volume.root_names(source).unwrap_or_default()),
        None => None,
    };
    let (pieces, sectors) = (source.map.len(), source.map.sectors());
    let mut refusal = refusal(&plan, path, pieces, sectors, machine.base_kib);
    let extents = match refusal {
        Some(Refusal::TooFragmented { .. } | Refusal::TooLarge { .. }) => alloc::vec::Vec::new(),
        _ => match source.map.hook_table(partition_start) {
            Some(table) => table,
            None => {
                refusal = Some(Refusal::TooLarge { bytes: source.size });
                alloc::vec::Vec::new()
            }
        },
    };
    let disk_end = extents.iter().map(|e| e.disk_lba + e.count as u64).max().unwrap_or(0);
    if let (None, Some(reach)) = (&refusal, machine.chs_reach) {
        if disk_end > reach {
            refusal = Some(Refusal::BeyondChs { end: disk_end, reach });
        }
    }
    let partitions = match refusal {
        None => stick_partitions(&plan, path, source, partition_start, table),
        Some(_) => StickPartitions::default(),
    };
    Ok(Verdict { plan, refusal, extents, disk_end, live_system, partitions })
}

/// The entries `plan` gives the stick's table (see [`StickPartitions`]).
fn stick_partitions<D: crate::BlockDevice>(
    plan: &Plan,
    path: &str,
    source: &mut crate::file::MappedFile<D>,
    partition_start: u64,
    table: Option<&[u8; 512]>,
) -> StickPartitions {
    let mut out = StickPartitions::default();
    let empty = [0u8; 512];
    let sector0 = table.unwrap_or(&empty);
    match (plan.presentation, plan.disk_file) {
        (Presentation::Cd, _) => match crate::iso_partition::place(plan.presentation, &source.map, source.size, partition_start, sector0) {
            Ok(p) => out.placements.push(p),
            Err(why) => out.missing.push(why),
        },
        (Presentation::HardDisk(_), Some(disk)) => {
            let parts = match crate::vdisk::partitions(source, &disk) {
                Ok(table) => installed_system_parts(&table.entries),
                Err(why) => {
                    out.missing.push(NoEntry::UnreadableTable(why));
                    return out;
                }
            };
            let (placements, missing) = crate::iso_partition::place_image(&parts, plan.image.start, &source.map, partition_start, path, sector0);
            for p in &placements {
                let Some(part) = parts.iter().find(|part| Some(part.number) == p.image_partition) else { continue };
                match part.logicals.is_empty() {
                    true => out.renumbered.push((part.number, p.slot as u32 + 1)),
                    // Linux numbers the logical ones from 5 whatever slot their container is in.
                    false => out.renumbered.extend(part.logicals.iter().map(|&n| (n, n))),
                }
            }
            out.renumbered.sort();
            (out.placements, out.missing) = (placements, missing);
        }
        _ => out.missing.push(NoEntry::NotACd),
    }
    if table.is_none() && !out.placements.is_empty() {
        out = StickPartitions { missing: alloc::vec![NoEntry::TurnedOff], ..StickPartitions::default() };
    }
    out
}

/// The parts of an installed system's table the stick shows: each primary
/// partition, its extended partition whole (with the logical ones it
/// holds), each GPT entry but the BIOS boot partition (no filesystem).
fn installed_system_parts(entries: &[crate::vdisk::ImagePartition]) -> alloc::vec::Vec<ImagePart> {
    let logicals: alloc::vec::Vec<u32> = entries.iter().filter(|e| matches!(e.kind, PartitionKind::Logical { .. })).map(|e| e.number).collect();
    entries
        .iter()
        .filter_map(|e| {
            let (kind, logicals) = match e.kind {
                PartitionKind::Primary { .. } => (0x00, alloc::vec::Vec::new()),
                PartitionKind::Extended { type_byte } => (type_byte, logicals.clone()),
                PartitionKind::GptEntry { bios_boot: false, .. } => (0x00, alloc::vec::Vec::new()),
                PartitionKind::Logical { .. } | PartitionKind::GptEntry { bios_boot: true, .. } => return None,
            };
            Some(ImagePart { number: e.number, kind, start: e.start, sectors: e.sectors, logicals })
        })
        .collect()
}

/// The loader's verdict on `plan` for the file at `path` in `extents`
/// runs of `file_sectors` sectors, on a PC with `base_kib` of
/// conventional memory: `None` when it boots.
fn refusal(plan: &Plan, path: &str, extents: usize, file_sectors: u64, base_kib: u16) -> Option<Refusal> {
    if extents > HOOK_MAX_EXTENTS {
        return Some(Refusal::TooFragmented { path: path.into(), extents });
    }
    if file_sectors > u32::MAX as u64 {
        return Some(Refusal::TooLarge { bytes: file_sectors * 512 });
    }
    let need_kib = hook_kib(extents, base_kib);
    if base_kib < MIN_BASE_MEMORY_KIB + need_kib {
        return Some(Refusal::NoLowMemory { need_kib, have_kib: base_kib });
    }
    let (dest, bytes) = ((plan.boot_image.load_segment as u32) << 4, plan.boot_image.bytes);
    let limit = (base_kib - need_kib) as u32 * 1024;
    if dest < LOWEST_LOAD_ADDR || dest as u64 + bytes > limit as u64 {
        return Some(Refusal::ImageTooLarge { dest, bytes, limit });
    }
    None
}

const NO_CHS: Chs = Chs { cylinders: 0, heads: 0, sectors: 0 };

/// El Torito's packet for `entry`, presented as `drive`.
fn spec_packet(entry: &BootEntry, media: u8, drive: u8) -> [u8; SPEC_PACKET_BYTES] {
    let mut packet = [0u8; SPEC_PACKET_BYTES];
    packet[0] = SPEC_PACKET_BYTES as u8;
    packet[1] = media;
    packet[2] = drive;
    packet[4..8].copy_from_slice(&entry.load_rba.to_le_bytes());
    packet[0x0C..0x0E].copy_from_slice(&entry.load_segment.to_le_bytes());
    packet[0x0E..0x10].copy_from_slice(&entry.sector_count.to_le_bytes());
    packet
}

/// An ISO: its El Torito BIOS entry as a CD, a floppy or a hard disk.
fn plan_iso_catalog(source: &mut (impl ByteSource + ?Sized), file_sectors: u64, catalog: &Catalog) -> Result<Plan, PlanError> {
    let entry = match catalog.bios_entry() {
        Ok(e) => *e,
        Err(e) => return Err(PlanError::CdImage(e)),
    };
    let start = entry.load_rba as u64 * 4;
    // A count of 0 loads one block (no emulation) or one sector (emulation).
    let count = entry.sector_count.max(1) as u64;
    match entry.media {
        Media::NoEmulation => Ok(Plan {
            presentation: Presentation::Cd,
            image: ImageRange { start: 0, sectors: file_sectors, writable: false },
            boot_image: BootImage {
                offset: start * 512,
                bytes: (entry.sector_count.max(4) as u64 * 512).next_multiple_of(BLOCK),
                load_segment: entry.load_segment,
            },
            spec_packet: Some(spec_packet(&entry, 0x00, CD_DRIVE)),
            catalog: None,
            disk_file: None,
        }),
        media @ (Media::Floppy1200 | Media::Floppy1440 | Media::Floppy2880) => {
            let format = eltorito_floppy(media).ok_or(PlanError::Emulation(media))?;
            let sectors = format.chs.capacity();
            if start + sectors > file_sectors {
                return Err(PlanError::EmulatedImageOutside { what: format.name, rba: entry.load_rba });
            }
            Ok(Plan {
                presentation: Presentation::Floppy(format),
                image: ImageRange { start, sectors, writable: false },
                boot_image: BootImage { offset: start * 512, bytes: count * 512, load_segment: entry.load_segment },
                spec_packet: Some(spec_packet(&entry, entry_media_byte(media), FLOPPY_DRIVE)),
                catalog: None,
                disk_file: None,
            })
        }
        Media::HardDisk => {
            if start >= file_sectors {
                return Err(PlanError::EmulatedImageOutside { what: "hard disk", rba: entry.load_rba });
            }
            let mut sectors = file_sectors - start;
            let mut mbr = [0u8; 512];
            source.read_at(start * 512, &mut mbr)?;
            if mbr[510..512] != [0x55, 0xAA] {
                return Err(PlanError::NoBootSignature);
            }
            // The catalog gives no size for an emulated hard disk, and the
            // rest of the ISO follows it: its partition table says where it
            // ends, as SeaBIOS takes it; else it runs to the ISO's end.
            let chs = match partition_geometry(&mbr) {
                Some(table) => {
                    sectors = sectors.min(table.capacity());
                    table
                }
                None => hard_disk_geometry(sectors, &mbr),
            };
            Ok(Plan {
                presentation: Presentation::HardDisk(chs),
                image: ImageRange { start, sectors, writable: false },
                boot_image: BootImage { offset: start * 512, bytes: count * 512, load_segment: entry.load_segment },
                spec_packet: Some(spec_packet(&entry, entry_media_byte(Media::HardDisk), HARD_DISK_DRIVE)),
                catalog: None,
                disk_file: None,
            })
        }
        other => Err(PlanError::Emulation(other)),
    }
}

fn entry_media_byte(media: Media) -> u8 {
    match media {
        Media::NoEmulation => 0,
        Media::Floppy1200 => 1,
        Media::Floppy1440 => 2,
        Media::Floppy2880 => 3,
        Media::HardDisk => 4,
        Media::Unknown(b) => b,
    }
}

/// A disk image file whose disk is `disk`: a floppy by its size, else a
/// hard disk by its partition table. It takes its system's writes.
fn plan_disk_image(source: &mut (impl ByteSource + ?Sized), disk: Vdisk) -> Result<Plan, PlanError> {
    let mut sector0 = [0u8; 512];
    if disk.data_bytes >= 512 {
        disk.contents(source).read_at(0, &mut sector0)?;
    }
    // A raw image is judged by the file's own size (a floppy's is exact).
    let bytes = if disk.format == VdiskFormat::Raw { source.len() } else { disk.data_bytes };
    let presentation = match classify(bytes, &sector0).map_err(PlanError::DiskImage)? {
        DiskKind::Floppy(f) => Presentation::Floppy(f),
        DiskKind::HardDisk(chs) => {
            if sector0[510..512] != [0x55, 0xAA] {
                return Err(PlanError::NoBootSignature);
            }
            Presentation::HardDisk(chs)
        }
    };
    Ok(Plan {
        presentation,
        image: ImageRange { start: disk.data_start / 512, sectors: disk.sectors(), writable: true },
        boot_image: BootImage { offset: disk.data_start, bytes: 512, load_segment: 0x07C0 },
        spec_packet: None,
        catalog: None,
        disk_file: Some(disk),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_loading(bytes: u64, segment: u16) -> Plan {
        Plan {
            presentation: Presentation::Cd,
            image: ImageRange { start: 0, sectors: 0, writable: false },
            boot_image: BootImage { offset: 0, bytes, load_segment: segment },
            spec_packet: None,
            catalog: None,
            disk_file: None,
        }
    }

    #[test]
    fn the_hooks_stack_never_shares_a_page_with_its_code() {
        for base_kib in MIN_BASE_MEMORY_KIB..=640 {
            for extents in [0, 1, 7, 100, 250, HOOK_MAX_EXTENTS] {
                let block = hook_block(extents, base_kib);
                let top = base_kib as usize * 1024;
                let start = top - block.kib as usize * 1024;
                let stack_top = start + block.stack_top as usize;
                let code_end = start + HOOK_MAX_BYTES;
                let table_end = code_end.next_multiple_of(16) + extents * 16;
                let written = stack_top - HOOK_STACK_BYTES..stack_top + HOOK_SHARED_SIZE;
                assert_eq!(written.end, top, "the shared words end the block");
                assert!(table_end <= written.start, "{base_kib} KiB, {extents} runs: the table runs into the stack");
                assert!((code_end - 1) / PAGE_BYTES < written.start / PAGE_BYTES, "{base_kib} KiB, {extents} runs: code beside the stack");
                let parts = (table_end - start + HOOK_STACK_BYTES + HOOK_SHARED_SIZE).div_ceil(1024);
                assert!(block.kib as usize <= parts + 4, "{base_kib} KiB, {extents} runs: {} KiB for {parts} KiB of parts", block.kib);
            }
        }
        // A PC whose BIOS took 1 KiB for its EBDA: 6 KiB for one run.
        assert_eq!(hook_block(1, TYPICAL_BASE_MEMORY_KIB), HookBlock { kib: 6, stack_top: 6 * 1024 - HOOK_SHARED_SIZE as u16 });
    }

    #[test]
    fn the_loader_refuses_what_does_not_fit_and_boots_the_rest() {
        let base = TYPICAL_BASE_MEMORY_KIB;
        assert_eq!(refusal(&plan_loading(2048, 0x07C0), "/a.iso", 1, 1000, base), None);
        // A boot image of 65535 sectors at 7C00h runs into the hook.
        let limit = (base - hook_kib(1, base)) as u32 * 1024;
        assert_eq!(
            refusal(&plan_loading(65535 * 512, 0x07C0), "/a.iso", 1, 70_000, base),
            Some(Refusal::ImageTooLarge { dest: 0x7C00, bytes: 65535 * 512, limit })
        );
        assert!(matches!(refusal(&plan_loading(2048, 0x0000), "/a.iso", 1, 1000, base), Some(Refusal::ImageTooLarge { dest: 0, .. })));
        assert_eq!(
            refusal(&plan_loading(2048, 0x07C0), "/a.iso", HOOK_MAX_EXTENTS + 1, 1000, base),
            Some(Refusal::TooFragmented { path: "/a.iso".into(), extents: HOOK_MAX_EXTENTS + 1 })
        );
        assert_eq!(refusal(&plan_loading(2048, 0x07C0), "/a.iso", 1, 1 << 32, base), Some(Refusal::TooLarge { bytes: 1 << 41 }));
        assert!(matches!(refusal(&plan_loading(2048, 0x07C0), "/a.iso", 1, 1000, 260), Some(Refusal::NoLowMemory { .. })));
    }
}
