//! One verdict: every file the loader refuses is refused in the same words
//! in the menu (on the screen, whole, wrapped over the rows it needs, and
//! on COM1) and by `dropboot check`, because both print
//! bootfs::bootplan::judge's sentence. (Too fragmented: fragmented.rs.)

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tests::media::{dropboot_bin, output, run};
use tests::probe::build_iso;
use tests::stick::Case;

/// The probe ISO with its boot entry's sector count set to 65535 (32 MiB,
/// which does not fit below the hook), its data large enough to hold it.
fn iso_loading_32_mib(dir: &Path) -> PathBuf {
    let iso = build_iso(dir, 40 << 20);
    let mut bytes = fs::read(&iso.path).expect("the probe ISO");
    let catalog = u32::from_le_bytes(bytes[17 * 2048 + 0x47..17 * 2048 + 0x4B].try_into().unwrap()) as usize;
    bytes[catalog * 2048 + 0x26..catalog * 2048 + 0x28].copy_from_slice(&0xFFFFu16.to_le_bytes());
    let path = dir.join("loads-32-mib.iso");
    fs::write(&path, bytes).expect("writing the ISO");
    path
}

/// The probe ISO cut after the first block of its boot image.
fn truncated_iso(dir: &Path) -> PathBuf {
    let sub = dir.join("truncated");
    fs::create_dir_all(&sub).expect("folder");
    let iso = build_iso(&sub, 1 << 20);
    assert!(iso.load_sectors > 4, "a boot image of more than one block");
    let bytes = fs::read(&iso.path).expect("the probe ISO");
    let path = dir.join("truncated.iso");
    fs::write(&path, &bytes[..(iso.boot_rba as usize + 1) * 2048]).expect("writing the ISO");
    path
}

fn efi_only_iso(dir: &Path) -> PathBuf {
    let root = dir.join("efi-root");
    fs::create_dir_all(&root).expect("folder");
    fs::write(root.join("efi.img"), vec![0u8; 64 * 1024]).expect("efi.img");
    let path = dir.join("efi-only.iso");
    run(Command::new("xorriso").args(["-as", "mkisofs", "-quiet", "-o"]).arg(&path).args(["-e", "efi.img", "-no-emul-boot"]).arg(&root));
    path
}

/// `dropboot check`'s sentence for each file it refuses, by path.
fn check_refusals(image: &Path) -> HashMap<String, String> {
    let out = output(Command::new(dropboot_bin()).args([OsStr::new("check"), image.as_os_str()]));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut refusals = HashMap::new();
    let mut path = String::new();
    for line in text.lines() {
        if !line.starts_with(' ') {
            path = line.split("  (").next().unwrap_or_default().to_string();
        } else if let Some(sentence) = line.trim().strip_prefix("not bootable: ") {
            refusals.insert(path.clone(), sentence.to_string());
        }
    }
    refusals
}

#[test]
fn each_refusal_reads_the_same_on_the_screen_whole_on_com1_and_in_dropboot_check() {
    let case = Case::new("refusals");
    let dir = &case.dir;
    let files = [efi_only_iso(dir), truncated_iso(dir), iso_loading_32_mib(dir), case.random_file("no-boot-sector.img", 1 << 20, 7)];
    let stick = case.stick().size("128M").files(&files).build();
    let refusals = check_refusals(&stick.path);
    assert_eq!(refusals.len(), files.len(), "check refuses each file: {refusals:?}");

    let mut vm = case.boot(&stick);
    vm.wait_screen("4 boot files on");
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).expect("a name");
        let sentence = &refusals[&format!("/{name}")];
        vm.type_serial(name);
        vm.wait_screen(&format!("Search: {name}_   1 found"));
        vm.keys(&["ret"]);
        let said = format!("Cannot boot {name}: {sentence}");
        vm.wait_serial(&said);
        // The screen holds it whole, its rows broken at spaces.
        vm.wait_for(&format!("the screen to show {said:?} whole"), |vm| {
            let screen = vm.screen();
            (0..25).map(|r| screen.row(r).trim().to_string()).collect::<Vec<_>>().join(" ").contains(&said)
        });
        vm.screendump(&case.file(&format!("{name}.png")));
        vm.keys(&["esc"]);
        vm.wait_screen("4 boot files on");
    }
}
