//! exFAT: the boot region (with its checksum), the FAT and NoFatChain
//! allocation, directory entry sets (with their checksums) and long names,
//! 64-bit sizes. The allocation bitmap is not needed for reading.

use alloc::string::String;
use alloc::vec::Vec;

use crate::block::{BlockDevice, SECTOR_SIZE};
use crate::extent::ExtentMap;
use crate::fat::{Chains, FatError};
use crate::tree::{DirEntry, FileTree, FsError, NodeId};

// exFAT's on-disk numbers, for this reader and the builder's writer alike.

/// Sectors of the main boot region: 11 checksummed, then the checksum sector.
pub const BOOT_REGION_SECTORS: usize = 12;
/// Bytes of one directory entry.
pub const ENTRY_SIZE: usize = 32;
pub const ENTRY_END: u8 = 0x00;
pub const ENTRY_BITMAP: u8 = 0x81;
pub const ENTRY_UPCASE: u8 = 0x82;
pub const ENTRY_LABEL: u8 = 0x83;
pub const ENTRY_FILE: u8 = 0x85;
pub const ENTRY_STREAM: u8 = 0xC0;
pub const ENTRY_NAME: u8 = 0xC1;
pub const ATTR_DIRECTORY: u16 = 0x10;
pub const ATTR_ARCHIVE: u16 = 0x20;
/// Stream extension flags.
pub const FLAG_ALLOCATION_POSSIBLE: u8 = 0x01;
pub const FLAG_NO_FAT_CHAIN: u8 = 0x02;
/// The FAT's end-of-chain mark.
pub const END_OF_CHAIN: u32 = 0xFFFF_FFFF;

/// exFAT's 32-bit checksum (the boot region's and the up-case table's).
pub fn checksum32(bytes: impl Iterator<Item = u8>) -> u32 {
    bytes.fold(0u32, |s, b| s.rotate_right(1).wrapping_add(b as u32))
}

/// The boot region's checksum: sectors 0-10 of `sector` bytes, without
/// VolumeFlags (bytes 106-107) and PercentInUse (112), which change.
pub fn boot_region_checksum(region: &[u8], sector: usize) -> u32 {
    let checked = &region[..(11 * sector).min(region.len())];
    checksum32(checked.iter().enumerate().filter(|&(i, _)| i != 106 && i != 107 && i != 112).map(|(_, &b)| b))
}

/// An entry set's checksum: every byte but the first entry's bytes 2-3
/// (where the checksum is kept).
pub fn entry_set_checksum<'a>(set: impl Iterator<Item = &'a u8>) -> u16 {
    set.enumerate().filter(|&(i, _)| i != 2 && i != 3).fold(0u16, |s, (_, &b)| s.rotate_right(1).wrapping_add(b as u16))
}

/// Where things are on an exFAT volume, in 512-byte sectors from its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub bytes_per_sector: u32,
    pub cluster_sectors: u32,
    pub fat_start: u64,
    pub fat_sectors: u64,
    pub heap_start: u64,
    pub cluster_count: u32,
    pub root_cluster: u32,
    pub volume_sectors: u64,
}

impl Geometry {
    /// Reads the main boot region (12 sectors of the volume's sector size,
    /// given here as 512-byte sectors read from the start).
    pub fn parse(region: &[u8]) -> Result<Geometry, FatError> {
        let bs = region.get(..512).ok_or(FatError::NotExfat { what: "boot region", value: 0 })?;
        let bad = |what, value: u64| Err(FatError::NotExfat { what, value });
        let u32at = |o: usize| u32::from_le_bytes([bs[o], bs[o + 1], bs[o + 2], bs[o + 3]]);
        let u64at = |o: usize| u64::from(u32at(o)) | u64::from(u32at(o + 4)) << 32;
        if &bs[3..11] != b"EXFAT   " {
            return bad("file system name", 0);
        }
        if bs[510] != 0x55 || bs[511] != 0xAA {
            return bad("boot signature", u64::from(u16::from_le_bytes([bs[510], bs[511]])));
        }
        if bs[11..64].iter().any(|&b| b != 0) {
            return bad("BPB area (must be zero)", 0);
        }
        let sector_shift = bs[108] as u32;
        let cluster_shift = bs[109] as u32;
        if !(9..=12).contains(&sector_shift) {
            return bad("bytes per sector shift", sector_shift as u64);
        }
        if sector_shift + cluster_shift > 25 {
            return bad("sectors per cluster shift", cluster_shift as u64);
        }
        let fats = bs[110];
        if fats != 1 && fats != 2 {
            return bad("number of FATs", fats as u64);
        }
        // The checksum of sectors 0-10 (skipping VolumeFlags and
        // PercentInUse) repeats through sector 11.
        let sector = 1usize << sector_shift;
        let region = region.get(..BOOT_REGION_SECTORS * sector).ok_or(FatError::NotExfat { what: "boot region", value: 0 })?;
        let sum = boot_region_checksum(region, sector);
        if region[11 * sector..].chunks_exact(4).any(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) != sum) {
            return Err(FatError::BootRegionChecksum);
        }
        let scale = 1u64 << (sector_shift - 9);
        let active_fat = (u16::from_le_bytes([bs[106], bs[107]]) & 1) as u64;
        let volume_sectors = u64at(72);
        let (fat_offset, fat_length) = (u32at(80) as u64, u32at(84) as u64);
        let (heap, clusters, root) = (u32at(88) as u64, u32at(92), u32at(96));
        if active_fat >= fats as u64 {
            return bad("active FAT", active_fat);
        }
        if fat_offset == 0 || fat_offset + fat_length * fats as u64 > heap || heap >= volume_sectors {
            return bad("FAT and cluster heap offsets", heap);
        }
        if fat_length * (1u64 << sector_shift) / 4 < clusters as u64 + 2 || clusters == 0 || clusters > 0xFFFF_FFF5 {
            return bad("cluster count", clusters as u64);
        }
        if (heap + ((clusters as u64) << cluster_shift)) > volume_sectors {
            return bad("cluster heap past the volume's end", clusters as u64);
        }
        if root < 2 || root - 2 >= clusters {
            return bad("root directory cluster", root as u64);
        }
        Ok(Geometry {
            bytes_per_sector: 1 << sector_shift,
            cluster_sectors: (scale << cluster_shift) as u32,
            fat_start: (fat_offset + active_fat * fat_length) * scale,
            fat_sectors: fat_length * scale,
            heap_start: heap * scale,
            cluster_count: clusters,
            root_cluster: root,
            volume_sectors: volume_sectors * scale,
        })
    }
}

/// An exFAT volume on a block device whose sector 0 is its boot sector.
pub struct Exfat<D> {
    dev: D,
    pub geometry: Geometry,
    pub label: String,
    chains: Chains,
}

/// True when `boot_sector` names itself exFAT.
pub fn is_exfat(boot_sector: &[u8]) -> bool {
    boot_sector.get(3..11) == Some(b"EXFAT   ")
}

impl<D: BlockDevice> Exfat<D> {
    pub fn open(mut dev: D) -> Result<Self, FatError> {
        let mut first = [0u8; SECTOR_SIZE];
        dev.read_sectors(0, &mut first)?;
        let shift = first[108].clamp(9, 12) as usize;
        let mut region = alloc::vec![0u8; BOOT_REGION_SECTORS << shift];
        dev.read_sectors(0, &mut region)?;
        let g = Geometry::parse(&region)?;
        let chains = Chains::new(g.fat_start, g.fat_sectors, g.heap_start, g.cluster_sectors, g.cluster_count, 0xFFFF_FFFF);
        let mut fs = Exfat { dev, geometry: g, label: String::new(), chains };
        let root = fs.read_dir_raw(fs.geometry.root_cluster, 0, false)?;
        fs.label = root.1;
        Ok(fs)
    }

    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }

    pub fn cluster_bytes(&self) -> u64 {
        self.chains.cluster_bytes()
    }

    /// Where a file lies on the volume.
    pub fn extent_map(&mut self, first_cluster: u32, size: u64, contiguous: bool) -> Result<ExtentMap, FatError> {
        self.chains.file_map(&mut self.dev, first_cluster, size, contiguous)
    }

    /// Reads the root directory.
    pub fn read_root(&mut self) -> Result<Vec<DirEntry>, FatError> {
        Ok(self.read_dir_raw(self.geometry.root_cluster, 0, false)?.0)
    }

    /// Reads a subdirectory.
    pub fn read_dir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FatError> {
        Ok(self.read_dir_raw(dir.node.fat_cluster(), dir.size, dir.node.fat_contiguous())?.0)
    }

    /// The entries of the directory at `first_cluster` (`size` bytes when
    /// `contiguous`, else its chain), and the volume label found there.
    fn read_dir_raw(&mut self, first_cluster: u32, size: u64, contiguous: bool) -> Result<(Vec<DirEntry>, String), FatError> {
        let runs: Vec<(u64, u64)> = if contiguous {
            let map = self.chains.file_map(&mut self.dev, first_cluster, size.max(1), true)?;
            map.extents().iter().map(|e| (e.disk_lba, e.count)).collect()
        } else {
            let runs = self.chains.dir_runs(&mut self.dev, first_cluster)?;
            runs.iter().map(|&(first, len)| (self.chains.cluster_lba(first), len as u64 * self.chains.cluster_sectors as u64)).collect()
        };
        let mut bytes = Vec::new();
        for (lba, count) in runs {
            let at = bytes.len();
            bytes.resize(at + count as usize * SECTOR_SIZE, 0);
            self.dev.read_sectors(lba, &mut bytes[at..])?;
        }
        parse_entries(&bytes, first_cluster)
    }
}

impl<D: BlockDevice> FileTree for Exfat<D> {
    fn root(&self) -> NodeId {
        NodeId::fat(self.geometry.root_cluster, false)
    }

    fn read_root(&mut self) -> Result<Vec<DirEntry>, FsError> {
        Ok(Exfat::read_root(self)?)
    }

    fn read_subdir(&mut self, dir: &DirEntry) -> Result<Vec<DirEntry>, FsError> {
        Ok(self.read_dir(dir)?)
    }
}

/// Decodes a directory's entry sets: files and folders with their names,
/// sizes and allocation, checking each set's checksum.
fn parse_entries(bytes: &[u8], dir_cluster: u32) -> Result<(Vec<DirEntry>, String), FatError> {
    let entries: Vec<&[u8]> = bytes.chunks_exact(ENTRY_SIZE).collect();
    let mut out = Vec::new();
    let mut label = String::new();
    let mut i = 0;
    while i < entries.len() {
        let e = entries[i];
        match e[0] {
            ENTRY_END => break,
            ENTRY_LABEL => {
                let n = (e[1] as usize).min(11);
                let units = (0..n).map(|k| u16::from_le_bytes([e[2 + 2 * k], e[3 + 2 * k]]));
                label = char::decode_utf16(units).map(|c| c.unwrap_or('?')).collect();
                i += 1;
            }
            ENTRY_FILE => {
                let secondary = e[1] as usize;
                let set = entries.get(i..=i + secondary).filter(|_| secondary >= 2);
                let Some(set) = set else {
                    return Err(FatError::EntrySetChecksum { dir_cluster, entry: i });
                };
                let stored = u16::from_le_bytes([e[2], e[3]]);
                let sum = entry_set_checksum(set.iter().flat_map(|x| x.iter()));
                if sum != stored || set[1][0] != ENTRY_STREAM {
                    return Err(FatError::EntrySetChecksum { dir_cluster, entry: i });
                }
                let attributes = u16::from_le_bytes([e[4], e[5]]);
                let stream = set[1];
                let name_len = stream[3] as usize;
                let units: Vec<u16> = set[2..]
                    .iter()
                    .filter(|x| x[0] == ENTRY_NAME)
                    .flat_map(|x| (0..15).map(move |k| u16::from_le_bytes([x[2 + 2 * k], x[3 + 2 * k]])))
                    .take(name_len)
                    .collect();
                let name: String = char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
                let u32at = |o: usize| u32::from_le_bytes([stream[o], stream[o + 1], stream[o + 2], stream[o + 3]]);
                let size = u64::from(u32at(24)) | u64::from(u32at(28)) << 32;
                out.push(DirEntry {
                    name,
                    is_dir: attributes & ATTR_DIRECTORY != 0,
                    size,
                    node: NodeId::fat(u32at(20), stream[1] & FLAG_NO_FAT_CHAIN != 0),
                });
                i += secondary + 1;
            }
            _ => i += 1, // bitmap, up-case table, GUID, deleted and unknown entries
        }
    }
    Ok((out, label))
}
