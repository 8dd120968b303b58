//! What the loader does with a boot file: which BIOS drive it presents
//! (a CD E0h, a floppy 00h or a hard disk 80h), with what geometry, and
//! which bytes it loads as the boot image, and the limits it refuses a
//! plan by ([`refusal`]). stage2 boots by this plan and these limits; the
//! builder's `check` reports both, so it never promises a boot the menu
//! refuses. Nothing here touches a BIOS.

use alloc::format;
use alloc::string::String;

use crate::block::IoError;
use crate::diskimage::{classify, eltorito_floppy, hard_disk_geometry, partition_geometry, Chs, DiskImageError, DiskKind, FloppyFormat};
use crate::eltorito::{BootEntry, Catalog, EltoritoError, Media};
use crate::file::ByteSource;
use crate::iso9660::{IsoError, Volume, BLOCK};
use crate::layout::{
    HOOK_KIND_CD, HOOK_KIND_FLOPPY, HOOK_KIND_HARD_DISK, HOOK_MAX_BYTES, HOOK_MAX_EXTENTS, HOOK_STACK_BYTES, SPEC_PACKET_BYTES, TRAMPOLINE_END,
};

/// Emulated floppies and hard disks take the first number of their class.
pub const FLOPPY_DRIVE: u8 = 0x00;
pub const HARD_DISK_DRIVE: u8 = 0x80;
/// The drive number a no-emulation CD answers as (SeaBIOS's, memdisk's
/// and Ventoy's choice; GRUB takes any number from 90h on for a CD and
/// ISOLINUX any from 81h on).
pub const CD_DRIVE: u8 = 0xE0;

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
        }
    }
}

/// What the loader will do with the file `name` (an `.iso` boots by its El
/// Torito catalog, anything else as a disk image), read through `source`.
pub fn plan(name: &str, source: &mut (impl ByteSource + ?Sized)) -> Result<Plan, PlanError> {
    let file_sectors = source.len() / 512;
    let plan = if name.to_ascii_lowercase().ends_with(".iso") {
        let (volume, catalog) = Catalog::read(source)?;
        let mut plan = plan_iso_catalog(source, file_sectors, &catalog)?;
        plan.catalog = Some((volume, catalog));
        plan
    } else {
        plan_disk_image(source, file_sectors)?
    };
    if plan.boot_offset.checked_add(plan.boot_bytes).is_none_or(|end| end > source.len()) {
        return Err(PlanError::ImageOutside { rba: (plan.boot_offset / BLOCK) as u32, bytes: plan.boot_bytes });
    }
    Ok(plan)
}

/// How the chosen file will answer, and what boots from it.
pub struct Plan {
    pub kind: u8,
    pub drive: u8,
    /// In words, for the screen and the log.
    pub what: String,
    /// File sector where the presented image starts, and its sectors.
    pub image_start: u64,
    pub image_sectors: u64,
    pub chs: Chs,
    pub floppy: Option<&'static FloppyFormat>,
    /// Bytes of the file to load as the boot image, and where.
    pub boot_offset: u64,
    pub boot_bytes: u64,
    pub load_segment: u16,
    /// The El Torito packet (4B01h), for images from a catalog.
    pub spec_packet: Option<[u8; SPEC_PACKET_BYTES]>,
    /// The ISO's volume and catalog, for an ISO.
    pub catalog: Option<(Volume, Catalog)>,
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

/// KiB of conventional memory the resident hook takes with `extents` runs:
/// its code, its table, its stack.
pub fn hook_kib(extents: usize) -> u16 {
    let bytes = HOOK_MAX_BYTES.next_multiple_of(16) + extents * 16 + HOOK_STACK_BYTES;
    bytes.div_ceil(1024) as u16
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
        }
    }
}

/// The loader's verdict on `plan` for the file at `path` in `extents`
/// runs of `file_sectors` sectors, on a PC with `base_kib` of
/// conventional memory: `None` when it boots.
pub fn refusal(plan: &Plan, path: &str, extents: usize, file_sectors: u64, base_kib: u16) -> Option<Refusal> {
    if extents > HOOK_MAX_EXTENTS {
        return Some(Refusal::TooFragmented { path: path.into(), extents });
    }
    if file_sectors > u32::MAX as u64 {
        return Some(Refusal::TooLarge { bytes: file_sectors * 512 });
    }
    let need_kib = hook_kib(extents);
    if base_kib < MIN_BASE_MEMORY_KIB + need_kib {
        return Some(Refusal::NoLowMemory { need_kib, have_kib: base_kib });
    }
    let dest = (plan.load_segment as u32) << 4;
    let limit = (base_kib - need_kib) as u32 * 1024;
    if dest < LOWEST_LOAD_ADDR || dest as u64 + plan.boot_bytes > limit as u64 {
        return Some(Refusal::ImageTooLarge { dest, bytes: plan.boot_bytes, limit });
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
            catalog: None,
        }),
        media @ (Media::Floppy1200 | Media::Floppy1440 | Media::Floppy2880) => {
            let format = eltorito_floppy(media).ok_or(PlanError::Emulation(media))?;
            let sectors = format.chs.capacity();
            if start + sectors > file_sectors {
                return Err(PlanError::EmulatedImageOutside { what: format.name, rba: entry.load_rba });
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
                catalog: None,
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
                catalog: None,
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

/// A `.img`: a floppy by its size, else a hard disk by its partition table.
fn plan_disk_image(source: &mut (impl ByteSource + ?Sized), file_sectors: u64) -> Result<Plan, PlanError> {
    let mut sector0 = [0u8; 512];
    if source.len() >= 512 {
        source.read_at(0, &mut sector0)?;
    }
    let kind = classify(source.len(), &sector0).map_err(PlanError::DiskImage)?;
    let (kind, drive, what, chs, floppy) = match kind {
        DiskKind::Floppy(f) => (HOOK_KIND_FLOPPY, FLOPPY_DRIVE, format!("{} floppy {FLOPPY_DRIVE:02X}h", f.name), f.chs, Some(f)),
        DiskKind::HardDisk(chs) => {
            if sector0[510..512] != [0x55, 0xAA] {
                return Err(PlanError::NoBootSignature);
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
        catalog: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_loading(bytes: u64, segment: u16) -> Plan {
        Plan {
            kind: HOOK_KIND_CD,
            drive: CD_DRIVE,
            what: String::new(),
            image_start: 0,
            image_sectors: 0,
            chs: NO_CHS,
            floppy: None,
            boot_offset: 0,
            boot_bytes: bytes,
            load_segment: segment,
            spec_packet: None,
            catalog: None,
        }
    }

    #[test]
    fn the_loader_refuses_what_does_not_fit_and_boots_the_rest() {
        let base = TYPICAL_BASE_MEMORY_KIB;
        assert_eq!(refusal(&plan_loading(2048, 0x07C0), "/a.iso", 1, 1000, base), None);
        // A boot image of 65535 sectors at 7C00h runs into the hook.
        let limit = (base - hook_kib(1)) as u32 * 1024;
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
