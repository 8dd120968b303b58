//! The probe boots from an ISO on the stick through dropboot and asks the
//! CD drive everything a boot loader asks; its answers, and the CRC32s of
//! a data file read with many request sizes, must match the host's.

use std::ffi::OsStr;

use tests::media::{copy_fragmented, dropboot};
use tests::probe::{boot_and_check, build_iso};
use tests::{work_dir, BootOptions, Qemu, Usb};

const DATA_BYTES: usize = 1 << 20;

fn boot_probe(name: &str, dir: &std::path::Path, image: &std::path::Path, iso: &tests::probe::ProbeIso) {
    boot_probe_with(name, dir, image, iso, &BootOptions::default());
}

fn boot_probe_with(name: &str, dir: &std::path::Path, image: &std::path::Path, iso: &tests::probe::ProbeIso, opts: &BootOptions) {
    let mut vm = Qemu::boot_with(name, dir, image, opts);
    vm.wait_screen("1 boot file on");
    boot_and_check(&mut vm, &["ret"], tests::WAIT, iso, image);
}

#[test]
fn the_probe_iso_on_an_exfat_stick_answers_like_a_cd_and_reads_its_data_exactly() {
    let dir = work_dir("probe_contiguous");
    let iso = build_iso(&dir, DATA_BYTES);
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "64M".as_ref(), iso.path.as_os_str()]);
    boot_probe("probe_contiguous", &dir, &image, &iso);
}

#[test]
fn the_probe_iso_in_over_fifty_pieces_of_512_byte_clusters_reads_the_same() {
    let dir = work_dir("probe_fragmented");
    let iso = build_iso(&dir, DATA_BYTES);
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "64M".as_ref(), "--fs".as_ref(), "fat32".as_ref()]);
    // 60 holes of 3 KiB the ISO must fill before it can run on.
    let runs = copy_fragmented(&image, &iso.path, 60);
    assert!(runs >= 50, "the ISO should be in at least 50 pieces, mshowfat shows {runs}");
    boot_probe("probe_fragmented", &dir, &image, &iso);
}

#[test]
fn the_probe_iso_on_a_stick_on_an_xhci_port_answers_like_a_cd_and_reads_its_data_exactly() {
    let dir = work_dir("probe_usb_xhci");
    let iso = build_iso(&dir, DATA_BYTES);
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "64M".as_ref(), iso.path.as_os_str()]);
    boot_probe_with("probe_usb_xhci", &dir, &image, &iso, &BootOptions { usb: Some(Usb::Xhci), ..BootOptions::default() });
}
