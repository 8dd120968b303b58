//! exFAT as bootfs reads it, from volumes mkfs.exfat makes and exfat-fuse
//! fills (through a loop device, as root), including damaged ones.

mod common;
use common::{data, read_back, tool, MOUNTS};

use std::path::{Path, PathBuf};
use std::process::Command;

use bootfs::exfat::Exfat;
use bootfs::fat::FatError;
use bootfs::filesystem::{Filesystem, FsError};
use bootfs::scan::scan;

/// An exFAT image made by mkfs.exfat, filled by `fill(mount point)`.
fn exfat_image(name: &str, size_mib: u64, cluster: &str, fill: impl FnOnce(&Path)) -> (PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("bootfs-exfat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("mnt")).unwrap();
    let img = dir.join("vol.img");
    std::fs::File::create(&img).unwrap().set_len(size_mib << 20).unwrap();
    tool(Command::new("mkfs.exfat").args(["-L", "EXFATTEST", "-c", cluster]).arg(&img));
    {
        let _one = MOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let dev = tool(Command::new("losetup").args(["-f", "--show"]).arg(&img)).trim().to_string();
        let mounted = Command::new("mount.exfat-fuse").arg(&dev).arg(dir.join("mnt")).status();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert!(mounted.expect("mount.exfat-fuse (run `make deps`)").success(), "mounting {dev}");
            fill(&dir.join("mnt"));
        }));
        let _ = Command::new("umount").arg(dir.join("mnt")).status();
        let _ = Command::new("losetup").args(["-d", &dev]).status();
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }
    tool(Command::new("fsck.exfat").arg("-n").arg(&img));
    let bytes = std::fs::read(&img).unwrap();
    (dir, bytes)
}

#[test]
fn files_and_folders_written_by_exfat_fuse_read_back_byte_for_byte() {
    let files = [
        ("debian.iso", data(3 << 20, 1)),
        ("Linux/Übungen für Anfänger – 日本語.iso", data(70_000, 2)),
        ("Linux/deep/er/rescue.IMG", data(5_000, 3)),
        ("notes.txt", data(10, 4)),
    ];
    let (dir, mut volume) = exfat_image("files", 64, "4K", |mnt| {
        for (path, bytes) in &files {
            let p = mnt.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    });
    let mut fs = Filesystem::open(&mut volume[..]).unwrap();
    assert_eq!((fs.kind(), fs.label()), ("exFAT", "EXFATTEST"));
    let report = scan(&mut fs).unwrap();
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/debian.iso", "/Linux/deep/er/rescue.IMG", "/Linux/Übungen für Anfänger – 日本語.iso"]);
    let maps: Vec<_> = report.files.iter().map(|f| (f.clone(), fs.extent_map(f).unwrap())).collect();
    drop(fs);
    for (f, map) in maps {
        let want = &files.iter().find(|(p, _)| format!("/{p}") == f.path).unwrap().1;
        assert_eq!(f.size, want.len() as u64);
        assert_eq!(&read_back(&volume, &map, f.size), want, "{}", f.path);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_folder_with_three_thousand_long_names_lists_every_one() {
    let (dir, mut volume) = exfat_image("many", 64, "4K", |mnt| {
        std::fs::create_dir(mnt.join("many")).unwrap();
        for i in 0..3000 {
            std::fs::write(mnt.join(format!("many/Installer number {i:04} with a long name.iso")), [i as u8]).unwrap();
        }
    });
    let mut fs = Filesystem::open(&mut volume[..]).unwrap();
    let report = scan(&mut fs).unwrap();
    assert_eq!(report.files.len(), 3000);
    assert_eq!(report.files[2999].path, "/many/Installer number 2999 with a long name.iso");
    let _ = std::fs::remove_dir_all(dir);
}

/// The volume's bytes, read back through the filesystem's own device.
fn volume_of(fs: &mut Filesystem<&mut [u8]>) -> Vec<u8> {
    fs.device().to_vec()
}

/// Byte offset of the first entry set whose name contains `needle` (UTF-16).
fn entry_set_of(volume: &[u8], needle: &str) -> usize {
    let units: Vec<u8> = needle.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let at = volume.windows(units.len()).position(|w| w == units).expect("the name on the volume");
    let name_entry = at - (at % 32);
    (0..8).map(|k| name_entry - 32 * k).find(|&o| volume[o] == 0x85).expect("its file entry")
}

#[test]
fn a_broken_entry_set_checksum_is_an_error_and_a_broken_boot_region_too() {
    let (dir, volume) = exfat_image("damaged", 64, "4K", |mnt| {
        std::fs::create_dir(mnt.join("sub")).unwrap();
        std::fs::write(mnt.join("sub/victim.iso"), b"x").unwrap();
        std::fs::write(mnt.join("fine.iso"), b"y").unwrap();
    });
    let mut bad = volume.clone();
    let set = entry_set_of(&bad, "victim");
    bad[set + 64 + 2] ^= 0x20; // a letter of its name, past the checksum
    let mut fs = Filesystem::open(&mut bad[..]).unwrap();
    let report = scan(&mut fs).unwrap();
    assert_eq!(report.files.len(), 1, "the good file is still found");
    assert!(report.problems[0].starts_with("/sub: exFAT directory at cluster"), "{:?}", report.problems);
    assert!(report.problems[0].contains("wrong checksum"), "{:?}", report.problems);

    let mut bad = volume.clone();
    bad[100] ^= 1; // the volume serial number, covered by the boot checksum
    assert_eq!(Exfat::open(&mut bad[..]).err(), Some(FatError::BootRegionChecksum));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_fat_chain_cycle_in_a_fragmented_file_is_an_error_not_a_hang() {
    let (dir, mut volume) = exfat_image("cycle", 64, "4K", |mnt| {
        std::fs::write(mnt.join("a.bin"), vec![1u8; 8192]).unwrap();
        std::fs::write(mnt.join("b.bin"), vec![2u8; 8192]).unwrap();
        std::fs::remove_file(mnt.join("a.bin")).unwrap();
        std::fs::write(mnt.join("frag.iso"), data(64 * 1024, 7)).unwrap();
    });
    let mut fs = Filesystem::open(&mut volume[..]).unwrap();
    let report = scan(&mut fs).unwrap();
    let f = report.files.iter().find(|f| f.path == "/frag.iso").unwrap().clone();
    let map = fs.extent_map(&f).unwrap();
    assert!(!f.node.fat_contiguous() && map.len() >= 2, "exfat-fuse should have fragmented it: {map:?}");
    assert_eq!(read_back(&volume_of(&mut fs), &map, f.size), data(64 * 1024, 7));
    let Filesystem::Exfat(ex) = &fs else { panic!("exFAT") };
    let entry = ex.geometry.fat_start as usize * 512 + f.node.fat_cluster() as usize * 4;
    drop(fs);
    // The file's first cluster now leads back to itself.
    volume[entry..entry + 4].copy_from_slice(&f.node.fat_cluster().to_le_bytes());
    let mut fs = Filesystem::open(&mut volume[..]).unwrap();
    assert!(matches!(fs.extent_map(&f), Err(FsError::Fat(FatError::ChainCycle { .. }))), "{:?}", fs.extent_map(&f));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn entry_sets_exfat_fuse_wrote_read_back_and_write_back_byte_for_byte() {
    use bootfs::exfat::{name_hash, EntrySet, ENTRY_FILE};
    let names = ["debian.iso", "Übungen für Anfänger.iso", "a name longer than fifteen units.img", "short.txt"];
    let (dir, volume) = exfat_image("sets", 64, "4K", |mnt| {
        for (i, name) in names.iter().enumerate() {
            std::fs::write(mnt.join(name), data(100 * i, i as u8)).unwrap();
        }
    });
    for name in names {
        let at = entry_set_of(&volume, &name.chars().take(8).collect::<String>());
        let entries = volume[at..at + 32 * 20].as_chunks::<32>().0;
        assert_eq!(entries[0][0], ENTRY_FILE);
        let set = EntrySet::parse(entries).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(set.name(), name);
        let upcased: Vec<u16> = name.to_uppercase().encode_utf16().collect();
        assert_eq!(set.stream.name_hash, name_hash(&upcased), "{name}: the hash exfat-fuse wrote");
        assert_eq!(set.to_bytes(), volume[at..at + 32 * set.entries()], "{name}: written back");
    }
    let _ = std::fs::remove_dir_all(dir);
}
