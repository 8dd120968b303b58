//! Installed systems in disk image files, for the To Go tests: small real
//! Debian 12 systems that tools/make-installed-media builds from Debian's
//! packages (GRUB in their own boot sectors, a grub.cfg made by update-grub
//! that saves the entry booted, the root and /data mounted by UUID) and
//! caches outside the clone, never booted. Their init counts the boots on
//! both filesystems, prints `dropboot-installed: SYSTEM boot N` on COM1 and
//! powers off. Here too: reading their partitions and ext4 filesystems
//! from outside, with sfdisk, e2fsck and debugfs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::media::{built_medium, output, run};

/// An installed system's image: debian-mbr.img, debian-gpt.img,
/// dracut-mbr.img, or debian-mbr.img converted by qemu-img
/// (debian-mbr.vhd, debian-mbr-dynamic.vhd, debian-mbr.vdi,
/// debian-mbr.vhdx). The cache's copy: copy it before booting it.
pub fn installed_medium(name: &str) -> PathBuf {
    static FOLDER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    built_medium("make-installed-media", &FOLDER, name)
}

/// The line an installed system's init prints on COM1 at its `n`th boot.
pub fn boot_line(system: &str, n: u32) -> String {
    format!("dropboot-installed: {system} boot {n}")
}

/// A partition of a raw disk image, as sfdisk reads the table (MBR with
/// its logical partitions, or GPT): its first sector and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub start: u64,
    pub sectors: u64,
}

impl Partition {
    /// The partition as e2fsprogs names a filesystem inside a file.
    fn e2fs_name(&self, image: &Path) -> String {
        format!("{}?offset={}", image.display(), self.start * 512)
    }
}

/// The partitions of `image` in table order (an extended partition too).
pub fn partitions(image: &Path) -> Vec<Partition> {
    let dump = run(Command::new("sfdisk").arg("--dump").arg(image));
    let field = |line: &str, key: &str| -> Option<u64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split(',').next()?.trim().parse().ok()
    };
    dump.lines().filter(|l| l.contains(" : ")).filter_map(|l| Some(Partition { start: field(l, "start=")?, sectors: field(l, "size=")? })).collect()
}

/// The partitions of `image` that hold ext4 (its magic, EF53h, at byte
/// 1080 of the partition).
pub fn ext4_partitions(image: &Path) -> Vec<Partition> {
    partitions(image).into_iter().filter(|p| crate::media::read_at(image, p.start * 512 + 1080, 2) == [0x53, 0xEF]).collect()
}

/// Whether `e2fsck -fn` finds the ext4 filesystem in `part` of `image`
/// clean; Err holds its report.
pub fn e2fsck_clean(image: &Path, part: Partition) -> Result<(), String> {
    let out = output(Command::new("e2fsck").arg("-fn").arg(part.e2fs_name(image)));
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// A file of the ext4 filesystem in `part` of `image` (debugfs, read
/// only), or None when it is not there.
pub fn ext4_file(image: &Path, part: Partition, path: &str) -> Option<String> {
    let out = output(Command::new("debugfs").arg("-R").arg(format!("cat {path}")).arg(part.e2fs_name(image)));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "debugfs on {}: {err}", part.e2fs_name(image));
    if err.contains("File not found") {
        None
    } else {
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
