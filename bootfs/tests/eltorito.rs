//! ISO9660 and El Torito as bootfs reads them, from images xorriso makes.

use std::path::Path;

use bootfs::eltorito::{platform, Catalog, EltoritoError, Media};
use bootfs::iso9660::{IsoError, Volume};

mod common;
use common::Work;

fn lba_of(iso: &[u8], name: &Path) -> u32 {
    // The boot image's content is unique: find its block. Bytes 8-63 hold
    // the boot info table xorriso writes, so compare from byte 64.
    let want = std::fs::read(name).unwrap();
    (0..iso.len() / 2048).find(|&b| iso[b * 2048 + 64..].starts_with(&want[64..])).unwrap() as u32
}

#[test]
fn a_no_emulation_image_has_its_boot_entry_found() {
    let w = Work::new("noemu");
    std::fs::write(w.0.join("root/boot.bin"), (0..4096u32).map(|i| (i * 7) as u8).collect::<Vec<u8>>()).unwrap();
    w.file("data.bin", 100_000);
    let mut iso = w.iso(&["-b", "boot.bin", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"]);
    let (volume, catalog) = Catalog::read(&mut iso[..]).unwrap();
    assert_eq!(volume.volume_id, "DROPBOOT_TEST");
    assert_eq!(volume.blocks as usize * 2048, iso.len());
    let e = catalog.bios_entry().unwrap();
    assert_eq!((e.media, e.load_segment, e.sector_count, e.platform), (Media::NoEmulation, 0x07C0, 4, platform::X86));
    assert_eq!(e.load_rba, lba_of(&iso, &w.0.join("root/boot.bin")));
}

#[test]
fn a_floppy_emulation_image_is_reported_as_such() {
    let w = Work::new("floppy");
    std::fs::write(w.0.join("root/floppy.img"), (0..1_474_560u32).map(|i| (i >> 9) as u8).collect::<Vec<u8>>()).unwrap();
    let mut iso = w.iso(&["-b", "floppy.img"]);
    let (_, catalog) = Catalog::read(&mut iso[..]).unwrap();
    let e = catalog.bios_entry().unwrap();
    assert_eq!((e.media, e.sector_count), (Media::Floppy1440, 1));
}

#[test]
fn bios_and_efi_entries_are_both_listed_and_the_bios_one_is_chosen() {
    let w = Work::new("hybrid");
    w.file("boot.bin", 2048).file("efi.img", 64 * 1024);
    let mut iso = w.iso(&["-b", "boot.bin", "-no-emul-boot", "-eltorito-alt-boot", "-e", "efi.img", "-no-emul-boot"]);
    let (_, catalog) = Catalog::read(&mut iso[..]).unwrap();
    let platforms: Vec<u8> = catalog.entries.iter().map(|e| e.platform).collect();
    assert_eq!(platforms, [platform::X86, platform::EFI]);
    assert_eq!(catalog.bios_entry().unwrap().platform, platform::X86);
}

#[test]
fn an_efi_only_image_says_it_boots_with_uefi_only() {
    let w = Work::new("efionly");
    w.file("efi.img", 64 * 1024);
    let mut iso = w.iso(&["-e", "efi.img", "-no-emul-boot"]);
    let (_, catalog) = Catalog::read(&mut iso[..]).unwrap();
    let err = catalog.bios_entry().unwrap_err();
    assert_eq!(err.to_string(), "no BIOS boot entry in this image (it boots with UEFI only)");
}

#[test]
fn an_image_without_boot_record_or_without_iso9660_is_named() {
    let w = Work::new("plain");
    w.file("readme.txt", 10);
    let mut iso = w.iso(&[]);
    assert_eq!(Catalog::read(&mut iso[..]).unwrap_err(), EltoritoError::NoBootRecord);
    let mut zeros = vec![0u8; 1 << 20];
    assert_eq!(Volume::read(&mut zeros[..]).unwrap_err(), IsoError::NotIso9660);
    let mut tiny = vec![0u8; 4096];
    assert_eq!(Volume::read(&mut tiny[..]).unwrap_err(), IsoError::TooSmall { bytes: 4096 });
}

#[test]
fn a_damaged_validation_entry_or_a_catalog_past_the_end_is_an_error() {
    let w = Work::new("damaged");
    w.file("boot.bin", 2048);
    let iso = w.iso(&["-b", "boot.bin", "-no-emul-boot"]);
    let catalog_block = Volume::read(&mut iso.clone()[..]).unwrap().boot_catalog.unwrap() as usize;
    let mut bad = iso.clone();
    bad[catalog_block * 2048 + 4] ^= 1;
    assert_eq!(Catalog::read(&mut bad[..]).unwrap_err(), EltoritoError::BadValidationEntry);
    let mut truncated = iso[..catalog_block * 2048].to_vec();
    assert_eq!(Catalog::read(&mut truncated[..]).unwrap_err(), EltoritoError::CatalogOutside { block: catalog_block as u32 });
}
