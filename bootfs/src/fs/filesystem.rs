//! The data partition's filesystem, FAT32, exFAT or NTFS, found by its boot
//! sector whatever the partition type byte says; each variant is a
//! [`FileTree`] and maps its files to extents, and this enum only picks one.
//! Its error ([`FsError`]) is the sum of theirs, so it lives here, above
//! them, and the shared shape ([`crate::tree`]) names none of them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::block::{BlockDevice, IoError};
use crate::exfat::{is_exfat, Exfat};
use crate::extent::ExtentMap;
use crate::fat::{Fat32, FatError};
use crate::file::{ByteSource, MappedFile};
use crate::ntfs::{is_ntfs, Ntfs, NtfsError};
use crate::scan::{BootFile, ReadWhole};
use crate::tree::{DirEntry, FileTree, NodeId};

/// Why a filesystem could not be read: a read that failed, or what a
/// filesystem found wrong in its own structures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FsError {
    Io(IoError),
    /// FAT32 or exFAT.
    Fat(FatError),
    Ntfs(NtfsError),
}

impl FsError {
    /// True when the volume's own structures are wrong (a damaged stick),
    /// false for a read error or a file the filesystem keeps in a way the
    /// loader refuses (an NTFS-compressed or sparse file).
    pub fn is_damage(&self) -> bool {
        match self {
            FsError::Io(_) => false,
            FsError::Fat(_) => true,
            FsError::Ntfs(e) => e.is_damage(),
        }
    }
}

impl From<IoError> for FsError {
    fn from(e: IoError) -> Self {
        FsError::Io(e)
    }
}

impl From<FatError> for FsError {
    fn from(e: FatError) -> Self {
        match e {
            FatError::Io(io) => FsError::Io(io),
            other => FsError::Fat(other),
        }
    }
}

impl From<NtfsError> for FsError {
    fn from(e: NtfsError) -> Self {
        match e {
            NtfsError::Io(io) => FsError::Io(io),
            other => FsError::Ntfs(other),
        }
    }
}

impl core::fmt::Display for FsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FsError::Io(e) => write!(f, "{e}"),
            FsError::Fat(e) => write!(f, "{e}"),
            FsError::Ntfs(e) => write!(f, "{e}"),
        }
    }
}

pub enum Filesystem<D> {
    Fat32(Fat32<D>),
    Exfat(Exfat<D>),
    Ntfs(Ntfs<D>),
}

impl<D: BlockDevice> Filesystem<D> {
    /// Opens the volume whose boot sector is sector 0 of `dev`.
    pub fn open(mut dev: D) -> Result<Self, FsError> {
        let mut bs = [0u8; 512];
        dev.read_sectors(0, &mut bs)?;
        if is_exfat(&bs) {
            Ok(Filesystem::Exfat(Exfat::open(dev)?))
        } else if is_ntfs(&bs) {
            Ok(Filesystem::Ntfs(Ntfs::open(dev)?))
        } else {
            Ok(Filesystem::Fat32(Fat32::open(dev)?))
        }
    }

    /// "FAT32", "exFAT" or "NTFS".
    pub fn kind(&self) -> &'static str {
        match self {
            Filesystem::Fat32(_) => "FAT32",
            Filesystem::Exfat(_) => "exFAT",
            Filesystem::Ntfs(_) => "NTFS",
        }
    }

    /// Why the volume may not be as its last writer left it (an NTFS volume
    /// Windows left dirty or hibernated), for the menu's status row.
    pub fn warning(&self) -> Option<&'static str> {
        match self {
            Filesystem::Ntfs(fs) => fs.warning(),
            _ => None,
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Filesystem::Fat32(fs) => &fs.geometry.label,
            Filesystem::Exfat(fs) => &fs.label,
            Filesystem::Ntfs(fs) => &fs.label,
        }
    }

    /// One line on the volume's layout, for logs.
    pub fn describe(&self) -> String {
        match self {
            Filesystem::Fat32(fs) => {
                let g = &fs.geometry;
                format!("FAT32 \"{}\": {} clusters of {} bytes, data at sector {}", g.label, g.cluster_count, g.cluster_bytes(), g.data_start)
            }
            Filesystem::Exfat(fs) => {
                let g = &fs.geometry;
                format!("exFAT \"{}\": {} clusters of {} bytes, heap at sector {}", fs.label, g.cluster_count, fs.cluster_bytes(), g.heap_start)
            }
            Filesystem::Ntfs(fs) => format!("NTFS \"{}\": clusters of {} bytes", fs.label, fs.cluster_bytes()),
        }
    }

    pub fn device(&mut self) -> &mut D {
        match self {
            Filesystem::Fat32(fs) => fs.device(),
            Filesystem::Exfat(fs) => fs.device(),
            Filesystem::Ntfs(fs) => fs.device(),
        }
    }

    /// The whole of a small file (a configuration or checksum file); the
    /// caller bounds its size.
    pub fn read_whole(&mut self, file: &BootFile) -> Result<Vec<u8>, FsError> {
        if let Filesystem::Ntfs(fs) = self {
            return Ok(fs.read_file(file.node, file.size)?);
        }
        let map = self.extent_map(file)?;
        let len = usize::try_from(file.size).map_err(|_| FsError::Io(IoError { lba: 0, kind: crate::block::IoErrorKind::OutOfRange }))?;
        let mut bytes = alloc::vec![0u8; len];
        MappedFile { dev: self.device(), map, size: file.size }.read_at(0, &mut bytes)?;
        Ok(bytes)
    }

    /// Where `file` lies, in sectors of the volume.
    pub fn extent_map(&mut self, file: &BootFile) -> Result<ExtentMap, FsError> {
        let node = file.node;
        Ok(match self {
            Filesystem::Fat32(fs) => fs.extent_map(node.fat_cluster(), file.size)?,
            Filesystem::Exfat(fs) => fs.extent_map(node.fat_cluster(), file.size, node.fat_contiguous())?,
            Filesystem::Ntfs(fs) => fs.extent_map(file.node, file.size)?,
        })
    }

    /// Where the volume keeps `file`, in its own terms, for the details screen.
    pub fn locate(&self, file: &BootFile) -> String {
        match self {
            Filesystem::Fat32(_) | Filesystem::Exfat(_) => format!("first cluster {}", file.node.fat_cluster()),
            Filesystem::Ntfs(_) => format!("MFT record {}", file.node.ntfs_record()),
        }
    }
}

impl<D: BlockDevice> FileTree for Filesystem<D> {
    type Error = FsError;

    fn root(&self) -> NodeId {
        match self {
            Filesystem::Fat32(fs) => fs.root(),
            Filesystem::Exfat(fs) => fs.root(),
            Filesystem::Ntfs(fs) => fs.root(),
        }
    }

    fn read_root(&mut self) -> Result<Vec<DirEntry>, FsError> {
        Ok(match self {
            Filesystem::Fat32(fs) => fs.read_root()?,
            Filesystem::Exfat(fs) => fs.read_root()?,
            Filesystem::Ntfs(fs) => fs.read_root()?,
        })
    }

    fn read_subdir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FsError> {
        Ok(match self {
            Filesystem::Fat32(fs) => fs.read_subdir(dir)?,
            Filesystem::Exfat(fs) => fs.read_subdir(dir)?,
            Filesystem::Ntfs(fs) => fs.read_subdir(dir)?,
        })
    }

    fn same_name(&self, a: &str, b: &str) -> bool {
        match self {
            Filesystem::Ntfs(fs) => fs.same_name(a, b),
            _ => crate::text::eq_ignore_case(a, b),
        }
    }
}

impl<D: BlockDevice> ReadWhole for Filesystem<D> {
    fn read_whole(&mut self, file: &BootFile) -> Result<Vec<u8>, FsError> {
        Filesystem::read_whole(self, file)
    }
}
