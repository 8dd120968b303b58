//! The booted ISO's partition entry on the stick (what it is and why:
//! bootfs::iso_partition, which decides and encodes; here is the I/O):
//! written just before an ISO boots, its record first and then sector 0,
//! each read back; undone at the next start of stage2, sector 0 first and
//! then the record. A cut between the two writes leaves a record whose
//! slot still holds its old bytes, which the next start only marks undone.

use alloc::format;
use alloc::string::String;

use bootfs::bootplan::Presentation;
use bootfs::extent::ExtentMap;
use bootfs::iso_partition::{pending, place, NoEntry, Record, Undo, RECORD_LBA};
use bootfs::BlockDevice;

use crate::disk::BiosDisk;

fn read_sector(disk: &mut BiosDisk, lba: u64) -> Result<[u8; 512], String> {
    let mut s = [0u8; 512];
    disk.read_sectors(lba, &mut s).map_err(|e| format!("{e}"))?;
    Ok(s)
}

/// Undoes the entry written at the last boot, if the record says one is
/// on the stick. Logs what it did; returns a line for the status row when
/// the table could not be put back.
pub fn undo_last(disk: &mut BiosDisk) -> Option<String> {
    let still_there = |path: &str, slot: usize, e: &dyn core::fmt::Display| {
        let line = format!("Partition {slot} is still on the stick (written for {path} at the last boot): {e}");
        crate::log!("{line}");
        line
    };
    let (record_sector, sector0) = match (read_sector(disk, RECORD_LBA), read_sector(disk, 0)) {
        (Ok(r), Ok(s)) => (r, s),
        (Err(e), _) | (_, Err(e)) => {
            crate::log!("ISO partition record: cannot read it: {e}");
            return None;
        }
    };
    let (record, undo) = pending(&record_sector, &sector0)?;
    let slot = record.slot + 1;
    let what = match undo {
        Undo::Restore(restored) => {
            if let Err(e) = disk.write_sector(0, &restored) {
                return Some(still_there(&record.path, slot, &e));
            }
            "taken out of the partition table again"
        }
        Undo::AlreadyRestored => "never reached the partition table",
        Undo::Changed => "was changed since; the partition table is left as it is",
    };
    crate::log!("partition {slot}, written for {} at the last boot, {what}", record.path);
    if let Err(e) = disk.write_sector(RECORD_LBA, &record.undone().to_sector()) {
        crate::log!("ISO partition record: cannot mark it undone: {e}");
    }
    None
}

/// Gives the ISO at `path` (`bytes` long), mapped by `map` on the data
/// partition from `partition_start` and presented as `presentation`, its
/// partition entry: the record first, then sector 0, each read back. A
/// sector 0 write that fails leaves the record as it is: the next start
/// sees whether the entry reached the table. `Ok`: the line for the log.
/// `Err`: why there is no entry, for the log (and the screen, unless the
/// configuration asked for none); the boot goes on either way.
pub fn write(
    disk: &mut BiosDisk,
    presentation: Presentation,
    map: &ExtentMap,
    bytes: u64,
    partition_start: u64,
    path: &str,
) -> Result<String, String> {
    let failed = |e: &dyn core::fmt::Display| format!("No partition for {path}: {e}; its system will not find its ISO");
    let sector0 = read_sector(disk, 0).map_err(|e| failed(&e))?;
    let record_sector = read_sector(disk, RECORD_LBA).map_err(|e| failed(&e))?;
    if let Some((last, Undo::Restore(_))) = pending(&record_sector, &sector0) {
        return Err(format!("{path}: {}", NoEntry::StillThere { partition: last.slot + 1 }));
    }
    let placement = place(presentation, map, bytes, partition_start, &sector0).map_err(|why| format!("{path}: {why}"))?;
    let record = Record::new(&placement, &sector0, path);
    disk.write_sector(RECORD_LBA, &record.to_sector()).map_err(|e| failed(&e))?;
    disk.write_sector(0, &record.apply(&sector0)).map_err(|e| failed(&e))?;
    let e = placement.entry;
    Ok(format!("  partition {}: {path}, sectors {}+{} (type 00h), undone at the next start", placement.slot + 1, e.start_lba, e.sectors))
}
