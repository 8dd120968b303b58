//! Old PCs: a BIOS without INT 13h extensions, one that passes the wrong
//! boot drive, one that writes a BPB over the MBR in memory, one whose
//! AH=08h fails, a 16-bit BIOS that clears the high halves of 32-bit
//! registers, and BIOSes that get a read of more than 127 sectors (EDD's
//! limit) wrong in each way one can. The old PC is played by a floppy boot sector
//! (tests/probe/old_bios.asm) that filters SeaBIOS's INT 13h, then boots
//! the stick at 80h.

use tests::media::read_at;
use tests::probe::{
    build_iso, build_iso_after, check_on, largest_hook_read, largest_read_for, old_bios_floppy, report, ProbeIso, StickBios, CLEARED_BY_OLD_BIOS,
    EXIT_DONE, OLD_BIOS_CLEARS_HIGH_HALVES, OLD_BIOS_KEEPS_EXTENSIONS, OLD_BIOS_MASKS_COUNT, OLD_BIOS_NO_GEOMETRY, OLD_BIOS_READS_SHORT,
    OLD_BIOS_REFUSES_LATER, OLD_BIOS_REFUSES_OVER_127, OLD_BIOS_WRITES_BPB,
};
use tests::stick::Case;
use tests::{BootOptions, Usb};

const DATA_BYTES: usize = 1 << 20;

#[test]
fn a_pc_without_int13_extensions_that_writes_a_bpb_over_the_mbr_boots_an_iso_read_by_chs_end_to_end() {
    let case = Case::new("old_bios_chs");
    let iso = build_iso(&case.dir, DATA_BYTES);
    let stick = case.stick().file(&iso.path).build();
    let floppy = old_bios_floppy(&case.dir, 0x80, OLD_BIOS_WRITES_BPB);
    let mut vm = case.boot_with(&stick, &BootOptions { boot_floppy: Some(floppy), ..Default::default() });
    // stage1 read stage2 by CHS (it has no other way), past the BPB bytes
    // the BIOS wrote, and stage2 reads the stick by CHS.
    vm.wait_screen("1 boot file on");
    let log = vm.serial_text();
    assert!(log.contains("old-bios: INT 13h extensions hidden; booting 80h by CHS with DL=80h"), "{log}");
    assert!(log.contains("disk 80h: INT 13h extensions no, using CHS"), "{log}");
    vm.keys(&["ret"]);
    let status = vm.wait_exit();
    let log = vm.serial_text();
    // The hook reads the ISO from the stick by CHS: every CRC the probe
    // takes, over eight request patterns and a nested pass, is the host's.
    assert!(log.contains("the hook reads the stick by CHS"), "{log}");
    let lines = report(&log);
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe did not finish:\n{}", lines.join("\n"));
    check_on(&lines, &iso, &read_at(&stick.path, 0, 512), StickBios::ChsOnly);
}

#[test]
fn a_bios_that_passes_dl_00h_for_a_stick_at_80h_still_reaches_the_menu() {
    let case = Case::new("old_bios_dl");
    let iso = build_iso(&case.dir, 64 * 1024);
    let stick = case.stick().file(&iso.path).build();
    // Drive 00h is the floppy: stage1 finds no stage2 there and tries 80h.
    let floppy = old_bios_floppy(&case.dir, 0x00, 0);
    let mut vm = case.boot_with(&stick, &BootOptions { boot_floppy: Some(floppy), ..Default::default() });
    vm.wait_screen("1 boot file on");
    let log = vm.serial_text();
    assert!(log.contains("booting 80h by CHS with DL=00h"), "{log}");
    assert!(log.contains("disk 80h: INT 13h extensions"), "stage2 was started from 80h:\n{log}");
}

#[test]
fn a_bios_whose_int13_08h_fails_gets_stage1_naming_the_geometry_call() {
    let case = Case::new("old_bios_geometry");
    let iso = build_iso(&case.dir, 64 * 1024);
    let stick = case.stick().file(&iso.path).build();
    let floppy = old_bios_floppy(&case.dir, 0x80, OLD_BIOS_NO_GEOMETRY);
    let mut vm = case.boot_with(&stick, &BootOptions { boot_floppy: Some(floppy), ..Default::default() });
    vm.wait_screen("dropboot: geometry error 0x01");
    vm.wait_serial("dropboot: geometry error 0x01");
}

/// A 16-bit BIOS (Bochs's rombios restores registers with a 16-bit POPA)
/// under the hook, with the probe's data 33 MiB into the ISO: the hook's
/// requests past 32 MiB that it splits over several BIOS calls (64 KiB
/// and more) must read what the host reads. `quirks` adds the old PC's
/// other traits.
fn a_16_bit_bios_reads_past_32_mib_exactly(name: &str, usb: Option<Usb>, quirks: u8, bios: StickBios) {
    let case = Case::new(name);
    let iso = build_iso_after(&case.dir, 33 << 20, DATA_BYTES, 0);
    the_probe_reads_exactly_under(&case, &iso, OLD_BIOS_CLEARS_HIGH_HALVES | quirks, usb, "high halves cleared; booting 80h", bios);
}

/// Boots the probe ISO `iso` from a stick (on `usb`, or IDE) under the old
/// BIOS with `quirks`; COM1 says `said` as the boot starts, and every
/// read the probe then makes is the host's.
fn the_probe_reads_exactly_under(case: &Case, iso: &ProbeIso, quirks: u8, usb: Option<Usb>, said: &str, bios: StickBios) {
    let stick = case.stick().file(&iso.path).build();
    let floppy = old_bios_floppy(&case.dir, 0x80, quirks);
    let mut vm = case.boot_with(&stick, &BootOptions { boot_floppy: Some(floppy), usb, ..Default::default() });
    vm.wait_screen("1 boot file on");
    vm.keys(&["ret"]);
    let status = vm.wait_exit();
    let log = vm.serial_text();
    assert!(log.contains(said), "{said:?} on COM1:\n{log}");
    let lines = report(&log);
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe did not finish:\n{}", lines.join("\n"));
    check_on(&lines, iso, &read_at(&stick.path, 0, 512), bios);
    // The ISO is in one piece: each 64 KiB request is one call.
    assert_eq!(largest_hook_read(&lines), largest_read_for(bios), "{lines:#?}");
}

#[test]
fn a_16_bit_bios_that_clears_high_halves_reads_an_iso_exactly_past_32_mib_on_ide() {
    a_16_bit_bios_reads_past_32_mib_exactly("old_bios_16bit_ide", None, OLD_BIOS_KEEPS_EXTENSIONS, StickBios::SixteenBit(CLEARED_BY_OLD_BIOS));
}

#[test]
fn a_16_bit_bios_that_clears_high_halves_reads_an_iso_exactly_past_32_mib_from_a_usb_stick() {
    a_16_bit_bios_reads_past_32_mib_exactly(
        "old_bios_16bit_usb",
        Some(Usb::Xhci),
        OLD_BIOS_KEEPS_EXTENSIONS,
        StickBios::SixteenBit(CLEARED_BY_OLD_BIOS),
    );
}

#[test]
fn a_16_bit_bios_without_extensions_reads_an_iso_exactly_past_32_mib_by_chs() {
    a_16_bit_bios_reads_past_32_mib_exactly("old_bios_16bit_chs", None, 0, StickBios::ChsOnly);
}

/// The probe's ISO, with its data past 2 MiB, booted on a BIOS that
/// answers reads of more than 127 sectors as `quirk` says: stage2's log
/// says what it found (`said`), and every read the probe makes, 64 KiB
/// requests included, is the host's; `bios` says how many sectors the
/// hook's largest call asked for.
fn a_bios_with_a_count_quirk_reads_the_iso_exactly(name: &str, quirk: u8, said: &str, bios: StickBios) {
    let case = Case::new(name);
    let iso = build_iso_after(&case.dir, 2 << 20, DATA_BYTES, 0);
    let said = format!("disk 80h: {said}");
    the_probe_reads_exactly_under(&case, &iso, OLD_BIOS_KEEPS_EXTENSIONS | quirk, None, &said, bios);
}

#[test]
fn a_bios_that_refuses_128_sectors_as_edd_says_is_read_127_a_call() {
    a_bios_with_a_count_quirk_reads_the_iso_exactly(
        "old_bios_refuses_128",
        OLD_BIOS_REFUSES_OVER_127,
        "reads of 127 sectors a call (128 failed with error 0x01)",
        StickBios::At127,
    );
}

#[test]
fn a_bios_that_masks_the_count_to_7_bits_and_says_yes_is_read_127_a_call() {
    a_bios_with_a_count_quirk_reads_the_iso_exactly(
        "old_bios_masks_count",
        OLD_BIOS_MASKS_COUNT,
        "reads of 127 sectors a call (128 came back as 0)",
        StickBios::At127,
    );
}

#[test]
fn a_bios_that_reads_127_sectors_and_says_128_is_read_127_a_call() {
    a_bios_with_a_count_quirk_reads_the_iso_exactly(
        "old_bios_reads_short",
        OLD_BIOS_READS_SHORT,
        "reads of 127 sectors a call (128 did not read what 127 + 1 read)",
        StickBios::At127,
    );
}

#[test]
fn a_bios_that_reads_128_sectors_for_stage2_and_refuses_them_under_the_hook_is_read_again_127_a_call() {
    // stage2 proved 128 and told the hook; the hook's first 128-sector
    // read (the probe's first 64 KiB request) fails with 09h, so it asks
    // 127 from then on and reads that piece again: the probe sees no
    // error, every CRC is the host's, and the nested pass, later, sees
    // the hook ask at most 127.
    a_bios_with_a_count_quirk_reads_the_iso_exactly(
        "old_bios_refuses_later",
        OLD_BIOS_REFUSES_LATER,
        "reads of 128 sectors a call (128 sectors read whole)",
        StickBios::At127,
    );
}
