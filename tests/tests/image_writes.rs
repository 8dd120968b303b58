//! A disk image file keeps what its system writes: booted from the stick
//! as an emulated hard disk or floppy, the tests' writing boot sector
//! (tests/probe/writes.asm) writes sectors through INT 13h by CHS (03h)
//! and by packet (43h), up to the image's last sector; one past it is
//! refused. The next boot reads its marks back, the host finds them in the
//! file, and no sector of the stick outside the file changed but the
//! entry its partition gets in sector 0 (and its record), which the next
//! start takes out again. A write-protected stick gives the BIOS's error
//! back to the writer.

use std::fs;
use std::path::Path;

use bootfs::iso_partition::RECORD_LBA;
use bootfs::mbr::{entry_range, PartitionEntry};
use tests::media::{changed_outside, file_sectors, read_at};
use tests::probe::{writes_disk, EXIT_WRITES};
use tests::stick::{Case, Stick};
use tests::{BootOptions, Usb};

/// Four cylinders of 16 heads and 63 sectors.
const HARD_DISK_SECTORS: u32 = 4 * 16 * 63;
const FLOPPY_SECTORS: u32 = 2880;

/// Boots the stick's one file and returns the writer's report lines.
fn boot_once(case: &Case, stick: &Stick, opts: &BootOptions) -> Vec<String> {
    let mut vm = case.boot_with(stick, opts);
    vm.wait_screen("1 boot file on");
    vm.keys(&["ret"]);
    let status = vm.wait_exit();
    let lines: Vec<String> = vm.serial_text().lines().filter(|l| l.starts_with("writes: ")).map(|l| l.trim_end().to_string()).collect();
    assert_eq!(status.code(), Some(EXIT_WRITES), "the writer did not finish:\n{}", vm.serial_text());
    lines
}

/// The file `path` as the stick holds it now, read through its runs.
fn file_bytes(image: &Path, runs: &[std::ops::Range<u64>], len: usize) -> Vec<u8> {
    let stick = fs::read(image).expect("the stick");
    let mut out: Vec<u8> = runs.iter().flat_map(|r| stick[r.start as usize * 512..r.end as usize * 512].to_vec()).collect();
    out.truncate(len);
    out
}

/// Boots twice; after each boot the marks' counts are 1, then 2, in the
/// file the host reads, and nothing outside the file changed.
fn keeps_its_writes(name: &str, sectors: u32, hard_disk: bool, usb: Option<Usb>) {
    let case = Case::new(name);
    let file_name = if hard_disk { "disk.img" } else { "floppy.img" };
    let disk = writes_disk(&case.dir, file_name, sectors, hard_disk);
    let original = fs::read(&disk).expect("the image");
    let stick = case.stick().file(&disk).build();
    let image = stick.path.clone();
    let runs = file_sectors(&image, &format!("/{file_name}"));
    let first_sector0 = read_at(&image, 0, 512);
    // Besides the file, the loader writes sector 0 (the hard disk image's
    // partition as partition 2) and its record of that, nothing else.
    let mut allowed = runs.clone();
    allowed.extend([0..1, RECORD_LBA..RECORD_LBA + 1]);
    let last = sectors as usize - 1;
    let (drive, past) = if hard_disk { ("80", "writes: past cf=1 ah=02") } else { ("00", "writes: past cf=1 ah=04") };
    for boot in 1..=2u8 {
        let before = fs::read(&image).expect("the stick");
        let opts = BootOptions { usb, ..BootOptions::default() };
        let lines = boot_once(&case.step(&format!("boot{boot}")), &stick, &opts);
        let found = format!("{:02X}", boot - 1);
        let mut expected = vec![format!("writes: drive={drive}"), format!("writes: chs before={found} cf=0 ah=00")];
        if hard_disk {
            expected.push(format!("writes: packet before={found} cf=0 ah=00"));
        }
        expected.push(past.to_string());
        assert_eq!(lines, expected, "boot {boot}");

        let after = fs::read(&image).expect("the stick");
        assert_eq!(changed_outside(&before, &after, &allowed), Vec::<u64>::new(), "boot {boot} changed sectors outside the file");
        let sector0 = &after[..512];
        let changed: Vec<usize> = (0..512).filter(|&i| sector0[i] != first_sector0[i]).collect();
        if hard_disk {
            assert!(changed.iter().all(|i| entry_range(1).contains(i)), "only slot 2 of sector 0 changes: {changed:?}");
            let entry = PartitionEntry::from_bytes(sector0[entry_range(1)].try_into().expect("16 bytes"));
            assert_eq!((entry.kind, entry.start_lba as u64, entry.sectors), (0x00, runs[0].start + 63, sectors - 63), "its partition");
        } else {
            assert_eq!(changed, Vec::<usize>::new(), "a floppy has no partitions to show");
        }
        // The file: as it was, but for the marks at the sectors written.
        let now = file_bytes(&image, &runs, original.len());
        let mut want = original.clone();
        let chs_sector = if hard_disk { last - 1 } else { last };
        want[chs_sector * 512..chs_sector * 512 + 6].copy_from_slice(&[b'D', b'R', b'P', b'W', b'C', boot]);
        if hard_disk {
            want[last * 512..last * 512 + 6].copy_from_slice(&[b'D', b'R', b'P', b'W', b'P', boot]);
        }
        let differs: Vec<usize> = (0..want.len() / 512).filter(|&s| now[s * 512..(s + 1) * 512] != want[s * 512..(s + 1) * 512]).collect();
        assert!(differs.is_empty(), "boot {boot}: the file's sectors {differs:?} are not what was written");
    }
    let mut vm = case.step("next_start").boot_with(&stick, &BootOptions { usb, ..BootOptions::default() });
    vm.wait_screen("1 boot file on");
    drop(vm);
    assert_eq!(read_at(&image, 0, 512), first_sector0, "the next start puts sector 0 back byte for byte");
}

#[test]
fn a_hard_disk_image_writes_by_chs_and_packet_up_to_its_last_sector_and_the_next_boot_reads_them_back() {
    keeps_its_writes("writes_hard_disk", HARD_DISK_SECTORS, true, None);
}

#[test]
fn a_hard_disk_image_on_a_stick_on_an_xhci_port_keeps_its_writes_too() {
    keeps_its_writes("writes_hard_disk_usb_xhci", HARD_DISK_SECTORS, true, Some(Usb::Xhci));
}

#[test]
fn a_floppy_image_saves_a_sector_by_chs_and_one_past_its_last_cylinder_is_refused() {
    keeps_its_writes("writes_floppy", FLOPPY_SECTORS, false, None);
}

#[test]
fn on_a_write_protected_stick_the_bioss_error_comes_back_to_the_writer_and_the_file_is_unchanged() {
    let case = Case::new("writes_read_only");
    let disk = writes_disk(&case.dir, "disk.img", HARD_DISK_SECTORS, true);
    let stick = case.stick().file(&disk).build();
    let image = &stick.path;
    let before = fs::read(image).expect("the stick");
    let opts = BootOptions { read_only: true, usb: Some(Usb::Xhci), ..BootOptions::default() };
    let lines = boot_once(&case, &stick, &opts);
    let status = |what: &str| lines.iter().find(|l| l.starts_with(what)).cloned().unwrap_or_else(|| panic!("no {what:?} in {lines:?}"));
    // The stick's BIOS failed the writes; the hook passed its error on.
    for what in ["writes: chs before=00 cf=1 ah=", "writes: packet before=00 cf=1 ah="] {
        let line = status(what);
        assert!(!line.ends_with("ah=00"), "{line}");
    }
    assert_eq!(fs::read(image).expect("the stick"), before, "a write-protected stick is not written");
}
