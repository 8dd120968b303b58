//! Old PCs: ISA machines with a 486, a Pentium and a Pentium II (QEMU's
//! `isapc`, 16 and 32 MiB), where stage2 must run without the CPU
//! features of later PCs (no CMOV, no CMPXCHG8B, no RDTSC), and a 386,
//! which gets a sentence instead of a hang. The stick is on ISA IDE (the
//! machine has no PCI, so no USB).

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use tests::media::{dropboot, play_a_386, read_at, third_party};
use tests::probe::{build_disk, build_iso, check, check_disk, floppy_expectation, report, ProbeDisk, ProbeIso, EXIT_DONE, FLOPPY_SECTORS};
use tests::{work_dir, BootOptions, Qemu};

/// One stick for every boot on an old PC: the probe ISO, the probe as a
/// raw floppy image, GRUB's rescue CD and memtest86+ (32-bit, floppy
/// emulation).
struct OldPcStick {
    dir: PathBuf,
    image: PathBuf,
    iso: ProbeIso,
    floppy: ProbeDisk,
}

fn old_pc_stick(name: &str) -> OldPcStick {
    let dir = work_dir(name);
    let iso = build_iso(&dir, 256 * 1024);
    let floppy = build_disk(&dir, "floppy.img", FLOPPY_SECTORS, false);
    let image = dir.join("stick.img");
    dropboot([
        OsStr::new("create"),
        image.as_os_str(),
        "--size".as_ref(),
        "64M".as_ref(),
        iso.path.as_os_str(),
        floppy.path.as_os_str(),
        third_party("grub-rescue-cdrom.iso").as_os_str(),
        third_party("memtest86+ia32.iso").as_os_str(),
    ]);
    OldPcStick { dir, image, iso, floppy }
}

/// Boots the stick on an ISA PC with `cpu` and `memory_mib`, waits for the
/// menu and chooses the file whose name holds `search`.
fn boot_on(stick: &OldPcStick, name: &str, cpu: &'static str, memory_mib: u32, search: &str) -> Qemu {
    let opts = BootOptions { isa_pc_cpu: Some(cpu), memory_mib: Some(memory_mib), ..Default::default() };
    let mut vm = Qemu::boot_with(name, &stick.dir, &stick.image, &opts);
    vm.wait_screen("4 boot files on");
    vm.type_serial(search);
    vm.wait_screen(&format!("Search: {search}_   1 found"));
    vm.keys(&["ret"]);
    vm
}

/// Everything an old PC boots from the stick: the probe reads its ISO
/// and its floppy exactly through the hook, GRUB's rescue CD reaches
/// GRUB's menu and memtest86+ starts from floppy emulation.
fn an_old_pc_boots_everything(name: &str, cpu: &'static str, memory_mib: u32, cpu_name: &str) {
    let stick = old_pc_stick(name);
    let mut vm = boot_on(&stick, &format!("{name}_probe"), cpu, memory_mib, "probe.iso");
    let status = vm.wait_exit_within(Duration::from_secs(120));
    let lines = report(&vm.serial_text());
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe did not finish:\n{}", lines.join("\n"));
    check(&lines, &stick.iso, &read_at(&stick.image, 0, 512));
    drop(vm);

    let mut vm = boot_on(&stick, &format!("{name}_floppy"), cpu, memory_mib, "floppy.img");
    let status = vm.wait_exit_within(Duration::from_secs(120));
    let lines = report(&vm.serial_text());
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe floppy did not finish:\n{}", lines.join("\n"));
    check_disk(&lines, &floppy_expectation(&stick.floppy, None), &read_at(&stick.image, 0, 512));
    drop(vm);

    let mut vm = boot_on(&stick, &format!("{name}_grub"), cpu, memory_mib, "grub-rescue");
    vm.wait_serial("jumping to 0000:7C00 with DL=E0h");
    vm.wait_screen("GNU GRUB  version");
    drop(vm);

    let mut vm = boot_on(&stick, &format!("{name}_memtest"), cpu, memory_mib, "memtest");
    vm.wait_serial("presented as 1.44 MB floppy 00h");
    vm.wait_serial("jumping to 0000:7C00 with DL=00h");
    // memtest86+ itself names the CPU and counts the memory.
    let screen = vm.wait_screen("Memtest86+ v6").text();
    let top = screen.lines().next().unwrap_or_default();
    assert!(top.ends_with(cpu_name), "memtest86+ names another CPU than {cpu_name:?}:\n{screen}");
    assert!(screen.contains(&format!("Memory  :   {memory_mib}MB")), "{screen}");
}

#[test]
fn a_486_isa_pc_with_16_mib_shows_the_menu_and_boots_the_probe_grub_and_memtest() {
    an_old_pc_boots_everything("old_pc_486", "486", 16, "Intel 486DX4");
}

#[test]
fn a_pentium_isa_pc_with_32_mib_shows_the_menu_and_boots_the_probe_grub_and_memtest() {
    an_old_pc_boots_everything("old_pc_pentium", "pentium", 32, "Pentium-MMX");
}

#[test]
fn a_pentium_ii_isa_pc_shows_the_menu_and_boots_the_probe_grub_and_memtest() {
    an_old_pc_boots_everything("old_pc_pentium2", "pentium2", 64, "Pentium II");
}

/// QEMU emulates no 386, so the test plays one on a 486: stage2's first
/// code tells a 486 from a 386 by toggling the EFLAGS bits its header
/// names (the AC bit, which a 386 cannot change); with that field cleared
/// and the image sealed again, nothing toggles, exactly as on a 386.
#[test]
fn a_386_is_told_that_it_cannot_run_dropboot_and_the_bios_tries_the_next_device() {
    let dir = work_dir("old_pc_386");
    let iso = build_iso(&dir, 64 * 1024);
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "64M".as_ref(), iso.path.as_os_str()]);
    play_a_386(&image);
    let opts = BootOptions { isa_pc_cpu: Some("486"), memory_mib: Some(16), ..Default::default() };
    let mut vm = Qemu::boot_with("old_pc_386", &dir, &image, &opts);
    let message = "dropboot: this PC's CPU cannot run dropboot (a 486 or later is needed).";
    let screen = vm.wait_screen(message);
    assert!(screen.text().contains(&format!("{message}\nPress a key.")), "{}", screen.text());
    vm.wait_serial(message);
    assert!(!vm.serial_text().contains("dropboot: stage2 "), "stage2 went on:\n{}", vm.serial_text());
    // A key: INT 18h, and the BIOS goes on to its next boot device.
    vm.keys(&["ret"]);
    vm.wait_for("SeaBIOS to take over after INT 18h", |vm| std::fs::read_to_string(&vm.seabios_path).unwrap_or_default().contains("handle_18"));
}
