//! Booting a chosen file: an ISO's El Torito BIOS entry, presented as CD
//! E0h by the resident hook, its boot image loaded and jumped to. Nothing
//! is hooked until every check has passed; every failure comes back as a
//! [`BootError`] for the menu to show.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use bootfs::eltorito::{Catalog, EltoritoError, Media};
use bootfs::fat::FatError;
use bootfs::file::ByteSource;
use bootfs::iso9660::BLOCK;
use bootfs::layout::{HOOK_KIND_CD, SPEC_PACKET_BYTES};
use bootfs::scan::BootFile;
use bootfs::IoError;

use crate::hook::{self, HookPlan};
use crate::launch::{launch, LOWEST_LOAD_ADDR};
use crate::volume::Volume;

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
    /// An El Torito emulation entry (floppy or hard disk): a later version.
    Emulation(Media),
    /// A raw disk image: a later version.
    DiskImage,
    /// The boot image lies (partly) outside the file.
    ImageOutside { rba: u32, bytes: u64 },
    /// The boot image does not fit between its load address and the hook.
    ImageTooLarge { dest: u32, bytes: u32, limit: u32 },
    /// The BIOS cannot read the stick by LBA, which the hook needs.
    NoExtensions,
    /// Too little conventional memory for the hook.
    NoLowMemory { need_kib: u16, have_kib: u16 },
    /// The file has more runs or sectors than the hook's table describes.
    TooFragmented { extents: usize },
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::Chain(e) => write!(f, "the file is damaged on the stick: {e}"),
            BootError::Read(e) => write!(f, "{e}"),
            BootError::CdImage(e) => write!(f, "{e}"),
            BootError::Emulation(m) => write!(f, "El Torito {} is not supported yet", m.describe()),
            BootError::DiskImage => write!(f, "booting .img disk images is not supported yet"),
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
            BootError::TooFragmented { extents } => write!(f, "the file is in {extents} pieces, too many to map"),
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

/// Boots `file`; returns only when it cannot.
pub fn boot(volume: &mut Volume, file: &BootFile, say: &mut dyn FnMut(&str)) -> Result<(), BootError> {
    if !file.name().to_ascii_lowercase().ends_with(".iso") {
        return Err(BootError::DiskImage);
    }
    crate::log!("boot {}", file.path);
    let (start, disk, extensions) = (volume.partition_start(), volume.drive(), volume.extensions());
    let mut source = volume.open_file(file).map_err(BootError::Chain)?;
    let (iso, catalog) = Catalog::read(&mut source)?;
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
    if entry.media != Media::NoEmulation {
        return Err(BootError::Emulation(entry.media));
    }

    // The boot image: the catalog counts 512-byte sectors; whole 2048-byte
    // blocks are read, and a count of 0 loads one block.
    let sectors = if entry.sector_count == 0 { 4 } else { entry.sector_count as u64 };
    let bytes = (sectors * 512).next_multiple_of(BLOCK);
    let offset = entry.load_rba as u64 * BLOCK;
    if offset.checked_add(bytes).is_none_or(|end| end > source.len()) {
        return Err(BootError::ImageOutside { rba: entry.load_rba, bytes });
    }
    let mut image = vec![0u8; bytes as usize];
    source.read_at(offset, &mut image)?;

    // The hook's table: the file's runs, on the whole disk.
    let extents: Vec<(u32, u32, u64)> = source
        .map
        .extents()
        .iter()
        .map(|e| (e.file_sector as u32, e.count as u32, start + e.disk_lba))
        .collect();
    if source.map.sectors() > u32::MAX as u64 || extents.len() > 4000 {
        return Err(BootError::TooFragmented { extents: extents.len() });
    }
    if !extensions {
        return Err(BootError::NoExtensions);
    }
    let need_kib = hook::kib_needed(extents.len());
    let have_kib = hook::base_memory_kib();
    if have_kib < MIN_BASE_MEMORY_KIB + need_kib {
        return Err(BootError::NoLowMemory { need_kib, have_kib });
    }
    let dest = (entry.load_segment as u32) << 4;
    let limit = (have_kib - need_kib) as u32 * 1024;
    if dest < LOWEST_LOAD_ADDR || dest + bytes as u32 > limit {
        return Err(BootError::ImageTooLarge { dest, bytes: bytes as u32, limit });
    }

    let mut packet = [0u8; SPEC_PACKET_BYTES];
    packet[0] = SPEC_PACKET_BYTES as u8;
    packet[1] = 0x00; // no emulation
    packet[2] = CD_DRIVE;
    packet[4..8].copy_from_slice(&entry.load_rba.to_le_bytes());
    packet[0x0C..0x0E].copy_from_slice(&entry.load_segment.to_le_bytes());
    packet[0x0E..0x10].copy_from_slice(&entry.sector_count.to_le_bytes());
    let plan = HookPlan {
        drive: CD_DRIVE,
        disk,
        kind: HOOK_KIND_CD,
        sectors: source.size / 512,
        extents: &extents,
        spec_packet: packet,
    };
    // The entry point as SeaBIOS jumps to it: 0000:7C00 for the default
    // segment, segment:0000 otherwise.
    let (segment, offset16) = if dest < 0x10000 { (0u16, dest as u16) } else { (entry.load_segment, 0u16) };
    let summary: String = format!(
        "Booting {} as CD {CD_DRIVE:02X}h: {} bytes at {segment:04X}:{offset16:04X}, {} extents",
        file.path,
        image.len(),
        extents.len()
    );
    say(&summary);
    let installed = hook::install(&plan);
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
    crate::log!("  jumping to {segment:04X}:{offset16:04X} with DL={CD_DRIVE:02X}h");
    let image = alloc::boxed::Box::leak(image.into_boxed_slice());
    launch(image, dest, segment, offset16, CD_DRIVE)
}
