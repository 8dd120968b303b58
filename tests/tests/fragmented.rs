//! Heavily fragmented boot files: a probe ISO in over 1000 pieces boots on
//! FAT32 and exFAT; past the loader's limit it gets a message that names
//! the fix, and `dropboot defrag` makes it boot.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use bootfs::layout::{DATA_PARTITION_LBA, HOOK_MAX_EXTENTS};
use tests::media::{copy_fragmented, copy_fragmented_exfat, dropboot, extents_of, read_at, run};
use tests::probe::{boot_and_check, build_iso, ProbeIso};
use tests::{work_dir, Qemu};

fn boots_and_reads_exactly(name: &str, dir: &Path, image: &Path, iso: &ProbeIso) {
    let mut vm = Qemu::boot(name, dir, image);
    vm.wait_screen("boot file");
    // probe.iso: the last file, above the three actions. A read in over
    // 1,000 pieces: 7-20 s under load; the wait leaves more than three times that.
    boot_and_check(&mut vm, &["end", "up", "up", "up", "ret"], std::time::Duration::from_secs(90), iso, image);
}

fn stick(dir: &Path, fs: &str) -> std::path::PathBuf {
    let image = dir.join("stick.img");
    dropboot([OsStr::new("create"), image.as_os_str(), "--size".as_ref(), "64M".as_ref(), "--fs".as_ref(), fs.as_ref()]);
    image
}

#[test]
fn a_probe_iso_in_over_1000_pieces_on_fat32_boots_and_reads_exactly() {
    let dir = work_dir("fragmented_fat32");
    let iso = build_iso(&dir, 4 << 20);
    let image = stick(&dir, "fat32");
    copy_fragmented(&image, &iso.path, 1000);
    let pieces = extents_of(&image, "/probe.iso");
    assert!((1000..=HOOK_MAX_EXTENTS).contains(&pieces), "{pieces} pieces");
    boots_and_reads_exactly("fragmented_fat32", &dir, &image, &iso);
}

#[test]
fn a_probe_iso_in_over_1000_pieces_on_exfat_boots_and_defrag_makes_it_one_piece() {
    let dir = work_dir("fragmented_exfat");
    let iso = build_iso(&dir, 4 << 20);
    let image = stick(&dir, "exfat");
    copy_fragmented_exfat(&image, &iso.path, 1000);
    let pieces = extents_of(&image, "/probe.iso");
    assert!((1000..=HOOK_MAX_EXTENTS).contains(&pieces), "{pieces} pieces");
    boots_and_reads_exactly("fragmented_exfat", &dir, &image, &iso);

    let said = dropboot([OsStr::new("defrag"), image.as_os_str(), "/probe.iso".as_ref()]);
    assert!(said.contains("now in one piece"), "{said}");
    assert_eq!(extents_of(&image, "/probe.iso"), 1);
    let dev = run(Command::new("losetup").args(["-f", "--show", "-o", &(DATA_PARTITION_LBA as u64 * 512).to_string()]).arg(&image));
    let fsck = tests::media::output(Command::new("fsck.exfat").arg("-n").arg(dev.trim()));
    let _ = tests::media::output(Command::new("losetup").args(["-d", dev.trim()]));
    assert!(String::from_utf8_lossy(&fsck.stdout).contains("clean"), "{}", String::from_utf8_lossy(&fsck.stdout));
    boots_and_reads_exactly("fragmented_exfat_defragged", &dir, &image, &iso);
}

#[test]
fn past_the_limit_the_menu_names_dropboot_defrag_which_then_makes_it_boot() {
    let dir = work_dir("too_fragmented");
    let iso = build_iso(&dir, 8 << 20);
    let image = stick(&dir, "fat32");
    copy_fragmented(&image, &iso.path, HOOK_MAX_EXTENTS + 100);
    let pieces = extents_of(&image, "/probe.iso");
    assert!(pieces > HOOK_MAX_EXTENTS, "{pieces} pieces");

    let mut vm = Qemu::boot("too_fragmented", &dir, &image);
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
    let out = tests::media::output(Command::new(tests::media::dropboot_bin()).args([OsStr::new("check"), image.as_os_str(), "/probe.iso".as_ref()]));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(said.contains(&format!("\n  not bootable: {refusal}\n")), "{said}");

    let said = dropboot([OsStr::new("defrag"), image.as_os_str(), "/probe.iso".as_ref()]);
    assert!(said.contains("now in one piece"), "{said}");
    assert_eq!(extents_of(&image, "/probe.iso"), 1);
    let part = dir.join("partition.img");
    let sectors = (64u64 << 20) / 512 - DATA_PARTITION_LBA as u64;
    std::fs::write(&part, read_at(&image, DATA_PARTITION_LBA as u64 * 512, sectors as usize * 512)).unwrap();
    run(Command::new("fsck.vfat").arg("-n").arg(&part));
    let said = dropboot([OsStr::new("check"), image.as_os_str(), "/probe.iso".as_ref()]);
    assert!(said.contains(", 1 piece)") && said.contains("boots as CD E0h"), "{said}");
    boots_and_reads_exactly("too_fragmented_defragged", &dir, &image, &iso);
}
