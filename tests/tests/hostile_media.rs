//! Sticks a person may really carry: FATs damaged by a stick pulled out
//! mid-write, a folder whose chain never ends, a volume with a nonsense
//! boot sector, El Torito entries with absurd sector counts. Each gets its
//! message within seconds and a way back (the menu, or a reboot); the
//! harness's watchdog fails anything that hangs.

use std::fs;
use std::path::Path;
use std::time::Duration;

use bootfs::block::{FileDevice, Window};
use bootfs::fat::Fat32;
use bootfs::layout::DATA_PARTITION_LBA;
use tests::media::{data_partition, patch, read_at};
use tests::probe::{build_iso, EXIT_DONE};
use tests::stick::{Case, Fs};

/// A message must come this soon after the key that asked for it.
const PROMPTLY: Duration = Duration::from_secs(10);

const PART: u64 = DATA_PARTITION_LBA as u64 * 512;

/// The FAT32 data partition of `image`, for finding what to damage.
fn fat32_of(image: &Path) -> Fat32<Window<FileDevice<fs::File>>> {
    Fat32::open(data_partition(image)).expect("a FAT32 partition")
}

/// Sets FAT entry `cluster` to `value` in every copy of the FAT.
fn set_fat_entry(image: &Path, fat: &Fat32<Window<FileDevice<fs::File>>>, cluster: u32, value: u32) {
    let copies = read_at(image, PART + 16, 1)[0] as u64;
    for copy in 0..copies {
        let at = PART + (fat.geometry.fat_start + copy * fat.geometry.fat_sectors) * 512 + cluster as u64 * 4;
        patch(image, at, &value.to_le_bytes());
    }
}

#[test]
fn damaged_fat_chains_and_an_endless_folder_each_get_their_message_and_the_menu_stays() {
    let case = Case::new("damaged_chains");
    let names = ["a-loops.iso", "b-cross-linked.iso", "c-cut-short.iso", "d-intact.iso"];
    let files: Vec<_> = names.iter().enumerate().map(|(i, n)| case.random_file(n, 40 * 512, i as u64 + 1)).collect();
    let inner = case.random_file("inside.iso", 2048, 9);
    let stick = case.stick().fs(Fs::Fat32).files(&files).file_in(&inner, "/endless").build();
    let image = &stick.path;

    let mut fat = fat32_of(image);
    assert_eq!(fat.geometry.cluster_sectors, 1, "512-byte clusters: each file is 40 clusters");
    let report = bootfs::scan::scan(&mut fat).expect("scan");
    let first = |name: &str| report.files.iter().find(|f| f.name() == name).expect("listed").node.fat_cluster();
    let (a, b, c, d) = (first(names[0]), first(names[1]), first(names[2]), first(names[3]));
    let endless = bootfs::scan::list_dir(&mut fat, "/")
        .expect("root")
        .expect("root")
        .into_iter()
        .find(|e| e.name == "endless")
        .expect("/endless")
        .node
        .fat_cluster();
    // A loop inside the chain: cluster 10 leads back to cluster 5.
    set_fat_entry(image, &fat, a + 9, a + 4);
    // A cross-link: after 10 of its clusters, b runs on into d's chain.
    set_fat_entry(image, &fat, b + 9, d + 1);
    // A chain cut short (a stick pulled out): it ends after 20 clusters.
    set_fat_entry(image, &fat, c + 19, 0x0FFF_FFFF);
    // A folder whose chain points back at itself.
    set_fat_entry(image, &fat, endless, endless);

    let mut vm = case.boot(&stick);
    let screen = vm.wait_screen("4 boot files");
    let text = screen.text();
    assert!(text.contains("Skipped /endless: "), "the endless folder is named on the status row:\n{text}");
    assert!(!text.contains("inside.iso"), "{text}");
    let expected = [
        format!("Cannot boot {}: the file is damaged on the stick: cluster chain from {a} loops", names[0]),
        format!("Cannot boot {}: the file is damaged on the stick: file at cluster {b} has more clusters than its 20480 bytes need", names[1]),
        format!(
            "Cannot boot {}: the file is damaged on the stick: file at cluster {c} is 20480 bytes but its chain ends after 20 clusters",
            names[2]
        ),
    ];
    for (i, line) in expected.iter().enumerate() {
        if i > 0 {
            vm.keys(&["down"]);
        }
        vm.keys(&["ret"]);
        vm.wait_serial_within(line, PROMPTLY);
        let screen = vm.wait_screen(&format!("Cannot boot {}", names[i]));
        assert!(screen.text().contains("4 boot files") && screen.text().contains("/d-intact.iso"), "the menu is back:\n{}", screen.text());
    }
}

#[test]
fn a_volume_with_zero_sectors_per_cluster_is_named_and_enter_reboots() {
    let case = Case::new("zero_sectors_per_cluster");
    let stick = case.stick().fs(Fs::Fat32).build();
    patch(&stick.path, PART + 13, &[0]);
    let mut vm = case.boot(&stick);
    let screen = vm.wait_screen("cannot start");
    assert!(screen.text().contains("Partition 1 (type 0Ch) is not exFAT, FAT32 or NTFS."), "{}", screen.text());
    assert!(screen.text().contains("Enter: reboot"), "{}", screen.text());
    assert!(vm.serial_text().contains("partition 1: not a FAT32 volume"), "the reason on COM1:\n{}", vm.serial_text());
    vm.keys(&["ret"]);
    vm.wait_exit();
    assert!(vm.serial_text().contains("rebooting"), "{}", vm.serial_text());
}

/// The probe ISO with its El Torito entry's sector count set to `count`.
fn probe_with_count(dir: &Path, data_bytes: usize, count: u16) -> std::path::PathBuf {
    let probe = build_iso(dir, data_bytes);
    let mut bytes = fs::read(&probe.path).expect("probe ISO");
    let catalog = bootfs::iso9660::Volume::read(&mut bytes.clone()[..]).expect("ISO").boot_catalog.expect("catalog");
    let entry = catalog as usize * 2048 + 32;
    bytes[entry + 6..entry + 8].copy_from_slice(&count.to_le_bytes());
    let out = dir.join(format!("count-{count}.iso"));
    fs::write(&out, bytes).expect("patched ISO");
    out
}

#[test]
fn a_boot_image_sector_count_of_0_loads_one_block_and_the_probe_still_boots() {
    let case = Case::new("sector_count_0");
    let iso = probe_with_count(&case.dir, 64 * 1024, 0);
    let mut vm = case.boot(case.stick().file(&iso).build());
    vm.wait_screen("1 boot file on");
    vm.keys(&["ret"]);
    let status = vm.wait_exit();
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe loads the rest of itself:\n{}", vm.serial_text());
    assert!(vm.serial_text().contains("2048 bytes at 0000:7C00"), "one 2048-byte block:\n{}", vm.serial_text());
}

#[test]
fn a_boot_image_sector_count_of_65535_is_refused_with_its_size_and_the_menu_stays() {
    let case = Case::new("sector_count_65535");
    // 40 MiB of data: the 32 MiB boot image lies inside the file, so it is
    // its size that is refused.
    let big = probe_with_count(&case.dir, 40 << 20, 65535);
    let small_dir = case.file("small");
    fs::create_dir_all(&small_dir).expect("folder");
    let small = probe_with_count(&small_dir, 64 * 1024, 65535);
    let small_named = case.file("small-count-65535.iso");
    fs::rename(&small, &small_named).expect("rename");
    let stick = case.stick().size("128M").file(&big).file(&small_named).build();
    // `dropboot check` gives the menu's verdict, in the menu's words.
    let out = stick.output("check", &["/count-65535.iso"]);
    let check = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "check fails for a file the menu refuses: {check}");
    assert!(check.contains("not bootable: its boot image (33554432 bytes at 0x7c00) does not fit below"), "{check}");
    let mut vm = case.boot(&stick);
    vm.wait_screen("2 boot files");
    vm.keys(&["ret"]);
    vm.wait_serial_within("Cannot boot count-65535.iso: its boot image (33554432 bytes at 0x7c00) does not fit below", PROMPTLY);
    vm.keys(&["down", "ret"]);
    vm.wait_serial_within("Cannot boot small-count-65535.iso: its boot image (33554432 bytes at block", PROMPTLY);
    let screen = vm.wait_screen("Cannot boot small-count-65535.iso");
    assert!(screen.text().contains("2 boot files"), "the menu is back:\n{}", screen.text());
}
