//! The shape every data filesystem shares, whatever it is underneath: a
//! folder's entries ([`DirEntry`]), the handle by which a filesystem finds a
//! file or folder again ([`NodeId`]), its error ([`FsError`]), and the walk
//! the scan and path lookups use ([`FileTree`]). FAT32, exFAT and NTFS
//! implement it; a new filesystem is one more implementation.

use alloc::string::String;
use alloc::vec::Vec;

use crate::block::IoError;
use crate::fat::FatError;
use crate::ntfs::NtfsError;

/// Where the filesystem that listed a file or folder finds it again. Opaque
/// outside that filesystem: for FAT32 and exFAT it is the first cluster and
/// exFAT's NoFatChain flag, for NTFS the MFT record. [`NodeId::NONE`] names
/// nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u64);

const FAT_CONTIGUOUS: u64 = 1 << 32;

impl NodeId {
    pub const NONE: NodeId = NodeId(0);

    /// A FAT32 or exFAT node: its first cluster, and whether its clusters
    /// are consecutive with no FAT chain (exFAT's NoFatChain).
    pub fn fat(first_cluster: u32, contiguous: bool) -> NodeId {
        NodeId(first_cluster as u64 | if contiguous { FAT_CONTIGUOUS } else { 0 })
    }

    /// The first cluster of a FAT-family node (for FAT-family code only).
    pub fn fat_cluster(self) -> u32 {
        self.0 as u32
    }

    /// exFAT's NoFatChain flag of a FAT-family node.
    pub fn fat_contiguous(self) -> bool {
        self.0 & FAT_CONTIGUOUS != 0
    }

    /// An NTFS node: its MFT record number (48 bits).
    pub fn ntfs(record: u64) -> NodeId {
        NodeId(record & 0xFFFF_FFFF_FFFF)
    }

    /// The MFT record of an NTFS node (for NTFS code only).
    pub fn ntfs_record(self) -> u64 {
        self.0 & 0xFFFF_FFFF_FFFF
    }

    pub fn is_none(self) -> bool {
        self == NodeId::NONE
    }
}

/// One entry of a folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub node: NodeId,
}

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

/// A folder tree the scan and path lookups walk.
pub trait FileTree {
    /// The root folder's node (to refuse folder loops).
    fn root(&self) -> NodeId;
    fn read_root(&mut self) -> Result<Vec<DirEntry>, FsError>;
    fn read_subdir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FsError>;

    /// True when the volume takes `a` and `b` for one name (FAT and exFAT:
    /// Unicode upper case; NTFS: the volume's own `$UpCase` table).
    fn same_name(&self, a: &str, b: &str) -> bool {
        crate::text::eq_ignore_case(a, b)
    }
}
