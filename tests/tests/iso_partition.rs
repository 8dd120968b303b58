//! A booted ISO becomes a partition of the stick, so the Linux system it
//! starts can find it, and the stick gets its own table back: the entry
//! stage2 writes just before the jump, what Linux makes of it, the next
//! start undoing it byte for byte, a slot the user already uses, a
//! write-protected stick, the configuration's switch, and the builder's
//! commands on a stick that still carries the entry. The GRUB rescue CD
//! stands in for any ISO here; `live_iso.rs` boots real live systems.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Command;

use bootfs::bootplan::Presentation;
use bootfs::iso_partition::{place, Record, RECORD_LBA};
use bootfs::layout::DATA_PARTITION_LBA;
use bootfs::mbr::{entry_range, PartitionEntry};
use tests::media::{data_partition, dropboot_bin, patch, read_at, run, third_party};
use tests::stick::{Case, Fs, Stick};
use tests::{BootOptions, Usb};

const GRUB_CD: &str = "grub-rescue-cdrom.iso";

fn sector0(image: &Path) -> [u8; 512] {
    read_at(image, 0, 512).try_into().expect("a sector")
}

/// The entry the loader should write for `path`: its one run of sectors.
fn expected_entry(image: &Path, path: &str) -> PartitionEntry {
    let mut fs = bootfs::filesystem::Filesystem::open(data_partition(image)).expect("the data partition");
    let file = bootfs::scan::find_file(&mut fs, path).expect("reading the stick").expect("the file");
    let map = fs.extent_map(&file).expect("its extent map");
    assert_eq!(map.len(), 1, "{path} is in one piece");
    let run = map.extents()[0];
    PartitionEntry { bootable: false, kind: 0, start_lba: (DATA_PARTITION_LBA as u64 + run.disk_lba) as u32, sectors: file.size.div_ceil(512) as u32 }
}

/// Boots the stick, Enter on the first file, until GRUB's menu shows.
fn boot_grub(case: &Case, stick: &Stick, opts: &BootOptions, log: &str) -> String {
    let mut vm = case.boot_with(stick, opts);
    vm.wait_screen("boot file");
    vm.keys(&["ret"]);
    vm.wait_serial(log);
    vm.wait_screen("GNU GRUB  version");
    vm.serial_text()
}

/// Starts stage2 on the stick until its menu shows (the next start),
/// its log having said `said` first.
fn start_menu_saying(case: &Case, stick: &Stick, said: &str) {
    let mut vm = case.boot(stick);
    vm.wait_serial(said);
    vm.wait_screen("boot file");
}

/// The next start, until its menu shows, having taken the entry out.
fn start_menu(case: &Case, stick: &Stick) {
    start_menu_saying(&case.step("next_start"), stick, "taken out of the partition table again");
}

fn changed_bytes(a: &[u8; 512], b: &[u8; 512]) -> Vec<usize> {
    (0..512).filter(|&i| a[i] != b[i]).collect()
}

/// The partitions util-linux reads in `image`'s table (number, start,
/// sectors), each with what blkid finds in it (TYPE, LABEL). This
/// machine's own kernel has no partition parser, so `live_iso.rs` shows
/// what a guest's Linux makes of the entry.
fn partitions_seen(image: &Path) -> Vec<(u32, u64, u64, String, String)> {
    let table = run(Command::new("partx").args(["-g", "-o", "NR,START,SECTORS"]).arg(image));
    table
        .lines()
        .filter_map(|l| {
            let v: Vec<u64> = l.split_whitespace().filter_map(|w| w.parse().ok()).collect();
            let [nr, start, sectors] = v[..] else { return None };
            let out = tests::media::output(Command::new("blkid").args(["-p", "-o", "export", "-O", &(start * 512).to_string()]).arg(image));
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or("").to_string();
            Some((nr as u32, start, sectors, field("TYPE"), field("LABEL")))
        })
        .collect()
}

#[test]
fn booting_an_iso_makes_it_partition_2_for_linux_and_the_next_start_puts_sector_0_back_byte_for_byte() {
    let case = Case::new("iso_partition_written_and_undone");
    let stick = case.stick().size("128M").file(third_party(GRUB_CD)).build();
    let image = &stick.path;
    let before = sector0(&image);
    // The data partition runs to the end of the disk: casper's casper-rw
    // (made in free space after the last partition) finds none to take.
    let data = bootfs::mbr::Mbr::parse(&before).expect("a table").partitions[0];
    assert_eq!(data.start_lba as u64 + data.sectors as u64, fs::metadata(image).unwrap().len() / 512);
    let path = format!("/{GRUB_CD}");
    let want = expected_entry(image, &path);
    let log = boot_grub(&case, &stick, &BootOptions::default(), &format!("partition 2: {path}, sectors {}+{}", want.start_lba, want.sectors));

    // Only slot 2's 16 bytes changed, and they hold the ISO's one run.
    let after = sector0(image);
    assert!(changed_bytes(&before, &after).iter().all(|i| entry_range(1).contains(i)), "{log}");
    assert_eq!(after[entry_range(1)], want.to_bytes());
    // Partition 2 holds the ISO's filesystem, label and all.
    let parts = partitions_seen(image);
    let p2 = parts.iter().find(|p| p.0 == 2).unwrap_or_else(|| panic!("{parts:?}"));
    assert_eq!((p2.1, p2.2, p2.3.as_str()), (want.start_lba as u64, want.sectors as u64, "iso9660"), "{parts:?}");
    assert!(!p2.4.is_empty(), "{parts:?}");
    // The builder's readers see it and keep working.
    let info = stick.run("info", &[]);
    assert!(info.contains(&format!("partition 2: {path}, written at its last boot")), "{info}");
    let check = stick.run("check", &[]);
    assert!(check.contains("its system finds its ISO as partition 2"), "{check}");

    start_menu(&case, &stick);
    assert_eq!(sector0(image), before, "the next start restores sector 0");
    assert!(!Record::parse(&read_at(image, RECORD_LBA * 512, 512)).expect("the record").written);
    assert!(!stick.run("info", &[]).contains("ISO partition"));
    stick.fsck_passes();
}

#[test]
fn a_slot_2_the_user_made_is_kept_and_the_iso_takes_slot_3() {
    let case = Case::new("iso_partition_slot_3");
    let stick = case.stick().size("128M").fs(Fs::Fat32).file(third_party(GRUB_CD)).build();
    let image = &stick.path;
    let users = PartitionEntry { bootable: false, kind: 0x83, start_lba: 1500, sectors: 100 };
    patch(image, entry_range(1).start as u64, &users.to_bytes());
    let before = sector0(image);
    boot_grub(&case, &stick, &BootOptions::default(), &format!("partition 3: /{GRUB_CD}"));
    let after = sector0(image);
    assert_eq!(after[entry_range(1)], users.to_bytes());
    assert_eq!(after[entry_range(2)], expected_entry(image, &format!("/{GRUB_CD}")).to_bytes());
    start_menu(&case, &stick);
    assert_eq!(sector0(image), before);
    stick.fsck_passes();
}

#[test]
fn a_write_protected_stick_says_so_in_one_line_and_the_iso_boots_anyway() {
    let case = Case::new("iso_partition_read_only");
    let stick = case.stick().size("128M").file(third_party(GRUB_CD)).build();
    let before = read_at(&stick.path, 0, DATA_PARTITION_LBA as usize * 512);
    // QEMU's IDE disks cannot be read-only; its USB sticks can.
    let opts = BootOptions { read_only: true, usb: Some(Usb::Xhci), ..BootOptions::default() };
    let log = boot_grub(&case, &stick, &opts, &format!("No partition for /{GRUB_CD}: "));
    let line = log.lines().find(|l| l.contains("No partition for")).expect("the line");
    assert!(line.contains("its system will not find its ISO"), "{line}");
    assert_eq!(read_at(&stick.path, 0, DATA_PARTITION_LBA as usize * 512), before);
}

#[test]
fn dropboot_iso_partition_0_in_the_configuration_writes_no_entry() {
    let case = Case::new("iso_partition_off");
    let config = r#"{ "control": [ { "DROPBOOT_ISO_PARTITION": "0" } ] }"#;
    let stick = case.stick().size("128M").file(third_party(GRUB_CD)).dropboot_json(config).build();
    let before = read_at(&stick.path, 0, DATA_PARTITION_LBA as usize * 512);
    boot_grub(&case, &stick, &BootOptions::default(), "DROPBOOT_ISO_PARTITION is off in the configuration");
    assert_eq!(read_at(&stick.path, 0, DATA_PARTITION_LBA as usize * 512), before, "nothing of the boot area was written");
    let check = stick.run("check", &[]);
    assert!(check.contains("DROPBOOT_ISO_PARTITION is off"), "{check}");
}

/// The record stage2 writes before booting `path`.
fn record_for(image: &Path, path: &str) -> Record {
    let s0 = sector0(image);
    let mut fs = bootfs::filesystem::Filesystem::open(data_partition(image)).expect("the data partition");
    let file = bootfs::scan::find_file(&mut fs, path).expect("reading").expect("the file");
    let map = fs.extent_map(&file).expect("its map");
    let placement = place(Presentation::Cd, &map, file.size, DATA_PARTITION_LBA as u64, &s0).expect("a slot");
    Record::new(&[placement], &s0, path)
}

/// Writes the entry and its record for `path` as stage2 does before a boot.
fn leave_entry(image: &Path, path: &str) {
    let record = record_for(image, path);
    patch(image, RECORD_LBA * 512, &record.to_sector());
    patch(image, 0, &record.apply(&sector0(image)));
}

#[test]
fn a_cut_between_the_two_writes_a_table_changed_since_and_a_stick_read_only_at_the_next_start_are_each_handled() {
    let case = Case::new("iso_partition_recovery");
    let stick = case.stick().size("128M").file(third_party(GRUB_CD)).build();
    let image = &stick.path;
    let clean = sector0(image);
    let path = format!("/{GRUB_CD}");
    let undone = |image: &Path| !Record::parse(&read_at(image, RECORD_LBA * 512, 512)).expect("the record").written;

    // Power cut after the record, before sector 0: only the record is marked undone.
    patch(image, RECORD_LBA * 512, &record_for(image, &path).to_sector());
    start_menu_saying(&case.step("cut"), &stick, "never reached the partition table");
    assert_eq!(sector0(image), clean);
    assert!(undone(image));

    // Someone changed the slot since: the table is left as it is.
    leave_entry(image, &path);
    let size_low = sector0(image)[entry_range(1).start + 12];
    patch(image, entry_range(1).start as u64 + 12, &[size_low.wrapping_add(1)]);
    let changed = sector0(image);
    start_menu_saying(&case.step("changed"), &stick, "was changed since; the partition table is left as it is");
    assert_eq!(sector0(image), changed);
    assert!(undone(image));
    patch(image, 0, &clean);

    // Read-only at the next start: the status row says the entry is still there,
    // and the next boot writes no second one.
    leave_entry(image, &path);
    let pending = sector0(image);
    let opts = BootOptions { read_only: true, usb: Some(Usb::Xhci), ..BootOptions::default() };
    let mut vm = case.step("pending").boot_with(&stick, &opts);
    vm.wait_screen("Partition 2 is still on the stick (written for /grub-rescue");
    vm.wait_serial(&format!("Partition 2 is still on the stick (written for {path} at the last boot): the BIOS could not write sector 0"));
    vm.keys(&["ret"]);
    vm.wait_serial("partition 2, written at the last boot, could not be taken out, so no second one is written");
    vm.wait_screen("GNU GRUB  version");
    drop(vm);
    assert_eq!(sector0(image), pending);
}

#[test]
fn add_rm_defrag_upgrade_info_list_and_check_accept_a_stick_that_still_carries_the_entry() {
    let case = Case::new("iso_partition_builder");
    for fs in [Fs::Exfat, Fs::Fat32] {
        let extra = case.random_file("notes.img", 4096, 3);
        let stick = case.stick().size("128M").fs(fs).file(third_party(GRUB_CD)).build();
        let image = &stick.path;
        let clean = sector0(image);
        let path = format!("/{GRUB_CD}");
        let writers: [&[&OsStr]; 4] = [
            &[OsStr::new("add"), image.as_os_str(), extra.as_os_str()],
            &[OsStr::new("rm"), image.as_os_str(), "/notes.img".as_ref()],
            &[OsStr::new("defrag"), image.as_os_str(), path.as_ref()],
            &[OsStr::new("upgrade"), image.as_os_str()],
        ];
        for args in writers {
            leave_entry(image, &path);
            let out = stick.output("info", &[]);
            assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("partition 2: {path}")), "info on {fs}");
            stick.run("list", &[]);
            assert!(stick.run("check", &[&path]).contains("as partition 2"));
            let out = tests::media::output(Command::new(dropboot_bin()).args(args));
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{args:?} on {fs}: {said}");
            assert!(said.contains(&format!("took partition 2 ({path}, written at its last boot) out")), "{args:?}: {said}");
            assert_eq!(sector0(image), clean, "{args:?} on {fs} put sector 0 back first");
            stick.fsck_passes();
        }
    }
}
