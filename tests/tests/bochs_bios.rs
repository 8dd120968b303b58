//! Another BIOS: Bochs with its own rombios, a 16-bit BIOS of the kind
//! 1990s PCs had (its INT 13h gives back only the low halves of most
//! 32-bit registers; it boots the stick as an IDE disk). The menu on COM1,
//! the probe ISO read exactly through the hook past 32 MiB, the probe as
//! a raw floppy image, memtest86+ from floppy emulation, and the Debian
//! installer's kernel reaching its init. Bochs has no keyboard here: each
//! stick's ventoy.json makes its file the default with a one-second
//! countdown. The sticks are 126 MiB, a whole number of Bochs's 16x63
//! cylinders, so its IDE disk reaches every sector.

use std::path::Path;
use std::time::Duration;

use tests::bochs::Bochs;
use tests::media::{play_a_386, read_at, third_party};
use tests::probe::{build_disk, build_iso_after, check_disk_on, check_on, floppy_expectation, report, StickBios, FLOPPY_SECTORS};
use tests::stick::Case;

/// What rombios's INT 13h gives back changed (a 16-bit POPA): EBX's high half.
const ROMBIOS: StickBios = StickBios::SixteenBit("ebx");

/// A ventoy.json that boots `file` after one second.
fn boots_after_one_second(file: &Path) -> String {
    let name = file.file_name().and_then(|n| n.to_str()).expect("a file name");
    format!("{{ \"control\": [ {{ \"VTOY_MENU_TIMEOUT\": \"1\" }}, {{ \"VTOY_DEFAULT_IMAGE\": \"/{name}\" }} ] }}\n")
}

#[test]
fn under_bochs_bios_the_menu_shows_and_the_probe_reads_its_iso_exactly_past_32_mib() {
    let case = Case::new("bochs_probe");
    let iso = build_iso_after(&case.dir, 33 << 20, 1 << 20, 0);
    let stick = case.stick().size("126M").file(&iso.path).ventoy_json(&boots_after_one_second(&iso.path)).build();
    let mut bochs = Bochs::boot(&case.name, &case.dir, &stick.path, 64, Duration::from_secs(300));
    bochs.wait_serial("1 boot file on exFAT", Duration::from_secs(60));
    assert!(bochs.serial_text().contains("disk 80h: INT 13h extensions yes"), "{}", bochs.serial_text());
    bochs.wait_serial("probe: done", Duration::from_secs(240));
    let lines = report(&bochs.serial_text());
    // rombios gives EBX back with its high half cleared (a 16-bit POPA).
    check_on(&lines, &iso, &read_at(&stick.path, 0, 512), ROMBIOS);
}

#[test]
fn under_bochs_bios_the_probe_as_a_raw_floppy_image_reads_the_same() {
    let case = Case::new("bochs_floppy");
    let disk = build_disk(&case.dir, "floppy.img", FLOPPY_SECTORS, false);
    let stick = case.stick().size("126M").file(&disk.path).ventoy_json(&boots_after_one_second(&disk.path)).build();
    let mut bochs = Bochs::boot(&case.name, &case.dir, &stick.path, 64, Duration::from_secs(300));
    bochs.wait_serial("presented as 1.44 MB floppy 00h", Duration::from_secs(60));
    bochs.wait_serial("probe: done", Duration::from_secs(240));
    let lines = report(&bochs.serial_text());
    check_disk_on(&lines, &floppy_expectation(&disk, None), &read_at(&stick.path, 0, 512), ROMBIOS);
}

#[test]
fn under_bochs_bios_memtest86_plus_starts_from_floppy_emulation() {
    let case = Case::new("bochs_memtest");
    let memtest = third_party("memtest86+ia32.iso");
    let stick = case.stick().size("126M").file(&memtest).ventoy_json(&boots_after_one_second(&memtest)).build();
    let mut bochs = Bochs::boot(&case.name, &case.dir, &stick.path, 64, Duration::from_secs(300));
    bochs.wait_serial("jumping to 0000:7C00 with DL=00h", Duration::from_secs(60));
    bochs.wait_screen("Memtest86+ v6", Duration::from_secs(120));
}

#[test]
fn under_bochs_bios_the_debian_installer_kernel_reaches_its_init() {
    let case = Case::new("bochs_debian_installer");
    let installer = third_party("debian-installer.iso");
    let stick = case.stick().size("126M").file(&installer).ventoy_json(&boots_after_one_second(&installer)).build();
    let mut bochs = Bochs::boot(&case.name, &case.dir, &stick.path, 512, Duration::from_secs(900));
    bochs.wait_serial("jumping to 0000:7C00 with DL=E0h", Duration::from_secs(60));
    // Bochs reads the 49 MB kernel and initrd through the hook in 114-134 s
    // on a slow host (134 s of a 420 s limit in make test): over three
    // times that.
    bochs.wait_serial("Linux version", Duration::from_secs(480));
    bochs.wait_serial("Run /init as init process", Duration::from_secs(620));
}

#[test]
fn under_bochs_bios_a_cpu_before_the_486_is_told_so_on_the_screen_and_com1() {
    let case = Case::new("bochs_386");
    let iso = build_iso_after(&case.dir, 0, 64 * 1024, 0);
    let stick = case.stick().size("126M").file(&iso.path).ventoy_json(&boots_after_one_second(&iso.path)).build();
    play_a_386(&stick.path);
    let mut bochs = Bochs::boot(&case.name, &case.dir, &stick.path, 16, Duration::from_secs(120));
    // rombios leaves COM1 at 5 data bits: stage2 sets it up before it speaks.
    let message = "dropboot: this PC's CPU cannot run dropboot (a 486 or later is needed).";
    bochs.wait_serial(message, Duration::from_secs(60));
    bochs.wait_screen(message, Duration::from_secs(30));
}
