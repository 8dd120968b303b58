//! bootfs: every on-disk format dropboot reads or writes, in one place.
//!
//! `no_std` + `alloc`, so the same code runs in stage2 (32-bit bare metal)
//! and in the host builder and tests. Parsers take byte slices or a
//! [`BlockDevice`] and never trust a length or an offset read from the media:
//! every error says what was wrong and where.
//!
//! Rooms: [`layout`] (the disk layout and the stage2 header, the one source
//! of truth for stage1, stage2 and the builder), [`mbr`], [`block`] (the read
//! trait), [`tree`] (the shape every data filesystem shares: entries, nodes,
//! errors), [`fat`] (FAT32), [`exfat`], [`ntfs`] (read-only), [`filesystem`] (whichever
//! of them a partition holds), [`extent`] (file-to-disk maps), [`file`] (reading
//! a file by offset), [`iso9660`] and [`eltorito`] (CD images and their boot
//! catalog), [`iso_partition`] (the booted ISO as a partition for Linux), [`scan`] (finding boot files), [`json`] and [`config`] (the
//! configuration file and the menu it makes), [`sha256`] (checking a file
//! against its published digest), [`text`] (names on screens).
#![cfg_attr(not(any(feature = "std", test)), no_std)]

extern crate alloc;

pub mod block;
pub mod bootplan;
pub mod config;
pub mod diskimage;
pub mod eltorito;
pub mod exfat;
pub mod extent;
pub mod fat;
pub mod file;
pub mod filesystem;
#[cfg(any(feature = "fuzz", test))]
pub mod fuzz;
pub mod iso9660;
pub mod iso_partition;
pub mod journal;
pub mod json;
pub mod layout;
pub mod mbr;
pub mod ntfs;
pub mod scan;
pub mod sha256;
pub mod text;
pub mod tree;

pub use block::{BlockDevice, IoError, SECTOR_SIZE};
pub use extent::{Extent, ExtentMap};
