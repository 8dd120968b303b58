//! bootfs: every on-disk format dropboot reads or writes, in one place.
//!
//! `no_std` + `alloc`, so the same code runs in stage2 (32-bit bare metal)
//! and in the host builder and tests. Parsers take byte slices or a
//! [`BlockDevice`] and never trust a length or an offset read from the media:
//! every error says what was wrong and where.
//!
//! Rooms, one folder each: [`disk`] (the stick's layout, MBR, the read
//! trait, extent maps, the journal record, installed-system disk images),
//! [`fs`] (the data filesystems and their shared shape, the boot-file scan),
//! [`cd`] (ISO9660 and El Torito), [`boot`] (the verdict on a boot file and
//! how it is presented), [`config`] (the configuration file and its JSON);
//! and four small ones: [`sha256`] (checking a file against its digest),
//! [`crc32`] (GPT's and VHDX's checksums), [`text`] (names on screens) and
//! `fuzz` (the fuzz targets' bodies). Each module is also re-exported at the
//! crate's root (`bootfs::fat`, ...), where the rest of dropboot uses it.
#![cfg_attr(not(any(feature = "std", test)), no_std)]

extern crate alloc;

pub mod boot;
pub mod cd;
pub mod config;
pub mod crc32;
pub mod disk;
pub mod fs;
#[cfg(any(feature = "fuzz", test))]
pub mod fuzz;
pub mod sha256;
pub mod text;

pub use boot::{added_files, additions, bootplan, cpio, diskimage, initrds, iso_partition};
pub use cd::{eltorito, iso9660, iso_tree};
pub use config::json;
pub use disk::{block, extent, file, journal, layout, mbr, vdisk};
pub use fs::{exfat, fat, filesystem, ntfs, scan, tree};

pub use block::{BlockDevice, IoError, SECTOR_SIZE};
pub use extent::{Extent, ExtentMap};
