//! NTFS, read-only: the boot sector, the MFT (itself in runs, and with an
//! attribute list of its own when it is fragmented), the update-sequence
//! fixups of FILE and INDX records, attributes and `$ATTRIBUTE_LIST`
//! (files in many pieces spill into extension records), `$FILE_NAME` (the
//! long name; DOS 8.3 aliases are skipped), folder indexes (`$INDEX_ROOT`,
//! `$INDEX_ALLOCATION`), name comparison by the volume's `$UpCase`, and
//! non-resident `$DATA` runs as extent maps. Small resident files (the
//! configuration) are read from their MFT record.
//!
//! Compressed, encrypted and sparse files, and files whose data is not
//! all written yet, are refused by name ([`NtfsError`]): the loader reads
//! a file's sectors straight from the stick, so it needs plain runs. A
//! volume Windows left dirty or hibernated opens, with [`Ntfs::warning`].
//!
//! Nothing read from the volume is trusted: every offset and length is
//! checked against the record or block it lies in, run lists and index
//! walks are bounded, and no attribute value above a limit is read whole.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::block::{BlockDevice, IoError, SECTOR_SIZE};
use crate::extent::ExtentMap;
use crate::tree::{DirEntry, FileTree, NodeId};

/// The root folder's MFT record.
const ROOT_RECORD: u64 = 5;
/// Records 0-15 are the volume's own files ($MFT, $Bitmap, ...); 16-23 are
/// reserved. Folders never list them for the menu.
const FIRST_USER_RECORD: u64 = 24;
const UPCASE_RECORD: u64 = 10;
const VOLUME_RECORD: u64 = 3;
const BITMAP_RECORD: u64 = 6;

const ATTR_ATTRIBUTE_LIST: u32 = 0x20;
const ATTR_VOLUME_NAME: u32 = 0x60;
const ATTR_VOLUME_INFORMATION: u32 = 0x70;
const ATTR_DATA: u32 = 0x80;
const ATTR_INDEX_ROOT: u32 = 0x90;
const ATTR_INDEX_ALLOCATION: u32 = 0xA0;
const ATTR_END: u32 = 0xFFFF_FFFF;
/// The file-name index of a folder.
const I30: [u16; 4] = [b'$' as u16, b'I' as u16, b'3' as u16, b'0' as u16];

const FLAG_COMPRESSED: u16 = 0x0001;
const FLAG_ENCRYPTED: u16 = 0x4000;
const FLAG_SPARSE: u16 = 0x8000;
const RECORD_IN_USE: u16 = 0x0001;
/// In a `$FILE_NAME`'s file attributes: the file is a folder (has an index).
const FILE_NAME_IS_DIRECTORY: u32 = 0x1000_0000;
const VOLUME_DIRTY: u16 = 0x0001;
const INDEX_ENTRY_HAS_SUBNODE: u16 = 0x0001;
const INDEX_ENTRY_LAST: u16 = 0x0002;
/// `$FILE_NAME` namespace of a DOS-only 8.3 alias (the long name is another entry).
const NAMESPACE_DOS: u8 = 2;
/// The update-sequence stride: every 512 bytes of a record, whatever the sector size.
const FIXUP_STRIDE: usize = 512;

/// Runs one attribute may have (a file in 65,536 pieces is refused).
pub const MAX_RUNS: usize = 65_536;
/// Extension records one attribute may be spread over.
const MAX_FRAGMENTS: usize = 4096;
/// Bytes of an attribute list, or of a resident value, read at most.
const MAX_LIST_BYTES: u64 = 1 << 20;
/// Index blocks one folder listing may visit, and the deepest index tree.
const MAX_INDEX_BLOCKS: usize = 1 << 16;
const MAX_INDEX_DEPTH: usize = 32;
/// Entries of one folder (as FAT's 65,536 limit).
const MAX_DIR_ENTRIES: usize = 65_536;
/// `$UpCase` is one u16 for every UTF-16 unit.
const UPCASE_BYTES: u64 = 2 * 65_536;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NtfsError {
    Io(IoError),
    /// The boot sector is not an NTFS one; `what` names the first field that says so.
    NotNtfs {
        what: &'static str,
        value: u64,
    },
    /// MFT record `record` is damaged (`what`).
    BadRecord {
        record: u64,
        what: &'static str,
    },
    /// An index block of folder `record` is damaged.
    BadIndex {
        record: u64,
        what: &'static str,
    },
    /// A file has no data attribute, or a folder no index.
    Missing {
        record: u64,
        what: &'static str,
    },
    /// A file's data is compressed (NTFS compression).
    Compressed,
    /// A file is encrypted (EFS).
    Encrypted,
    /// A file is sparse: parts of it are holes, not on the disk.
    Sparse,
    /// A file's data is not all written (its initialized size is smaller).
    PartlyWritten {
        size: u64,
        initialized: u64,
    },
    /// The folder's index and the file's own record disagree on its size.
    SizeDisagrees {
        listed: u64,
        actual: u64,
    },
    /// A file's data is kept inside its MFT record (too small to boot).
    Resident,
    /// A file in more pieces than [`MAX_RUNS`].
    TooManyRuns {
        record: u64,
    },
    /// A folder with more than 65,536 entries, or an index too deep.
    DirectoryTooLarge {
        record: u64,
    },
}

impl NtfsError {
    /// True when the volume's structures are wrong, false for a read error
    /// or a file kept in a way the loader cannot read in place.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            NtfsError::NotNtfs { .. }
                | NtfsError::BadRecord { .. }
                | NtfsError::BadIndex { .. }
                | NtfsError::Missing { .. }
                | NtfsError::SizeDisagrees { .. }
        )
    }
}

impl From<IoError> for NtfsError {
    fn from(e: IoError) -> Self {
        NtfsError::Io(e)
    }
}

impl core::fmt::Display for NtfsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NtfsError::Io(e) => write!(f, "{e}"),
            NtfsError::NotNtfs { what, value } => write!(f, "not an NTFS volume: {what} ({value:#x})"),
            NtfsError::BadRecord { record, what } => write!(f, "NTFS MFT record {record} is damaged: {what}"),
            NtfsError::BadIndex { record, what } => write!(f, "NTFS folder (MFT record {record}) has a damaged index: {what}"),
            NtfsError::Missing { record, what } => write!(f, "NTFS MFT record {record} has no {what}"),
            NtfsError::Compressed => write!(f, "the file is NTFS-compressed; copy it again with compression off (its folder's Properties, Advanced)"),
            NtfsError::Encrypted => write!(f, "the file is encrypted (EFS); copy it again unencrypted"),
            NtfsError::Sparse => write!(f, "the file is sparse (parts of it are not on the disk); copy it again as a whole file"),
            NtfsError::PartlyWritten { size, initialized } => {
                write!(f, "only {initialized} of the file's {size} bytes are written; copy it again")
            }
            NtfsError::SizeDisagrees { listed, actual } => {
                write!(f, "its folder lists {listed} bytes but the file has {actual} (Windows may not have finished writing it; run chkdsk)")
            }
            NtfsError::Resident => write!(f, "the file is kept inside its NTFS record (it is too small to boot)"),
            NtfsError::TooManyRuns { record } => write!(f, "the file (MFT record {record}) is in more than {MAX_RUNS} pieces"),
            NtfsError::DirectoryTooLarge { record } => write!(f, "the folder (MFT record {record}) is too large or its index too deep"),
        }
    }
}

type Result<T> = core::result::Result<T, NtfsError>;

/// True when `boot_sector` names itself NTFS.
pub fn is_ntfs(boot_sector: &[u8]) -> bool {
    boot_sector.get(3..11) == Some(b"NTFS    ")
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    b.get(o..o.checked_add(2)?).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    b.get(o..o.checked_add(4)?).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    b.get(o..o.checked_add(8)?).map(|s| u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
}

/// `len` clusters of an attribute's value from `vcn`, at cluster `lcn`
/// (`None`: a hole of a sparse or compressed file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    vcn: u64,
    lcn: Option<u64>,
    len: u64,
}

/// An attribute's value: resident bytes, or runs of clusters.
#[derive(Clone, Debug, Default)]
struct Value {
    resident: Option<Vec<u8>>,
    runs: Vec<Run>,
    size: u64,
    initialized: u64,
    flags: u16,
}

/// Decodes a mapping-pairs array into runs from `vcn` on.
fn decode_runs(bytes: &[u8], mut vcn: u64, out: &mut Vec<Run>, record: u64) -> Result<()> {
    let bad = NtfsError::BadRecord { record, what: "its run list" };
    let (mut i, mut lcn) = (0usize, 0i64);
    while let Some(&header) = bytes.get(i) {
        if header == 0 {
            return Ok(());
        }
        let (len_bytes, offset_bytes) = ((header & 0x0F) as usize, (header >> 4) as usize);
        if len_bytes == 0 || len_bytes > 8 || offset_bytes > 8 {
            return Err(bad);
        }
        let field = bytes.get(i + 1..i + 1 + len_bytes + offset_bytes).ok_or(bad.clone())?;
        let len = field[..len_bytes].iter().rev().fold(0u64, |v, &b| v << 8 | b as u64);
        let at = if offset_bytes == 0 {
            None
        } else {
            let raw = field[len_bytes..].iter().rev().fold(0u64, |v, &b| v << 8 | b as u64);
            let shift = 64 - 8 * offset_bytes as u32;
            let delta = ((raw << shift) as i64) >> shift;
            lcn = lcn.checked_add(delta).filter(|&l| l >= 0).ok_or(bad.clone())?;
            Some(lcn as u64)
        };
        if len == 0 {
            return Err(bad);
        }
        if out.len() >= MAX_RUNS {
            return Err(NtfsError::TooManyRuns { record });
        }
        out.push(Run { vcn, lcn: at, len });
        vcn = vcn.checked_add(len).ok_or(bad.clone())?;
        i += 1 + len_bytes + offset_bytes;
    }
    Err(bad)
}

/// Applies the update sequence of a FILE or INDX record in place.
fn fixup(block: &mut [u8], magic: &[u8; 4]) -> core::result::Result<(), &'static str> {
    if block.get(..4) != Some(&magic[..]) {
        return Err("wrong signature");
    }
    let (offset, count) = (u16_at(block, 4).unwrap_or(0) as usize, u16_at(block, 6).unwrap_or(0) as usize);
    if count < 2 || (count - 1) * FIXUP_STRIDE != block.len() {
        return Err("wrong update sequence length");
    }
    let usn = u16_at(block, offset).ok_or("update sequence outside the record")?;
    for k in 1..count {
        let end = k * FIXUP_STRIDE - 2;
        let saved = u16_at(block, offset + 2 * k).ok_or("update sequence outside the record")?;
        if u16_at(block, end) != Some(usn) {
            return Err("torn write (update sequence mismatch)");
        }
        block[end..end + 2].copy_from_slice(&saved.to_le_bytes());
    }
    Ok(())
}

/// The attributes of a fixed-up FILE record: (type, start, length), until
/// the end marker or the first one that does not fit.
fn attributes(record: &[u8]) -> impl Iterator<Item = (u32, usize, usize)> + '_ {
    let used = (u32_at(record, 0x18).unwrap_or(0) as usize).min(record.len());
    let mut at = u16_at(record, 0x14).unwrap_or(0) as usize;
    core::iter::from_fn(move || {
        let kind = u32_at(record, at)?;
        let len = u32_at(record, at + 4)? as usize;
        if kind == ATTR_END || len < 24 || at.checked_add(len)? > used {
            return None;
        }
        let found = (kind, at, len);
        at += len;
        Some(found)
    })
}

/// The UTF-16 name in a `$FILE_NAME` index key.
fn key_name(key: &[u8]) -> impl Iterator<Item = u16> + '_ {
    let n = key.get(0x40).copied().unwrap_or(0) as usize;
    (0..n).map(move |i| u16_at(key, 0x42 + 2 * i).unwrap_or(0xFFFF))
}

/// An attribute's name, as UTF-16 units.
fn attribute_name(attribute: &[u8]) -> impl Iterator<Item = u16> + '_ {
    let (n, at) = (attribute.get(9).copied().unwrap_or(0) as usize, u16_at(attribute, 10).unwrap_or(0) as usize);
    (0..n).map(move |k| u16_at(attribute, at + 2 * k).unwrap_or(0xFFFF))
}

/// Adds one attribute record to `value`: its bytes (resident) or its runs;
/// `first`: the fragment from VCN 0, which holds the sizes and flags.
fn add_fragment(attribute: &[u8], value: &mut Value, first: bool, record: u64) -> Result<()> {
    let bad = |what| NtfsError::BadRecord { record, what };
    if first {
        value.flags = u16_at(attribute, 12).ok_or(bad("an attribute header"))?;
    }
    if attribute.get(8) == Some(&0) {
        let len = u32_at(attribute, 16).ok_or(bad("a resident value"))? as usize;
        let at = u16_at(attribute, 20).ok_or(bad("a resident value"))? as usize;
        let bytes = attribute.get(at..at.checked_add(len).ok_or(bad("a resident value"))?).ok_or(bad("a resident value"))?;
        value.size = len as u64;
        value.initialized = len as u64;
        value.resident = Some(bytes.to_vec());
        return Ok(());
    }
    if first {
        value.size = u64_at(attribute, 48).ok_or(bad("a non-resident header"))?;
        value.initialized = u64_at(attribute, 56).ok_or(bad("a non-resident header"))?;
    }
    let lowest_vcn = u64_at(attribute, 16).ok_or(bad("a non-resident header"))?;
    let runs_at = u16_at(attribute, 32).ok_or(bad("a non-resident header"))? as usize;
    decode_runs(attribute.get(runs_at..).ok_or(bad("its run list"))?, lowest_vcn, &mut value.runs, record)
}

/// An NTFS volume on a block device whose sector 0 is its boot sector.
pub struct Ntfs<D> {
    dev: D,
    cluster_bytes: u64,
    /// Clusters of the volume.
    clusters: u64,
    record_bytes: usize,
    index_block_bytes: usize,
    /// Where the MFT lies.
    mft: Vec<Run>,
    /// The raw MFT record last read, and its number (see [`Ntfs::record`]).
    cached: Vec<u8>,
    cached_number: u64,
    upcase: Vec<u16>,
    pub label: String,
    /// Why the volume may not be as Windows last saw it (dirty, hibernated).
    warning: Option<&'static str>,
}

impl<D: BlockDevice> Ntfs<D> {
    pub fn open(mut dev: D) -> Result<Self> {
        let mut bs = [0u8; 512];
        dev.read_sectors(0, &mut bs)?;
        let bad = |what, value: u64| Err(NtfsError::NotNtfs { what, value });
        if !is_ntfs(&bs) {
            return bad("file system name", 0);
        }
        if bs[510] != 0x55 || bs[511] != 0xAA {
            return bad("boot signature", u16::from_le_bytes([bs[510], bs[511]]) as u64);
        }
        let sector = u16::from_le_bytes([bs[11], bs[12]]) as u64;
        if !(512..=4096).contains(&sector) || !sector.is_power_of_two() {
            return bad("bytes per sector", sector);
        }
        let per_cluster = bs[13] as u64;
        // Above 128 sectors per cluster the byte is a negative power of two.
        let per_cluster = if per_cluster > 0x80 { 1u64.checked_shl(256 - per_cluster as u32).unwrap_or(0) } else { per_cluster };
        let cluster_bytes = sector.checked_mul(per_cluster).filter(|c| (512..=2 << 20).contains(c));
        let Some(cluster_bytes) = cluster_bytes.filter(|_| per_cluster.is_power_of_two()) else {
            return bad("sectors per cluster", bs[13] as u64);
        };
        let size_of = |raw: u8| -> Option<usize> {
            let bytes = if raw >= 0x80 { 1u64.checked_shl(256 - raw as u32)? } else { raw as u64 * cluster_bytes };
            (1024..=65_536).contains(&bytes).then_some(bytes as usize).filter(|b| b.is_power_of_two())
        };
        let Some(record_bytes) = size_of(bs[0x40]) else { return bad("MFT record size", bs[0x40] as u64) };
        let Some(index_block_bytes) = size_of(bs[0x44]) else { return bad("index block size", bs[0x44] as u64) };
        let mft_lcn = u64::from_le_bytes(bs[0x30..0x38].try_into().unwrap_or([0; 8]));
        let total = u64::from_le_bytes(bs[0x28..0x30].try_into().unwrap_or([0; 8]));
        if mft_lcn == 0 || mft_lcn.checked_mul(cluster_bytes).is_none_or(|at| at / sector >= total) {
            return bad("MFT cluster", mft_lcn);
        }
        let mut ntfs = Ntfs {
            dev,
            cluster_bytes,
            clusters: total / (cluster_bytes / sector),
            record_bytes,
            index_block_bytes,
            mft: vec![Run { vcn: 0, lcn: Some(mft_lcn), len: (record_bytes as u64).div_ceil(cluster_bytes) }],
            cached: Vec::new(),
            cached_number: 0,
            upcase: Vec::new(),
            label: String::new(),
            warning: None,
        };
        // Record 0 describes the MFT: first by its own $DATA fragment (which
        // covers at least the records holding the rest), then whole.
        let record = ntfs.record(0)?;
        let (_, at, len) = attributes(&record)
            .find(|&(kind, at, len)| kind == ATTR_DATA && attribute_name(&record[at..at + len]).next().is_none())
            .ok_or(NtfsError::Missing { record: 0, what: "$DATA" })?;
        let mut first = Value::default();
        add_fragment(&record[at..at + len], &mut first, true, 0)?;
        ntfs.set_mft(first.runs);
        let mft = ntfs.value(0, ATTR_DATA, &[])?;
        if mft.runs.iter().any(|r| r.lcn.is_none()) {
            return Err(NtfsError::BadRecord { record: 0, what: "the MFT has holes" });
        }
        ntfs.set_mft(mft.runs);
        let upcase = ntfs.value(UPCASE_RECORD, ATTR_DATA, &[])?;
        if upcase.size != UPCASE_BYTES {
            return Err(NtfsError::BadRecord { record: UPCASE_RECORD, what: "$UpCase is not 128 KiB" });
        }
        let mut table = vec![0u8; UPCASE_BYTES as usize];
        ntfs.read_value(&upcase, 0, &mut table)?;
        ntfs.upcase = table.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        if let Ok(name) = ntfs.value(VOLUME_RECORD, ATTR_VOLUME_NAME, &[]) {
            let units = name.resident.unwrap_or_default();
            ntfs.label = char::decode_utf16(units.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])))
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
        }
        let info = ntfs.value(VOLUME_RECORD, ATTR_VOLUME_INFORMATION, &[]).ok().and_then(|v| v.resident);
        if info.and_then(|i| u16_at(&i, 10)).is_some_and(|flags| flags & VOLUME_DIRTY != 0) {
            ntfs.warning = Some("Windows did not close this NTFS volume cleanly (run chkdsk there); files may be missing");
        } else if ntfs.hibernated() {
            ntfs.warning = Some("Windows is hibernated on this NTFS volume (or used Fast Startup); files written since may be missing");
        }
        Ok(ntfs)
    }

    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }

    pub fn cluster_bytes(&self) -> u64 {
        self.cluster_bytes
    }

    /// Bytes in free clusters, by the volume's `$Bitmap`.
    pub fn free_bytes(&mut self) -> Result<u64> {
        let bitmap = self.value(BITMAP_RECORD, ATTR_DATA, &[])?;
        let bytes = self.clusters.div_ceil(8).min(bitmap.size);
        let mut used = 0u64;
        let mut chunk = vec![0u8; 64 << 10];
        let mut at = 0u64;
        while at < bytes {
            let n = (bytes - at).min(chunk.len() as u64) as usize;
            let whole = n.next_multiple_of(SECTOR_SIZE);
            self.read_value(&bitmap, at, &mut chunk[..whole])?;
            let last = at + n as u64 == bytes && self.clusters % 8 != 0;
            for (i, &b) in chunk[..n].iter().enumerate() {
                let b = if last && i == n - 1 { b & ((1u8 << (self.clusters % 8)) - 1) } else { b };
                used += b.count_ones() as u64;
            }
            at += n as u64;
        }
        Ok(self.clusters.saturating_sub(used) * self.cluster_bytes)
    }

    /// Why the volume may not be as Windows last left it, if it may not.
    pub fn warning(&self) -> Option<&'static str> {
        self.warning
    }

    /// True when the root holds a hiberfil.sys that starts with a
    /// hibernation signature.
    fn hibernated(&mut self) -> bool {
        let name: Vec<u16> = "hiberfil.sys".encode_utf16().collect();
        let Ok(Some(record)) = self.lookup(ROOT_RECORD, &name) else { return false };
        let Ok(data) = self.value(record, ATTR_DATA, &[]) else { return false };
        let mut head = [0u8; 512];
        if data.size < 512 || self.read_value(&data, 0, &mut head).is_err() {
            return false;
        }
        [b"hibr", b"HIBR", b"wake", b"WAKE"].iter().any(|s| head.starts_with(&s[..]))
    }

    /// Fills `buf` from byte `offset` of a value laid out in `runs`; holes
    /// read as zeros. `offset` and `buf.len()` are multiples of 512.
    fn read_runs(&mut self, runs: &[Run], offset: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let vcn = at / self.cluster_bytes;
            let run = runs
                .iter()
                .find(|r| vcn >= r.vcn && vcn - r.vcn < r.len)
                .ok_or(NtfsError::Io(IoError { lba: at / SECTOR_SIZE as u64, kind: crate::block::IoErrorKind::OutOfRange }))?;
            let left_in_run = (run.vcn + run.len).saturating_mul(self.cluster_bytes) - at;
            let n = (buf.len() - done).min(usize::try_from(left_in_run).unwrap_or(usize::MAX));
            let part = &mut buf[done..done + n];
            match run.lcn {
                None => part.fill(0),
                Some(lcn) => {
                    let byte = lcn
                        .checked_mul(self.cluster_bytes)
                        .and_then(|b| b.checked_add(at - run.vcn * self.cluster_bytes))
                        .ok_or(NtfsError::BadRecord { record: 0, what: "a run past the volume" })?;
                    self.dev.read_sectors(byte / SECTOR_SIZE as u64, part)?;
                }
            }
            done += n;
        }
        Ok(())
    }

    /// MFT record `number`, fixed up; an error if it is not in use.
    ///
    /// One record a read. Listing folders reads only their own records,
    /// which lie a folder's files apart, so neighbours read with them are
    /// never asked for: four a read made a 5,000-file stick's menu about
    /// 0.2 s slower on IDE, whose reads cost by the byte (sixteen, 0.4 s),
    /// and over USB, where a call costs the same for 1 KiB and 4 KiB, one
    /// and four did not differ. The last record read is kept for the next
    /// value of the same file.
    fn record(&mut self, number: u64) -> Result<Vec<u8>> {
        let bad = |what| NtfsError::BadRecord { record: number, what };
        let size = self.record_bytes as u64;
        let at = number.checked_mul(size).ok_or(bad("its number"))?;
        if self.cached.is_empty() || self.cached_number != number {
            let mapped = self.mft.iter().map(|r| (r.vcn + r.len).saturating_mul(self.cluster_bytes)).max().unwrap_or(0);
            if mapped.saturating_sub(at) < size {
                return Err(bad("beyond the MFT"));
            }
            let mut bytes = vec![0u8; self.record_bytes];
            let mft = core::mem::take(&mut self.mft);
            let read = self.read_runs(&mft, at, &mut bytes);
            self.mft = mft;
            self.cached.clear();
            read?;
            (self.cached, self.cached_number) = (bytes, number);
        }
        let mut bytes = self.cached.clone();
        fixup(&mut bytes, b"FILE").map_err(bad)?;
        if u16_at(&bytes, 0x16).unwrap_or(0) & RECORD_IN_USE == 0 {
            return Err(bad("not in use"));
        }
        Ok(bytes)
    }

    /// Replaces the MFT's runs (while opening), dropping records read by the old ones.
    fn set_mft(&mut self, runs: Vec<Run>) {
        self.mft = runs;
        self.cached.clear();
    }

    /// The value of attribute `kind` named `name` of the file in record
    /// `number`, gathered through its `$ATTRIBUTE_LIST` when it has one.
    fn value(&mut self, number: u64, kind: u32, name: &[u16]) -> Result<Value> {
        let record = self.record(number)?;
        let mut value = Value::default();
        let mut list = None;
        for (k, at, len) in attributes(&record) {
            let attribute = &record[at..at + len];
            if k == ATTR_ATTRIBUTE_LIST {
                list = Some(attribute.to_vec());
            } else if k == kind && attribute_name(attribute).eq(name.iter().copied()) && list.is_none() {
                add_fragment(attribute, &mut value, true, number)?;
                return Ok(value);
            }
        }
        let what = match kind {
            ATTR_DATA => "$DATA",
            ATTR_INDEX_ROOT => "$INDEX_ROOT",
            ATTR_INDEX_ALLOCATION => "$INDEX_ALLOCATION",
            _ => "attribute",
        };
        let Some(list) = list else { return Err(NtfsError::Missing { record: number, what }) };
        let mut list_value = Value::default();
        add_fragment(&list, &mut list_value, true, number)?;
        if list_value.size > MAX_LIST_BYTES {
            return Err(NtfsError::BadRecord { record: number, what: "an attribute list over 1 MiB" });
        }
        let mut entries = vec![0u8; (list_value.size as usize).next_multiple_of(SECTOR_SIZE)];
        self.read_value(&list_value, 0, &mut entries)?;
        entries.truncate(list_value.size as usize);
        // Entries: type, length, name length and offset, lowest VCN, the
        // record holding the fragment, the attribute's instance number.
        let mut fragments: Vec<(u64, u64, u16)> = Vec::new();
        let mut at = 0usize;
        while at + 26 <= entries.len() {
            let bad = NtfsError::BadRecord { record: number, what: "its attribute list" };
            let (k, len) = (u32_at(&entries, at).ok_or(bad.clone())?, u16_at(&entries, at + 4).ok_or(bad.clone())? as usize);
            if len < 26 {
                return Err(bad);
            }
            let (name_len, name_at) = (entries[at + 6] as usize, entries[at + 7] as usize);
            let entry_name = (0..name_len).map(|i| u16_at(&entries, at + name_at + 2 * i).unwrap_or(0xFFFF));
            if k == kind && entry_name.eq(name.iter().copied()) {
                if fragments.len() >= MAX_FRAGMENTS {
                    return Err(NtfsError::TooManyRuns { record: number });
                }
                let vcn = u64_at(&entries, at + 8).ok_or(bad.clone())?;
                let holder = u64_at(&entries, at + 16).ok_or(bad.clone())? & 0xFFFF_FFFF_FFFF;
                fragments.push((vcn, holder, u16_at(&entries, at + 24).ok_or(bad)?));
            }
            at += len;
        }
        if fragments.is_empty() {
            return Err(NtfsError::Missing { record: number, what });
        }
        fragments.sort_by_key(|f| f.0);
        for (i, &(_, holder, instance)) in fragments.iter().enumerate() {
            let other;
            let holding = if holder == number {
                &record
            } else {
                other = self.record(holder)?;
                &other
            };
            let (_, at, len) = attributes(holding)
                .find(|&(k, at, _)| k == kind && u16_at(holding, at + 14) == Some(instance))
                .ok_or(NtfsError::BadRecord { record: holder, what: "an attribute its list names" })?;
            add_fragment(&holding[at..at + len], &mut value, i == 0, holder)?;
        }
        Ok(value)
    }

    /// Fills `buf` (a multiple of 512 bytes) from byte `offset` of `value`,
    /// zeros past its initialized size and its end. Compressed and
    /// encrypted values are refused.
    fn read_value(&mut self, value: &Value, offset: u64, buf: &mut [u8]) -> Result<()> {
        if let Some(bytes) = &value.resident {
            buf.fill(0);
            let from = bytes.get(offset.min(bytes.len() as u64) as usize..).unwrap_or(&[]);
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
            return Ok(());
        }
        refuse_unreadable(value)?;
        let valid_end = value.initialized.min(value.size);
        let valid = usize::try_from(valid_end.saturating_sub(offset)).unwrap_or(usize::MAX).min(buf.len());
        let valid = valid.next_multiple_of(SECTOR_SIZE).min(buf.len());
        let (data, zeros) = buf.split_at_mut(valid);
        zeros.fill(0);
        self.read_runs(&value.runs, offset, data)
    }

    /// The entries of folder `folder` (an MFT record): each file's long
    /// name, whether it is a folder and its size, as the folder's index
    /// holds them (NTFS brings them up to date when a file is closed; a
    /// size the file's own record contradicts is refused when it is mapped).
    pub fn read_dir(&mut self, folder: u64) -> Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        let mut too_many = false;
        self.walk_index(folder, &mut |_, key, record| {
            if record < FIRST_USER_RECORD || key.get(0x41) == Some(&NAMESPACE_DOS) {
                return;
            }
            if entries.len() >= MAX_DIR_ENTRIES {
                too_many = true;
                return;
            }
            let name = char::decode_utf16(key_name(key)).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
            let is_dir = u32_at(key, 0x38).unwrap_or(0) & FILE_NAME_IS_DIRECTORY != 0;
            let size = if is_dir { 0 } else { u64_at(key, 0x30).unwrap_or(0) };
            entries.push(DirEntry { name, is_dir, size, node: NodeId::ntfs(record) });
        })?;
        if too_many {
            return Err(NtfsError::DirectoryTooLarge { record: folder });
        }
        Ok(entries)
    }

    /// Where the file in record `node` lies, in sectors of the volume: its
    /// unnamed `$DATA` runs, which must be plain (not compressed,
    /// encrypted or sparse) and cover `size` bytes.
    pub fn extent_map(&mut self, node: NodeId, size: u64) -> Result<ExtentMap> {
        let record = node.ntfs_record();
        let value = self.value(record, ATTR_DATA, &[])?;
        if value.resident.is_some() {
            return Err(NtfsError::Resident);
        }
        refuse_unreadable(&value)?;
        if has_holes(&value) {
            return Err(NtfsError::Sparse);
        }
        if value.initialized < value.size {
            return Err(NtfsError::PartlyWritten { size: value.size, initialized: value.initialized });
        }
        if value.size != size {
            return Err(NtfsError::SizeDisagrees { listed: size, actual: value.size });
        }
        let sectors_per_cluster = self.cluster_bytes / SECTOR_SIZE as u64;
        let mut left = size.div_ceil(SECTOR_SIZE as u64);
        let mut next_vcn = 0;
        let mut map = ExtentMap::new();
        for run in &value.runs {
            if left == 0 {
                break;
            }
            if run.vcn != next_vcn {
                return Err(NtfsError::BadRecord { record, what: "its runs leave a gap" });
            }
            let lcn = run.lcn.unwrap_or(0);
            if lcn.checked_add(run.len).is_none_or(|end| end > self.clusters) {
                return Err(NtfsError::BadRecord { record, what: "a run past the volume's end" });
            }
            let sectors = run.len.saturating_mul(sectors_per_cluster).min(left);
            let lba = lcn.checked_mul(sectors_per_cluster).ok_or(NtfsError::BadRecord { record, what: "a run past the volume" })?;
            map.push(lba, sectors);
            left -= sectors;
            next_vcn = run.vcn + run.len;
        }
        if left > 0 {
            return Err(NtfsError::BadRecord { record, what: "its runs are shorter than its size" });
        }
        Ok(map)
    }

    /// The first `size` bytes of the file in record `node`, resident or
    /// not (a configuration or checksum file; the caller bounds `size`).
    pub fn read_file(&mut self, node: NodeId, size: u64) -> Result<Vec<u8>> {
        let record = node.ntfs_record();
        let value = self.value(record, ATTR_DATA, &[])?;
        let len = usize::try_from(size.min(value.size)).map_err(|_| NtfsError::BadRecord { record, what: "its size" })?;
        let mut bytes = vec![0u8; len.next_multiple_of(SECTOR_SIZE)];
        if value.resident.is_none() && has_holes(&value) {
            return Err(NtfsError::Sparse);
        }
        self.read_value(&value, 0, &mut bytes)?;
        bytes.truncate(len);
        Ok(bytes)
    }

    /// The record of `name` in folder `folder`, by the volume's `$UpCase`.
    pub fn lookup(&mut self, folder: u64, name: &[u16]) -> Result<Option<u64>> {
        let wanted: Vec<u16> = name.iter().map(|&c| self.upcase_unit(c)).collect();
        let mut found = None;
        self.walk_index(folder, &mut |ntfs, key, record| {
            if found.is_none() && key_name(key).map(|n| ntfs.upcase_unit(n)).eq(wanted.iter().copied()) {
                found = Some(record);
            }
        })?;
        Ok(found)
    }

    fn upcase_unit(&self, unit: u16) -> u16 {
        self.upcase.get(unit as usize).copied().unwrap_or(unit)
    }

    /// Calls `each(key, record)` for every entry of folder `folder`'s file
    /// name index, in index order, visiting at most [`MAX_INDEX_BLOCKS`]
    /// blocks and each block once.
    fn walk_index(&mut self, folder: u64, each: &mut dyn FnMut(&Self, &[u8], u64)) -> Result<()> {
        let root = self.value(folder, ATTR_INDEX_ROOT, &I30)?;
        let root = root.resident.ok_or(NtfsError::BadIndex { record: folder, what: "a non-resident index root" })?;
        let allocation = self.value(folder, ATTR_INDEX_ALLOCATION, &I30).ok();
        let bad = |what| NtfsError::BadIndex { record: folder, what };
        let first = 0x10 + u32_at(&root, 0x10).ok_or(bad("its root header"))? as usize;
        let end = 0x10 + u32_at(&root, 0x14).ok_or(bad("its root header"))? as usize;
        // In order, without recursion: each level is a node, the entry being
        // looked at, and whether that entry's subtree (the keys before it)
        // has been walked already.
        let mut stack: Vec<(Vec<u8>, usize, usize, bool)> = Vec::from([(root, first, end, false)]);
        let mut visited = alloc::collections::BTreeSet::new();
        // No more blocks than the allocation holds, each read once.
        let most = allocation.as_ref().map_or(0, |a| (a.size / self.index_block_bytes as u64) as usize).min(MAX_INDEX_BLOCKS);
        while let Some((node, at, end, below_done)) = stack.last_mut() {
            let entry = node.get(*at..*end).filter(|e| e.len() >= 16).ok_or(bad("an entry past its node"))?;
            let record = u64_at(entry, 0).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
            let len = u16_at(entry, 8).unwrap_or(0) as usize;
            let key_len = u16_at(entry, 10).unwrap_or(0) as usize;
            let flags = u16_at(entry, 12).unwrap_or(0);
            if len < 16 || len > entry.len() || len % 8 != 0 {
                return Err(bad("an entry's length"));
            }
            if flags & INDEX_ENTRY_HAS_SUBNODE != 0 && !*below_done {
                *below_done = true;
                let vcn = u64_at(entry, len - 8).ok_or(bad("a subnode"))?;
                let allocation = allocation.as_ref().ok_or(bad("a subnode without $INDEX_ALLOCATION"))?;
                if visited.len() >= most || !visited.insert(vcn) || stack.len() >= MAX_INDEX_DEPTH {
                    return Err(NtfsError::DirectoryTooLarge { record: folder });
                }
                let unit = if self.index_block_bytes as u64 >= self.cluster_bytes { self.cluster_bytes } else { 512 };
                let offset = vcn.checked_mul(unit).ok_or(bad("a subnode's number"))?;
                if offset.checked_add(self.index_block_bytes as u64).is_none_or(|e| e > allocation.size) {
                    return Err(bad("a subnode past its allocation"));
                }
                let mut block = vec![0u8; self.index_block_bytes];
                self.read_value(allocation, offset, &mut block)?;
                fixup(&mut block, b"INDX").map_err(bad)?;
                let first = 0x18 + u32_at(&block, 0x18).ok_or(bad("a block header"))? as usize;
                let end = 0x18 + u32_at(&block, 0x1C).ok_or(bad("a block header"))? as usize;
                stack.push((block, first, end, false));
                continue;
            }
            *below_done = false;
            if flags & INDEX_ENTRY_LAST != 0 {
                stack.pop();
                continue;
            }
            let key = entry.get(16..16 + key_len).ok_or(bad("an entry's key"))?.to_vec();
            *at += len;
            each(self, &key, record);
        }
        Ok(())
    }
}

/// True when a value is sparse (flagged so, or a run without clusters).
fn has_holes(value: &Value) -> bool {
    value.flags & FLAG_SPARSE != 0 || value.runs.iter().any(|r| r.lcn.is_none())
}

/// Refuses values the loader cannot read as plain runs.
fn refuse_unreadable(value: &Value) -> Result<()> {
    if value.flags & FLAG_ENCRYPTED != 0 {
        return Err(NtfsError::Encrypted);
    }
    if value.flags & FLAG_COMPRESSED != 0 {
        return Err(NtfsError::Compressed);
    }
    Ok(())
}

impl<D: BlockDevice> FileTree for Ntfs<D> {
    type Error = NtfsError;

    fn root(&self) -> NodeId {
        NodeId::ntfs(ROOT_RECORD)
    }

    fn read_root(&mut self) -> Result<Vec<DirEntry>> {
        self.read_dir(ROOT_RECORD)
    }

    fn read_subdir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>> {
        self.read_dir(dir.node.ntfs_record())
    }

    fn same_name(&self, a: &str, b: &str) -> bool {
        let up = |s: &str| s.encode_utf16().map(|u| self.upcase_unit(u)).collect::<Vec<u16>>();
        up(a) == up(b)
    }
}
