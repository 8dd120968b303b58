//! The booted ISO as a partition of the stick, so that the Linux system it
//! starts finds it: just before stage2 jumps to an ISO's boot image, it
//! writes one primary MBR entry {not active, type 00h, start = the ISO's
//! first disk sector, size = its length in sectors} into a free slot
//! (slot 2 first: udisks shows type-00h entries in slots 1-2, libparted
//! and Windows skip them). Linux makes a block device of every primary
//! entry with a non-zero size, udev reads the ISO9660 label and UUID on
//! it, and casper, live-boot, dracut, archiso and the Debian installer
//! find their medium as they would on a CD.
//!
//! What was written is kept in a [`Record`] at
//! [`ISO_PARTITION_RECORD_LBA`], with the slot's old bytes, so that the
//! next start of stage2, or any builder command that writes, puts the
//! table back byte for byte. This module decides and encodes; stage2 and
//! the builder do the I/O.

use alloc::string::String;

use crate::bootplan::Presentation;
use crate::extent::ExtentMap;
use crate::layout::ISO_PARTITION_RECORD_LBA;
use crate::mbr::{entry_range, PartitionEntry};

/// Root folders of Linux live systems that look for their ISO once their
/// kernel runs (casper: Ubuntu and its kin; live: Debian live, Kali, Tails,
/// GParted, Clonezilla; LiveOS: Fedora and dracut's kin; arch: Arch and
/// its kin; boot/grub is no sign, so it is not here).
const LIVE_SYSTEMS: [&str; 4] = ["casper", "live", "LiveOS", "arch"];

/// The live system an ISO carries, by the names in its root folder.
pub fn live_system(root_names: &[String]) -> Option<&'static str> {
    LIVE_SYSTEMS.into_iter().find(|l| root_names.iter().any(|n| n.eq_ignore_ascii_case(l)))
}

/// Slots tried, in order (0-based): 2, then 3 and 4, then 1.
const SLOT_ORDER: [usize; 4] = [1, 2, 3, 0];

/// Where the ISO's entry goes and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// 0-based slot in the table.
    pub slot: usize,
    pub entry: PartitionEntry,
}

/// Why no entry is written for a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoEntry {
    /// An emulated floppy or hard disk, or a `.img`: no filesystem the
    /// kernel can use as a whole.
    NotACd,
    /// The file is in pieces; a partition is one run of sectors.
    Fragmented { pieces: usize },
    /// The file lies past what a partition entry can address (2 TiB).
    BeyondTable,
    /// Every slot of the table is in use.
    NoFreeSlot,
    /// The configuration turns it off (`DROPBOOT_ISO_PARTITION`).
    TurnedOff,
    /// The entry of the last boot (this 1-based partition) could not be
    /// taken out: no second one goes in beside it.
    StillThere { partition: usize },
}

impl core::fmt::Display for NoEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NoEntry::NotACd => write!(f, "an emulated disk is not a filesystem Linux can use whole, so no partition is written for it"),
            NoEntry::Fragmented { pieces } => write!(
                f,
                "it is in {pieces} pieces, so the system it starts will not find its ISO until `dropboot defrag` rewrites it in one piece"
            ),
            NoEntry::BeyondTable => write!(f, "it lies past 2 TiB, beyond what a partition entry can address, so the system it starts will not find its ISO"),
            NoEntry::NoFreeSlot => write!(f, "the partition table has no free slot, so the system it starts will not find its ISO"),
            NoEntry::TurnedOff => write!(f, "DROPBOOT_ISO_PARTITION is off in the configuration, so no partition is written for it"),
            NoEntry::StillThere { partition } => write!(
                f,
                "partition {partition}, written at the last boot, could not be taken out, so no second one is written; its system will not find its ISO"
            ),
        }
    }
}

/// A slot is free when it has neither a type nor a size.
fn slot_is_free(sector0: &[u8; 512], slot: usize) -> bool {
    let e = &sector0[entry_range(slot)];
    e[4] == 0 && e[12..16] == [0; 4]
}

/// Where the entry for a file of `file_bytes` presented as `presentation`, mapped
/// by `map` (partition-relative sectors, whole clusters) on a data
/// partition starting at `partition_start`, goes in `sector0`. The entry
/// is as long as the file, not its last cluster.
pub fn place(presentation: Presentation, map: &ExtentMap, file_bytes: u64, partition_start: u64, sector0: &[u8; 512]) -> Result<Placement, NoEntry> {
    if presentation != Presentation::Cd {
        return Err(NoEntry::NotACd);
    }
    let [run] = map.extents() else {
        return Err(NoEntry::Fragmented { pieces: map.len() });
    };
    let start = partition_start + run.disk_lba;
    let (Ok(start_lba), Ok(sectors)) = (u32::try_from(start), u32::try_from(run.count.min(file_bytes.div_ceil(512)))) else {
        return Err(NoEntry::BeyondTable);
    };
    if start_lba.checked_add(sectors).is_none() {
        return Err(NoEntry::BeyondTable);
    }
    let slot = SLOT_ORDER.into_iter().find(|&s| slot_is_free(sector0, s)).ok_or(NoEntry::NoFreeSlot)?;
    Ok(Placement { slot, entry: PartitionEntry { bootable: false, kind: 0x00, start_lba, sectors } })
}

/// `"DRPBPART"`: the first bytes of a [`Record`] sector.
pub const RECORD_MAGIC: [u8; 8] = *b"DRPBPART";
const RECORD_FORMAT: u16 = 1;
const PATH_OFFSET: usize = 48;
/// The longest path kept (bytes); a longer one is cut at a character.
pub const RECORD_PATH_BYTES: usize = 440;
const CHECKSUM_OFFSET: usize = 508;
pub const RECORD_LBA: u64 = ISO_PARTITION_RECORD_LBA as u64;

/// The part of `path` a record keeps: at most [`RECORD_PATH_BYTES`], cut
/// at a character.
fn kept_path(path: &str) -> &str {
    let mut cut = path.len().min(RECORD_PATH_BYTES);
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    &path[..cut]
}

/// What stage2 wrote into sector 0 for the ISO it booted: one 512-byte
/// sector at [`RECORD_LBA`].
///
/// ```text
/// 0   "DRPBPART"     8   format (u16)   10  state: 1 written, 0 undone
/// 11  slot (0-3)     12  the slot's old 16 bytes
/// 28  the 16 bytes written               44  path length (u16)
/// 48  the ISO's path (UTF-8)             508 checksum: the u32 words sum to 0
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The entry is (believed to be) on the stick.
    pub written: bool,
    pub slot: usize,
    pub old: [u8; 16],
    pub new: [u8; 16],
    /// The booted file, for `info` and the log.
    pub path: String,
}

impl Record {
    pub fn new(placement: &Placement, sector0: &[u8; 512], path: &str) -> Record {
        let mut old = [0u8; 16];
        old.copy_from_slice(&sector0[entry_range(placement.slot)]);
        Record { written: true, slot: placement.slot, old, new: placement.entry.to_bytes(), path: kept_path(path).into() }
    }

    /// The record in `sector`, if it holds one (magic, format, checksum
    /// and every field in range); anything else is no record.
    pub fn parse(sector: &[u8]) -> Option<Record> {
        if sector.len() < 512 || sector[..8] != RECORD_MAGIC || crate::layout::word_sum(&sector[..512]) != 0 {
            return None;
        }
        if u16::from_le_bytes([sector[8], sector[9]]) != RECORD_FORMAT || sector[10] > 1 || sector[11] > 3 {
            return None;
        }
        let len = u16::from_le_bytes([sector[44], sector[45]]) as usize;
        if len > RECORD_PATH_BYTES {
            return None;
        }
        let path = core::str::from_utf8(&sector[PATH_OFFSET..PATH_OFFSET + len]).ok()?;
        let (mut old, mut new) = ([0u8; 16], [0u8; 16]);
        old.copy_from_slice(&sector[12..28]);
        new.copy_from_slice(&sector[28..44]);
        Some(Record { written: sector[10] == 1, slot: sector[11] as usize, old, new, path: path.into() })
    }

    pub fn to_sector(&self) -> [u8; 512] {
        let path = kept_path(&self.path).as_bytes();
        let mut s = [0u8; 512];
        s[..8].copy_from_slice(&RECORD_MAGIC);
        s[8..10].copy_from_slice(&RECORD_FORMAT.to_le_bytes());
        s[10] = self.written as u8;
        s[11] = self.slot as u8;
        s[12..28].copy_from_slice(&self.old);
        s[28..44].copy_from_slice(&self.new);
        s[44..46].copy_from_slice(&(path.len() as u16).to_le_bytes());
        s[PATH_OFFSET..PATH_OFFSET + path.len()].copy_from_slice(path);
        let sum = crate::layout::word_sum(&s);
        s[CHECKSUM_OFFSET..].copy_from_slice(&0u32.wrapping_sub(sum).to_le_bytes());
        s
    }

    /// The same record, marked undone.
    pub fn undone(&self) -> Record {
        Record { written: false, ..self.clone() }
    }

    /// `sector0` with the entry written in.
    pub fn apply(&self, sector0: &[u8; 512]) -> [u8; 512] {
        let mut s = *sector0;
        s[entry_range(self.slot)].copy_from_slice(&self.new);
        s
    }

    /// The entry as written.
    pub fn entry(&self) -> PartitionEntry {
        PartitionEntry::from_bytes(&self.new)
    }

    /// What undoing this record does to `sector0`.
    pub fn undo(&self, sector0: &[u8; 512]) -> Undo {
        let slot = &sector0[entry_range(self.slot)];
        if slot == self.new {
            let mut s = *sector0;
            s[entry_range(self.slot)].copy_from_slice(&self.old);
            Undo::Restore(s)
        } else if slot == self.old {
            Undo::AlreadyRestored
        } else {
            Undo::Changed
        }
    }
}

/// The record in `record_sector` when it says its entry was written,
/// with what undoing it does to `sector0`. Stage2 and the builder decide
/// by this alone.
pub fn pending(record_sector: &[u8], sector0: &[u8; 512]) -> Option<(Record, Undo)> {
    let record = Record::parse(record_sector).filter(|r| r.written)?;
    let undo = record.undo(sector0);
    Some((record, undo))
}

/// What putting the table back means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undo {
    /// Write this sector 0: the slot's old bytes are back, nothing else moved.
    Restore([u8; 512]),
    /// The slot already holds its old bytes (the entry never reached the
    /// stick): only the record needs marking undone.
    AlreadyRestored,
    /// The slot holds something else: someone changed the table since;
    /// leave it as it is.
    Changed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbr::{ptype, Mbr};

    fn stick() -> [u8; 512] {
        let mut s = [0u8; 512];
        s[..440].fill(0xC3);
        let mut partitions = [PartitionEntry::default(); 4];
        partitions[0] = PartitionEntry { bootable: true, kind: ptype::EXFAT, start_lba: 2048, sectors: 1_000_000 };
        Mbr { disk_signature: 0x1234_5678, partitions }.write_into(&mut s);
        s
    }

    fn one_run(lba: u64, count: u64) -> ExtentMap {
        let mut m = ExtentMap::new();
        m.push(lba, count);
        m
    }

    #[test]
    fn a_contiguous_iso_becomes_partition_2_and_undoing_it_restores_sector_0_byte_for_byte() {
        let before = stick();
        let p = place(Presentation::Cd, &one_run(5000, 1240), 1234 * 512 - 100, 2048, &before).unwrap();
        assert_eq!(p.slot, 1);
        assert_eq!(p.entry, PartitionEntry { bootable: false, kind: 0, start_lba: 7048, sectors: 1234 });
        let record = Record::new(&p, &before, "/live/debian.iso");
        let after = record.apply(&before);
        // Only the 16 bytes of slot 2 changed.
        let changed: alloc::vec::Vec<usize> = (0..512).filter(|&i| before[i] != after[i]).collect();
        assert!(changed.iter().all(|i| entry_range(1).contains(i)), "{changed:?}");
        // The table still parses, with the data partition still partition 1.
        let mbr = Mbr::parse(&after).unwrap();
        assert_eq!(mbr.data_partition().unwrap().0, 0);
        assert_eq!(record.entry(), p.entry);
        // The record survives the round trip through its sector.
        assert_eq!(Record::parse(&record.to_sector()), Some(record.clone()));
        assert_eq!(record.undo(&after), Undo::Restore(before));
        assert_eq!(record.undo(&before), Undo::AlreadyRestored);
        assert_eq!(pending(&record.to_sector(), &after), Some((record.clone(), Undo::Restore(before))));
        assert_eq!(pending(&record.undone().to_sector(), &after), None);
    }

    #[test]
    fn a_used_slot_2_moves_the_entry_to_slot_3_and_a_full_table_writes_none() {
        let mut s = stick();
        s[entry_range(1)].copy_from_slice(&PartitionEntry { bootable: false, kind: 0x83, start_lba: 1_002_048, sectors: 100 }.to_bytes());
        assert_eq!(place(Presentation::Cd, &one_run(0, 8), 4096, 2048, &s).unwrap().slot, 2);
        for slot in 2..4 {
            s[entry_range(slot)].copy_from_slice(&PartitionEntry { bootable: false, kind: 0x83, start_lba: 9, sectors: 1 }.to_bytes());
        }
        assert_eq!(place(Presentation::Cd, &one_run(0, 8), 4096, 2048, &s), Err(NoEntry::NoFreeSlot));
    }

    #[test]
    fn fragmented_files_emulated_disks_and_files_past_2_tib_get_no_entry() {
        let s = stick();
        let mut two = one_run(100, 4);
        two.push(200, 4);
        assert_eq!(place(Presentation::Cd, &two, 4096, 2048, &s), Err(NoEntry::Fragmented { pieces: 2 }));
        assert_eq!(
            place(Presentation::HardDisk(crate::diskimage::Chs { cylinders: 1, heads: 1, sectors: 8 }), &one_run(0, 8), 4096, 2048, &s),
            Err(NoEntry::NotACd)
        );
        assert_eq!(place(Presentation::Cd, &one_run(u32::MAX as u64, 8), 4096, 2048, &s), Err(NoEntry::BeyondTable));
        // The last sector a table can address is u32::MAX - 1 (start + size <= 2^32 - 1).
        let last = u32::MAX as u64 - 2048 - 8;
        assert!(place(Presentation::Cd, &one_run(last, 8), 4096, 2048, &s).is_ok());
        assert_eq!(place(Presentation::Cd, &one_run(last + 1, 8), 4096, 2048, &s), Err(NoEntry::BeyondTable));
        assert!(NoEntry::Fragmented { pieces: 2 }.to_string().contains("dropboot defrag"));
    }

    #[test]
    fn a_table_changed_since_is_left_alone_and_a_damaged_record_is_no_record() {
        let before = stick();
        let p = place(Presentation::Cd, &one_run(0, 8), 4096, 2048, &before).unwrap();
        let record = Record::new(&p, &before, "/a.iso");
        let mut other = before;
        other[entry_range(1)][4] = 0x83;
        other[entry_range(1)][12] = 1;
        assert_eq!(record.undo(&other), Undo::Changed);
        let mut sector = record.to_sector();
        sector[50] ^= 1;
        assert_eq!(Record::parse(&sector), None);
        assert_eq!(Record::parse(&[0u8; 512]), None);
    }

    #[test]
    fn a_long_path_is_cut_at_a_character() {
        let path: String = core::iter::repeat('é').take(300).collect();
        let r = Record::new(&place(Presentation::Cd, &one_run(0, 8), 4096, 2048, &stick()).unwrap(), &stick(), &path);
        assert!(r.path.len() <= RECORD_PATH_BYTES);
        assert_eq!(Record::parse(&r.to_sector()).unwrap().path, r.path);
        // A path set by hand past the limit is cut when the sector is made.
        let long = Record { path: "x".repeat(600), ..r };
        assert_eq!(Record::parse(&long.to_sector()).unwrap().path.len(), RECORD_PATH_BYTES);
    }
}
