//! What the fuzz targets (fuzz/fuzz_targets) run: each parser on arbitrary
//! bytes, through the same calls stage2 makes, with the invariants that
//! must hold whatever the input. A panic here is a bug; so is a hang or an
//! allocation the input's size does not bound (libFuzzer's -timeout and
//! -malloc_limit_mb catch those). The replay test runs every saved crash
//! and seed through the same functions in `cargo test`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::bootplan;
use crate::config;
use crate::eltorito::Catalog;
use crate::exfat::Exfat;
use crate::extent::ExtentMap;
use crate::fat::Fat32;
use crate::file::{ByteSource, MappedFile};
use crate::filesystem::Filesystem;
use crate::iso9660;
use crate::json;
use crate::mbr::Mbr;
use crate::scan::{self, BootFile};

/// A disk or file given as its non-zero sectors: records of a 4-byte LE
/// sector number and 512 bytes. Everything else reads as zeros, up to the
/// highest sector given; past it, reads fail as past the end. This keeps a
/// 64 MiB volume's seed to the few KiB its metadata takes, and lets the
/// fuzzer move and change sectors independently.
pub struct SparseDisk {
    sectors: alloc::collections::BTreeMap<u64, [u8; 512]>,
    len_sectors: u64,
}

/// Records a [`SparseDisk`] input holds at most.
const MAX_RECORDS: usize = 4096;

impl SparseDisk {
    pub fn decode(data: &[u8]) -> SparseDisk {
        let mut sectors = alloc::collections::BTreeMap::new();
        for rec in data.chunks(516).take(MAX_RECORDS) {
            if rec.len() < 4 {
                break;
            }
            let lba = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]) as u64;
            let mut sector = [0u8; 512];
            sector[..rec.len() - 4].copy_from_slice(&rec[4..]);
            sectors.insert(lba, sector);
        }
        let len_sectors = sectors.keys().next_back().map_or(0, |l| l + 1);
        SparseDisk { sectors, len_sectors }
    }

    /// The input for `image`: its non-zero sectors (all of `keep`, when
    /// given), and its last sector so the length survives.
    pub fn encode(image: &[u8], keep: Option<&[u64]>) -> Vec<u8> {
        let count = image.len().div_ceil(512) as u64;
        let mut out = Vec::new();
        for lba in 0..count.min(u32::MAX as u64) {
            let from = lba as usize * 512;
            let sector = &image[from..(from + 512).min(image.len())];
            let wanted = match keep {
                Some(k) => k.contains(&lba),
                None => sector.iter().any(|&b| b != 0),
            };
            if wanted || lba + 1 == count {
                out.extend_from_slice(&(lba as u32).to_le_bytes());
                out.extend_from_slice(sector);
                out.resize(out.len() + (512 - sector.len()), 0);
            }
        }
        out
    }
}

impl crate::BlockDevice for SparseDisk {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), crate::IoError> {
        let count = (buf.len() / 512) as u64;
        if lba.checked_add(count).is_none_or(|end| end > self.len_sectors) {
            return Err(crate::IoError { lba, kind: crate::block::IoErrorKind::OutOfRange });
        }
        for (i, out) in buf.chunks_exact_mut(512).enumerate() {
            match self.sectors.get(&(lba + i as u64)) {
                Some(s) => out.copy_from_slice(s),
                None => out.fill(0),
            }
        }
        Ok(())
    }
}

impl ByteSource for SparseDisk {
    fn len(&self) -> u64 {
        self.len_sectors * 512
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), crate::IoError> {
        let past = crate::IoError { lba: offset / 512, kind: crate::block::IoErrorKind::OutOfRange };
        let end = offset.checked_add(buf.len() as u64).filter(|&e| e <= self.len()).ok_or(past)?;
        let mut at = offset;
        let mut sector = [0u8; 512];
        while at < end {
            use crate::BlockDevice;
            self.read_sectors(at / 512, &mut sector)?;
            let skip = (at % 512) as usize;
            let n = (512 - skip).min((end - at) as usize);
            let done = (at - offset) as usize;
            buf[done..done + n].copy_from_slice(&sector[skip..skip + n]);
            at += n as u64;
        }
        Ok(())
    }
}

/// The targets, by the names `cargo fuzz run` takes.
pub const TARGETS: [(&str, fn(&[u8])); 10] = [
    ("mbr", mbr),
    ("fat32", fat32),
    ("exfat", exfat),
    ("ntfs", ntfs),
    ("iso9660", iso9660),
    ("eltorito", eltorito),
    ("iso_tree", iso_tree),
    ("extent_map", extent_map),
    ("config", config),
    ("vdisk", vdisk),
];

/// The runner for a target's name.
pub fn target(name: &str) -> Option<fn(&[u8])> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The partition table, and the partition stage2 would pick; then an ISO
/// partition record after it.
pub fn mbr(data: &[u8]) {
    let mut sector = [0u8; 512];
    let n = data.len().min(512);
    sector[..n].copy_from_slice(&data[..n]);
    if let Ok(m) = Mbr::parse(&sector) {
        if let Some((i, p)) = m.data_partition() {
            assert!(i < 4 && p.sectors > 0, "a data partition is one of four and not empty");
        }
        let mut again = [0u8; 512];
        m.write_into(&mut again);
        assert_eq!(Mbr::parse(&again).map(|m2| m2.data_partition()), Ok(m.data_partition()), "round trip");
    }
    // Bytes 512.. as the ISO partition record (stage2 reads one before
    // every menu): parsed, it survives its own round trip, and undoing it
    // changes at most its slots of the table.
    let mut record = [0u8; 512];
    let rest = data.get(512..).unwrap_or_default();
    record[..rest.len().min(512)].copy_from_slice(&rest[..rest.len().min(512)]);
    if let Some(r) = crate::iso_partition::Record::parse(&record) {
        assert_eq!(crate::iso_partition::Record::parse(&r.to_sector()).as_ref(), Some(&r), "record round trip");
        if let crate::iso_partition::Undo::Restore(s) = r.undo(&sector) {
            let slots: alloc::vec::Vec<_> = r.changes.iter().map(|c| crate::mbr::entry_range(c.slot)).collect();
            assert!((0..512).all(|i| slots.iter().any(|r| r.contains(&i)) || s[i] == sector[i]), "undo touches only its slots");
        }
    }
    // Bytes 1024..1536 as the builder's journal record, the rest as a
    // journal body (the builder reads both from the stick).
    let mut journal = [0u8; 512];
    let rest = data.get(1024..).unwrap_or_default();
    journal[..rest.len().min(512)].copy_from_slice(&rest[..rest.len().min(512)]);
    if let Some(r) = crate::journal::Record::parse(&journal) {
        assert!(r.runs.len() <= crate::journal::MAX_RUNS, "runs bounded");
        assert_eq!(r.to_sector().and_then(|s| crate::journal::Record::parse(&s)).as_ref(), Some(&r), "journal record round trip");
    }
    let body = data.get(1536..).unwrap_or_default();
    if let Some(b) = crate::journal::Body::parse(body) {
        assert!(b.changes.len() * crate::journal::CHANGE_BYTES <= body.len(), "changes bounded by the bytes");
        assert_eq!(crate::journal::Body::parse(&b.to_bytes()).as_ref(), Some(&b), "journal body round trip");
        assert_eq!(b.runs().iter().map(|r| r.len()).sum::<usize>(), b.changes.len(), "runs cover every change once");
    }
}

/// A FAT32 volume (the input is the partition, as a [`SparseDisk`]).
pub fn fat32(data: &[u8]) {
    if let Ok(fs) = Fat32::open(SparseDisk::decode(data)) {
        walk_volume(Filesystem::Fat32(fs));
    }
}

/// An exFAT volume (the input is the partition, as a [`SparseDisk`]).
pub fn exfat(data: &[u8]) {
    if let Ok(fs) = Exfat::open(SparseDisk::decode(data)) {
        walk_volume(Filesystem::Exfat(fs));
    }
}

/// An NTFS volume (the input is the partition, as a [`SparseDisk`]).
pub fn ntfs(data: &[u8]) {
    if let Ok(fs) = crate::ntfs::Ntfs::open(SparseDisk::decode(data)) {
        walk_volume(Filesystem::Ntfs(fs));
    }
}

/// Everything stage2 does with a volume short of booting: scan, map each
/// file, read it through its map and plan its boot, read the configuration.
fn walk_volume(mut fs: Filesystem<SparseDisk>) {
    let _ = config::load(&mut fs);
    let _ = scan::list_dir(&mut fs, "/a/b/c");
    let Ok(report) = scan::scan(&mut fs) else { return };
    for f in report.files.iter().take(16) {
        let _ = fs.read_whole(&BootFile { size: f.size.min(4096), ..f.clone() });
        let Ok(map) = fs.extent_map(f) else { continue };
        assert!(map.sectors() * 512 >= f.size, "a map covers its file");
        check_map(&map);
        let mut file = MappedFile { dev: &mut *fs.device(), map, size: f.size };
        let _ = bootplan::plan(f.name(), &mut file);
    }
}

/// An ISO9660 volume descriptor set and root directory.
/// (The input is the ISO file, as a [`SparseDisk`].)
pub fn iso9660(data: &[u8]) {
    let mut src = SparseDisk::decode(data);
    if let Ok(v) = iso9660::Volume::read(&mut src) {
        let _ = v.root_names(&mut src);
    }
}

/// Paths inside an ISO (the input, as a [`SparseDisk`]): what the loader
/// looks up and reads to add files to an ISO as it boots.
pub fn iso_tree(data: &[u8]) {
    walk_iso(&mut SparseDisk::decode(data));
}

/// Paths looked up in every ISO [`walk_iso`] is given.
const ISO_PATHS: [&str; 6] = ["/isolinux/isolinux.cfg", "/boot/grub/grub.cfg", "/live/initrd.img", "/BOOT/GRUB/../grub/GRUB.CFG", "/a/b/c/d/e", "/"];

/// Each of [`ISO_PATHS`] found in each tree and read: a record lies in one
/// block of the image, a file read has its size; then its initrds found
/// through its boot configurations.
pub fn walk_iso(src: &mut (impl ByteSource + ?Sized)) {
    let len = src.len();
    let Ok(mut iso) = crate::iso_tree::Iso::open(src) else { return };
    for path in ISO_PATHS {
        for e in iso.records(path) {
            let in_block = e.record % 2048 + 34 <= 2048 && e.record + 34 <= len;
            assert!(e.record == 0 || in_block, "the record of {path} lies inside one block of the image");
            if let Ok(bytes) = crate::iso_tree::read_entry(iso.src, &e, 64 * 1024) {
                assert_eq!(bytes.len() as u64, e.size as u64, "{path} read whole");
            }
        }
    }
    let found = crate::initrds::find(&mut iso);
    assert!(found.paths.len() <= crate::initrds::MAX_INITRDS, "initrds bounded");
    added_files(src);
}

/// The ISO served with a preseed file added (bootfs::added_files), as if
/// it lay in one run from disk sector 4096: a table with no gap, as long
/// as it says, that maps every sector to the ISO's run or to the area.
fn added_files(src: &mut (impl ByteSource + ?Sized)) {
    use crate::added_files::{find, for_request, AREA_LBA, AREA_SECTORS};
    let sectors = src.len().div_ceil(512);
    let Ok(count) = u32::try_from(sectors) else { return };
    let table = [crate::layout::HookExtent { file_sector: 0, count, disk_lba: 4096 }];
    let request = crate::additions::Request { persistence: None, template: Some(b"d-i x\n") };
    let Ok(found) = find(src) else { return };
    let Ok(added) = for_request(src, &table, "/x.iso", &found, &request, AREA_SECTORS) else { return };
    let files = added.files;
    assert_eq!(files.area.len() % 512, 0);
    assert!(files.area.len() as u64 <= AREA_SECTORS * 512, "the area holds what is added");
    let mut next = 0u64;
    for e in &files.extents {
        assert_eq!(e.file_sector as u64, next, "no gap in the table");
        let end = e.disk_lba + e.count as u64;
        let in_iso = e.disk_lba >= 4096 && end <= 4096 + sectors.next_multiple_of(4);
        let in_area = e.disk_lba >= AREA_LBA && end <= AREA_LBA + files.area.len() as u64 / 512;
        assert!(in_iso || in_area, "every run is the ISO's or the area's");
        next += e.count as u64;
    }
    assert_eq!(next, files.sectors, "the table is as long as the drive");
}

/// The whole boot plan for the input (a [`SparseDisk`]) as an ISO and as
/// a disk image, and its first sector as an El Torito catalog.
pub fn eltorito(data: &[u8]) {
    let mut src = SparseDisk::decode(data);
    let mut first = [0u8; 512];
    let _ = src.read_at(0, &mut first);
    let _ = Catalog::parse(&first);
    let len = src.len();
    for name in ["boot.iso", "disk.img"] {
        if let Ok(plan) = bootplan::plan(name, &mut src) {
            let end = plan.boot_image.offset.checked_add(plan.boot_image.bytes);
            assert!(end.is_some_and(|e| e <= len), "the boot image lies inside the file");
            let image_end = plan.image.start.checked_add(plan.image.sectors);
            assert!(image_end.is_some_and(|e| e <= len.div_ceil(512)), "the presented image lies inside the file");
        }
    }
}

/// An extent map built from arbitrary runs: it covers the file's sectors
/// exactly once, in order, and finds every one.
pub fn extent_map(data: &[u8]) {
    let mut map = ExtentMap::new();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for chunk in data.chunks_exact(5).take(256) {
        let lba = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as u64;
        let count = chunk[4] as u64;
        map.push(lba, count);
        if count > 0 {
            runs.push((lba, count));
        }
    }
    assert_eq!(map.sectors(), runs.iter().map(|r| r.1).sum::<u64>(), "every sector counted once");
    check_map(&map);
    let mut sector = 0;
    for (lba, count) in runs {
        for i in [0, count - 1] {
            let (found, run) = map.lookup(sector + i).expect("a mapped sector is found");
            assert_eq!(found, lba + i, "sector {} maps where it was put", sector + i);
            assert!(run >= 1 && run <= count - i + map.sectors(), "a run reaches no further than the map");
        }
        sector += count;
    }
    assert!(map.lookup(map.sectors()).is_none(), "nothing past the end");
}

/// An image file (a [`SparseDisk`]) as an installed system's disk: the
/// virtual disk found lies inside the file in whole sectors, and every
/// partition listed lies inside the virtual disk, numbered in order. Then
/// the file made fixed ([`vdisk_fixed`]).
pub fn vdisk(data: &[u8]) {
    let mut file = SparseDisk::decode(data);
    vdisk_fixed(&mut file);
    let Ok(disk) = crate::vdisk::recognize(&mut file) else { return };
    assert!(disk.data_start % 512 == 0 && disk.data_bytes % 512 == 0, "whole sectors");
    assert!(disk.data_start.checked_add(disk.data_bytes).is_some_and(|end| end <= file.len()), "the disk lies inside the file");
    let Ok(table) = crate::vdisk::partitions(&mut file, &disk) else { return };
    for p in &table.entries {
        assert!(p.start.checked_add(p.sectors).is_some_and(|end| end <= disk.sectors()), "partition {} inside the disk", p.number);
    }
    assert!(table.entries.windows(2).all(|w| w[0].number < w[1].number), "numbered in order, each once");
}

/// Fixed files made whole at most (and so the blocks checked at most).
const MAX_FIXED_BYTES: u64 = 16 << 20;

/// A dynamic image made fixed, when the fixed file is small enough to make
/// whole: its pieces cover it in order, each one to `max` bytes, the file's
/// runs inside the file; read in pieces it is what it is read whole; and
/// `recognize` takes it for a fixed image of the same disk (unless the
/// disk's own first sector looks like an image file's, which a fixed VHD,
/// starting with it, then also would).
fn vdisk_fixed(file: &mut SparseDisk) {
    use crate::vdisk::{Conversion, Piece};
    let Ok(mut c) = Conversion::open(file) else { return };
    if c.len() > MAX_FIXED_BYTES || c.check_blocks(file).is_err() {
        return;
    }
    let mut whole = alloc::vec![0u8; c.len() as usize];
    if c.read_at(file, 0, &mut whole).is_err() {
        return;
    }
    let max = 64 << 10;
    let mut at = 0;
    while at < c.len() {
        let Ok(piece) = c.piece(file, at, max) else { return };
        let n = piece.bytes();
        assert!(n > 0 && n <= max && at + n <= c.len(), "a piece of 1 to {max} bytes inside the fixed file");
        let part = &whole[at as usize..(at + n) as usize];
        match piece {
            Piece::File { at: from, .. } => {
                let mut bytes = alloc::vec![0u8; n as usize];
                file.read_at(from, &mut bytes).expect("a file piece lies inside the file");
                assert!(bytes == part, "a file piece is what the whole read gave");
            }
            Piece::Zeros { .. } => assert!(part.iter().all(|&b| b == 0), "a zero piece is zeros"),
            Piece::Made { .. } => {}
        }
        at += n;
    }
    let recognized = crate::vdisk::recognize(&mut whole[..]);
    if let Ok(v) = recognized {
        assert_eq!((v.format, v.data_bytes), (c.format(), c.disk_bytes()), "the fixed file is the format it was made, the same disk");
    } else {
        assert_eq!(c.format(), crate::vdisk::VdiskFormat::FixedVhd, "a fixed VDI or VHDX made is recognized: {recognized:?}");
        let mut disk = whole[..c.disk_bytes() as usize].to_vec();
        let alone = crate::vdisk::recognize(&mut disk[..]);
        assert!(!matches!(alone, Ok(_) | Err(crate::vdisk::VdiskRefusal::NotADisk)), "a fixed VHD made is recognized: {recognized:?}");
    }
}

/// Runs of a map are in file order, contiguous in the file, non-empty.
fn check_map(map: &ExtentMap) {
    let mut next = 0;
    for e in map.extents() {
        assert_eq!(e.file_sector, next, "runs follow each other in the file");
        assert!(e.count > 0, "no empty run");
        next += e.count;
    }
}

/// The configuration file, and the menu it makes of a few files.
pub fn config(data: &[u8]) {
    let _ = json::parse(data);
    let Ok((config, _)) = config::parse(data) else { return };
    let files: Vec<BootFile> = ["/a.iso", "/ISO/b.iso", "/ISO/Linux/c.img", "/x/y/z/d.iso"]
        .iter()
        .map(|p| BootFile { path: String::from(*p), size: 1, node: crate::tree::NodeId::fat(3, false) })
        .collect();
    let entries = config.arrange(files.clone());
    assert!(entries.len() <= files.len(), "the menu never lists a file twice");
    if let Some(i) = config.default_index(&entries) {
        assert!(i == 0 || i < entries.len(), "the default is an entry");
    }
    for dir in ["/", "/ISO", "/ISO/Linux"] {
        let _ = (config.dir_alias(dir), config.dir_tip(dir));
    }
}
