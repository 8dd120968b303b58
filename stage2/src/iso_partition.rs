//! The partition entries a booted file gives the stick (what they are and
//! why: the verdict, bootfs::bootplan::judge, and bootfs::iso_partition,
//! which decides and encodes; here is the I/O): written just before the
//! boot, the record first and then sector 0, each read back; undone at the
//! next start of stage2, sector 0 first and then the record. A cut between
//! the two writes leaves a record whose slots still hold their old bytes,
//! which the next start only marks undone.

use alloc::format;
use alloc::string::String;

use bootfs::iso_partition::{pending, NoEntry, Placement, Record, Undo, RECORD_LBA};
use bootfs::BlockDevice;

use crate::disk::BiosDisk;

fn read_sector(disk: &mut BiosDisk, lba: u64) -> Result<[u8; 512], bootfs::IoError> {
    let mut s = [0u8; 512];
    disk.read_sectors(lba, &mut s)?;
    Ok(s)
}

/// Sector 0 of the stick, as the verdict places entries in it.
pub fn table(disk: &mut BiosDisk) -> Result<[u8; 512], bootfs::IoError> {
    read_sector(disk, 0)
}

/// Undoes the entries written at the last boot, if the record says they
/// are on the stick. Logs what it did; returns a line for the status row
/// when the table could not be put back.
pub fn undo_last(disk: &mut BiosDisk) -> Option<String> {
    let (record_sector, sector0) = match (read_sector(disk, RECORD_LBA), read_sector(disk, 0)) {
        (Ok(r), Ok(s)) => (r, s),
        (Err(e), _) | (_, Err(e)) => {
            crate::log!("partition record: cannot read it: {e}");
            return None;
        }
    };
    let (record, undo) = pending(&record_sector, &sector0)?;
    let partitions = record.partitions_in_words();
    let what = match undo {
        Undo::Restore(restored) => {
            if let Err(e) = disk.write_sector(0, &restored) {
                let mut line = format!("{partitions} is still on the stick (written for {} at the last boot): {e}", record.path);
                if record.changes.len() > 1 {
                    line = line.replacen(" is ", " are ", 1);
                }
                let line = capitalized(&line);
                crate::log!("{line}");
                return Some(line);
            }
            "taken out of the partition table again"
        }
        Undo::AlreadyRestored => "never reached the partition table",
        Undo::Changed => "was changed since; the partition table is left as it is",
    };
    crate::log!("{partitions}, written for {} at the last boot, {what}", record.path);
    if let Err(e) = disk.write_sector(RECORD_LBA, &record.undone().to_sector()) {
        crate::log!("partition record: cannot mark it undone: {e}");
    }
    None
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|first| format!("{}{}", first.to_ascii_uppercase(), c.as_str())).unwrap_or_default()
}

/// Writes `placements` (the verdict's entries for the file at `path`,
/// placed in `sector0` as [`table`] read it) into the stick's table: the
/// record first, then sector 0, each read back. A sector 0 write that
/// fails leaves the record as it is: the next start sees whether the
/// entries reached the table. `Ok`: the lines for the log. `Err`: why
/// there are none, for the log and the screen; the boot goes on either way.
pub fn write(disk: &mut BiosDisk, sector0: &[u8; 512], placements: &[Placement], path: &str) -> Result<String, String> {
    let looks_for = if placements.iter().any(|p| p.image_partition.is_some()) { "its partitions" } else { "its ISO" };
    let failed = |e: &dyn core::fmt::Display| format!("No partition for {path}: {e}; its system will not find {looks_for}");
    let record_sector = read_sector(disk, RECORD_LBA).map_err(|e| failed(&e))?;
    if let Some((last, Undo::Restore(_))) = pending(&record_sector, sector0) {
        return Err(format!("{path}: {}", NoEntry::StillThere { partitions: last.partitions_in_words() }));
    }
    let record = Record::new(placements, sector0, path);
    disk.write_sector(RECORD_LBA, &record.to_sector()).map_err(|e| failed(&e))?;
    disk.write_sector(0, &record.apply(sector0)).map_err(|e| failed(&e))?;
    let lines: alloc::vec::Vec<String> = placements
        .iter()
        .map(|p| {
            let e = p.entry;
            let what = match p.image_partition {
                Some(n) => format!("{path}'s partition {n}"),
                None => path.into(),
            };
            format!("  partition {}: {what}, sectors {}+{} (type {:02X}h), undone at the next start", p.slot + 1, e.start_lba, e.sectors, e.kind)
        })
        .collect();
    Ok(lines.join("\n"))
}
