//! The ISO partition entry stage2 writes into a stick's MBR when it boots
//! an ISO (bootfs::iso_partition): read for `info` and `check`, and taken
//! out again, byte for byte, before any command writes to the stick.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use bootfs::iso_partition::{Record, Undo, RECORD_LBA};

use crate::error::{Error, Result};

fn read_sector(file: &mut File, lba: u64, what: &str) -> Result<[u8; 512]> {
    let mut s = [0u8; 512];
    file.seek(SeekFrom::Start(lba * 512)).map_err(Error::io(format!("seeking in {what}")))?;
    file.read_exact(&mut s).map_err(Error::io(format!("reading sector {lba} of {what}")))?;
    Ok(s)
}

fn write_sector(file: &mut File, lba: u64, sector: &[u8; 512], what: &str) -> Result<()> {
    file.seek(SeekFrom::Start(lba * 512)).map_err(Error::io(format!("seeking in {what}")))?;
    file.write_all(sector).map_err(Error::io(format!("writing sector {lba} of {what}")))?;
    file.sync_data().map_err(Error::io(format!("flushing {what}")))
}

/// The entry stage2 wrote at the last boot, when it is still in the table.
pub fn on_disk(file: &mut File, what: &str) -> Result<Option<Record>> {
    let Some(record) = Record::parse(&read_sector(file, RECORD_LBA, what)?) else {
        return Ok(None);
    };
    let sector0 = read_sector(file, 0, what)?;
    Ok((record.written && matches!(record.undo(&sector0), Undo::Restore(_))).then_some(record))
}

/// Sector 0 as it will be once the entry of the last boot is undone (what
/// the next boot places its entry against).
pub fn sector0_undone(file: &mut File, what: &str) -> Result<[u8; 512]> {
    let sector0 = read_sector(file, 0, what)?;
    Ok(match on_disk(file, what)?.map(|r| r.undo(&sector0)) {
        Some(Undo::Restore(restored)) => restored,
        _ => sector0,
    })
}

/// Takes the entry of the last boot out of the table, as the next start of
/// stage2 would: sector 0 first (only that slot's 16 bytes), then the
/// record. Says so on standard error when it did.
pub fn undo(file: &mut File, what: &str) -> Result<()> {
    let Some(record) = Record::parse(&read_sector(file, RECORD_LBA, what)?) else {
        return Ok(());
    };
    if !record.written {
        return Ok(());
    }
    let sector0 = read_sector(file, 0, what)?;
    if let Undo::Restore(restored) = record.undo(&sector0) {
        write_sector(file, 0, &restored, what)?;
        eprintln!(
            "dropboot: took partition {} ({}, written at its last boot) out of the partition table of {what}",
            record.slot + 1,
            record.path
        );
    }
    write_sector(file, RECORD_LBA, &record.undone().to_sector(), what)
}
