//! The installed systems that tools/make-installed-media builds boot as
//! their own disk, with no dropboot in between: QEMU's first hard disk is
//! the image itself. What the To Go tests then ask of dropboot is what
//! these show without it: the image's own GRUB runs and saves its entry in
//! grubenv, the kernel mounts its root by UUID, and the system counts its
//! boots on both of its filesystems, which stay clean.

use std::path::Path;
use std::time::Duration;

use tests::installed::{boot_line, e2fsck_clean, ext4_file, ext4_partitions, installed_medium};
use tests::{work_dir, BootOptions, Qemu};

/// Under software emulation a boot, from GRUB's menu to the line, takes
/// 35-45 s on a quiet machine (GRUB reads the kernel and initrd through
/// the BIOS, the kernel unpacks itself); the wait leaves five times that.
const SYSTEM_WAIT: Duration = Duration::from_secs(240);
/// From the line to the power-off.
const POWER_OFF_WAIT: Duration = Duration::from_secs(60);

/// Boots `image` as QEMU's first hard disk and waits for its `n`th boot's line.
fn boot(name: &str, dir: &Path, image: &Path, system: &str, n: u32) {
    let limit = tests::WAIT + SYSTEM_WAIT + POWER_OFF_WAIT;
    let opts = BootOptions { memory_mib: Some(1024), limit: Some(limit), ..BootOptions::default() };
    let mut vm = Qemu::boot_with(&format!("{name}_boot{n}"), dir, image, &opts);
    vm.wait_serial("GNU GRUB");
    vm.wait_serial_within(&boot_line(system, n), SYSTEM_WAIT);
    let log = vm.serial_text();
    assert!(log.contains("Loading initial ramdisk"), "GRUB did not load the initrd:\n{log}");
    vm.wait_exit_within(POWER_OFF_WAIT);
}

/// Boots a copy of the image `boots` times, then reads it from outside:
/// the counter on both filesystems, GRUB's saved entry, e2fsck.
fn boots_as_its_own_disk(name: &str, image_name: &str, boots: u32) {
    let system = image_name.trim_end_matches(".img");
    let dir = work_dir(name);
    let image = dir.join(image_name);
    std::fs::copy(installed_medium(image_name), &image).expect("copying the installed system's image");
    let parts = ext4_partitions(&image);
    assert_eq!(parts.len(), 2, "{image_name}: a root and /data, both ext4: {parts:?}");
    let (root, data) = (parts[0], parts[1]);
    assert_eq!(ext4_file(&image, data, "/boots"), None, "the cached image was booted before");

    for n in 1..=boots {
        boot(name, &dir, &image, system, n);
    }
    assert_eq!(ext4_file(&image, data, "/boots").as_deref(), Some(format!("{boots}\n").as_str()), "/data/boots");
    assert_eq!(ext4_file(&image, root, "/var/boots").as_deref(), Some(format!("{boots}\n").as_str()), "/var/boots");
    let env = ext4_file(&image, root, "/boot/grub/grubenv").expect("GRUB's grubenv");
    assert!(env.lines().any(|l| l.starts_with("saved_entry=gnulinux-simple-")), "GRUB saved no entry:\n{env}");
    for part in [root, data] {
        if let Err(report) = e2fsck_clean(&image, part) {
            panic!("{image_name}: e2fsck -fn at sector {}:\n{report}", part.start);
        }
    }
}

#[test]
fn an_installed_debian_on_mbr_boots_twice_as_its_own_disk_and_counts_both_boots() {
    boots_as_its_own_disk("installed_debian_mbr", "debian-mbr.img", 2);
}

#[test]
fn an_installed_debian_on_gpt_boots_as_its_own_disk() {
    boots_as_its_own_disk("installed_debian_gpt", "debian-gpt.img", 1);
}

#[test]
fn an_installed_system_with_a_dracut_initrd_boots_as_its_own_disk() {
    boots_as_its_own_disk("installed_dracut_mbr", "dracut-mbr.img", 1);
}
