//! The shape every data filesystem shares, whatever it is underneath: a
//! folder's entries ([`DirEntry`]), the handle by which a filesystem finds a
//! file or folder again ([`NodeId`]), and the walk the scan and path lookups
//! use ([`FileTree`]). FAT32, exFAT and NTFS implement it, each with its own
//! error; a new filesystem is one more implementation. This module names
//! none of them: the sum of their errors, `FsError`, lives in `filesystem`
//! beside the sum of the filesystems, so the members import this shape and
//! nothing here imports a member.

use alloc::string::String;
use alloc::vec::Vec;

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

/// A folder tree the scan and path lookups walk.
pub trait FileTree {
    /// Why a folder could not be read (the scan names it beside the
    /// folder it skipped).
    type Error: core::fmt::Display;

    /// The root folder's node (to refuse folder loops).
    fn root(&self) -> NodeId;
    fn read_root(&mut self) -> Result<Vec<DirEntry>, Self::Error>;
    fn read_subdir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, Self::Error>;

    /// True when the volume takes `a` and `b` for one name (FAT and exFAT:
    /// Unicode upper case; NTFS: the volume's own `$UpCase` table).
    fn same_name(&self, a: &str, b: &str) -> bool {
        crate::text::eq_ignore_case(a, b)
    }
}
