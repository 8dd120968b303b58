//! Real emulation media from Debian's packages, booted from the stick as a
//! floppy or a hard disk: memtest86+'s floppy-emulation CD, and GRUB's
//! rescue floppy and USB images as raw .img files.

use std::ffi::OsStr;

use tests::media::{dropboot, third_party};
use tests::{work_dir, Qemu};

fn boot_only(name: &str, file: &str) -> Qemu {
    let dir = work_dir(name);
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "128M".as_ref(), third_party(file).as_os_str()]);
    let mut vm = Qemu::boot(name, &dir, &image);
    vm.wait_screen("1 boot file on");
    vm.keys(&["ret"]);
    vm
}

#[test]
fn memtest86_plus_floppy_emulation_iso_reaches_its_test_screen() {
    let mut vm = boot_only("memtest86", "memtest86+x64.iso");
    vm.wait_serial("presented as 1.44 MB floppy 00h");
    vm.wait_serial("jumping to 0000:7C00 with DL=00h");
    vm.wait_screen("Memtest86+ v6");
    vm.wait_screen("Pass:");
}

#[test]
fn grub_rescue_floppy_img_reaches_grubs_menu() {
    let mut vm = boot_only("grub_rescue_floppy", "grub-rescue-floppy.img");
    vm.wait_serial("presented as hard disk 80h");
    vm.wait_screen("GNU GRUB  version");
}

#[test]
fn grub_rescue_usb_img_reaches_grubs_menu() {
    let mut vm = boot_only("grub_rescue_usb", "grub-rescue-usb.img");
    vm.wait_serial("presented as hard disk 80h");
    vm.wait_serial("the stick is now 81h");
    vm.wait_screen("GNU GRUB  version");
}
