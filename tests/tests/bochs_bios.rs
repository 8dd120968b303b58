//! Another BIOS: Bochs with its own rombios, a 16-bit BIOS of the kind
//! 1990s PCs had (its INT 13h gives back only the low halves of most
//! 32-bit registers; it boots the stick as an IDE disk). The menu on COM1,
//! the probe ISO read exactly through the hook past 32 MiB, the probe as
//! a raw floppy image, memtest86+ from floppy emulation, and the Debian
//! installer's kernel reaching its init. Bochs has no keyboard here: each
//! stick's ventoy.json makes its file the default with a one-second
//! countdown. The sticks are 126 MiB, a whole number of Bochs's 16x63
//! cylinders, so its IDE disk reaches every sector.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tests::bochs::Bochs;
use tests::media::{dropboot, play_a_386, read_at, third_party};
use tests::probe::{build_disk, build_iso_after, check_disk_on, check_on, floppy_expectation, report, StickBios, FLOPPY_SECTORS};
use tests::work_dir;

/// What rombios's INT 13h gives back changed (a 16-bit POPA): EBX's high half.
const ROMBIOS: StickBios = StickBios::SixteenBit("ebx");

/// A stick holding `files`, whose ventoy.json boots the first after one
/// second.
fn stick_booting(dir: &Path, files: &[&Path]) -> PathBuf {
    let image = dir.join("stick.img");
    let mut args = vec![OsStr::new("create").to_owned(), image.clone().into(), "--size".into(), "126M".into()];
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    dropboot(&args);
    let name = files[0].file_name().and_then(|n| n.to_str()).expect("a file name");
    let json = dir.join("ventoy.json");
    let config = format!("{{ \"control\": [ {{ \"VTOY_MENU_TIMEOUT\": \"1\" }}, {{ \"VTOY_DEFAULT_IMAGE\": \"/{name}\" }} ] }}\n");
    fs::write(&json, config).expect("writing ventoy.json");
    dropboot([OsStr::new("add"), image.as_os_str(), json.as_os_str(), "--to".as_ref(), "/ventoy".as_ref()]);
    image
}

#[test]
fn under_bochs_bios_the_menu_shows_and_the_probe_reads_its_iso_exactly_past_32_mib() {
    let dir = work_dir("bochs_probe");
    let iso = build_iso_after(&dir, 33 << 20, 1 << 20, 0);
    let image = stick_booting(&dir, &[&iso.path]);
    let mut bochs = Bochs::boot("bochs_probe", &dir, &image, 64, Duration::from_secs(300));
    bochs.wait_serial("1 boot file on exFAT", Duration::from_secs(60));
    assert!(bochs.serial_text().contains("disk 80h: INT 13h extensions yes"), "{}", bochs.serial_text());
    bochs.wait_serial("probe: done", Duration::from_secs(240));
    let lines = report(&bochs.serial_text());
    // rombios gives EBX back with its high half cleared (a 16-bit POPA).
    check_on(&lines, &iso, &read_at(&image, 0, 512), ROMBIOS);
}

#[test]
fn under_bochs_bios_the_probe_as_a_raw_floppy_image_reads_the_same() {
    let dir = work_dir("bochs_floppy");
    let disk = build_disk(&dir, "floppy.img", FLOPPY_SECTORS, false);
    let image = stick_booting(&dir, &[&disk.path]);
    let mut bochs = Bochs::boot("bochs_floppy", &dir, &image, 64, Duration::from_secs(300));
    bochs.wait_serial("presented as 1.44 MB floppy 00h", Duration::from_secs(60));
    bochs.wait_serial("probe: done", Duration::from_secs(240));
    let lines = report(&bochs.serial_text());
    check_disk_on(&lines, &floppy_expectation(&disk, None), &read_at(&image, 0, 512), ROMBIOS);
}

#[test]
fn under_bochs_bios_memtest86_plus_starts_from_floppy_emulation() {
    let dir = work_dir("bochs_memtest");
    let image = stick_booting(&dir, &[&third_party("memtest86+ia32.iso")]);
    let mut bochs = Bochs::boot("bochs_memtest", &dir, &image, 64, Duration::from_secs(300));
    bochs.wait_serial("jumping to 0000:7C00 with DL=00h", Duration::from_secs(60));
    bochs.wait_screen("Memtest86+ v6", Duration::from_secs(120));
}

#[test]
fn under_bochs_bios_the_debian_installer_kernel_reaches_its_init() {
    let dir = work_dir("bochs_debian_installer");
    let image = stick_booting(&dir, &[&third_party("debian-installer.iso")]);
    let mut bochs = Bochs::boot("bochs_debian_installer", &dir, &image, 512, Duration::from_secs(900));
    bochs.wait_serial("jumping to 0000:7C00 with DL=E0h", Duration::from_secs(60));
    bochs.wait_serial("Linux version", Duration::from_secs(300));
    bochs.wait_serial("Run /init as init process", Duration::from_secs(500));
}

#[test]
fn under_bochs_bios_a_cpu_before_the_486_is_told_so_on_the_screen_and_com1() {
    let dir = work_dir("bochs_386");
    let iso = build_iso_after(&dir, 0, 64 * 1024, 0);
    let image = stick_booting(&dir, &[&iso.path]);
    play_a_386(&image);
    let mut bochs = Bochs::boot("bochs_386", &dir, &image, 16, Duration::from_secs(120));
    // rombios leaves COM1 at 5 data bits: stage2 sets it up before it speaks.
    let message = "dropboot: this PC's CPU cannot run dropboot (a 486 or later is needed).";
    bochs.wait_serial(message, Duration::from_secs(60));
    bochs.wait_screen(message, Duration::from_secs(30));
}
