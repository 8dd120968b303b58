//! Old PCs: ISA machines with a 486, a Pentium and a Pentium II (QEMU's
//! `isapc`, 16 and 32 MiB), where stage2 must run without the CPU
//! features of later PCs (no CMOV, no CMPXCHG8B, no RDTSC), and a 386,
//! which gets a sentence instead of a hang. The stick is on ISA IDE (the
//! machine has no PCI, so no USB).

use std::time::Duration;

use tests::media::{play_a_386, read_at, third_party};
use tests::probe::{build_disk, build_iso, check, check_disk, floppy_expectation, report, EXIT_DONE, FLOPPY_SECTORS};
use tests::stick::{Case, Stick};
use tests::{BootOptions, Qemu};

/// Boots `stick` on an ISA PC with `cpu` and `memory_mib` (the step of
/// `case` named `what`), waits for the menu and chooses the file whose
/// name holds `search`.
fn boot_on(case: &Case, what: &str, stick: &Stick, cpu: &'static str, memory_mib: u32, search: &str) -> Qemu {
    let opts = BootOptions { isa_pc_cpu: Some(cpu), memory_mib: Some(memory_mib), ..Default::default() };
    let mut vm = case.step(what).boot_with(stick, &opts);
    vm.wait_screen("4 boot files on");
    vm.type_serial(search);
    vm.wait_screen(&format!("Search: {search}_   1 found"));
    vm.keys(&["ret"]);
    vm
}

/// Everything an old PC boots from one stick: the probe reads its ISO
/// and its floppy exactly through the hook, GRUB's rescue CD reaches
/// GRUB's menu and memtest86+ (32-bit) starts from floppy emulation.
fn an_old_pc_boots_everything(name: &str, cpu: &'static str, memory_mib: u32, cpu_name: &str) {
    let case = Case::new(name);
    let iso = build_iso(&case.dir, 256 * 1024);
    let floppy = build_disk(&case.dir, "floppy.img", FLOPPY_SECTORS, false);
    let stick = case.stick().files([&iso.path, &floppy.path, &third_party("grub-rescue-cdrom.iso"), &third_party("memtest86+ia32.iso")]).build();
    let mut vm = boot_on(&case, "probe", &stick, cpu, memory_mib, "probe.iso");
    let status = vm.wait_exit_within(Duration::from_secs(120));
    let lines = report(&vm.serial_text());
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe did not finish:\n{}", lines.join("\n"));
    check(&lines, &iso, &read_at(&stick.path, 0, 512));
    drop(vm);

    let mut vm = boot_on(&case, "floppy", &stick, cpu, memory_mib, "floppy.img");
    let status = vm.wait_exit_within(Duration::from_secs(120));
    let lines = report(&vm.serial_text());
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe floppy did not finish:\n{}", lines.join("\n"));
    check_disk(&lines, &floppy_expectation(&floppy, None), &read_at(&stick.path, 0, 512));
    drop(vm);

    let mut vm = boot_on(&case, "grub", &stick, cpu, memory_mib, "grub-rescue");
    vm.wait_serial("jumping to 0000:7C00 with DL=E0h");
    vm.wait_screen("GNU GRUB  version");
    drop(vm);

    let mut vm = boot_on(&case, "memtest", &stick, cpu, memory_mib, "memtest");
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
    let case = Case::new("old_pc_386");
    let iso = build_iso(&case.dir, 64 * 1024);
    let stick = case.stick().file(&iso.path).build();
    play_a_386(&stick.path);
    let mut vm = case.boot_with(&stick, &BootOptions { isa_pc_cpu: Some("486"), memory_mib: Some(16), ..Default::default() });
    let message = "dropboot: this PC's CPU cannot run dropboot (a 486 or later is needed).";
    let screen = vm.wait_screen(message);
    assert!(screen.text().contains(&format!("{message}\nPress a key.")), "{}", screen.text());
    vm.wait_serial(message);
    assert!(!vm.serial_text().contains("dropboot: stage2 "), "stage2 went on:\n{}", vm.serial_text());
    // A key: INT 18h, and the BIOS goes on to its next boot device.
    vm.keys(&["ret"]);
    vm.wait_for("SeaBIOS to take over after INT 18h", |vm| std::fs::read_to_string(&vm.seabios_path).unwrap_or_default().contains("handle_18"));
}
