//! Booting a chosen file: an ISO's El Torito BIOS entry (a CD E0h, or an
//! emulated floppy 00h or hard disk 80h) or a `.img` disk image (a floppy
//! or a hard disk), presented by the resident hook; its boot image loaded
//! and jumped to. Nothing is hooked until every check has passed; every
//! failure comes back as a [`BootError`] for the menu to show.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use bootfs::diskimage::{classify, eltorito_floppy, hard_disk_geometry, Chs, DiskImageError, DiskKind, FloppyFormat};
use bootfs::eltorito::{BootEntry, Catalog, EltoritoError, Media};
use bootfs::fat::FatError;
use bootfs::file::ByteSource;
use bootfs::iso9660::BLOCK;
use bootfs::layout::{HOOK_KIND_CD, HOOK_KIND_FLOPPY, HOOK_KIND_HARD_DISK, HOOK_MAX_EXTENTS, SPEC_PACKET_BYTES};
use bootfs::scan::BootFile;
use bootfs::IoError;

use crate::hook::{self, HookPlan};
use crate::launch::{launch, LOWEST_LOAD_ADDR};
use crate::volume::{Volume, VolumeFile};

/// Emulated floppies and hard disks take the first number of their class.
pub const FLOPPY_DRIVE: u8 = 0x00;
pub const HARD_DISK_DRIVE: u8 = 0x80;
/// The drive number a no-emulation CD answers as (SeaBIOS's, memdisk's
/// and Ventoy's choice; GRUB takes any number from 90h on for a CD and
/// ISOLINUX any from 81h on).
pub const CD_DRIVE: u8 = 0xE0;
/// Conventional memory the hook leaves at least (DOS-era loaders and the
/// boot image need room).
const MIN_BASE_MEMORY_KIB: u16 = 256;

pub enum BootError {
    /// The file's cluster chain does not hold it.
    Chain(FatError),
    Read(IoError),
    CdImage(EltoritoError),
    /// An El Torito media type dropboot does not know.
    Emulation(Media),
    /// A `.img` that is no disk image dropboot can present.
    DiskImage(DiskImageError),
    /// An emulated image runs past the end of the ISO.
    EmulatedImageOutside { what: &'static str, rba: u32 },
    /// An emulated hard disk's first sector has no 55AA.
    NoBootSignature,
    /// The boot image lies (partly) outside the file.
    ImageOutside { rba: u32, bytes: u64 },
    /// The boot image does not fit between its load address and the hook.
    ImageTooLarge { dest: u32, bytes: u32, limit: u32 },
    /// The BIOS cannot read the stick by LBA, which the hook needs.
    NoExtensions,
    /// Too little conventional memory for the hook.
    NoLowMemory { need_kib: u16, have_kib: u16 },
    /// The file is in more pieces than the hook's table holds.
    TooFragmented { path: String, extents: usize },
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::Chain(e) => write!(f, "the file is damaged on the stick: {e}"),
            BootError::Read(e) => write!(f, "{e}"),
            BootError::CdImage(e) => write!(f, "{e}"),
            BootError::Emulation(m) => write!(f, "El Torito {} is not supported", m.describe()),
            BootError::DiskImage(e) => write!(f, "{e}"),
            BootError::EmulatedImageOutside { what, rba } => {
                write!(f, "its {what} image at block {rba} runs past the end of the file; is it truncated?")
            }
            BootError::NoBootSignature => write!(f, "its first sector has no boot signature (55AA)"),
            BootError::ImageOutside { rba, bytes } => {
                write!(f, "its boot image ({bytes} bytes at block {rba}) lies outside the file; is it truncated?")
            }
            BootError::ImageTooLarge { dest, bytes, limit } => write!(
                f,
                "its boot image ({bytes} bytes at {dest:#x}) does not fit below {limit:#x}"
            ),
            BootError::NoExtensions => write!(f, "this BIOS cannot read the stick by LBA (no INT 13h extensions)"),
            BootError::NoLowMemory { need_kib, have_kib } => {
                write!(f, "not enough conventional memory ({have_kib} KiB, the hook needs {need_kib} KiB more)")
            }
            BootError::TooFragmented { path, extents } => write!(
                f,
                "it is in {extents} pieces, more than the {HOOK_MAX_EXTENTS} dropboot can map; on a computer, run: dropboot defrag STICK {path}"
            ),
        }
    }
}

impl From<IoError> for BootError {
    fn from(e: IoError) -> Self {
        BootError::Read(e)
    }
}

impl From<EltoritoError> for BootError {
    fn from(e: EltoritoError) -> Self {
        match e {
            EltoritoError::Iso(bootfs::iso9660::IsoError::Io(io)) => BootError::Read(io),
            e => BootError::CdImage(e),
        }
    }
}

/// How the chosen file will answer, and what boots from it.
struct Plan {
    kind: u8,
    drive: u8,
    /// In words, for the screen and the log.
    what: String,
    /// File sector where the presented image starts, and its sectors.
    image_start: u64,
    image_sectors: u64,
    chs: Chs,
    floppy: Option<&'static FloppyFormat>,
    /// Bytes of the file to load as the boot image, and where.
    boot_offset: u64,
    boot_bytes: u64,
    load_segment: u16,
    /// The El Torito packet (4B01h), for images from a catalog.
    spec_packet: Option<[u8; SPEC_PACKET_BYTES]>,
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
fn plan_iso(source: &mut VolumeFile, file_sectors: u64) -> Result<Plan, BootError> {
    let (iso, catalog) = Catalog::read(source)?;
    crate::log!("  ISO9660 \"{}\", {} blocks, El Torito catalog with {} entries", iso.volume_id, iso.blocks, catalog.entries.len());
    for e in &catalog.entries {
        crate::log!(
            "  entry: platform {:02X}h, {}, {}, segment {:04X}h, {} sectors at block {}",
            e.platform,
            if e.bootable { "bootable" } else { "not bootable" },
            e.media.describe(),
            e.load_segment,
            e.sector_count,
            e.load_rba
        );
    }
    let entry = *catalog.bios_entry()?;
    let start = entry.load_rba as u64 * 4;
    // A count of 0 loads one block (no emulation) or one sector (emulation).
    let count = entry.sector_count.max(1) as u64;
    match entry.media {
        Media::NoEmulation => Ok(Plan {
            kind: HOOK_KIND_CD,
            drive: CD_DRIVE,
            what: format!("CD {CD_DRIVE:02X}h"),
            image_start: 0,
            image_sectors: file_sectors,
            chs: NO_CHS,
            floppy: None,
            boot_offset: start * 512,
            boot_bytes: (entry.sector_count.max(4) as u64 * 512).next_multiple_of(BLOCK),
            load_segment: entry.load_segment,
            spec_packet: Some(spec_packet(&entry, 0x00, CD_DRIVE)),
        }),
        media @ (Media::Floppy1200 | Media::Floppy1440 | Media::Floppy2880) => {
            let format = eltorito_floppy(media).ok_or(BootError::Emulation(media))?;
            let sectors = format.chs.capacity();
            if start + sectors > file_sectors {
                return Err(BootError::EmulatedImageOutside { what: format.name, rba: entry.load_rba });
            }
            Ok(Plan {
                kind: HOOK_KIND_FLOPPY,
                drive: FLOPPY_DRIVE,
                what: format!("{} floppy {FLOPPY_DRIVE:02X}h", format.name),
                image_start: start,
                image_sectors: sectors,
                chs: format.chs,
                floppy: Some(format),
                boot_offset: start * 512,
                boot_bytes: count * 512,
                load_segment: entry.load_segment,
                spec_packet: Some(spec_packet(&entry, entry_media_byte(media), FLOPPY_DRIVE)),
            })
        }
        Media::HardDisk => {
            if start >= file_sectors {
                return Err(BootError::EmulatedImageOutside { what: "hard disk", rba: entry.load_rba });
            }
            let sectors = file_sectors - start;
            let mut mbr = [0u8; 512];
            source.read_at(start * 512, &mut mbr)?;
            if mbr[510..512] != [0x55, 0xAA] {
                return Err(BootError::NoBootSignature);
            }
            let chs = hard_disk_geometry(sectors, &mbr);
            Ok(Plan {
                kind: HOOK_KIND_HARD_DISK,
                drive: HARD_DISK_DRIVE,
                what: format!("hard disk {HARD_DISK_DRIVE:02X}h ({}/{}/{})", chs.cylinders, chs.heads, chs.sectors),
                image_start: start,
                image_sectors: sectors,
                chs,
                floppy: None,
                boot_offset: start * 512,
                boot_bytes: count * 512,
                load_segment: entry.load_segment,
                spec_packet: Some(spec_packet(&entry, entry_media_byte(Media::HardDisk), HARD_DISK_DRIVE)),
            })
        }
        other => Err(BootError::Emulation(other)),
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

/// A `.img`: a floppy by its size, else a hard disk by its partition table.
fn plan_disk_image(source: &mut VolumeFile, file_sectors: u64) -> Result<Plan, BootError> {
    let mut sector0 = [0u8; 512];
    if source.len() >= 512 {
        source.read_at(0, &mut sector0)?;
    }
    let kind = classify(source.len(), &sector0).map_err(BootError::DiskImage)?;
    let (kind, drive, what, chs, floppy) = match kind {
        DiskKind::Floppy(f) => (HOOK_KIND_FLOPPY, FLOPPY_DRIVE, format!("{} floppy {FLOPPY_DRIVE:02X}h", f.name), f.chs, Some(f)),
        DiskKind::HardDisk(chs) => {
            if sector0[510..512] != [0x55, 0xAA] {
                return Err(BootError::NoBootSignature);
            }
            let what = format!("hard disk {HARD_DISK_DRIVE:02X}h ({}/{}/{})", chs.cylinders, chs.heads, chs.sectors);
            (HOOK_KIND_HARD_DISK, HARD_DISK_DRIVE, what, chs, None)
        }
    };
    Ok(Plan {
        kind,
        drive,
        what,
        image_start: 0,
        image_sectors: file_sectors,
        chs,
        floppy,
        boot_offset: 0,
        boot_bytes: 512,
        load_segment: 0x07C0,
        spec_packet: None,
    })
}

/// Counts the emulated drive in the BIOS data area: a floppy in the
/// equipment word (410h), a hard disk in the hard-disk count (475h).
fn count_emulated_drive(kind: u8) -> (u16, u16) {
    const EQUIPMENT: usize = 0x410;
    const HARD_DISKS: usize = 0x475;
    // SAFETY: the BDA is identity-mapped; interrupts are off.
    unsafe {
        match kind {
            HOOK_KIND_FLOPPY => {
                let before = core::ptr::read_volatile(EQUIPMENT as *const u16);
                let floppies = if before & 1 == 0 { 0 } else { ((before >> 6) & 3) + 1 };
                let after = (before & !0xC0) | 1 | (floppies.min(3) << 6);
                core::ptr::write_volatile(EQUIPMENT as *mut u16, after);
                (before, after)
            }
            HOOK_KIND_HARD_DISK => {
                let before = core::ptr::read_volatile(HARD_DISKS as *const u8);
                let after = before.saturating_add(1);
                core::ptr::write_volatile(HARD_DISKS as *mut u8, after);
                (before as u16, after as u16)
            }
            _ => (0, 0),
        }
    }
}

/// Boots `file`; returns only when it cannot.
pub fn boot(volume: &mut Volume, file: &BootFile, say: &mut dyn FnMut(&str)) -> Result<(), BootError> {
    crate::log!("boot {}", file.path);
    let (start, disk, extensions) = (volume.partition_start(), volume.drive(), volume.extensions());
    let mut source = volume.open_file(file).map_err(BootError::Chain)?;
    let file_sectors = source.len() / 512;
    let plan = if file.name().to_ascii_lowercase().ends_with(".iso") {
        plan_iso(&mut source, file_sectors)?
    } else {
        plan_disk_image(&mut source, file_sectors)?
    };
    crate::log!("  presented as {}", plan.what);

    if plan.boot_offset.checked_add(plan.boot_bytes).is_none_or(|end| end > source.len()) {
        return Err(BootError::ImageOutside { rba: (plan.boot_offset / BLOCK) as u32, bytes: plan.boot_bytes });
    }
    let mut image = vec![0u8; plan.boot_bytes as usize];
    source.read_at(plan.boot_offset, &mut image)?;

    // The hook's table: the file's runs, on the whole disk.
    let extents: Vec<(u32, u32, u64)> = source
        .map
        .extents()
        .iter()
        .map(|e| (e.file_sector as u32, e.count as u32, start + e.disk_lba))
        .collect();
    if extents.len() > HOOK_MAX_EXTENTS {
        return Err(BootError::TooFragmented { path: file.path.clone(), extents: extents.len() });
    }
    if source.map.sectors() > u32::MAX as u64 {
        return Err(BootError::ImageOutside { rba: 0, bytes: source.len() });
    }
    if !extensions {
        return Err(BootError::NoExtensions);
    }
    let need_kib = hook::kib_needed(extents.len());
    let have_kib = hook::base_memory_kib();
    if have_kib < MIN_BASE_MEMORY_KIB + need_kib {
        return Err(BootError::NoLowMemory { need_kib, have_kib });
    }
    let dest = (plan.load_segment as u32) << 4;
    let limit = (have_kib - need_kib) as u32 * 1024;
    if dest < LOWEST_LOAD_ADDR || dest + image.len() as u32 > limit {
        return Err(BootError::ImageTooLarge { dest, bytes: image.len() as u32, limit });
    }

    let hook_plan = HookPlan {
        drive: plan.drive,
        disk,
        kind: plan.kind,
        image_start: plan.image_start as u32,
        sectors: plan.image_sectors,
        chs: plan.chs,
        floppy: plan.floppy,
        extents: &extents,
        spec_packet: plan.spec_packet,
    };
    // The entry point as SeaBIOS jumps to it: 0000:7C00 for the default
    // segment, segment:0000 otherwise.
    let (segment, offset16) = if dest < 0x10000 { (0u16, dest as u16) } else { (plan.load_segment, 0u16) };
    say(&format!(
        "Booting {} as {}: {} bytes at {segment:04X}:{offset16:04X}, {} extents",
        file.path,
        plan.what,
        image.len(),
        extents.len()
    ));
    let installed = hook::install(&hook_plan);
    let (before, after) = count_emulated_drive(plan.kind);
    crate::log!(
        "  INT 13h hook at {:04X}:0000 ({} KiB, {} extents); old vector {:04X}:{:04X}; base memory {} -> {} KiB",
        installed.segment,
        installed.kib,
        extents.len(),
        installed.previous >> 16,
        installed.previous & 0xFFFF,
        have_kib,
        have_kib - installed.kib
    );
    match plan.kind {
        HOOK_KIND_FLOPPY => crate::log!("  equipment word {before:04X}h -> {after:04X}h; real floppies move up one"),
        HOOK_KIND_HARD_DISK => crate::log!("  hard disks {before} -> {after}; real hard disks move up one (the stick is now {:02X}h)", disk + 1),
        _ => {}
    }
    crate::log!("  jumping to {segment:04X}:{offset16:04X} with DL={:02X}h", plan.drive);
    let image = alloc::boxed::Box::leak(image.into_boxed_slice());
    launch(image, dest, segment, offset16, plan.drive)
}
