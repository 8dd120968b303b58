//! exFAT sticks: a stick whose data partition was made by mkfs.exfat (its
//! partition type still saying FAT32) lists and boots its files.

use std::ffi::OsStr;

use tests::media::{dropboot, random_file, reformat_exfat, third_party};
use tests::{work_dir, Qemu};

#[test]
fn grub_rescue_cdrom_iso_boots_from_an_exfat_stick_made_by_mkfs_exfat() {
    let dir = work_dir("exfat_mkfs_grub");
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "128M".as_ref()]);
    let other = random_file(&dir.join("Übersicht.img"), 4096, 9);
    reformat_exfat(&image, &[(&third_party("grub-rescue-cdrom.iso"), "/rescue/grub"), (&other, "/")]);

    let listed = dropboot([OsStr::new("list"), image.as_os_str()]);
    assert!(listed.contains("/rescue/grub/grub-rescue-cdrom.iso"), "{listed}");

    let mut vm = Qemu::boot("exfat_mkfs_grub", &dir, &image);
    let screen = vm.wait_screen("2 boot files on exFAT \"OTHERTOOLS\"");
    let rows = (screen.find("/rescue/grub/grub-rescue-cdrom.iso"), screen.find("/Übersicht.img"));
    assert!(matches!(rows, (Some(a), Some(b)) if a < b), "{}", screen.text());
    vm.keys(&["ret"]);
    vm.wait_serial("jumping to 0000:7C00 with DL=E0h");
    vm.wait_screen("GNU GRUB  version");
}
