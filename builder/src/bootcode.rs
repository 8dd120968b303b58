//! The boot code this binary carries, and writing it to a disk: stage1 into
//! the MBR's first 440 bytes (the signature and partition table around it
//! are kept), stage2 sealed into the sectors before the data partition.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use bootfs::layout::{seal_stage2, verify_stage2, Stage2Header, Version, DATA_PARTITION_LBA, MBR_CODE_BYTES, STAGE2_LBA, VERSION};
use bootfs::mbr::Mbr;

use crate::error::{Error, Result};

pub const STAGE1: &[u8; MBR_CODE_BYTES] = include_bytes!("../../build/stage1.bin");
pub const STAGE2: &[u8] = include_bytes!("../../build/stage2.bin");

/// Writes stage2 first, then stage1's code bytes, so that an interrupted
/// write never leaves a stage1 that loads a half-written stage2 without
/// its checksum failing.
pub fn install(disk: &mut File, what: &str) -> Result<()> {
    install_with(disk, what, false)
}

/// What boot code a disk carries.
#[derive(Clone, Debug)]
pub struct OnDisk {
    /// stage2's header at LBA 1.
    pub stage2: Stage2Header,
    /// stage2's checksum is right.
    pub stage2_intact: bool,
    /// stage1 is this binary's.
    pub stage1_current: bool,
}

impl OnDisk {
    pub fn version(&self) -> Version {
        Version(self.stage2.version)
    }
}

/// Reads the boot code of `disk`: an error when it is not a dropboot disk
/// (no partition table with the data partition at LBA 2048 or later, or
/// no stage2 header).
pub fn on_disk(disk: &mut File, what: &str) -> Result<OnDisk> {
    let not_ours = |why: &str| Error::Disk { path: what.into(), problem: format!("not a dropboot disk: {why}") };
    let mut area = vec![0u8; DATA_PARTITION_LBA as usize * 512];
    let len = disk.seek(SeekFrom::End(0)).map_err(Error::io(format!("seeking in {what}")))?;
    if len <= area.len() as u64 {
        return Err(not_ours("too small to hold a boot area and a data partition"));
    }
    disk.seek(SeekFrom::Start(0)).map_err(Error::io(format!("seeking in {what}")))?;
    disk.read_exact(&mut area).map_err(Error::io(format!("reading the boot area of {what}")))?;
    let mbr: &[u8; 512] = area[..512].try_into().map_err(|_| Error::Usage("short read".into()))?;
    let table = Mbr::parse(mbr).map_err(|e| not_ours(&e.to_string()))?;
    match table.data_partition() {
        Some((_, p)) if p.start_lba >= DATA_PARTITION_LBA => {}
        _ => return Err(not_ours("no data partition from sector 2048 on")),
    }
    let stage2_bytes = &area[STAGE2_LBA as usize * 512..];
    let stage2 = Stage2Header::parse(stage2_bytes).map_err(|_| not_ours("no dropboot stage2 after the MBR"))?;
    Ok(OnDisk { stage2, stage2_intact: verify_stage2(stage2_bytes).is_ok(), stage1_current: mbr[..MBR_CODE_BYTES] == STAGE1[..] })
}

/// Replaces a dropboot disk's boot code with this binary's: stage2 first
/// (flushed), then stage1's code bytes; nothing else is written. Returns
/// the version it replaced. `fault_after_stage2` stops after the stage2
/// write, as a power cut would (tests).
pub fn upgrade(disk: &mut File, what: &str, fault_after_stage2: bool) -> Result<OnDisk> {
    let before = on_disk(disk, what)?;
    install_with(disk, what, fault_after_stage2)?;
    Ok(before)
}

/// This binary's boot-code version.
pub fn this_version() -> Version {
    Version(VERSION)
}

fn install_with(disk: &mut File, what: &str, fault_after_stage2: bool) -> Result<()> {
    let stage2 = seal_stage2(STAGE2).map_err(|e| Error::Usage(format!("built-in stage2: {e}")))?;
    disk.seek(SeekFrom::Start(STAGE2_LBA as u64 * 512)).map_err(Error::io(format!("seeking in {what}")))?;
    disk.write_all(&stage2).map_err(Error::io(format!("writing stage2 to {what}")))?;
    disk.sync_data().map_err(Error::io(format!("flushing {what}")))?;
    if fault_after_stage2 {
        return Err(Error::Io {
            doing: format!("upgrading {what}"),
            source: std::io::Error::other("stopped after the stage2 write (DROPBOOT_FAULT=after-stage2)"),
        });
    }
    let mut mbr = [0u8; 512];
    disk.seek(SeekFrom::Start(0)).map_err(Error::io(format!("seeking in {what}")))?;
    disk.read_exact(&mut mbr).map_err(Error::io(format!("reading the MBR of {what}")))?;
    mbr[..MBR_CODE_BYTES].copy_from_slice(STAGE1);
    disk.seek(SeekFrom::Start(0)).map_err(Error::io(format!("seeking in {what}")))?;
    disk.write_all(&mbr).map_err(Error::io(format!("writing stage1 to {what}")))?;
    disk.sync_data().map_err(Error::io(format!("flushing {what}")))
}
