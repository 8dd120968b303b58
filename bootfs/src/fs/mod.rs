//! The data partition's filesystems: the shape they all share ([`tree`]),
//! FAT32 ([`fat`]), exFAT ([`exfat`]), NTFS read-only ([`ntfs`]), the one a
//! partition holds ([`filesystem`]) and the search for boot files
//! ([`scan`]). A new filesystem is one more module here and one more
//! [`filesystem::Filesystem`] variant.

pub mod exfat;
pub mod fat;
pub mod filesystem;
pub mod ntfs;
pub mod scan;
pub mod tree;
