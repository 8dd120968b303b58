//! The MBR: boot code, disk signature, four primary partition entries, 55AA.

use crate::layout::MBR_CODE_BYTES;

pub const PARTITION_TABLE_OFFSET: usize = 446;
pub const DISK_SIGNATURE_OFFSET: usize = MBR_CODE_BYTES;

/// Partition type bytes dropboot writes or recognises.
pub mod ptype {
    pub const EMPTY: u8 = 0x00;
    /// exFAT / NTFS.
    pub const EXFAT: u8 = 0x07;
    /// The same byte: Windows marks NTFS and exFAT alike.
    pub const NTFS: u8 = 0x07;
    pub const FAT32_CHS: u8 = 0x0B;
    pub const FAT32_LBA: u8 = 0x0C;
    pub const FAT16_LBA: u8 = 0x0E;
    pub const EXTENDED: u8 = 0x05;
    pub const EXTENDED_LBA: u8 = 0x0F;
    pub const LINUX_EXTENDED: u8 = 0x85;
    pub const GPT_PROTECTIVE: u8 = 0xEE;
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartitionEntry {
    pub bootable: bool,
    pub kind: u8,
    pub start_lba: u32,
    pub sectors: u32,
}

impl PartitionEntry {
    pub fn is_empty(&self) -> bool {
        self.kind == ptype::EMPTY || self.sectors == 0
    }

    /// The entry as it reads in a table, whatever its type (type 00h too).
    pub fn from_bytes(e: &[u8; 16]) -> PartitionEntry {
        PartitionEntry { bootable: e[0] == 0x80, kind: e[4], start_lba: u32_at(e, 8), sectors: u32_at(e, 12) }
    }

    /// The 16 bytes of the entry, CHS fields included, whatever its type.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut e = [0u8; 16];
        e[0] = if self.bootable { 0x80 } else { 0 };
        e[1..4].copy_from_slice(&chs(self.start_lba));
        e[4] = self.kind;
        e[5..8].copy_from_slice(&chs(self.start_lba.saturating_add(self.sectors.saturating_sub(1))));
        e[8..12].copy_from_slice(&self.start_lba.to_le_bytes());
        e[12..16].copy_from_slice(&self.sectors.to_le_bytes());
        e
    }
}

/// The byte range of primary entry `index` (0-3) in sector 0.
pub fn entry_range(index: usize) -> core::ops::Range<usize> {
    PARTITION_TABLE_OFFSET + 16 * index..PARTITION_TABLE_OFFSET + 16 * (index + 1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mbr {
    pub disk_signature: u32,
    pub partitions: [PartitionEntry; 4],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MbrError {
    /// Bytes 510-511 are not 55 AA.
    NoSignature,
    /// Entry `index`'s boot flag is neither 00 nor 80.
    BadBootFlag { index: usize, flag: u8 },
    /// Entry `index` overlaps another entry in part or starts at sector 0.
    BadRange { index: usize },
}

impl core::fmt::Display for MbrError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MbrError::NoSignature => write!(f, "no partition table (sector 0 does not end in 55 AA)"),
            MbrError::BadBootFlag { index, flag } => {
                write!(f, "partition {} has boot flag 0x{flag:02X} (not 00 or 80)", index + 1)
            }
            MbrError::BadRange { index } => {
                write!(f, "partition {} starts at sector 0 or overlaps another", index + 1)
            }
        }
    }
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

impl Mbr {
    pub fn parse(sector: &[u8; 512]) -> Result<Mbr, MbrError> {
        if sector[510] != 0x55 || sector[511] != 0xAA {
            return Err(MbrError::NoSignature);
        }
        let mut partitions = [PartitionEntry::default(); 4];
        for (index, p) in partitions.iter_mut().enumerate() {
            let e: &[u8; 16] = sector[entry_range(index)].try_into().map_err(|_| MbrError::NoSignature)?;
            if e[0] != 0 && e[0] != 0x80 {
                return Err(MbrError::BadBootFlag { index, flag: e[0] });
            }
            *p = PartitionEntry::from_bytes(e);
        }
        // Type-00h entries are not checked (is_empty), and an extended
        // entry may lie wholly inside another: both are what stage2 writes
        // for a file on the data partition shown as a partition (an ISO,
        // an installed system's partitions and its extended one, whose
        // logical partitions Linux finds by its EBRs). Any other overlap
        // is a broken table.
        let range = |p: &PartitionEntry| (p.start_lba as u64, p.start_lba as u64 + p.sectors as u64);
        let is_extended = |p: &PartitionEntry| [ptype::EXTENDED, ptype::EXTENDED_LBA, ptype::LINUX_EXTENDED].contains(&p.kind);
        for (i, a) in partitions.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
            let (a_start, a_end) = range(a);
            let overlaps = partitions.iter().enumerate().filter(|(j, b)| *j != i && !b.is_empty()).any(|(_, b)| {
                let (b_start, b_end) = range(b);
                let nested_extended =
                    (is_extended(a) && a_start >= b_start && a_end <= b_end) || (is_extended(b) && b_start >= a_start && b_end <= a_end);
                a_start < b_end && b_start < a_end && !nested_extended
            });
            if a.start_lba == 0 || overlaps {
                return Err(MbrError::BadRange { index: i });
            }
        }
        Ok(Mbr { disk_signature: u32_at(sector, DISK_SIGNATURE_OFFSET), partitions })
    }

    /// Writes the disk signature and the partition table into `sector`,
    /// plus 55AA; bytes 0..440 (boot code) and 444..446 stay as they are.
    pub fn write_into(&self, sector: &mut [u8; 512]) {
        sector[DISK_SIGNATURE_OFFSET..DISK_SIGNATURE_OFFSET + 4].copy_from_slice(&self.disk_signature.to_le_bytes());
        for (i, p) in self.partitions.iter().enumerate() {
            let bytes = if p.is_empty() { [0u8; 16] } else { p.to_bytes() };
            sector[entry_range(i)].copy_from_slice(&bytes);
        }
        sector[510] = 0x55;
        sector[511] = 0xAA;
    }

    /// The data partition: the first non-empty primary entry that is not an
    /// extended or GPT-protective one.
    pub fn data_partition(&self) -> Option<(usize, PartitionEntry)> {
        self.partitions
            .iter()
            .copied()
            .enumerate()
            .find(|(_, p)| !p.is_empty() && ![ptype::EXTENDED, ptype::EXTENDED_LBA, ptype::GPT_PROTECTIVE].contains(&p.kind))
    }
}

/// CHS bytes (head, sector|cyl-high, cyl-low) of `lba` in the 255-head,
/// 63-sector geometry every BIOS uses for USB disks; 1023/254/63 past it.
pub fn chs(lba: u32) -> [u8; 3] {
    const H: u32 = 255;
    const S: u32 = 63;
    let c = lba / (H * S);
    if c > 1023 {
        return [254, 0xFF, 0xFF];
    }
    let h = (lba / S) % H;
    let s = lba % S + 1;
    [h as u8, (s as u8) | (((c >> 8) as u8) << 6), c as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Mbr {
        let mut partitions = [PartitionEntry::default(); 4];
        partitions[0] = PartitionEntry { bootable: true, kind: ptype::FAT32_LBA, start_lba: 2048, sectors: 260_096 };
        Mbr { disk_signature: 0xDB00_1234, partitions }
    }

    #[test]
    fn a_written_table_reads_back_the_same_here_and_in_mbrman() {
        let mut sector = [0u8; 512];
        sector[..4].copy_from_slice(b"CODE");
        sample().write_into(&mut sector);
        assert_eq!(&sector[..4], b"CODE");
        assert_eq!(Mbr::parse(&sector), Ok(sample()));

        let mut disk = std::io::Cursor::new({
            let mut d = alloc::vec![0u8; 262_144 * 512 / 64];
            d[..512].copy_from_slice(&sector);
            d
        });
        let theirs = mbrman::MBR::read_from(&mut disk, 512).unwrap();
        assert_eq!(theirs.header.disk_signature, 0xDB00_1234u32.to_le_bytes());
        let p = &theirs[1];
        assert_eq!((p.boot, p.sys, p.starting_lba, p.sectors), (mbrman::BOOT_ACTIVE, 0x0C, 2048, 260_096));
        assert_eq!((p.first_chs.head, p.first_chs.sector, p.first_chs.cylinder), (32, 33, 0));
        let c = 2048 + 260_096 - 1;
        let (cyl, head, sec) = (c / (255 * 63), (c / 63) % 255, c % 63 + 1);
        assert_eq!((p.last_chs.cylinder as u32, p.last_chs.head as u32, p.last_chs.sector as u32), (cyl, head, sec));
    }

    #[test]
    fn one_corrupted_byte_gives_its_own_error() {
        let mut sector = [0u8; 512];
        sample().write_into(&mut sector);
        let mut s = sector;
        s[511] = 0;
        assert_eq!(Mbr::parse(&s), Err(MbrError::NoSignature));
        let mut s = sector;
        s[446] = 0x12;
        assert_eq!(Mbr::parse(&s), Err(MbrError::BadBootFlag { index: 0, flag: 0x12 }));
        let mut s = sector;
        s[446 + 16 + 4] = 0x83;
        s[446 + 16 + 8..446 + 16 + 12].copy_from_slice(&4096u32.to_le_bytes());
        s[446 + 16 + 12..446 + 16 + 16].copy_from_slice(&10u32.to_le_bytes());
        assert!(matches!(Mbr::parse(&s), Err(MbrError::BadRange { .. })));
        // An extended entry inside the data partition (an installed
        // system's, written at boot) is no broken table; one across its
        // edge is.
        s[446 + 16 + 4] = ptype::EXTENDED;
        assert_eq!(Mbr::parse(&s).map(|m| m.data_partition().map(|(i, _)| i)), Ok(Some(0)));
        s[446 + 16 + 8..446 + 16 + 12].copy_from_slice(&262_100u32.to_le_bytes());
        s[446 + 16 + 12..446 + 16 + 16].copy_from_slice(&100u32.to_le_bytes());
        assert!(matches!(Mbr::parse(&s), Err(MbrError::BadRange { .. })));
    }
}
