//! The boot code this binary carries, and writing it to a disk: stage1 into
//! the MBR's first 440 bytes (the signature and partition table around it
//! are kept), stage2 sealed into the sectors before the data partition.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use bootfs::layout::{seal_stage2, MBR_CODE_BYTES, STAGE2_LBA};

use crate::error::{Error, Result};

pub const STAGE1: &[u8; MBR_CODE_BYTES] = include_bytes!("../../build/stage1.bin");
pub const STAGE2: &[u8] = include_bytes!("../../build/stage2.bin");

/// Writes stage2 first, then stage1's code bytes, so that an interrupted
/// write never leaves a stage1 that loads a half-written stage2 without
/// its checksum failing.
pub fn install(disk: &mut File, what: &str) -> Result<()> {
    let stage2 = seal_stage2(STAGE2).map_err(|e| Error::Usage(format!("built-in stage2: {e}")))?;
    disk.seek(SeekFrom::Start(STAGE2_LBA as u64 * 512)).map_err(Error::io(format!("seeking in {what}")))?;
    disk.write_all(&stage2).map_err(Error::io(format!("writing stage2 to {what}")))?;
    disk.sync_data().map_err(Error::io(format!("flushing {what}")))?;
    let mut mbr = [0u8; 512];
    disk.seek(SeekFrom::Start(0)).map_err(Error::io(format!("seeking in {what}")))?;
    disk.read_exact(&mut mbr).map_err(Error::io(format!("reading the MBR of {what}")))?;
    mbr[..MBR_CODE_BYTES].copy_from_slice(STAGE1);
    disk.seek(SeekFrom::Start(0)).map_err(Error::io(format!("seeking in {what}")))?;
    disk.write_all(&mbr).map_err(Error::io(format!("writing stage1 to {what}")))?;
    disk.sync_data().map_err(Error::io(format!("flushing {what}")))
}
