//! The stick as a disk: its layout and the stage2 header ([`layout`], the
//! one source of every layout number), the MBR ([`mbr`]), the read trait
//! every parser uses ([`block`]), where a file's pieces lie ([`extent`]),
//! reading a file by offset ([`file`]), the builder's journal record
//! ([`journal`]), and disk image files holding an installed system (raw,
//! fixed VHD, VDI, VHDX), where their virtual disk lies and its partitions
//! ([`vdisk`]).

pub mod block;
pub mod extent;
pub mod file;
pub mod journal;
pub mod layout;
pub mod mbr;
pub mod vdisk;
