//! The probe boots from an ISO on the stick through dropboot and asks the
//! CD drive everything a boot loader asks; its answers, and the CRC32s of
//! a data file read with many request sizes, must match the host's.

use tests::media::copy_fragmented;
use tests::probe::{boot_and_check, build_iso, largest_hook_read, report, ProbeIso};
use tests::stick::{Case, Fs, Stick};
use tests::{BootOptions, Usb};

const DATA_BYTES: usize = 1 << 20;

/// Boots `stick` with `opts` and the probe on it, which must answer as the
/// host expects and read `iso` exactly.
fn boot_probe(case: &Case, stick: &Stick, iso: &ProbeIso, opts: &BootOptions) -> String {
    let mut vm = case.boot_with(stick, opts);
    vm.wait_screen("1 boot file on");
    boot_and_check(&mut vm, &["ret"], tests::WAIT, iso, &stick.path)
}

#[test]
fn the_probe_iso_on_an_exfat_stick_answers_like_a_cd_and_reads_its_data_exactly() {
    let case = Case::new("probe_contiguous");
    let iso = build_iso(&case.dir, DATA_BYTES);
    let serial = boot_probe(&case, &case.stick().file(&iso.path).build(), &iso, &BootOptions::default());
    // SeaBIOS reads 128 sectors whole, stage2 proves it, and the hook asks
    // each of the nested pass's 64 KiB requests in one call.
    assert!(serial.contains("reads of 128 sectors a call (128 sectors read whole)"), "{serial}");
    assert_eq!(largest_hook_read(&report(&serial)), 0x80);
}

#[test]
fn the_probe_iso_in_over_fifty_pieces_of_512_byte_clusters_reads_the_same() {
    let case = Case::new("probe_fragmented");
    let iso = build_iso(&case.dir, DATA_BYTES);
    let stick = case.stick().fs(Fs::Fat32).build();
    // 60 holes of 3 KiB the ISO must fill before it can run on.
    let runs = copy_fragmented(&stick.path, &iso.path, 60);
    assert!(runs >= 50, "the ISO should be in at least 50 pieces, mshowfat shows {runs}");
    boot_probe(&case, &stick, &iso, &BootOptions::default());
}

#[test]
fn the_probe_iso_on_a_stick_on_an_xhci_port_answers_like_a_cd_and_reads_its_data_exactly() {
    let case = Case::new("probe_usb_xhci");
    let iso = build_iso(&case.dir, DATA_BYTES);
    boot_probe(&case, &case.stick().file(&iso.path).build(), &iso, &BootOptions { usb: Some(Usb::Xhci), ..BootOptions::default() });
}
