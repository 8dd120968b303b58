//! Block devices on Linux: what one is (whole disk or partition, size,
//! model, removable or on USB, what of it is mounted) and the checks that
//! must all pass before `install` writes a byte.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The smallest device `install` accepts.
pub const MIN_DEVICE_BYTES: u64 = 64 * 1024 * 1024;

/// What the system says about a block device.
#[derive(Debug)]
pub struct Device {
    pub path: PathBuf,
    pub bytes: u64,
    pub model: String,
    pub removable: bool,
    pub usb: bool,
    /// Its partitions' sysfs names.
    pub partitions: Vec<String>,
    /// (device, mount point) of the disk or its partitions.
    pub mounted: Vec<(String, String)>,
}

fn sys(path: impl AsRef<Path>) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// major:minor of every mounted filesystem, with its mount point.
fn mounts() -> Vec<(String, String)> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<(String, String)> = info
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.get(2)?.to_string(), f.get(4)?.replace("\\040", " ")))
        })
        .collect();
    // Swap areas are in use too.
    for line in fs::read_to_string("/proc/swaps").unwrap_or_default().lines().skip(1) {
        if let Some(dev) = line.split_whitespace().next() {
            if let Ok(m) = fs::metadata(dev) {
                out.push((format!("{}:{}", libc::major(m.rdev()), libc::minor(m.rdev())), "[swap]".into()));
            }
        }
    }
    out
}

impl Device {
    /// Looks `path` up. Fails for a path that is not a block device.
    pub fn inspect(path: &Path) -> Result<Device> {
        let what = path.display().to_string();
        let meta = fs::metadata(path).map_err(Error::io(format!("looking at {what}")))?;
        if !meta.file_type().is_block_device() {
            return Err(Error::Usage(format!("{what} is not a block device; `dropboot create` makes image files")));
        }
        let (major, minor) = (libc::major(meta.rdev()), libc::minor(meta.rdev()));
        let sys_dev = fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")).map_err(Error::io(format!("finding {what} in /sys")))?;
        let name = sys_dev.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let is_partition = sys_dev.join("partition").exists();
        let bytes = sys(sys_dev.join("size")).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) * 512;
        let model = sys(sys_dev.join("device/model")).unwrap_or_default();
        let removable = sys(sys_dev.join("removable")).is_some_and(|r| r == "1");
        let usb = fs::canonicalize(sys_dev.join("device")).is_ok_and(|p| p.to_string_lossy().contains("/usb"));
        let mut partitions: Vec<String> = fs::read_dir(&sys_dev)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().join("partition").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        partitions.sort();
        let mut ours: Vec<(String, String)> = vec![(format!("{major}:{minor}"), name.clone())];
        for p in &partitions {
            if let Some(dev) = sys(sys_dev.join(p).join("dev")) {
                ours.push((dev, p.clone()));
            }
        }
        let mounted =
            mounts().into_iter().filter_map(|(dev, at)| ours.iter().find(|(d, _)| *d == dev).map(|(_, n)| (format!("/dev/{n}"), at))).collect();
        let device = Device { path: path.into(), bytes, model, removable, usb, partitions, mounted };
        if is_partition {
            let disk = sys_dev.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            return Err(Error::Usage(format!("{what} is a partition; name the whole disk (/dev/{disk})")));
        }
        Ok(device)
    }

    /// Every reason not to write to this device; empty when it is fine.
    pub fn refusals(&self, force: bool) -> Vec<String> {
        let what = self.path.display();
        let mut why = Vec::new();
        for (dev, at) in &self.mounted {
            if at == "/" || at == "/boot" {
                why.push(format!("{what} holds {at} (on {dev}): it is this computer's system disk"));
            } else {
                why.push(format!("{dev} is mounted on {at}; unmount it first"));
            }
        }
        if self.bytes < MIN_DEVICE_BYTES {
            why.push(format!("{what} has {} MiB; dropboot needs at least {} MiB", self.bytes >> 20, MIN_DEVICE_BYTES >> 20));
        }
        if !(self.removable || self.usb || force) {
            why.push(format!("{what} is not a removable or USB disk; add --force if you really mean it"));
        }
        why
    }

    /// The device for a person to check before saying yes.
    pub fn describe(&self) -> String {
        let model = if self.model.is_empty() { "(no model name)" } else { &self.model };
        let mut s = format!("{}  {model}  {} MiB", self.path.display(), self.bytes >> 20);
        s.push_str(if self.usb {
            "  USB"
        } else if self.removable {
            "  removable"
        } else {
            "  fixed disk"
        });
        if self.partitions.is_empty() {
            s.push_str("\n  no partitions");
        }
        for p in &self.partitions {
            s.push_str(&format!("\n  partition /dev/{p}"));
        }
        for (dev, at) in &self.mounted {
            s.push_str(&format!("\n  {dev} mounted on {at}"));
        }
        s
    }
}

/// Asks the kernel to read the partition table again (BLKRRPART).
pub fn reread_partitions(file: &fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    const BLKRRPART: libc::c_ulong = 0x125F;
    // SAFETY: an ioctl without an argument on a descriptor we own.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), BLKRRPART as _) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(mounted: &[(&str, &str)], bytes: u64, removable: bool, usb: bool) -> Device {
        Device {
            path: "/dev/sdz".into(),
            bytes,
            model: "Test".into(),
            removable,
            usb,
            partitions: vec!["sdz1".into()],
            mounted: mounted.iter().map(|(d, m)| (d.to_string(), m.to_string())).collect(),
        }
    }

    #[test]
    fn the_system_disk_is_refused_by_name() {
        for at in ["/", "/boot"] {
            let why = device(&[("/dev/sdz1", at)], 64 << 30, true, true).refusals(true);
            assert_eq!(why, [format!("/dev/sdz holds {at} (on /dev/sdz1): it is this computer's system disk")]);
        }
    }

    #[test]
    fn a_usb_stick_of_enough_size_with_nothing_mounted_passes() {
        assert!(device(&[], 8 << 30, false, true).refusals(false).is_empty());
        assert!(device(&[], 8 << 30, true, false).refusals(false).is_empty());
        assert_eq!(device(&[], 8 << 30, false, false).refusals(false).len(), 1);
        assert!(device(&[], 8 << 30, false, false).refusals(true).is_empty());
    }
}
