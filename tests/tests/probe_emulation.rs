//! The probe booted as an emulated floppy and an emulated hard disk, from
//! El Torito emulation ISOs and from raw .img files: geometry, BIOS data
//! area counts, CHS reads across every track and head edge, 42h on a hard
//! disk, and the stick under its new number.

use bootfs::diskimage::{classify, DiskKind};
use tests::media::read_at;
use tests::probe::{build_disk, check_disk, emulation_iso, floppy_expectation, report, DiskExpectation, ProbeDisk, EXIT_DONE, FLOPPY_SECTORS};
use tests::stick::{Case, Stick};
use tests::{BootOptions, Usb};

/// Four cylinders of the probe disk's 16x63 geometry, so CHS reads cross
/// cylinder edges too.
const HARD_DISK_SECTORS: u32 = 4 * 16 * 63;
// The probe reads its disk five or seven times in CHS and 42h requests:
// 2-6 s on a quiet machine, 17-24 s for the floppy on EHCI (one USB
// transfer per track); the wait leaves three times that.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(90);

/// Boots `stick` with `opts`, Enter on its one file, the probe: the
/// probe's report and the stick's sector 0.
fn probe_on(case: &Case, stick: Stick, opts: &BootOptions) -> (Vec<String>, Vec<u8>) {
    let mut vm = case.boot_with(&stick, opts);
    vm.wait_screen("1 boot file on");
    vm.keys(&["ret"]);
    let status = vm.wait_exit_within(PROBE_WAIT);
    let lines = report(&vm.serial_text());
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe did not finish:\n{}", lines.join("\n"));
    (lines, read_at(&stick.path, 0, 512))
}

fn hard_disk_chs(disk: &ProbeDisk) -> (u16, u16, u16) {
    let sector0: [u8; 512] = disk.bytes[..512].try_into().unwrap();
    match classify(disk.bytes.len() as u64, &sector0) {
        Ok(DiskKind::HardDisk(c)) => (c.cylinders, c.heads, c.sectors),
        other => panic!("the probe's hard disk classifies as {other:?}"),
    }
}

fn hard_disk_expectation(disk: &ProbeDisk, eltorito_rba: Option<u32>) -> DiskExpectation<'_> {
    DiskExpectation { drive: 0x80, disk, chs: hard_disk_chs(disk), floppy_type_and_table: None, hard_disks: 2, eltorito_rba }
}

#[test]
fn the_probe_in_a_floppy_emulation_iso_reads_its_floppy_through_chs() {
    let case = Case::new("probe_floppy_iso");
    let disk = build_disk(&case.dir, "floppy.img", FLOPPY_SECTORS, false);
    let (iso, rba) = emulation_iso(&case.dir, &disk, false);
    let (lines, mbr) = probe_on(&case, case.stick().file(&iso).build(), &BootOptions::default());
    check_disk(&lines, &floppy_expectation(&disk, Some(rba)), &mbr);
}

#[test]
fn the_probe_as_a_raw_floppy_img_reads_the_same() {
    let case = Case::new("probe_floppy_img");
    let disk = build_disk(&case.dir, "floppy.img", FLOPPY_SECTORS, false);
    let (lines, mbr) = probe_on(&case, case.stick().file(&disk.path).build(), &BootOptions::default());
    check_disk(&lines, &floppy_expectation(&disk, None), &mbr);
}

#[test]
fn the_probe_as_a_raw_floppy_img_on_a_stick_on_an_ehci_port_reads_the_same() {
    let case = Case::new("probe_floppy_img_usb_ehci");
    let disk = build_disk(&case.dir, "floppy.img", FLOPPY_SECTORS, false);
    let opts = BootOptions { usb: Some(Usb::Ehci), ..BootOptions::default() };
    let (lines, mbr) = probe_on(&case, case.stick().file(&disk.path).build(), &opts);
    check_disk(&lines, &floppy_expectation(&disk, None), &mbr);
}

#[test]
fn the_probe_in_a_hard_disk_emulation_iso_reads_through_chs_and_42h_and_finds_the_stick_at_81h() {
    let case = Case::new("probe_hard_disk_iso");
    let disk = build_disk(&case.dir, "disk.img", HARD_DISK_SECTORS, true);
    let (iso, rba) = emulation_iso(&case.dir, &disk, true);
    let (lines, mbr) = probe_on(&case, case.stick().file(&iso).build(), &BootOptions::default());
    check_disk(&lines, &hard_disk_expectation(&disk, Some(rba)), &mbr);
}

#[test]
fn the_probe_as_a_raw_hard_disk_img_reads_the_same() {
    let case = Case::new("probe_hard_disk_img");
    let disk = build_disk(&case.dir, "disk.img", HARD_DISK_SECTORS, true);
    let (lines, mbr) = probe_on(&case, case.stick().file(&disk.path).build(), &BootOptions::default());
    check_disk(&lines, &hard_disk_expectation(&disk, None), &mbr);
}

#[test]
fn the_probe_as_a_raw_hard_disk_img_on_a_stick_on_an_xhci_port_reads_the_same() {
    let case = Case::new("probe_hard_disk_img_usb_xhci");
    let disk = build_disk(&case.dir, "disk.img", HARD_DISK_SECTORS, true);
    let opts = BootOptions { usb: Some(Usb::Xhci), ..BootOptions::default() };
    let (lines, mbr) = probe_on(&case, case.stick().file(&disk.path).build(), &opts);
    check_disk(&lines, &hard_disk_expectation(&disk, None), &mbr);
}

#[test]
fn an_emulated_hard_disk_from_a_usb_stick_on_a_pc_with_a_second_disk_and_a_cd_drive_moves_only_the_real_disks_up() {
    let case = Case::new("probe_hard_disk_beside_others");
    let disk = build_disk(&case.dir, "disk.img", HARD_DISK_SECTORS, true);
    let (iso, rba) = emulation_iso(&case.dir, &disk, true);
    // The PC's own hard disk (IDE, after the stick) and its CD drive.
    let second = case.file("second-disk.img");
    let mut mbr = vec![0u8; 8 << 20];
    mbr[510..512].copy_from_slice(&[0x55, 0xAA]);
    std::fs::write(&second, &mbr).expect("the second disk");
    let cd = tests::probe::build_iso(&case.file("cd"), 64 * 2048).path;
    // The stick is on USB, as a real one is, so the PC's disk and drive
    // keep their IDE places.
    let opts = BootOptions { extra_disks: vec![second], cdrom: Some(cd), usb: Some(Usb::Xhci), ..Default::default() };
    let (lines, stick_mbr) = probe_on(&case, case.stick().file(&iso).build(), &opts);
    // The emulated disk, the stick and the PC's disk: three hard disks.
    let e = DiskExpectation { hard_disks: 3, ..hard_disk_expectation(&disk, Some(rba)) };
    check_disk(&lines, &e, &stick_mbr);
    let all = lines.join("\n");
    let drive = |dl: u8| -> &str {
        lines.iter().find(|l| l.starts_with(&format!("probe: drive dl={dl:02X} "))).unwrap_or_else(|| panic!("no line for {dl:02X}h:\n{all}"))
    };
    // 80h is the image, 81h the stick, 82h the PC's disk: each answers 41h
    // and counts three hard disks in 08h.
    for dl in [0x80, 0x81, 0x82] {
        let l = drive(dl);
        assert!(l.contains(" 41 cf=0 ah=30 ") && l.contains(" 08 cf=0 ah=00 dx=") && l.ends_with("03"), "{l}\n{all}");
    }
    // No fourth disk appears, and the CD drive keeps its number.
    assert!(drive(0x83).contains(" 41 cf=1 "), "{all}");
    assert!(drive(0xE0).contains(" 41 cf=0 ah="), "the CD drive at E0h still answers 41h: {all}");
}
