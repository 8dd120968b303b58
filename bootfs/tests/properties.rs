//! Properties that hold for every input, checked on random ones (proptest):
//! a random folder tree written by the fatfs crate reads back identically
//! through bootfs, and extent maps always cover a file exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;

use bootfs::fat::Fat32;
use bootfs::scan::scan;
use bootfs::ExtentMap;
use proptest::prelude::*;

/// Names people give folders and boot files: short, long, spaces,
/// non-ASCII, 8.3-clashing.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}",
        "[A-Za-z0-9 ._-]{1,40}",
        Just("Übersicht für Anfänger".to_string()),
        Just("日本語のフォルダ".to_string()),
        Just("LONGFI~1".to_string()),
    ]
    .prop_map(|s| s.trim().trim_matches('.').to_string())
    .prop_filter("a usable name", |s| !s.is_empty())
}

/// Up to 12 boot files in folders up to three deep, with sizes from empty
/// to a few clusters.
fn tree() -> impl Strategy<Value = Vec<(Vec<String>, String, usize)>> {
    prop::collection::vec((prop::collection::vec(name(), 0..3), name(), 0usize..20_000), 1..12)
}

fn content(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(131) ^ seed.wrapping_mul(7919) ^ (i >> 8)) as u8).collect()
}

/// The files as fatfs writes them (a 40 MiB FAT32 of 512-byte clusters);
/// returns the volume and each boot file's path and content.
fn write_with_fatfs(files: &[(Vec<String>, String, usize)]) -> (Vec<u8>, BTreeMap<String, Vec<u8>>) {
    let mut disk = Cursor::new(vec![0u8; 40 << 20]);
    let options = fatfs::FormatVolumeOptions::new().fat_type(fatfs::FatType::Fat32).bytes_per_cluster(512);
    fatfs::format_volume(&mut disk, options).expect("format");
    let mut written = BTreeMap::new();
    {
        let fs = fatfs::FileSystem::new(&mut disk, fatfs::FsOptions::new()).expect("mount");
        'files: for (i, (dirs, file, len)) in files.iter().enumerate() {
            let mut dir = fs.root_dir();
            let mut path = String::new();
            for d in dirs {
                match dir.open_dir(d).or_else(|_| dir.create_dir(d)) {
                    Ok(next) => dir = next,
                    // A file of that name is in the way.
                    Err(_) => continue 'files,
                }
                path = format!("{path}/{d}");
            }
            let name = format!("{file}.iso");
            let path = format!("{path}/{name}");
            // fatfs compares names without regard to case, as FAT does.
            if written.keys().any(|p: &String| p.eq_ignore_ascii_case(&path)) || dir.open_dir(&name).is_ok() {
                continue;
            }
            let Ok(mut f) = dir.create_file(&name) else { continue };
            let data = content(*len, i);
            std::io::Write::write_all(&mut f, &data).expect("write");
            written.insert(path, data);
        }
    }
    (disk.into_inner(), written)
}

/// `count` sectors from `lba` of an in-memory volume.
fn sectors(volume: &[u8], lba: u64, count: u64) -> &[u8] {
    &volume[lba as usize * 512..(lba + count) as usize * 512]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_random_tree_written_by_fatfs_reads_back_identically(files in tree()) {
        let (mut volume, written) = write_with_fatfs(&files);
        let mut fs = Fat32::open(&mut volume[..]).expect("bootfs opens the volume");
        let report = scan(&mut fs).expect("scan");
        prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
        let listed: BTreeSet<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
        let expected: BTreeSet<&str> = written.keys().map(String::as_str).collect();
        prop_assert_eq!(listed, expected);

        let mut owner: BTreeMap<u64, &str> = BTreeMap::new();
        let maps: Vec<(String, ExtentMap, u64)> = report
            .files
            .iter()
            .map(|f| (f.path.clone(), fs.extent_map(f.node.fat_cluster(), f.size).expect("extent map"), f.size))
            .collect();
        for (path, map, size) in &maps {
            // Exactly the clusters the file needs: no sector short, none extra.
            prop_assert_eq!(map.sectors(), size.div_ceil(512), "{}", path);
            let mut read = Vec::new();
            for e in map.extents() {
                read.extend_from_slice(sectors(&volume, e.disk_lba, e.count));
                for s in e.disk_lba..e.disk_lba + e.count {
                    // No disk sector belongs to two files, or twice to one.
                    prop_assert!(owner.insert(s, path).is_none(), "sector {} mapped twice ({})", s, path);
                }
            }
            read.truncate(*size as usize);
            prop_assert!(&read == &written[path], "{} reads back differently", path);
        }
    }

    #[test]
    fn an_extent_map_covers_every_sector_of_its_file_once_and_in_order(
        runs in prop::collection::vec((0u64..1_000_000, 0u64..300), 0..200)
    ) {
        let mut map = ExtentMap::new();
        for &(lba, count) in &runs {
            map.push(lba, count);
        }
        let total: u64 = runs.iter().map(|r| r.1).sum();
        prop_assert_eq!(map.sectors(), total);
        let mut next = 0;
        for (i, e) in map.extents().iter().enumerate() {
            prop_assert_eq!(e.file_sector, next);
            prop_assert!(e.count > 0);
            if let Some(prev) = i.checked_sub(1).map(|p| map.extents()[p]) {
                prop_assert!(prev.disk_lba + prev.count != e.disk_lba, "adjacent runs are merged");
            }
            next += e.count;
        }
        let mut sector = 0;
        for &(lba, count) in runs.iter().filter(|r| r.1 > 0) {
            for k in [0, count / 2, count - 1] {
                let (found, run) = map.lookup(sector + k).expect("mapped");
                prop_assert_eq!(found, lba + k);
                prop_assert!(run >= 1);
            }
            sector += count;
        }
        prop_assert!(map.lookup(total).is_none());
    }
}
