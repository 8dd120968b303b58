//! Live ISOs keep their changes across boots (issue 23): the real live
//! systems of tools/make-live-media, whose init counts its boots in a file
//! on the live root, boot twice from a stick with a persistence backend
//! and count 1, then 2; without one, 1 and 1. No kernel parameter is
//! typed and no boot menu edited: stage2 appends a small archive to the
//! ISO's initrd as the hook serves it (bootfs::added_files), and exposes
//! the backend as one more partition of the stick. After each boot the
//! next start zeroes the added-files area and puts sector 0 back byte for
//! byte; fsck passes on the data partition and e2fsck on the backend.

use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

use tests::media::{copy_out, dropboot, live_medium, output, read_at, run, third_party, ventoy_style_backend};
use tests::stick::{Case, Fs, Stick};
use tests::{BootOptions, Usb};

/// Under software emulation a persistent live root takes about twice as
/// long as one without (DESIGN D9: 105 s against 47 s); the waits leave
/// three times that.
const ROOT_WAIT: Duration = Duration::from_secs(330);
const POWER_OFF_WAIT: Duration = Duration::from_secs(60);
/// The added-files area (bootfs::layout::ADDED_FILES_LBA, 1024 sectors).
const AREA: (u64, usize) = (1024 * 512, 1024 * 512);

/// Sector 0 and the added-files area, as the stick holds them.
fn outside_the_data_partition(stick: &Stick) -> (Vec<u8>, Vec<u8>) {
    (read_at(&stick.path, 0, 512), read_at(&stick.path, AREA.0, AREA.1))
}

/// One boot of `iso` through the menu, answering the backend question
/// with `answer` (a key; "": let its countdown run out; None: none is
/// asked): the count its root printed.
fn boot_and_count(case: &Case, stick: &Stick, iso: &str, usb: Option<Usb>, answer: Option<&str>) -> u32 {
    let system = iso.trim_end_matches(".iso");
    let limit = 3 * tests::WAIT + ROOT_WAIT + POWER_OFF_WAIT;
    let opts = BootOptions { usb, memory_mib: Some(1024), limit: Some(limit), ..BootOptions::default() };
    let mut vm = case.boot_with(stick, &opts);
    vm.wait_screen("boot file");
    vm.keys(&["ret"]);
    if let Some(key) = answer {
        vm.wait_screen(&format!("/{iso}: boot with which persistence backend?"));
        if !key.is_empty() {
            vm.keys(&[key]);
        }
    }
    vm.wait_serial(&format!("partition 2: /{iso}"));
    vm.wait_serial_within(&format!("dropboot-live-root: {system} reached its root"), ROOT_WAIT);
    let log = vm.serial_text();
    vm.wait_exit_within(POWER_OFF_WAIT);
    let prefix = format!("dropboot-live-root: {system} boot ");
    let count = log.lines().find_map(|l| l.trim_end().split_once(&prefix).and_then(|(_, n)| n.parse().ok()));
    let count = count.unwrap_or_else(|| panic!("the root printed no count:\n{log}"));
    // The kernel's own scan of the stick found the ISO, and the backend
    // when there is one.
    let partitions = if log.contains("added-files area:") && log.contains("  backend /") { " sda: sda1 sda2 sda3" } else { " sda: sda1 sda2" };
    assert!(
        log.lines().any(|l| l.trim_end().ends_with(partitions)),
        "the kernel did not list{partitions}:\n{}",
        log.lines().filter(|l| l.contains("sda")).collect::<Vec<_>>().join("\n")
    );
    count
}

/// The next start puts the stick back: sector 0 as before the boot, the
/// added-files area zero again.
fn next_start_puts_back(case: &Case, stick: &Stick, before: &(Vec<u8>, Vec<u8>), usb: Option<Usb>) {
    let mut vm = case.boot_with(stick, &BootOptions { usb, ..BootOptions::default() });
    vm.wait_screen("boot file");
    drop(vm);
    let after = outside_the_data_partition(stick);
    assert_eq!(after.0, before.0, "the next start leaves sector 0 as it was before the boot");
    assert!(after.1 == before.1, "the next start leaves the added-files area as it was (zero)");
}

/// `iso` on `stick` boots once for each of `boots` (a name, the answer
/// to the backend question as [`boot_and_count`] takes it, the count its
/// root must print); the next start puts the stick back after each; then
/// fsck passes on the stick and e2fsck on the backend at `backend`.
fn counts_across_boots(case: &Case, stick: &Stick, iso: &str, usb: Option<Usb>, backend: &str, boots: &[(&str, Option<&str>, u32)]) {
    let before = outside_the_data_partition(stick);
    for &(boot, answer, expected) in boots {
        let count = boot_and_count(&case.step(boot), stick, iso, usb, answer);
        assert_eq!(count, expected, "the {boot} boot counted {count}");
        next_start_puts_back(&case.step(&format!("{boot}_next_start")), stick, &before, usb);
    }
    stick.fsck_passes();
    backend_is_clean(case, stick, backend);
}

/// e2fsck finds the backend `path` clean once its journal is replayed (the
/// live system powers off without unmounting it, as a pulled stick does).
fn backend_is_clean(case: &Case, stick: &Stick, path: &str) {
    let copy = case.file("backend-copy.dat");
    copy_out(&stick.path, path, &copy);
    let replay = output(Command::new("e2fsck").args(["-E", "journal_only", "-y"]).arg(&copy));
    assert!(replay.status.code().is_some_and(|c| c <= 1), "e2fsck could not replay the journal: {replay:?}");
    run(Command::new("e2fsck").arg("-fn").arg(&copy));
}

fn persistence_add(stick: &Stick, iso: &str) -> String {
    let args: Vec<&OsStr> = vec!["persistence".as_ref(), "add".as_ref(), stick.path.as_os_str(), iso.as_ref(), "--size".as_ref(), "48M".as_ref()];
    dropboot(args)
}

/// `iso` with a backend made by `dropboot persistence add`, on a stick of
/// `fs`: boots twice and counts 1, then 2; the stick is put back after
/// each boot.
fn keeps_its_changes(name: &str, iso: &str, fs: Fs, usb: Option<Usb>) {
    let case = Case::new(name);
    let stick = case.stick().size("320M").fs(fs).file(live_medium(iso)).build();
    let said = persistence_add(&stick, &format!("/{iso}"));
    let backend = format!("/persistence/{}.dat", iso.trim_end_matches(".iso"));
    assert!(said.contains(&backend), "{said}");
    // `check` says what the loader will add, in the loader's own terms.
    let check = stick.run("check", &[]);
    assert!(check.contains("  at boot: adds conf/conf.d/zz-dropboot to /live/initrd.img"), "{check}");
    counts_across_boots(&case, &stick, iso, usb, &backend, &[("first", None, 1), ("second", None, 2)]);
}

#[test]
fn a_debian_live_iso_with_a_backend_made_by_persistence_add_on_an_exfat_stick_over_usb_counts_one_then_two() {
    keeps_its_changes("persist_live_exfat_usb", "debian-live.iso", Fs::Exfat, Some(Usb::Xhci));
}

#[test]
fn a_dracut_live_iso_with_a_vtoycow_backend_made_by_hand_on_an_ntfs_stick_over_usb_counts_one_then_two() {
    let case = Case::new("persist_dracut_ntfs_usb");
    let iso = "dracut-live.iso";
    let backend = ventoy_style_backend(&case.file(""), "vtoycow");
    let config = "{\n  \"persistence\": [ { \"image\": \"/dracut-live.iso\", \"backend\": \"/persistence/vtoycow.dat\" } ]\n}\n";
    let stick = case.stick().size("320M").fs(Fs::Ntfs).file(live_medium(iso)).file_in(&backend, "/persistence").ventoy_json(config).build();
    counts_across_boots(&case, &stick, iso, Some(Usb::Xhci), "/persistence/vtoycow.dat", &[("first", None, 1), ("second", None, 2)]);
}

#[test]
fn a_debian_live_iso_booted_by_grub_with_a_backend_made_as_ventoys_script_makes_it_on_an_ide_disk_asks_and_keeps_its_changes_or_not() {
    let case = Case::new("persist_grub_fat32_ide");
    let iso = "debian-live-grub.iso";
    let backend = ventoy_style_backend(&case.file(""), "persistence");
    // Ventoy's question: the backend selected, a countdown of 3 s.
    let config = "{\n  \"persistence\": [ { \"image\": \"/debian-live-grub.iso\", \"backend\": [ \"/persistence/persistence.dat\" ], \"autosel\": 1, \"timeout\": 3 } ]\n}\n";
    let stick = case.stick().size("320M").fs(Fs::Fat32).file(live_medium(iso)).file_in(&backend, "/persistence").ventoy_json(config).build();
    // The countdown takes the backend; then the key 1 takes it; then the
    // key 0 boots without persistence: a tmpfs overlay, a first boot again.
    let boots = [("first", Some(""), 1), ("second", Some("1"), 2), ("without", Some("0"), 1)];
    counts_across_boots(&case, &stick, iso, None, "/persistence/persistence.dat", &boots);
}

#[test]
fn the_debian_installer_with_an_auto_install_template_runs_its_early_command() {
    let case = Case::new("auto_install_debian_installer");
    let template = case.file("preseed.cfg");
    std::fs::write(&template, "d-i preseed/early_command string echo dropboot-preseed: early_command ran > /dev/ttyS0\n").expect("the template");
    let config = "{\n  \"auto_install\": [ { \"image\": \"/debian-installer.iso\", \"template\": \"/ventoy/preseed.cfg\" } ]\n}\n";
    let stick = case.stick().size("128M").file(third_party("debian-installer.iso")).file_in(&template, "/ventoy").ventoy_json(config).build();
    let check = stick.run("check", &[]);
    assert!(check.contains("  at boot: adds preseed.cfg to /initrd.gz"), "{check}");
    let before = outside_the_data_partition(&stick);
    {
        // The whole run took 67 s on a slow host in make test.
        let limit = Some(Duration::from_secs(240));
        let mut vm = case.boot_with(&stick, &BootOptions { memory_mib: Some(1024), limit, ..Default::default() });
        vm.wait_screen("1 boot file");
        vm.keys(&["ret"]);
        vm.wait_serial("adds preseed.cfg to /initrd.gz");
        vm.wait_serial_within("dropboot-preseed: early_command ran", Duration::from_secs(240));
    }
    next_start_puts_back(&case.step("next_start"), &stick, &before, None);
    stick.fsck_passes();
}

#[test]
fn the_probe_reads_an_isos_own_blocks_unchanged_and_the_file_added_to_its_initrd_as_the_stick_holds_it() {
    use bootfs::cpio::{newc, Member};
    use tests::probe;
    let case = Case::new("persist_probe");
    // A probe ISO that looks like a live-boot one: /live and its initrd.
    let initrd = tests::media::pseudo_random(5000, 0x1D);
    let mut iso = probe::build_iso_holding(&case.file(""), 0, 64 * 1024, 0, &[("live/initrd.img", &initrd)]);
    let iso_blocks = (std::fs::metadata(&iso.path).expect("the ISO").len() / 2048) as u32;
    // What the loader must read as /live/initrd.img: the initrd, zeros to
    // its block's end, the archive; it now starts at the ISO's end. The
    // probe reads from its data file on to the end of the grown initrd:
    // the ISO's own blocks as they are (past its folders, so none of the
    // sectors replaced), then the grown initrd as the stick holds it.
    let archive = newc(&[Member::file("conf/conf.d/zz-dropboot", b"export PERSISTENCE=true\n")]);
    let mut grown = initrd.clone();
    grown.resize(initrd.len().next_multiple_of(2048), 0);
    grown.extend_from_slice(&archive);
    grown.resize(grown.len().next_multiple_of(2048), 0);
    let grown_blocks = (grown.len() / 2048) as u32;
    let own_from = |iso: &probe::ProbeIso| {
        let own = std::fs::read(&iso.path).expect("the ISO");
        assert_eq!(own.len() % 2048, 0);
        [&own[iso.data_lba as usize * 2048..], &grown[..]].concat()
    };
    let (from, expected) = (iso.data_lba, own_from(&iso));
    probe::read_instead(&mut iso, from, expected, iso_blocks + grown_blocks);
    // The ISO as it is now, with the probe's parameters set.
    iso.data = own_from(&iso);
    let backend = ventoy_style_backend(&case.file(""), "persistence");
    let config = "{\n  \"persistence\": [ { \"image\": \"/probe.iso\", \"backend\": \"/persistence/persistence.dat\" } ]\n}\n";
    let stick = case.stick().size("128M").file(&iso.path).file_in(&backend, "/persistence").ventoy_json(config).build();
    let mut vm = case.boot(&stick);
    vm.wait_screen("boot file");
    let serial = probe::boot_and_check(&mut vm, &["ret"], tests::WAIT, &iso, &stick.path);
    assert!(serial.contains("adds conf/conf.d/zz-dropboot to /live/initrd.img"), "{serial}");
    assert!(serial.contains(&format!("/live/initrd.img: 5000 -> {} bytes", 3 * 2048 + archive.len())), "{serial}");
}

/// A probe ISO that looks like a live-boot one, for the boots below that
/// must go on without persistence: the probe then reads its data file as
/// from any ISO.
fn live_looking_probe(case: &Case) -> tests::probe::ProbeIso {
    tests::probe::build_iso_holding(&case.file(""), 0, 64 * 1024, 0, &[("live/initrd.img", &tests::media::pseudo_random(5000, 0x1D))])
}

/// The probe ISO on `stick` boots through the menu, says `sentence` on
/// the screen and COM1 and reads its data unchanged, without persistence.
fn boots_without_persistence_saying(case: &Case, stick: &Stick, iso: &tests::probe::ProbeIso, sentence: &str) {
    let mut vm = case.boot(stick);
    vm.wait_screen("boot file");
    vm.keys(&["ret"]);
    // Its start: the status rows wrap a long sentence.
    vm.wait_screen(sentence.get(..40).unwrap_or(sentence));
    let serial = tests::probe::boot_and_check(&mut vm, &[], tests::WAIT, iso, &stick.path);
    let said = format!("/probe.iso: {sentence}");
    assert!(serial.lines().any(|l| l.contains(&said) && l.ends_with("; it boots without persistence")), "{said:?} not in:\n{serial}");
    assert!(!serial.contains("added-files area:"), "nothing is added:\n{serial}");
}

#[test]
fn a_missing_backend_a_backend_in_pieces_a_full_table_and_a_stick_the_loader_must_not_write_are_each_one_sentence_and_the_iso_boots_without_persistence(
) {
    let config = |backend: &str| format!("{{\n  \"persistence\": [ {{ \"image\": \"/probe.iso\", \"backend\": \"{backend}\" }} ]\n}}\n");
    // Missing.
    let case = Case::new("persist_missing");
    let iso = live_looking_probe(&case);
    let stick = case.stick().size("128M").file(&iso.path).ventoy_json(&config("/persistence/gone.dat")).build();
    boots_without_persistence_saying(&case, &stick, &iso, "its backend /persistence/gone.dat is not on the stick");
    // In pieces.
    let case = Case::new("persist_in_pieces");
    let iso = live_looking_probe(&case);
    let backend = ventoy_style_backend(&case.file(""), "persistence");
    let stick = case.stick().size("128M").fs(Fs::Fat32).file(&iso.path).fragmented(&backend, 8).ventoy_json(&config("/persistence.dat")).build();
    boots_without_persistence_saying(&case, &stick, &iso, "its backend is in ");
    // No free slot: partitions 3 and 4 of the stick's table are taken.
    let case = Case::new("persist_full_table");
    let iso = live_looking_probe(&case);
    let backend = ventoy_style_backend(&case.file(""), "persistence");
    let stick =
        case.stick().size("128M").file(&iso.path).file_in(&backend, "/persistence").ventoy_json(&config("/persistence/persistence.dat")).build();
    let mut sector0 = read_at(&stick.path, 0, 512);
    for (slot, start) in [(2usize, 200u32), (3, 400)] {
        let e = &mut sector0[446 + slot * 16..][..16];
        e[4] = 0x83;
        e[8..12].copy_from_slice(&start.to_le_bytes());
        e[12..16].copy_from_slice(&100u32.to_le_bytes());
    }
    tests::media::patch(&stick.path, 0, &sector0);
    boots_without_persistence_saying(&case, &stick, &iso, "the stick's partition table has no free slot for its backend");
    // A stick the loader must not write (DROPBOOT_ISO_PARTITION "0"):
    // nothing is added, and nothing outside the data partition changes.
    let case = Case::new("persist_loader_writes_nothing");
    let iso = live_looking_probe(&case);
    let backend = ventoy_style_backend(&case.file(""), "persistence");
    let config = "{\n  \"control\": [ { \"DROPBOOT_ISO_PARTITION\": \"0\" } ],\n  \"persistence\": [ { \"image\": \"/probe.iso\", \"backend\": \"/persistence/persistence.dat\" } ]\n}\n";
    let stick = case.stick().size("128M").file(&iso.path).file_in(&backend, "/persistence").ventoy_json(config).build();
    let check = stick.run("check", &[]);
    assert!(check.contains("  at boot: adds nothing: DROPBOOT_ISO_PARTITION is \"0\", so the loader writes nothing to the stick"), "{check}");
    let before = read_at(&stick.path, 0, 2048 * 512);
    boots_without_persistence_saying(&case, &stick, &iso, "DROPBOOT_ISO_PARTITION is \"0\", so the loader writes nothing to the stick");
    assert!(read_at(&stick.path, 0, 2048 * 512) == before, "the sectors before the data partition are as they were");
}
