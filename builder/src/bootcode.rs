//! The boot code this binary carries, and writing it to a disk: stage1 into
//! the MBR's first 440 bytes (the signature and partition table around it
//! are kept), stage2 sealed into the sectors before the data partition.

use std::io::{Read, Seek, SeekFrom, Write};

use bootfs::iso_partition::{Record, RECORD_LBA};
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

/// Whose boot code sector 0's first 440 bytes hold, told by the text each
/// loader keeps for its error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sector0Code {
    /// dropboot's stage1, of this version or another ("dropboot: ").
    Dropboot,
    /// GRUB's boot.img ("GRUB ", "Geom", "Hard Disk", "Read", " Error"),
    /// which grub-install writes to the disk a system boots from.
    Grub,
    /// SYSLINUX's mbr.bin ("Multiple active partitions.").
    Syslinux,
    /// Windows' MBR code ("Invalid partition table").
    Windows,
    /// Zeros.
    Empty,
    Other,
}

impl Sector0Code {
    pub fn of(code: &[u8]) -> Sector0Code {
        let has = |text: &[u8]| code.windows(text.len()).any(|w| w == text);
        let has_all = |texts: &[&[u8]]| texts.iter().all(|t| has(t));
        if code == &STAGE1[..] || has(b"dropboot: ") {
            Sector0Code::Dropboot
        } else if has_all(&[b"GRUB \0", b"Geom\0", b"Hard Disk\0", b"Read\0", b" Error"]) {
            Sector0Code::Grub
        } else if has_all(&[b"Multiple active partitions.", b"Operating system load error."]) {
            Sector0Code::Syslinux
        } else if has_all(&[b"Invalid partition table", b"Error loading operating system"]) {
            Sector0Code::Windows
        } else if code.iter().all(|&b| b == 0) {
            Sector0Code::Empty
        } else {
            Sector0Code::Other
        }
    }

    /// For `info --json`.
    pub fn key(self) -> &'static str {
        match self {
            Sector0Code::Dropboot => "dropboot",
            Sector0Code::Grub => "GRUB",
            Sector0Code::Syslinux => "SYSLINUX",
            Sector0Code::Windows => "Windows",
            Sector0Code::Empty => "none",
            Sector0Code::Other => "other",
        }
    }

    /// What sector 0 holds, in words: "GRUB's boot code".
    pub fn in_words(self) -> &'static str {
        match self {
            Sector0Code::Dropboot => "dropboot's boot code",
            Sector0Code::Grub => "GRUB's boot code",
            Sector0Code::Syslinux => "SYSLINUX's boot code (its mbr.bin)",
            Sector0Code::Windows => "Windows' boot code",
            Sector0Code::Empty => "no boot code",
            Sector0Code::Other => "boot code that is not dropboot's",
        }
    }
}

/// What boot code a disk carries.
#[derive(Clone, Debug)]
pub struct OnDisk {
    /// stage2's header at LBA 1; `None` when something else lies there
    /// (another loader's, as GRUB's core.img).
    pub stage2: Option<Stage2Header>,
    /// stage2's checksum is right.
    pub stage2_intact: bool,
    /// stage1 is this binary's.
    pub stage1_current: bool,
    /// Whose code sector 0 holds.
    pub sector0: Sector0Code,
}

impl OnDisk {
    /// The version of the stage2 on the disk, when there is one.
    pub fn version(&self) -> Option<Version> {
        self.stage2.map(|h| Version(h.version))
    }

    /// When another loader's code has replaced dropboot's, what the disk
    /// holds in its place, in words: "sector 0 holds GRUB's boot code (a
    /// system booted from this stick may have run grub-install onto it)".
    pub fn replaced(&self) -> Option<String> {
        match (self.sector0, self.stage2) {
            (Sector0Code::Dropboot, Some(_)) => None,
            (Sector0Code::Dropboot, None) => Some("the sectors after sector 0 hold something else than dropboot's stage2".into()),
            // grub-install from a system booted from the stick: the stick is its boot disk.
            (Sector0Code::Grub, _) => {
                Some("sector 0 holds GRUB's boot code (a system booted from this stick may have run grub-install onto it)".into())
            }
            (other, _) => Some(format!("sector 0 holds {}", other.in_words())),
        }
    }
}

/// Reads the boot code of `stick`: an error when it is not a dropboot disk.
/// A dropboot disk has a partition table with the data partition at LBA
/// 2048 or later and stage2's header after sector 0; or, when another
/// loader was installed over its boot code (grub-install, run by a system
/// booted from the stick, writes sector 0 and the sectors after it), the
/// data partition at 2048 and the record stage2 writes at LBA 769 at each
/// boot, which those loaders leave.
pub fn on_disk(stick: &mut Stick) -> Result<OnDisk> {
    let path = stick.path().to_path_buf();
    let not_ours = |why: &str| Error::Disk { path: path.clone(), problem: format!("not a dropboot disk: {why}") };
    let mut area = vec![0u8; DATA_PARTITION_LBA as usize * 512];
    if stick.bytes() <= area.len() as u64 {
        return Err(not_ours("too small to hold a boot area and a data partition"));
    }
    stick.file_mut().seek(SeekFrom::Start(0)).map_err(stick.io("seeking in"))?;
    stick.file_mut().read_exact(&mut area).map_err(stick.io("reading the boot area of"))?;
    let data_start = match stick.data_partition() {
        Err(NoPartition::NoTable(e)) => return Err(not_ours(&e.to_string())),
        Err(NoPartition::NoData) => None,
        // Found, or sector 0 was unreadable when the stick was opened (its error).
        _ => Some(stick.partition()?.start_lba),
    };
    if data_start.is_none_or(|lba| lba < DATA_PARTITION_LBA) {
        return Err(not_ours("no data partition from sector 2048 on"));
    }
    let sector0 = Sector0Code::of(&area[..MBR_CODE_BYTES]);
    let stage2_bytes = &area[STAGE2_LBA as usize * 512..];
    let stage2 = Stage2Header::parse(stage2_bytes).ok();
    let record = &area[RECORD_LBA as usize * 512..][..512];
    if stage2.is_none() && (data_start != Some(DATA_PARTITION_LBA) || Record::parse(record).is_none()) {
        let holds = if sector0 == Sector0Code::Dropboot { String::new() } else { format!(", and sector 0 holds {}", sector0.in_words()) };
        return Err(not_ours(&format!("no dropboot stage2 after the MBR{holds}")));
    }
    Ok(OnDisk {
        stage2,
        stage2_intact: stage2.is_some() && verify_stage2(stage2_bytes).is_ok(),
        stage1_current: area[..MBR_CODE_BYTES] == STAGE1[..],
        sector0,
    })
}

/// Replaces a dropboot disk's boot code (or another loader's, installed
/// over it: [`on_disk`]) with this binary's: stage2 first (flushed), then
/// stage1's code bytes; nothing else is written. Returns what it replaced. `fault_after_stage2` stops after the stage2
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 440 bytes of code with `texts` among other bytes.
    fn code_with(texts: &[&[u8]]) -> Vec<u8> {
        let mut code = vec![0xEBu8; MBR_CODE_BYTES];
        let mut at = 100;
        for t in texts {
            code[at..at + t.len()].copy_from_slice(t);
            at += t.len() + 3;
        }
        code
    }

    #[test]
    fn sector_0_code_is_named_by_the_text_of_its_messages() {
        assert_eq!(Sector0Code::of(STAGE1), Sector0Code::Dropboot);
        assert_eq!(Sector0Code::of(&code_with(&[b"dropboot: ", b"stage2 missing"])), Sector0Code::Dropboot, "another version's stage1");
        assert_eq!(Sector0Code::of(&code_with(&[b"GRUB \0", b"Geom\0", b"Hard Disk\0", b"Read\0", b" Error\r\n"])), Sector0Code::Grub);
        assert_eq!(Sector0Code::of(&code_with(&[b"GRUB \0", b"Geom\0"])), Sector0Code::Other, "one text is not enough");
        assert_eq!(
            Sector0Code::of(&code_with(&[b"Missing operating system.", b"Multiple active partitions.", b"Operating system load error."])),
            Sector0Code::Syslinux
        );
        assert_eq!(
            Sector0Code::of(&code_with(&[b"Invalid partition table", b"Error loading operating system", b"Missing operating system"])),
            Sector0Code::Windows
        );
        assert_eq!(Sector0Code::of(&[0; MBR_CODE_BYTES]), Sector0Code::Empty);
        assert_eq!(Sector0Code::of(&code_with(&[])), Sector0Code::Other);
    }
}
