//! NTFS as bootfs reads it, from volumes mkntfs makes and ntfs-3g fills
//! (FUSE, as root), not from the project's own code: nested folders with
//! long non-ASCII names, a folder of thousands of files (a deep index), a
//! file in over 1,000 runs (its runs spill into extension records through
//! an attribute list), a resident configuration file, and the compressed
//! and sparse files the loader refuses in words.

mod common;
use common::{data, read_back, tool, MOUNTS};

use std::path::{Path, PathBuf};
use std::process::Command;

use bootfs::filesystem::{Filesystem, FsError};
use bootfs::ntfs::NtfsError;
use bootfs::scan::{find_file, list_dir, scan};

/// An NTFS image made by mkntfs, filled through ntfs-3g by `fill(mount point)`.
fn ntfs_image(name: &str, size_mib: u64, fill: impl FnOnce(&Path)) -> (PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("bootfs-ntfs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mnt")).unwrap();
    let img = dir.join("vol.img");
    std::fs::File::create(&img).unwrap().set_len(size_mib << 20).unwrap();
    tool(Command::new("mkntfs").args(["-F", "-Q", "-q", "-L", "NTFSTEST"]).arg(&img));
    {
        let _one = MOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let mounted = Command::new("ntfs-3g").args(["-o", "compression"]).arg(&img).arg(dir.join("mnt")).status();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert!(mounted.expect("ntfs-3g (run `make deps`)").success(), "mounting {}", img.display());
            fill(&dir.join("mnt"));
        }));
        let _ = Command::new("umount").arg(dir.join("mnt")).status();
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }
    let bytes = std::fs::read(&img).unwrap();
    (dir, bytes)
}

fn open(volume: &mut [u8]) -> Filesystem<&mut [u8]> {
    Filesystem::open(volume).expect("bootfs opens the NTFS volume")
}

#[test]
fn a_volume_ntfs_3g_filled_lists_nested_non_ascii_names_and_every_file_reads_back_exactly() {
    let debian = data(300_000, 1);
    let rescue = data(5 << 20, 2);
    let config = br#"{ "control": [ { "VTOY_MENU_TIMEOUT": "5" } ] }"#.to_vec();
    let (_dir, mut volume) = ntfs_image("tree", 64, |mnt| {
        std::fs::create_dir_all(mnt.join("ISO/Linux")).unwrap();
        std::fs::write(mnt.join("ISO/Linux/debian-live-12.5.0-amd64-standard.iso"), &debian).unwrap();
        std::fs::create_dir_all(mnt.join("Инструменты/Ремонт")).unwrap();
        std::fs::write(mnt.join("Инструменты/Ремонт/Système de secours ñandú.img"), &rescue).unwrap();
        std::fs::create_dir_all(mnt.join("ventoy")).unwrap();
        std::fs::write(mnt.join("ventoy/ventoy.json"), &config).unwrap();
    });
    let copy = volume.clone();
    let mut fs = open(&mut volume);
    assert_eq!((fs.kind(), fs.label()), ("NTFS", "NTFSTEST"));
    assert_eq!(fs.warning(), None, "ntfs-3g unmounted it cleanly");
    let report = scan(&mut fs).unwrap();
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/ISO/Linux/debian-live-12.5.0-amd64-standard.iso", "/Инструменты/Ремонт/Système de secours ñandú.img"]);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    for (file, expected) in report.files.iter().zip([&debian, &rescue]) {
        assert_eq!(file.size, expected.len() as u64, "{}", file.path);
        let map = fs.extent_map(file).unwrap();
        assert_eq!(map.sectors(), file.size.div_ceil(512), "{}: the map covers the file, no more", file.path);
        assert!(read_back(&copy, &map, file.size) == *expected, "{} reads back exactly", file.path);
    }
    // The menu's own lookups: case-insensitive, the long name.
    let found = find_file(&mut fs, "/iso/LINUX/DEBIAN-LIVE-12.5.0-AMD64-STANDARD.ISO").unwrap().expect("found in any case");
    assert_eq!(found.size, debian.len() as u64);
    let found = find_file(&mut fs, "/ИНСТРУМЕНТЫ/ремонт/SYSTÈME DE SECOURS ÑANDÚ.IMG").unwrap().expect("by the volume's $UpCase");
    assert_eq!(found.size, rescue.len() as u64);
    let json = find_file(&mut fs, "/ventoy/ventoy.json").unwrap().expect("the configuration");
    assert_eq!(fs.read_whole(&json).unwrap(), config, "a small file is read from its MFT record");
    assert!(matches!(fs.extent_map(&json), Err(FsError::Ntfs(NtfsError::Resident))));
    // No metafile ($MFT, $Bitmap, ...) and no DOS 8.3 alias is listed.
    let root: Vec<String> = list_dir(&mut fs, "/").unwrap().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(root.len(), 3, "{root:?}");
    assert!(root.iter().all(|n| !n.starts_with('$') && !n.contains('~')), "{root:?}");
}

#[test]
fn a_folder_of_3000_files_and_a_file_in_over_1000_runs_read_through_index_blocks_and_an_attribute_list() {
    let big = data(12 << 20, 7);
    let (_dir, mut volume) = ntfs_image("fragmented", 48, |mnt| {
        // Fill the volume with 4 KiB files, free every other one, then
        // write a file that can only go into the holes.
        std::fs::create_dir_all(mnt.join("filler")).unwrap();
        let mut n = 0;
        while std::fs::write(mnt.join(format!("filler/f{n:05}.bin")), data(4096, n as u8)).is_ok() && n < 9000 {
            n += 1;
        }
        for i in (0..n).step_by(2) {
            std::fs::remove_file(mnt.join(format!("filler/f{i:05}.bin"))).unwrap();
        }
        std::fs::write(mnt.join("pieces.iso"), &big).unwrap();
    });
    let copy = volume.clone();
    let mut fs = open(&mut volume);
    let listed = list_dir(&mut fs, "/filler").unwrap().unwrap();
    // (The write that found the volume full may have left a shorter file.)
    let odd: Vec<_> = listed.iter().filter(|e| !e.name.starts_with('f') || e.size != 4096).collect();
    assert!(listed.len() > 3000 && odd.len() <= 1, "{} entries, these unexpected: {odd:?}", listed.len());
    let mut names: Vec<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), listed.len(), "each file once");
    let file = find_file(&mut fs, "/pieces.iso").unwrap().expect("the fragmented file");
    let map = fs.extent_map(&file).unwrap();
    assert!(map.len() > 1000, "ntfs-3g should have scattered it: {} runs", map.len());
    assert!(!map.overlaps());
    assert!(read_back(&copy, &map, file.size) == big, "it reads back exactly from {} runs", map.len());
}

#[test]
fn a_compressed_file_and_a_sparse_file_are_refused_in_words() {
    let (_dir, mut volume) = ntfs_image("refused", 16, |mnt| {
        std::fs::create_dir(mnt.join("packed")).unwrap();
        // FILE_ATTRIBUTE_COMPRESSED on the folder: files made in it are compressed.
        tool(
            Command::new("python3")
                .args(["-c", "import os, sys; os.setxattr(sys.argv[1], 'system.ntfs_attrib_be', bytes.fromhex('00000810'))"])
                .arg(mnt.join("packed")),
        );
        std::fs::write(mnt.join("packed/small.iso"), vec![b'A'; 256 << 10]).unwrap();
        let f = std::fs::File::create(mnt.join("holes.img")).unwrap();
        f.set_len(8 << 20).unwrap();
        std::os::unix::fs::FileExt::write_at(&f, &data(4096, 3), 1 << 20).unwrap();
    });
    let mut fs = open(&mut volume);
    let files = scan(&mut fs).unwrap().files;
    assert_eq!(files.len(), 2, "both are listed: {files:?}");
    let compressed = files.iter().find(|f| f.path == "/packed/small.iso").unwrap();
    let e = fs.extent_map(compressed).unwrap_err();
    assert_eq!(e, FsError::Ntfs(NtfsError::Compressed));
    assert!(e.to_string().contains("NTFS-compressed"), "{e}");
    let sparse = files.iter().find(|f| f.path == "/holes.img").unwrap();
    let e = fs.extent_map(sparse).unwrap_err();
    assert_eq!(e, FsError::Ntfs(NtfsError::Sparse));
    assert!(e.to_string().contains("sparse"), "{e}");
}

/// Sets the dirty flag in $Volume's $VOLUME_INFORMATION, as a Windows that
/// crashed (or chkdsk scheduled) leaves it.
fn mark_dirty(volume: &mut [u8]) {
    let cluster = u16::from_le_bytes([volume[11], volume[12]]) as usize * volume[13] as usize;
    let mft = u64::from_le_bytes(volume[0x30..0x38].try_into().unwrap()) as usize * cluster;
    let record = mft + 3 * 1024;
    let mut at = record + u16::from_le_bytes([volume[record + 0x14], volume[record + 0x15]]) as usize;
    loop {
        let kind = u32::from_le_bytes(volume[at..at + 4].try_into().unwrap());
        assert_ne!(kind, 0xFFFF_FFFF, "$Volume has a $VOLUME_INFORMATION");
        if kind == 0x70 {
            let value = at + u16::from_le_bytes([volume[at + 20], volume[at + 21]]) as usize;
            volume[value + 10] |= 1;
            return;
        }
        at += u32::from_le_bytes(volume[at + 4..at + 8].try_into().unwrap()) as usize;
    }
}

#[test]
fn a_volume_windows_left_dirty_opens_and_says_so() {
    let (_dir, mut volume) = ntfs_image("dirty", 16, |mnt| std::fs::write(mnt.join("a.iso"), data(10_000, 5)).unwrap());
    mark_dirty(&mut volume);
    let mut fs = open(&mut volume);
    assert!(fs.warning().is_some_and(|w| w.contains("did not close this NTFS volume cleanly")), "{:?}", fs.warning());
    assert_eq!(scan(&mut fs).unwrap().files.len(), 1, "its files still list");
}

/// A small deterministic generator (xorshift64*) for the random trees.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_trees_written_by_ntfs_3g_read_back_identically_and_every_map_covers_its_file_once() {
    const PARTS: [&str; 8] = ["iso", "Linux", "Ärger", "日本語", "tools and more", "x", "Δέλτα", "rescue-2024"];
    for seed in 1..=4u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for i in 0..rng.below(40) + 10 {
            let depth = rng.below(4);
            let mut path = String::new();
            for _ in 0..depth {
                path.push('/');
                path.push_str(PARTS[rng.below(PARTS.len() as u64) as usize]);
            }
            // Sizes from resident (a few bytes) to several clusters and odd tails.
            let size = match rng.below(4) {
                0 => rng.below(600) as usize,
                1 => rng.below(20_000) as usize + 1,
                _ => rng.below(400_000) as usize + 4096,
            };
            path.push_str(&format!("/file {i} of seed {seed}.{}", if rng.below(2) == 0 { "iso" } else { "img" }));
            files.push((path, data(size, (seed * 31 + i) as u8)));
        }
        let (_dir, mut volume) = ntfs_image(&format!("random-{seed}"), 48, |mnt| {
            for (path, bytes) in &files {
                let at = mnt.join(path.trim_start_matches('/'));
                std::fs::create_dir_all(at.parent().unwrap()).unwrap();
                std::fs::write(at, bytes).unwrap();
            }
        });
        let copy = volume.clone();
        let mut fs = open(&mut volume);
        let report = scan(&mut fs).unwrap();
        let mut expected: Vec<&(String, Vec<u8>)> = files.iter().collect();
        expected.sort_by(|a, b| bootfs::text::cmp_ignore_case(&a.0, &b.0));
        let listed: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(listed, expected.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), "seed {seed}");
        let mut taken: Vec<(u64, u64)> = Vec::new();
        for (file, (_, bytes)) in report.files.iter().zip(&expected) {
            assert_eq!(file.size, bytes.len() as u64, "{}", file.path);
            let back = match fs.extent_map(file) {
                Ok(map) => {
                    assert_eq!(map.sectors(), file.size.div_ceil(512), "{}: the map covers the file once", file.path);
                    assert!(!map.overlaps(), "{}", file.path);
                    taken.extend(map.extents().iter().map(|e| (e.disk_lba, e.disk_lba + e.count)));
                    read_back(&copy, &map, file.size)
                }
                // A small file lives in its MFT record; it reads whole.
                Err(FsError::Ntfs(NtfsError::Resident)) => fs.read_whole(file).unwrap(),
                Err(e) => panic!("{}: {e}", file.path),
            };
            assert!(back == *bytes, "seed {seed}: {} reads back identically", file.path);
        }
        taken.sort_unstable();
        assert!(taken.windows(2).all(|w| w[0].1 <= w[1].0), "seed {seed}: no two files share a sector");
    }
}

#[test]
fn a_volume_windows_hibernated_on_opens_and_says_so() {
    let (_dir, mut volume) = ntfs_image("hibernated", 16, |mnt| {
        // What Windows' hibernation (and Fast Startup) leaves in the root.
        let mut head = b"HIBR".to_vec();
        head.resize(64 << 10, 0x11);
        std::fs::write(mnt.join("hiberfil.sys"), head).unwrap();
        std::fs::write(mnt.join("a.iso"), data(10_000, 6)).unwrap();
    });
    let fs = open(&mut volume);
    assert!(fs.warning().is_some_and(|w| w.contains("hibernated")), "{:?}", fs.warning());
}

#[test]
fn a_damaged_boot_sector_or_any_record_number_is_an_error_not_a_panic() {
    let (_dir, volume) = ntfs_image("damaged", 16, |mnt| {
        for i in 0..70 {
            std::fs::write(mnt.join(format!("f{i}.iso")), data(5000, i as u8)).unwrap();
        }
    });
    // Sectors per cluster as a huge negative power of two; a volume of 2^64 sectors.
    for (at, bytes) in [(13usize, vec![0xC5u8]), (13, vec![0xC1]), (0x28, u64::MAX.to_le_bytes().to_vec())] {
        let mut bad = volume.clone();
        bad[at..at + bytes.len()].copy_from_slice(&bytes);
        let mut bad_slice = &mut bad[..];
        let _ = bootfs::ntfs::Ntfs::open(&mut bad_slice).map(|_| ());
    }
    // Every record number, past the MFT's end too (its last group of records is partial).
    let mut copy = volume.clone();
    let mut ntfs = bootfs::ntfs::Ntfs::open(&mut copy[..]).expect("the volume");
    for record in 0..400 {
        let _ = ntfs.extent_map(bootfs::tree::NodeId::ntfs(record), 4096);
    }
}
