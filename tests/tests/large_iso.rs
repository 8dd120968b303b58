//! ISO files larger than 4 GiB on an exFAT stick: FAT32 cannot hold them,
//! exFAT can, and the hook's 64-bit sizes and LBAs must hold too.

use tests::probe::{boot_and_check, build_iso, move_data_to};
use tests::stick::Case;

#[test]
fn a_probe_iso_of_over_4_gib_on_an_8_gib_exfat_stick_reads_its_data_past_4_gib() {
    let case = Case::new("large_iso");
    let mut iso = build_iso(&case.dir, 1 << 20);
    // The data from 4.5 GiB on: the file is over 4 GiB, its data past the mark.
    move_data_to(&mut iso, 9 << 29);
    assert!(std::fs::metadata(&iso.path).unwrap().len() > 4 << 30);
    let stick = case.stick().size("8G").file(&iso.path).build();
    let image = &stick.path;
    let listed = stick.run("list", &[]);
    assert!(listed.contains(&format!("{}  /probe.iso", iso.blocks as u64 * 2048)), "{listed}");

    let mut vm = case.boot(&stick);
    vm.wait_screen("1 boot file on exFAT");
    boot_and_check(&mut vm, &["ret"], tests::WAIT, &iso, image);
    // The stick image stayed sparse: the holes were not written.
    let used = tests::media::output(std::process::Command::new("du").arg("-k").arg(image));
    let kib: u64 = String::from_utf8_lossy(&used.stdout).split_whitespace().next().unwrap().parse().unwrap();
    assert!(kib < 64 * 1024, "the 8 GiB image takes {kib} KiB on disk");
}
