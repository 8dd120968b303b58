//! Real boot media from Debian's packages, copied onto a stick as files and
//! booted through dropboot's menu as CDs: GRUB's rescue CD, iPXE's
//! ISOLINUX CD, and the Debian installer wrapped with ISOLINUX.

use std::time::Duration;

use tests::media::third_party;
use tests::stick::Case;
use tests::BootOptions;

#[test]
fn grub_rescue_cdrom_iso_reaches_grubs_menu() {
    let case = Case::new("grub_rescue_cdrom");
    let mut vm = case.boot(case.stick().size("128M").file(third_party("grub-rescue-cdrom.iso")).file(third_party("ipxe.iso")).build());
    vm.wait_screen("2 boot file");
    vm.keys(&["ret"]);
    vm.wait_serial("jumping to 0000:7C00 with DL=E0h");
    vm.wait_screen("GNU GRUB  version");
    vm.wait_screen("Memtest86+");
}

#[test]
fn ipxe_iso_boots_through_isolinux_to_ipxe() {
    let case = Case::new("ipxe_iso");
    let mut vm = case.boot(case.stick().size("128M").file(third_party("grub-rescue-cdrom.iso")).file(third_party("ipxe.iso")).build());
    vm.wait_screen("2 boot file");
    vm.keys(&["down", "ret"]);
    vm.wait_screen("ISOLINUX 6.04");
    vm.wait_screen("Loading ipxe.krn... ok");
    vm.wait_screen("iPXE initialising devices");
}

#[test]
fn the_debian_installer_iso_boots_linux_and_reaches_its_first_dialog() {
    let case = Case::new("debian_installer");
    let stick = case.stick().size("128M").file(third_party("debian-installer.iso")).build();
    // The whole run took 61 s in `make test` on a slow host: the watchdog
    // gives it four times that.
    let opts = BootOptions { memory_mib: Some(1024), limit: Some(Duration::from_secs(240)), ..Default::default() };
    let mut vm = case.boot_with(&stick, &opts);
    vm.wait_screen("1 boot file");
    vm.keys(&["ret"]);
    // ISOLINUX loads a 49 MB kernel and initrd through the hook; the kernel
    // logs to COM1; the installer then asks for a language there.
    vm.wait_serial_within("Linux version", Duration::from_secs(120));
    // Linux's memory map (from E820) leaves the hook's block out: the
    // usable low range ends where the block starts. The map's line for
    // the memory above 1 MiB comes after it, so once that has begun to
    // arrive the low range's line is whole.
    vm.wait_serial_within("BIOS-e820: [mem 0x0000000000100000-", Duration::from_secs(30));
    let serial = vm.serial_text();
    let at = serial.find("INT 13h hook at ").expect("the hook's place in the log") + "INT 13h hook at ".len();
    let segment = u32::from_str_radix(&serial[at..at + 4], 16).expect("a segment");
    let low = format!("BIOS-e820: [mem 0x0000000000000000-0x{:016x}] usable", segment * 16 - 1);
    assert!(serial.contains(&low), "expected {low:?} in:\n{}", serial.lines().filter(|l| l.contains("e820")).collect::<Vec<_>>().join("\n"));
    vm.wait_serial_within("Select a language", Duration::from_secs(150));
}
