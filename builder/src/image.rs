//! Disk images and their data partition: making a new one (MBR, an empty
//! filesystem by its [`FormatVolume`], boot code) and opening an existing
//! one as a [`Disk`] (a [`Stick`] whose data partition was found).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use bootfs::block::{FileDevice, Window};
use bootfs::layout::DATA_PARTITION_LBA;
use bootfs::mbr::{Mbr, PartitionEntry};

use crate::bootcode;
use crate::error::{Error, Result};
use crate::journal::{Clusters, Overlay};
use crate::partition_file::{FormatVolume, PartitionFile};
use crate::stick::{Lock, Stick};

/// The smallest image `create` makes: FAT32 needs 65,525 clusters, which
/// at 512-byte clusters is about 33 MiB of data partition.
pub const MIN_IMAGE_BYTES: u64 = 64 * 1024 * 1024;

/// Makes a new sparse image of `size` bytes: MBR with one active partition
/// from LBA 2048 to the end, boot code, an empty exFAT, FAT32 or NTFS volume.
/// Returns it held as its writer from before its first byte (see
/// [`Stick::create`]).
pub fn create(path: &Path, size: u64, fs: &dyn FormatVolume) -> Result<Stick> {
    if size < MIN_IMAGE_BYTES {
        return Err(Error::Usage(format!("--size must be at least {} MiB", MIN_IMAGE_BYTES >> 20)));
    }
    let mut stick = Stick::create(path, size)?;
    lay_out(&mut stick, fs, true)?;
    Ok(stick)
}

/// Writes a whole dropboot disk onto `stick`, all of it: the MBR (a new
/// signature, one active partition from LBA 2048), an empty filesystem,
/// the boot code. `sparse`: `stick` is a new sparse file, all zeros; else
/// the areas other tools look at for old signatures are cleared first.
pub fn lay_out(stick: &mut Stick, fs: &dyn FormatVolume, sparse: bool) -> Result<()> {
    let sectors = stick.bytes() / 512;
    let part_sectors =
        u32::try_from(sectors - DATA_PARTITION_LBA as u64).map_err(|_| Error::Usage("dropboot disks are below 2 TiB (the MBR's limit)".into()))?;
    if !sparse {
        // Old partition tables and filesystem signatures: the first MiB,
        // the data partition's first MiB, and a GPT's backup at the end.
        let zeros = vec![0u8; 1 << 20];
        for at in [0, DATA_PARTITION_LBA as u64 * 512, (sectors * 512).saturating_sub(1 << 20)] {
            stick.file_mut().seek(SeekFrom::Start(at)).map_err(stick.io("seeking in"))?;
            stick.file_mut().write_all(&zeros).map_err(stick.io("clearing old signatures on"))?;
        }
    }
    let mut partitions = [PartitionEntry::default(); 4];
    partitions[0] = PartitionEntry { bootable: true, kind: fs.partition_type(), start_lba: DATA_PARTITION_LBA, sectors: part_sectors };
    let mut mbr = [0u8; 512];
    Mbr { disk_signature: disk_signature(), partitions }.write_into(&mut mbr);
    stick.file_mut().seek(SeekFrom::Start(0)).map_err(stick.io("seeking in"))?;
    stick.file_mut().write_all(&mbr).map_err(stick.io("writing the MBR of"))?;
    stick.read_partition();

    let mut part = PartitionFile::new(stick.file_mut(), DATA_PARTITION_LBA as u64, part_sectors as u64);
    fs.format(&mut part, part_sectors as u64, "DROPBOOT").map_err(stick.io(&format!("formatting {} on", fs.name())))?;
    bootcode::install(stick)
}

/// A new disk signature: different for each image made.
fn disk_signature() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mixed = (t.as_nanos() as u64 ^ (std::process::id() as u64) << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 32) as u32 | 1
}

/// An existing dropboot image or disk, with its data partition found.
pub struct Disk {
    pub stick: Stick,
    /// The data partition its sector 0 names, found when it was opened (a
    /// disk has one).
    pub partition: PartitionEntry,
    /// The change being made, when it is a journaled one
    /// ([`crate::journal`]): what reads and writes of the partition go
    /// through.
    pub overlay: Option<Overlay>,
}

impl Disk {
    /// Opens a dropboot disk with `lock`; to write, with the ISO
    /// partition entry of its last boot taken out of the table first.
    /// Either way, a change a kill cut off is finished first (a reader
    /// that cannot write says so).
    pub fn open(path: &Path, lock: Lock) -> Result<Disk> {
        Disk::from_stick(Stick::open(path, lock)?)
    }

    /// [`Disk::open`] for a stick already open (and locked).
    pub fn from_stick(mut stick: Stick) -> Result<Disk> {
        let ours = bootcode::on_disk(&mut stick).is_ok();
        if ours && crate::journal::pending(&stick)?.is_some() {
            if stick.lock() == Lock::Read {
                // A writer's lock, to finish it; else read it as it was left.
                let path = stick.path().to_path_buf();
                drop(stick);
                match Stick::open(&path, Lock::Write) {
                    Ok(writer) => {
                        crate::journal::finish_interrupted(&writer)?;
                    }
                    Err(_) => {
                        eprintln!("dropboot: {} holds a change a stop cut off; the next dropboot that can write to it finishes it", path.display())
                    }
                }
                stick = Stick::open(&path, Lock::Read)?;
            } else {
                crate::journal::finish_interrupted(&stick)?;
                stick.read_partition();
            }
        }
        let partition = stick.partition()?;
        // Only on a disk with dropboot's boot code: its record is ours.
        if stick.lock() == Lock::Write && ours {
            crate::iso_partition::undo(&mut stick)?;
        }
        Ok(Disk { stick, partition, overlay: None })
    }

    /// The data partition as a bootfs block device (seeing the change
    /// being made).
    pub fn block_device(&mut self) -> Window<FileDevice<DiskReader<'_>>> {
        let reader = DiskReader { file: self.stick.file(), overlay: self.overlay.as_ref(), pos: 0 };
        Window { dev: FileDevice(reader), start: self.partition.start_lba as u64, sectors: self.partition.sectors as u64 }
    }

    /// The data partition's boot sector (which filesystem it holds).
    pub fn partition_boot_sector(&mut self) -> Result<[u8; 512]> {
        let mut bs = [0u8; 512];
        let at = self.partition.start_lba as u64 * 512;
        self.stick.file_mut().seek(SeekFrom::Start(at)).map_err(self.stick.io("seeking in"))?;
        self.stick.file_mut().read_exact(&mut bs).map_err(self.stick.io("reading the data partition of"))?;
        Ok(bs)
    }

    /// The data partition as a file for the fatfs crate (seeing and
    /// joining the change being made).
    pub fn partition_file(&mut self) -> PartitionFile<'_> {
        PartitionFile::with_overlay(self.stick.file_mut(), self.overlay.as_mut(), self.partition.start_lba as u64, self.partition.sectors as u64)
    }

    /// Makes `change` to the data partition as one journaled step named
    /// `what` (crate::journal): its writes are held back, except whole
    /// sectors of clusters free when it began, and made at once when it
    /// returns. When it fails, nothing but free clusters was written.
    /// `free` reckons the volume's clusters, before and after.
    pub fn journaled<T>(&mut self, what: &str, free: FreeClusters, change: impl FnOnce(&mut Disk) -> Result<T>) -> Result<T> {
        let before = free(self)?;
        self.journaled_from(what, before, free, change)
    }

    /// [`Disk::journaled`] from `before`, the volume's clusters as the
    /// caller just reckoned them (nothing written since): a FAT32 add's
    /// free-space check reads the whole FAT, and reading it again here
    /// was a fifth of each add's work.
    pub fn journaled_from<T>(
        &mut self,
        what: &str,
        before: ClusterUse,
        free: FreeClusters,
        change: impl FnOnce(&mut Disk) -> Result<T>,
    ) -> Result<T> {
        let clusters = Clusters { first_lba: self.partition.start_lba as u64 + before.heap_lba, sectors_per_cluster: before.sectors_per_cluster };
        self.overlay = Some(Overlay::new(what, clusters, before.count, &before.free));
        let done = change(self).and_then(|value| Ok((value, free(self)?.free)));
        let overlay = self.overlay.take();
        let (value, free_after) = done?;
        // The journal goes where nothing is before or after the change.
        let spare = free_in_both(before.free, free_after);
        if let Some(overlay) = overlay {
            crate::journal::commit(&self.stick, overlay, &spare)?;
        }
        Ok(value)
    }
}

/// The clusters in both `a` and `b`, ascending. A stick's volume may have
/// millions of free clusters: both lists are sorted (a no-op for the
/// ascending lists the filesystems give) and walked side by side, where a
/// hash set of one cost a quarter of a second on each add.
fn free_in_both(mut a: Vec<u32>, mut b: Vec<u32>) -> Vec<u32> {
    a.sort_unstable();
    b.sort_unstable();
    let (mut i, mut j, mut both) = (0, 0, Vec::new());
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        match x.cmp(&y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both.push(x);
                i += 1;
                j += 1;
            }
        }
    }
    both
}

/// A volume's clusters as the journal sees them.
pub struct ClusterUse {
    /// Where cluster 2 starts, in sectors from the partition's start.
    pub heap_lba: u64,
    pub sectors_per_cluster: u64,
    pub count: u32,
    /// The clusters free now.
    pub free: Vec<u32>,
}

/// How a filesystem reckons [`ClusterUse`] (fat32::cluster_use, ...).
pub type FreeClusters = fn(&mut Disk) -> Result<ClusterUse>;

/// Reads of a disk file as the change being made leaves it.
pub struct DiskReader<'a> {
    file: &'a File,
    overlay: Option<&'a Overlay>,
    pos: u64,
}

impl Read for DiskReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = match self.overlay {
            Some(o) => o.read_at(self.file, self.pos, buf)?,
            None => self.file.read_at(buf, self.pos)?,
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for DiskReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            _ => return Err(io::Error::new(io::ErrorKind::Unsupported, "only absolute seeks")),
        };
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::free_in_both;

    #[test]
    fn the_journal_may_use_only_clusters_free_both_before_and_after_a_change() {
        assert_eq!(free_in_both(vec![2, 3, 5, 8, 9, 40], vec![3, 4, 8, 40, 41]), vec![3, 8, 40]);
        assert_eq!(free_in_both(vec![9, 2, 7], vec![7, 9]), vec![7, 9]);
        assert!(free_in_both(vec![2, 3], Vec::new()).is_empty());
    }
}
