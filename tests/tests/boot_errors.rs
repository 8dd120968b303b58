//! Files that cannot boot: each gets a message that says why, on the screen
//! and on COM1, and the menu comes back.

use std::fs;
use std::path::Path;
use std::process::Command;

use bootfs::iso9660::Volume;
use tests::media::{pseudo_random, run};
use tests::probe::build_iso;
use tests::stick::Case;

fn xorriso(root: &Path, out: &Path, args: &[&str]) -> Vec<u8> {
    run(Command::new("xorriso").args(["-as", "mkisofs", "-quiet", "-o"]).arg(out).args(args).arg(root));
    fs::read(out).unwrap()
}

#[test]
fn each_file_that_cannot_boot_gets_its_own_message_and_the_menu_comes_back() {
    let case = Case::new("boot_errors");
    let files = case.file("files");
    fs::create_dir_all(&files).unwrap();
    let root = case.file("root");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("readme.txt"), b"hello").unwrap();
    fs::write(root.join("efi.img"), vec![0u8; 64 * 1024]).unwrap();

    // (file name on the stick, its bytes, the message the menu must show)
    let mut cases: Vec<(&str, Vec<u8>, String)> = Vec::new();
    cases.push(("a-not-an-iso.iso", pseudo_random(300_000, 1), "not an ISO9660 image".into()));
    let plain = xorriso(&root, &case.file("plain.iso"), &[]);
    cases.push(("b-no-el-torito.iso", plain, "not a bootable CD image (no El Torito boot record)".into()));
    let efi = xorriso(&root, &case.file("efi.iso"), &["-e", "efi.img", "-no-emul-boot"]);
    cases.push(("c-efi-only.iso", efi, "no BIOS boot entry in this image (it boots with UEFI only)".into()));

    let probe = build_iso(&case.dir, 64 * 1024);
    let good = fs::read(&probe.path).unwrap();
    let catalog = Volume::read(&mut good.clone()[..]).unwrap().boot_catalog.unwrap();
    let mut far_catalog = good.clone();
    let record = 17 * 2048; // xorriso's boot record follows the primary descriptor
    assert_eq!(&far_catalog[record + 7..record + 30], b"EL TORITO SPECIFICATION");
    far_catalog[record + 0x47..record + 0x4B].copy_from_slice(&0x00F0_0000u32.to_le_bytes());
    cases.push(("d-catalog-outside.iso", far_catalog, format!("El Torito boot catalog at block {} lies outside the file", 0xF0_0000)));
    let mut far_image = good.clone();
    let entry = catalog as usize * 2048 + 32;
    far_image[entry + 8..entry + 12].copy_from_slice(&0x0010_0000u32.to_le_bytes());
    let boot_bytes = (probe.load_sectors as usize * 512).next_multiple_of(2048);
    cases.push(("e-image-outside.iso", far_image, format!("its boot image ({boot_bytes} bytes at block 1048576) lies outside the file")));
    let truncated = good[..(probe.boot_rba as usize) * 2048].to_vec();
    cases.push((
        "f-truncated.iso",
        truncated,
        format!("its boot image ({boot_bytes} bytes at block {}) lies outside the file; is it truncated?", probe.boot_rba),
    ));
    cases.push((
        "g-no-boot-sector.img",
        vec![0u8; 512 * 1024],
        "it is not a disk image: no partition table and no boot signature in its first sector".into(),
    ));
    let mut odd_floppy = vec![0u8; 1_300_000];
    odd_floppy[510] = 0x55;
    odd_floppy[511] = 0xAA;
    cases.push((
        "h-odd-floppy.img",
        odd_floppy,
        "it looks like a floppy image, but 1300000 bytes is no floppy size (360K, 720K, 1.2M, 1.44M, 2.88M)".into(),
    ));

    for (name, bytes, _) in &cases {
        fs::write(files.join(name), bytes).unwrap();
    }
    let stick = case.stick().files(cases.iter().map(|(name, _, _)| files.join(name))).build();

    let mut vm = case.boot(&stick);
    let total = format!("{} boot files", cases.len());
    vm.wait_screen(&total);
    for (i, (name, _, message)) in cases.iter().enumerate() {
        if i > 0 {
            vm.keys(&["down"]);
        }
        vm.keys(&["ret"]);
        let line = format!("Cannot boot {name}: {message}");
        vm.wait_serial(&line);
        // On screen the status row shows the start of it, in red, with the menu.
        let screen = vm.wait_screen(&format!("Cannot boot {name}:"));
        let row = screen.find(&format!("Cannot boot {name}:")).unwrap();
        assert_eq!(screen.row_attr(row), 0x4F, "the message is shown as an error:\n{}", screen.text());
        assert!(screen.text().contains(&total), "the menu is back:\n{}", screen.text());
        assert!(screen.find(&format!("/{name}")).is_some(), "{}", screen.text());
    }
}
