//! El Torito: the boot catalog of a bootable CD image (validation entry,
//! default entry, section headers and entries) and the choice of the entry
//! a BIOS boots.

use alloc::vec::Vec;

use crate::block::IoError;
use crate::file::ByteSource;
use crate::iso9660::{IsoError, Volume, BLOCK};

/// Catalog blocks read at most (a catalog rarely needs more than one).
const MAX_CATALOG_BLOCKS: usize = 4;
const ENTRY: usize = 32;

pub mod platform {
    pub const X86: u8 = 0x00;
    pub const POWERPC: u8 = 0x01;
    pub const MAC: u8 = 0x02;
    pub const EFI: u8 = 0xEF;
}

/// How an entry's boot image is presented to the BIOS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    NoEmulation,
    Floppy1200,
    Floppy1440,
    Floppy2880,
    HardDisk,
    Unknown(u8),
}

impl Media {
    fn from_byte(b: u8) -> Media {
        match b & 0x0F {
            0 => Media::NoEmulation,
            1 => Media::Floppy1200,
            2 => Media::Floppy1440,
            3 => Media::Floppy2880,
            4 => Media::HardDisk,
            other => Media::Unknown(other),
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Media::NoEmulation => "no emulation",
            Media::Floppy1200 => "1.2 MB floppy emulation",
            Media::Floppy1440 => "1.44 MB floppy emulation",
            Media::Floppy2880 => "2.88 MB floppy emulation",
            Media::HardDisk => "hard disk emulation",
            Media::Unknown(_) => "unknown emulation",
        }
    }
}

/// A default or section entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootEntry {
    pub platform: u8,
    pub bootable: bool,
    pub media: Media,
    /// Real-mode segment to load at; 0 in the catalog means 07C0h.
    pub load_segment: u16,
    pub system_type: u8,
    /// 512-byte "virtual sectors" to load.
    pub sector_count: u16,
    /// 2048-byte block where the boot image starts.
    pub load_rba: u32,
}

/// "platform 00h, bootable, no emulation, 4 sectors at block 34": an entry
/// in words, for the loader's log and details screen.
impl core::fmt::Display for BootEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "platform {:02X}h, {}, {}, {} sectors at block {}",
            self.platform,
            if self.bootable { "bootable" } else { "not bootable" },
            self.media.describe(),
            self.sector_count,
            self.load_rba
        )
    }
}

impl BootEntry {
    fn parse(e: &[u8], platform: u8) -> BootEntry {
        let load_segment = u16::from_le_bytes([e[2], e[3]]);
        BootEntry {
            platform,
            bootable: e[0] == 0x88,
            media: Media::from_byte(e[1]),
            load_segment: if load_segment == 0 { 0x07C0 } else { load_segment },
            system_type: e[4],
            sector_count: u16::from_le_bytes([e[6], e[7]]),
            load_rba: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EltoritoError {
    Iso(IsoError),
    /// An ISO9660 image without El Torito's boot record.
    NoBootRecord,
    /// The catalog block lies outside the file.
    CatalogOutside {
        block: u32,
    },
    /// The validation entry is missing or its checksum is wrong.
    BadValidationEntry,
    /// No bootable entry for the x86 BIOS; `platforms` are the ones found.
    NoBiosEntry {
        platforms: Vec<u8>,
    },
}

impl From<IoError> for EltoritoError {
    fn from(e: IoError) -> Self {
        EltoritoError::Iso(IsoError::Io(e))
    }
}

impl From<IsoError> for EltoritoError {
    fn from(e: IsoError) -> Self {
        EltoritoError::Iso(e)
    }
}

impl core::fmt::Display for EltoritoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EltoritoError::Iso(e) => write!(f, "{e}"),
            EltoritoError::NoBootRecord => write!(f, "not a bootable CD image (no El Torito boot record)"),
            EltoritoError::CatalogOutside { block } => {
                write!(f, "El Torito boot catalog at block {block} lies outside the file")
            }
            EltoritoError::BadValidationEntry => write!(f, "El Torito boot catalog is damaged (validation entry)"),
            EltoritoError::NoBiosEntry { platforms } => {
                write!(f, "no BIOS boot entry in this image")?;
                if platforms.contains(&platform::EFI) {
                    write!(f, " (it boots with UEFI only)")?;
                }
                Ok(())
            }
        }
    }
}

/// Every entry of a catalog, default entry first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    pub entries: Vec<BootEntry>,
}

impl Catalog {
    /// Parses catalog bytes (whole 32-byte entries).
    pub fn parse(bytes: &[u8]) -> Result<Catalog, EltoritoError> {
        let v = bytes.get(..ENTRY).ok_or(EltoritoError::BadValidationEntry)?;
        let sum = v.chunks_exact(2).fold(0u16, |s, w| s.wrapping_add(u16::from_le_bytes([w[0], w[1]])));
        if v[0] != 1 || v[30] != 0x55 || v[31] != 0xAA || sum != 0 {
            return Err(EltoritoError::BadValidationEntry);
        }
        let mut entries = Vec::new();
        let Some(default) = bytes.get(ENTRY..2 * ENTRY) else {
            return Ok(Catalog { entries });
        };
        entries.push(BootEntry::parse(default, v[1]));
        let mut at = 2 * ENTRY;
        // Section headers (90h more follow, 91h last), each with its entries;
        // extension entries (44h) follow an entry whose media has bit 5.
        while let Some(h) = bytes.get(at..at + ENTRY) {
            if h[0] != 0x90 && h[0] != 0x91 {
                break;
            }
            let (last, platform, count) = (h[0] == 0x91, h[1], u16::from_le_bytes([h[2], h[3]]) as usize);
            at += ENTRY;
            for _ in 0..count {
                let Some(e) = bytes.get(at..at + ENTRY) else { break };
                entries.push(BootEntry::parse(e, platform));
                at += ENTRY;
                let mut more = e[1] & 0x20 != 0;
                while more {
                    match bytes.get(at..at + ENTRY) {
                        Some(x) if x[0] == 0x44 => {
                            more = x[1] & 0x20 != 0;
                            at += ENTRY;
                        }
                        _ => more = false,
                    }
                }
            }
            if last {
                break;
            }
        }
        Ok(Catalog { entries })
    }

    /// Reads the catalog of an ISO9660 image.
    pub fn read(src: &mut (impl ByteSource + ?Sized)) -> Result<(Volume, Catalog), EltoritoError> {
        let volume = Volume::read(src)?;
        let block = volume.boot_catalog.ok_or(EltoritoError::NoBootRecord)?;
        let start = block as u64 * BLOCK;
        if start + BLOCK > src.len() {
            return Err(EltoritoError::CatalogOutside { block });
        }
        let blocks = ((src.len() - start) / BLOCK).min(MAX_CATALOG_BLOCKS as u64) as usize;
        let mut bytes = alloc::vec![0u8; blocks * BLOCK as usize];
        src.read_at(start, &mut bytes)?;
        Ok((volume, Catalog::parse(&bytes)?))
    }

    /// The entry a PC BIOS boots: the first bootable x86 entry.
    pub fn bios_entry(&self) -> Result<&BootEntry, EltoritoError> {
        self.entries.iter().find(|e| e.bootable && e.platform == platform::X86).ok_or_else(|| {
            let mut platforms: Vec<u8> = self.entries.iter().map(|e| e.platform).collect();
            platforms.dedup();
            EltoritoError::NoBiosEntry { platforms }
        })
    }
}
