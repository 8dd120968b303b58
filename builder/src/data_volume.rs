//! The data filesystem as the builder changes it. Each format is one
//! [`DataVolume`]: exFAT (its writer in exfat.rs), FAT32 (fat32.rs for the
//! data, the fatfs crate for folders and names), NTFS (read through bootfs;
//! its changes are refused, see [`Ntfs`]). `files` and `main` speak
//! only to the trait, and which one a stick holds is read once, from its
//! data partition's boot sector ([`on`]); a new format is one more
//! implementation here.

use std::io;

use crate::error::{Error, Result};
use crate::exfat::ExfatVolume;
use crate::image::{ClusterUse, Disk};
use crate::partition_file::{FormatVolume, PartitionFile};
use crate::source::Source;
use crate::stick_path::StickPath;

/// Changing files on one data filesystem, each change journaled so that a
/// volume is never left half-written (crate::journal).
pub trait DataVolume: FormatVolume {
    /// False for a format dropboot reads but leaves writing to its owners.
    fn writes_files(&self) -> bool {
        true
    }
    /// Copies `source` to `target`, making its folders.
    /// `fresh`: the volume was just formatted on a sparse image. `later`:
    /// the names this command copies into the same folder after this one,
    /// which a FAT32 folder makes room for at once (fat32::add).
    fn add(&self, disk: &mut Disk, source: &mut Source, target: &StickPath, fresh: bool, later: &[&str]) -> Result<()>;
    /// Rewrites the file at `path` in one piece.
    fn defrag(&self, disk: &mut Disk, path: &str) -> Result<()>;
    /// Removes the file at `path`.
    fn remove(&self, disk: &mut Disk, path: &str) -> Result<()>;
    /// The volume's label and its free bytes.
    fn space(&self, disk: &mut Disk) -> Result<(String, u64)>;
}

/// The formats `create` and `install` can make (their `--fs` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FsKind {
    Exfat,
    Fat32,
    /// Made by mkntfs (ntfs-3g); dropboot reads it but copies no files to it.
    Ntfs,
}

pub fn of_kind(kind: FsKind) -> &'static dyn DataVolume {
    match kind {
        FsKind::Exfat => &Exfat,
        FsKind::Fat32 => &Fat32,
        FsKind::Ntfs => &Ntfs,
    }
}

/// The data volume `disk` holds, by its boot sector.
pub fn on(disk: &mut Disk) -> Result<&'static dyn DataVolume> {
    let boot_sector = disk.partition_boot_sector()?;
    Ok(of_kind(if bootfs::ntfs::is_ntfs(&boot_sector) {
        FsKind::Ntfs
    } else if bootfs::exfat::is_exfat(&boot_sector) {
        FsKind::Exfat
    } else {
        FsKind::Fat32
    }))
}

struct Exfat;

impl Exfat {
    fn open<'a>(disk: &'a mut Disk, fresh: bool) -> Result<ExfatVolume<'a>> {
        let image = disk.stick.what().to_string();
        ExfatVolume::open(disk.partition_file(), fresh).map_err(Error::io(format!("opening the exFAT volume of {image}")))
    }

    /// The exFAT volume's clusters, as the change being made leaves them.
    fn cluster_use(disk: &mut Disk) -> Result<ClusterUse> {
        let vol = Exfat::open(disk, false)?;
        let (heap_lba, sectors_per_cluster, count) = vol.heap();
        Ok(ClusterUse { heap_lba, sectors_per_cluster, count, free: vol.free_clusters() })
    }
}

impl FormatVolume for Exfat {
    fn name(&self) -> &'static str {
        "exFAT"
    }

    fn partition_type(&self) -> u8 {
        bootfs::mbr::ptype::EXFAT
    }

    fn format(&self, part: &mut PartitionFile, sectors: u64, label: &str) -> io::Result<()> {
        crate::exfat::format(part, sectors, label)
    }
}

impl DataVolume for Exfat {
    fn add(&self, disk: &mut Disk, source: &mut Source, target: &StickPath, fresh: bool, _later: &[&str]) -> Result<()> {
        let image = disk.stick.what().to_string();
        let (to, name) = (target.parent().display(), target.name().to_owned());
        let size = source.len();
        let bar = crate::progress::copying(&name, size);
        let done = disk.journaled(&format!("add {target}"), Exfat::cluster_use, |disk| {
            let copied = Exfat::open(disk, fresh)?.add(&to, &name, source, &mut |n| {
                bar.set_position(n);
                crate::fault::copy_progress(n, size);
            });
            copied.map_err(Error::io(format!("copying {} to {target} on {image}", source.path().display())))
        });
        bar.finish_and_clear();
        done
    }

    fn defrag(&self, disk: &mut Disk, path: &str) -> Result<()> {
        let image = disk.stick.what().to_string();
        disk.journaled(&format!("defrag {path}"), Exfat::cluster_use, |disk| {
            Exfat::open(disk, false)?.defrag(path).map_err(Error::io(format!("rewriting {path} on {image}")))
        })?;
        Ok(())
    }

    fn remove(&self, disk: &mut Disk, path: &str) -> Result<()> {
        let image = disk.stick.what().to_string();
        disk.journaled(&format!("rm {path}"), Exfat::cluster_use, |disk| {
            Exfat::open(disk, false)?.remove(path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::Usage(format!("no file {path} on {image}")),
                _ => Error::io(format!("removing {path} from {image}"))(e),
            })
        })
    }

    fn space(&self, disk: &mut Disk) -> Result<(String, u64)> {
        let vol = Exfat::open(disk, false)?;
        Ok((vol.label(), vol.free_bytes()))
    }
}

struct Fat32;

impl FormatVolume for Fat32 {
    fn name(&self) -> &'static str {
        "FAT32"
    }

    fn partition_type(&self) -> u8 {
        bootfs::mbr::ptype::FAT32_LBA
    }

    fn format(&self, part: &mut PartitionFile, sectors: u64, label: &str) -> io::Result<()> {
        crate::fat32::format(part, sectors, label)
    }
}

impl DataVolume for Fat32 {
    fn add(&self, disk: &mut Disk, source: &mut Source, target: &StickPath, _fresh: bool, later: &[&str]) -> Result<()> {
        crate::fat32::add(disk, source, &target.parent().display(), target.name(), later)
    }

    fn defrag(&self, disk: &mut Disk, path: &str) -> Result<()> {
        crate::fat32::defrag(disk, path)
    }

    fn remove(&self, disk: &mut Disk, path: &str) -> Result<()> {
        disk.journaled(&format!("rm {path}"), crate::fat32::cluster_use, |disk| crate::fat32::remove(disk, path))
    }

    fn space(&self, disk: &mut Disk) -> Result<(String, u64)> {
        crate::fat32::space(disk)
    }
}

/// An NTFS data partition (a stick reformatted by Windows): listed, checked
/// and booted through bootfs's reader like the others, but never written.
/// NTFS's journal ($LogFile) and its many cross-linked records belong to
/// the drivers that own them (Windows, ntfs-3g): a file copied with the
/// operating system is safe, a second writer here would not be.
struct Ntfs;

impl Ntfs {
    fn refused(disk: &Disk, what: &str) -> Error {
        Error::Usage(format!(
            "{} holds NTFS, which dropboot reads but does not write: {what} with Windows' Explorer, or on Linux mount it (ntfs-3g) and use cp or rm",
            disk.stick.what()
        ))
    }
}

impl FormatVolume for Ntfs {
    fn name(&self) -> &'static str {
        "NTFS"
    }

    fn partition_type(&self) -> u8 {
        bootfs::mbr::ptype::NTFS
    }

    /// mkntfs (the tool made for it) formats a sparse scratch file the size
    /// of the partition; what it wrote is then copied into the partition.
    fn format(&self, part: &mut PartitionFile, sectors: u64, label: &str) -> io::Result<()> {
        crate::ntfs::format(part, sectors, label)
    }
}

impl DataVolume for Ntfs {
    fn writes_files(&self) -> bool {
        false
    }

    fn add(&self, disk: &mut Disk, _source: &mut Source, target: &StickPath, _fresh: bool, _later: &[&str]) -> Result<()> {
        Err(Ntfs::refused(disk, &format!("copy the file to {target}")))
    }

    fn defrag(&self, disk: &mut Disk, path: &str) -> Result<()> {
        Err(Ntfs::refused(disk, &format!("copy {path} off the stick and back (Windows writes a file in one piece when it can)")))
    }

    fn remove(&self, disk: &mut Disk, path: &str) -> Result<()> {
        Err(Ntfs::refused(disk, &format!("delete {path}")))
    }

    fn space(&self, disk: &mut Disk) -> Result<(String, u64)> {
        let path = disk.stick.path().to_path_buf();
        let mut fs = bootfs::ntfs::Ntfs::open(disk.block_device()).map_err(|e| Error::disk(&path, e))?;
        let free = fs.free_bytes().map_err(|e| Error::disk(&path, e))?;
        Ok((fs.label.clone(), free))
    }
}
