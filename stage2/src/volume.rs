//! The data partition: found through the MBR, opened as exFAT, FAT32 or NTFS
//! (by its boot sector), scanned.

use alloc::format;
use alloc::string::String;

use alloc::vec::Vec;

use bootfs::block::Window;
use bootfs::config::{self, Loaded};
use bootfs::extent::ExtentMap;
use bootfs::file::MappedFile;
use bootfs::filesystem::{Filesystem, FsError};
use bootfs::mbr::{Mbr, MbrError};
use bootfs::scan::{self, BootFile, ReadWhole, ScanReport};
use bootfs::tree::{DirEntry, FileTree, NodeId};
use bootfs::BlockDevice;
use bootfs::IoError;

use crate::disk::{BiosDisk, ChsGeometry};

/// Why stage2 found no volume to list.
pub enum VolumeError {
    Read(IoError),
    PartitionTable(MbrError),
    NoDataPartition,
    UnknownFilesystem { index: usize, kind: u8 },
    Root(FsError),
}

impl core::fmt::Display for VolumeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VolumeError::Read(e) => write!(f, "Cannot read the boot disk: {e}."),
            VolumeError::PartitionTable(e) => write!(f, "The boot disk's partition table is damaged: {e}."),
            VolumeError::NoDataPartition => write!(f, "The boot disk has no data partition."),
            VolumeError::UnknownFilesystem { index, kind } => {
                write!(f, "Partition {} (type {kind:02X}h) is not exFAT, FAT32 or NTFS.", index + 1)
            }
            VolumeError::Root(e) => write!(f, "Cannot read the data partition's root folder: {e}."),
        }
    }
}

impl VolumeError {
    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            VolumeError::Read(_) => "The stick may be failing; try another port or another stick.",
            VolumeError::Root(_) => "Check the data partition with fsck.vfat or chkdsk.",
            _ => "Recreate the stick with `dropboot install`; it keeps nothing on a disk it was not told to.",
        }
    }
}

pub struct Volume {
    fs: Filesystem<Window<BiosDisk>>,
    /// The root folder's entries, once read (see [`KeptRoot`]).
    root: Option<Vec<DirEntry>>,
    /// Why the ISO partition entry of the last boot is still on the stick.
    pub undo_problem: Option<String>,
}

/// A file of the data partition, readable by offset.
pub type VolumeFile<'a> = MappedFile<&'a mut Window<BiosDisk>>;

impl Volume {
    pub fn open(drive: u8) -> Result<Volume, VolumeError> {
        let mut disk = BiosDisk::open(drive);
        if disk.extensions {
            // Reads of 128 sectors are checked later (disk.rs), and logged at the boot.
            crate::log!("disk {drive:02X}h: INT 13h extensions yes");
        } else {
            crate::log!("disk {drive:02X}h: INT 13h extensions no, using CHS");
        }
        // Two independent undos; this order leaves sector 0 in the bounce
        // buffer for the table read next (disk.rs).
        crate::added_files::undo_last(&mut disk);
        let undo_problem = crate::iso_partition::undo_last(&mut disk);
        let mut sector = [0u8; 512];
        disk.read_sectors(0, &mut sector).map_err(VolumeError::Read)?;
        let mbr = Mbr::parse(&sector).map_err(VolumeError::PartitionTable)?;
        let (index, part) = mbr.data_partition().ok_or(VolumeError::NoDataPartition)?;
        crate::log!("data partition {}: type {:02X}h, sectors {}+{}", index + 1, part.kind, part.start_lba, part.sectors);
        let window = Window { dev: disk, start: part.start_lba as u64, sectors: part.sectors as u64 };
        let fs = Filesystem::open(window).map_err(|why| match why {
            FsError::Io(e) => VolumeError::Read(e),
            why => {
                crate::log!("partition {}: {why}", index + 1);
                VolumeError::UnknownFilesystem { index, kind: part.kind }
            }
        })?;
        crate::log!("{}", fs.describe());
        Ok(Volume { fs, root: None, undo_problem })
    }

    /// The filesystem, through the root's kept listing.
    fn tree(&mut self) -> KeptRoot<'_> {
        KeptRoot { fs: &mut self.fs, root: &mut self.root }
    }

    pub fn scan(&mut self) -> Result<ScanReport, VolumeError> {
        scan::scan(&mut self.tree()).map_err(|e| match e {
            FsError::Io(e) => VolumeError::Read(e),
            e => VolumeError::Root(e),
        })
    }

    /// The configuration file, if the stick has one.
    pub fn load_config(&mut self) -> Result<Option<Loaded>, FsError> {
        config::load(&mut self.tree())
    }

    /// The entries of a folder by full path; `None` if there is no such folder.
    pub fn list_dir(&mut self, path: &str) -> Result<Option<Vec<DirEntry>>, FsError> {
        scan::list_dir(&mut self.tree(), path)
    }

    /// The file at `path` (full, from the root), if it is there.
    pub fn find_file(&mut self, path: &str) -> Result<Option<BootFile>, FsError> {
        scan::find_file(&mut self.tree(), path)
    }

    /// The whole of a small file (the caller bounds its size).
    pub fn read_whole(&mut self, file: &BootFile) -> Result<Vec<u8>, FsError> {
        self.fs.read_whole(file)
    }

    pub fn extent_map(&mut self, file: &BootFile) -> Result<ExtentMap, FsError> {
        self.fs.extent_map(file)
    }

    /// Why the volume may not be as its last writer left it, if it may not.
    pub fn warning(&self) -> Option<&'static str> {
        self.fs.warning()
    }

    /// Where the volume keeps `file`, in its own terms ("first cluster N").
    pub fn locate(&self, file: &BootFile) -> String {
        self.fs.locate(file)
    }

    /// `file` as a byte source (its extents are partition-relative).
    pub fn open_file(&mut self, file: &BootFile) -> Result<VolumeFile<'_>, FsError> {
        let map = self.extent_map(file)?;
        Ok(MappedFile { dev: self.fs.device(), map, size: file.size })
    }

    /// First sector of the data partition on the disk.
    pub fn partition_start(&mut self) -> u64 {
        self.fs.device().start
    }

    /// The whole disk.
    pub fn disk(&mut self) -> &mut BiosDisk {
        &mut self.fs.device().dev
    }

    /// The BIOS drive number of the disk.
    pub fn drive(&mut self) -> u8 {
        self.fs.device().dev.drive
    }

    /// The disk's geometry when the BIOS reads it only by CHS (no INT
    /// 13h extensions).
    pub fn chs_geometry(&mut self) -> Option<ChsGeometry> {
        self.fs.device().dev.chs_geometry()
    }

    /// "FAT32 "LABEL"" or "exFAT "LABEL"" for the title bar.
    pub fn describe(&self) -> String {
        match self.fs.label() {
            "" | "NO NAME" => String::from(self.fs.kind()),
            label => format!("{} \"{label}\"", self.fs.kind()),
        }
    }
}

/// The data filesystem with its root folder's listing kept after the first
/// read. The scan, both configuration paths and every later lookup start
/// at the root, and stage2 never writes to the volume, so the listing stays
/// true. On a FAT32 stick of 200 folders the root is some 25 clusters
/// scattered among the folders' own, each one BIOS call.
struct KeptRoot<'a> {
    fs: &'a mut Filesystem<Window<BiosDisk>>,
    root: &'a mut Option<Vec<DirEntry>>,
}

impl FileTree for KeptRoot<'_> {
    type Error = FsError;

    fn root(&self) -> NodeId {
        self.fs.root()
    }

    fn read_root(&mut self) -> Result<Vec<DirEntry>, FsError> {
        if let Some(root) = self.root {
            return Ok(root.clone());
        }
        let root = self.fs.read_root()?;
        *self.root = Some(root.clone());
        Ok(root)
    }

    fn read_subdir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FsError> {
        self.fs.read_subdir(dir)
    }

    fn same_name(&self, a: &str, b: &str) -> bool {
        self.fs.same_name(a, b)
    }
}

impl ReadWhole for KeptRoot<'_> {
    fn read_whole(&mut self, file: &BootFile) -> Result<Vec<u8>, FsError> {
        self.fs.read_whole(file)
    }
}
