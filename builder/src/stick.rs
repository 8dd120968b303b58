//! One stick (a USB disk or an image file) as the builder holds it: its
//! path, for messages; the open file; the lock that makes this dropboot
//! its one writer or one of its readers; its length; and the data
//! partition its sector 0 names. Opened in one place ([`Stick::open`],
//! [`Stick::create`]) and passed whole to the code that reads and writes
//! the boot area (bootcode, iso_partition, journal, image) and to
//! [`crate::image::Disk`].

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bootfs::mbr::{Mbr, MbrError, PartitionEntry};

use crate::error::{Error, Result};

/// The lock a stick is held with (flock on its file): taken when it is
/// opened, never waited for, let go when the file closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Shared, for a reader (list, check, info): refused while a writer
    /// holds the stick.
    Read,
    /// Exclusive, for the one writer: refused while anyone else holds it.
    Write,
}

/// Why sector 0 names no data partition.
#[derive(Debug)]
pub enum NoPartition {
    /// Sector 0 could not be read (a disk shorter than one sector): the
    /// error as the read gave it, kept to be told when a partition is
    /// asked for (a disk too small for dropboot says so first).
    Unreadable(io::ErrorKind, String),
    /// It holds no partition table.
    NoTable(MbrError),
    /// Its table has no data partition.
    NoData,
}

/// An open, locked stick.
pub struct Stick {
    path: PathBuf,
    /// The path as messages show it.
    what: String,
    file: File,
    lock: Lock,
    /// Its length in bytes, when it was opened.
    bytes: u64,
    /// The data partition sector 0 names, as this stick last read or
    /// wrote that sector ([`Stick::read_partition`]).
    partition: std::result::Result<PartitionEntry, NoPartition>,
}

impl Stick {
    /// Opens an image file or a block device, with `lock`. A writer opens
    /// a block device exclusively too (O_EXCL: it fails while mounted or
    /// in use). Either lock is refused, in words naming the holder, while
    /// another dropboot holds the stick in a way that excludes it.
    pub fn open(path: &Path, lock: Lock) -> Result<Stick> {
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        let what = path.display().to_string();
        let missing = |e: io::Error, doing: &str| match e.kind() {
            io::ErrorKind::NotFound => Error::Usage(format!("no such image or device: {what}")),
            _ => Error::io(format!("{doing} {what}"))(e),
        };
        let file = match lock {
            Lock::Read => File::open(path).map_err(|e| missing(e, "opening"))?,
            Lock::Write => {
                let meta = std::fs::metadata(path).map_err(|e| missing(e, "looking at"))?;
                let mut options = OpenOptions::new();
                options.read(true).write(true);
                if meta.file_type().is_block_device() {
                    options.custom_flags(libc::O_EXCL);
                }
                match options.open(path) {
                    Ok(file) => file,
                    // O_EXCL on a device: mounted, or open in another program (a
                    // dropboot among them, named when its lock says so).
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        let holder = File::open(path).ok().and_then(|f| lock_holder(&f));
                        let who = holder.map(|h| format!(" ({h})")).unwrap_or_default();
                        return Err(Error::Disk { path: path.into(), problem: format!("it is mounted or in use{who}; nothing was written") });
                    }
                    Err(e) => return Err(Error::io(format!("opening {what}"))(e)),
                }
            }
        };
        take_lock(&file, lock, &what)?;
        Stick::held(path, file, lock)
    }

    /// Makes a new image file of `bytes` (rounded down to whole sectors;
    /// sparse, all zeros), held as its writer from before its first byte.
    /// It must not exist.
    pub fn create(path: &Path, bytes: u64) -> Result<Stick> {
        let file =
            OpenOptions::new().read(true).write(true).create_new(true).open(path).map_err(Error::io(format!("creating {}", path.display())))?;
        let what = path.display().to_string();
        take_lock(&file, Lock::Write, &what)?;
        file.set_len(bytes / 512 * 512).map_err(Error::io(format!("sizing {what}")))?;
        Stick::held(path, file, Lock::Write)
    }

    /// `file`, open as `path` and holding `lock`: its length measured and
    /// its data partition found.
    fn held(path: &Path, mut file: File, lock: Lock) -> Result<Stick> {
        let what = path.display().to_string();
        // A block device's metadata says 0 bytes: its size is where it ends.
        let bytes = file.seek(SeekFrom::End(0)).map_err(Error::io(format!("seeking in {what}")))?;
        let partition = find_partition(&file);
        Ok(Stick { path: path.into(), what, file, lock, bytes, partition })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as messages show it.
    pub fn what(&self) -> &str {
        &self.what
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    pub fn lock(&self) -> Lock {
        self.lock
    }

    /// Its length in bytes, as it was when it was opened.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// An I/O error on this stick as the builder reports it: `doing` and
    /// the path ("reading the MBR of" becomes "reading the MBR of
    /// stick.img: ...").
    pub fn io(&self, doing: &str) -> impl FnOnce(io::Error) -> Error {
        Error::io(format!("{doing} {}", self.what))
    }

    /// Finds the data partition in sector 0 as it is on the disk now: run
    /// when the stick is opened, and by whatever writes sector 0 or may
    /// have (laying a disk out, undoing an ISO partition entry, writing
    /// stage1, finishing a journaled change).
    pub fn read_partition(&mut self) {
        self.partition = find_partition(&self.file);
    }

    /// The data partition sector 0 names, or why it names none.
    pub fn data_partition(&self) -> std::result::Result<PartitionEntry, &NoPartition> {
        self.partition.as_ref().copied()
    }

    /// The data partition, or an error saying why there is none.
    pub fn partition(&self) -> Result<PartitionEntry> {
        self.data_partition().map_err(|why| match why {
            NoPartition::Unreadable(kind, text) => self.io("reading the MBR of")(io::Error::new(*kind, text.clone())),
            NoPartition::NoTable(e) => Error::disk(&self.path, e),
            NoPartition::NoData => Error::disk(&self.path, "no data partition"),
        })
    }

    /// Lets the file (and its lock) pass to the program this process
    /// becomes by exec.
    pub fn keep_across_exec(&self) -> Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: F_SETFD on a descriptor `self.file` owns; it only clears FD_CLOEXEC.
        if unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETFD, 0) } != 0 {
            return Err(Error::io(format!("keeping {} locked for QEMU", self.what))(io::Error::last_os_error()));
        }
        Ok(())
    }
}

/// The data partition sector 0 of `file` names, or why it names none.
fn find_partition(file: &File) -> std::result::Result<PartitionEntry, NoPartition> {
    let mut sector = [0u8; 512];
    if let Err(e) = file.read_exact_at(&mut sector, 0) {
        return Err(NoPartition::Unreadable(e.kind(), e.to_string()));
    }
    let mbr = Mbr::parse(&sector).map_err(NoPartition::NoTable)?;
    mbr.data_partition().map(|(_, p)| p).ok_or(NoPartition::NoData)
}

/// Takes `file`'s lock (flock): exclusive for a writer, shared for a
/// reader, never waiting. Held until the file is closed. When another
/// dropboot holds it, the error names that process (from /proc/locks).
fn take_lock(file: &File, lock: Lock, what: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    let how = match lock {
        Lock::Read => libc::LOCK_SH,
        Lock::Write => libc::LOCK_EX,
    };
    // SAFETY: flock on a descriptor this function's caller owns.
    if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
        return Err(Error::io(format!("locking {what}"))(e));
    }
    let holder = lock_holder(file).unwrap_or_else(|| "another process".into());
    let problem = match lock {
        Lock::Write => format!("{holder} is using it; one dropboot writes to a stick at a time, so nothing was written (try again when it is done)"),
        Lock::Read => format!("{holder} is writing to it; list, check and info read it when that is done"),
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
