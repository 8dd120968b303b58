//! Disk images as BIOS drives: which drive a `.img` file or an El Torito
//! emulation image answers as (floppy 00h or hard disk 80h) and with what
//! CHS geometry.

use crate::mbr::Mbr;

/// CHS geometry of an emulated drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chs {
    pub cylinders: u16,
    pub heads: u16,
    pub sectors: u16,
}

impl Chs {
    pub fn capacity(&self) -> u64 {
        self.cylinders as u64 * self.heads as u64 * self.sectors as u64
    }
}

/// A standard PC floppy format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloppyFormat {
    pub name: &'static str,
    pub chs: Chs,
    /// INT 13h AH=08h's drive type (BL).
    pub bios_type: u8,
    /// The 11-byte diskette parameter table AH=08h points ES:DI at.
    pub parameter_table: [u8; 11],
}

const fn floppy(name: &'static str, cylinders: u16, sectors: u16, bios_type: u8, gap: u8, step: u8) -> FloppyFormat {
    FloppyFormat {
        name,
        chs: Chs { cylinders, heads: 2, sectors },
        bios_type,
        // specify 1/2, motor off, 512-byte sectors, EOT, gap, DTL, format
        // gap, fill byte, head settle, motor start
        parameter_table: [step, 0x02, 0x25, 0x02, sectors as u8, gap, 0xFF, 0x6C, 0xF6, 0x0F, 0x08],
    }
}

/// The formats a floppy image may have, by size.
pub const FLOPPY_FORMATS: [FloppyFormat; 5] = [
    floppy("360 KB", 40, 9, 0x01, 0x2A, 0xDF),
    floppy("720 KB", 80, 9, 0x03, 0x2A, 0xDF),
    floppy("1.2 MB", 80, 15, 0x02, 0x1B, 0xDF),
    floppy("1.44 MB", 80, 18, 0x04, 0x1B, 0xDF),
    floppy("2.88 MB", 80, 36, 0x06, 0x1B, 0xAF),
];

/// The floppy format of exactly `bytes`, if there is one.
pub fn floppy_format(bytes: u64) -> Option<&'static FloppyFormat> {
    FLOPPY_FORMATS.iter().find(|f| f.chs.capacity() * 512 == bytes)
}

/// The floppy format of an El Torito media type (1, 2, 3).
pub fn eltorito_floppy(media: crate::eltorito::Media) -> Option<&'static FloppyFormat> {
    use crate::eltorito::Media;
    match media {
        Media::Floppy1200 => Some(&FLOPPY_FORMATS[2]),
        Media::Floppy1440 => Some(&FLOPPY_FORMATS[3]),
        Media::Floppy2880 => Some(&FLOPPY_FORMATS[4]),
        _ => None,
    }
}

/// How an image answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskKind {
    Floppy(&'static FloppyFormat),
    HardDisk(Chs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskImageError {
    /// Sector 0 ends in 55AA, has no partition table, and the size is no floppy's.
    NotAFloppySize { bytes: u64 },
    /// Neither a partition table nor a boot signature in sector 0.
    NoBootSector,
    /// Smaller than one sector.
    Empty,
}

impl core::fmt::Display for DiskImageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DiskImageError::NotAFloppySize { bytes } => {
                write!(f, "it looks like a floppy image, but {bytes} bytes is no floppy size (360K, 720K, 1.2M, 1.44M, 2.88M)")
            }
            DiskImageError::NoBootSector => {
                write!(f, "it is not a disk image: no partition table and no boot signature in its first sector")
            }
            DiskImageError::Empty => write!(f, "the file is empty"),
        }
    }
}

/// The largest floppy image (2.88 MB).
const MAX_FLOPPY_BYTES: u64 = 2_949_120;

/// Classifies a `.img` file of `bytes` whose first sector is `sector0`:
/// a floppy size is a floppy; a partition table is a hard disk; a boot
/// sector alone is a floppy if it is floppy-sized, else a hard disk.
pub fn classify(bytes: u64, sector0: &[u8; 512]) -> Result<DiskKind, DiskImageError> {
    if bytes < 512 {
        return Err(DiskImageError::Empty);
    }
    if let Some(f) = floppy_format(bytes) {
        return Ok(DiskKind::Floppy(f));
    }
    if let Ok(mbr) = Mbr::parse(sector0) {
        if mbr.partitions.iter().any(|p| !p.is_empty()) {
            return Ok(DiskKind::HardDisk(hard_disk_geometry(bytes / 512, sector0)));
        }
    }
    if sector0[510] == 0x55 && sector0[511] == 0xAA {
        if bytes <= MAX_FLOPPY_BYTES {
            return Err(DiskImageError::NotAFloppySize { bytes });
        }
        return Ok(DiskKind::HardDisk(hard_disk_geometry(bytes / 512, sector0)));
    }
    Err(DiskImageError::NoBootSector)
}

/// The geometry partition 1's ending CHS gives, as SeaBIOS reads it for
/// El Torito hard-disk emulation (heads and sectors per track from it, the
/// cylinders up to its last), when it agrees with the partition's LBA end.
pub fn partition_geometry(sector0: &[u8; 512]) -> Option<Chs> {
    let mbr = Mbr::parse(sector0).ok()?;
    let e = &sector0[crate::mbr::PARTITION_TABLE_OFFSET..][..16];
    let p = mbr.partitions[0];
    let (h, s, c) = (e[5] as u64, (e[6] & 0x3F) as u64, ((e[6] as u64 & 0xC0) << 2) | e[7] as u64);
    let end = p.start_lba as u64 + p.sectors as u64;
    (!p.is_empty() && s > 0 && (c * (h + 1) + h) * s + s == end).then_some(Chs { cylinders: c as u16 + 1, heads: h as u16 + 1, sectors: s as u16 })
}

/// The geometry of a hard-disk image of `sectors`: heads and sectors per
/// track from [`partition_geometry`], else 255 and 63; cylinders to cover
/// the image, at most 1024.
pub fn hard_disk_geometry(sectors: u64, sector0: &[u8; 512]) -> Chs {
    let (heads, spt) = partition_geometry(sector0).map_or((255, 63), |t| (t.heads, t.sectors));
    let per_cylinder = heads as u64 * spt as u64;
    let cylinders = sectors.div_ceil(per_cylinder).clamp(1, 1024) as u16;
    Chs { cylinders, heads, sectors: spt }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbr::{ptype, PartitionEntry};

    fn with_table(start: u32, sectors: u32) -> [u8; 512] {
        let mut s = [0u8; 512];
        let mut partitions = [PartitionEntry::default(); 4];
        partitions[0] = PartitionEntry { bootable: true, kind: ptype::FAT32_LBA, start_lba: start, sectors };
        Mbr { disk_signature: 1, partitions }.write_into(&mut s);
        s
    }

    #[test]
    fn floppy_sizes_are_floppies_whatever_the_first_sector_holds() {
        let kind = classify(1_474_560, &[0u8; 512]).unwrap();
        assert_eq!(kind, DiskKind::Floppy(&FLOPPY_FORMATS[3]));
        assert_eq!(FLOPPY_FORMATS[3].chs, Chs { cylinders: 80, heads: 2, sectors: 18 });
        assert_eq!(classify(2_949_120, &[0u8; 512]).unwrap(), DiskKind::Floppy(&FLOPPY_FORMATS[4]));
    }

    #[test]
    fn a_partition_table_makes_a_hard_disk_with_its_own_geometry_when_consistent() {
        // 16 heads x 63 sectors, the partition ending on a cylinder boundary.
        let mut s = with_table(63, 16 * 63 * 99 - 63);
        let end = 16 * 63 * 99 - 1;
        let (c, h, sec) = (end / (16 * 63), (end / 63) % 16, end % 63 + 1);
        s[446 + 5] = h as u8;
        s[446 + 6] = sec as u8 | ((c >> 8) << 6) as u8;
        s[446 + 7] = c as u8;
        let kind = classify(16 * 63 * 100 * 512, &s).unwrap();
        assert_eq!(kind, DiskKind::HardDisk(Chs { cylinders: 100, heads: 16, sectors: 63 }));
    }

    #[test]
    fn an_emulated_hard_disk_has_the_cylinders_its_table_ends_in_whatever_follows_it() {
        // 16 x 63, four cylinders: SeaBIOS's El Torito geometry for it.
        let mut s = with_table(2048, 4032 - 2048);
        s[446 + 5..446 + 8].copy_from_slice(&[15, 63, 3]);
        assert_eq!(partition_geometry(&s), Some(Chs { cylinders: 4, heads: 16, sectors: 63 }));
        // As a file it covers what follows it too (an ISO's next blocks).
        assert_eq!(hard_disk_geometry(4032 + 600, &s), Chs { cylinders: 5, heads: 16, sectors: 63 });
        s[446 + 7] = 4;
        assert_eq!(partition_geometry(&s), None, "an end that disagrees with the LBA end");
    }

    #[test]
    fn an_inconsistent_ending_chs_falls_back_to_255_heads_63_sectors() {
        let mut s = with_table(1, 9923);
        s[446 + 5..446 + 8].copy_from_slice(&[0x36, 0x04, 0x04]); // grub-mkrescue's
        assert_eq!(classify(5_081_088, &s).unwrap(), DiskKind::HardDisk(Chs { cylinders: 1, heads: 255, sectors: 63 }));
    }

    #[test]
    fn a_floppy_sized_boot_sector_without_table_and_an_empty_sector_are_errors() {
        let mut s = [0u8; 512];
        s[510] = 0x55;
        s[511] = 0xAA;
        assert_eq!(classify(1_300_000, &s), Err(DiskImageError::NotAFloppySize { bytes: 1_300_000 }));
        assert_eq!(classify(10 << 20, &[0u8; 512]), Err(DiskImageError::NoBootSector));
        assert!(matches!(classify(10 << 20, &s), Ok(DiskKind::HardDisk(_))));
    }
}
