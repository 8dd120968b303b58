//! The boot code this binary carries, and writing it to a disk: stage1 into
//! the MBR's first 440 bytes (the signature and partition table around it
//! are kept), stage2 sealed into the sectors before the data partition.

use std::io::{Read, Seek, SeekFrom, Write};

use bootfs::layout::{seal_stage2, verify_stage2, Stage2Header, Version, DATA_PARTITION_LBA, MBR_CODE_BYTES, STAGE2_LBA, VERSION};

use crate::error::{Error, Result};
use crate::stick::{NoPartition, Stick};

pub const STAGE1: &[u8; MBR_CODE_BYTES] = include_bytes!("../../build/stage1.bin");
pub const STAGE2: &[u8] = include_bytes!("../../build/stage2.bin");

/// Writes stage2 first, then stage1's code bytes, so that an interrupted
/// write never leaves a stage1 that loads a half-written stage2 without
/// its checksum failing.
pub fn install(stick: &mut Stick) -> Result<()> {
    install_with(stick, false)
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

/// Reads the boot code of `stick`: an error when it is not a dropboot disk
/// (no partition table with the data partition at LBA 2048 or later, or
/// no stage2 header).
pub fn on_disk(stick: &mut Stick) -> Result<OnDisk> {
    let path = stick.path().to_path_buf();
    let not_ours = |why: &str| Error::Disk { path: path.clone(), problem: format!("not a dropboot disk: {why}") };
    let mut area = vec![0u8; DATA_PARTITION_LBA as usize * 512];
    if stick.bytes() <= area.len() as u64 {
        return Err(not_ours("too small to hold a boot area and a data partition"));
    }
    stick.file_mut().seek(SeekFrom::Start(0)).map_err(stick.io("seeking in"))?;
    stick.file_mut().read_exact(&mut area).map_err(stick.io("reading the boot area of"))?;
    let from_2048 = match stick.data_partition() {
        Err(NoPartition::NoTable(e)) => return Err(not_ours(&e.to_string())),
        Err(NoPartition::NoData) => false,
        // Found, or sector 0 was unreadable when the stick was opened (its error).
        _ => stick.partition()?.start_lba >= DATA_PARTITION_LBA,
    };
    if !from_2048 {
        return Err(not_ours("no data partition from sector 2048 on"));
    }
    let stage2_bytes = &area[STAGE2_LBA as usize * 512..];
    let stage2 = Stage2Header::parse(stage2_bytes).map_err(|_| not_ours("no dropboot stage2 after the MBR"))?;
    Ok(OnDisk { stage2, stage2_intact: verify_stage2(stage2_bytes).is_ok(), stage1_current: area[..MBR_CODE_BYTES] == STAGE1[..] })
}

/// Replaces a dropboot disk's boot code with this binary's: stage2 first
/// (flushed), then stage1's code bytes; nothing else is written. Returns
/// the version it replaced. `fault_after_stage2` stops after the stage2
/// write, as a power cut would (tests).
pub fn upgrade(stick: &mut Stick, fault_after_stage2: bool) -> Result<OnDisk> {
    let before = on_disk(stick)?;
    install_with(stick, fault_after_stage2)?;
    Ok(before)
}

/// This binary's boot-code version.
pub fn this_version() -> Version {
    Version(VERSION)
}

fn install_with(stick: &mut Stick, fault_after_stage2: bool) -> Result<()> {
    let stage2 = seal_stage2(STAGE2).map_err(|e| Error::Usage(format!("built-in stage2: {e}")))?;
    stick.file_mut().seek(SeekFrom::Start(STAGE2_LBA as u64 * 512)).map_err(stick.io("seeking in"))?;
    stick.file_mut().write_all(&stage2).map_err(stick.io("writing stage2 to"))?;
    stick.file().sync_data().map_err(stick.io("flushing"))?;
    if fault_after_stage2 {
        return Err(Error::Io {
            doing: format!("upgrading {}", stick.what()),
            source: std::io::Error::other("stopped after the stage2 write (DROPBOOT_FAULT=after-stage2)"),
        });
    }
    let mut mbr = [0u8; 512];
    stick.file_mut().seek(SeekFrom::Start(0)).map_err(stick.io("seeking in"))?;
    stick.file_mut().read_exact(&mut mbr).map_err(stick.io("reading the MBR of"))?;
    mbr[..MBR_CODE_BYTES].copy_from_slice(STAGE1);
    stick.file_mut().seek(SeekFrom::Start(0)).map_err(stick.io("seeking in"))?;
    stick.file_mut().write_all(&mbr).map_err(stick.io("writing stage1 to"))?;
    stick.file().sync_data().map_err(stick.io("flushing"))?;
    stick.read_partition();
    Ok(())
}
