//! The ISO partition entry stage2 writes into a stick's MBR when it boots
//! an ISO (bootfs::iso_partition): read for `info` and `check`, and taken
//! out again, byte for byte, before any command writes to the stick.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use bootfs::iso_partition::{self, Record, Undo, RECORD_LBA};

use crate::error::{Error, Result};

fn read_sector(file: &mut File, lba: u64, what: &str) -> Result<[u8; 512]> {
    let mut s = [0u8; 512];
    file.seek(SeekFrom::Start(lba * 512)).map_err(Error::io(format!("seeking in {what}")))?;
    file.read_exact(&mut s).map_err(Error::io(format!("reading sector {lba} of {what}")))?;
    Ok(s)
}

fn write_sector(file: &mut File, lba: u64, sector: &[u8; 512], what: &str) -> Result<()> {
    file.seek(SeekFrom::Start(lba * 512)).map_err(Error::io(format!("seeking in {what}")))?;
    crate::fault::before_write();
    file.write_all(sector).map_err(Error::io(format!("writing sector {lba} of {what}")))?;
    file.sync_data().map_err(Error::io(format!("flushing {what}")))
}

/// The entry of the last boot as the record tells it, with what undoing
/// it does to sector 0 (as it is on the disk).
fn pending(file: &mut File, what: &str) -> Result<Option<(Record, Undo)>> {
    let record = read_sector(file, RECORD_LBA, what)?;
    Ok(iso_partition::pending(&record, &read_sector(file, 0, what)?))
}

/// The entry stage2 wrote at the last boot, when it is still in the table.
pub fn on_disk(file: &mut File, what: &str) -> Result<Option<Record>> {
    Ok(pending(file, what)?.and_then(|(r, undo)| matches!(undo, Undo::Restore(_)).then_some(r)))
}

/// Sector 0 as it will be once the entry of the last boot is undone (what
/// the next boot places its entry against).
pub fn sector0_undone(file: &mut File, what: &str) -> Result<[u8; 512]> {
    match pending(file, what)? {
        Some((_, Undo::Restore(restored))) => Ok(restored),
        _ => read_sector(file, 0, what),
    }
}

/// Takes the entries of the last boot out of the table, as the next start
/// of stage2 would: sector 0 first (only those slots' bytes), then the
/// record. Says so on standard error when it did.
pub fn undo(file: &mut File, what: &str) -> Result<()> {
    let Some((record, undo)) = pending(file, what)? else {
        return Ok(());
    };
    if let Undo::Restore(restored) = undo {
        write_sector(file, 0, &restored, what)?;
        eprintln!("dropboot: took {} ({}, written at its last boot) out of the partition table of {what}", record.partitions_in_words(), record.path);
    }
    write_sector(file, RECORD_LBA, &record.undone().to_sector(), what)
}
