//! FAT32: the boot sector (BPB), the FAT and its cluster chains, directories
//! with long (UTF-16) names, and extent maps of files. [`FatError`] and the
//! cluster chains serve exFAT ([`crate::exfat`]) too.
//!
//! Nothing read from the volume is trusted: every cluster number is checked
//! against the volume, every chain walk is bounded, and a directory may hold
//! at most the 65,536 entries the FAT specification allows.

use alloc::string::String;
use alloc::vec::Vec;

use crate::block::{BlockDevice, IoError, SECTOR_SIZE};
use crate::extent::ExtentMap;
use crate::text::from_cp437;
use crate::tree::{DirEntry, FileTree, NodeId};

/// The FAT specification's limit on entries in one directory.
pub const MAX_DIR_ENTRIES: usize = 65_536;
/// FAT sectors read at once into the cache.
const FAT_CACHE_SECTORS: u64 = 64;
/// FAT sectors of the first read: a stick of a few files needs an entry
/// or two, and under a BIOS 32 KiB take several times as long as 4 KiB.
const FAT_FIRST_SECTORS: u64 = 8;

// FAT32's on-disk numbers, for this reader and the builder's writer alike.

/// Bytes of one directory entry (a slot).
pub const SLOT_BYTES: usize = 32;
/// A slot's first byte when its entry was deleted.
pub const SLOT_DELETED: u8 = 0xE5;
pub const ATTR_VOLUME_ID: u8 = 0x08;
pub const ATTR_DIRECTORY: u8 = 0x10;
/// The attribute byte of a long-name slot (read under [`ATTR_MASK`]).
pub const ATTR_LFN: u8 = 0x0F;
pub const ATTR_MASK: u8 = 0x3F;
/// A FAT32 entry's 28 bits; the top four are reserved.
pub const FAT32_ENTRY_MASK: u32 = 0x0FFF_FFFF;
/// What a writer puts in the last entry of a FAT32 chain.
pub const FAT32_END_OF_CHAIN: u32 = 0x0FFF_FFFF;
/// Entries from here up end a chain (masked: FAT32 0FFFFFF8h, exFAT FFFFFFF8h).
const END_OF_CHAIN: u32 = 0xFFFF_FFF8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FatError {
    Io(IoError),
    /// The boot sector is not a FAT32 one; `what` names the first field that says so.
    NotFat32 {
        what: &'static str,
        value: u32,
    },
    /// The boot sector is not an exFAT one; `what` names the first field that says so.
    NotExfat {
        what: &'static str,
        value: u64,
    },
    /// exFAT's boot region checksum (sector 11) does not match sectors 0-10.
    BootRegionChecksum,
    /// An exFAT directory entry set's checksum is wrong.
    EntrySetChecksum {
        dir_cluster: u32,
        entry: usize,
    },
    /// A chain entry of `after` points at `cluster`, which is not a data
    /// cluster of this volume (or is marked bad).
    BadCluster {
        after: u32,
        cluster: u32,
    },
    /// A chain entry of `after` is marked free.
    FreeInChain {
        after: u32,
    },
    /// The chain from `start` does not end within the volume's cluster count.
    ChainCycle {
        start: u32,
    },
    /// A file of `size` bytes has only `clusters` clusters in its chain.
    ChainTooShort {
        start: u32,
        size: u64,
        clusters: u32,
    },
    /// A file's chain goes on past the clusters its size needs.
    ChainTooLong {
        start: u32,
        size: u64,
    },
    /// A directory holds more than [`MAX_DIR_ENTRIES`] entries.
    DirectoryTooLarge {
        start: u32,
    },
}

impl From<IoError> for FatError {
    fn from(e: IoError) -> Self {
        FatError::Io(e)
    }
}

impl core::fmt::Display for FatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FatError::Io(e) => write!(f, "{e}"),
            FatError::NotFat32 { what, value } => write!(f, "not a FAT32 volume: {what} ({value:#x})"),
            FatError::NotExfat { what, value } => write!(f, "not an exFAT volume: {what} ({value:#x})"),
            FatError::BootRegionChecksum => write!(f, "exFAT boot region checksum is wrong"),
            FatError::EntrySetChecksum { dir_cluster, entry } => {
                write!(f, "exFAT directory at cluster {dir_cluster}: entry {entry} has a wrong checksum")
            }
            FatError::BadCluster { after, cluster } => {
                write!(f, "FAT entry of cluster {after} points to invalid cluster {cluster:#x}")
            }
            FatError::FreeInChain { after } => write!(f, "cluster chain breaks at cluster {after} (marked free)"),
            FatError::ChainCycle { start } => write!(f, "cluster chain from {start} loops"),
            FatError::ChainTooShort { start, size, clusters } => {
                write!(f, "file at cluster {start} is {size} bytes but its chain ends after {clusters} clusters")
            }
            FatError::ChainTooLong { start, size } => {
                write!(f, "file at cluster {start} has more clusters than its {size} bytes need")
            }
            FatError::DirectoryTooLarge { start } => {
                write!(f, "directory at cluster {start} has more than {MAX_DIR_ENTRIES} entries")
            }
        }
    }
}

/// Where things are on a FAT32 volume, in 512-byte sectors from its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub bytes_per_sector: u32,
    /// 512-byte sectors per cluster.
    pub cluster_sectors: u32,
    pub fat_start: u64,
    /// 512-byte sectors of one FAT.
    pub fat_sectors: u64,
    pub data_start: u64,
    /// Data clusters, numbered 2..cluster_count+2.
    pub cluster_count: u32,
    pub root_cluster: u32,
    /// 512-byte sectors the volume says it has.
    pub total_sectors: u64,
    /// Copies of the FAT (1 or 2), one after another from the first.
    pub fats: u32,
    /// Where the first copy starts (512-byte sectors); `fat_start` is the
    /// active one, which differs when mirroring is off.
    pub first_fat_start: u64,
    /// Every copy is kept equal (FAT32's ExtFlags bit 7 clear); when not,
    /// only the active copy is in use.
    pub mirrored: bool,
    /// The FSInfo sector, in 512-byte sectors from the volume's start.
    pub fsinfo_sector: u64,
    pub label: String,
}

impl Geometry {
    pub fn cluster_bytes(&self) -> u64 {
        self.cluster_sectors as u64 * SECTOR_SIZE as u64
    }

    pub fn cluster_lba(&self, cluster: u32) -> u64 {
        self.data_start + (cluster as u64 - 2) * self.cluster_sectors as u64
    }

    fn is_data_cluster(&self, c: u32) -> bool {
        c >= 2 && c - 2 < self.cluster_count
    }

    /// Reads a FAT32 boot sector. Like Linux, a volume is FAT32 when its BPB
    /// has the FAT32 shape (16-bit FAT size and root entry count zero),
    /// whatever its cluster count.
    pub fn parse(bs: &[u8; 512]) -> Result<Geometry, FatError> {
        let u16at = |o: usize| u16::from_le_bytes([bs[o], bs[o + 1]]) as u32;
        let u32at = |o: usize| u32::from_le_bytes([bs[o], bs[o + 1], bs[o + 2], bs[o + 3]]);
        let bad = |what, value| Err(FatError::NotFat32 { what, value });
        if bs[510] != 0x55 || bs[511] != 0xAA {
            return bad("boot sector signature", u16at(510));
        }
        if bs[0] != 0xEB && bs[0] != 0xE9 {
            return bad("jump instruction", bs[0] as u32);
        }
        let bps = u16at(11);
        if !matches!(bps, 512 | 1024 | 2048 | 4096) {
            return bad("bytes per sector", bps);
        }
        let spc = bs[13] as u32;
        if !spc.is_power_of_two() {
            return bad("sectors per cluster", spc);
        }
        let reserved = u16at(14);
        if reserved == 0 {
            return bad("reserved sectors", 0);
        }
        let fats = bs[16] as u32;
        if fats == 0 || fats > 2 {
            return bad("number of FATs", fats);
        }
        if u16at(17) != 0 {
            return bad("root entry count (FAT12/16)", u16at(17));
        }
        if u16at(22) != 0 {
            return bad("16-bit FAT size (FAT12/16)", u16at(22));
        }
        let total = if u16at(19) != 0 { u16at(19) } else { u32at(32) };
        let fat_size = u32at(36);
        if fat_size == 0 {
            return bad("FAT size", 0);
        }
        let scale = (bps / 512) as u64;
        let data_start_fs = reserved as u64 + fats as u64 * fat_size as u64;
        if data_start_fs >= total as u64 {
            return bad("total sectors", total);
        }
        let cluster_count = ((total as u64 - data_start_fs) / spc as u64).min(0x0FFF_FFF5) as u32;
        if cluster_count == 0 {
            return bad("cluster count", 0);
        }
        if (fat_size as u64 * bps as u64) / 4 < cluster_count as u64 + 2 {
            return bad("FAT size too small for the clusters", fat_size);
        }
        let ext_flags = u16at(40);
        let active_fat = if ext_flags & 0x80 != 0 { ext_flags & 0x0F } else { 0 };
        if active_fat >= fats {
            return bad("active FAT", active_fat);
        }
        let root_cluster = u32at(44);
        let g = Geometry {
            bytes_per_sector: bps,
            cluster_sectors: spc * scale as u32,
            fat_start: (reserved as u64 + active_fat as u64 * fat_size as u64) * scale,
            fat_sectors: fat_size as u64 * scale,
            data_start: data_start_fs * scale,
            cluster_count,
            root_cluster,
            total_sectors: total as u64 * scale,
            fats,
            first_fat_start: reserved as u64 * scale,
            mirrored: ext_flags & 0x80 == 0,
            fsinfo_sector: u16at(48) as u64 * scale,
            label: bs[71..82].iter().map(|&b| from_cp437(b)).collect::<String>().trim_end().into(),
        };
        if !g.is_data_cluster(root_cluster) {
            return bad("root directory cluster", root_cluster);
        }
        Ok(g)
    }
}

/// What a bounded chain walk found.
struct Walk {
    clusters: u32,
    /// The chain reached its end marker within the limit.
    ended: bool,
    last: u32,
}

/// The cluster chains of a FAT-family volume: its FAT, read through a
/// cache, and the data area the clusters number. Shared by FAT32 and exFAT.
pub(crate) struct Chains {
    pub fat_start: u64,
    pub fat_sectors: u64,
    pub data_start: u64,
    pub cluster_sectors: u32,
    pub cluster_count: u32,
    /// FAT32 uses 28 bits of an entry, exFAT all 32.
    pub mask: u32,
    cache_lba: u64,
    cache: Vec<u8>,
}

impl Chains {
    pub fn new(fat_start: u64, fat_sectors: u64, data_start: u64, cluster_sectors: u32, cluster_count: u32, mask: u32) -> Self {
        Chains { fat_start, fat_sectors, data_start, cluster_sectors, cluster_count, mask, cache_lba: u64::MAX, cache: Vec::new() }
    }

    pub fn cluster_bytes(&self) -> u64 {
        self.cluster_sectors as u64 * SECTOR_SIZE as u64
    }

    pub fn cluster_lba(&self, cluster: u32) -> u64 {
        self.data_start + (cluster as u64 - 2) * self.cluster_sectors as u64
    }

    pub fn is_data_cluster(&self, c: u32) -> bool {
        c >= 2 && c - 2 < self.cluster_count
    }

    /// The FAT entry of `cluster` (a data cluster).
    fn entry(&mut self, dev: &mut impl BlockDevice, cluster: u32) -> Result<u32, FatError> {
        let offset = cluster as u64 * 4;
        let lba = offset / SECTOR_SIZE as u64;
        let cached = (self.cache.len() / SECTOR_SIZE) as u64;
        if self.cache_lba == u64::MAX || lba < self.cache_lba || lba - self.cache_lba >= cached {
            let size = if self.cache.is_empty() { FAT_FIRST_SECTORS } else { FAT_CACHE_SECTORS };
            let window = lba - lba % size;
            let count = size.min(self.fat_sectors.saturating_sub(window));
            if count == 0 {
                // Not for a data cluster: open checked that the FAT holds them all.
                return Err(FatError::BadCluster { after: cluster, cluster });
            }
            self.cache.resize(count as usize * SECTOR_SIZE, 0);
            self.cache_lba = u64::MAX;
            dev.read_sectors(self.fat_start + window, &mut self.cache)?;
            self.cache_lba = window;
        }
        let i = ((lba - self.cache_lba) as usize) * SECTOR_SIZE + (offset % SECTOR_SIZE as u64) as usize;
        Ok(u32::from_le_bytes([self.cache[i], self.cache[i + 1], self.cache[i + 2], self.cache[i + 3]]) & self.mask)
    }

    /// The cluster after `cluster` in its chain, or `None` at the end.
    pub fn next(&mut self, dev: &mut impl BlockDevice, cluster: u32) -> Result<Option<u32>, FatError> {
        match self.entry(dev, cluster)? {
            e if e >= END_OF_CHAIN & self.mask => Ok(None),
            0 => Err(FatError::FreeInChain { after: cluster }),
            e if !self.is_data_cluster(e) => Err(FatError::BadCluster { after: cluster, cluster: e }),
            e => Ok(Some(e)),
        }
    }

    /// Walks the chain from `start` for at most `limit` clusters, calling
    /// `run(first, len)` for each run of consecutive clusters.
    fn walk_runs(&mut self, dev: &mut impl BlockDevice, start: u32, limit: u32, mut run: impl FnMut(u32, u32)) -> Result<Walk, FatError> {
        if !self.is_data_cluster(start) {
            return Err(FatError::BadCluster { after: 0, cluster: start });
        }
        let (mut first, mut len, mut clusters, mut cur) = (start, 1u32, 1u32, start);
        loop {
            let next = if clusters >= limit { None } else { self.next(dev, cur)? };
            match next {
                Some(next) if next == cur + 1 => len += 1,
                Some(next) => {
                    run(first, len);
                    (first, len) = (next, 1);
                }
                None => {
                    run(first, len);
                    return Ok(Walk { clusters, ended: clusters < limit, last: cur });
                }
            }
            cur = next.unwrap_or(cur);
            clusters += 1;
        }
    }

    /// Where a file of `size` bytes lies: its chain from `first_cluster`,
    /// or (`contiguous`) that many consecutive clusters.
    pub fn file_map(&mut self, dev: &mut impl BlockDevice, first_cluster: u32, size: u64, contiguous: bool) -> Result<ExtentMap, FatError> {
        let mut map = ExtentMap::new();
        if size == 0 {
            return Ok(map);
        }
        let needed = size.div_ceil(self.cluster_bytes());
        let too_short = |clusters| FatError::ChainTooShort { start: first_cluster, size, clusters };
        if needed > self.cluster_count as u64 {
            return Err(too_short(self.cluster_count));
        }
        if contiguous {
            let end = first_cluster as u64 + needed;
            if !self.is_data_cluster(first_cluster) || end > self.cluster_count as u64 + 2 {
                return Err(FatError::BadCluster { after: 0, cluster: (end - 1) as u32 });
            }
            map.push(self.cluster_lba(first_cluster), needed * self.cluster_sectors as u64);
            return Ok(map);
        }
        let (data_start, cluster_sectors) = (self.data_start, self.cluster_sectors as u64);
        let walk = self.walk_runs(dev, first_cluster, needed as u32, |first, len| {
            map.push(data_start + (first as u64 - 2) * cluster_sectors, len as u64 * cluster_sectors)
        })?;
        if walk.ended {
            return Err(too_short(walk.clusters));
        }
        if map.overlaps() {
            return Err(FatError::ChainCycle { start: first_cluster });
        }
        if self.next(dev, walk.last)?.is_some() {
            return Err(FatError::ChainTooLong { start: first_cluster, size });
        }
        Ok(map)
    }

    /// The cluster runs of a directory's chain from `start`, at most
    /// [`MAX_DIR_ENTRIES`] entries' worth; a loop is an error.
    pub fn dir_runs(&mut self, dev: &mut impl BlockDevice, start: u32) -> Result<Vec<(u32, u32)>, FatError> {
        let limit = ((MAX_DIR_ENTRIES as u64 * 32).div_ceil(self.cluster_bytes())) as u32;
        let mut runs = Vec::new();
        let walk = self.walk_runs(dev, start, limit + 1, |first, len| runs.push((first, len)))?;
        if !walk.ended {
            let mut map = ExtentMap::new();
            runs.iter().for_each(|&(first, len)| map.push(first as u64, len as u64));
            return Err(if map.overlaps() { FatError::ChainCycle { start } } else { FatError::DirectoryTooLarge { start } });
        }
        Ok(runs)
    }
}

/// A FAT32 volume on a block device whose sector 0 is the volume's boot sector.
pub struct Fat32<D> {
    dev: D,
    pub geometry: Geometry,
    chains: Chains,
}

impl<D: BlockDevice> Fat32<D> {
    pub fn open(mut dev: D) -> Result<Self, FatError> {
        let mut bs = [0u8; 512];
        dev.read_sectors(0, &mut bs)?;
        let g = Geometry::parse(&bs)?;
        let chains = Chains::new(g.fat_start, g.fat_sectors, g.data_start, g.cluster_sectors, g.cluster_count, FAT32_ENTRY_MASK);
        Ok(Fat32 { dev, geometry: g, chains })
    }

    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }

    /// The cluster after `cluster` in its chain, or `None` at the end.
    pub fn next_cluster(&mut self, cluster: u32) -> Result<Option<u32>, FatError> {
        self.chains.next(&mut self.dev, cluster)
    }

    /// Where a file of `size` bytes starting at `first_cluster` lies on the
    /// volume. The chain must hold exactly the clusters the size needs.
    pub fn extent_map(&mut self, first_cluster: u32, size: u64) -> Result<ExtentMap, FatError> {
        self.chains.file_map(&mut self.dev, first_cluster, size, false)
    }

    /// Reads a whole directory (the root when `cluster` is 0).
    pub fn read_dir(&mut self, cluster: u32) -> Result<Vec<DirEntry>, FatError> {
        let start = if cluster == 0 { self.geometry.root_cluster } else { cluster };
        let runs = self.chains.dir_runs(&mut self.dev, start)?;
        let mut parser = DirParser::default();
        let mut buf = Vec::new();
        'runs: for (first, len) in runs {
            buf.resize((len as u64 * self.chains.cluster_bytes()) as usize, 0);
            self.dev.read_sectors(self.chains.cluster_lba(first), &mut buf)?;
            for raw in buf.chunks_exact(32) {
                if !parser.feed(raw.try_into().unwrap_or(&[0; 32])) {
                    break 'runs;
                }
            }
        }
        Ok(parser.entries)
    }
}

impl<D: BlockDevice> FileTree for Fat32<D> {
    type Error = FatError;

    fn root(&self) -> NodeId {
        NodeId::fat(self.geometry.root_cluster, false)
    }

    fn read_root(&mut self) -> Result<Vec<DirEntry>, FatError> {
        self.read_dir(0)
    }

    fn read_subdir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FatError> {
        self.read_dir(dir.node.fat_cluster())
    }
}

/// Turns 32-byte directory records into entries, joining long names.
#[derive(Default)]
struct DirParser {
    entries: Vec<DirEntry>,
    lfn: Vec<u16>,
    lfn_next: u8,
    lfn_sum: u8,
}

impl DirParser {
    /// Takes one record; false at the end-of-directory marker.
    fn feed(&mut self, r: &[u8; 32]) -> bool {
        match r[0] {
            0x00 => return false,
            SLOT_DELETED => {
                self.lfn_next = 0;
                return true;
            }
            _ => {}
        }
        let attr = r[11];
        if attr & ATTR_MASK == ATTR_LFN {
            self.feed_lfn(r);
            return true;
        }
        let long = self.take_lfn(r);
        if attr & ATTR_VOLUME_ID != 0 || r[0] == b'.' && (r[1] == b' ' || r[1..3] == *b". ") {
            return true;
        }
        let first_cluster = (u16::from_le_bytes([r[20], r[21]]) as u32) << 16 | u16::from_le_bytes([r[26], r[27]]) as u32;
        let name = long.unwrap_or_else(|| short_name(r));
        let is_dir = attr & ATTR_DIRECTORY != 0;
        let size = if is_dir { 0 } else { u32::from_le_bytes([r[28], r[29], r[30], r[31]]) as u64 };
        self.entries.push(DirEntry { name, is_dir, size, node: NodeId::fat(first_cluster, false) });
        true
    }

    fn feed_lfn(&mut self, r: &[u8; 32]) {
        let seq = r[0] & 0x1F;
        if r[0] & 0x40 != 0 {
            self.lfn.clear();
            self.lfn.resize(seq as usize * 13, 0xFFFF);
            self.lfn_sum = r[13];
        } else if seq == 0 || seq != self.lfn_next || r[13] != self.lfn_sum {
            self.lfn_next = 0;
            return;
        }
        if seq == 0 {
            self.lfn_next = 0;
            return;
        }
        let at = (seq as usize - 1) * 13;
        for (k, o) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30].into_iter().enumerate() {
            self.lfn[at + k] = u16::from_le_bytes([r[o], r[o + 1]]);
        }
        self.lfn_next = seq - 1;
    }

    /// The long name gathered for short entry `r`, if it is whole and its
    /// checksum matches.
    fn take_lfn(&mut self, r: &[u8; 32]) -> Option<String> {
        let complete = self.lfn_next == 0 && !self.lfn.is_empty();
        let units = core::mem::take(&mut self.lfn);
        self.lfn_next = 0;
        let sum = r[..11].iter().fold(0u8, |s, &b| s.rotate_right(1).wrapping_add(b));
        if !complete || sum != self.lfn_sum {
            return None;
        }
        let end = units.iter().position(|&u| u == 0 || u == 0xFFFF).unwrap_or(units.len());
        let name: String = char::decode_utf16(units[..end].iter().copied()).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
        (!name.is_empty()).then_some(name)
    }
}

/// The 8.3 name of a record, with Windows NT's lower-case flags honoured.
fn short_name(r: &[u8; 32]) -> String {
    let part = |bytes: &[u8], lower: bool| -> String {
        let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
        bytes[..end]
            .iter()
            .map(|&b| {
                let c = from_cp437(b);
                if lower {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    };
    let mut base = r[..8].to_vec();
    if base[0] == 0x05 {
        base[0] = SLOT_DELETED;
    }
    let mut name = part(&base, r[12] & 0x08 != 0);
    let ext = part(&r[8..11], r[12] & 0x10 != 0);
    if !ext.is_empty() {
        name.push('.');
        name.push_str(&ext);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// An in-memory disk that notes each read as (first sector, sectors).
    struct Counting {
        bytes: Vec<u8>,
        reads: Vec<(u64, u64)>,
    }

    impl BlockDevice for Counting {
        fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
            self.reads.push((lba, (buf.len() / SECTOR_SIZE) as u64));
            self.bytes.as_mut_slice().read_sectors(lba, buf)
        }
    }

    #[test]
    fn a_chain_lookup_reads_4_kib_of_the_fat_first_and_32_kib_after_and_every_entry_is_the_fats() {
        // 200 FAT sectors from sector 10: cluster c's entry is c + 1, so
        // each cluster is followed by the next.
        let (fat_start, fat_sectors) = (10u64, 200u64);
        let clusters = (fat_sectors * SECTOR_SIZE as u64 / 4) as u32 - 2;
        let mut bytes = vec![0u8; (fat_start + fat_sectors) as usize * SECTOR_SIZE];
        for c in 2..clusters + 1 {
            let at = fat_start as usize * SECTOR_SIZE + c as usize * 4;
            bytes[at..at + 4].copy_from_slice(&(c + 1).to_le_bytes());
        }
        let mut dev = Counting { bytes, reads: Vec::new() };
        let mut chains = Chains::new(fat_start, fat_sectors, 1000, 1, clusters, 0xFFFF_FFFF);
        // A small stick's root: one entry, in the FAT's first sector.
        assert_eq!(chains.next(&mut dev, 3).unwrap(), Some(4));
        assert_eq!(dev.reads, [(fat_start, 8)]);
        // Within the 8 sectors read: no read.
        assert_eq!(chains.next(&mut dev, 1000).unwrap(), Some(1001));
        assert_eq!(dev.reads.len(), 1);
        // Past them: 64-sector windows, the last one cut at the FAT's end.
        let per_sector = (SECTOR_SIZE / 4) as u32;
        assert_eq!(chains.next(&mut dev, 100 * per_sector).unwrap(), Some(100 * per_sector + 1));
        assert_eq!(chains.next(&mut dev, 195 * per_sector).unwrap(), Some(195 * per_sector + 1));
        assert_eq!(chains.next(&mut dev, 5 * per_sector).unwrap(), Some(5 * per_sector + 1));
        assert_eq!(&dev.reads[1..], [(fat_start + 64, 64), (fat_start + 192, 8), (fat_start, 64)]);
        // Every entry reads back as the FAT holds it, window after window.
        for c in (2..clusters).step_by(37) {
            assert_eq!(chains.next(&mut dev, c).unwrap(), Some(c + 1), "cluster {c}");
        }
    }
}
