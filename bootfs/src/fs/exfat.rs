//! exFAT: the boot region (with its checksum), the FAT and NoFatChain
//! allocation, directory entry sets (with their checksums) and long names,
//! 64-bit sizes. The allocation bitmap is not needed for reading.
//!
//! The on-disk structures ([`BootSector`], the root's [`LabelEntry`],
//! [`BitmapEntry`] and [`UpcaseEntry`], a file's [`EntrySet`] of
//! [`FileEntry`], [`StreamEntry`] and [`NameEntry`]s) are parsed and
//! written here, for this reader and the builder's writer alike; where
//! each field lies is written once, in [`offsets`].

use alloc::string::String;
use alloc::vec::Vec;

use crate::block::{BlockDevice, SECTOR_SIZE};
use crate::extent::ExtentMap;
use crate::fat::{Chains, FatError};
use crate::tree::{DirEntry, FileTree, NodeId};

// exFAT's on-disk numbers, for this reader and the builder's writer alike.

/// Sectors of the main boot region: 11 checksummed, then the checksum sector.
pub const BOOT_REGION_SECTORS: usize = 12;
/// The boot sector's file system name.
pub const FILE_SYSTEM_NAME: &[u8; 8] = b"EXFAT   ";
/// Bytes of one directory entry.
pub const ENTRY_SIZE: usize = 32;
pub const ENTRY_END: u8 = 0x00;
pub const ENTRY_BITMAP: u8 = 0x81;
pub const ENTRY_UPCASE: u8 = 0x82;
pub const ENTRY_LABEL: u8 = 0x83;
pub const ENTRY_FILE: u8 = 0x85;
pub const ENTRY_STREAM: u8 = 0xC0;
pub const ENTRY_NAME: u8 = 0xC1;
/// The type byte's in-use bit: clear in a deleted entry and in the end mark.
pub const ENTRY_IN_USE: u8 = 0x80;
pub const ATTR_DIRECTORY: u16 = 0x10;
pub const ATTR_ARCHIVE: u16 = 0x20;
/// Stream extension flags.
pub const FLAG_ALLOCATION_POSSIBLE: u8 = 0x01;
pub const FLAG_NO_FAT_CHAIN: u8 = 0x02;
/// VolumeFlags' bit that names the active FAT (and bitmap).
pub const VOLUME_FLAG_ACTIVE_FAT: u16 = 0x0001;
/// The FAT's end-of-chain mark.
pub const END_OF_CHAIN: u32 = 0xFFFF_FFFF;
/// UTF-16 units of a name: at most 255, 15 to a name entry.
pub const NAME_MAX_UNITS: usize = 255;
pub const NAME_ENTRY_UNITS: usize = 15;
/// UTF-16 units of a volume label.
pub const LABEL_MAX_UNITS: usize = 11;

/// Where each field lies, in bytes from the start of its structure: the
/// one place these numbers are written.
pub mod offsets {
    /// The boot sector (sector 0 of the boot region).
    pub mod boot {
        pub const JUMP: usize = 0;
        pub const FILE_SYSTEM_NAME: usize = 3;
        /// FAT12/16/32's BPB, which must be zero here.
        pub const MUST_BE_ZERO: core::ops::Range<usize> = 11..64;
        pub const PARTITION_OFFSET: usize = 64;
        pub const VOLUME_LENGTH: usize = 72;
        pub const FAT_OFFSET: usize = 80;
        pub const FAT_LENGTH: usize = 84;
        pub const CLUSTER_HEAP_OFFSET: usize = 88;
        pub const CLUSTER_COUNT: usize = 92;
        pub const ROOT_CLUSTER: usize = 96;
        pub const SERIAL: usize = 100;
        pub const REVISION: usize = 104;
        /// Two bytes, left out of the boot region's checksum.
        pub const VOLUME_FLAGS: usize = 106;
        pub const BYTES_PER_SECTOR_SHIFT: usize = 108;
        pub const SECTORS_PER_CLUSTER_SHIFT: usize = 109;
        pub const FAT_COUNT: usize = 110;
        pub const DRIVE_SELECT: usize = 111;
        /// Left out of the boot region's checksum.
        pub const PERCENT_IN_USE: usize = 112;
        pub const BOOT_CODE: core::ops::Range<usize> = 120..510;
        /// 55h AAh, here in the boot sector and at the end of each of the
        /// eight extended boot sectors.
        pub const SIGNATURE: usize = 510;
    }

    /// Every directory entry.
    pub mod entry {
        pub const TYPE: usize = 0;
        /// A secondary entry's GeneralSecondaryFlags; the bitmap's flags.
        pub const FLAGS: usize = 1;
        /// Where an entry that owns clusters keeps them (the bitmap, the
        /// up-case table, a stream extension).
        pub const FIRST_CLUSTER: usize = 20;
        pub const DATA_LENGTH: usize = 24;
    }

    /// The volume label entry (83h).
    pub mod label {
        pub const CHARACTER_COUNT: usize = 1;
        pub const LABEL: usize = 2;
    }

    /// The up-case table entry (82h).
    pub mod upcase {
        pub const TABLE_CHECKSUM: usize = 4;
    }

    /// The file directory entry (85h), which opens an entry set.
    pub mod file {
        pub const SECONDARY_COUNT: usize = 1;
        /// Two bytes, left out of the set's checksum.
        pub const SET_CHECKSUM: usize = 2;
        pub const ATTRIBUTES: usize = 4;
        pub const CREATED: usize = 8;
        pub const MODIFIED: usize = 12;
        pub const ACCESSED: usize = 16;
        pub const CREATED_10MS: usize = 20;
        pub const MODIFIED_10MS: usize = 21;
        pub const CREATED_UTC_OFFSET: usize = 22;
        pub const MODIFIED_UTC_OFFSET: usize = 23;
        pub const ACCESSED_UTC_OFFSET: usize = 24;
    }

    /// The stream extension entry (C0h), the set's second.
    pub mod stream {
        pub const NAME_LENGTH: usize = 3;
        pub const NAME_HASH: usize = 4;
        pub const VALID_DATA_LENGTH: usize = 8;
    }

    /// The file name entry (C1h).
    pub mod name {
        pub const FILE_NAME: usize = 2;
    }
}

use offsets::{boot, entry};

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | u64::from(le32(b, at + 4)) << 32
}

fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

/// exFAT's 32-bit checksum (the boot region's and the up-case table's).
pub fn checksum32(bytes: impl Iterator<Item = u8>) -> u32 {
    bytes.fold(0u32, |s, b| s.rotate_right(1).wrapping_add(b as u32))
}

/// exFAT's 16-bit checksum (an entry set's and a name's hash).
fn checksum16(bytes: impl Iterator<Item = u8>) -> u16 {
    bytes.fold(0u16, |s, b| s.rotate_right(1).wrapping_add(b as u16))
}

/// The boot region's checksum: sectors 0-10 of `sector` bytes, without
/// VolumeFlags and PercentInUse, which change.
pub fn boot_region_checksum(region: &[u8], sector: usize) -> u32 {
    let checked = &region[..(11 * sector).min(region.len())];
    let changing = [boot::VOLUME_FLAGS, boot::VOLUME_FLAGS + 1, boot::PERCENT_IN_USE];
    checksum32(checked.iter().enumerate().filter(|(i, _)| !changing.contains(i)).map(|(_, &b)| b))
}

/// An entry set's checksum: every byte but the first entry's SetChecksum.
pub fn entry_set_checksum<'a>(set: impl Iterator<Item = &'a u8>) -> u16 {
    let kept = offsets::file::SET_CHECKSUM..offsets::file::SET_CHECKSUM + 2;
    checksum16(set.enumerate().filter(|(i, _)| !kept.contains(i)).map(|(_, &b)| b))
}

/// A name's hash, kept in its stream extension: the checksum of its
/// up-cased UTF-16 units.
pub fn name_hash(upcased: &[u16]) -> u16 {
    checksum16(upcased.iter().flat_map(|u| u.to_le_bytes()))
}

/// The exFAT boot sector's fields (sector 0 of the boot region). Sizes
/// and offsets are in the volume's own sectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootSector {
    pub partition_offset: u64,
    pub volume_length: u64,
    pub fat_offset: u32,
    pub fat_length: u32,
    pub cluster_heap_offset: u32,
    pub cluster_count: u32,
    pub root_cluster: u32,
    pub serial: u32,
    /// FileSystemRevision: 0100h for 1.00.
    pub revision: u16,
    /// Bit 0 ([`VOLUME_FLAG_ACTIVE_FAT`]) names the active FAT.
    pub volume_flags: u16,
    pub bytes_per_sector_shift: u8,
    pub sectors_per_cluster_shift: u8,
    pub fat_count: u8,
    pub drive_select: u8,
    /// FFh when unknown.
    pub percent_in_use: u8,
}

impl BootSector {
    /// Reads a boot sector, checking what makes it exFAT's: its name and
    /// signature, the zeroed BPB, sector and cluster shifts in range, one
    /// or two FATs. How its regions fit the volume is [`Geometry`]'s check.
    pub fn parse(bs: &[u8; 512]) -> Result<BootSector, FatError> {
        let bad = |what, value: u64| Err(FatError::NotExfat { what, value });
        if bs[boot::FILE_SYSTEM_NAME..boot::FILE_SYSTEM_NAME + 8] != *FILE_SYSTEM_NAME {
            return bad("file system name", 0);
        }
        if bs[boot::SIGNATURE..] != [0x55, 0xAA] {
            return bad("boot signature", u64::from(le16(bs, boot::SIGNATURE)));
        }
        if bs[boot::MUST_BE_ZERO].iter().any(|&b| b != 0) {
            return bad("BPB area (must be zero)", 0);
        }
        let s = BootSector {
            partition_offset: le64(bs, boot::PARTITION_OFFSET),
            volume_length: le64(bs, boot::VOLUME_LENGTH),
            fat_offset: le32(bs, boot::FAT_OFFSET),
            fat_length: le32(bs, boot::FAT_LENGTH),
            cluster_heap_offset: le32(bs, boot::CLUSTER_HEAP_OFFSET),
            cluster_count: le32(bs, boot::CLUSTER_COUNT),
            root_cluster: le32(bs, boot::ROOT_CLUSTER),
            serial: le32(bs, boot::SERIAL),
            revision: le16(bs, boot::REVISION),
            volume_flags: le16(bs, boot::VOLUME_FLAGS),
            bytes_per_sector_shift: bs[boot::BYTES_PER_SECTOR_SHIFT],
            sectors_per_cluster_shift: bs[boot::SECTORS_PER_CLUSTER_SHIFT],
            fat_count: bs[boot::FAT_COUNT],
            drive_select: bs[boot::DRIVE_SELECT],
            percent_in_use: bs[boot::PERCENT_IN_USE],
        };
        let (sector_shift, cluster_shift) = (s.bytes_per_sector_shift as u64, s.sectors_per_cluster_shift as u64);
        if !(9..=12).contains(&sector_shift) {
            return bad("bytes per sector shift", sector_shift);
        }
        if sector_shift + cluster_shift > 25 {
            return bad("sectors per cluster shift", cluster_shift);
        }
        if s.fat_count != 1 && s.fat_count != 2 {
            return bad("number of FATs", s.fat_count as u64);
        }
        Ok(s)
    }

    /// The boot sector, with boot code that halts.
    pub fn to_bytes(&self) -> [u8; 512] {
        let mut bs = [0u8; 512];
        put(&mut bs, boot::JUMP, &[0xEB, 0x76, 0x90]);
        put(&mut bs, boot::FILE_SYSTEM_NAME, FILE_SYSTEM_NAME);
        put(&mut bs, boot::PARTITION_OFFSET, &self.partition_offset.to_le_bytes());
        put(&mut bs, boot::VOLUME_LENGTH, &self.volume_length.to_le_bytes());
        put(&mut bs, boot::FAT_OFFSET, &self.fat_offset.to_le_bytes());
        put(&mut bs, boot::FAT_LENGTH, &self.fat_length.to_le_bytes());
        put(&mut bs, boot::CLUSTER_HEAP_OFFSET, &self.cluster_heap_offset.to_le_bytes());
        put(&mut bs, boot::CLUSTER_COUNT, &self.cluster_count.to_le_bytes());
        put(&mut bs, boot::ROOT_CLUSTER, &self.root_cluster.to_le_bytes());
        put(&mut bs, boot::SERIAL, &self.serial.to_le_bytes());
        put(&mut bs, boot::REVISION, &self.revision.to_le_bytes());
        put(&mut bs, boot::VOLUME_FLAGS, &self.volume_flags.to_le_bytes());
        bs[boot::BYTES_PER_SECTOR_SHIFT] = self.bytes_per_sector_shift;
        bs[boot::SECTORS_PER_CLUSTER_SHIFT] = self.sectors_per_cluster_shift;
        bs[boot::FAT_COUNT] = self.fat_count;
        bs[boot::DRIVE_SELECT] = self.drive_select;
        bs[boot::PERCENT_IN_USE] = self.percent_in_use;
        bs[boot::BOOT_CODE].fill(0xF4); // hlt
        put(&mut bs, boot::SIGNATURE, &[0x55, 0xAA]);
        bs
    }

    /// The whole main boot region: this boot sector, eight extended boot
    /// sectors (empty but for their signature), the OEM parameters and
    /// reserved sectors (zeros), and the checksum sector.
    pub fn boot_region(&self) -> Vec<u8> {
        let sector = 1usize << self.bytes_per_sector_shift.clamp(9, 12);
        let mut region = alloc::vec![0u8; BOOT_REGION_SECTORS * sector];
        put(&mut region, 0, &self.to_bytes());
        for s in 1..9 {
            put(&mut region, (s + 1) * sector - 2, &[0x55, 0xAA]);
        }
        let sum = boot_region_checksum(&region, sector);
        for w in region[11 * sector..].chunks_exact_mut(4) {
            w.copy_from_slice(&sum.to_le_bytes());
        }
        region
    }
}

/// The up-case table, expanded: every UTF-16 unit to the one it
/// upper-cases to, for comparing names and for their hash.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpcaseTable {
    /// 65536 units (none when the volume has no table).
    map: Vec<u16>,
}

impl UpcaseTable {
    /// The table of Unicode's simple upper-case mappings within UTF-16's
    /// first plane (what the builder writes).
    pub fn unicode() -> UpcaseTable {
        let upper = |u: u32| {
            let Some(c) = char::from_u32(u) else { return u as u16 };
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(x), None) if (x as u32) <= 0xFFFF => x as u32 as u16,
                _ => u as u16,
            }
        };
        UpcaseTable { map: (0..=0xFFFFu32).map(upper).collect() }
    }

    /// The table as a volume stores it, expanded to 65536 units (the rest
    /// of a short table maps each unit to itself).
    pub fn parse(stored: &[u8]) -> UpcaseTable {
        let units: Vec<u16> = stored.chunks_exact(2).map(|w| le16(w, 0)).collect();
        let mut map: Vec<u16> = Vec::with_capacity(0x10000);
        let mut i = 0;
        while i < units.len() && map.len() < 0x10000 {
            if units[i] == 0xFFFF && i + 1 < units.len() {
                let start = map.len();
                map.extend((start..start + units[i + 1] as usize).map(|u| u as u16));
                i += 2;
            } else {
                map.push(units[i]);
                i += 1;
            }
        }
        let len = map.len();
        map.extend((len..0x10000).map(|u| u as u16));
        map.truncate(0x10000);
        UpcaseTable { map }
    }

    /// The table in exFAT's compressed form: runs of units that map to
    /// themselves are written as FFFFh and the run's length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u16> = Vec::new();
        let mut i = 0usize;
        while i < self.map.len() {
            let run = self.map[i..].iter().enumerate().take_while(|&(k, &m)| m as usize == i + k).count();
            if run > 2 {
                out.push(0xFFFF);
                out.push(run as u16);
                i += run;
            } else {
                out.push(self.map[i]);
                i += 1;
            }
        }
        out.iter().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// `unit` upper-cased (itself where the table says nothing).
    pub fn upcase(&self, unit: u16) -> u16 {
        self.map.get(unit as usize).copied().unwrap_or(unit)
    }
}

/// Why a directory entry, or an entry set, could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// The entry's type is not the one asked for.
    WrongType { want: u8, found: u8 },
    /// A file entry set needs a stream extension and a name entry at least.
    TooFewSecondaries { count: u8 },
    /// The set has more entries than are left in the directory.
    Truncated { entries: usize, left: usize },
    /// The set's checksum is not the one its file entry keeps.
    Checksum { stored: u16, computed: u16 },
    /// A name must be 1 to 255 UTF-16 units.
    NameLength { units: usize },
}

impl core::fmt::Display for EntryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EntryError::WrongType { want, found } => write!(f, "entry type {found:#04x} where {want:#04x} belongs"),
            EntryError::TooFewSecondaries { count } => write!(f, "a file entry with {count} secondary entries (2 at least)"),
            EntryError::Truncated { entries, left } => write!(f, "an entry set of {entries} entries with {left} left in the directory"),
            EntryError::Checksum { stored, computed } => write!(f, "entry set checksum {stored:#06x}, but its entries sum to {computed:#06x}"),
            EntryError::NameLength { units } => write!(f, "a name of {units} UTF-16 units (exFAT names are 1 to 255)"),
        }
    }
}

/// The entry's type byte, checked.
fn expect_type(e: &[u8; ENTRY_SIZE], want: u8) -> Result<(), EntryError> {
    match e[entry::TYPE] {
        found if found == want => Ok(()),
        found => Err(EntryError::WrongType { want, found }),
    }
}

/// A fresh entry of type `kind`, with every other byte zero.
fn blank(kind: u8) -> [u8; ENTRY_SIZE] {
    let mut e = [0u8; ENTRY_SIZE];
    e[entry::TYPE] = kind;
    e
}

/// The volume label entry (83h), in the root directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelEntry {
    units: Vec<u16>,
}

impl LabelEntry {
    /// A label of `label`'s first 11 UTF-16 units.
    pub fn new(label: &str) -> LabelEntry {
        LabelEntry { units: label.encode_utf16().take(LABEL_MAX_UNITS).collect() }
    }

    pub fn parse(e: &[u8; ENTRY_SIZE]) -> Result<LabelEntry, EntryError> {
        expect_type(e, ENTRY_LABEL)?;
        let n = (e[offsets::label::CHARACTER_COUNT] as usize).min(LABEL_MAX_UNITS);
        Ok(LabelEntry { units: (0..n).map(|k| le16(e, offsets::label::LABEL + 2 * k)).collect() })
    }

    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut e = blank(ENTRY_LABEL);
        e[offsets::label::CHARACTER_COUNT] = self.units.len() as u8;
        for (k, u) in self.units.iter().enumerate() {
            put(&mut e, offsets::label::LABEL + 2 * k, &u.to_le_bytes());
        }
        e
    }

    /// The label as text ('?' for a unit that is no character).
    pub fn label(&self) -> String {
        char::decode_utf16(self.units.iter().copied()).map(|c| c.unwrap_or('?')).collect()
    }
}

/// The allocation bitmap entry (81h), in the root directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitmapEntry {
    /// Bit 0: which FAT this bitmap goes with (0 the first).
    pub flags: u8,
    pub first_cluster: u32,
    pub data_length: u64,
}

impl BitmapEntry {
    pub fn parse(e: &[u8; ENTRY_SIZE]) -> Result<BitmapEntry, EntryError> {
        expect_type(e, ENTRY_BITMAP)?;
        Ok(BitmapEntry { flags: e[entry::FLAGS], first_cluster: le32(e, entry::FIRST_CLUSTER), data_length: le64(e, entry::DATA_LENGTH) })
    }

    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut e = blank(ENTRY_BITMAP);
        e[entry::FLAGS] = self.flags;
        put(&mut e, entry::FIRST_CLUSTER, &self.first_cluster.to_le_bytes());
        put(&mut e, entry::DATA_LENGTH, &self.data_length.to_le_bytes());
        e
    }

    /// The bitmap goes with the second FAT (TexFAT); a volume with one FAT
    /// has only the first's.
    pub fn of_second_fat(&self) -> bool {
        self.flags & 0x01 != 0
    }
}

/// The up-case table entry (82h), in the root directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpcaseEntry {
    /// [`checksum32`] of the table's bytes as stored.
    pub table_checksum: u32,
    pub first_cluster: u32,
    pub data_length: u64,
}

impl UpcaseEntry {
    pub fn parse(e: &[u8; ENTRY_SIZE]) -> Result<UpcaseEntry, EntryError> {
        expect_type(e, ENTRY_UPCASE)?;
        Ok(UpcaseEntry {
            table_checksum: le32(e, offsets::upcase::TABLE_CHECKSUM),
            first_cluster: le32(e, entry::FIRST_CLUSTER),
            data_length: le64(e, entry::DATA_LENGTH),
        })
    }

    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut e = blank(ENTRY_UPCASE);
        put(&mut e, offsets::upcase::TABLE_CHECKSUM, &self.table_checksum.to_le_bytes());
        put(&mut e, entry::FIRST_CLUSTER, &self.first_cluster.to_le_bytes());
        put(&mut e, entry::DATA_LENGTH, &self.data_length.to_le_bytes());
        e
    }
}

/// The file directory entry (85h): a file's or folder's attributes and
/// times. Its secondary count and the set's checksum are the
/// [`EntrySet`]'s to read and write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileEntry {
    pub attributes: u16,
    /// DOS-style date and time (2-second steps).
    pub created: u32,
    pub modified: u32,
    pub accessed: u32,
    /// 10 ms steps added to `created` and `modified` (0-199).
    pub created_10ms: u8,
    pub modified_10ms: u8,
    /// Offsets from UTC (bit 7: valid; 15-minute steps).
    pub created_utc_offset: u8,
    pub modified_utc_offset: u8,
    pub accessed_utc_offset: u8,
}

impl FileEntry {
    pub fn parse(e: &[u8; ENTRY_SIZE]) -> Result<FileEntry, EntryError> {
        use offsets::file::*;
        expect_type(e, ENTRY_FILE)?;
        Ok(FileEntry {
            attributes: le16(e, ATTRIBUTES),
            created: le32(e, CREATED),
            modified: le32(e, MODIFIED),
            accessed: le32(e, ACCESSED),
            created_10ms: e[CREATED_10MS],
            modified_10ms: e[MODIFIED_10MS],
            created_utc_offset: e[CREATED_UTC_OFFSET],
            modified_utc_offset: e[MODIFIED_UTC_OFFSET],
            accessed_utc_offset: e[ACCESSED_UTC_OFFSET],
        })
    }

    /// The entry, with a secondary count and set checksum of zero.
    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        use offsets::file::*;
        let mut e = blank(ENTRY_FILE);
        put(&mut e, ATTRIBUTES, &self.attributes.to_le_bytes());
        put(&mut e, CREATED, &self.created.to_le_bytes());
        put(&mut e, MODIFIED, &self.modified.to_le_bytes());
        put(&mut e, ACCESSED, &self.accessed.to_le_bytes());
        e[CREATED_10MS] = self.created_10ms;
        e[MODIFIED_10MS] = self.modified_10ms;
        e[CREATED_UTC_OFFSET] = self.created_utc_offset;
        e[MODIFIED_UTC_OFFSET] = self.modified_utc_offset;
        e[ACCESSED_UTC_OFFSET] = self.accessed_utc_offset;
        e
    }

    pub fn is_dir(&self) -> bool {
        self.attributes & ATTR_DIRECTORY != 0
    }
}

/// The stream extension entry (C0h): where a file's data is and how long.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamEntry {
    /// [`FLAG_ALLOCATION_POSSIBLE`], [`FLAG_NO_FAT_CHAIN`].
    pub flags: u8,
    /// UTF-16 units of the name in the set's name entries.
    pub name_length: u8,
    /// [`name_hash`] of the up-cased name.
    pub name_hash: u16,
    pub valid_data_length: u64,
    pub first_cluster: u32,
    pub data_length: u64,
}

impl StreamEntry {
    pub fn parse(e: &[u8; ENTRY_SIZE]) -> Result<StreamEntry, EntryError> {
        use offsets::stream::*;
        expect_type(e, ENTRY_STREAM)?;
        Ok(StreamEntry {
            flags: e[entry::FLAGS],
            name_length: e[NAME_LENGTH],
            name_hash: le16(e, NAME_HASH),
            valid_data_length: le64(e, VALID_DATA_LENGTH),
            first_cluster: le32(e, entry::FIRST_CLUSTER),
            data_length: le64(e, entry::DATA_LENGTH),
        })
    }

    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        use offsets::stream::*;
        let mut e = blank(ENTRY_STREAM);
        e[entry::FLAGS] = self.flags;
        e[NAME_LENGTH] = self.name_length;
        put(&mut e, NAME_HASH, &self.name_hash.to_le_bytes());
        put(&mut e, VALID_DATA_LENGTH, &self.valid_data_length.to_le_bytes());
        put(&mut e, entry::FIRST_CLUSTER, &self.first_cluster.to_le_bytes());
        put(&mut e, entry::DATA_LENGTH, &self.data_length.to_le_bytes());
        e
    }

    /// The data is one run of clusters, with no FAT chain.
    pub fn no_fat_chain(&self) -> bool {
        self.flags & FLAG_NO_FAT_CHAIN != 0
    }
}

/// A file name entry (C1h): 15 UTF-16 units of the name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameEntry {
    pub flags: u8,
    pub units: [u16; NAME_ENTRY_UNITS],
}

impl NameEntry {
    pub fn parse(e: &[u8; ENTRY_SIZE]) -> Result<NameEntry, EntryError> {
        expect_type(e, ENTRY_NAME)?;
        let units = core::array::from_fn(|k| le16(e, offsets::name::FILE_NAME + 2 * k));
        Ok(NameEntry { flags: e[entry::FLAGS], units })
    }

    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut e = blank(ENTRY_NAME);
        e[entry::FLAGS] = self.flags;
        for (k, u) in self.units.iter().enumerate() {
            put(&mut e, offsets::name::FILE_NAME + 2 * k, &u.to_le_bytes());
        }
        e
    }
}

/// A secondary entry after the stream extension.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Secondary {
    Name(NameEntry),
    /// Any other (a vendor extension, say), kept as it is.
    Other([u8; ENTRY_SIZE]),
}

/// A file's or folder's entry set: its file entry, stream extension and
/// name entries (and any other secondary entries, kept as they are).
/// [`EntrySet::parse`] checks the set's checksum; [`EntrySet::to_bytes`]
/// writes the secondary count and checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySet {
    pub file: FileEntry,
    pub stream: StreamEntry,
    secondaries: Vec<Secondary>,
}

impl EntrySet {
    /// A set named `name` (UTF-16 units); the stream's name length is set
    /// from it, its hash is the caller's.
    pub fn new(file: FileEntry, mut stream: StreamEntry, name: &[u16]) -> Result<EntrySet, EntryError> {
        if name.is_empty() || name.len() > NAME_MAX_UNITS {
            return Err(EntryError::NameLength { units: name.len() });
        }
        stream.name_length = name.len() as u8;
        let secondaries = name
            .chunks(NAME_ENTRY_UNITS)
            .map(|chunk| {
                let mut units = [0u16; NAME_ENTRY_UNITS];
                units[..chunk.len()].copy_from_slice(chunk);
                Secondary::Name(NameEntry { flags: 0, units })
            })
            .collect();
        Ok(EntrySet { file, stream, secondaries })
    }

    /// Reads the set that opens `entries` (which may go on past it).
    pub fn parse(entries: &[[u8; ENTRY_SIZE]]) -> Result<EntrySet, EntryError> {
        let first = entries.first().ok_or(EntryError::Truncated { entries: 1, left: 0 })?;
        let file = FileEntry::parse(first)?;
        let count = first[offsets::file::SECONDARY_COUNT];
        if count < 2 {
            return Err(EntryError::TooFewSecondaries { count });
        }
        let n = 1 + count as usize;
        let set = entries.get(..n).ok_or(EntryError::Truncated { entries: n, left: entries.len() })?;
        let stored = le16(first, offsets::file::SET_CHECKSUM);
        let computed = entry_set_checksum(set.iter().flatten());
        if stored != computed {
            return Err(EntryError::Checksum { stored, computed });
        }
        let stream = StreamEntry::parse(&set[1])?;
        let secondaries = set[2..].iter().map(|e| NameEntry::parse(e).map_or(Secondary::Other(*e), Secondary::Name)).collect();
        Ok(EntrySet { file, stream, secondaries })
    }

    /// The set's entries, with its secondary count and checksum.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut set = Vec::with_capacity(self.entries() * ENTRY_SIZE);
        set.extend_from_slice(&self.file.to_bytes());
        set.extend_from_slice(&self.stream.to_bytes());
        for s in &self.secondaries {
            set.extend_from_slice(&match s {
                Secondary::Name(n) => n.to_bytes(),
                Secondary::Other(e) => *e,
            });
        }
        set[offsets::file::SECONDARY_COUNT] = (self.entries() - 1) as u8;
        let sum = entry_set_checksum(set.iter());
        put(&mut set, offsets::file::SET_CHECKSUM, &sum.to_le_bytes());
        set
    }

    /// How many entries the set takes.
    pub fn entries(&self) -> usize {
        2 + self.secondaries.len()
    }

    /// The name's UTF-16 units: the stream's name length of them, from the
    /// name entries in order.
    pub fn name_units(&self) -> Vec<u16> {
        let names = self.secondaries.iter().filter_map(|s| match s {
            Secondary::Name(n) => Some(n.units),
            Secondary::Other(_) => None,
        });
        names.flatten().take(self.stream.name_length as usize).collect()
    }

    /// The name as text (U+FFFD for a unit that is no character).
    pub fn name(&self) -> String {
        char::decode_utf16(self.name_units()).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
    }
}

/// Where things are on an exFAT volume, in 512-byte sectors from its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub bytes_per_sector: u32,
    pub cluster_sectors: u32,
    pub fat_start: u64,
    pub fat_sectors: u64,
    pub heap_start: u64,
    pub cluster_count: u32,
    pub root_cluster: u32,
    pub volume_sectors: u64,
}

impl Geometry {
    /// Reads the main boot region (12 sectors of the volume's sector size,
    /// given here as 512-byte sectors read from the start).
    pub fn parse(region: &[u8]) -> Result<Geometry, FatError> {
        let bad = |what, value: u64| Err(FatError::NotExfat { what, value });
        let bs = BootSector::parse(region.first_chunk().ok_or(FatError::NotExfat { what: "boot region", value: 0 })?)?;
        let (sector_shift, cluster_shift) = (bs.bytes_per_sector_shift as u32, bs.sectors_per_cluster_shift as u32);
        // The checksum of sectors 0-10 (skipping VolumeFlags and
        // PercentInUse) repeats through sector 11.
        let sector = 1usize << sector_shift;
        let region = region.get(..BOOT_REGION_SECTORS * sector).ok_or(FatError::NotExfat { what: "boot region", value: 0 })?;
        let sum = boot_region_checksum(region, sector);
        if region[11 * sector..].chunks_exact(4).any(|w| le32(w, 0) != sum) {
            return Err(FatError::BootRegionChecksum);
        }
        let scale = 1u64 << (sector_shift - 9);
        let active_fat = (bs.volume_flags & VOLUME_FLAG_ACTIVE_FAT) as u64;
        let fats = bs.fat_count as u64;
        let volume_sectors = bs.volume_length;
        let (fat_offset, fat_length) = (bs.fat_offset as u64, bs.fat_length as u64);
        let (heap, clusters, root) = (bs.cluster_heap_offset as u64, bs.cluster_count, bs.root_cluster);
        if active_fat >= fats {
            return bad("active FAT", active_fat);
        }
        if fat_offset == 0 || fat_offset + fat_length * fats > heap || heap >= volume_sectors {
            return bad("FAT and cluster heap offsets", heap);
        }
        if fat_length * (1u64 << sector_shift) / 4 < clusters as u64 + 2 || clusters == 0 || clusters > 0xFFFF_FFF5 {
            return bad("cluster count", clusters as u64);
        }
        if (heap + ((clusters as u64) << cluster_shift)) > volume_sectors {
            return bad("cluster heap past the volume's end", clusters as u64);
        }
        if root < 2 || root - 2 >= clusters {
            return bad("root directory cluster", root as u64);
        }
        Ok(Geometry {
            bytes_per_sector: 1 << sector_shift,
            cluster_sectors: (scale << cluster_shift) as u32,
            fat_start: (fat_offset + active_fat * fat_length) * scale,
            fat_sectors: fat_length * scale,
            heap_start: heap * scale,
            cluster_count: clusters,
            root_cluster: root,
            volume_sectors: volume_sectors * scale,
        })
    }
}

/// An exFAT volume on a block device whose sector 0 is its boot sector.
pub struct Exfat<D> {
    dev: D,
    pub geometry: Geometry,
    pub label: String,
    chains: Chains,
}

/// True when `boot_sector` names itself exFAT.
pub fn is_exfat(boot_sector: &[u8]) -> bool {
    boot_sector.get(boot::FILE_SYSTEM_NAME..boot::FILE_SYSTEM_NAME + 8) == Some(FILE_SYSTEM_NAME)
}

impl<D: BlockDevice> Exfat<D> {
    pub fn open(mut dev: D) -> Result<Self, FatError> {
        let mut first = [0u8; SECTOR_SIZE];
        dev.read_sectors(0, &mut first)?;
        let shift = first[boot::BYTES_PER_SECTOR_SHIFT].clamp(9, 12) as usize;
        let mut region = alloc::vec![0u8; BOOT_REGION_SECTORS << shift];
        dev.read_sectors(0, &mut region)?;
        let g = Geometry::parse(&region)?;
        let chains = Chains::new(g.fat_start, g.fat_sectors, g.heap_start, g.cluster_sectors, g.cluster_count, 0xFFFF_FFFF);
        let mut fs = Exfat { dev, geometry: g, label: String::new(), chains };
        let root = fs.read_dir_raw(fs.geometry.root_cluster, 0, false)?;
        fs.label = root.1;
        Ok(fs)
    }

    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }

    pub fn cluster_bytes(&self) -> u64 {
        self.chains.cluster_bytes()
    }

    /// Where a file lies on the volume.
    pub fn extent_map(&mut self, first_cluster: u32, size: u64, contiguous: bool) -> Result<ExtentMap, FatError> {
        self.chains.file_map(&mut self.dev, first_cluster, size, contiguous)
    }

    /// Reads the root directory.
    pub fn read_root(&mut self) -> Result<Vec<DirEntry>, FatError> {
        Ok(self.read_dir_raw(self.geometry.root_cluster, 0, false)?.0)
    }

    /// Reads a subdirectory.
    pub fn read_dir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FatError> {
        Ok(self.read_dir_raw(dir.node.fat_cluster(), dir.size, dir.node.fat_contiguous())?.0)
    }

    /// The entries of the directory at `first_cluster` (`size` bytes when
    /// `contiguous`, else its chain), and the volume label found there.
    fn read_dir_raw(&mut self, first_cluster: u32, size: u64, contiguous: bool) -> Result<(Vec<DirEntry>, String), FatError> {
        let runs: Vec<(u64, u64)> = if contiguous {
            let map = self.chains.file_map(&mut self.dev, first_cluster, size.max(1), true)?;
            map.extents().iter().map(|e| (e.disk_lba, e.count)).collect()
        } else {
            let runs = self.chains.dir_runs(&mut self.dev, first_cluster)?;
            runs.iter().map(|&(first, len)| (self.chains.cluster_lba(first), len as u64 * self.chains.cluster_sectors as u64)).collect()
        };
        let mut bytes = Vec::new();
        for (lba, count) in runs {
            let at = bytes.len();
            bytes.resize(at + count as usize * SECTOR_SIZE, 0);
            self.dev.read_sectors(lba, &mut bytes[at..])?;
        }
        parse_entries(&bytes, first_cluster)
    }
}

impl<D: BlockDevice> FileTree for Exfat<D> {
    type Error = FatError;

    fn root(&self) -> NodeId {
        NodeId::fat(self.geometry.root_cluster, false)
    }

    fn read_root(&mut self) -> Result<Vec<DirEntry>, FatError> {
        Exfat::read_root(self)
    }

    fn read_subdir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FatError> {
        self.read_dir(dir)
    }
}

/// Decodes a directory's entry sets: files and folders with their names,
/// sizes and allocation, checking each set's checksum.
fn parse_entries(bytes: &[u8], dir_cluster: u32) -> Result<(Vec<DirEntry>, String), FatError> {
    let (entries, _) = bytes.as_chunks::<ENTRY_SIZE>();
    let mut out = Vec::new();
    let mut label = String::new();
    let mut i = 0;
    while let Some(e) = entries.get(i) {
        match e[entry::TYPE] {
            ENTRY_END => break,
            ENTRY_LABEL => {
                label = LabelEntry::parse(e).map(|l| l.label()).unwrap_or_default();
                i += 1;
            }
            ENTRY_FILE => {
                let set = EntrySet::parse(&entries[i..]).map_err(|_| FatError::EntrySetChecksum { dir_cluster, entry: i })?;
                out.push(DirEntry {
                    name: set.name(),
                    is_dir: set.file.is_dir(),
                    size: set.stream.data_length,
                    node: NodeId::fat(set.stream.first_cluster, set.stream.no_fat_chain()),
                });
                i += set.entries();
            }
            _ => i += 1, // bitmap, up-case table, GUID, deleted and unknown entries
        }
    }
    Ok((out, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64 MiB volume of 512-byte sectors and 4 KiB clusters, laid out as
    /// the builder lays it out.
    fn boot_sector() -> BootSector {
        BootSector {
            partition_offset: 0,
            volume_length: 131_072,
            fat_offset: 2048,
            fat_length: 128,
            cluster_heap_offset: 4096,
            cluster_count: 15_872,
            root_cluster: 4,
            serial: 0x1234_5678,
            revision: 0x0100,
            volume_flags: 0,
            bytes_per_sector_shift: 9,
            sectors_per_cluster_shift: 3,
            fat_count: 1,
            drive_select: 0x80,
            percent_in_use: 0xFF,
        }
    }

    fn entry_set() -> EntrySet {
        let file = FileEntry { attributes: ATTR_ARCHIVE, created: 0x5A21_6C3E, modified: 0x5A21_6C3F, accessed: 7, ..FileEntry::default() };
        let stream = StreamEntry {
            flags: FLAG_ALLOCATION_POSSIBLE | FLAG_NO_FAT_CHAIN,
            name_hash: 0xBEEF,
            valid_data_length: 5 << 32,
            first_cluster: 77,
            data_length: 5 << 32,
            ..StreamEntry::default()
        };
        let name: Vec<u16> = "Übungen für Anfänger – 日本語.iso".encode_utf16().collect();
        EntrySet::new(file, stream, &name).unwrap()
    }

    fn as_entries(bytes: &[u8]) -> &[[u8; ENTRY_SIZE]] {
        bytes.as_chunks().0
    }

    #[test]
    fn a_boot_sector_and_its_region_read_back_as_written() {
        let bs = boot_sector();
        assert_eq!(BootSector::parse(&bs.to_bytes()), Ok(bs.clone()));
        let g = Geometry::parse(&bs.boot_region()).unwrap();
        assert_eq!((g.fat_start, g.fat_sectors, g.heap_start, g.cluster_sectors), (2048, 128, 4096, 8));
        assert_eq!((g.cluster_count, g.root_cluster, g.volume_sectors), (15_872, 4, 131_072));
        // 4 KiB sectors: the region is 12 of them.
        let big = BootSector { bytes_per_sector_shift: 12, sectors_per_cluster_shift: 0, ..bs };
        assert_eq!(big.boot_region().len(), 12 * 4096);
        assert_eq!(Geometry::parse(&big.boot_region()).map(|g| g.cluster_sectors), Ok(8));
    }

    #[test]
    fn one_wrong_byte_in_the_boot_region_is_an_error_but_for_flags_and_use() {
        let region = boot_sector().boot_region();
        for at in 0..11 * 512 {
            let mut bad = region.clone();
            bad[at] ^= 0x01;
            let changing = [boot::VOLUME_FLAGS, boot::VOLUME_FLAGS + 1, boot::PERCENT_IN_USE].contains(&at);
            match Geometry::parse(&bad) {
                Ok(_) => assert!(changing, "byte {at} changed unnoticed"),
                Err(e) => assert!(!changing || at == boot::VOLUME_FLAGS, "byte {at}: {e}"), // bit 0: a second FAT there is not
            }
        }
        let mut bad = region.clone();
        bad[11 * 512 + 5] ^= 0x80;
        assert_eq!(Geometry::parse(&bad), Err(FatError::BootRegionChecksum));
        let mut bad = region.clone();
        bad[boot::FILE_SYSTEM_NAME] = b'F';
        assert_eq!(Geometry::parse(&bad), Err(FatError::NotExfat { what: "file system name", value: 0 }));
        assert!(Geometry::parse(&region[..11 * 512]).is_err(), "a region cut short");
    }

    #[test]
    fn root_entries_read_back_as_written() {
        let label = LabelEntry::new("DROPBOOT and more");
        assert_eq!(label.label(), "DROPBOOT an");
        assert_eq!(LabelEntry::parse(&label.to_bytes()), Ok(label));
        let bitmap = BitmapEntry { flags: 0, first_cluster: 2, data_length: 1984 };
        assert_eq!(BitmapEntry::parse(&bitmap.to_bytes()), Ok(bitmap));
        let upcase = UpcaseEntry { table_checksum: 0xE619_D30D, first_cluster: 3, data_length: 5836 };
        assert_eq!(UpcaseEntry::parse(&upcase.to_bytes()), Ok(upcase.clone()));
        assert_eq!(BitmapEntry::parse(&upcase.to_bytes()), Err(EntryError::WrongType { want: ENTRY_BITMAP, found: ENTRY_UPCASE }));
    }

    #[test]
    fn an_entry_set_reads_back_as_written_with_its_checksum() {
        let set = entry_set();
        let bytes = set.to_bytes();
        assert_eq!(set.entries(), 4);
        assert_eq!(bytes.len(), 4 * ENTRY_SIZE);
        assert_eq!(bytes[offsets::file::SECONDARY_COUNT], 3);
        assert_eq!(le16(&bytes, offsets::file::SET_CHECKSUM), entry_set_checksum(bytes.iter()));
        let back = EntrySet::parse(as_entries(&bytes)).unwrap();
        assert_eq!(back, set);
        assert_eq!(back.name(), "Übungen für Anfänger – 日本語.iso");
        assert_eq!(back.stream.name_length, 30);
        // Entries after the set are not the set's.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0xC1; 64]);
        assert_eq!(EntrySet::parse(as_entries(&longer)), Ok(set));
    }

    #[test]
    fn each_entry_reads_back_as_written() {
        let set = entry_set();
        let bytes = set.to_bytes();
        let e = as_entries(&bytes);
        assert_eq!(FileEntry::parse(&e[0]), Ok(set.file.clone()));
        assert_eq!(StreamEntry::parse(&e[1]), Ok(set.stream.clone()));
        let name = NameEntry::parse(&e[2]).unwrap();
        assert_eq!(NameEntry::parse(&name.to_bytes()), Ok(name));
        assert_eq!(FileEntry::parse(&e[1]), Err(EntryError::WrongType { want: ENTRY_FILE, found: ENTRY_STREAM }));
    }

    #[test]
    fn one_wrong_byte_in_an_entry_set_is_an_error() {
        let bytes = entry_set().to_bytes();
        for at in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut bad = bytes.clone();
                bad[at] ^= bit;
                assert!(EntrySet::parse(as_entries(&bad)).is_err(), "byte {at} bit {bit:#x} changed unnoticed");
            }
        }
        let mut bad = bytes.clone();
        bad[2 * ENTRY_SIZE + offsets::name::FILE_NAME] ^= 0x20;
        assert!(matches!(EntrySet::parse(as_entries(&bad)), Err(EntryError::Checksum { .. })));
        assert_eq!(EntrySet::parse(as_entries(&bytes[..3 * ENTRY_SIZE])), Err(EntryError::Truncated { entries: 4, left: 3 }));
        assert_eq!(EntrySet::parse(&[]), Err(EntryError::Truncated { entries: 1, left: 0 }));
        let mut short = bytes.clone();
        short[offsets::file::SECONDARY_COUNT] = 1;
        assert_eq!(EntrySet::parse(as_entries(&short)), Err(EntryError::TooFewSecondaries { count: 1 }));
    }

    #[test]
    fn a_set_with_a_vendor_entry_keeps_it_where_it_was() {
        let mut set = entry_set();
        let mut vendor = blank(0xE0);
        vendor[5] = 0x42;
        set.secondaries.push(Secondary::Other(vendor));
        let bytes = set.to_bytes();
        assert_eq!(bytes[offsets::file::SECONDARY_COUNT], 4);
        let back = EntrySet::parse(as_entries(&bytes)).unwrap();
        assert_eq!(back, set);
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.name(), "Übungen für Anfänger – 日本語.iso");
    }

    #[test]
    fn the_up_case_table_reads_back_as_written_compressed() {
        let table = UpcaseTable::unicode();
        assert_eq!((table.upcase(b'a' as u16), table.upcase(0xE4), table.upcase(0x3C9), table.upcase(b'1' as u16)), (0x41, 0xC4, 0x3A9, 0x31));
        let stored = table.to_bytes();
        assert!(stored.len() < 0x10000, "compressed: {} bytes", stored.len());
        assert_eq!(UpcaseTable::parse(&stored), table);
        // A table cut short maps the rest to themselves; one that says
        // nothing upper-cases nothing.
        let short = UpcaseTable::parse(&stored[..200]);
        assert_eq!((short.upcase(0xFFFE), short.upcase(b'a' as u16)), (0xFFFE, 0x41));
        assert_eq!(UpcaseTable::default().upcase(b'a' as u16), b'a' as u16);
    }

    #[test]
    fn names_are_one_to_255_units_in_entries_of_15() {
        let (file, stream) = (FileEntry::default(), StreamEntry::default());
        assert_eq!(EntrySet::new(file.clone(), stream.clone(), &[]), Err(EntryError::NameLength { units: 0 }));
        assert_eq!(EntrySet::new(file.clone(), stream.clone(), &[b'a' as u16; 256]), Err(EntryError::NameLength { units: 256 }));
        let longest = EntrySet::new(file, stream, &[b'a' as u16; 255]).unwrap();
        assert_eq!(longest.entries(), 2 + 17);
        assert_eq!(EntrySet::parse(as_entries(&longest.to_bytes())).map(|s| s.name_units().len()), Ok(255));
    }
}
