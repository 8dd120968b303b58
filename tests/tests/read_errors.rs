//! A failing stick: QEMU's blkdebug makes reads of chosen sectors fail, as
//! bad flash does. stage2 names the read error and keeps the menu; under
//! the hook, the boot loader gets the BIOS's error code back, and the hook
//! never hangs.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bootfs::block::{FileDevice, Window};
use bootfs::filesystem::Filesystem;
use bootfs::layout::{DATA_PARTITION_LBA, STAGE2_LBA};
use tests::media::data_partition;
use tests::probe::{build_iso, report, EXIT_DONE};
use tests::stick::Case;
use tests::BootOptions;

const PROMPTLY: Duration = Duration::from_secs(10);

/// The stick's data partition, read on the host.
fn volume(image: &Path) -> Filesystem<Window<FileDevice<fs::File>>> {
    Filesystem::open(data_partition(image)).expect("the data partition")
}

/// The disk sector holding byte `offset` of the file at `path`.
fn disk_sector_of(image: &Path, path: &str, offset: u64) -> u64 {
    let mut v = volume(image);
    let file = bootfs::scan::find_file(&mut v, path).expect("read").expect("the file");
    let map = v.extent_map(&file).expect("its map");
    let (lba, _) = map.lookup(offset / 512).expect("mapped");
    DATA_PARTITION_LBA as u64 + lba
}

/// A blkdebug rule file: each `(sector, once)` makes reads of that sector
/// fail with EIO, every time, or (`once`) once for each such rule.
fn blkdebug_rules(dir: &Path, rules: impl IntoIterator<Item = (u64, bool)>) -> PathBuf {
    let text: String = rules
        .into_iter()
        .map(|(sector, once)| {
            let once = if once { "on" } else { "off" };
            format!("[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\nsector = \"{sector}\"\nonce = \"{once}\"\n\n")
        })
        .collect();
    let path = dir.join("blkdebug.conf");
    fs::write(&path, text).expect("blkdebug rules");
    path
}

/// Reads of each of `sectors` fail, every time.
fn failing_sectors(dir: &Path, sectors: &[u64]) -> PathBuf {
    blkdebug_rules(dir, sectors.iter().map(|&s| (s, false)))
}

/// The first `times` reads of `sector` fail, the next ones work (as a
/// stick's controller that fails a transfer and does the next).
fn sector_failing(dir: &Path, sector: u64, times: usize) -> PathBuf {
    blkdebug_rules(dir, (0..times).map(|_| (sector, true)))
}

/// A stick of one file whose stage2 sector in stage1's second track read
/// fails `times` times, booted.
fn boot_with_stage2_failing(name: &str, times: usize) -> tests::Qemu {
    let case = Case::new(name);
    let stick = case.stick().file(case.random_file("a.iso", 4096, 1)).build();
    let sector = STAGE2_LBA as u64 + 100;
    let opts = BootOptions { blkdebug: Some(sector_failing(&case.dir, sector, times)), ..BootOptions::default() };
    case.boot_with(&stick, &opts)
}

#[test]
fn a_stage2_sector_that_fails_three_times_is_read_again_by_stage1_and_the_menu_comes() {
    let mut vm = boot_with_stage2_failing("stage1_read_again", 3);
    vm.wait_screen("1 boot file on");
    assert!(!vm.serial_text().contains("dropboot: read error"), "{}", vm.serial_text());
}

#[test]
fn a_stage2_sector_that_fails_four_times_makes_stage1_name_the_read_error() {
    let mut vm = boot_with_stage2_failing("stage1_read_error", 4);
    vm.wait_screen("dropboot: read error 0x");
    vm.wait_serial("dropboot: read error 0x");
}

#[test]
fn a_folder_that_cannot_be_read_is_named_and_the_menu_lists_the_rest() {
    let case = Case::new("read_error_folder");
    let stick = case.stick().file_in(case.random_file("a.iso", 4096, 1), "/").file_in(case.random_file("b.iso", 4096, 2), "/bad").build();
    let mut v = volume(&stick.path);
    let root = bootfs::scan::list_dir(&mut v, "/").expect("root").expect("root");
    let bad = root.iter().find(|e| e.name == "bad").expect("/bad");
    let bootfs::filesystem::Filesystem::Exfat(ex) = &v else { panic!("exFAT") };
    let sector = DATA_PARTITION_LBA as u64 + ex.geometry.heap_start + (bad.node.fat_cluster() as u64 - 2) * (ex.cluster_bytes() / 512);
    let opts = BootOptions { blkdebug: Some(failing_sectors(&case.dir, &[sector])), ..BootOptions::default() };
    let mut vm = case.boot_with(&stick, &opts);
    let screen = vm.wait_screen("1 boot file on");
    let text = screen.text();
    assert!(text.contains("/a.iso"), "{text}");
    assert!(text.contains("Skipped /bad: disk read error 0x"), "the folder and the BIOS's code:\n{text}");
    let serial = vm.serial_text();
    assert!(
        serial.contains("skipped /bad: disk read error 0x") && serial.contains(&format!(" at sector {sector}")),
        "the disk sector, as a disk tool counts:\n{serial}"
    );
}

#[test]
fn a_read_error_while_booting_an_iso_is_named_and_the_menu_stays() {
    let case = Case::new("read_error_boot");
    let probe = build_iso(&case.dir, 64 * 1024);
    let stick = case.stick().file_in(&probe.path, "/").build();
    // The primary volume descriptor (block 16) cannot be read.
    let sector = disk_sector_of(&stick.path, "/probe.iso", 16 * 2048);
    let opts = BootOptions { blkdebug: Some(failing_sectors(&case.dir, &[sector])), ..BootOptions::default() };
    let mut vm = case.boot_with(&stick, &opts);
    vm.wait_screen("1 boot file on");
    vm.keys(&["ret"]);
    vm.wait_serial_within("Cannot boot probe.iso: disk read error 0x", PROMPTLY);
    let screen = vm.wait_screen("Cannot boot probe.iso: disk read error");
    assert_eq!(screen.row_attr(screen.find("Cannot boot").expect("status")), 0x4F);
    assert!(screen.text().contains("/probe.iso"), "the menu stays:\n{}", screen.text());
    // Enter again: the same answer, not a hang.
    vm.keys(&["ret"]);
    vm.wait_for("a second message", |q| q.serial_text().matches("Cannot boot probe.iso: disk read error").count() >= 2);
}

#[test]
fn a_read_error_under_the_hook_reaches_the_boot_loader_as_a_bios_error_code() {
    let case = Case::new("read_error_hook");
    let probe = build_iso(&case.dir, 64 * 1024);
    let stick = case.stick().file_in(&probe.path, "/").build();
    // A sector in the middle of the probe's data file.
    let sector = disk_sector_of(&stick.path, "/probe.iso", probe.data_lba as u64 * 2048 + 20 * 1024);
    let opts = BootOptions { blkdebug: Some(failing_sectors(&case.dir, &[sector])), ..BootOptions::default() };
    let mut vm = case.boot_with(&stick, &opts);
    vm.wait_screen("1 boot file on");
    vm.keys(&["ret"]);
    let status = vm.wait_exit();
    let lines = report(&vm.serial_text());
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe ran to its end:\n{}", lines.join("\n"));
    let passes: Vec<&String> = lines.iter().filter(|l| l.starts_with("probe: crc ")).collect();
    assert_eq!(passes.len(), 9, "{}", lines.join("\n"));
    for l in &passes {
        let code = l.rsplit("error=").next().filter(|_| l.contains(" error=")).unwrap_or_else(|| panic!("{l}: no error reported"));
        assert!(code != "00", "{l}: a failed read carries the BIOS's code");
    }
    assert!(lines.iter().any(|l| l == "probe: done"), "{}", lines.join("\n"));
}
