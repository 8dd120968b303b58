//! FAT32 as bootfs reads it, checked against volumes written by other code:
//! the fatfs crate (in memory) and mkfs.fat + mtools (on disk), including
//! damaged FATs that must give errors, never hangs.

use std::io::Cursor;
use std::process::Command;

use bootfs::fat::{Fat32, FatError};
use bootfs::scan::scan;
use bootfs::ExtentMap;

const MIB: usize = 1024 * 1024;

/// A FAT32 volume written by fatfs, with `files` as (path, contents).
fn fatfs_volume(size: usize, cluster: u32, files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut disk = Cursor::new(vec![0u8; size]);
    let options = fatfs::FormatVolumeOptions::new().fat_type(fatfs::FatType::Fat32).bytes_per_cluster(cluster);
    fatfs::format_volume(&mut disk, options).unwrap();
    {
        let fs = fatfs::FileSystem::new(&mut disk, fatfs::FsOptions::new()).unwrap();
        for (path, data) in files {
            let mut dir = fs.root_dir();
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            for p in &parts[..parts.len() - 1] {
                dir = dir.open_dir(p).or_else(|_| dir.create_dir(p)).unwrap();
            }
            let mut f = dir.create_file(parts[parts.len() - 1]).unwrap();
            std::io::Write::write_all(&mut f, data).unwrap();
        }
    }
    disk.into_inner()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8).collect()
}

/// A file's bytes read back through its extent map.
fn read_via_extents(volume: &[u8], map: &ExtentMap, size: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for e in map.extents() {
        let at = e.disk_lba as usize * 512;
        out.extend_from_slice(&volume[at..at + e.count as usize * 512]);
    }
    out.truncate(size as usize);
    out
}

#[test]
fn files_written_by_fatfs_read_back_byte_for_byte_through_their_extent_maps() {
    let files = [
        ("/debian-12.5.0-amd64-netinst.iso", data(200_000, 1)),
        ("/Rescue/Tools/Memtest86+ für alle.img", data(4_097, 2)),
        ("/README.TXT", data(100, 3)),
        ("/empty.iso", Vec::new()),
    ];
    let mut volume = fatfs_volume(128 * MIB, 1024, &files);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    assert_eq!(fs.geometry.cluster_sectors, 2);
    let report = scan(&mut fs).unwrap();
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/debian-12.5.0-amd64-netinst.iso", "/empty.iso", "/Rescue/Tools/Memtest86+ für alle.img"]);
    assert!(report.problems.is_empty());
    let maps: Vec<_> = report.files.iter().map(|f| (f.clone(), fs.extent_map(f.node.fat_cluster(), f.size).unwrap())).collect();
    drop(fs);
    for (f, map) in maps {
        let want = &files.iter().find(|(p, _)| *p == f.path).unwrap().1;
        assert_eq!(f.size, want.len() as u64);
        assert_eq!(&read_via_extents(&volume, &map, f.size), want, "{}", f.path);
    }
}

#[test]
fn a_directory_with_three_thousand_long_names_lists_every_one() {
    let files: Vec<(String, Vec<u8>)> =
        (0..3000).map(|i| (format!("/many/Installer number {i:04} with a long name.iso"), vec![i as u8; 10])).collect();
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(p, d)| (p.as_str(), d.clone())).collect();
    let mut volume = fatfs_volume(64 * MIB, 512, &refs);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    let report = scan(&mut fs).unwrap();
    assert_eq!(report.files.len(), 3000);
    assert_eq!(report.files[0].path, "/many/Installer number 0000 with a long name.iso");
    assert_eq!(report.files[2999].path, "/many/Installer number 2999 with a long name.iso");
}

fn set_fat(volume: &mut [u8], c: u32, value: u32) {
    let fat_start = Fat32::open(&mut volume[..]).unwrap().geometry.fat_start as usize;
    let o = fat_start * 512 + c as usize * 4;
    volume[o..o + 4].copy_from_slice(&value.to_le_bytes());
}

fn only_file(volume: &mut [u8]) -> (u32, u64) {
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    let f = &scan(&mut fs).unwrap().files[0];
    (f.node.fat_cluster(), f.size)
}

#[test]
fn a_chain_that_ends_early_or_hits_a_free_cluster_is_an_error() {
    let mut volume = fatfs_volume(64 * MIB, 512, &[("/a.iso", data(5 * 512, 9))]);
    let (first, size) = only_file(&mut volume);
    set_fat(&mut volume, first + 2, 0x0FFF_FFFF);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    assert_eq!(fs.extent_map(first, size), Err(FatError::ChainTooShort { start: first, size, clusters: 3 }));
    drop(fs);
    set_fat(&mut volume, first + 2, 0);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    assert_eq!(fs.extent_map(first, size), Err(FatError::FreeInChain { after: first + 2 }));
}

#[test]
fn a_chain_longer_than_its_file_is_an_error() {
    let mut volume = fatfs_volume(64 * MIB, 512, &[("/a.iso", data(5 * 512, 9)), ("/b.iso", data(512, 1))]);
    let (first, size) = only_file(&mut volume);
    set_fat(&mut volume, first + 4, first + 5);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    assert_eq!(fs.extent_map(first, size), Err(FatError::ChainTooLong { start: first, size }));
}

#[test]
fn a_chain_that_points_outside_the_volume_is_an_error() {
    let mut volume = fatfs_volume(64 * MIB, 512, &[("/a.iso", data(5 * 512, 9))]);
    let (first, size) = only_file(&mut volume);
    set_fat(&mut volume, first + 1, 0x0FFF_FFF0);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    assert!(matches!(fs.extent_map(first, size), Err(FatError::BadCluster { cluster: 0x0FFF_FFF0, .. })));
}

#[test]
fn cluster_chain_cycles_are_errors_not_hangs() {
    let mut volume = fatfs_volume(64 * MIB, 512, &[("/a.iso", data(5 * 512, 9))]);
    let (first, size) = only_file(&mut volume);
    // A file whose third cluster leads back to its first.
    set_fat(&mut volume, first + 2, first);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    assert_eq!(fs.extent_map(first, size), Err(FatError::ChainCycle { start: first }));
    // The root directory's chain pointing at itself.
    let root = fs.geometry.root_cluster;
    drop(fs);
    set_fat(&mut volume, root, root);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    assert_eq!(fs.read_dir(0), Err(FatError::ChainCycle { start: root }));
    assert!(scan(&mut fs).is_err());
}

#[test]
fn a_subfolder_that_cannot_be_read_is_skipped_and_named() {
    let mut volume = fatfs_volume(64 * MIB, 512, &[("/ok.iso", data(10, 1)), ("/broken/x.iso", data(10, 2))]);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    let broken = fs.read_dir(0).unwrap().into_iter().find(|e| e.name == "broken").unwrap().node.fat_cluster();
    drop(fs);
    set_fat(&mut volume, broken, broken);
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    let report = scan(&mut fs).unwrap();
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].starts_with("/broken: cluster chain from"), "{:?}", report.problems);
}

#[test]
fn one_corrupted_boot_sector_field_names_itself() {
    let volume = fatfs_volume(64 * MIB, 512, &[]);
    let bs: [u8; 512] = volume[..512].try_into().unwrap();
    let cases: [(usize, u8, &str); 5] = [
        (0, 0x00, "jump instruction"),
        (11, 0x01, "bytes per sector"),
        (13, 3, "sectors per cluster"),
        (16, 0, "number of FATs"),
        (510, 0, "boot sector signature"),
    ];
    for (offset, value, what) in cases {
        let mut b = bs;
        b[offset] = value;
        match bootfs::fat::Geometry::parse(&b) {
            Err(FatError::NotFat32 { what: w, .. }) => assert_eq!(w, what),
            other => panic!("byte {offset} = {value:#x}: {other:?}"),
        }
    }
}

/// Runs a tool, failing the test with its output when it fails.
fn tool(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (run `make deps`)"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_volume_made_by_mkfs_fat_and_mtools_reads_like_mtools_sees_it() {
    let dir = std::env::temp_dir().join(format!("bootfs-mkfs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("vol.img");
    let _ = std::fs::remove_file(&img);
    tool(Command::new("mkfs.fat").args(["-F", "32", "-s", "2", "-n", "MTOOLS", "-C"]).arg(&img).arg("131072"));
    std::fs::write(dir.join("Ubuntu 24.04 Desktop.ISO"), data(100_000, 5)).unwrap();
    std::fs::write(dir.join("fd.img"), data(1_474_560, 6)).unwrap();
    let mt = |args: &[&str]| tool(Command::new(args[0]).env("MTOOLS_SKIP_CHECK", "1").arg("-i").arg(&img).args(&args[1..]));
    mt(&["mmd", "::/dos", "::/System Volume Information", "::/.hidden"]);
    mt(&["mcopy", dir.join("Ubuntu 24.04 Desktop.ISO").to_str().unwrap(), "::/"]);
    mt(&["mcopy", dir.join("fd.img").to_str().unwrap(), "::/dos/FD.IMG"]);
    mt(&["mcopy", dir.join("fd.img").to_str().unwrap(), "::/System Volume Information/x.iso"]);
    mt(&["mcopy", dir.join("fd.img").to_str().unwrap(), "::/.hidden/y.iso"]);

    let mut volume = std::fs::read(&img).unwrap();
    let mut fs = Fat32::open(&mut volume[..]).unwrap();
    assert_eq!(fs.geometry.label, "MTOOLS");
    assert_eq!(fs.geometry.cluster_sectors, 2);
    let report = scan(&mut fs).unwrap();
    let found: Vec<(&str, u64)> = report.files.iter().map(|f| (f.path.as_str(), f.size)).collect();
    assert_eq!(found, [("/dos/FD.IMG", 1_474_560), ("/Ubuntu 24.04 Desktop.ISO", 100_000)]);
    for f in &report.files {
        let runs = mt(&["mshowfat", &format!("::{}", f.path)]).matches('<').count();
        assert_eq!(fs.extent_map(f.node.fat_cluster(), f.size).unwrap().len(), runs, "{}", f.path);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
