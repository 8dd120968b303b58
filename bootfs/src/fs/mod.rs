//! The data partition's filesystems: the shape they all share ([`tree`]),
//! FAT32 ([`fat`]), exFAT ([`exfat`]), NTFS read-only ([`ntfs`]), the one a
//! partition holds and the sum of their errors ([`filesystem`]), and the
//! search for boot files ([`scan`]). Imports run one way: the members
//! import `tree`, `filesystem` imports the members, `tree` imports none of
//! them. A new filesystem is one more module here, one more
//! [`filesystem::Filesystem`] variant and one more [`filesystem::FsError`]
//! variant.

pub mod exfat;
pub mod fat;
pub mod filesystem;
pub mod ntfs;
pub mod scan;
pub mod tree;
