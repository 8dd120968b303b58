//! `dropboot create`, `add` and `list` as a user runs them, checked by
//! outside tools: fsck.vfat, mtools and the mbrman crate.

use std::ffi::OsStr;
use std::fs;
use std::process::Command;

use bootfs::layout::{verify_stage2, DATA_PARTITION_LBA, MBR_CODE_BYTES, STAGE2_LBA};
use bootfs::mbr::Mbr;
use tests::media::{dropboot, mtools_target, pseudo_random, random_file, read_at, run};
use tests::work_dir;

#[test]
fn a_created_image_has_our_mbr_boot_code_and_a_fat32_that_fsck_passes() {
    let dir = work_dir("builder_create");
    let a = random_file(&dir.join("a.iso"), 300_000, 11);
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "96M".as_ref(), a.as_os_str()]);
    assert_eq!(fs::metadata(&image).unwrap().len(), 96 << 20);

    // The MBR: bootfs and mbrman read the same table.
    let sector: [u8; 512] = read_at(&image, 0, 512).try_into().unwrap();
    let ours = Mbr::parse(&sector).unwrap();
    let (index, p) = ours.data_partition().unwrap();
    assert_eq!((index, p.bootable, p.kind, p.start_lba), (0, true, 0x0C, DATA_PARTITION_LBA));
    assert_eq!(p.sectors as u64, (96 << 20) / 512 - DATA_PARTITION_LBA as u64);
    let theirs = mbrman::MBR::read_from(&mut fs::File::open(&image).unwrap(), 512).unwrap();
    assert_eq!((theirs[1].sys, theirs[1].starting_lba, theirs[1].sectors), (p.kind, p.start_lba, p.sectors));
    assert_eq!(theirs[1].boot, mbrman::BOOT_ACTIVE);
    assert_eq!(u32::from_le_bytes(theirs.header.disk_signature), ours.disk_signature);
    assert_ne!(ours.disk_signature, 0);

    // The boot code: stage1 in the first 440 bytes, a sealed stage2 after.
    assert!(sector[..MBR_CODE_BYTES].iter().any(|&b| b != 0));
    let stage2 = read_at(&image, STAGE2_LBA as u64 * 512, (DATA_PARTITION_LBA - STAGE2_LBA) as usize * 512);
    verify_stage2(&stage2).expect("a sealed stage2");

    // The data partition: fsck.vfat passes it and mtools reads the file back.
    let part = dir.join("partition.img");
    fs::write(&part, read_at(&image, DATA_PARTITION_LBA as u64 * 512, p.sectors as usize * 512)).unwrap();
    run(Command::new("fsck.vfat").arg("-n").arg(&part));
    let back = dir.join("a.back");
    run(Command::new("mcopy").env("MTOOLS_SKIP_CHECK", "1").args(["-i", &mtools_target(&image), "::/a.iso"]).arg(&back));
    assert_eq!(fs::read(&back).unwrap(), pseudo_random(300_000, 11));
}

#[test]
fn files_added_to_folders_are_listed_in_menu_order_and_fsck_still_passes() {
    let dir = work_dir("builder_add_list");
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "64M".as_ref()]);
    let z = random_file(&dir.join("zeta.ISO"), 1000, 1);
    let b = random_file(&dir.join("Beta.img"), 2000, 2);
    let n = random_file(&dir.join("notes.txt"), 10, 3);
    dropboot([OsStr::new("add"), image.as_os_str(), z.as_os_str(), n.as_os_str()]);
    dropboot([OsStr::new("add"), image.as_os_str(), b.as_os_str(), "--to".as_ref(), "/rescue/old".as_ref()]);
    let listed = dropboot([OsStr::new("list"), image.as_os_str()]);
    let lines: Vec<&str> = listed.lines().map(str::trim).collect();
    assert_eq!(lines, ["2000  /rescue/old/Beta.img", "1000  /zeta.ISO"]);

    let part = dir.join("partition.img");
    let sectors = (64u64 << 20) / 512 - DATA_PARTITION_LBA as u64;
    fs::write(&part, read_at(&image, DATA_PARTITION_LBA as u64 * 512, sectors as usize * 512)).unwrap();
    run(Command::new("fsck.vfat").arg("-n").arg(&part));
}

#[test]
fn create_refuses_to_overwrite_an_existing_file_and_says_why() {
    let dir = work_dir("builder_refuse");
    let image = dir.join("precious.img");
    fs::write(&image, b"my data").unwrap();
    let out = Command::new(tests::media::dropboot_bin())
        .args([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "64M".as_ref()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs::read(&image).unwrap(), b"my data");
}
