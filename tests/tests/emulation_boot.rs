//! Real emulation media from Debian's packages, booted from the stick as a
//! floppy or a hard disk: memtest86+'s floppy-emulation CD, and GRUB's
//! rescue floppy and USB images as raw .img files.

use tests::media::third_party;
use tests::stick::Case;
use tests::Qemu;

/// Boots a stick holding only `file` (from Debian's packages) and chooses it.
fn choose_the_only_file(case: &Case, file: &str) -> Qemu {
    let mut vm = case.boot(case.stick().size("128M").file(third_party(file)).build());
    vm.wait_screen("1 boot file on");
    vm.keys(&["ret"]);
    vm
}

#[test]
fn memtest86_plus_floppy_emulation_iso_reaches_its_test_screen() {
    let mut vm = choose_the_only_file(&Case::new("memtest86"), "memtest86+x64.iso");
    vm.wait_serial("presented as 1.44 MB floppy 00h");
    vm.wait_serial("jumping to 0000:7C00 with DL=00h");
    vm.wait_screen("Memtest86+ v6");
    vm.wait_screen("Pass:");
}

#[test]
fn grub_rescue_floppy_img_reaches_grubs_menu() {
    let mut vm = choose_the_only_file(&Case::new("grub_rescue_floppy"), "grub-rescue-floppy.img");
    vm.wait_serial("presented as hard disk 80h");
    vm.wait_screen("GNU GRUB  version");
}

#[test]
fn grub_rescue_usb_img_reaches_grubs_menu() {
    let mut vm = choose_the_only_file(&Case::new("grub_rescue_usb"), "grub-rescue-usb.img");
    vm.wait_serial("presented as hard disk 80h");
    vm.wait_serial("the stick is now 81h");
    vm.wait_screen("GNU GRUB  version");
}
