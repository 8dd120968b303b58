//! Installed-system disk images: where, inside an image file, the virtual
//! disk's sector 0 lies and how long the disk is, and the partitions on it.
//!
//! The loader boots an installed system from an image file as emulated hard
//! disk 80h, and shows the image's partitions to the system's kernel as MBR
//! entries of the stick (DESIGN.md D8). That needs the virtual disk to be
//! one run of bytes in the file, in disk order. [`recognize`] tells, from
//! the file's content alone (never its name), whether it is:
//! - a raw image (sector 0 ends in 55AA): the disk is the file;
//! - a fixed VHD: the disk is the file less its 512-byte footer;
//! - a static VDI whose block map is the identity: the disk starts at the
//!   data offset its header gives;
//! - a fixed VHDX whose block table puts every payload block right after the
//!   one before: the disk starts at the first block.
//!
//! Dynamic and differencing images, fixed ones with blocks out of order, and
//! qcow2 or VMDK files are refused with a [`VdiskRefusal`] whose sentence
//! names the fix. Ventoy's `.vtoy` files are one of these formats. The
//! dynamic and out-of-order ones can be made fixed as they are copied
//! ([`fixed`], for `dropboot add`).
//!
//! [`partitions`] then reads the virtual disk's table: MBR primaries, each
//! extended container as one entry (the loader shows it as one entry of its
//! own type: the chain of EBRs inside is relative to it, so Linux finds the
//! logical partitions unchanged), the logical partitions numbered 5... as
//! Linux numbers them (`block/partitions/msdos.c`, `parse_extended`), or
//! the GPT's entries numbered by their index + 1.
//!
//! Every length and offset read from the file is checked against the file
//! (and the virtual disk) before it is used, with checked arithmetic; long
//! tables (a VDI block map, a VHDX block table, a GPT entry array) are read
//! a chunk at a time, never whole into memory.

use alloc::vec;
use alloc::vec::Vec;

use crate::block::{IoError, IoErrorKind, SECTOR_SIZE};
use crate::crc32::{crc32c, Crc32};
use crate::file::ByteSource;
use crate::mbr::{entry_range, ptype, Mbr, MbrError};

pub mod fixed;

pub use fixed::{Conversion, Piece};

const SECTOR: u64 = SECTOR_SIZE as u64;

/// What kind of image file holds the virtual disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VdiskFormat {
    Raw,
    FixedVhd,
    StaticVdi,
    FixedVhdx,
}

impl VdiskFormat {
    pub fn name(self) -> &'static str {
        match self {
            VdiskFormat::Raw => "raw disk image",
            VdiskFormat::FixedVhd => "fixed VHD",
            VdiskFormat::StaticVdi => "fixed VDI",
            VdiskFormat::FixedVhdx => "fixed VHDX",
        }
    }
}

/// Where the virtual disk lies in the file: `data_bytes` from byte
/// `data_start` on, both whole sectors, inside the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vdisk {
    pub format: VdiskFormat,
    /// Byte offset in the file of the virtual disk's sector 0.
    pub data_start: u64,
    /// The virtual disk's size in bytes.
    pub data_bytes: u64,
}

impl Vdisk {
    /// The virtual disk's size in sectors.
    pub fn sectors(&self) -> u64 {
        self.data_bytes / SECTOR
    }

    /// The virtual disk's bytes, read through the file `src`.
    pub fn contents<'a, S: ByteSource + ?Sized>(&self, src: &'a mut S) -> Contents<'a, S> {
        Contents { src, start: self.data_start, bytes: self.data_bytes }
    }
}

/// A virtual disk's bytes as a [`ByteSource`]: offset 0 is its sector 0.
pub struct Contents<'a, S: ?Sized> {
    src: &'a mut S,
    start: u64,
    bytes: u64,
}

impl<S: ByteSource + ?Sized> ByteSource for Contents<'_, S> {
    fn len(&self) -> u64 {
        self.bytes
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let past = IoError { lba: offset / SECTOR, kind: IoErrorKind::OutOfRange };
        if offset.checked_add(buf.len() as u64).is_none_or(|end| end > self.bytes) {
            return Err(past);
        }
        self.src.read_at(self.start.checked_add(offset).ok_or(past)?, buf)
    }
}

/// Why an image file cannot be booted in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VdiskRefusal {
    /// Blocks are stored as they are first written, not in disk order.
    Dynamic { format: &'static str },
    /// Only the changes to a parent image.
    Differencing { format: &'static str },
    /// A fixed image whose blocks are not stored in disk order.
    NotInOrder { format: &'static str },
    /// A VHDX whose log holds changes not yet written into it.
    LogNotReplayed,
    /// A valid image of a kind dropboot does not boot (`what` says which).
    Unsupported { format: &'static str, what: &'static str },
    /// A structure of the format is wrong (`what` says which).
    Damaged { format: &'static str, what: &'static str },
    /// A qcow2 or VMDK file: no run of bytes in it is the disk.
    OtherFormat { format: &'static str },
    /// None of these formats, and no boot signature in the first sector.
    NotADisk,
    /// The file could not be read.
    Read(IoError),
}

impl From<IoError> for VdiskRefusal {
    fn from(e: IoError) -> Self {
        VdiskRefusal::Read(e)
    }
}

/// The command that makes an image dropboot boots, in every refusal that
/// needs one.
const CONVERT: &str = "qemu-img convert -O raw FILE NEW.img";

/// The fix for an image whose blocks are not in disk order: `dropboot add`
/// makes it fixed as it copies it ([`fixed`]), and a raw copy boots too.
const ADD_MAKES_FIXED: &str = "copy it with dropboot add, which makes it fixed, or boot a raw copy (qemu-img convert -O raw FILE NEW.img)";

impl core::fmt::Display for VdiskRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VdiskRefusal::Dynamic { format } => write!(
                f,
                "it is a dynamic {format}, whose blocks lie in the order they were written, so it cannot be booted in place; {ADD_MAKES_FIXED}"
            ),
            VdiskRefusal::Differencing { format } => write!(
                f,
                "it is a differencing {format}, which holds only the changes to another image; make a raw copy of the two together ({CONVERT}) and boot that"
            ),
            VdiskRefusal::NotInOrder { format } => write!(
                f,
                "it is a fixed {format} whose blocks are not stored in disk order, so it cannot be booted in place; {ADD_MAKES_FIXED}"
            ),
            VdiskRefusal::LogNotReplayed => write!(
                f,
                "it is a VHDX that was not closed cleanly (its log holds changes not yet written into it); attach it once in Windows, or run qemu-img check -r all FILE, then try again"
            ),
            VdiskRefusal::Unsupported { format, what } => {
                write!(f, "it is a {format} with {what}, which dropboot cannot boot; make a raw copy ({CONVERT}) and boot that")
            }
            VdiskRefusal::Damaged { format, what } => {
                write!(f, "it is a damaged {format}: {what}; check it with qemu-img check FILE, or copy it again")
            }
            VdiskRefusal::OtherFormat { format } => {
                write!(f, "it is a {format} image, which cannot be booted in place; make a raw copy ({CONVERT}) and boot that")
            }
            VdiskRefusal::NotADisk => write!(
                f,
                "it is not a disk image: not a VHD, VDI or VHDX, and its first sector has no boot signature (55AA); is it a disk image at all?"
            ),
            VdiskRefusal::Read(e) => write!(f, "{e}"),
        }
    }
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5], b[o + 6], b[o + 7]])
}

fn be32_at(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn be64_at(b: &[u8], o: usize) -> u64 {
    u64::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5], b[o + 6], b[o + 7]])
}

/// A GUID as GPT and VHDX store it: its first three fields little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub const ZERO: Guid = Guid([0; 16]);

    /// The GUID written `AAAAAAAA-BBBB-CCCC-DDDD-DDDDDDDDDDDD` as the fields
    /// `(0xAAAAAAAA, 0xBBBB, 0xCCCC, 0xDDDD_DDDDDDDDDDDD)`.
    pub const fn from_fields(a: u32, b: u16, c: u16, d: u64) -> Guid {
        let (a, b, c, d) = (a.to_le_bytes(), b.to_le_bytes(), c.to_le_bytes(), d.to_be_bytes());
        Guid([a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }

    fn at(b: &[u8], o: usize) -> Guid {
        let mut g = [0u8; 16];
        g.copy_from_slice(&b[o..o + 16]);
        Guid(g)
    }
}

impl core::fmt::Display for Guid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let g = &self.0;
        let d = u64::from_be_bytes([g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]]);
        write!(f, "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}", u32_at(g, 0), u16_at(g, 4), u16_at(g, 6), d >> 48, d & 0xFFFF_FFFF_FFFF)
    }
}

/// A table in the file (a block map, a block table, a GPT entry array),
/// read a chunk at a time so a long one takes few reads and little memory.
struct Table {
    offset: u64,
    bytes: u64,
    chunk: Vec<u8>,
    loaded: Option<u64>,
}

/// Bytes a [`Table`] reads at once.
const TABLE_CHUNK: u64 = 4096;

impl Table {
    /// The table of `bytes` at `offset`, which the caller has checked lie
    /// inside the file.
    fn new(offset: u64, bytes: u64) -> Table {
        Table { offset, bytes, chunk: Vec::new(), loaded: None }
    }

    /// The `width` bytes at `pos`; `width` divides [`TABLE_CHUNK`] and `pos`
    /// is a multiple of it, so they lie in one chunk.
    fn get(&mut self, src: &mut (impl ByteSource + ?Sized), pos: u64, width: usize) -> Result<&[u8], IoError> {
        let past = IoError { lba: self.offset.saturating_add(pos) / SECTOR, kind: IoErrorKind::OutOfRange };
        if pos.checked_add(width as u64).is_none_or(|end| end > self.bytes) {
            return Err(past);
        }
        let base = pos - pos % TABLE_CHUNK;
        if self.loaded != Some(base) {
            self.chunk.resize(TABLE_CHUNK.min(self.bytes - base) as usize, 0);
            src.read_at(self.offset + base, &mut self.chunk)?;
            self.loaded = Some(base);
        }
        let at = (pos - base) as usize;
        self.chunk.get(at..at + width).ok_or(past)
    }
}

/// Whether `bytes` at `offset` lie inside a file of `file_bytes`.
fn inside(offset: u64, bytes: u64, file_bytes: u64) -> bool {
    offset.checked_add(bytes).is_some_and(|end| end <= file_bytes)
}

/// Whether `[a, a + a_len)` and `[b, b + b_len)` share a byte.
fn overlap(a: u64, a_len: u64, b: u64, b_len: u64) -> bool {
    a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

/// The header a file's first sector starts: a VHDX's file identifier, a
/// VDI's header, or a copy of a (dynamic or differencing) VHD's footer.
pub(crate) enum Header {
    Vhdx,
    Vdi,
    VhdFooter,
    None,
}

/// The length of the file `src`, its first sector, and the header that
/// sector starts; a file shorter than a sector is no disk.
pub(crate) fn first_sector(src: &mut (impl ByteSource + ?Sized)) -> Result<(u64, [u8; SECTOR_SIZE], Header), VdiskRefusal> {
    let file_bytes = src.len();
    if file_bytes < SECTOR {
        return Err(VdiskRefusal::NotADisk);
    }
    let mut first = [0u8; SECTOR_SIZE];
    src.read_at(0, &mut first)?;
    let header = if &first[..8] == VHDX_SIGNATURE {
        Header::Vhdx
    } else if u32_at(&first, VDI_SIGNATURE_OFFSET) == VDI_SIGNATURE {
        Header::Vdi
    } else if &first[..8] == VHD_COOKIE {
        Header::VhdFooter
    } else {
        Header::None
    };
    Ok((file_bytes, first, header))
}

/// What the file `src` holds: where its virtual disk lies, or why it cannot
/// be booted in place. Judged by content alone; the length is `src.len()`.
pub fn recognize(src: &mut (impl ByteSource + ?Sized)) -> Result<Vdisk, VdiskRefusal> {
    let (file_bytes, first, header) = first_sector(src)?;
    match header {
        Header::Vhdx => return vhdx(src, file_bytes),
        Header::Vdi => return vdi(src, &first, file_bytes),
        // Dynamic and differencing VHDs start with a copy of their footer.
        Header::VhdFooter => {
            return match vhd_disk_type(&first)? {
                VHD_DYNAMIC => Err(VdiskRefusal::Dynamic { format: "VHD" }),
                VHD_DIFFERENCING => Err(VdiskRefusal::Differencing { format: "VHD" }),
                _ => Err(VdiskRefusal::Damaged { format: "VHD", what: "it starts with a footer, but not one of a dynamic disk" }),
            }
        }
        Header::None => {}
    }
    if &first[..4] == b"QFI\xfb" {
        return Err(VdiskRefusal::OtherFormat { format: "qcow2" });
    }
    if &first[..4] == b"KDMV" {
        return Err(VdiskRefusal::OtherFormat { format: "VMDK" });
    }
    let mut last = [0u8; SECTOR_SIZE];
    src.read_at(file_bytes - SECTOR, &mut last)?;
    if &last[..8] == VHD_COOKIE {
        return fixed_vhd(&last, file_bytes);
    }
    if first[510..] == [0x55, 0xAA] {
        return Ok(Vdisk { format: VdiskFormat::Raw, data_start: 0, data_bytes: file_bytes - file_bytes % SECTOR });
    }
    Err(VdiskRefusal::NotADisk)
}

// ---- VHD: a 512-byte big-endian footer ("conectix") ----

const VHD_COOKIE: &[u8; 8] = b"conectix";
const VHD_CURRENT_SIZE: usize = 0x30;
const VHD_DISK_TYPE: usize = 0x3C;
const VHD_CHECKSUM: usize = 0x40;
const VHD_FIXED: u32 = 2;
const VHD_DYNAMIC: u32 = 3;
const VHD_DIFFERENCING: u32 = 4;

/// A VHD footer's or dynamic header's checksum: the one's complement of
/// the byte sum of `bytes`, the 4-byte checksum field at `field` left out.
fn vhd_checksum(bytes: &[u8], field: usize) -> u32 {
    let field = field..field + 4;
    !bytes.iter().enumerate().filter(|(i, _)| !field.contains(i)).fold(0u32, |s, (_, &b)| s.wrapping_add(b as u32))
}

/// The disk type of a footer whose checksum is right.
fn vhd_disk_type(footer: &[u8; SECTOR_SIZE]) -> Result<u32, VdiskRefusal> {
    if vhd_checksum(footer, VHD_CHECKSUM) != be32_at(footer, VHD_CHECKSUM) {
        return Err(VdiskRefusal::Damaged { format: "VHD", what: "its footer's checksum is wrong" });
    }
    Ok(be32_at(footer, VHD_DISK_TYPE))
}

/// A file ending in a VHD footer: a fixed VHD is its data, then the footer.
fn fixed_vhd(footer: &[u8; SECTOR_SIZE], file_bytes: u64) -> Result<Vdisk, VdiskRefusal> {
    const F: &str = "VHD";
    match vhd_disk_type(footer)? {
        VHD_FIXED => {}
        VHD_DYNAMIC => return Err(VdiskRefusal::Dynamic { format: F }),
        VHD_DIFFERENCING => return Err(VdiskRefusal::Differencing { format: F }),
        _ => return Err(VdiskRefusal::Damaged { format: F, what: "its footer gives an unknown disk type" }),
    }
    if file_bytes % SECTOR != 0 {
        return Err(VdiskRefusal::Damaged { format: F, what: "its length is not a whole number of sectors" });
    }
    let data_bytes = file_bytes - SECTOR;
    if be64_at(footer, VHD_CURRENT_SIZE) > data_bytes {
        return Err(VdiskRefusal::Damaged { format: F, what: "its footer gives a disk larger than the file; is it truncated?" });
    }
    Ok(Vdisk { format: VdiskFormat::FixedVhd, data_start: 0, data_bytes })
}

// ---- VDI: VirtualBox's header (QEMU block/vdi.c, VdiHeader) ----

const VDI_SIGNATURE_OFFSET: usize = 0x40;
const VDI_SIGNATURE: u32 = 0xBEDA_107F;
/// Version 1.1, the only one QEMU and VirtualBox write.
const VDI_VERSION_1_1: u32 = 0x0001_0001;
/// Where the header's size field counts from.
const VDI_HEADER_START: u64 = 0x48;
/// The header's bytes up to and including the parent's UUID (VDIHEADER1).
const VDI_HEADER_MIN: u32 = 0x180;
const VDI_DYNAMIC: u32 = 1;
const VDI_STATIC: u32 = 2;
const VDI_UNDO: u32 = 3;
const VDI_DIFF: u32 = 4;

/// What a VDI's header says, checked: version 1.1, 512-byte sectors, no
/// extra bytes before each block, blocks and data on sectors, a block map
/// long enough for the disk, lying between the header and the data.
pub(crate) struct VdiHeader {
    /// Dynamic ("normal"); else static.
    pub dynamic: bool,
    /// Where the header's size field says it ends.
    pub header_end: u64,
    pub map_at: u64,
    pub data_at: u64,
    /// The disk's size, rounded up to whole sectors.
    pub disk_bytes: u64,
    pub block_bytes: u64,
    pub blocks: u64,
}

/// The header of a VDI file, from its first sector `h`; a differencing
/// (undo, diff, or with a parent) one is refused.
pub(crate) fn vdi_header(h: &[u8; SECTOR_SIZE]) -> Result<VdiHeader, VdiskRefusal> {
    const F: &str = "VDI";
    let damaged = |what| VdiskRefusal::Damaged { format: F, what };
    if u32_at(h, 0x44) != VDI_VERSION_1_1 {
        return Err(VdiskRefusal::Unsupported { format: F, what: "a header version other than 1.1" });
    }
    let header_size = u32_at(h, 0x48);
    if header_size < VDI_HEADER_MIN {
        return Err(damaged("its header is too short"));
    }
    let dynamic = match u32_at(h, 0x4C) {
        VDI_STATIC => false,
        VDI_DYNAMIC => true,
        VDI_UNDO | VDI_DIFF => return Err(VdiskRefusal::Differencing { format: F }),
        _ => return Err(damaged("its header gives an unknown image type")),
    };
    if Guid::at(h, 0x1B8) != Guid::ZERO {
        return Err(VdiskRefusal::Differencing { format: F });
    }
    let (map_at, data_at) = (u32_at(h, 0x154) as u64, u32_at(h, 0x158) as u64);
    let sector_size = u32_at(h, 0x168);
    let (disk_size, block_bytes, block_extra, blocks) = (u64_at(h, 0x170), u32_at(h, 0x178) as u64, u32_at(h, 0x17C), u32_at(h, 0x180) as u64);
    if sector_size != SECTOR_SIZE as u32 {
        return Err(VdiskRefusal::Unsupported { format: F, what: "sectors other than 512 bytes" });
    }
    if block_extra != 0 {
        return Err(VdiskRefusal::Unsupported { format: F, what: "extra data before each block" });
    }
    if block_bytes == 0 || block_bytes % SECTOR != 0 || map_at % SECTOR != 0 || data_at % SECTOR != 0 {
        return Err(damaged("its blocks, block map or data do not start on a sector"));
    }
    // VBoxManage may write a size that is no whole number of sectors; QEMU
    // rounds it up, and so do we.
    let disk_bytes = disk_size.checked_next_multiple_of(SECTOR).ok_or(damaged("its disk size is too large"))?;
    if blocks * block_bytes < disk_bytes {
        return Err(damaged("its block map is too short for its disk size"));
    }
    let header_end = VDI_HEADER_START + header_size as u64;
    if map_at < header_end || !inside(map_at, blocks * 4, data_at) {
        return Err(damaged("its block map does not lie between its header and its data"));
    }
    Ok(VdiHeader { dynamic, header_end, map_at, data_at, disk_bytes, block_bytes, blocks })
}

/// A VDI file: static, and block map entry i == i for every block.
fn vdi(src: &mut (impl ByteSource + ?Sized), h: &[u8; SECTOR_SIZE], file_bytes: u64) -> Result<Vdisk, VdiskRefusal> {
    const F: &str = "VDI";
    let v = vdi_header(h)?;
    if v.dynamic {
        return Err(VdiskRefusal::Dynamic { format: F });
    }
    if !inside(v.data_at, v.disk_bytes, file_bytes) {
        return Err(VdiskRefusal::Damaged { format: F, what: "its data runs past the end of the file; is it truncated?" });
    }
    let mut map = Table::new(v.map_at, v.blocks * 4);
    for i in 0..v.blocks {
        if u32_at(map.get(src, i * 4, 4)?, 0) as u64 != i {
            return Err(VdiskRefusal::NotInOrder { format: F });
        }
    }
    Ok(Vdisk { format: VdiskFormat::StaticVdi, data_start: v.data_at, data_bytes: v.disk_bytes })
}

// ---- VHDX: headers, region table, metadata, block table (MS-VHDX; QEMU
// block/vhdx.h) ----

const VHDX_SIGNATURE: &[u8; 8] = b"vhdxfile";
/// The header section: file identifier, two headers, region table.
const VHDX_HEADER_SECTION: u64 = 1 << 20;
const VHDX_HEADERS: [u64; 2] = [64 << 10, 128 << 10];
const VHDX_HEADER_BYTES: usize = 4096;
const VHDX_REGION_TABLE: u64 = 192 << 10;
const VHDX_REGION_TABLE_BYTES: usize = 64 << 10;
const VHDX_MAX_ENTRIES: u32 = 2047;
const VHDX_BAT: Guid = Guid::from_fields(0x2DC2_7766, 0xF623, 0x4200, 0x9D64_115E_9BFD_4A08);
const VHDX_METADATA: Guid = Guid::from_fields(0x8B7C_A206, 0x4790, 0x4B9A, 0xB8FE_575F_050F_886E);
const VHDX_FILE_PARAMETERS: Guid = Guid::from_fields(0xCAA1_6737, 0xFA36, 0x4D43, 0xB3B6_33F0_AA44_E76B);
const VHDX_VIRTUAL_DISK_SIZE: Guid = Guid::from_fields(0x2FA5_4224, 0xCD1B, 0x4876, 0xB211_5DBE_D83B_F4B8);
const VHDX_LOGICAL_SECTOR_SIZE: Guid = Guid::from_fields(0x8141_BF1D, 0xA96F, 0x4709, 0xBA47_F233_A8FA_AB5F);
/// Metadata items dropboot knows and does not need.
const VHDX_OTHER_ITEMS: [Guid; 3] = [
    Guid::from_fields(0xCDA3_48C7, 0x445D, 0x4471, 0x9CC9_E988_5251_C556), // physical sector size
    Guid::from_fields(0xBECA_12AB, 0xB2E6, 0x4523, 0x93EF_C309_E000_C746), // page 83 data
    Guid::from_fields(0xA8D3_5F2D, 0xB30B, 0x454D, 0xABF7_D3D8_4834_AB0C), // parent locator
];
/// File parameters flags.
const VHDX_LEAVE_BLOCKS_ALLOCATED: u32 = 1;
const VHDX_HAS_PARENT: u32 = 2;
/// Region table and metadata entries: "the reader must know this one".
const VHDX_REGION_REQUIRED: u32 = 1;
const VHDX_ITEM_REQUIRED: u32 = 4;
/// A block table entry: its state in bits 0-2, the file offset in MiB in
/// bits 20-63.
const VHDX_BAT_STATE_MASK: u64 = 7;
const VHDX_BAT_OFFSET_MASK: u64 = !((1 << 20) - 1);
const VHDX_PAYLOAD_FULLY_PRESENT: u64 = 6;
/// Sectors one sector bitmap block covers: a table entry for one follows
/// every `chunk ratio` payload entries.
const VHDX_SECTORS_PER_BITMAP: u64 = 1 << 23;

/// Whether a 4 KiB header or the 64 KiB region table has the CRC-32C it
/// carries at byte 4 (computed with that field zero).
fn vhdx_checksum_ok(bytes: &mut [u8]) -> bool {
    let stored = u32_at(bytes, 4);
    bytes[4..8].fill(0);
    crc32c(bytes) == stored
}

/// One of a VHDX's regions: its file offset and length.
#[derive(Clone, Copy)]
pub(crate) struct Region {
    pub offset: u64,
    pub bytes: u64,
}

/// What a VHDX's headers, region table and metadata say, checked: its
/// log replayed, no parent, 512-byte sectors, a block size that is a power
/// of two from 1 to 256 MiB, a disk of whole sectors, and a block table
/// long enough for it.
pub(crate) struct VhdxFile {
    /// The header in force (4 KiB).
    pub header: Vec<u8>,
    pub log: Region,
    pub bat: Region,
    pub metadata: Region,
    pub params: VhdxParameters,
    /// Payload blocks: the disk's size over the block size, rounded up.
    pub blocks: u64,
    /// Payload block entries per sector bitmap entry in the block table.
    pub chunk_ratio: u64,
}

impl VhdxFile {
    /// Where payload block `i`'s entry lies in the block table: a sector
    /// bitmap entry follows every `chunk_ratio` of them.
    pub fn entry_at(&self, i: u64) -> u64 {
        (i + i / self.chunk_ratio) * 8
    }
}

/// The structures of a VHDX file, up to its block table.
pub(crate) fn vhdx_file(src: &mut (impl ByteSource + ?Sized), file_bytes: u64) -> Result<VhdxFile, VdiskRefusal> {
    const F: &str = "VHDX";
    let damaged = |what| VdiskRefusal::Damaged { format: F, what };
    if file_bytes < VHDX_HEADER_SECTION {
        return Err(damaged("it is shorter than its header section; is it truncated?"));
    }
    let header = vhdx_current_header(src)?;
    let log = Region { offset: u64_at(&header, 72), bytes: u32_at(&header, 68) as u64 };
    if Guid::at(&header, 48) != Guid::ZERO && log.bytes != 0 {
        return Err(VdiskRefusal::LogNotReplayed);
    }
    let (bat, metadata) = vhdx_regions(src, file_bytes)?;
    let params = vhdx_parameters(src, metadata)?;
    if params.flags & VHDX_HAS_PARENT != 0 {
        return Err(VdiskRefusal::Differencing { format: F });
    }
    match params.sector_size {
        512 => {}
        4096 => return Err(VdiskRefusal::Unsupported { format: F, what: "4096-byte sectors" }),
        _ => return Err(damaged("its sector size is neither 512 nor 4096 bytes")),
    }
    let block_size = params.block_size;
    if !block_size.is_power_of_two() || !(1 << 20..=256 << 20).contains(&block_size) {
        return Err(damaged("its block size is no power of two from 1 to 256 MiB"));
    }
    if params.disk_bytes == 0 || params.disk_bytes % SECTOR != 0 {
        return Err(damaged("its disk size is no whole number of sectors"));
    }
    // Payload entries per sector bitmap entry (512-byte sectors).
    let chunk_ratio = VHDX_SECTORS_PER_BITMAP * SECTOR / block_size;
    let blocks = params.disk_bytes.div_ceil(block_size);
    let entries = blocks + (blocks - 1) / chunk_ratio;
    if entries.checked_mul(8).is_none_or(|n| n > bat.bytes) {
        return Err(damaged("its block table is too short for its disk size"));
    }
    Ok(VhdxFile { header, log, bat, metadata, params, blocks, chunk_ratio })
}

/// A fixed VHDX whose payload blocks follow each other, fully present.
fn vhdx(src: &mut (impl ByteSource + ?Sized), file_bytes: u64) -> Result<Vdisk, VdiskRefusal> {
    const F: &str = "VHDX";
    let damaged = |what| VdiskRefusal::Damaged { format: F, what };
    let file = vhdx_file(src, file_bytes)?;
    if file.params.flags & VHDX_LEAVE_BLOCKS_ALLOCATED == 0 {
        return Err(VdiskRefusal::Dynamic { format: F });
    }
    let disk_bytes = file.params.disk_bytes;
    let data_start = vhdx_blocks_in_order(src, &file)?;
    if !inside(data_start, disk_bytes, file_bytes) {
        return Err(damaged("its data runs past the end of the file; is it truncated?"));
    }
    let tables =
        [(0, VHDX_HEADER_SECTION), (file.log.offset, file.log.bytes), (file.bat.offset, file.bat.bytes), (file.metadata.offset, file.metadata.bytes)];
    if tables.iter().any(|&(o, n)| overlap(data_start, disk_bytes, o, n)) {
        return Err(damaged("its data overlaps its own tables"));
    }
    Ok(Vdisk { format: VdiskFormat::FixedVhdx, data_start, data_bytes: disk_bytes })
}

/// The header in force: of the two intact ones ("head", version 1, its
/// checksum right), the one with the higher sequence number.
fn vhdx_current_header(src: &mut (impl ByteSource + ?Sized)) -> Result<Vec<u8>, VdiskRefusal> {
    let mut intact: Vec<Vec<u8>> = Vec::new();
    for at in VHDX_HEADERS {
        let mut h = vec![0u8; VHDX_HEADER_BYTES];
        src.read_at(at, &mut h)?;
        if vhdx_checksum_ok(&mut h) && &h[..4] == b"head" && u16_at(&h, 66) == 1 {
            intact.push(h);
        }
    }
    let seq = |h: &Vec<u8>| u64_at(h, 8);
    match intact.as_slice() {
        [] => Err(VdiskRefusal::Damaged { format: "VHDX", what: "neither of its two headers is intact" }),
        [a, b] if seq(a) == seq(b) && a[8..80] != b[8..80] => {
            Err(VdiskRefusal::Damaged { format: "VHDX", what: "its two headers differ but have the same sequence number" })
        }
        _ => Ok(intact.into_iter().max_by_key(seq).expect("one at least")),
    }
}

/// The block table and metadata regions from the region table.
fn vhdx_regions(src: &mut (impl ByteSource + ?Sized), file_bytes: u64) -> Result<(Region, Region), VdiskRefusal> {
    let damaged = |what| VdiskRefusal::Damaged { format: "VHDX", what };
    let mut t = vec![0u8; VHDX_REGION_TABLE_BYTES];
    src.read_at(VHDX_REGION_TABLE, &mut t)?;
    if &t[..4] != b"regi" || !vhdx_checksum_ok(&mut t) {
        return Err(damaged("its region table's signature or checksum is wrong"));
    }
    let count = u32_at(&t, 8);
    if count > VHDX_MAX_ENTRIES {
        return Err(damaged("its region table has too many entries"));
    }
    let (mut bat, mut metadata) = (None, None);
    for e in t[16..].chunks_exact(32).take(count as usize) {
        let region = Region { offset: u64_at(e, 16), bytes: u32_at(e, 24) as u64 };
        let slot = match Guid::at(e, 0) {
            VHDX_BAT => &mut bat,
            VHDX_METADATA => &mut metadata,
            _ if u32_at(e, 28) & VHDX_REGION_REQUIRED != 0 => {
                return Err(VdiskRefusal::Unsupported { format: "VHDX", what: "a region dropboot does not know" })
            }
            _ => continue,
        };
        if slot.is_some() {
            return Err(damaged("its region table lists a region twice"));
        }
        if region.offset < VHDX_HEADER_SECTION || region.offset % SECTOR != 0 || !inside(region.offset, region.bytes, file_bytes) {
            return Err(damaged("a region lies outside the file; is it truncated?"));
        }
        *slot = Some(region);
    }
    match (bat, metadata) {
        (Some(b), Some(m)) => Ok((b, m)),
        _ => Err(damaged("its region table lacks the block table or the metadata")),
    }
}

/// What a VHDX's metadata says of its disk.
pub(crate) struct VhdxParameters {
    pub block_size: u64,
    pub flags: u32,
    pub disk_bytes: u64,
    pub sector_size: u32,
    /// Where the file parameters item lies, from the metadata region's start.
    pub params_at: u64,
}

/// The file parameters, the disk size and the logical sector size from the
/// metadata region; refuses a metadata table that requires an item dropboot
/// does not know.
fn vhdx_parameters(src: &mut (impl ByteSource + ?Sized), metadata: Region) -> Result<VhdxParameters, VdiskRefusal> {
    let damaged = |what| VdiskRefusal::Damaged { format: "VHDX", what };
    let mut head = [0u8; 32];
    if metadata.bytes < head.len() as u64 {
        return Err(damaged("its metadata region is too short"));
    }
    src.read_at(metadata.offset, &mut head)?;
    let count = u16_at(&head, 10) as u64;
    if &head[..8] != b"metadata" || count > VHDX_MAX_ENTRIES as u64 || !inside(32, count * 32, metadata.bytes) {
        return Err(damaged("its metadata table's signature or size is wrong"));
    }
    let mut entries = vec![0u8; count as usize * 32];
    src.read_at(metadata.offset + 32, &mut entries)?;
    let wanted = [VHDX_FILE_PARAMETERS, VHDX_VIRTUAL_DISK_SIZE, VHDX_LOGICAL_SECTOR_SIZE];
    let mut values = [[0u8; 8]; 3];
    let mut found = [false; 3];
    let mut spans = [(0u64, 0u64); 3];
    let mut params_at = 0;
    for e in entries.chunks_exact(32) {
        let item = Guid::at(e, 0);
        let Some(w) = wanted.iter().position(|&id| id == item) else {
            if !VHDX_OTHER_ITEMS.contains(&item) && u32_at(e, 24) & VHDX_ITEM_REQUIRED != 0 {
                return Err(VdiskRefusal::Unsupported { format: "VHDX", what: "metadata dropboot does not know" });
            }
            continue;
        };
        let (offset, bytes) = (u32_at(e, 16) as u64, u32_at(e, 20) as u64);
        // The file parameters and the disk size are 8 bytes, the sector size 4.
        let need = if w == 2 { 4 } else { 8 };
        if found[w] {
            return Err(damaged("its metadata table lists an item twice"));
        }
        if bytes < need as u64 || !inside(offset, bytes, metadata.bytes) {
            return Err(damaged("a metadata item lies outside the metadata region"));
        }
        src.read_at(metadata.offset + offset, &mut values[w][..need])?;
        if w == 0 {
            params_at = offset;
        }
        spans[w] = (offset, need as u64);
        found[w] = true;
    }
    if found.contains(&false) {
        return Err(damaged("its metadata lacks the block size, the disk size or the sector size"));
    }
    // Items that share bytes are no VHDX's; and making a dynamic one fixed
    // sets a flag of the file parameters, which would change the other.
    let [a, b, c] = spans;
    if [(a, b), (a, c), (b, c)].iter().any(|&((o, n), (p, m))| overlap(o, n, p, m)) {
        return Err(damaged("two of its metadata items share bytes"));
    }
    let [params, size, sector] = values;
    Ok(VhdxParameters {
        block_size: u32_at(&params, 0) as u64,
        flags: u32_at(&params, 4),
        disk_bytes: u64_at(&size, 0),
        sector_size: u32_at(&sector, 0),
        params_at,
    })
}

/// The file offset of payload block 0, when every block of the disk is
/// fully present and lies right after the one before.
fn vhdx_blocks_in_order(src: &mut (impl ByteSource + ?Sized), file: &VhdxFile) -> Result<u64, VdiskRefusal> {
    let not_in_order = VdiskRefusal::NotInOrder { format: "VHDX" };
    let mut table = Table::new(file.bat.offset, file.bat.bytes);
    let mut first = 0;
    for i in 0..file.blocks {
        let e = u64_at(table.get(src, file.entry_at(i), 8)?, 0);
        if e & VHDX_BAT_STATE_MASK != VHDX_PAYLOAD_FULLY_PRESENT {
            return Err(not_in_order);
        }
        let offset = e & VHDX_BAT_OFFSET_MASK;
        if i == 0 {
            first = offset;
        } else if i.checked_mul(file.params.block_size).and_then(|o| o.checked_add(first)) != Some(offset) {
            return Err(not_in_order);
        }
    }
    Ok(first)
}

// ---- The virtual disk's partitions ----

/// The partition table's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Mbr,
    Gpt,
}

/// What an entry of the image's table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKind {
    /// A primary MBR entry.
    Primary { type_byte: u8 },
    /// A primary MBR entry of type 05h, 0Fh or 85h: the container of the
    /// logical partitions, shown whole.
    Extended { type_byte: u8 },
    /// A partition in the extended container's chain.
    Logical { type_byte: u8 },
    /// A GPT entry; `bios_boot` for GRUB's BIOS boot partition.
    GptEntry { type_guid: Guid, bios_boot: bool },
}

/// One partition of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImagePartition {
    /// Its number as Linux gives it: 1-4 for MBR primaries (the slot), 5...
    /// for logical partitions in chain order, a GPT entry's index + 1.
    pub number: u32,
    /// First sector, inside the virtual disk.
    pub start: u64,
    pub sectors: u64,
    pub kind: PartitionKind,
}

/// The image's partition table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagePartitions {
    pub scheme: Scheme,
    /// By number: primaries and extended containers in slot order, then
    /// the logical partitions; or the GPT's non-empty entries.
    pub entries: Vec<ImagePartition>,
}

/// Why the image's partitions cannot be listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionsError {
    /// The virtual disk could not be read.
    Read(IoError),
    /// Its sector 0 does not end in 55AA.
    NoTable,
    /// Its MBR is wrong.
    Mbr(MbrError),
    /// Partition `number` ends past the virtual disk's last sector.
    Outside { number: u32, start: u64, sectors: u64, disk_sectors: u64 },
    /// A link of the logical partitions' chain lies past the disk's end.
    LinkOutside { sector: u64 },
    /// The chain of logical partitions comes back to `sector`.
    ChainLoops { sector: u64 },
    /// The chain has more than [`MAX_CHAIN_LINKS`] links.
    ChainTooLong,
    /// Its GPT is wrong (`what` says how).
    Gpt { what: &'static str },
}

impl From<IoError> for PartitionsError {
    fn from(e: IoError) -> Self {
        PartitionsError::Read(e)
    }
}

/// Links of a chain of logical partitions followed at most.
pub const MAX_CHAIN_LINKS: usize = 64;
/// Bytes of a GPT entry array read at most (128 entries take 16 KiB).
pub const MAX_GPT_ARRAY_BYTES: u64 = 1 << 20;

impl core::fmt::Display for PartitionsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PartitionsError::Read(e) => write!(f, "{e}"),
            PartitionsError::NoTable => write!(f, "its disk has no partition table (its first sector does not end in 55AA)"),
            PartitionsError::Mbr(e) => write!(f, "its partition table is wrong: {e}"),
            PartitionsError::Outside { number, start, sectors, disk_sectors } => write!(
                f,
                "its partition {number} (sectors {start} to {}) ends past the end of its disk ({disk_sectors} sectors); is the image truncated?",
                start.saturating_add(*sectors).saturating_sub(1)
            ),
            PartitionsError::LinkOutside { sector } => {
                write!(f, "the chain of its logical partitions leads to sector {sector}, past the end of its disk; is the image truncated?")
            }
            PartitionsError::ChainLoops { sector } => {
                write!(f, "the chain of its logical partitions comes back to sector {sector}; its table is damaged (fdisk can show it)")
            }
            PartitionsError::ChainTooLong => {
                write!(f, "the chain of its logical partitions has more than {MAX_CHAIN_LINKS} links; its table is damaged (fdisk can show it)")
            }
            PartitionsError::Gpt { what } => write!(f, "its GPT is damaged: {what}; gdisk can check and repair it"),
        }
    }
}

/// Reads sectors of the virtual disk from `lba` on.
fn read_disk(src: &mut (impl ByteSource + ?Sized), disk: &Vdisk, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
    disk.contents(src).read_at(lba.checked_mul(SECTOR).ok_or(IoError { lba, kind: IoErrorKind::OutOfRange })?, buf)
}

/// The partitions of the virtual disk `disk` in the file `src`: a GPT when
/// its MBR has an EEh entry, else the MBR's and its logical partitions.
/// Every one lies inside the virtual disk.
pub fn partitions(src: &mut (impl ByteSource + ?Sized), disk: &Vdisk) -> Result<ImagePartitions, PartitionsError> {
    let mut sector0 = [0u8; SECTOR_SIZE];
    read_disk(src, disk, 0, &mut sector0)?;
    if sector0[510..] != [0x55, 0xAA] {
        return Err(PartitionsError::NoTable);
    }
    let protective = (0..4).any(|i| {
        let e = &sector0[entry_range(i)];
        e[4] == ptype::GPT_PROTECTIVE && u32_at(e, 12) != 0
    });
    let entries = if protective { gpt(src, disk)? } else { mbr(src, disk, &sector0)? };
    let disk_sectors = disk.sectors();
    if let Some(p) = entries.iter().find(|p| p.start.checked_add(p.sectors).is_none_or(|end| end > disk_sectors)) {
        return Err(PartitionsError::Outside { number: p.number, start: p.start, sectors: p.sectors, disk_sectors });
    }
    Ok(ImagePartitions { scheme: if protective { Scheme::Gpt } else { Scheme::Mbr }, entries })
}

fn is_extended(type_byte: u8) -> bool {
    [ptype::EXTENDED, ptype::EXTENDED_LBA, LINUX_EXTENDED].contains(&type_byte)
}

/// Linux's own extended partition type.
const LINUX_EXTENDED: u8 = 0x85;

/// The MBR's entries that have sectors (Linux counts an entry by its size,
/// whatever its type), each extended one followed by its chain's logical
/// partitions, numbered from 5 on.
fn mbr(src: &mut (impl ByteSource + ?Sized), disk: &Vdisk, sector0: &[u8; SECTOR_SIZE]) -> Result<Vec<ImagePartition>, PartitionsError> {
    let table = Mbr::parse(sector0).map_err(PartitionsError::Mbr)?;
    let mut primaries = Vec::new();
    let mut logicals = Vec::new();
    for (slot, p) in table.partitions.iter().enumerate().filter(|(_, p)| p.sectors != 0) {
        let (start, sectors) = (p.start_lba as u64, p.sectors as u64);
        let kind = if is_extended(p.kind) {
            chain(src, disk, start, sectors, &mut logicals)?;
            PartitionKind::Extended { type_byte: p.kind }
        } else {
            PartitionKind::Primary { type_byte: p.kind }
        };
        primaries.push(ImagePartition { number: slot as u32 + 1, start, sectors, kind });
    }
    primaries.extend(logicals);
    Ok(primaries)
}

/// Appends the logical partitions of the extended partition at `ext_start`
/// (`ext_sectors` long) to `out`, as Linux's `parse_extended` finds them:
/// each EBR's start is relative to the extended partition, each logical
/// partition's to its EBR; a chain ends at an EBR without 55AA or without
/// a link. (No sum here overflows: `this` lies inside the disk, and each
/// start and size read is 32 bits.)
fn chain(
    src: &mut (impl ByteSource + ?Sized),
    disk: &Vdisk,
    ext_start: u64,
    ext_sectors: u64,
    out: &mut Vec<ImagePartition>,
) -> Result<(), PartitionsError> {
    let mut visited: Vec<u64> = Vec::new();
    let (mut this, mut this_sectors) = (ext_start, ext_sectors);
    loop {
        if visited.contains(&this) {
            return Err(PartitionsError::ChainLoops { sector: this });
        }
        if visited.len() == MAX_CHAIN_LINKS {
            return Err(PartitionsError::ChainTooLong);
        }
        visited.push(this);
        if this >= disk.sectors() {
            return Err(PartitionsError::LinkOutside { sector: this });
        }
        let mut ebr = [0u8; SECTOR_SIZE];
        read_disk(src, disk, this, &mut ebr)?;
        if ebr[510..] != [0x55, 0xAA] {
            return Ok(());
        }
        let entry = |i: usize| {
            let e = &ebr[entry_range(i)];
            (e[4], u32_at(e, 8) as u64, u32_at(e, 12) as u64)
        };
        for i in 0..4 {
            let (type_byte, offset, sectors) = entry(i);
            if sectors == 0 || is_extended(type_byte) {
                continue;
            }
            let start = this + offset;
            // Linux takes entries 3 and 4 only when they lie inside the
            // link and the extended partition: they often hold garbage.
            let garbage = offset + sectors > this_sectors || start < ext_start || start + sectors > ext_start + ext_sectors;
            if i >= 2 && garbage {
                continue;
            }
            let number = 5 + out.len() as u32;
            out.push(ImagePartition { number, start, sectors, kind: PartitionKind::Logical { type_byte } });
        }
        let Some((_, offset, sectors)) = (0..4).map(entry).find(|&(t, _, n)| n != 0 && is_extended(t)) else {
            return Ok(());
        };
        (this, this_sectors) = (ext_start + offset, sectors);
    }
}

/// GRUB's BIOS boot partition type, 21686148-6449-6E6F-744E-656564454649.
pub const BIOS_BOOT: Guid = Guid::from_fields(0x2168_6148, 0x6449, 0x6E6F, 0x744E_6565_6445_4649);

/// The GPT's non-empty entries, from the header at LBA 1 (its checksum and
/// its entry array's checked).
fn gpt(src: &mut (impl ByteSource + ?Sized), disk: &Vdisk) -> Result<Vec<ImagePartition>, PartitionsError> {
    let damaged = |what| PartitionsError::Gpt { what };
    let mut h = [0u8; SECTOR_SIZE];
    read_disk(src, disk, 1, &mut h)?;
    if &h[..8] != b"EFI PART" {
        return Err(damaged("its protective MBR has no GPT header after it"));
    }
    let header_bytes = u32_at(&h, 12) as usize;
    if !(92..=SECTOR_SIZE).contains(&header_bytes) {
        return Err(damaged("its header's size is wrong"));
    }
    let stored = u32_at(&h, 16);
    let mut zeroed = h;
    zeroed[16..20].fill(0);
    if crate::crc32::crc32(&zeroed[..header_bytes]) != stored {
        return Err(damaged("its header's checksum is wrong"));
    }
    if u64_at(&h, 24) != 1 {
        return Err(damaged("its header does not say it lies at sector 1"));
    }
    let (array_lba, count, entry_bytes, array_crc) = (u64_at(&h, 72), u32_at(&h, 80) as u64, u32_at(&h, 84) as u64, u32_at(&h, 88));
    if ![128, 256, 512].contains(&entry_bytes) {
        return Err(damaged("its entries' size is not 128, 256 or 512 bytes"));
    }
    let array_bytes = count * entry_bytes;
    if array_bytes > MAX_GPT_ARRAY_BYTES {
        return Err(damaged("its entry array is larger than 1 MiB"));
    }
    let array_at = array_lba.checked_mul(SECTOR).filter(|&at| array_lba >= 2 && inside(at, array_bytes, disk.data_bytes));
    let array_at = array_at.ok_or(damaged("its entry array lies outside the disk"))?;
    let mut array = Table::new(disk.data_start + array_at, array_bytes);
    let mut crc = Crc32::ieee();
    let mut found = Vec::new();
    for i in 0..count {
        let e = array.get(src, i * entry_bytes, entry_bytes as usize)?;
        crc.update(e);
        let type_guid = Guid::at(e, 0);
        if type_guid != Guid::ZERO {
            found.push((i as u32 + 1, type_guid, u64_at(e, 32), u64_at(e, 40)));
        }
    }
    if crc.value() != array_crc {
        return Err(damaged("its entry array's checksum is wrong"));
    }
    let mut out = Vec::new();
    for (number, type_guid, first, last) in found {
        let sectors = last.checked_sub(first).and_then(|n| n.checked_add(1)).ok_or(damaged("an entry ends before it starts"))?;
        out.push(ImagePartition { number, start: first, sectors, kind: PartitionKind::GptEntry { type_guid, bios_boot: type_guid == BIOS_BOOT } });
    }
    Ok(out)
}

#[cfg(test)]
mod test_images;

#[cfg(test)]
mod tests {
    use super::test_images::*;
    use super::*;

    /// Writes each (sector, slot, type, start, sectors) entry.
    fn entries(disk: &mut [u8], list: &[(usize, usize, u8, u32, u32)]) {
        for &(sector, slot, kind, start, sectors) in list {
            entry(disk, sector, slot, kind, start, sectors);
        }
    }

    fn read_all(file: &mut [u8], disk: &Vdisk) -> Vec<u8> {
        let mut out = vec![0u8; disk.data_bytes as usize];
        disk.contents(file).read_at(0, &mut out).unwrap();
        out
    }

    fn recognized(file: &mut [u8]) -> Result<Vdisk, VdiskRefusal> {
        recognize(file)
    }

    // ---- VHD ----

    #[test]
    fn a_fixed_vhd_is_its_data_without_the_footer() {
        let disk = raw_disk();
        let mut file = [&disk[..], &vhd_footer(VHD_FIXED, disk.len() as u64)].concat();
        let v = recognized(&mut file).unwrap();
        assert_eq!(v, Vdisk { format: VdiskFormat::FixedVhd, data_start: 0, data_bytes: disk.len() as u64 });
        assert_eq!(read_all(&mut file, &v), disk);
    }

    #[test]
    fn each_wrong_vhd_footer_byte_has_its_refusal() {
        let disk = raw_disk();
        let end = disk.len();
        let file = [&disk[..], &vhd_footer(VHD_FIXED, end as u64)].concat();
        let damaged = |what| Err(VdiskRefusal::Damaged { format: "VHD", what });
        let mut f = file.clone();
        f[end + 0x50] ^= 1;
        assert_eq!(recognized(&mut f), damaged("its footer's checksum is wrong"));
        for (t, refusal) in [(VHD_DYNAMIC, VdiskRefusal::Dynamic { format: "VHD" }), (VHD_DIFFERENCING, VdiskRefusal::Differencing { format: "VHD" })]
        {
            let mut f = [&disk[..], &vhd_footer(t, end as u64)].concat();
            assert_eq!(recognized(&mut f), Err(refusal), "type {t} at the end");
            // Dynamic and differencing VHDs start with a copy of their footer.
            let mut f = [&vhd_footer(t, end as u64)[..], &disk[512..], &vhd_footer(t, end as u64)].concat();
            assert_eq!(recognized(&mut f), Err(refusal), "type {t} at the start");
        }
        let mut f = [&disk[..], &vhd_footer(7, end as u64)].concat();
        assert_eq!(recognized(&mut f), damaged("its footer gives an unknown disk type"));
        let mut f = [&disk[..], &vhd_footer(VHD_FIXED, end as u64 + 512)].concat();
        assert_eq!(recognized(&mut f), damaged("its footer gives a disk larger than the file; is it truncated?"));
        let mut f = [&disk[..100], &vhd_footer(VHD_FIXED, 0)].concat();
        assert_eq!(recognized(&mut f), damaged("its length is not a whole number of sectors"));
    }

    // ---- VDI ----

    #[test]
    fn a_static_vdi_is_its_data_at_the_offset_its_header_gives() {
        let disk = raw_disk();
        let mut file = static_vdi(&disk);
        let v = recognized(&mut file).unwrap();
        assert_eq!(v, Vdisk { format: VdiskFormat::StaticVdi, data_start: 1024, data_bytes: disk.len() as u64 });
        assert_eq!(read_all(&mut file, &v), disk);
        // Elsewhere than QEMU's 1024 or Ventoy's 2 MiB: where it says.
        let mut moved = file[..1024].to_vec();
        moved.resize(4096, 0);
        moved.extend_from_slice(&disk);
        put(&mut moved, 0x158, &4096u32.to_le_bytes());
        assert_eq!(recognized(&mut moved).map(|v| v.data_start), Ok(4096));
    }

    #[test]
    fn each_wrong_vdi_field_has_its_refusal() {
        let file = static_vdi(&raw_disk());
        let with = |at: usize, bytes: &[u8]| {
            let mut f = file.clone();
            put(&mut f, at, bytes);
            recognized(&mut f)
        };
        let damaged = |what| Err(VdiskRefusal::Damaged { format: "VDI", what });
        let unsupported = |what| Err(VdiskRefusal::Unsupported { format: "VDI", what });
        assert_eq!(with(0x4C, &1u32.to_le_bytes()), Err(VdiskRefusal::Dynamic { format: "VDI" }));
        assert_eq!(with(0x4C, &4u32.to_le_bytes()), Err(VdiskRefusal::Differencing { format: "VDI" }));
        assert_eq!(with(0x1B8, &[1]), Err(VdiskRefusal::Differencing { format: "VDI" }), "a parent");
        assert_eq!(with(512 + 4, &7u32.to_le_bytes()), Err(VdiskRefusal::NotInOrder { format: "VDI" }));
        assert_eq!(with(512 + 4, &0xFFFF_FFFFu32.to_le_bytes()), Err(VdiskRefusal::NotInOrder { format: "VDI" }), "unallocated");
        assert_eq!(with(0x44, &0x0001_0000u32.to_le_bytes()), unsupported("a header version other than 1.1"));
        assert_eq!(with(0x168, &4096u32.to_le_bytes()), unsupported("sectors other than 512 bytes"));
        assert_eq!(with(0x17C, &512u32.to_le_bytes()), unsupported("extra data before each block"));
        assert_eq!(with(0x4C, &9u32.to_le_bytes()), damaged("its header gives an unknown image type"));
        assert_eq!(with(0x48, &0x100u32.to_le_bytes()), damaged("its header is too short"));
        assert_eq!(with(0x158, &1000u32.to_le_bytes()), damaged("its blocks, block map or data do not start on a sector"));
        assert_eq!(with(0x180, &1u32.to_le_bytes()), damaged("its block map is too short for its disk size"));
        assert_eq!(with(0x180, &200u32.to_le_bytes()), damaged("its block map does not lie between its header and its data"));
        assert_eq!(with(0x154, &0u32.to_le_bytes()), damaged("its block map does not lie between its header and its data"));
        assert_eq!(with(0x170, &(1u64 << 20).to_le_bytes()), damaged("its block map is too short for its disk size"));
        let mut short = file.clone();
        short.truncate(file.len() - 512);
        assert_eq!(recognized(&mut short), damaged("its data runs past the end of the file; is it truncated?"));
        // A size that is no whole number of sectors is rounded up, as QEMU does.
        assert_eq!(with(0x170, &(64 * 512 - 100u64).to_le_bytes()).map(|v| v.data_bytes), Ok(64 * 512));
    }

    // ---- VHDX ----

    #[test]
    fn a_fixed_vhdx_is_its_blocks_from_the_first() {
        let disk = raw_disk();
        let mut file = fixed_vhdx(&disk);
        let v = recognized(&mut file).unwrap();
        assert_eq!(v, Vdisk { format: VdiskFormat::FixedVhdx, data_start: 3 << 20, data_bytes: disk.len() as u64 });
        assert_eq!(read_all(&mut file, &v), disk);
        // A broken header: the other one serves.
        file[(64 << 10) + 100] ^= 1;
        assert_eq!(recognized(&mut file), Ok(v));
    }

    #[test]
    fn each_wrong_vhdx_structure_has_its_refusal() {
        let disk = vec![0x5Au8; 3 * MIB];
        let file = fixed_vhdx(&disk);
        let with = |at: usize, bytes: &[u8]| {
            let mut f = file.clone();
            put(&mut f, at, bytes);
            vhdx_checksums(&mut f);
            recognized(&mut f)
        };
        let damaged = |what| Err(VdiskRefusal::Damaged { format: "VHDX", what });
        let not_in_order = Err(VdiskRefusal::NotInOrder { format: "VHDX" });
        let (params, bat) = (MIB + (64 << 10), 2 * MIB);
        assert_eq!(with(params + 4, &0u32.to_le_bytes()), Err(VdiskRefusal::Dynamic { format: "VHDX" }));
        assert_eq!(with(params + 4, &3u32.to_le_bytes()), Err(VdiskRefusal::Differencing { format: "VHDX" }));
        let good = recognized(&mut file.clone());
        assert_eq!(with((64 << 10) + 48, &[1]), good, "a log GUID, its length 0: no log");
        let mut f = file.clone();
        put(&mut f, (64 << 10) + 48, &[1]);
        put(&mut f, (64 << 10) + 68, &(MIB as u32).to_le_bytes());
        vhdx_checksums(&mut f);
        assert_eq!(recognized(&mut f), Err(VdiskRefusal::LogNotReplayed));
        assert_eq!(with(bat + 8, &((5u64 << 20) | 6).to_le_bytes()), not_in_order, "block 1 where block 2 is");
        assert_eq!(with(bat + 16, &((5u64 << 20) | 2).to_le_bytes()), not_in_order, "block 2 a zero block");
        assert_eq!(with(params + 16, &4096u32.to_le_bytes()), Err(VdiskRefusal::Unsupported { format: "VHDX", what: "4096-byte sectors" }));
        assert_eq!(with(params + 16, &1024u32.to_le_bytes()), damaged("its sector size is neither 512 nor 4096 bytes"));
        assert_eq!(with(params, &(3 * MIB as u32).to_le_bytes()), damaged("its block size is no power of two from 1 to 256 MiB"));
        assert_eq!(with(params + 8, &100u64.to_le_bytes()), damaged("its disk size is no whole number of sectors"));
        // The disk size's item on the file parameters' bytes (made fixed,
        // such a dynamic file's disk would grow by the flag set).
        let entry_of = |id: Guid| (0..8).map(|k| MIB + 32 + 32 * k).find(|&e| Guid::at(&file, e) == id).expect("its metadata entry");
        let params_offset = file[entry_of(VHDX_FILE_PARAMETERS) + 16..][..4].to_vec();
        assert_eq!(with(entry_of(VHDX_VIRTUAL_DISK_SIZE) + 16, &params_offset), damaged("two of its metadata items share bytes"));
        let mut f = file[..file.len() - 512].to_vec();
        assert_eq!(recognized(&mut f), damaged("its data runs past the end of the file; is it truncated?"));
        // The disk grown past what the block table holds (1 MiB: 128 Ki entries).
        assert_eq!(with(params + 8, &(1u64 << 40).to_le_bytes()), damaged("its block table is too short for its disk size"));
        assert_eq!(with(bat, &((2u64 << 20) | 6).to_le_bytes()), not_in_order, "block 0 on the block table, the rest after");
        let mut f = file.clone();
        for i in 0..3u64 {
            put(&mut f, bat + 8 * i as usize, &(((2 + i) << 20) | 6).to_le_bytes());
        }
        vhdx_checksums(&mut f);
        assert_eq!(recognized(&mut f), damaged("its data overlaps its own tables"));
        let rt = 192 << 10;
        let mut f = file.clone();
        put(&mut f, rt + 16, &[0xEE]);
        put(&mut f, rt + 16 + 28, &[0]);
        vhdx_checksums(&mut f);
        assert_eq!(recognized(&mut f), damaged("its region table lacks the block table or the metadata"));
        assert_eq!(with(rt + 16, &[0xEE]), Err(VdiskRefusal::Unsupported { format: "VHDX", what: "a region dropboot does not know" }));
        assert_eq!(with(rt + 16, &VHDX_METADATA.0), damaged("its region table lists a region twice"));
        assert_eq!(with(rt + 16 + 16, &(6u64 << 20).to_le_bytes()), damaged("a region lies outside the file; is it truncated?"));
        assert_eq!(with(rt + 8, &3u32.to_le_bytes()), good, "an empty entry that is not required");
        let mut f = file.clone();
        put(&mut f, MIB + 32, &[0xEE]);
        put(&mut f, MIB + 32 + 24, &[0]);
        assert_eq!(recognized(&mut f), damaged("its metadata lacks the block size, the disk size or the sector size"));
        assert_eq!(with(MIB + 32 + 24, &[0]), good, "the flags of an item dropboot knows");
        assert_eq!(with(MIB + 64, &VHDX_FILE_PARAMETERS.0), damaged("its metadata table lists an item twice"));
        assert_eq!(with(MIB + 32 + 16, &(MIB as u32).to_le_bytes()), damaged("a metadata item lies outside the metadata region"));
        let mut f = file.clone();
        put(&mut f, MIB + 10, &4u16.to_le_bytes());
        put(&mut f, MIB + 128, &[0xEE; 16]);
        put(&mut f, MIB + 128 + 24, &VHDX_ITEM_REQUIRED.to_le_bytes());
        assert_eq!(recognized(&mut f), Err(VdiskRefusal::Unsupported { format: "VHDX", what: "metadata dropboot does not know" }));
        assert_eq!(with(MIB, b"METADATA"), damaged("its metadata table's signature or size is wrong"));
        let mut f = file.clone();
        f[(192 << 10) + 100] ^= 1;
        assert_eq!(recognized(&mut f), damaged("its region table's signature or checksum is wrong"));
        let mut f = file.clone();
        f[(64 << 10) + 100] ^= 1;
        f[(128 << 10) + 100] ^= 1;
        assert_eq!(recognized(&mut f), damaged("neither of its two headers is intact"));
        assert_eq!(with((128 << 10) + 8, &7u64.to_le_bytes()), good, "two headers the same");
        let mut f = file.clone();
        put(&mut f, (128 << 10) + 8, &7u64.to_le_bytes());
        put(&mut f, (128 << 10) + 16, &[1]);
        vhdx_checksums(&mut f);
        assert_eq!(recognized(&mut f), damaged("its two headers differ but have the same sequence number"));
        let mut f = file[..MIB - 512].to_vec();
        assert_eq!(recognized(&mut f), damaged("it is shorter than its header section; is it truncated?"));
    }

    #[test]
    fn other_formats_and_no_disk_are_named() {
        let mut qcow2 = vec![0u8; 1024];
        put(&mut qcow2, 0, b"QFI\xfb");
        assert_eq!(recognized(&mut qcow2), Err(VdiskRefusal::OtherFormat { format: "qcow2" }));
        let mut vmdk = vec![0u8; 1024];
        put(&mut vmdk, 0, b"KDMV");
        assert_eq!(recognized(&mut vmdk), Err(VdiskRefusal::OtherFormat { format: "VMDK" }));
        assert_eq!(recognized(&mut [0u8; 4096]), Err(VdiskRefusal::NotADisk));
        assert_eq!(recognized(&mut [0u8; 100]), Err(VdiskRefusal::NotADisk));
        let mut odd = raw_disk();
        odd.truncate(odd.len() - 100);
        assert_eq!(recognized(&mut odd).map(|v| v.data_bytes), Ok(63 * 512), "whole sectors only");
    }

    #[test]
    fn every_refusal_names_its_fix() {
        let refusals = [
            VdiskRefusal::Dynamic { format: "VHD" },
            VdiskRefusal::Differencing { format: "VHDX" },
            VdiskRefusal::NotInOrder { format: "VDI" },
            VdiskRefusal::Unsupported { format: "VHDX", what: "4096-byte sectors" },
            VdiskRefusal::OtherFormat { format: "qcow2" },
        ];
        for r in refusals {
            let s = alloc::format!("{r}");
            assert!(s.starts_with("it is a ") && s.contains(CONVERT), "{s}");
            let add_fixes = matches!(r, VdiskRefusal::Dynamic { .. } | VdiskRefusal::NotInOrder { .. });
            assert_eq!(s.contains("copy it with dropboot add, which makes it fixed"), add_fixes, "{s}");
        }
        assert!(alloc::format!("{}", VdiskRefusal::LogNotReplayed).contains("qemu-img check -r all"));
        assert!(alloc::format!("{}", VdiskRefusal::Damaged { format: "VDI", what: "x" }).contains("qemu-img check"));
    }

    // ---- MBR and EBR chains ----

    fn raw(disk: &mut [u8]) -> Vdisk {
        Vdisk { format: VdiskFormat::Raw, data_start: 0, data_bytes: disk.len() as u64 }
    }

    fn listed(disk: &mut [u8]) -> Result<Vec<(u32, u64, u64, PartitionKind)>, PartitionsError> {
        let v = raw(disk);
        let p = partitions(disk, &v)?;
        assert_eq!(p.scheme, Scheme::Mbr);
        Ok(p.entries.iter().map(|p| (p.number, p.start, p.sectors, p.kind)).collect())
    }

    #[test]
    fn logical_partitions_are_found_as_linux_finds_them() {
        let mut d = vec![0u8; 200 * 512];
        #[rustfmt::skip]
        entries(&mut d, &[
            (0, 0, 0x83, 2, 8),
            (0, 2, 0x0F, 20, 100),
            // EBR at 20: logical at +5; next EBR at extended + 40.
            (20, 0, 0x07, 5, 10),
            (20, 1, 0x05, 40, 30),
            // EBR at 60 (DR-DOS order: the link first): logical at +2;
            // garbage in entry 4 that reaches past the extended partition
            // is skipped, an entry 3 inside it is taken.
            (60, 0, 0x05, 80, 10),
            (60, 1, 0x82, 2, 20),
            (60, 2, 0x83, 25, 4),
            (60, 3, 0x83, 50, 100),
        ]);
        // EBR at 100: no 55AA, the end.
        let (p, e, l) =
            (PartitionKind::Primary { type_byte: 0x83 }, PartitionKind::Extended { type_byte: 0x0F }, |t| PartitionKind::Logical { type_byte: t });
        assert_eq!(listed(&mut d), Ok(vec![(1, 2, 8, p), (3, 20, 100, e), (5, 25, 10, l(0x07)), (6, 62, 20, l(0x82)), (7, 85, 4, l(0x83))]));
    }

    #[test]
    fn each_broken_chain_or_table_has_its_error() {
        let mut d = vec![0u8; 200 * 512];
        // Extended at 10; EBRs at 10 and 30, the second linking back to the first.
        entries(&mut d, &[(0, 0, 0x05, 10, 150), (10, 0, 0x83, 1, 5), (10, 1, 0x05, 20, 10), (30, 0, 0x83, 1, 5), (30, 1, 0x05, 0, 10)]);
        assert_eq!(listed(&mut d), Err(PartitionsError::ChainLoops { sector: 10 }));
        entry(&mut d, 30, 1, 0x05, 500, 10);
        assert_eq!(listed(&mut d), Err(PartitionsError::LinkOutside { sector: 510 }));
        entry(&mut d, 30, 1, 0, 0, 0);
        entry(&mut d, 30, 0, 0x83, 1, 500);
        assert_eq!(listed(&mut d), Err(PartitionsError::Outside { number: 6, start: 31, sectors: 500, disk_sectors: 200 }));
        let mut long = vec![0u8; 100 * 512];
        entry(&mut long, 0, 0, 0x05, 1, 99);
        for link in 1..99 {
            entry(&mut long, link, 1, 0x05, link as u32, 1);
        }
        assert_eq!(listed(&mut long), Err(PartitionsError::ChainTooLong));
        let mut d = raw_disk();
        d[511] = 0;
        assert_eq!(listed(&mut d), Err(PartitionsError::NoTable));
        let mut d = raw_disk();
        d[446] = 0x12;
        assert_eq!(listed(&mut d), Err(PartitionsError::Mbr(MbrError::BadBootFlag { index: 0, flag: 0x12 })));
        let mut d = raw_disk();
        entry(&mut d, 0, 1, 0x83, 60, 8);
        assert_eq!(listed(&mut d), Err(PartitionsError::Outside { number: 2, start: 60, sectors: 8, disk_sectors: 64 }));
    }

    #[test]
    fn partitions_are_read_inside_the_virtual_disk() {
        let disk = raw_disk();
        let mut file = static_vdi(&disk);
        let v = recognized(&mut file).unwrap();
        let p = partitions(&mut file[..], &v).unwrap();
        assert_eq!(p.entries, vec![ImagePartition { number: 1, start: 8, sectors: 16, kind: PartitionKind::Primary { type_byte: 0x83 } }]);
    }

    // ---- GPT ----

    /// Linux's filesystem data type.
    const LINUX: Guid = Guid::from_fields(0x0FC6_3DAF, 0x8483, 0x4772, 0x8E79_3D69_D847_7DE4);

    /// 64 sectors: a protective MBR, the header at 1, four 128-byte entries
    /// at 2: BIOS boot at 34..=35, an empty one, a Linux one at 36..=60.
    fn gpt_disk() -> Vec<u8> {
        let mut d = vec![0u8; 64 * 512];
        entry(&mut d, 0, 0, ptype::GPT_PROTECTIVE, 1, 63);
        for (i, (t, first, last)) in [(BIOS_BOOT, 34u64, 35u64), (Guid::ZERO, 0, 0), (LINUX, 36, 60), (Guid::ZERO, 0, 0)].into_iter().enumerate() {
            let e = 1024 + 128 * i;
            put(&mut d, e, &t.0);
            put(&mut d, e + 32, &first.to_le_bytes());
            put(&mut d, e + 40, &last.to_le_bytes());
        }
        put(&mut d, 512, b"EFI PART");
        put(&mut d, 512 + 8, &0x0001_0000u32.to_le_bytes());
        put(&mut d, 512 + 12, &92u32.to_le_bytes());
        put(&mut d, 512 + 24, &1u64.to_le_bytes());
        put(&mut d, 512 + 72, &2u64.to_le_bytes());
        put(&mut d, 512 + 80, &4u32.to_le_bytes());
        put(&mut d, 512 + 84, &128u32.to_le_bytes());
        gpt_checksums(&mut d);
        d
    }

    fn gpt_checksums(d: &mut [u8]) {
        let array = crate::crc32::crc32(&d[1024..1024 + 512]);
        put(d, 512 + 88, &array.to_le_bytes());
        put(d, 512 + 16, &[0; 4]);
        let header = crate::crc32::crc32(&d[512..512 + 92]);
        put(d, 512 + 16, &header.to_le_bytes());
    }

    #[test]
    fn a_gpt_lists_its_non_empty_entries_by_index() {
        let mut d = gpt_disk();
        let v = raw(&mut d);
        let p = partitions(&mut d[..], &v).unwrap();
        assert_eq!(p.scheme, Scheme::Gpt);
        let gpt = |number, start, sectors, type_guid| ImagePartition {
            number,
            start,
            sectors,
            kind: PartitionKind::GptEntry { type_guid, bios_boot: type_guid == BIOS_BOOT },
        };
        assert_eq!(p.entries, vec![gpt(1, 34, 2, BIOS_BOOT), gpt(3, 36, 25, LINUX)]);
        assert!(matches!(p.entries[0].kind, PartitionKind::GptEntry { bios_boot: true, .. }));
        assert_eq!(alloc::format!("{BIOS_BOOT}"), "21686148-6449-6E6F-744E-656564454649");
    }

    #[test]
    fn each_wrong_gpt_field_has_its_error() {
        let gpt = gpt_disk();
        let with = |at: usize, bytes: &[u8], fix: bool| {
            let mut d = gpt.clone();
            put(&mut d, at, bytes);
            if fix {
                gpt_checksums(&mut d);
            }
            let v = raw(&mut d);
            partitions(&mut d[..], &v)
        };
        let damaged = |what| Err(PartitionsError::Gpt { what });
        assert_eq!(with(512 + 40, &[1], false), damaged("its header's checksum is wrong"));
        assert_eq!(with(1024 + 33, &[1], false), damaged("its entry array's checksum is wrong"));
        assert_eq!(with(512, b"EFI BART", true), damaged("its protective MBR has no GPT header after it"));
        assert_eq!(with(512 + 12, &600u32.to_le_bytes(), true), damaged("its header's size is wrong"));
        assert_eq!(with(512 + 24, &2u64.to_le_bytes(), true), damaged("its header does not say it lies at sector 1"));
        assert_eq!(with(512 + 84, &100u32.to_le_bytes(), true), damaged("its entries' size is not 128, 256 or 512 bytes"));
        assert_eq!(with(512 + 80, &100_000u32.to_le_bytes(), true), damaged("its entry array is larger than 1 MiB"));
        assert_eq!(with(512 + 72, &64u64.to_le_bytes(), true), damaged("its entry array lies outside the disk"));
        assert_eq!(with(512 + 72, &1u64.to_le_bytes(), true), damaged("its entry array lies outside the disk"));
        assert_eq!(with(1024 + 40, &33u64.to_le_bytes(), true), damaged("an entry ends before it starts"));
        assert_eq!(
            with(1024 + 256 + 40, &64u64.to_le_bytes(), true),
            Err(PartitionsError::Outside { number: 3, start: 36, sectors: 29, disk_sectors: 64 })
        );
    }
}
