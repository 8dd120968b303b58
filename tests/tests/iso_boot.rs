//! Real boot media from Debian's packages, copied onto a stick as files and
//! booted through dropboot's menu as CDs: GRUB's rescue CD, iPXE's
//! ISOLINUX CD, and the Debian installer wrapped with ISOLINUX.

use std::ffi::OsStr;

use std::time::Duration;
use tests::media::{dropboot, third_party};

use tests::{work_dir, BootOptions, Qemu};

/// A stick holding `files`, booted; Enter pressed on the `index`th entry.
fn boot_entry(name: &str, files: &[&str], index: usize) -> Qemu {
    boot_entry_with(name, files, index, &BootOptions::default())
}

fn boot_entry_with(name: &str, files: &[&str], index: usize, opts: &BootOptions) -> Qemu {
    let dir = work_dir(name);
    let image = dir.join("stick.img");
    let mut args = vec![OsStr::new("create").to_owned(), image.clone().into(), "--size".into(), "128M".into()];
    args.extend(files.iter().map(|f| third_party(f).into_os_string()));
    dropboot(&args);
    let mut vm = Qemu::boot_with(name, &dir, &image, opts);
    vm.wait_screen(&format!("{} boot file", files.len()));
    for _ in 0..index {
        vm.keys(&["down"]);
    }
    vm.keys(&["ret"]);
    vm
}

#[test]
fn grub_rescue_cdrom_iso_reaches_grubs_menu() {
    let mut vm = boot_entry("grub_rescue_cdrom", &["grub-rescue-cdrom.iso", "ipxe.iso"], 0);
    vm.wait_serial("jumping to 0000:7C00 with DL=E0h");
    vm.wait_screen("GNU GRUB  version");
    vm.wait_screen("Memtest86+");
}

#[test]
fn ipxe_iso_boots_through_isolinux_to_ipxe() {
    let mut vm = boot_entry("ipxe_iso", &["grub-rescue-cdrom.iso", "ipxe.iso"], 1);
    vm.wait_screen("ISOLINUX 6.04");
    vm.wait_screen("Loading ipxe.krn... ok");
    vm.wait_screen("iPXE initialising devices");
}

#[test]
fn the_debian_installer_iso_boots_linux_and_reaches_its_first_dialog() {
    let opts = BootOptions { memory_mib: Some(1024), ..Default::default() };
    let mut vm = boot_entry_with("debian_installer", &["debian-installer.iso"], 0, &opts);
    // ISOLINUX loads a 49 MB kernel and initrd through the hook; the kernel
    // logs to COM1; the installer then asks for a language there.
    vm.wait_serial_within("Linux version", Duration::from_secs(120));
    // Linux's memory map (from E820) leaves the hook's block out: the
    // usable low range ends where the block starts.
    vm.wait_serial_within("BIOS-e820: [mem 0x0000000000000000-", Duration::from_secs(30));
    let serial = vm.serial_text();
    let at = serial.find("INT 13h hook at ").expect("the hook's place in the log") + "INT 13h hook at ".len();
    let segment = u32::from_str_radix(&serial[at..at + 4], 16).expect("a segment");
    let low = format!("BIOS-e820: [mem 0x0000000000000000-0x{:016x}] usable", segment * 16 - 1);
    assert!(serial.contains(&low), "expected {low:?} in:\n{}", serial.lines().filter(|l| l.contains("e820")).collect::<Vec<_>>().join("\n"));
    vm.wait_serial_within("Select a language", Duration::from_secs(150));
}
