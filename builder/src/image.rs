//! Disk images and their data partition: making a new one (MBR, an empty
//! filesystem by its [`FormatVolume`], boot code) and opening an existing one.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bootfs::block::{FileDevice, Window};
use bootfs::layout::DATA_PARTITION_LBA;
use bootfs::mbr::{Mbr, PartitionEntry};

use crate::bootcode;
use crate::error::{Error, Result};
use crate::journal::{Clusters, Overlay};
use crate::partition_file::{FormatVolume, PartitionFile};

/// The smallest image `create` makes: FAT32 needs 65,525 clusters, which
/// at 512-byte clusters is about 33 MiB of data partition.
pub const MIN_IMAGE_BYTES: u64 = 64 * 1024 * 1024;

/// Makes a new sparse image of `size` bytes: MBR with one active partition
/// from LBA 2048 to the end, boot code, an empty exFAT, FAT32 or NTFS volume.
/// Returns it open and locked as its writer from before its first byte
/// (see [`Disk::from_file`]).
pub fn create(path: &Path, size: u64, fs: &dyn FormatVolume) -> Result<File> {
    if size < MIN_IMAGE_BYTES {
        return Err(Error::Usage(format!("--size must be at least {} MiB", MIN_IMAGE_BYTES >> 20)));
    }
    let mut file =
        OpenOptions::new().read(true).write(true).create_new(true).open(path).map_err(Error::io(format!("creating {}", path.display())))?;
    let what = path.display().to_string();
    lock(&file, true, &what)?;
    file.set_len(size / 512 * 512).map_err(Error::io(format!("sizing {what}")))?;
    lay_out(&mut file, size / 512, fs, &what, true)?;
    Ok(file)
}

/// Writes a whole dropboot disk onto `file` of `sectors`: the MBR (a new
/// signature, one active partition from LBA 2048), an empty filesystem,
/// the boot code. `sparse`: `file` is a new sparse file, all zeros; else
/// the areas other tools look at for old signatures are cleared first.
pub fn lay_out(file: &mut File, sectors: u64, fs: &dyn FormatVolume, what: &str, sparse: bool) -> Result<()> {
    let part_sectors =
        u32::try_from(sectors - DATA_PARTITION_LBA as u64).map_err(|_| Error::Usage("dropboot disks are below 2 TiB (the MBR's limit)".into()))?;
    if !sparse {
        // Old partition tables and filesystem signatures: the first MiB,
        // the data partition's first MiB, and a GPT's backup at the end.
        let zeros = vec![0u8; 1 << 20];
        for at in [0, DATA_PARTITION_LBA as u64 * 512, (sectors * 512).saturating_sub(1 << 20)] {
            file.seek(SeekFrom::Start(at)).map_err(Error::io(format!("seeking in {what}")))?;
            file.write_all(&zeros).map_err(Error::io(format!("clearing old signatures on {what}")))?;
        }
    }
    let mut partitions = [PartitionEntry::default(); 4];
    partitions[0] = PartitionEntry { bootable: true, kind: fs.partition_type(), start_lba: DATA_PARTITION_LBA, sectors: part_sectors };
    let mut mbr = [0u8; 512];
    Mbr { disk_signature: disk_signature(), partitions }.write_into(&mut mbr);
    file.seek(SeekFrom::Start(0)).map_err(Error::io(format!("seeking in {what}")))?;
    file.write_all(&mbr).map_err(Error::io(format!("writing the MBR of {what}")))?;

    let mut part = PartitionFile::new(file, DATA_PARTITION_LBA as u64, part_sectors as u64);
    fs.format(&mut part, part_sectors as u64, "DROPBOOT").map_err(Error::io(format!("formatting {} on {what}", fs.name())))?;
    bootcode::install(file, what)
}

/// A new disk signature: different for each image made.
fn disk_signature() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mixed = (t.as_nanos() as u64 ^ (std::process::id() as u64) << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 32) as u32 | 1
}

/// Opens an image file or a block device to write to it, as the one
/// writer: a block device exclusively (O_EXCL: it fails while mounted or
/// in use), and either with an exclusive lock that a second dropboot is
/// refused (see [`lock`]).
pub fn open_for_writing(path: &Path) -> Result<File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let what = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::Usage(format!("no such image or device: {what}")),
        _ => Error::io(format!("looking at {what}"))(e),
    })?;
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    if meta.file_type().is_block_device() {
        options.custom_flags(libc::O_EXCL);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        // O_EXCL on a device: mounted, or open in another program (a
        // dropboot among them, named when its lock says so).
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let holder = File::open(path).ok().and_then(|f| lock_holder(&f));
            let who = holder.map(|h| format!(" ({h})")).unwrap_or_default();
            return Err(Error::Disk { path: path.into(), problem: format!("it is mounted or in use{who}; nothing was written") });
        }
        Err(e) => return Err(Error::io(format!("opening {what}"))(e)),
    };
    lock(&file, true, &what)?;
    Ok(file)
}

/// Opens an image file or a block device to read it, with a shared lock:
/// refused, in words, while another dropboot writes to it.
pub fn open_for_reading(path: &Path) -> Result<File> {
    let what = path.display().to_string();
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::Usage(format!("no such image or device: {what}")),
        _ => Error::io(format!("opening {what}"))(e),
    })?;
    lock(&file, false, &what)?;
    Ok(file)
}

/// Lets `file` (and its lock) pass to the program this process becomes
/// by exec.
pub fn keep_across_exec(file: &File, what: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETFD on a descriptor `file` owns; it only clears FD_CLOEXEC.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFD, 0) } != 0 {
        return Err(Error::io(format!("keeping {what} locked for QEMU"))(io::Error::last_os_error()));
    }
    Ok(())
}

/// Takes `file`'s lock (flock): exclusive for a writer, shared for a
/// reader, never waiting. Held until the file is closed. When another
/// dropboot holds it, the error names that process (from /proc/locks).
fn lock(file: &File, write: bool, what: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    let how = if write { libc::LOCK_EX } else { libc::LOCK_SH };
    // SAFETY: flock on a descriptor this function's caller owns.
    if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
        return Err(Error::io(format!("locking {what}"))(e));
    }
    let holder = lock_holder(file).unwrap_or_else(|| "another process".into());
    let problem = if write {
        format!("{holder} is using it; one dropboot writes to a stick at a time, so nothing was written (try again when it is done)")
    } else {
        format!("{holder} is writing to it; list, check and info read it when that is done")
    };
    Err(Error::Disk { path: what.into(), problem })
}

/// "pid N (dropboot add stick.img x.iso)": who holds a lock on `file`.
fn lock_holder(file: &File) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let inode = format!("{:02x}:{:02x}:{}", libc::major(meta.dev()), libc::minor(meta.dev()), meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let me = std::process::id().to_string();
    let pid = locks.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&inode.as_str()) && f.get(4) != Some(&me.as_str())).then(|| f[4].to_string())
    })?;
    let command = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = String::from_utf8_lossy(&command).split('\0').filter(|a| !a.is_empty()).collect::<Vec<_>>().join(" ");
    Some(if command.is_empty() { format!("pid {pid}") } else { format!("pid {pid} ({command})") })
}

/// An existing dropboot image or disk, with its data partition found.
pub struct Disk {
    pub path: PathBuf,
    pub file: File,
    pub partition: PartitionEntry,
    /// The change being made, when it is a journaled one
    /// ([`crate::journal`]): what reads and writes of the partition go
    /// through.
    pub overlay: Option<Overlay>,
}

impl Disk {
    /// Opens a dropboot disk; to `write`, with the ISO partition entry of
    /// its last boot taken out of the table first. Either way, a change a
    /// kill cut off is finished first (a reader that cannot write says
    /// so).
    pub fn open(path: &Path, write: bool) -> Result<Disk> {
        let file = if write { open_for_writing(path)? } else { open_for_reading(path)? };
        Disk::from_file(path, file, write)
    }

    /// [`Disk::open`] for `file`, already open (and locked) as `path`.
    pub fn from_file(path: &Path, mut file: File, write: bool) -> Result<Disk> {
        let what = path.display().to_string();
        let ours = bootcode::on_disk(&mut file, &what).is_ok();
        if ours && crate::journal::pending(&file, &what)?.is_some() {
            if !write {
                // A writer's lock, to finish it; else read it as it was left.
                drop(file);
                match open_for_writing(path) {
                    Ok(writer) => finish_interrupted(&writer, &what)?,
                    Err(_) => eprintln!("dropboot: {what} holds a change a stop cut off; the next dropboot that can write to it finishes it"),
                }
                file = open_for_reading(path)?;
            } else {
                finish_interrupted(&file, &what)?;
            }
        }
        let mut sector = [0u8; 512];
        file.seek(SeekFrom::Start(0)).map_err(Error::io(format!("seeking in {what}")))?;
        file.read_exact(&mut sector).map_err(Error::io(format!("reading the MBR of {what}")))?;
        let mbr = Mbr::parse(&sector).map_err(|e| Error::disk(path, e))?;
        let (_, partition) = mbr.data_partition().ok_or_else(|| Error::disk(path, "no data partition"))?;
        // Only on a disk with dropboot's boot code: its record is ours.
        if write && ours {
            crate::iso_partition::undo(&mut file, &what)?;
        }
        Ok(Disk { path: path.into(), file, partition, overlay: None })
    }

    /// The data partition as a bootfs block device (seeing the change
    /// being made).
    pub fn block_device(&mut self) -> Window<FileDevice<DiskReader<'_>>> {
        let reader = DiskReader { file: &self.file, overlay: self.overlay.as_ref(), pos: 0 };
        Window { dev: FileDevice(reader), start: self.partition.start_lba as u64, sectors: self.partition.sectors as u64 }
    }

    /// The data partition's boot sector (which filesystem it holds).
    pub fn partition_boot_sector(&mut self) -> Result<[u8; 512]> {
        let mut bs = [0u8; 512];
        let at = self.partition.start_lba as u64 * 512;
        self.file.seek(SeekFrom::Start(at)).map_err(Error::io(format!("seeking in {}", self.path.display())))?;
        self.file.read_exact(&mut bs).map_err(Error::io(format!("reading the data partition of {}", self.path.display())))?;
        Ok(bs)
    }

    /// The data partition as a file for the fatfs crate (seeing and
    /// joining the change being made).
    pub fn partition_file(&mut self) -> PartitionFile<'_> {
        PartitionFile::with_overlay(&mut self.file, self.overlay.as_mut(), self.partition.start_lba as u64, self.partition.sectors as u64)
    }

    /// Makes `change` to the data partition as one journaled step named
    /// `what` (crate::journal): its writes are held back, except whole
    /// sectors of clusters free when it began, and made at once when it
    /// returns. When it fails, nothing but free clusters was written.
    /// `free` reckons the volume's clusters, before and after.
    pub fn journaled<T>(&mut self, what: &str, free: FreeClusters, change: impl FnOnce(&mut Disk) -> Result<T>) -> Result<T> {
        let before = free(self)?;
        let clusters = Clusters { first_lba: self.partition.start_lba as u64 + before.heap_lba, sectors_per_cluster: before.sectors_per_cluster };
        self.overlay = Some(Overlay::new(what, clusters, before.count, &before.free));
        let done = change(self).and_then(|value| Ok((value, free(self)?.free)));
        let overlay = self.overlay.take();
        let (value, free_after) = done?;
        // The journal goes where nothing is before or after the change.
        let after: std::collections::HashSet<u32> = free_after.into_iter().collect();
        let spare: Vec<u32> = before.free.into_iter().filter(|c| after.contains(c)).collect();
        if let Some(overlay) = overlay {
            crate::journal::commit(&self.file, overlay, &spare, &self.path.display().to_string())?;
        }
        Ok(value)
    }
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

fn finish_interrupted(file: &File, what: &str) -> Result<()> {
    // A block device's metadata says 0 bytes: its size is where it ends.
    let mut end = file;
    let bytes = end.seek(SeekFrom::End(0)).map_err(Error::io(format!("seeking in {what}")))?;
    crate::journal::finish_interrupted(file, bytes, what).map(|_| ())
}

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
