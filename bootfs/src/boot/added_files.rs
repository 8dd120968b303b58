//! An ISO served with files added to its initrds (issue 23, DESIGN D9):
//! the hook's table for the ISO as its boot loader reads it, with no copy
//! in RAM. bootfs::additions decides what is added; this decides where
//! every block of the ISO the loader sees comes from:
//! - the ISO's own blocks, as the stick holds them;
//! - a few sectors replaced: those holding each initrd's directory
//!   records (in every tree that has it: the primary one, Rock Ridge
//!   names included, and Joliet's), whose extent and size, both byte
//!   orders, now name the grown initrd; Joliet's descriptor is disabled
//!   (its type byte FFh, as Ventoy does) only when its tree lacks an
//!   initrd the primary tree has;
//! - past the ISO's end, for each initrd: its whole blocks again, from the
//!   stick; its last part-filled block, copied with zeros after its bytes;
//!   then the appended archive (bootfs::cpio), shared by all initrds. The
//!   kernel skips the zeros between the initrd's last archive and the
//!   appended one, which starts on a 2048-byte boundary (a 4-byte one is
//!   all it needs).
//!
//! The replaced sectors, the last blocks and the archive lie in the
//! stick's added-files area ([`AREA_LBA`], before the data partition and
//! outside every filesystem), after a header sector that says what the
//! area holds. stage2 writes it just before the jump, after checking that
//! every sector it takes is zero or its own, and zeroes it again at the
//! next start ([`Header`]). The ISO partition entry still covers the real
//! ISO, unchanged: a live system's checksum check of its medium passes.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::additions::{additions, families, Family, Request};
use crate::cpio::newc;
use crate::file::ByteSource;
use crate::initrds::Initrds;
use crate::iso9660::{IsoError, Volume, BLOCK};
use crate::iso_tree::{Entry, Iso, TreeError, RECORD_EXTENT_AT};
use crate::layout::{HookExtent, ADDED_FILES_LBA, ADDED_FILES_SECTORS};

/// First sector of the added-files area on the stick.
pub const AREA_LBA: u64 = ADDED_FILES_LBA as u64;
/// Sectors in it (header included).
pub const AREA_SECTORS: u64 = ADDED_FILES_SECTORS as u64;
const SECTOR: usize = 512;
const BLOCK_SECTORS: u64 = BLOCK / SECTOR as u64;
const HEADER_MAGIC: [u8; 8] = *b"DRPBADDF";
const HEADER_FORMAT: u32 = 1;
/// Bytes of the ISO's path the header keeps.
const PATH_BYTES: usize = 256;
/// The descriptor type that ends the set: what Joliet's becomes.
const TERMINATOR: u8 = 0xFF;

/// Where each block of an ISO with added files comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedFiles {
    /// The hook's table for the ISO as the loader reads it (512-byte file
    /// sectors, in order, with no gap).
    pub extents: Vec<HookExtent>,
    /// Its length in 512-byte sectors: what the drive's capacity grows to.
    pub sectors: u64,
    /// What the added-files area holds, from [`AREA_LBA`]: the header
    /// sector, then the replaced sectors, the last blocks and the archive.
    pub area: Vec<u8>,
    /// Each initrd grown: its path, its length before and after.
    pub initrds: Vec<(String, u32, u32)>,
    /// Joliet's descriptor disabled (its tree lacks an initrd).
    pub joliet_disabled: bool,
}

/// Why no files are added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The configuration turns the loader's writes off
    /// (`DROPBOOT_ISO_PARTITION` "0"), the added-files area's included.
    LoaderWritesNothing,
    /// The ISO's system reads none of the files asked for.
    NothingApplies,
    /// None of the initrds named is in the ISO.
    NoInitrd,
    Iso(TreeError),
    /// An initrd's record says it lies outside the ISO.
    Outside {
        path: String,
    },
    /// An initrd grown past what a directory record holds (4 GiB).
    TooLarge {
        path: String,
    },
    /// What must be added takes more sectors than the area has.
    AreaFull {
        need: u64,
        have: u64,
    },
    /// A block of the ISO the hook must serve is not in its table.
    Unmapped {
        sector: u64,
    },
}

impl From<TreeError> for AddError {
    fn from(e: TreeError) -> Self {
        AddError::Iso(e)
    }
}

impl From<IsoError> for AddError {
    fn from(e: IsoError) -> Self {
        AddError::Iso(TreeError::Iso(e))
    }
}

impl From<crate::block::IoError> for AddError {
    fn from(e: crate::block::IoError) -> Self {
        AddError::Iso(e.into())
    }
}

impl core::fmt::Display for AddError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AddError::LoaderWritesNothing => write!(f, "DROPBOOT_ISO_PARTITION is \"0\", so the loader writes nothing to the stick"),
            AddError::NothingApplies => {
                write!(f, "its system is none that reads the files dropboot adds (live-boot, casper, dracut, the Debian installer)")
            }
            AddError::NoInitrd => write!(f, "no initrd its boot loader loads was found in the ISO"),
            AddError::Iso(e) => write!(f, "its initrd cannot be read: {e}"),
            AddError::Outside { path } => write!(f, "the ISO's record of {path} points past its end"),
            AddError::TooLarge { path } => write!(f, "{path} would grow past 4 GiB"),
            AddError::AreaFull { need, have } => {
                write!(f, "what is added takes {need} sectors, and the stick's added-files area has {have}")
            }
            AddError::Unmapped { sector } => write!(f, "sector {sector} of the ISO is not in its table"),
        }
    }
}

/// What an ISO is, for adding files to it: its families (by its root
/// folder) and the initrds its boot loader loads (by its configurations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub families: Vec<Family>,
    pub initrds: Initrds,
}

/// What the ISO `iso` is, for adding files to it.
pub fn find(iso: &mut (impl ByteSource + ?Sized)) -> Result<Found, AddError> {
    let volume = Volume::read(iso)?;
    let root_names = volume.root_names(iso)?;
    let mut tree = Iso::open(iso)?;
    let initrds = crate::initrds::find(&mut tree);
    let families = families(&root_names, &mut tree, &initrds.paths);
    Ok(Found { families, initrds })
}

/// What is added to one ISO, and how it is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    /// The files added, by path in the initrd.
    pub members: Vec<String>,
    pub files: AddedFiles,
}

/// The ISO `iso` at `path`, which is `found`, whose hook table is
/// `table`, with what `request` asks added to its initrds (the files by
/// bootfs::additions).
pub fn for_request(
    iso: &mut (impl ByteSource + ?Sized),
    table: &[HookExtent],
    path: &str,
    found: &Found,
    request: &Request,
    area_sectors: u64,
) -> Result<Added, AddError> {
    let members = additions(&found.families, request);
    if members.is_empty() {
        return Err(AddError::NothingApplies);
    }
    let archive = newc(&members);
    let files = serve(iso, table, &found.initrds.paths, &archive, path, area_sectors)?;
    Ok(Added { members: members.into_iter().map(|m| m.path).collect(), files })
}

/// The ISO `iso`, whose hook table is `table` (its runs on the disk),
/// served with `archive` (a newc archive, a multiple of 4 bytes long)
/// appended to each of the `initrds` (paths in the ISO) that it holds,
/// for the ISO at `path` on the stick. The area may take `area_sectors`
/// sectors from [`AREA_LBA`].
pub fn serve(
    iso: &mut (impl ByteSource + ?Sized),
    table: &[HookExtent],
    initrds: &[String],
    archive: &[u8],
    path: &str,
    area_sectors: u64,
) -> Result<AddedFiles, AddError> {
    let iso_bytes = iso.len();
    let iso_blocks = iso_bytes.div_ceil(BLOCK);
    // The area as it fills: header sector first.
    let mut area: Vec<u8> = vec![0; SECTOR];
    // Replaced sectors of the ISO (its sector number -> its new bytes).
    let mut replaced: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    // Runs past the ISO's end: (first file sector, count, where from).
    let mut appended: Vec<(u64, u64, Source)> = Vec::new();
    let mut next_block = iso_blocks;
    let mut grown: Vec<(String, u32, u32)> = Vec::new();
    let mut joliet_disabled = false;
    {
        let mut tree = Iso::open(iso)?;
        let tree_count = tree.trees.len();
        // The archive once, block-aligned in the area.
        let archive_blocks = (archive.len() as u64).div_ceil(BLOCK);
        let archive_at = area.len() as u64 / SECTOR as u64;
        area.resize(area.len() + (archive_blocks * BLOCK) as usize, 0);
        area[archive_at as usize * SECTOR..][..archive.len()].copy_from_slice(archive);
        // Each initrd once, with its record in every tree that has it.
        let mut jobs: Vec<(&String, Vec<Entry>)> = Vec::new();
        for p in initrds {
            let records = tree.records(p);
            if records.is_empty() || records.iter().any(|r| r.is_folder) || jobs.iter().any(|(q, _)| *q == p) {
                continue;
            }
            if records.len() < tree_count {
                joliet_disabled = true;
            }
            jobs.push((p, records));
        }
        if jobs.is_empty() {
            return Err(AddError::NoInitrd);
        }
        for (p, records) in jobs {
            let (start, size) = (records[0].extent as u64, records[0].size as u64);
            if start + size.div_ceil(BLOCK) > iso_blocks {
                return Err(AddError::Outside { path: p.clone() });
            }
            let whole = size / BLOCK;
            let tail = size % BLOCK;
            let new_start = next_block;
            if whole > 0 {
                appended.push((new_start * BLOCK_SECTORS, whole * BLOCK_SECTORS, Source::Iso(start * BLOCK_SECTORS)));
            }
            let mut grown_size = whole * BLOCK;
            if tail > 0 {
                let mut last = vec![0u8; BLOCK as usize];
                tree.src.read_at((start + whole) * BLOCK, &mut last[..tail as usize])?;
                let last_at = area.len() as u64 / SECTOR as u64;
                area.extend_from_slice(&last);
                appended.push(((new_start + whole) * BLOCK_SECTORS, BLOCK_SECTORS, Source::Area(last_at)));
                grown_size += BLOCK;
            }
            let archive_start = new_start * BLOCK_SECTORS + grown_size / SECTOR as u64;
            appended.push((archive_start, archive_blocks * BLOCK_SECTORS, Source::Area(archive_at)));
            grown_size += archive.len() as u64;
            let (Ok(new_size), Ok(new_extent)) = (u32::try_from(grown_size), u32::try_from(new_start)) else {
                return Err(AddError::TooLarge { path: p.clone() });
            };
            next_block = new_start + grown_size.div_ceil(BLOCK);
            // Extent and size, little- then big-endian, at record offset 2.
            let mut fields = [0u8; 16];
            fields[0..4].copy_from_slice(&new_extent.to_le_bytes());
            fields[4..8].copy_from_slice(&new_extent.to_be_bytes());
            fields[8..12].copy_from_slice(&new_size.to_le_bytes());
            fields[12..16].copy_from_slice(&new_size.to_be_bytes());
            for r in &records {
                patch(tree.src, &mut replaced, r.record + RECORD_EXTENT_AT, &fields)?;
            }
            grown.push((p.clone(), size as u32, new_size));
        }
        if joliet_disabled {
            if let Some(block) = joliet_descriptor(tree.src)? {
                patch(tree.src, &mut replaced, block * BLOCK, &[TERMINATOR])?;
            }
        }
    }
    // The replaced sectors go after the archive and the last blocks.
    let mut replaced_at = BTreeMap::new();
    for (sector, bytes) in &replaced {
        replaced_at.insert(*sector, area.len() as u64 / SECTOR as u64);
        area.extend_from_slice(bytes);
    }
    let need = area.len() as u64 / SECTOR as u64;
    if need > area_sectors {
        return Err(AddError::AreaFull { need, have: area_sectors });
    }
    // The table: the ISO's runs split around the replaced sectors, then
    // the runs past its end.
    let mut runs: Vec<(u64, u64, u64)> = Vec::new();
    let iso_sectors = iso_blocks * BLOCK_SECTORS;
    let mut s = 0;
    for (&sector, &from) in replaced_at.iter() {
        if s < sector {
            runs.extend(from_table(table, s, sector - s)?);
        }
        runs.push((sector, 1, AREA_LBA + from));
        s = sector + 1;
    }
    if s < iso_sectors {
        runs.extend(from_table(table, s, iso_sectors - s)?);
    }
    for (file_sector, count, from) in appended {
        match from {
            Source::Iso(iso_sector) => {
                for (i, n, lba) in from_table(table, iso_sector, count)? {
                    runs.push((file_sector + i - iso_sector, n, lba));
                }
            }
            Source::Area(at) => runs.push((file_sector, count, AREA_LBA + at)),
        }
    }
    let mut extents: Vec<HookExtent> = Vec::new();
    for (file_sector, count, disk_lba) in runs {
        if let Some(last) = extents.last_mut() {
            let (end, disk_end) = (last.file_sector as u64 + last.count as u64, last.disk_lba + last.count as u64);
            if end == file_sector && disk_end == disk_lba && last.count as u64 + count <= u32::MAX as u64 {
                last.count += count as u32;
                continue;
            }
        }
        let (Ok(file_sector), Ok(count)) = (u32::try_from(file_sector), u32::try_from(count)) else {
            return Err(AddError::TooLarge { path: path.into() });
        };
        extents.push(HookExtent { file_sector, count, disk_lba });
    }
    let sectors = next_block * BLOCK_SECTORS;
    area[..SECTOR].copy_from_slice(&Header { sectors: need as u32, path: path.into() }.to_sector());
    Ok(AddedFiles { extents, sectors, area, initrds: grown, joliet_disabled })
}

/// Where a run past the ISO's end comes from: the ISO's own sectors, or
/// the area's sector (from its start).
#[derive(Clone, Copy)]
enum Source {
    Iso(u64),
    Area(u64),
}

/// Overwrites `bytes` at byte `at` of the ISO in `replaced` (the sectors
/// already replaced, read from `iso` when first touched).
fn patch(iso: &mut (impl ByteSource + ?Sized), replaced: &mut BTreeMap<u64, Vec<u8>>, at: u64, bytes: &[u8]) -> Result<(), AddError> {
    for (i, &b) in bytes.iter().enumerate() {
        let byte = at + i as u64;
        let sector = byte / SECTOR as u64;
        if let alloc::collections::btree_map::Entry::Vacant(v) = replaced.entry(sector) {
            let mut s = vec![0u8; SECTOR];
            iso.read_at(sector * SECTOR as u64, &mut s)?;
            v.insert(s);
        }
        if let Some(s) = replaced.get_mut(&sector) {
            s[(byte % SECTOR as u64) as usize] = b;
        }
    }
    Ok(())
}

/// The block of the ISO's Joliet descriptor, if it has one.
fn joliet_descriptor(iso: &mut (impl ByteSource + ?Sized)) -> Result<Option<u64>, AddError> {
    let mut d = [0u8; 91];
    for block in crate::iso9660::FIRST_DESCRIPTOR..crate::iso9660::FIRST_DESCRIPTOR + 32 {
        if (block + 1) * BLOCK > iso.len() {
            break;
        }
        iso.read_at(block * BLOCK, &mut d)?;
        if &d[1..6] != b"CD001" || d[0] == TERMINATOR {
            break;
        }
        if d[0] == 2 && d[88..90] == *b"%/" && matches!(d[90], b'@' | b'C' | b'E') {
            return Ok(Some(block));
        }
    }
    Ok(None)
}

/// The disk runs of `count` file sectors from `start` in `table`, as
/// (file sector, count, disk LBA).
fn from_table(table: &[HookExtent], start: u64, count: u64) -> Result<Vec<(u64, u64, u64)>, AddError> {
    let mut out = Vec::new();
    let (mut s, end) = (start, start + count);
    while s < end {
        let i = table.partition_point(|e| e.file_sector as u64 + e.count as u64 <= s);
        let e = table.get(i).filter(|e| e.file_sector as u64 <= s).ok_or(AddError::Unmapped { sector: s })?;
        let into = s - e.file_sector as u64;
        let n = (e.count as u64 - into).min(end - s);
        out.push((s, n, e.disk_lba + into));
        s += n;
    }
    Ok(out)
}

/// The added-files area's first sector: what it holds, so that the next
/// start zeroes it again, and so that stage2 takes no sector it did not
/// write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Sectors of the area in use, this one included.
    pub sectors: u32,
    /// The ISO they were for.
    pub path: String,
}

impl Header {
    pub fn to_sector(&self) -> [u8; SECTOR] {
        let mut s = [0u8; SECTOR];
        s[0..8].copy_from_slice(&HEADER_MAGIC);
        s[8..12].copy_from_slice(&HEADER_FORMAT.to_le_bytes());
        s[12..16].copy_from_slice(&self.sectors.to_le_bytes());
        let p = self.path.as_bytes();
        let n = p.len().min(PATH_BYTES);
        s[16..20].copy_from_slice(&(n as u32).to_le_bytes());
        s[20..20 + n].copy_from_slice(&p[..n]);
        s
    }

    /// The header in `sector`, if it is one (its count within the area).
    pub fn parse(sector: &[u8]) -> Option<Header> {
        if sector.len() < SECTOR || sector[0..8] != HEADER_MAGIC || u32::from_le_bytes(sector[8..12].try_into().ok()?) != HEADER_FORMAT {
            return None;
        }
        let sectors = u32::from_le_bytes(sector[12..16].try_into().ok()?);
        let n = u32::from_le_bytes(sector[16..20].try_into().ok()?) as usize;
        if sectors == 0 || sectors as u64 > AREA_SECTORS || n > PATH_BYTES {
            return None;
        }
        let path = String::from_utf8_lossy(&sector[20..20 + n]).into_owned();
        Some(Header { sectors, path })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::Member;
    use alloc::string::ToString;

    /// A tiny ISO: PVD at 16, a terminator at 17, the root folder at 18
    /// with one file INITRD.GZ;1 at block 20 of `size` bytes.
    fn iso(size: usize) -> Vec<u8> {
        let blocks = 20 + size.div_ceil(2048) + 1;
        let mut img = vec![0u8; blocks * 2048];
        let pvd = &mut img[16 * 2048..17 * 2048];
        pvd[0] = 1;
        pvd[1..6].copy_from_slice(b"CD001");
        pvd[6] = 1;
        pvd[80..84].copy_from_slice(&(blocks as u32).to_le_bytes());
        pvd[84..88].copy_from_slice(&(blocks as u32).to_be_bytes());
        pvd[128..130].copy_from_slice(&2048u16.to_le_bytes());
        record(&mut pvd[156..], 18, 2048, 2, b"\0");
        let t = &mut img[17 * 2048..18 * 2048];
        t[0] = 0xFF;
        t[1..6].copy_from_slice(b"CD001");
        t[6] = 1;
        let root = &mut img[18 * 2048..19 * 2048];
        let mut at = record(root, 18, 2048, 2, b"\0");
        at += record(&mut root[at..], 18, 2048, 2, b"\x01");
        record(&mut root[at..], 20, size as u32, 0, b"INITRD.GZ;1");
        for (i, b) in img[20 * 2048..20 * 2048 + size].iter_mut().enumerate() {
            *b = (i % 251) as u8 + 1;
        }
        img
    }

    fn record(out: &mut [u8], extent: u32, size: u32, flags: u8, name: &[u8]) -> usize {
        let len = (33 + name.len()).next_multiple_of(2);
        out[0] = len as u8;
        out[2..6].copy_from_slice(&extent.to_le_bytes());
        out[6..10].copy_from_slice(&extent.to_be_bytes());
        out[10..14].copy_from_slice(&size.to_le_bytes());
        out[14..18].copy_from_slice(&size.to_be_bytes());
        out[25] = flags;
        out[32] = name.len() as u8;
        out[33..33 + name.len()].copy_from_slice(name);
        len
    }

    /// The ISO as the hook serves it: each sector from the table, read
    /// from a disk where the ISO lies from `at` and the area from AREA_LBA.
    fn served(iso_bytes: &[u8], at: u64, added: &AddedFiles) -> Vec<u8> {
        let mut disk = vec![0u8; ((at as usize) * 512 + iso_bytes.len()).max(2048 * 512)];
        disk[at as usize * 512..][..iso_bytes.len()].copy_from_slice(iso_bytes);
        disk[AREA_LBA as usize * 512..][..added.area.len()].copy_from_slice(&added.area);
        let mut out = Vec::new();
        let mut next = 0;
        for e in &added.extents {
            assert_eq!(e.file_sector as u64, next, "the table has no gap");
            let from = e.disk_lba as usize * 512;
            out.extend_from_slice(&disk[from..from + e.count as usize * 512]);
            next += e.count as u64;
        }
        assert_eq!(next, added.sectors);
        out
    }

    #[test]
    fn an_initrd_grows_by_the_archive_and_the_rest_of_the_iso_is_unchanged() {
        let size = 5000;
        let img = iso(size);
        // The ISO in two runs on the disk, from sector 4096.
        let half = (img.len() / 512 / 2) as u32;
        let table = [
            HookExtent { file_sector: 0, count: half, disk_lba: 4096 },
            HookExtent { file_sector: half, count: (img.len() / 512) as u32 - half, disk_lba: 4096 + half as u64 },
        ];
        let archive = newc(&[Member::file("conf/conf.d/zz-dropboot", b"export PERSISTENCE=true\n")]);
        let added = serve(&mut img.clone()[..], &table, &["/initrd.gz".to_string()], &archive, "/live.iso", AREA_SECTORS).unwrap();
        let out = served(&img, 4096, &added);
        // Only the sector holding the record differs within the ISO.
        let record_sector = 18 * 4;
        for s in 0..img.len() / 512 {
            let same = out[s * 512..][..512] == img[s * 512..][..512];
            assert_eq!(same, s != record_sector, "sector {s}");
        }
        let mut copy = out.clone();
        let src: &mut [u8] = &mut copy[..];
        let mut tree = Iso::open(src).unwrap();
        let e = tree.find("/initrd.gz").unwrap();
        assert_eq!(e.size as usize, 3 * 2048 + archive.len());
        assert_eq!(added.initrds, [("/initrd.gz".to_string(), size as u32, e.size)]);
        let data = tree.read("/initrd.gz", 1 << 20).unwrap();
        assert_eq!(data[..size], img[20 * 2048..20 * 2048 + size]);
        assert!(data[size..3 * 2048].iter().all(|&b| b == 0), "zeros up to the archive");
        assert_eq!(data[3 * 2048..], archive[..]);
        assert!(!added.joliet_disabled);
        assert_eq!(Header::parse(&added.area[..512]), Some(Header { sectors: (added.area.len() / 512) as u32, path: "/live.iso".into() }));
    }

    #[test]
    fn an_initrd_that_ends_on_a_block_needs_no_last_block_and_absent_ones_are_skipped() {
        let img = iso(4096);
        let table = [HookExtent { file_sector: 0, count: (img.len() / 512) as u32, disk_lba: 100 }];
        let archive = newc(&[Member::file("preseed.cfg", b"d-i x\n")]);
        let names = ["/nothere".to_string(), "/INITRD.GZ".to_string()];
        let added = serve(&mut img.clone()[..], &table, &names, &archive, "/d.iso", AREA_SECTORS).unwrap();
        let out = served(&img, 100, &added);
        let mut copy = out.clone();
        let src: &mut [u8] = &mut copy[..];
        let data = Iso::open(src).unwrap().read("/initrd.gz", 1 << 20).unwrap();
        assert_eq!(data.len(), 4096 + archive.len());
        assert_eq!(data[4096..], archive[..]);
        // The header, the archive's block and the record's sector.
        assert_eq!(added.area.len(), 512 + 2048 + 512);
    }

    #[test]
    fn no_initrd_and_a_full_area_are_refused() {
        let img = iso(100);
        let table = [HookExtent { file_sector: 0, count: (img.len() / 512) as u32, disk_lba: 100 }];
        let archive = newc(&[Member::file("a", &[7; 9000])]);
        assert_eq!(serve(&mut img.clone()[..], &table, &["/x".to_string()], &archive, "/d.iso", 100), Err(AddError::NoInitrd));
        assert_eq!(
            serve(&mut img.clone()[..], &table, &["/initrd.gz".to_string()], &archive, "/d.iso", 8),
            Err(AddError::AreaFull { need: 1 + 20 + 4 + 1, have: 8 })
        );
    }

    #[test]
    fn a_header_reads_back_and_garbage_is_not_one() {
        let h = Header { sectors: 12, path: "/ISO/debian live.iso".into() };
        assert_eq!(Header::parse(&h.to_sector()), Some(h));
        assert_eq!(Header::parse(&[0u8; 512]), None);
        let mut big = Header { sectors: 12, path: "/x".into() }.to_sector();
        big[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(Header::parse(&big), None);
    }
}
