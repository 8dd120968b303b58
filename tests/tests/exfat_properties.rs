//! exFAT as bootfs reads it, against random folder trees written by other
//! code: mkfs.exfat formats the data partition and exfat-fuse (the Linux
//! FUSE driver) copies the files in; bootfs must list exactly those files
//! and read each back byte for byte through its extent map, no disk sector
//! belonging to two files. Needs root (loop devices), as CI has.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Seek, SeekFrom};

use bootfs::filesystem::Filesystem;
use bootfs::layout::DATA_PARTITION_LBA;
use proptest::prelude::*;
use tests::media::{data_partition, pseudo_random};
use tests::stick::{Case, Fs};

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{1,8}", "[A-Za-z0-9 _-]{1,30}", Just("Übersicht für Anfänger".to_string()), Just("日本語".to_string())]
        .prop_map(|s| s.trim().to_string())
        .prop_filter("a usable name", |s| !s.is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_random_tree_written_by_mkfs_exfat_and_exfat_fuse_reads_back_identically(
        files in prop::collection::vec((prop::collection::vec(name(), 0..3), name(), 0usize..300_000), 1..8)
    ) {
        let case = Case::new("exfat_properties");
        // Each file in its own source folder (names may repeat across folders).
        let mut written: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut stick = case.stick().fs(Fs::ExfatByMkfs);
        for (i, (dirs, file, len)) in files.iter().enumerate() {
            let folder = format!("/{}", dirs.join("/"));
            let path = format!("{}/{file}.iso", folder.trim_end_matches('/'));
            let lower = path.to_lowercase();
            // exFAT names are unique without regard to case; a folder and a
            // file may not share a name either.
            if written.keys().any(|p| p.to_lowercase() == lower || p.to_lowercase().starts_with(&format!("{lower}/"))
                || lower.starts_with(&format!("{}/", p.to_lowercase()))) {
                continue;
            }
            let src = case.file("src").join(i.to_string());
            fs::create_dir_all(&src).expect("source folder");
            let data = pseudo_random(*len, i as u64 + 1);
            let source = src.join(format!("{file}.iso"));
            fs::write(&source, &data).expect("source file");
            written.insert(path, data);
            stick = stick.file_in(source, &folder);
        }
        let image = stick.build().path;

        let mut volume = Filesystem::open(data_partition(&image)).expect("bootfs opens the volume");
        prop_assert_eq!(volume.kind(), "exFAT");
        let report = bootfs::scan::scan(&mut volume).expect("scan");
        let listed: BTreeSet<String> = report.files.iter().map(|f| f.path.clone()).collect();
        let expected: BTreeSet<String> = written.keys().cloned().collect();
        prop_assert_eq!(&listed, &expected);
        let maps: Vec<_> = report.files.iter().map(|f| (f.path.clone(), volume.extent_map(f).expect("map"), f.size)).collect();
        drop(volume);
        let mut owner: BTreeMap<u64, String> = BTreeMap::new();
        let mut disk = fs::File::open(&image).expect("image");
        for (path, map, size) in maps {
            let mut read = Vec::new();
            for e in map.extents() {
                let mut buf = vec![0u8; e.count as usize * 512];
                disk.seek(SeekFrom::Start((DATA_PARTITION_LBA as u64 + e.disk_lba) * 512)).expect("seek");
                disk.read_exact(&mut buf).expect("read");
                read.extend_from_slice(&buf);
                for s in e.disk_lba..e.disk_lba + e.count {
                    prop_assert!(owner.insert(s, path.clone()).is_none(), "sector {} mapped twice ({})", s, path);
                }
            }
            prop_assert!(read.len() as u64 >= size, "{} is covered", path);
            read.truncate(size as usize);
            prop_assert!(read == written[&path], "{} reads back differently", path);
        }
    }
}
