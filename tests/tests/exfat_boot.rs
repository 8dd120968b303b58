//! exFAT sticks: a stick whose data partition was made by mkfs.exfat (its
//! partition type still saying FAT32) lists and boots its files.

use tests::media::third_party;
use tests::stick::{Case, Fs};

#[test]
fn grub_rescue_cdrom_iso_boots_from_an_exfat_stick_made_by_mkfs_exfat() {
    let case = Case::new("exfat_mkfs_grub");
    let other = case.random_file("Übersicht.img", 4096, 9);
    let stick = case.stick().size("128M").fs(Fs::ExfatByMkfs).file_in(third_party("grub-rescue-cdrom.iso"), "/rescue/grub").file(&other).build();

    let listed = stick.run("list", &[]);
    assert!(listed.contains("/rescue/grub/grub-rescue-cdrom.iso"), "{listed}");

    let mut vm = case.boot(&stick);
    let screen = vm.wait_screen("2 boot files on exFAT \"OTHERTOOLS\"");
    let rows = (screen.find("/rescue/grub/grub-rescue-cdrom.iso"), screen.find("/Übersicht.img"));
    assert!(matches!(rows, (Some(a), Some(b)) if a < b), "{}", screen.text());
    vm.keys(&["ret"]);
    vm.wait_serial("jumping to 0000:7C00 with DL=E0h");
    vm.wait_screen("GNU GRUB  version");
}
