//! Paths inside ISOs xorriso makes (Rock Ridge, Joliet, plain ISO9660
//! names). The real live media are read in tests/tests/iso_additions.rs.

use bootfs::iso9660::Volume;
use bootfs::iso_tree::{Entry, Iso, Names, Tree, TreeError, RECORD_EXTENT_AT, RECORD_SIZE_AT};

mod common;
use common::{data, Work};

/// A tree with a deep path, a long mixed-case name and two files whose
/// names differ only in case.
fn fill(w: &Work) -> String {
    let root = w.0.join("root");
    std::fs::create_dir_all(root.join("boot/grub/x86_64")).unwrap();
    std::fs::write(root.join("boot/grub/grub.cfg"), b"initrd /live/initrd.img\n").unwrap();
    std::fs::write(root.join("boot/grub/x86_64/deep.txt"), data(5000, 3)).unwrap();
    let long = format!("A-Long-Name-{}.cfg", "x".repeat(180));
    std::fs::write(root.join(&long), data(100, 4)).unwrap();
    std::fs::write(root.join("Readme.txt"), b"upper").unwrap();
    std::fs::write(root.join("readme.txt"), b"lower").unwrap();
    long
}

/// The record at `e.record` says what `e` says.
fn check_record(iso: &[u8], e: &Entry) {
    let r = &iso[e.record as usize..];
    let le = |at: u64| u32::from_le_bytes(r[at as usize..at as usize + 4].try_into().unwrap());
    let be = |at: u64| u32::from_be_bytes(r[at as usize + 4..at as usize + 8].try_into().unwrap());
    assert_eq!((le(RECORD_EXTENT_AT), be(RECORD_EXTENT_AT)), (e.extent, e.extent));
    assert_eq!((le(RECORD_SIZE_AT), be(RECORD_SIZE_AT)), (e.size, e.size));
}

#[test]
fn rock_ridge_names_long_ones_through_continuation_areas_are_found() {
    let w = Work::new("tree-rr");
    let long = fill(&w);
    let mut iso = w.iso(&["-R"]);
    let volume = Volume::read(&mut iso[..]).unwrap();
    let tree = Tree::primary(&volume, &mut iso[..]).unwrap();
    assert!(matches!(tree.names, Names::RockRidge { skip: 0 }));
    let e = tree.find(&mut iso[..], "/boot/grub/x86_64/deep.txt").unwrap();
    check_record(&iso, &e);
    assert_eq!(tree.read(&mut iso[..], &e, 1 << 20).unwrap(), data(5000, 3));
    let e = tree.find(&mut iso[..], &format!("/{long}")).unwrap();
    assert_eq!(tree.read(&mut iso[..], &e, 1 << 20).unwrap(), data(100, 4));
    // Exact case first; "." and ".." and doubled slashes as in a shell.
    let e = tree.find(&mut iso[..], "//boot/./grub/../../readme.txt").unwrap();
    assert_eq!(tree.read(&mut iso[..], &e, 10).unwrap(), b"lower");
    let e = tree.find(&mut iso[..], "/Readme.txt").unwrap();
    assert_eq!(tree.read(&mut iso[..], &e, 10).unwrap(), b"upper");
    assert!(tree.find(&mut iso[..], "/BOOT/GRUB/GRUB.CFG").is_ok(), "any case when nothing matches exactly");
    assert_eq!(tree.find(&mut iso[..], "/boot/grub/none.cfg"), Err(TreeError::NotFound));
    assert_eq!(tree.find(&mut iso[..], "/readme.txt/x"), Err(TreeError::NotFound));
    assert_eq!(tree.read(&mut iso[..], &e, 2), Err(TreeError::TooLarge { bytes: 5, limit: 2 }));
}

#[test]
fn joliet_and_plain_iso9660_names_are_found_and_every_tree_has_a_record() {
    let w = Work::new("tree-joliet");
    fill(&w);
    let mut iso = w.iso(&["--norock", "-J", "-joliet-long", "-iso-level", "1"]);
    let volume = Volume::read(&mut iso[..]).unwrap();
    let plain = Tree::primary(&volume, &mut iso[..]).unwrap();
    assert_eq!(plain.names, Names::Iso9660);
    let joliet = Tree::joliet(&volume).expect("a Joliet tree");
    // Joliet keeps case (and names up to 103 characters with -joliet-long).
    for (name, text) in [("/Readme.txt", b"upper"), ("/readme.txt", b"lower")] {
        let e = joliet.find(&mut iso[..], name).unwrap();
        assert_eq!(joliet.read(&mut iso[..], &e, 1000).unwrap(), text);
    }
    // Level 1: 8.3 upper-case names, version ";1" stripped.
    let e = plain.find(&mut iso[..], "/boot/grub/grub.cfg").unwrap();
    assert_eq!(plain.read(&mut iso[..], &e, 1000).unwrap(), b"initrd /live/initrd.img\n");
    let mut both = Iso::open(&mut iso[..]).unwrap();
    let records = both.records("/boot/grub/grub.cfg");
    assert_eq!(records.len(), 2, "one record in each tree");
    assert_ne!(records[0].record, records[1].record);
    assert_eq!(records[0].extent, records[1].extent, "both point at the same data");
    for r in &records {
        check_record(&iso, r);
    }
}

#[test]
fn a_damaged_folder_or_a_file_past_the_end_is_an_error_not_a_panic() {
    let w = Work::new("tree-damaged");
    fill(&w);
    let iso = w.iso(&["-R", "-J"]);
    let deep = "/boot/grub/x86_64/deep.txt";
    let e = Iso::open(&mut iso.clone()[..]).unwrap().find(deep).unwrap();
    // The image cut one block into the file's data (and at least 17 blocks long).
    let mut cut = iso[..(e.extent as usize + 1).max(17) * 2048].to_vec();
    assert_eq!(Iso::open(&mut cut[..]).unwrap().read(deep, 1 << 20), Err(TreeError::Outside { block: e.extent }));
    // A record marked "more extents follow" (a file over 4 GiB) is refused.
    let mut multi = iso.clone();
    let record = Iso::open(&mut iso.clone()[..]).unwrap().records(deep);
    for r in &record {
        multi[r.record as usize + 25] |= 0x80;
    }
    assert_eq!(Iso::open(&mut multi[..]).unwrap().find(deep), Err(TreeError::MoreExtents));
    // Every byte of the root folder flipped in turn: lookups end.
    let volume = Volume::read(&mut iso.clone()[..]).unwrap();
    let root = volume.root.0 as usize * 2048;
    for at in (root..root + 2048).step_by(7) {
        let mut bad = iso.clone();
        bad[at] ^= 0xA5;
        if let Ok(mut t) = Iso::open(&mut bad[..]) {
            let _ = t.read("/boot/grub/grub.cfg", 4096);
        }
    }
}
