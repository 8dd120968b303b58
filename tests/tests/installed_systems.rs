//! To Go: real installed Debian systems in image files (built from
//! Debian's packages by tools/make-installed-media, cached outside the
//! clone) boot from a dropboot stick and keep what they write. Chosen in the
//! menu, an image boots as hard disk 80h: its own MBR code and GRUB run
//! through the hook, and GRUB saves its default entry (a write at every
//! boot). Just before the jump its partitions become partitions of the
//! stick, so its kernel mounts its root by UUID and its fstab mounts /data
//! (a logical partition) by UUID, from inside the file. Each init counts
//! its boots on both filesystems: boot 1, then boot 2 (one boot on IDE). After each boot no
//! sector of the stick outside the file has changed but sector 0 and the
//! record of its entries; the next start puts sector 0 back byte for byte;
//! fsck passes on the data partition and on the image's own filesystems.
//! On exFAT, FAT32 and NTFS sticks attached as USB storage, once on IDE;
//! a raw MBR image with logical partitions, the same as a fixed VHD and as
//! a static VDI, a GPT image, and a system whose initrd dracut made.

use std::fs;
use std::path::Path;
use std::time::Duration;

use bootfs::iso_partition::RECORD_LBA;
use tests::installed::{boot_line, e2fsck_clean, ext4_file, ext4_partitions, installed_medium};
use tests::media::{changed_outside, file_sectors, read_at};
use tests::stick::{Case, Fs, Stick};
use tests::{BootOptions, Usb};

/// From Enter to the system's line: 30-45 s on a quiet machine under
/// software emulation; the wait leaves three times that and more.
const SYSTEM_WAIT: Duration = Duration::from_secs(180);
/// From the line to the power-off.
const POWER_OFF_WAIT: Duration = Duration::from_secs(60);

/// A stick of `fs` holding `images` (cached media, by name) at its root.
fn stick_with(case: &Case, fs: Fs, images: &[&str]) -> Stick {
    case.stick().size("512M").fs(fs).files(images.iter().map(|name| installed_medium(name))).build()
}

/// The file `name` as the stick holds it now, copied out through its runs.
fn copy_out(stick: &Path, runs: &[std::ops::Range<u64>], len: u64, to: &Path) {
    let bytes = fs::read(stick).expect("the stick");
    let mut out: Vec<u8> = runs.iter().flat_map(|r| bytes[r.start as usize * 512..r.end as usize * 512].to_vec()).collect();
    out.truncate(len as usize);
    fs::write(to, out).expect("the copy");
}

/// The raw disk inside an image file copied out of the stick (a VHD's or
/// VDI's converted by qemu-img, an independent reader).
fn raw_disk(copy: &Path) -> std::path::PathBuf {
    let raw = copy.with_extension("raw");
    tests::media::run(std::process::Command::new("qemu-img").args(["convert", "-O", "raw"]).arg(copy).arg(&raw));
    raw
}

/// Boots each of `images` `boots` times from the menu (the stick's boot
/// files in name order), checking what each boot leaves on the stick,
/// then checks both levels of filesystems.
fn boot_each(name: &str, fs: Fs, images: &[&str], usb: Option<Usb>, boots: u32) {
    let case = Case::new(name);
    let stick = stick_with(&case, fs, images);
    let first_sector0 = read_at(&stick.path, 0, 512);
    let limit = 2 * tests::WAIT + SYSTEM_WAIT + POWER_OFF_WAIT;
    let opts = BootOptions { usb, memory_mib: Some(1024), limit: Some(limit), ..BootOptions::default() };
    let mut sorted: Vec<&str> = images.to_vec();
    sorted.sort();
    for image in images {
        let system = image.split('.').next().unwrap_or(image);
        let path = format!("/{image}");
        let runs = file_sectors(&stick.path, &path);
        let mut allowed = runs.clone();
        allowed.extend([0..1, RECORD_LBA..RECORD_LBA + 1]);
        let row = sorted.iter().position(|i| i == image).expect("listed");
        for boot in 1..=boots {
            let before = fs::read(&stick).expect("the stick");
            let mut vm = case.step(&format!("{system}_boot{boot}")).boot_with(&stick, &opts);
            vm.wait_screen(&format!("{} boot file", images.len()));
            vm.keys(&vec!["down"; row]);
            vm.keys(&["ret"]);
            vm.wait_serial(&format!("{path}'s partition "));
            vm.wait_serial_within(&boot_line(system, boot), SYSTEM_WAIT);
            let log = vm.serial_text();
            assert!(!log.contains("failure writing sector"), "GRUB could not save its environment:\n{log}");
            vm.wait_exit_within(POWER_OFF_WAIT);
            drop(vm);
            let after = fs::read(&stick).expect("the stick");
            assert_eq!(changed_outside(&before, &after, &allowed), Vec::<u64>::new(), "{image} boot {boot}: sectors outside the file changed");
        }
        // The system's own filesystems, read from the file on the stick:
        // clean, and its counter on /data at the boots counted.
        let copy = case.file(&format!("copy-{image}"));
        copy_out(&stick.path, &runs, fs::metadata(installed_medium(image)).expect("the image").len(), &copy);
        let raw = if image.ends_with(".img") { copy.clone() } else { raw_disk(&copy) };
        let parts = ext4_partitions(&raw);
        assert!(parts.len() >= 2, "{image}: a root and /data: {parts:?}");
        for part in &parts {
            if let Err(report) = e2fsck_clean(&raw, *part) {
                panic!("{image}: e2fsck of the filesystem at sector {}:\n{report}", part.start);
            }
        }
        let counted: Vec<String> = parts.iter().filter_map(|p| ext4_file(&raw, *p, "/boots")).map(|s| s.trim().to_string()).collect();
        assert!(counted.contains(&boots.to_string()), "{image}: /data/boots says {boots}: {counted:?}");
        // GRUB saved the entry it booted, through the hook.
        let grubenv: String = parts.iter().filter_map(|p| ext4_file(&raw, *p, "/boot/grub/grubenv")).collect();
        assert!(grubenv.contains("saved_entry=gnulinux-simple-"), "{image}: grubenv:\n{grubenv}");
    }
    // The next start takes the entries out again.
    let mut vm = case.step("next_start").boot_with(&stick, &BootOptions { usb, ..BootOptions::default() });
    vm.wait_screen(&format!("{} boot file", images.len()));
    drop(vm);
    assert_eq!(read_at(&stick.path, 0, 512), first_sector0, "the next start puts sector 0 back byte for byte");
    stick.fsck_passes();
}

#[test]
fn an_installed_debian_in_a_raw_mbr_image_and_one_on_gpt_boot_twice_from_an_exfat_stick_over_usb_and_keep_their_counters() {
    boot_each("installed_exfat_usb", Fs::Exfat, &["debian-mbr.img", "debian-gpt.img"], Some(Usb::Xhci), 2);
}

#[test]
fn an_installed_debian_in_a_fixed_vhd_and_a_dracut_system_boot_twice_from_a_fat32_stick_over_usb_and_keep_their_counters() {
    boot_each("installed_fat32_usb", Fs::Fat32, &["debian-mbr.vhd", "dracut-mbr.img"], Some(Usb::Xhci), 2);
}

#[test]
fn an_installed_debian_in_a_static_vdi_boots_twice_from_an_ntfs_stick_over_usb_and_keeps_its_counter() {
    boot_each("installed_ntfs_usb", Fs::Ntfs, &["debian-mbr.vdi"], Some(Usb::Xhci), 2);
}

#[test]
fn an_installed_debian_boots_from_an_exfat_stick_on_ide_and_counts_its_boot() {
    boot_each("installed_exfat_ide", Fs::Exfat, &["debian-mbr.img"], None, 1);
}

#[test]
fn a_dynamic_vhd_chosen_in_the_menu_is_refused_in_words_naming_the_fix_and_the_menu_comes_back() {
    let case = Case::new("installed_dynamic_vhd");
    // Copied in by ntfs-3g, as Windows would: `dropboot add` would make it fixed.
    let stick = stick_with(&case, Fs::Ntfs, &["debian-mbr-dynamic.vhd"]);
    let mut vm = case.boot(&stick);
    vm.wait_screen("1 boot file");
    vm.keys(&["ret"]);
    vm.wait_serial("Cannot boot debian-mbr-dynamic.vhd: it is a dynamic VHD");
    let screen = vm.wait_screen("Cannot boot debian-mbr-dynamic.vhd:");
    assert!(screen.text().contains("1 boot file"), "the menu is back:\n{}", screen.text());
}

#[test]
fn a_pc_switched_off_in_the_middle_of_a_boot_leaves_the_data_partition_clean_and_the_next_start_restores_sector_0() {
    let case = Case::new("installed_cut_off");
    let stick = stick_with(&case, Fs::Exfat, &["debian-mbr.img"]);
    let first_sector0 = read_at(&stick.path, 0, 512);
    let opts = BootOptions { usb: Some(Usb::Xhci), memory_mib: Some(1024), limit: Some(tests::WAIT + SYSTEM_WAIT), ..BootOptions::default() };
    let mut vm = case.boot_with(&stick, &opts);
    vm.wait_screen("1 boot file");
    vm.keys(&["ret"]);
    // Its root is mounted read-write from inside the file: cut it off there.
    vm.wait_serial_within("EXT4-fs (sda2): re-mounted", SYSTEM_WAIT);
    drop(vm);
    stick.fsck_passes();
    let mut vm = case.step("next_start").boot_with(&stick, &BootOptions { usb: Some(Usb::Xhci), ..BootOptions::default() });
    vm.wait_screen("1 boot file");
    drop(vm);
    assert_eq!(read_at(&stick.path, 0, 512), first_sector0, "the next start puts sector 0 back byte for byte");
}
