//! Heavily fragmented boot files: a probe ISO in over 1000 pieces boots on
//! FAT32 and exFAT; past the loader's limit it gets a message that names
//! the fix, and `dropboot defrag` makes it boot.

use std::process::Command;

use bootfs::layout::{DATA_PARTITION_LBA, HOOK_MAX_EXTENTS};
use tests::media::{extents_of, read_at, run};
use tests::probe::{boot_and_check, build_iso, ProbeIso};
use tests::stick::{Case, Fs, Stick};

/// Boots `stick` and chooses probe.iso, which must read what the host reads.
fn boots_and_reads_exactly(case: &Case, stick: &Stick, iso: &ProbeIso) {
    let mut vm = case.boot_with(stick, &tests::BootOptions { limit: Some(std::time::Duration::from_secs(300)), ..Default::default() });
    vm.wait_screen("boot file");
    // probe.iso: the last file, above the three actions. A read in over
    // 1,000 pieces: 7-49 s under load (49 s on a slow host in make test);
    // the wait leaves four times that.
    boot_and_check(&mut vm, &["end", "up", "up", "up", "ret"], std::time::Duration::from_secs(200), iso, &stick.path);
}

#[test]
fn a_probe_iso_in_over_1000_pieces_on_fat32_boots_and_reads_exactly() {
    let case = Case::new("fragmented_fat32");
    let iso = build_iso(&case.dir, 4 << 20);
    let stick = case.stick().fs(Fs::Fat32).fragmented(&iso.path, 1000).build();
    let pieces = extents_of(&stick.path, "/probe.iso");
    assert!((1000..=HOOK_MAX_EXTENTS).contains(&pieces), "{pieces} pieces");
    boots_and_reads_exactly(&case, &stick, &iso);
}

#[test]
fn a_probe_iso_in_over_1000_pieces_on_exfat_boots_and_defrag_makes_it_one_piece() {
    let case = Case::new("fragmented_exfat");
    let iso = build_iso(&case.dir, 4 << 20);
    let stick = case.stick().fragmented(&iso.path, 1000).build();
    let image = &stick.path;
    let pieces = extents_of(image, "/probe.iso");
    assert!((1000..=HOOK_MAX_EXTENTS).contains(&pieces), "{pieces} pieces");
    boots_and_reads_exactly(&case, &stick, &iso);

    let said = stick.run("defrag", &["/probe.iso"]);
    assert!(said.contains("now in one piece"), "{said}");
    assert_eq!(extents_of(image, "/probe.iso"), 1);
    let dev = run(Command::new("losetup").args(["-f", "--show", "-o", &(DATA_PARTITION_LBA as u64 * 512).to_string()]).arg(image));
    let fsck = tests::media::output(Command::new("fsck.exfat").arg("-n").arg(dev.trim()));
    let _ = tests::media::output(Command::new("losetup").args(["-d", dev.trim()]));
    assert!(String::from_utf8_lossy(&fsck.stdout).contains("clean"), "{}", String::from_utf8_lossy(&fsck.stdout));
    boots_and_reads_exactly(&case.step("defragged"), &stick, &iso);
}

#[test]
fn past_the_limit_the_menu_names_dropboot_defrag_which_then_makes_it_boot() {
    let case = Case::new("too_fragmented");
    let iso = build_iso(&case.dir, 8 << 20);
    let stick = case.stick().fs(Fs::Fat32).fragmented(&iso.path, HOOK_MAX_EXTENTS + 100).build();
    let image = &stick.path;
    let pieces = extents_of(image, "/probe.iso");
    assert!(pieces > HOOK_MAX_EXTENTS, "{pieces} pieces");

    let mut vm = case.boot(&stick);
    vm.wait_screen("boot file");
    vm.keys(&["end", "up", "up", "up", "ret"]);
    let refusal =
        format!("it is in {pieces} pieces, more than the {HOOK_MAX_EXTENTS} dropboot can map; on a computer, run: dropboot defrag STICK /probe.iso");
    vm.wait_serial(&format!("Cannot boot probe.iso: {refusal}"));
    // Whole on the screen, the fix included, wrapped over two rows.
    let screen = vm.wait_screen("Cannot boot probe.iso: it is in");
    assert!(screen.text().contains("dropboot defrag STICK /probe.iso"), "{}", screen.text());
    drop(vm);
    // `dropboot check` says it in the same words.
    let out = stick.output("check", &["/probe.iso"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(said.contains(&format!("\n  not bootable: {refusal}\n")), "{said}");

    let said = stick.run("defrag", &["/probe.iso"]);
    assert!(said.contains("now in one piece"), "{said}");
    assert_eq!(extents_of(image, "/probe.iso"), 1);
    let part = case.file("partition.img");
    let sectors = (64u64 << 20) / 512 - DATA_PARTITION_LBA as u64;
    std::fs::write(&part, read_at(image, DATA_PARTITION_LBA as u64 * 512, sectors as usize * 512)).unwrap();
    run(Command::new("fsck.vfat").arg("-n").arg(&part));
    let said = stick.run("check", &["/probe.iso"]);
    assert!(said.contains(", 1 piece)") && said.contains("boots as CD E0h"), "{said}");
    boots_and_reads_exactly(&case.step("defragged"), &stick, &iso);
}
