//! A dynamic VHD, VDI or VHDX (or a static VDI or fixed VHDX whose blocks
//! are out of order or left out) read block by block, and the fixed image
//! of the same disk, in the same format, made as it is read: what `dropboot
//! add` writes onto the stick in its place, so that the loader boots it in
//! place ([`super::recognize`] accepts what [`Conversion`] makes).
//!
//! Reading, as QEMU's block/vpc.c, vdi.c and vhdx.c read these files:
//! - a dynamic VHD: the copy of its footer in its first sector, the dynamic
//!   header ("cxsparse") the footer points to, and its block table
//!   (big-endian sector numbers; FFFFFFFFh: a block never written, zeros).
//!   A block is a sector bitmap, then the block's data, read whole as QEMU
//!   and Virtual PC read it: a writer zeroes a block when it allocates it,
//!   so the sectors the bitmap calls unwritten hold zeros;
//! - a VDI: its block map (entry n: the block's place among the data
//!   blocks; FFFFFFFFh, never written, and FFFFFFFEh, discarded: zeros);
//! - a VHDX: its block table's payload entries (fully present: the block
//!   at the offset the entry gives; not present, undefined, zero or
//!   unmapped: zeros), past the sector bitmap entry that follows every
//!   chunk ratio of them.
//!
//! Writing:
//! - a fixed VHD: the disk, then the footer with disk type 2 (fixed) and no
//!   next structure, its checksum made again; its size, geometry, UUID and
//!   creator kept;
//! - a static VDI: the header with image type 2 (fixed) and every block
//!   allocated (UUIDs and geometry kept), the block map at 512 with entry i
//!   == i, the data from the next MiB on, whole blocks;
//! - a fixed VHDX: the file identifier, two headers (the data write GUID
//!   kept, no log to replay), two region tables, an empty 1 MiB log, the
//!   metadata region copied with LeaveBlockAllocated set, a block table
//!   that lists every payload block fully present, in order, right after
//!   it, and the blocks, whole.
//!
//! Every offset and length read from the file is checked before it is
//! used; [`Conversion::check_blocks`] walks the whole block table, so that
//! a damaged file is refused before anything is written.

use alloc::vec;
use alloc::vec::Vec;

use super::*;

/// Bytes of a MiB: where a fixed VDI's data and a VHDX's regions and blocks
/// are aligned.
const MIB: u64 = 1 << 20;

/// The image a dynamic one becomes, and where each of its bytes comes from.
pub struct Conversion {
    /// What it becomes.
    format: VdiskFormat,
    /// What it was, in words ("a dynamic VHD").
    was: &'static str,
    blocks: Blocks,
    /// The fixed file, in order, from byte 0 to its end.
    spans: Vec<Span>,
    /// The bytes of [`Part::Head`] and [`Part::Tail`].
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// A run of the fixed file made of one [`Part`].
#[derive(Clone, Copy, Debug)]
struct Span {
    at: u64,
    bytes: u64,
    part: Part,
}

#[derive(Clone, Copy, Debug)]
enum Part {
    /// `Conversion::head`, from its start.
    Head,
    /// `Conversion::tail`, from its start.
    Tail,
    Zeros,
    /// The virtual disk, from its byte 0.
    Disk,
    /// A static VDI's block map: entry i is i.
    IdentityMap,
    /// A VHDX's metadata region, copied from the file at `from`, its file
    /// parameters' flags (`flags_at` into it) with LeaveBlockAllocated set.
    Metadata {
        from: u64,
        flags_at: u64,
    },
    /// A fixed VHDX's block table: payload block i fully present at
    /// `data_at` + i blocks; every sector bitmap entry not present.
    BlockTable {
        data_at: u64,
    },
}

/// Where one run of bytes of the fixed file comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// `bytes` of the file from `at`, unchanged.
    File { at: u64, bytes: u64 },
    /// `bytes` of zeros.
    Zeros { bytes: u64 },
    /// `bytes` made here (headers, tables): read them with
    /// [`Conversion::read_at`].
    Made { bytes: u64 },
}

impl Piece {
    pub fn bytes(self) -> u64 {
        match self {
            Piece::File { bytes, .. } | Piece::Zeros { bytes } | Piece::Made { bytes } => bytes,
        }
    }
}

/// The block table of the file read: where each block of the disk lies.
struct Blocks {
    kind: BlockKind,
    block_bytes: u64,
    /// Blocks of the disk: its size over the block size, rounded up.
    count: u64,
    disk_bytes: u64,
    file_bytes: u64,
    table: Table,
}

#[derive(Clone, Copy)]
enum BlockKind {
    /// Big-endian sector numbers; each block's sector bitmap
    /// (`bitmap_bytes`) comes before its data.
    Vhd { bitmap_bytes: u64 },
    /// Block numbers among the data blocks from `data_at`.
    Vdi { data_at: u64 },
    /// 8-byte entries, a sector bitmap entry after every `chunk_ratio`.
    Vhdx { chunk_ratio: u64 },
}

const VHD_UNALLOCATED: u32 = 0xFFFF_FFFF;
/// VDI block map entries at or above this read as zeros: FFFFFFFFh (never
/// written) and FFFFFFFEh (discarded).
const VDI_ZERO_BLOCKS: u32 = 0xFFFF_FFFE;
const VHDX_PAYLOAD_PARTIALLY_PRESENT: u64 = 7;
/// Payload states that read as zeros: not present, undefined, zero,
/// unmapped, and unmapped as VHDX 0.95 wrote it.
const VHDX_ZERO_STATES: [u64; 5] = [0, 1, 2, 3, 5];

impl Blocks {
    fn damaged(&self, what: &'static str) -> VdiskRefusal {
        let format = match self.kind {
            BlockKind::Vhd { .. } => "VHD",
            BlockKind::Vdi { .. } => "VDI",
            BlockKind::Vhdx { .. } => "VHDX",
        };
        VdiskRefusal::Damaged { format, what }
    }

    /// Where block `i`'s data lies in the file, or `None` when it reads as
    /// zeros; as much of it as the disk uses lies inside the file.
    fn at(&mut self, src: &mut (impl ByteSource + ?Sized), i: u64) -> Result<Option<u64>, VdiskRefusal> {
        let at = match self.kind {
            BlockKind::Vhd { bitmap_bytes } => match be32_at(self.table.get(src, i * 4, 4)?, 0) {
                VHD_UNALLOCATED => return Ok(None),
                sector => sector as u64 * SECTOR + bitmap_bytes,
            },
            BlockKind::Vdi { data_at } => match u32_at(self.table.get(src, i * 4, 4)?, 0) {
                n if n >= VDI_ZERO_BLOCKS => return Ok(None),
                n => data_at + n as u64 * self.block_bytes,
            },
            BlockKind::Vhdx { chunk_ratio } => {
                let e = u64_at(self.table.get(src, (i + i / chunk_ratio) * 8, 8)?, 0);
                match e & VHDX_BAT_STATE_MASK {
                    VHDX_PAYLOAD_FULLY_PRESENT if e & VHDX_BAT_OFFSET_MASK < VHDX_HEADER_SECTION => {
                        return Err(self.damaged("a block lies in its header section"))
                    }
                    VHDX_PAYLOAD_FULLY_PRESENT => e & VHDX_BAT_OFFSET_MASK,
                    VHDX_PAYLOAD_PARTIALLY_PRESENT => return Err(self.damaged("a block is partly present, as only a differencing VHDX's are")),
                    state if VHDX_ZERO_STATES.contains(&state) => return Ok(None),
                    _ => return Err(self.damaged("its block table gives a block state dropboot does not know")),
                }
            }
        };
        let used = self.block_bytes.min(self.disk_bytes - i * self.block_bytes);
        if !inside(at, used, self.file_bytes) {
            return Err(self.damaged("a block lies past the end of the file; is it truncated?"));
        }
        Ok(Some(at))
    }

    /// The run of the disk from byte `offset`, to the end of its block at
    /// most: where it lies in the file, or zeros.
    fn run(&mut self, src: &mut (impl ByteSource + ?Sized), offset: u64) -> Result<Piece, VdiskRefusal> {
        let i = offset / self.block_bytes;
        let within = offset % self.block_bytes;
        let bytes = self.block_bytes.min(self.disk_bytes - i * self.block_bytes) - within;
        Ok(match self.at(src, i)? {
            Some(at) => Piece::File { at: at + within, bytes },
            None => Piece::Zeros { bytes },
        })
    }
}

/// The spans of a fixed file of `format` ("VHD"), laid one after the other.
struct Layout {
    format: &'static str,
    spans: Vec<Span>,
    end: u64,
}

impl Layout {
    fn new(format: &'static str) -> Layout {
        Layout { format, spans: Vec::new(), end: 0 }
    }

    /// The refusal of a fixed file whose size or tables reach past what its
    /// format (or a u64) can say: only a damaged header asks for one.
    fn too_large(&self) -> VdiskRefusal {
        VdiskRefusal::Damaged { format: self.format, what: "its disk is too large to make fixed" }
    }

    /// `bytes` of `part` at the end; returns where they start.
    fn push(&mut self, part: Part, bytes: u64) -> Result<u64, VdiskRefusal> {
        let at = self.end;
        self.end = at.checked_add(bytes).ok_or(self.too_large())?;
        if bytes > 0 {
            self.spans.push(Span { at, bytes, part });
        }
        Ok(at)
    }

    /// Zeros up to `to`.
    fn pad_to(&mut self, to: u64) -> Result<(), VdiskRefusal> {
        self.push(Part::Zeros, to.checked_sub(self.end).ok_or(self.too_large())?).map(|_| ())
    }

    fn pad_to_multiple_of(&mut self, unit: u64) -> Result<(), VdiskRefusal> {
        self.pad_to(self.end.checked_next_multiple_of(unit).ok_or(self.too_large())?)
    }
}

impl Conversion {
    /// The fixed image of the disk in `src`: a VHD whose footer is at its
    /// start (a dynamic one), a VDI or a VHDX. A differencing image is
    /// refused (it needs its parent), and so is any other file
    /// ([`VdiskRefusal::NotADisk`]). Only the headers are read here: call
    /// [`Conversion::check_blocks`] before writing anything.
    pub fn open(src: &mut (impl ByteSource + ?Sized)) -> Result<Conversion, VdiskRefusal> {
        let (file_bytes, first, header) = first_sector(src)?;
        match header {
            Header::Vhdx => vhdx(src, file_bytes),
            Header::Vdi => vdi(&first, file_bytes),
            Header::VhdFooter => vhd(src, &first, file_bytes),
            Header::None => Err(VdiskRefusal::NotADisk),
        }
    }

    /// Reads the whole block table: every block the disk uses lies inside
    /// the file, in a state the format knows.
    pub fn check_blocks(&mut self, src: &mut (impl ByteSource + ?Sized)) -> Result<(), VdiskRefusal> {
        for i in 0..self.blocks.count {
            self.blocks.at(src, i)?;
        }
        Ok(())
    }

    /// What it becomes.
    pub fn format(&self) -> VdiskFormat {
        self.format
    }

    /// What it was, in words: "a dynamic VHD", "a fixed VHDX whose blocks
    /// are out of order or left out".
    pub fn was(&self) -> &'static str {
        self.was
    }

    /// The fixed file's length.
    pub fn len(&self) -> u64 {
        self.spans.last().map_or(0, |s| s.at + s.bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The virtual disk's size.
    pub fn disk_bytes(&self) -> u64 {
        self.blocks.disk_bytes
    }

    fn span(&self, offset: u64) -> Option<Span> {
        let i = self.spans.partition_point(|s| s.at + s.bytes <= offset);
        self.spans.get(i).copied()
    }

    /// Where the fixed file's bytes from `offset` come from: one run of
    /// `max` bytes at most (and at least one, inside the file).
    pub fn piece(&mut self, src: &mut (impl ByteSource + ?Sized), offset: u64, max: u64) -> Result<Piece, VdiskRefusal> {
        let span = self.span(offset).ok_or(VdiskRefusal::Read(IoError { lba: offset / SECTOR, kind: IoErrorKind::OutOfRange }))?;
        let left = max.min(span.at + span.bytes - offset);
        Ok(match span.part {
            Part::Zeros => Piece::Zeros { bytes: left },
            Part::Disk => match self.blocks.run(src, offset - span.at)? {
                Piece::File { at, bytes } => Piece::File { at, bytes: bytes.min(left) },
                other => Piece::Zeros { bytes: other.bytes().min(left) },
            },
            _ => Piece::Made { bytes: left },
        })
    }

    /// Fills `buf` with the fixed file's bytes from `offset`.
    pub fn read_at(&mut self, src: &mut (impl ByteSource + ?Sized), offset: u64, buf: &mut [u8]) -> Result<(), VdiskRefusal> {
        if offset.checked_add(buf.len() as u64).is_none_or(|end| end > self.len()) {
            return Err(VdiskRefusal::Read(IoError { lba: offset / SECTOR, kind: IoErrorKind::OutOfRange }));
        }
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let Some(span) = self.span(at) else { break };
            let piece = self.piece(src, at, (buf.len() - done) as u64)?;
            let out = &mut buf[done..done + piece.bytes() as usize];
            let from = at - span.at;
            match span.part {
                Part::Zeros | Part::Disk => match piece {
                    Piece::File { at, .. } => src.read_at(at, out)?,
                    _ => out.fill(0),
                },
                Part::Head => out.copy_from_slice(&self.head[from as usize..][..out.len()]),
                Part::Tail => out.copy_from_slice(&self.tail[from as usize..][..out.len()]),
                Part::IdentityMap => {
                    for (k, b) in out.iter_mut().enumerate() {
                        let p = from + k as u64;
                        *b = ((p / 4) as u32).to_le_bytes()[(p % 4) as usize];
                    }
                }
                Part::Metadata { from: source, flags_at } => {
                    src.read_at(source + from, out)?;
                    if let Some(k) = flags_at.checked_sub(from).filter(|&k| k < out.len() as u64) {
                        out[k as usize] |= VHDX_LEAVE_BLOCKS_ALLOCATED as u8;
                    }
                }
                Part::BlockTable { data_at } => {
                    for (k, b) in out.iter_mut().enumerate() {
                        let p = from + k as u64;
                        *b = self.block_table_entry(data_at, p / 8).to_le_bytes()[(p % 8) as usize];
                    }
                }
            }
            done += out.len();
        }
        Ok(())
    }

    /// Entry `j` of a fixed VHDX's block table: a payload block fully
    /// present, or (after every chunk ratio of them) a sector bitmap entry,
    /// not present.
    fn block_table_entry(&self, data_at: u64, j: u64) -> u64 {
        let BlockKind::Vhdx { chunk_ratio } = self.blocks.kind else { return 0 };
        let (group, slot) = (j / (chunk_ratio + 1), j % (chunk_ratio + 1));
        let i = group * chunk_ratio + slot;
        if slot == chunk_ratio || i >= self.blocks.count {
            return 0;
        }
        (data_at + i * self.blocks.block_bytes) | VHDX_PAYLOAD_FULLY_PRESENT
    }
}

// ---- VHD ----

const VHD_DATA_OFFSET: usize = 0x10;
const VHD_DYNAMIC_HEADER_BYTES: usize = 1024;
const VHD_DYNAMIC_CHECKSUM: usize = 36;

/// A dynamic VHD (footer `footer`, its copy at the file's start): the
/// disk, then the footer, made fixed.
fn vhd(src: &mut (impl ByteSource + ?Sized), footer: &[u8; SECTOR_SIZE], file_bytes: u64) -> Result<Conversion, VdiskRefusal> {
    const F: &str = "VHD";
    let damaged = |what| VdiskRefusal::Damaged { format: F, what };
    match vhd_disk_type(footer)? {
        VHD_DYNAMIC => {}
        VHD_DIFFERENCING => return Err(VdiskRefusal::Differencing { format: F }),
        _ => return Err(damaged("it starts with a footer, but not one of a dynamic disk")),
    }
    let header_at = be64_at(footer, VHD_DATA_OFFSET);
    if !inside(header_at, VHD_DYNAMIC_HEADER_BYTES as u64, file_bytes) {
        return Err(damaged("its dynamic header lies outside the file; is it truncated?"));
    }
    let mut h = [0u8; VHD_DYNAMIC_HEADER_BYTES];
    src.read_at(header_at, &mut h)?;
    if &h[..8] != b"cxsparse" {
        return Err(damaged("its footer points to no dynamic header"));
    }
    if vhd_checksum(&h, VHD_DYNAMIC_CHECKSUM) != be32_at(&h, VHD_DYNAMIC_CHECKSUM) {
        return Err(damaged("its dynamic header's checksum is wrong"));
    }
    let (table_at, entries, block_bytes) = (be64_at(&h, 16), be32_at(&h, 28) as u64, be32_at(&h, 32) as u64);
    if !block_bytes.is_power_of_two() || block_bytes < SECTOR {
        return Err(damaged("its block size is no power of two of a sector or more"));
    }
    let disk_bytes = disk_size(be64_at(footer, VHD_CURRENT_SIZE), F)?;
    let count = disk_bytes.div_ceil(block_bytes);
    if count > entries {
        return Err(damaged("its block table is too short for its disk size"));
    }
    if !inside(table_at, entries * 4, file_bytes) {
        return Err(damaged("its block table lies outside the file; is it truncated?"));
    }
    // One bit per sector, in whole sectors.
    let bitmap_bytes = (block_bytes / SECTOR).div_ceil(8).next_multiple_of(SECTOR);
    let blocks = Blocks { kind: BlockKind::Vhd { bitmap_bytes }, block_bytes, count, disk_bytes, file_bytes, table: Table::new(table_at, count * 4) };
    let mut fixed = *footer;
    fixed[VHD_DATA_OFFSET..VHD_DATA_OFFSET + 8].fill(0xFF);
    fixed[VHD_DISK_TYPE..VHD_DISK_TYPE + 4].copy_from_slice(&VHD_FIXED.to_be_bytes());
    let sum = vhd_checksum(&fixed, VHD_CHECKSUM);
    fixed[VHD_CHECKSUM..VHD_CHECKSUM + 4].copy_from_slice(&sum.to_be_bytes());
    let mut layout = Layout::new(F);
    layout.push(Part::Disk, disk_bytes)?;
    layout.push(Part::Tail, SECTOR)?;
    Ok(Conversion { format: VdiskFormat::FixedVhd, was: "a dynamic VHD", blocks, spans: layout.spans, head: Vec::new(), tail: fixed.to_vec() })
}

/// A disk size read from a header, rounded up to whole sectors; never 0.
fn disk_size(bytes: u64, format: &'static str) -> Result<u64, VdiskRefusal> {
    match bytes.checked_next_multiple_of(SECTOR) {
        Some(0) => Err(VdiskRefusal::Damaged { format, what: "its disk size is 0" }),
        Some(n) => Ok(n),
        None => Err(VdiskRefusal::Damaged { format, what: "its disk size is too large" }),
    }
}

// ---- VDI ----

const VDI_IMAGE_TYPE: usize = 0x4C;
const VDI_MAP_OFFSET: usize = 0x154;
const VDI_DATA_OFFSET: usize = 0x158;
const VDI_BLOCKS_ALLOCATED: usize = 0x184;
/// Where a static VDI's block map goes: right after its one-sector header.
const VDI_MAP_AT: u64 = SECTOR;

/// A VDI (first sector `h`): its header, made static; the block map i
/// -> i; the data from the next MiB on, every block whole.
fn vdi(h: &[u8; SECTOR_SIZE], file_bytes: u64) -> Result<Conversion, VdiskRefusal> {
    const F: &str = "VDI";
    let v = vdi_header(h)?;
    if v.header_end > SECTOR {
        return Err(VdiskRefusal::Unsupported { format: F, what: "a header longer than one sector" });
    }
    let disk_bytes = disk_size(v.disk_bytes, F)?;
    let count = disk_bytes.div_ceil(v.block_bytes);
    if !inside(v.map_at, count * 4, file_bytes) {
        return Err(VdiskRefusal::Damaged { format: F, what: "its block map lies outside the file; is it truncated?" });
    }
    let blocks = Blocks {
        kind: BlockKind::Vdi { data_at: v.data_at },
        block_bytes: v.block_bytes,
        count,
        disk_bytes,
        file_bytes,
        table: Table::new(v.map_at, v.blocks * 4),
    };
    let mut layout = Layout::new(F);
    layout.push(Part::Head, SECTOR)?;
    layout.push(Part::IdentityMap, v.blocks * 4)?;
    layout.pad_to_multiple_of(MIB)?;
    let data_at = layout.push(Part::Disk, disk_bytes)?;
    layout.pad_to(data_at.checked_add(v.blocks * v.block_bytes).ok_or(layout.too_large())?)?;
    let mut header = h.to_vec();
    header[v.header_end as usize..].fill(0);
    header[VDI_IMAGE_TYPE..][..4].copy_from_slice(&VDI_STATIC.to_le_bytes());
    header[VDI_MAP_OFFSET..][..4].copy_from_slice(&(VDI_MAP_AT as u32).to_le_bytes());
    header[VDI_DATA_OFFSET..][..4].copy_from_slice(&u32::try_from(data_at).map_err(|_| layout.too_large())?.to_le_bytes());
    header[VDI_BLOCKS_ALLOCATED..][..4].copy_from_slice(&(v.blocks as u32).to_le_bytes());
    let was = if v.dynamic { "a dynamic VDI" } else { "a fixed VDI whose blocks are out of order" };
    Ok(Conversion { format: VdiskFormat::StaticVdi, was, blocks, spans: layout.spans, head: header, tail: Vec::new() })
}

// ---- VHDX ----

/// The fixed VHDX's log: empty, 1 MiB from 1 MiB on (QEMU wants one there).
const VHDX_LOG_AT: u64 = MIB;
const VHDX_LOG_BYTES: u64 = MIB;
/// Its metadata region, copied, from 2 MiB on.
const VHDX_METADATA_AT: u64 = 2 * MIB;
/// The file identifier, the two headers and the two region tables.
const VHDX_HEAD_BYTES: usize = 320 << 10;
const VHDX_REGION_TABLES: [usize; 2] = [192 << 10, 256 << 10];

/// A VHDX: the file identifier, headers, region tables, an empty log, the
/// metadata, the block table and the blocks, in that order.
fn vhdx(src: &mut (impl ByteSource + ?Sized), file_bytes: u64) -> Result<Conversion, VdiskRefusal> {
    const F: &str = "VHDX";
    let file = vhdx_file(src, file_bytes)?;
    let block_bytes = file.params.block_size;
    let disk_bytes = file.params.disk_bytes;
    let entries = file.blocks + (file.blocks - 1) / file.chunk_ratio;
    let blocks = Blocks {
        kind: BlockKind::Vhdx { chunk_ratio: file.chunk_ratio },
        block_bytes,
        count: file.blocks,
        disk_bytes,
        file_bytes,
        table: Table::new(file.bat.offset, entries * 8),
    };
    let mut layout = Layout::new(F);
    layout.push(Part::Head, VHDX_HEAD_BYTES as u64)?;
    layout.pad_to(VHDX_METADATA_AT)?;
    let flags_at = file.params.params_at + 4;
    layout.push(Part::Metadata { from: file.metadata.offset, flags_at }, file.metadata.bytes)?;
    layout.pad_to_multiple_of(MIB)?;
    let bat_at = layout.end;
    let bat_bytes = (entries * 8).next_multiple_of(MIB);
    // The data follows the block table, which gives the data's place.
    let data_at = bat_at.checked_add(bat_bytes).ok_or(layout.too_large())?;
    layout.push(Part::BlockTable { data_at }, entries * 8)?;
    layout.pad_to(data_at)?;
    layout.push(Part::Disk, disk_bytes)?;
    layout.pad_to(data_at.checked_add(file.blocks * block_bytes).ok_or(layout.too_large())?)?;

    let mut head = vec![0u8; VHDX_HEAD_BYTES];
    head[..8].copy_from_slice(VHDX_SIGNATURE);
    for (k, c) in "dropboot".encode_utf16().enumerate() {
        head[8 + 2 * k..][..2].copy_from_slice(&c.to_le_bytes());
    }
    for (seq, at) in VHDX_HEADERS.into_iter().enumerate() {
        let h = &mut head[at as usize..][..VHDX_HEADER_BYTES];
        h[..4].copy_from_slice(b"head");
        h[8..16].copy_from_slice(&(seq as u64).to_le_bytes());
        // The file and data write GUIDs: the disk's data is the same.
        h[16..48].copy_from_slice(&file.header[16..48]);
        // No log GUID: nothing to replay; log version 0.
        h[66..68].copy_from_slice(&1u16.to_le_bytes());
        h[68..72].copy_from_slice(&(VHDX_LOG_BYTES as u32).to_le_bytes());
        h[72..80].copy_from_slice(&VHDX_LOG_AT.to_le_bytes());
        let crc = crc32c(h);
        h[4..8].copy_from_slice(&crc.to_le_bytes());
    }
    let bat_len = u32::try_from(bat_bytes).map_err(|_| layout.too_large())?;
    let metadata_len = file.metadata.bytes as u32;
    for at in VHDX_REGION_TABLES {
        let t = &mut head[at..][..VHDX_REGION_TABLE_BYTES];
        t[..4].copy_from_slice(b"regi");
        t[8..12].copy_from_slice(&2u32.to_le_bytes());
        for (k, (id, offset, bytes)) in [(VHDX_BAT, bat_at, bat_len), (VHDX_METADATA, VHDX_METADATA_AT, metadata_len)].into_iter().enumerate() {
            let e = &mut t[16 + 32 * k..][..32];
            e[..16].copy_from_slice(&id.0);
            e[16..24].copy_from_slice(&offset.to_le_bytes());
            e[24..28].copy_from_slice(&bytes.to_le_bytes());
            e[28..32].copy_from_slice(&VHDX_REGION_REQUIRED.to_le_bytes());
        }
        let crc = crc32c(t);
        t[4..8].copy_from_slice(&crc.to_le_bytes());
    }
    let was = if file.params.flags & VHDX_LEAVE_BLOCKS_ALLOCATED == 0 {
        "a dynamic VHDX"
    } else {
        "a fixed VHDX whose blocks are out of order or left out"
    };
    Ok(Conversion { format: VdiskFormat::FixedVhdx, was, blocks, spans: layout.spans, head, tail: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::super::test_images::*;
    // The test images' MiB, a usize.
    use super::super::test_images::MIB;
    use super::*;

    /// The fixed file `file` becomes, whole, and how it was made.
    fn made(file: &mut [u8]) -> Result<(Conversion, Vec<u8>), VdiskRefusal> {
        let mut c = Conversion::open(file)?;
        c.check_blocks(file)?;
        let mut out = vec![0u8; c.len() as usize];
        c.read_at(file, 0, &mut out)?;
        Ok((c, out))
    }

    /// The fixed file read piece by piece, as the builder copies it: runs
    /// of the file, zeros, and bytes made.
    fn by_pieces(c: &mut Conversion, file: &mut [u8], max: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while (out.len() as u64) < c.len() {
            let at = out.len() as u64;
            let piece = c.piece(file, at, max).unwrap();
            let n = piece.bytes() as usize;
            assert!(n > 0 && n as u64 <= max, "a piece of 1 to {max} bytes: {piece:?}");
            match piece {
                Piece::File { at, .. } => out.extend_from_slice(&file[at as usize..][..n]),
                Piece::Zeros { .. } => out.resize(out.len() + n, 0),
                Piece::Made { .. } => {
                    let mut made = vec![0u8; n];
                    c.read_at(file, at, &mut made).unwrap();
                    out.extend_from_slice(&made);
                }
            }
        }
        out
    }

    /// `file` made fixed is `format`, its disk `disk`, the same read whole
    /// and piece by piece.
    fn becomes(file: &mut [u8], format: VdiskFormat, was: &str, disk: &[u8]) -> Vec<u8> {
        let (mut c, mut out) = made(file).unwrap();
        assert_eq!((c.format(), c.was(), c.disk_bytes()), (format, was, disk.len() as u64));
        let v = recognize(&mut out[..]).unwrap();
        assert_eq!((v.format, v.data_bytes), (format, disk.len() as u64));
        let mut contents = vec![0u8; disk.len()];
        v.contents(&mut out[..]).read_at(0, &mut contents).unwrap();
        assert!(contents == disk, "the disk, byte for byte");
        for max in [512, 4096, 1 << 20, u64::MAX] {
            assert!(by_pieces(&mut c, file, max) == out, "read in pieces of {max} bytes");
        }
        out
    }

    /// The disk with blocks `zeros` (of 4 KiB) zero.
    fn with_zero_blocks(mut disk: Vec<u8>, zeros: &[usize]) -> Vec<u8> {
        for &b in zeros {
            disk[b * 4096..][..4096].fill(0);
        }
        disk
    }

    #[test]
    fn a_dynamic_vhd_becomes_its_disk_and_its_footer_made_fixed() {
        let disk = with_zero_blocks(numbered(64), &[2, 5]);
        let mut file = dynamic_vhd(&disk);
        let out = becomes(&mut file, VdiskFormat::FixedVhd, "a dynamic VHD", &disk);
        assert_eq!(out.len(), disk.len() + 512);
        let (footer, original) = (&out[disk.len()..], &file[..512]);
        assert_eq!(be32_at(footer, VHD_DISK_TYPE), VHD_FIXED);
        assert_eq!(be64_at(footer, VHD_DATA_OFFSET), u64::MAX);
        let same = |r: core::ops::Range<usize>| assert_eq!(footer[r.clone()], original[r]);
        // Cookie to creator, sizes and geometry, UUID and the rest.
        same(0..0x10);
        same(0x18..0x3C);
        same(0x44..512);
    }

    #[test]
    fn a_dynamic_vdi_becomes_a_static_one_with_its_blocks_in_order() {
        let disk = with_zero_blocks(numbered(64), &[4, 6]);
        let mut file = static_vdi(&disk);
        put(&mut file, 0x4C, &VDI_DYNAMIC.to_le_bytes());
        // Blocks 0 and 1 swapped; 4 never written, 6 discarded (their
        // bytes in the file are not the disk's).
        let data = |i: usize| 1024 + 4096 * i;
        let (b0, b1) = (file[data(0)..data(1)].to_vec(), file[data(1)..data(2)].to_vec());
        put(&mut file, data(0), &b1);
        put(&mut file, data(1), &b0);
        put(&mut file, 512, &1u32.to_le_bytes());
        put(&mut file, 516, &0u32.to_le_bytes());
        put(&mut file, 512 + 16, &0xFFFF_FFFFu32.to_le_bytes());
        put(&mut file, 512 + 24, &0xFFFF_FFFEu32.to_le_bytes());
        file[data(4)..data(5)].fill(0xEE);
        file[data(6)..data(7)].fill(0xEE);
        let out = becomes(&mut file, VdiskFormat::StaticVdi, "a dynamic VDI", &disk);
        assert_eq!(out.len(), (1 << 20) + disk.len(), "the data from 1 MiB on, whole blocks");
        assert_eq!(u32_at(&out, 0x4C), VDI_STATIC);
        assert_eq!((u32_at(&out, 0x154), u32_at(&out, 0x158)), (512, 1 << 20));
        assert_eq!(u32_at(&out, 0x184), 8, "every block allocated");
        assert_eq!(out[..0x4C], file[..0x4C]);
        assert_eq!(out[0x188..0x1C8], file[0x188..0x1C8], "the UUIDs");
        // A static one out of order is made fixed the same way.
        put(&mut file, 0x4C, &VDI_STATIC.to_le_bytes());
        becomes(&mut file, VdiskFormat::StaticVdi, "a fixed VDI whose blocks are out of order", &disk);
    }

    #[test]
    fn a_dynamic_vhdx_becomes_a_fixed_one_with_its_blocks_in_order() {
        let mut disk = numbered(3 * MIB / 512);
        disk[MIB..2 * MIB].fill(0);
        let mut file = fixed_vhdx(&disk);
        let (params, bat) = (MIB + (64 << 10), 2 * MIB);
        put(&mut file, params + 4, &0u32.to_le_bytes());
        // Blocks 0 and 2 swapped; block 1 a zero block (its bytes not the disk's).
        let (b0, b2) = (file[3 * MIB..4 * MIB].to_vec(), file[5 * MIB..6 * MIB].to_vec());
        put(&mut file, 3 * MIB, &b2);
        put(&mut file, 5 * MIB, &b0);
        put(&mut file, bat, &((5u64 << 20) | VHDX_PAYLOAD_FULLY_PRESENT).to_le_bytes());
        put(&mut file, bat + 8, &((4u64 << 20) | 2).to_le_bytes());
        put(&mut file, bat + 16, &((3u64 << 20) | VHDX_PAYLOAD_FULLY_PRESENT).to_le_bytes());
        file[4 * MIB..5 * MIB].fill(0xEE);
        let out = becomes(&mut file, VdiskFormat::FixedVhdx, "a dynamic VHDX", &disk);
        let v = recognize(&mut out.clone()[..]).unwrap();
        assert_eq!(v.data_start, 4 << 20, "after the header section, the log, the metadata and the block table");
        let flags = u32_at(&out, 2 * MIB + (64 << 10) + 4);
        assert_eq!(flags, VHDX_LEAVE_BLOCKS_ALLOCATED);
        // A fixed one with a block left out is made fixed the same way.
        put(&mut file, params + 4, &VHDX_LEAVE_BLOCKS_ALLOCATED.to_le_bytes());
        assert_eq!(recognize(&mut file[..]), Err(VdiskRefusal::NotInOrder { format: "VHDX" }));
        becomes(&mut file, VdiskFormat::FixedVhdx, "a fixed VHDX whose blocks are out of order or left out", &disk);
    }

    #[test]
    fn each_wrong_vhd_structure_has_its_refusal() {
        let file = dynamic_vhd(&numbered(64));
        let end = file.len() - 512;
        let damaged = |what| Err(VdiskRefusal::Damaged { format: "VHD", what });
        let with = |at: usize, bytes: &[u8], seal: Option<(usize, usize)>| {
            let mut f = file.clone();
            put(&mut f, at, bytes);
            if let Some((from, field)) = seal {
                seal_vhd(&mut f[from..from + if from == 0 { 512 } else { 1024 }], field);
            }
            made(&mut f).map(|_| ())
        };
        let footer = Some((0, VHD_CHECKSUM));
        let header = Some((512, VHD_DYNAMIC_CHECKSUM));
        assert_eq!(with(0x3C, &4u32.to_be_bytes(), footer), Err(VdiskRefusal::Differencing { format: "VHD" }));
        assert_eq!(with(0x3C, &2u32.to_be_bytes(), footer), damaged("it starts with a footer, but not one of a dynamic disk"));
        assert_eq!(with(0x10, &(end as u64).to_be_bytes(), footer), damaged("its dynamic header lies outside the file; is it truncated?"));
        assert_eq!(with(512, b"cxsparsf", header), damaged("its footer points to no dynamic header"));
        assert_eq!(with(512 + 100, &[1], None), damaged("its dynamic header's checksum is wrong"));
        assert_eq!(with(512 + 32, &3000u32.to_be_bytes(), header), damaged("its block size is no power of two of a sector or more"));
        assert_eq!(with(512 + 28, &7u32.to_be_bytes(), header), damaged("its block table is too short for its disk size"));
        assert_eq!(with(512 + 16, &(end as u64 + 500).to_be_bytes(), header), damaged("its block table lies outside the file; is it truncated?"));
        assert_eq!(with(0x30, &0u64.to_be_bytes(), footer), damaged("its disk size is 0"));
        assert_eq!(with(1536, &((end / 512) as u32).to_be_bytes(), None), damaged("a block lies past the end of the file; is it truncated?"));
        assert_eq!(with(0, b"conectiy", None), Err(VdiskRefusal::NotADisk));
        assert_eq!(made(&mut [0u8; 100]).map(|_| ()), Err(VdiskRefusal::NotADisk));
    }

    #[test]
    fn each_wrong_vdi_and_vhdx_block_has_its_refusal() {
        let mut vdi = static_vdi(&numbered(64));
        put(&mut vdi, 0x4C, &VDI_DYNAMIC.to_le_bytes());
        let vdi_with = |at: usize, bytes: &[u8]| {
            let mut f = vdi.clone();
            put(&mut f, at, bytes);
            made(&mut f).map(|_| ())
        };
        let damaged = |format, what| Err(VdiskRefusal::Damaged { format, what });
        assert_eq!(vdi_with(0x4C, &VDI_DIFF.to_le_bytes()), Err(VdiskRefusal::Differencing { format: "VDI" }));
        assert_eq!(vdi_with(512 + 28, &8u32.to_le_bytes()), damaged("VDI", "a block lies past the end of the file; is it truncated?"));
        let mut long = vdi.clone();
        for (at, value) in [(0x48, 0x1C0u32), (0x154, 1024), (0x158, 1536)] {
            put(&mut long, at, &value.to_le_bytes());
        }
        assert_eq!(made(&mut long).map(|_| ()), Err(VdiskRefusal::Unsupported { format: "VDI", what: "a header longer than one sector" }));
        let mut short = vdi[..520].to_vec();
        assert_eq!(made(&mut short).map(|_| ()), damaged("VDI", "its block map lies outside the file; is it truncated?"));

        let mut vhdx = fixed_vhdx(&numbered(3 * MIB / 512));
        put(&mut vhdx, MIB + (64 << 10) + 4, &0u32.to_le_bytes());
        let bat = 2 * MIB;
        let vhdx_with = |state: u64, offset: u64| {
            let mut f = vhdx.clone();
            put(&mut f, bat + 8, &((offset << 20) | state).to_le_bytes());
            made(&mut f).map(|_| ())
        };
        assert_eq!(vhdx_with(7, 4), damaged("VHDX", "a block is partly present, as only a differencing VHDX's are"));
        assert_eq!(vhdx_with(4, 4), damaged("VHDX", "its block table gives a block state dropboot does not know"));
        assert_eq!(vhdx_with(6, 0), damaged("VHDX", "a block lies in its header section"));
        assert_eq!(vhdx_with(6, 6), damaged("VHDX", "a block lies past the end of the file; is it truncated?"));
        for zeros in VHDX_ZERO_STATES {
            assert_eq!(vhdx_with(zeros, 0), Ok(()), "state {zeros} reads as zeros");
        }
        put(&mut vhdx, MIB + (64 << 10) + 4, &VHDX_HAS_PARENT.to_le_bytes());
        assert_eq!(made(&mut vhdx).map(|_| ()), Err(VdiskRefusal::Differencing { format: "VHDX" }));
    }
}
