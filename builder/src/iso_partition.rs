//! The ISO partition entry stage2 writes into a stick's MBR when it boots
//! an ISO (bootfs::iso_partition): read for `info` and `check`, and taken
//! out again, byte for byte, before any command writes to the stick.

use std::io::{Read, Seek, SeekFrom, Write};

use bootfs::iso_partition::{self, Record, Undo, RECORD_LBA};

use crate::error::Result;
use crate::stick::Stick;

fn read_sector(stick: &mut Stick, lba: u64) -> Result<[u8; 512]> {
    let mut s = [0u8; 512];
    stick.file_mut().seek(SeekFrom::Start(lba * 512)).map_err(stick.io("seeking in"))?;
    stick.file_mut().read_exact(&mut s).map_err(stick.io(&format!("reading sector {lba} of")))?;
    Ok(s)
}

fn write_sector(stick: &mut Stick, lba: u64, sector: &[u8; 512]) -> Result<()> {
    stick.file_mut().seek(SeekFrom::Start(lba * 512)).map_err(stick.io("seeking in"))?;
    crate::fault::before_write();
    stick.file_mut().write_all(sector).map_err(stick.io(&format!("writing sector {lba} of")))?;
    stick.file().sync_data().map_err(stick.io("flushing"))?;
    if lba == 0 {
        stick.read_partition();
    }
    Ok(())
}

/// The entry of the last boot as the record tells it, with what undoing
/// it does to sector 0 (as it is on the disk).
fn pending(stick: &mut Stick) -> Result<Option<(Record, Undo)>> {
    let record = read_sector(stick, RECORD_LBA)?;
    Ok(iso_partition::pending(&record, &read_sector(stick, 0)?))
}

/// The entry stage2 wrote at the last boot, when it is still in the table.
pub fn on_disk(stick: &mut Stick) -> Result<Option<Record>> {
    Ok(pending(stick)?.and_then(|(r, undo)| matches!(undo, Undo::Restore(_)).then_some(r)))
}

/// Sector 0 as it will be once the entry of the last boot is undone (what
/// the next boot places its entry against).
pub fn sector0_undone(stick: &mut Stick) -> Result<[u8; 512]> {
    match pending(stick)? {
        Some((_, Undo::Restore(restored))) => Ok(restored),
        _ => read_sector(stick, 0),
    }
}

/// Takes the entries of the last boot out of the table, as the next start
/// of stage2 would: sector 0 first (only those slots' bytes), then the
/// record. Says so on standard error when it did.
pub fn undo(stick: &mut Stick) -> Result<()> {
    let Some((record, undo)) = pending(stick)? else {
        return Ok(());
    };
    if let Undo::Restore(restored) = undo {
        write_sector(stick, 0, &restored)?;
        eprintln!(
            "dropboot: took {} ({}, written at its last boot) out of the partition table of {}",
            record.partitions_in_words(),
            record.path,
            stick.what()
        );
    }
    write_sector(stick, RECORD_LBA, &record.undone().to_sector())
}
