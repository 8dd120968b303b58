//! The partitions a booted file gives the stick, so that the Linux system
//! it starts finds what it looks for. Just before stage2 jumps, it writes
//! primary MBR entries into free slots (slot 2 first: udisks shows
//! type-00h entries in slots 1-2, libparted and Windows skip them):
//! - for an ISO, one entry {not active, type 00h, start = the ISO's first
//!   disk sector, size = its length} ([`place`]): Linux makes a block
//!   device of every primary entry with a size, udev reads the ISO9660
//!   label and UUID on it, and casper, live-boot, dracut, archiso and the
//!   Debian installer find their medium as they would on a CD;
//! - for an installed system in a disk image file, one entry per partition
//!   of the image ([`place_image`]): type 00h at the file's sector plus
//!   the partition's start, and its extended partition whole with its own
//!   type, so Linux finds the logical ones by their EBRs; its kernel then
//!   mounts its root and fstab by UUID from inside the file.
//!
//! What was written is kept in a [`Record`] at
//! [`ISO_PARTITION_RECORD_LBA`], with each slot's old bytes, so that the
//! next start of stage2, or any builder command that writes, puts the
//! table back byte for byte. This module decides and encodes; the verdict
//! (bootfs::bootplan::judge) chooses, and stage2 and the builder do the I/O.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

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

/// Where an entry goes and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// 0-based slot in the table.
    pub slot: usize,
    pub entry: PartitionEntry,
    /// The installed system's own number for the partition it shows;
    /// `None` for an ISO.
    pub image_partition: Option<u32>,
}

/// Why no entry is written for a file, or for one of its partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The entries of the last boot ("partition 2", in words) could not
    /// be taken out: none go in beside them.
    StillThere { partitions: String },
    /// An installed system's partition (its own number) is not one run of
    /// the stick.
    PartitionInPieces { partition: u32, path: String },
    /// No free slot was left for these of an installed system's partitions.
    LeftOut { partitions: Vec<u32> },
    /// An installed system's partition table cannot be read.
    UnreadableTable(crate::vdisk::PartitionsError),
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
            NoEntry::StillThere { partitions } => write!(
                f,
                "{partitions}, written at the last boot, could not be taken out, so no second one is written; its system will not find what it looks for"
            ),
            NoEntry::PartitionInPieces { partition, path } => write!(
                f,
                "its partition {partition} is in pieces on the stick, so its system will not find it; on a computer, run: dropboot defrag STICK {path}"
            ),
            NoEntry::UnreadableTable(why) => write!(f, "{why}, so no partition of it is written for its system"),
            NoEntry::LeftOut { partitions } => {
                let plural = if partitions.len() == 1 { "" } else { "s" };
                write!(
                    f,
                    "the stick's partition table has no free slot for its partition{plural} {}, so its system will not find {}",
                    crate::text::list_in_words(partitions),
                    if partitions.len() == 1 { "it" } else { "them" }
                )
            }
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
    Ok(Placement { slot, entry: PartitionEntry { bootable: false, kind: 0x00, start_lba, sectors }, image_partition: None })
}

/// One of an installed system's partitions the stick's table can show:
/// `start` and `sectors` inside the presented image, and the type byte its
/// entry gets (00h for a partition; the image's own extended type for its
/// extended partition, whose logical partitions Linux then finds by their
/// EBRs, which are relative to it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagePart {
    /// The image's own number for it (1-4, or a GPT entry's).
    pub number: u32,
    pub kind: u8,
    pub start: u64,
    pub sectors: u64,
    /// For an extended partition: the numbers of the logical ones in it.
    pub logicals: Vec<u32>,
}

/// Where an installed system's partitions go: `parts` of the image that
/// starts at file sector `image_start` of the file at `path`, mapped by
/// `map` (partition-relative, in file order) on a data partition from
/// `partition_start`. Each takes a free slot of `sector0` (2, 3, 4, and
/// then 1) in order and must be one run of the stick; the entries written
/// and why any part is not.
pub fn place_image(
    parts: &[ImagePart],
    image_start: u64,
    map: &ExtentMap,
    partition_start: u64,
    path: &str,
    sector0: &[u8; 512],
) -> (Vec<Placement>, Vec<NoEntry>) {
    let mut free = SLOT_ORDER.into_iter().filter(|&s| slot_is_free(sector0, s));
    let (mut placements, mut missing, mut left_out) = (Vec::new(), Vec::new(), Vec::new());
    for part in parts {
        let first = image_start.saturating_add(part.start);
        let Some(disk) = disk_run(map, first, part.sectors).map(|lba| lba + partition_start) else {
            missing.push(NoEntry::PartitionInPieces { partition: part.number, path: path.into() });
            continue;
        };
        let (Ok(start_lba), Ok(sectors)) = (u32::try_from(disk), u32::try_from(part.sectors)) else {
            missing.push(NoEntry::BeyondTable);
            continue;
        };
        if start_lba.checked_add(sectors).is_none() {
            missing.push(NoEntry::BeyondTable);
            continue;
        }
        match free.next() {
            Some(slot) => placements.push(Placement {
                slot,
                entry: PartitionEntry { bootable: false, kind: part.kind, start_lba, sectors },
                image_partition: Some(part.number),
            }),
            None => left_out.push(part.number),
        }
    }
    if !left_out.is_empty() {
        missing.push(NoEntry::LeftOut { partitions: left_out });
    }
    (placements, missing)
}

/// The data-partition sector where file sectors `first..first + count`
/// lie, when they are one run of `map`.
fn disk_run(map: &ExtentMap, first: u64, count: u64) -> Option<u64> {
    let mut file_sector = 0u64;
    for run in map.extents() {
        if first >= file_sector && first < file_sector + run.count {
            let into = first - file_sector;
            return (count <= run.count - into).then_some(run.disk_lba + into);
        }
        file_sector += run.count;
    }
    None
}

/// `"DRPBPART"`: the first bytes of a [`Record`] sector.
pub const RECORD_MAGIC: [u8; 8] = *b"DRPBPART";
/// Format 2 keeps up to four entries; format 1 (dropboot before To Go)
/// kept one and is still read, so a stick upgraded with an entry on it is
/// put back.
const RECORD_FORMAT: u16 = 2;
const RECORD_FORMAT_ONE_ENTRY: u16 = 1;
const CHANGES_OFFSET: usize = 12;
const CHANGE_BYTES: usize = 36;
const PATH_LENGTH_OFFSET: usize = CHANGES_OFFSET + 4 * CHANGE_BYTES;
const PATH_OFFSET: usize = PATH_LENGTH_OFFSET + 4;
/// The longest path kept (bytes); a longer one is cut at a character.
pub const RECORD_PATH_BYTES: usize = CHECKSUM_OFFSET - PATH_OFFSET;
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

/// One slot of sector 0's table as it was and as stage2 wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotChange {
    /// 0-based slot in the table.
    pub slot: usize,
    pub old: [u8; 16],
    pub new: [u8; 16],
}

/// What stage2 wrote into sector 0 for the file it booted (the ISO's
/// entry, or an installed system's partitions): one 512-byte sector at
/// [`RECORD_LBA`].
///
/// ```text
/// 0   "DRPBPART"     8   format (u16, 2)   10  state: 1 written, 0 undone
/// 11  slots changed (1-4)
/// 12  4 x 36 bytes: slot (0-3), 3 reserved, its old 16 bytes, the 16 written
/// 156 path length (u16)   160 the booted file's path (UTF-8)
/// 508 checksum: the u32 words sum to 0
/// ```
/// (Format 1: slot at 11, old bytes at 12, new at 28, path length at 44,
/// path at 48.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The entries are (believed to be) on the stick.
    pub written: bool,
    /// The slots written, in slot order: one to four.
    pub changes: Vec<SlotChange>,
    /// The booted file, for `info` and the log.
    pub path: String,
}

impl Record {
    pub fn new(placements: &[Placement], sector0: &[u8; 512], path: &str) -> Record {
        let mut changes: Vec<SlotChange> = placements
            .iter()
            .map(|p| {
                let mut old = [0u8; 16];
                old.copy_from_slice(&sector0[entry_range(p.slot)]);
                SlotChange { slot: p.slot, old, new: p.entry.to_bytes() }
            })
            .collect();
        changes.sort_by_key(|c| c.slot);
        Record { written: true, changes, path: kept_path(path).into() }
    }

    /// The record in `sector`, if it holds one (magic, format, checksum
    /// and every field in range); anything else is no record.
    pub fn parse(sector: &[u8]) -> Option<Record> {
        if sector.len() < 512 || sector[..8] != RECORD_MAGIC || crate::layout::word_sum(&sector[..512]) != 0 || sector[10] > 1 {
            return None;
        }
        let bytes16 = |at: usize| -> [u8; 16] {
            let mut b = [0u8; 16];
            b.copy_from_slice(&sector[at..at + 16]);
            b
        };
        let u16_at = |at: usize| u16::from_le_bytes([sector[at], sector[at + 1]]) as usize;
        let (changes, path_at, len) = match u16_at(8) as u16 {
            RECORD_FORMAT_ONE_ENTRY => {
                let slot = sector[11] as usize;
                (vec![SlotChange { slot, old: bytes16(12), new: bytes16(28) }], 48, u16_at(44))
            }
            RECORD_FORMAT => {
                let count = sector[11] as usize;
                if !(1..=4).contains(&count) {
                    return None;
                }
                let changes: Vec<SlotChange> = (0..count)
                    .map(|i| {
                        let at = CHANGES_OFFSET + i * CHANGE_BYTES;
                        SlotChange { slot: sector[at] as usize, old: bytes16(at + 4), new: bytes16(at + 20) }
                    })
                    .collect();
                (changes, PATH_OFFSET, u16_at(PATH_LENGTH_OFFSET))
            }
            _ => return None,
        };
        let slots_distinct = changes.windows(2).all(|w| w[0].slot < w[1].slot);
        if changes.iter().any(|c| c.slot > 3) || !slots_distinct || path_at + len > CHECKSUM_OFFSET {
            return None;
        }
        let path = core::str::from_utf8(&sector[path_at..path_at + len]).ok()?;
        // A format-1 path may be longer than format 2 keeps.
        Some(Record { written: sector[10] == 1, changes, path: kept_path(path).into() })
    }

    pub fn to_sector(&self) -> [u8; 512] {
        let path = kept_path(&self.path).as_bytes();
        let mut s = [0u8; 512];
        s[..8].copy_from_slice(&RECORD_MAGIC);
        s[8..10].copy_from_slice(&RECORD_FORMAT.to_le_bytes());
        s[10] = self.written as u8;
        s[11] = self.changes.len().min(4) as u8;
        for (i, c) in self.changes.iter().take(4).enumerate() {
            let at = CHANGES_OFFSET + i * CHANGE_BYTES;
            s[at] = c.slot as u8;
            s[at + 4..at + 20].copy_from_slice(&c.old);
            s[at + 20..at + 36].copy_from_slice(&c.new);
        }
        s[PATH_LENGTH_OFFSET..PATH_LENGTH_OFFSET + 2].copy_from_slice(&(path.len() as u16).to_le_bytes());
        s[PATH_OFFSET..PATH_OFFSET + path.len()].copy_from_slice(path);
        let sum = crate::layout::word_sum(&s);
        s[CHECKSUM_OFFSET..].copy_from_slice(&0u32.wrapping_sub(sum).to_le_bytes());
        s
    }

    /// The same record, marked undone.
    pub fn undone(&self) -> Record {
        Record { written: false, ..self.clone() }
    }

    /// `sector0` with the entries written in.
    pub fn apply(&self, sector0: &[u8; 512]) -> [u8; 512] {
        let mut s = *sector0;
        for c in &self.changes {
            s[entry_range(c.slot)].copy_from_slice(&c.new);
        }
        s
    }

    /// The entries as written, with their 1-based partition numbers.
    pub fn entries(&self) -> Vec<(usize, PartitionEntry)> {
        self.changes.iter().map(|c| (c.slot + 1, PartitionEntry::from_bytes(&c.new))).collect()
    }

    /// "partition 2" or "partitions 2, 3 and 4": the stick's partitions
    /// the record wrote.
    pub fn partitions_in_words(&self) -> String {
        let numbers: Vec<usize> = self.changes.iter().map(|c| c.slot + 1).collect();
        match numbers.len() {
            0 => "no partition".into(),
            1 => format!("partition {}", numbers[0]),
            _ => format!("partitions {}", crate::text::list_in_words(&numbers)),
        }
    }

    /// What undoing this record does to `sector0`: every slot still holds
    /// what was written, or every slot its old bytes; anything else was
    /// changed since (sector 0 is written whole, so a cut leaves one or
    /// the other).
    pub fn undo(&self, sector0: &[u8; 512]) -> Undo {
        let holds = |c: &SlotChange, bytes: &[u8; 16]| sector0[entry_range(c.slot)] == *bytes;
        if self.changes.iter().all(|c| holds(c, &c.new)) {
            let mut s = *sector0;
            for c in &self.changes {
                s[entry_range(c.slot)].copy_from_slice(&c.old);
            }
            Undo::Restore(s)
        } else if self.changes.iter().all(|c| holds(c, &c.old)) {
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
        let record = Record::new(&[p], &before, "/live/debian.iso");
        let after = record.apply(&before);
        // Only the 16 bytes of slot 2 changed.
        let changed: alloc::vec::Vec<usize> = (0..512).filter(|&i| before[i] != after[i]).collect();
        assert!(changed.iter().all(|i| entry_range(1).contains(i)), "{changed:?}");
        // The table still parses, with the data partition still partition 1.
        let mbr = Mbr::parse(&after).unwrap();
        assert_eq!(mbr.data_partition().unwrap().0, 0);
        assert_eq!(record.entries(), vec![(2, p.entry)]);
        assert_eq!(record.partitions_in_words(), "partition 2");
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
        let record = Record::new(&[p], &before, "/a.iso");
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
        let r = Record::new(&[place(Presentation::Cd, &one_run(0, 8), 4096, 2048, &stick()).unwrap()], &stick(), &path);
        assert!(r.path.len() <= RECORD_PATH_BYTES);
        assert_eq!(Record::parse(&r.to_sector()).unwrap().path, r.path);
        // A path set by hand past the limit is cut when the sector is made.
        let long = Record { path: "x".repeat(600), ..r };
        assert_eq!(Record::parse(&long.to_sector()).unwrap().path.len(), RECORD_PATH_BYTES);
    }

    fn part(number: u32, kind: u8, start: u64, sectors: u64) -> ImagePart {
        ImagePart { number, kind, start, sectors, logicals: alloc::vec::Vec::new() }
    }

    #[test]
    fn an_installed_systems_root_and_extended_partition_take_slots_2_and_3_and_one_undo_restores_both() {
        let before = stick();
        // An image at file sector 0, one run from data-partition sector 5000.
        let parts = [part(1, 0x00, 2048, 100_000), part(2, 0x05, 102_048, 50_000)];
        let (placed, missing) = place_image(&parts, 0, &one_run(5000, 160_000), 2048, "/debian.img", &before);
        assert_eq!(missing, vec![]);
        assert_eq!(placed.iter().map(|p| (p.slot, p.image_partition)).collect::<Vec<_>>(), vec![(1, Some(1)), (2, Some(2))]);
        assert_eq!(placed[0].entry, PartitionEntry { bootable: false, kind: 0x00, start_lba: 2048 + 5000 + 2048, sectors: 100_000 });
        assert_eq!(placed[1].entry.kind, 0x05, "the extended partition keeps its type, so Linux walks its EBRs");
        let record = Record::new(&placed, &before, "/debian.img");
        assert_eq!(record.partitions_in_words(), "partitions 2 and 3");
        let after = record.apply(&before);
        // The stick's table still parses while they are there (they lie inside the data partition).
        assert_eq!(Mbr::parse(&after).unwrap().data_partition().unwrap().0, 0);
        assert_eq!(Record::parse(&record.to_sector()), Some(record.clone()));
        assert_eq!(record.undo(&after), Undo::Restore(before));
        assert_eq!(record.undo(&before), Undo::AlreadyRestored);
        // One slot changed since by someone else: the table is left alone.
        let mut other = after;
        other[entry_range(2)][4] = 0x83;
        assert_eq!(record.undo(&other), Undo::Changed);
    }

    #[test]
    fn a_partition_across_two_runs_is_named_for_defrag_and_one_without_a_free_slot_is_left_out() {
        let mut two = one_run(5000, 1000);
        two.push(9000, 1000);
        let parts = [part(1, 0, 100, 500), part(2, 0, 900, 200), part(3, 0, 1100, 10), part(4, 0, 1200, 10), part(5, 0x0F, 1300, 10)];
        let (placed, missing) = place_image(&parts, 0, &two, 2048, "/a.vhd", &stick());
        assert_eq!(placed.iter().map(|p| p.image_partition.unwrap()).collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(missing, vec![NoEntry::PartitionInPieces { partition: 2, path: "/a.vhd".into() }, NoEntry::LeftOut { partitions: vec![5] }]);
        assert!(missing[0].to_string().contains("dropboot defrag STICK /a.vhd"));
        assert_eq!(
            NoEntry::LeftOut { partitions: vec![5, 6, 7] }.to_string(),
            "the stick's partition table has no free slot for its partitions 5, 6 and 7, so its system will not find them"
        );
        // An image that starts inside the file (a VDI's data offset).
        let (placed, _) = place_image(&[part(1, 0, 0, 8)], 995, &two, 2048, "/a.vdi", &stick());
        assert_eq!(placed, vec![]);
        let (placed, _) = place_image(&[part(1, 0, 0, 8)], 1000, &two, 2048, "/a.vdi", &stick());
        assert_eq!(placed[0].entry.start_lba, 2048 + 9000);
    }

    #[test]
    fn a_record_of_the_one_entry_format_is_still_read_and_put_back() {
        let before = stick();
        let entry = PartitionEntry { bootable: false, kind: 0, start_lba: 7048, sectors: 1234 };
        let mut s = [0u8; 512];
        s[..8].copy_from_slice(&RECORD_MAGIC);
        s[8..10].copy_from_slice(&1u16.to_le_bytes());
        s[10] = 1;
        s[11] = 1;
        s[12..28].copy_from_slice(&before[entry_range(1)]);
        s[28..44].copy_from_slice(&entry.to_bytes());
        s[44..46].copy_from_slice(&7u16.to_le_bytes());
        s[48..55].copy_from_slice(b"/ab.iso");
        let sum = crate::layout::word_sum(&s);
        s[508..].copy_from_slice(&0u32.wrapping_sub(sum).to_le_bytes());
        let r = Record::parse(&s).expect("a format-1 record");
        assert_eq!((r.written, r.path.as_str(), r.entries()), (true, "/ab.iso", vec![(2, entry)]));
        let mut after = before;
        after[entry_range(1)].copy_from_slice(&entry.to_bytes());
        assert_eq!(r.undo(&after), Undo::Restore(before));
    }
}
