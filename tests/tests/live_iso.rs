//! Linux live ISOs reach their live root from a dropboot stick: real live
//! systems built from Debian's packages by tools/make-live-media (cached
//! outside the clone), each with a root whose init prints one line on COM1
//! and powers off. Booted from the menu, the ISO's own loader (ISOLINUX or
//! GRUB) starts the kernel through the hook; the kernel then finds the ISO
//! as partition 2 of the stick, with no kernel parameter naming it, and the
//! distribution's own init (live-boot or dracut) mounts its root from it.
//! On exFAT, FAT32 and NTFS sticks attached as USB storage, as a real stick is,
//! and on IDE. (The live systems' boots with a persistence backend,
//! persistence_boot.rs, cover the rest of the pairs: live-boot with
//! ISOLINUX on exFAT over xHCI, with GRUB on FAT32 on IDE, dracut on NTFS
//! over xHCI.) The next start of stage2 puts sector 0 back byte for
//! byte, and fsck passes on the data partition.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use tests::media::{live_medium, read_at};
use tests::stick::{Case, Fs};
use tests::{BootOptions, Usb};

/// Under software emulation these systems reach their root in 15-40 s on
/// a quiet machine; the waits leave three times that and more.
const ROOT_WAIT: Duration = Duration::from_secs(240);
/// From the root's line to the power-off.
const POWER_OFF_WAIT: Duration = Duration::from_secs(60);

fn sector0(image: &Path) -> Vec<u8> {
    read_at(image, 0, 512)
}

/// `iso` on a stick of `fs` (NTFS: reformatted by its user, filled by
/// ntfs-3g as Windows would) reaches its live root, attached on `usb` or IDE.
fn reaches_its_live_root(name: &str, iso: &str, fs: Fs, usb: Option<Usb>) {
    let system = iso.trim_end_matches(".iso");
    let case = Case::new(name);
    let stick = case.stick().size("256M").fs(fs).file(live_medium(iso)).build();
    let before = sector0(&stick.path);
    // The watchdog allows every wait below in full: the menu, the boot's
    // line, the root, the power-off.
    let limit = 2 * tests::WAIT + ROOT_WAIT + POWER_OFF_WAIT;
    let opts = BootOptions { usb, memory_mib: Some(1024), limit: Some(limit), ..BootOptions::default() };
    {
        let mut vm = case.boot_with(&stick, &opts);
        vm.wait_screen("1 boot file");
        vm.keys(&["ret"]);
        vm.wait_serial(&format!("partition 2: /{iso}"));
        vm.wait_serial_within(&format!("dropboot-live-root: {system} reached its root"), ROOT_WAIT);
        let log = vm.serial_text();
        // Without persistence the root's writes go to a tmpfs: every boot is its first.
        let first = format!("dropboot-live-root: {system} boot 1");
        assert!(log.lines().any(|l| l.trim_end().ends_with(&first)), "the root did not count boot 1:\n{log}");
        // The kernel's own partition scan of the stick found the ISO.
        assert!(
            log.lines().any(|l| l.contains(" sda: sda1 sda2")),
            "the kernel did not list sda2:\n{}",
            log.lines().filter(|l| l.contains("sda")).collect::<Vec<_>>().join("\n")
        );
        vm.wait_exit_within(POWER_OFF_WAIT);
    }
    let info = stick.run("info", &[]);
    assert!(info.contains(&format!("partition 2: /{iso}, written at its last boot")), "{info}");

    let mut vm = case.step("next_start").boot_with(&stick, &BootOptions { usb, ..BootOptions::default() });
    vm.wait_screen("1 boot file");
    drop(vm);
    assert_eq!(sector0(&stick.path), before, "the next start leaves sector 0 as it was before the boot");
    stick.fsck_passes();
}

#[test]
fn a_debian_live_iso_on_an_ntfs_stick_over_usb_reaches_its_live_root() {
    reaches_its_live_root("live_debian_ntfs_usb", "debian-live.iso", Fs::NtfsByMkntfs, Some(Usb::Xhci));
}

#[test]
fn a_debian_live_iso_on_a_fat32_stick_over_usb_reaches_its_live_root() {
    reaches_its_live_root("live_debian_fat32_usb", "debian-live.iso", Fs::Fat32, Some(Usb::Xhci));
}

#[test]
fn a_debian_live_iso_on_an_ide_disk_reaches_its_live_root() {
    reaches_its_live_root("live_debian_ide", "debian-live.iso", Fs::Exfat, None);
}

#[test]
fn a_debian_live_iso_booted_by_grub_on_an_exfat_stick_over_usb_reaches_its_live_root() {
    reaches_its_live_root("live_grub_exfat_usb", "debian-live-grub.iso", Fs::Exfat, Some(Usb::Xhci));
}

#[test]
fn a_fedora_style_dracut_live_iso_on_a_fat32_stick_over_usb_reaches_its_live_root() {
    reaches_its_live_root("live_dracut_fat32_usb", "dracut-live.iso", Fs::Fat32, Some(Usb::Xhci));
}

#[test]
fn a_fedora_style_dracut_live_iso_on_an_ide_disk_reaches_its_live_root() {
    reaches_its_live_root("live_dracut_ide", "dracut-live.iso", Fs::Exfat, None);
}

#[test]
fn a_fragmented_live_iso_boots_its_loader_and_names_defrag_for_its_system() {
    let case = Case::new("live_fragmented");
    let stick = case.stick().size("256M").fragmented(live_medium("debian-live.iso"), 20).build();
    let check = stick.run("check", &["/debian-live.iso"]);
    assert!(check.contains("a Linux live system (live): it is in") && check.contains("until `dropboot defrag` rewrites it in one piece"), "{check}");
    let before = sector0(&stick.path);
    // 25-50 s to the kernel's first line, quiet to loaded.
    let kernel_wait = Duration::from_secs(180);
    let opts = BootOptions { limit: Some(3 * tests::WAIT + kernel_wait), ..BootOptions::default() };
    let mut vm = case.boot_with(&stick, &opts);
    vm.wait_screen("1 boot file");
    vm.keys(&["ret"]);
    let screen = vm.wait_screen("`dropboot defrag` rewrites it in one piece");
    assert!(screen.text().contains("/debian-live.iso: it is in"), "{}", screen.text());
    vm.wait_serial("will not find its ISO until `dropboot defrag` rewrites it in one piece");
    // Its loader still starts: ISOLINUX loads the kernel.
    vm.wait_serial_within("Linux version", kernel_wait);
    drop(vm);
    assert_eq!(sector0(&stick.path), before);
}

#[test]
fn the_demo_stick_of_make_qemu_bios_boots_its_first_enter_to_a_live_root() {
    let case = Case::new("live_demo_stick");
    let image = case.file("demo.img");
    let listed = tests::media::run(
        std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/make-demo"))
            .arg(&image)
            .env("DROPBOOT", tests::media::dropboot_bin()),
    );
    for file in [
        "/debian-live.iso",
        "/install/debian-installer.iso",
        "/install/ipxe.iso",
        "/tools/grub-rescue-cdrom.iso",
        "/tools/memtest86+x64.iso",
        "/tools/floppy/grub-rescue-floppy.img",
        "/systems/debian.img",
    ] {
        assert!(listed.contains(file), "{file} is not on the demo stick:\n{listed}");
    }
    // Its installed system (booted twice in installed_systems.rs) restarts
    // the PC after showing its count, so a new user sees the count go up.
    let checked = tests::media::dropboot([OsStr::new("check"), image.as_os_str(), "/systems/debian.img".as_ref()]);
    assert!(checked.contains("an installed system: its partitions 1 and 5 will be sda2 and sda5"), "{checked}");
    // Its live system keeps its changes in a backend.
    let checked = tests::media::dropboot([OsStr::new("check"), image.as_os_str(), "/debian-live.iso".as_ref()]);
    assert!(checked.contains("persistence: /persistence/debian-live.dat (ext4 \"persistence\", 64 MiB)"), "{checked}");
    let copy = case.file("demo-files/systems/debian.img");
    let root = tests::installed::ext4_partitions(&copy)[0];
    assert_eq!(tests::installed::ext4_file(&copy, root, "/etc/dropboot-reboot").as_deref(), Some(""), "the demo's copy restarts after its count");
    let opts = BootOptions { memory_mib: Some(1024), limit: Some(tests::WAIT + ROOT_WAIT), ..BootOptions::default() };
    let mut vm = case.boot_with(&image, &opts);
    vm.wait_screen("7 boot files");
    vm.keys(&["ret"]);
    vm.wait_serial_within("dropboot-live-root: debian-live reached its root", ROOT_WAIT);
    assert!(vm.serial_text().contains("adds conf/conf.d/zz-dropboot to /live/initrd.img"), "the demo's live system persists");
}

#[test]
fn a_debian_live_iso_alike_in_all_but_its_partition_does_not_find_its_medium() {
    // The control: DROPBOOT_ISO_PARTITION=0, everything else the same.
    // Named to sort first (tests start in name order): it runs longest.
    // live-boot searches for about two minutes under emulation (three and
    // a half when the machine is busy: 217 s beside two other QEMUs)
    // before it gives up; the wait is over three times that.
    let give_up = Duration::from_secs(720);
    let case = Case::new("live_debian_no_partition");
    let config = r#"{ "control": [ { "DROPBOOT_ISO_PARTITION": "0" } ] }"#;
    let stick = case.stick().size("256M").file(live_medium("debian-live.iso")).dropboot_json(config).build();
    let opts = BootOptions { memory_mib: Some(1024), limit: Some(give_up + Duration::from_secs(60)), ..BootOptions::default() };
    let mut vm = case.boot_with(&stick, &opts);
    vm.wait_screen("1 boot file");
    vm.keys(&["ret"]);
    vm.wait_serial_within("Unable to find a medium containing a live file system", give_up);
    assert!(!vm.serial_text().contains("reached its root"));
}
