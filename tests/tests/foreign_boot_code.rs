//! A system booted from the stick (To Go) sees the stick as its boot disk:
//! a grub-install inside it writes GRUB's boot.img over sector 0's code
//! and core.img over the sectors after it, where dropboot's stage2 lies
//! (issue 22). `dropboot info` says whose code sector 0 holds, and
//! `dropboot upgrade` puts dropboot's back: stage1 and stage2 as this
//! binary carries them, the table and disk signature as they were (less
//! the entries of the To Go boot, which every writing command takes out),
//! the data untouched. A disk with GRUB's code and no sign of dropboot
//! (no stage2, no record of a boot, or no data partition at 2048) is
//! still refused. Host only: GRUB's own boot.img (grub-pc-bin), a
//! core.img grub-mkimage makes, and SYSLINUX's mbr.bin.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use bootfs::extent::ExtentMap;
use bootfs::iso_partition::{place_image, ImagePart, Record, RECORD_LBA};
use bootfs::layout::{verify_stage2, DATA_PARTITION_LBA, MBR_CODE_BYTES, VERSION};
use tests::media::{data_partition, dropboot, dropboot_bin, fsck_passes, output, partitioned_image, patch, read_at, run};
use tests::work_dir;

const GRUB_BOOT_IMG: &str = "/usr/lib/grub/i386-pc/boot.img";
const SYSLINUX_MBR: &str = "/usr/lib/syslinux/mbr/mbr.bin";

/// A stick holding an installed system's image, as stage2 leaves it once it
/// has booted it: the image's partitions in the table and the record of
/// them at LBA 769. Returns the stick and its sector 0 before that boot.
fn booted_to_go(dir: &Path) -> (PathBuf, Vec<u8>) {
    let image = partitioned_image(&dir.join("debian.img"), 32 << 20, "label: dos\nstart=2048, size=20000, type=83\nstart=30000, type=83\n");
    let stick = dir.join("stick.img");
    dropboot([OsStr::new("create"), stick.as_os_str(), OsStr::new("--size"), OsStr::new("128M"), image.as_os_str()]);
    let clean = read_at(&stick, 0, 512);
    let sector0: [u8; 512] = clean.clone().try_into().expect("a sector");
    let mut volume = bootfs::filesystem::Filesystem::open(data_partition(&stick)).expect("the data partition");
    let file = bootfs::scan::find_file(&mut volume, "/debian.img").expect("reading the stick").expect("the image on it");
    let map: ExtentMap = volume.extent_map(&file).expect("its map");
    let mut bytes = std::fs::read(&image).expect("the image");
    let disk = bootfs::vdisk::recognize(&mut bytes[..]).expect("a raw disk");
    let parts: Vec<ImagePart> = bootfs::vdisk::partitions(&mut bytes[..], &disk)
        .expect("its partitions")
        .entries
        .iter()
        .map(|p| ImagePart { number: p.number, kind: 0, start: p.start, sectors: p.sectors, logicals: Vec::new() })
        .collect();
    let (placements, missing) = place_image(&parts, 0, &map, DATA_PARTITION_LBA as u64, "/debian.img", &sector0);
    assert!(placements.len() == 2 && missing.is_empty(), "{missing:?}");
    let record = Record::new(&placements, &sector0, "/debian.img");
    patch(&stick, RECORD_LBA * 512, &record.to_sector());
    patch(&stick, 0, &record.apply(&sector0));
    (stick, clean)
}

/// What grub-install writes: boot.img's code into sector 0 (the disk
/// signature and table kept) and core.img from sector 1 on.
fn install_grub(dir: &Path, stick: &Path) {
    let boot = std::fs::read(GRUB_BOOT_IMG).expect("GRUB's boot.img (grub-pc-bin; `make deps`)");
    patch(stick, 0, &boot[..MBR_CODE_BYTES]);
    let core = dir.join("core.img");
    run(Command::new("grub-mkimage").args(["-O", "i386-pc", "-p", "(hd0,msdos2)/boot/grub", "-o"]).arg(&core).args([
        "biosdisk",
        "part_msdos",
        "ext2",
    ]));
    patch(stick, 512, &std::fs::read(&core).expect("core.img"));
}

fn info(stick: &Path) -> String {
    dropboot([OsStr::new("info"), stick.as_os_str()])
}

/// dropboot's boot code is on `stick` as this binary carries it.
fn boot_code_is_ours(stick: &Path) {
    let stage1 = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/stage1.bin")).expect("build/stage1.bin");
    assert!(read_at(stick, 0, MBR_CODE_BYTES) == stage1, "stage1 is this build's");
    let area = read_at(stick, 512, (RECORD_LBA as usize - 1) * 512);
    let header = verify_stage2(&area).expect("stage2 seals and verifies");
    assert_eq!(header.version, VERSION);
    assert!(info(stick).contains("(current)"), "{}", info(stick));
}

#[test]
fn info_names_the_boot_code_another_loader_wrote_over_dropboots_and_upgrade_puts_dropboots_back() {
    let dir = work_dir("foreign_boot_code");
    let (stick, clean) = booted_to_go(&dir);
    let data_at = DATA_PARTITION_LBA as u64 * 512;
    let data = read_at(&stick, data_at, (std::fs::metadata(&stick).expect("the stick").len() - data_at) as usize);
    install_grub(&dir, &stick);

    let said = info(&stick);
    assert!(
        said.contains(
            "boot code:     not dropboot's: sector 0 holds GRUB's boot code (a system booted from this stick may have run grub-install onto it); dropboot upgrade puts dropboot's back"
        ),
        "{said}"
    );
    let json: serde_json::Value = serde_json::from_str(&dropboot([OsStr::new("info"), stick.as_os_str(), OsStr::new("--json")])).expect("JSON");
    assert_eq!((json["boot_code"]["sector0"].as_str(), json["boot_code"]["version"].is_null()), (Some("GRUB"), true), "{json}");
    // Its files are still listed.
    assert!(dropboot([OsStr::new("list"), stick.as_os_str()]).contains("/debian.img"));

    let out = output(Command::new(dropboot_bin()).arg("upgrade").arg(&stick));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("put dropboot's boot code (") && stdout.contains("; it was not dropboot's: sector 0 holds GRUB's boot code"), "{stdout}");
    assert!(stderr.contains("took partitions 2 and 3 (/debian.img, written at its last boot) out of the partition table"), "{stderr}");
    boot_code_is_ours(&stick);
    assert_eq!(read_at(&stick, MBR_CODE_BYTES as u64, 512 - MBR_CODE_BYTES), clean[MBR_CODE_BYTES..], "disk signature and table as before the boot");
    assert!(!Record::parse(&read_at(&stick, RECORD_LBA * 512, 512)).expect("the record").written, "the record says its entries are out");
    assert!(read_at(&stick, data_at, data.len()) == data, "the data partition untouched");
    fsck_passes(&stick, "exfat");

    // SYSLINUX's mbr.bin, and code nobody signs, over a stage2 left whole.
    for (code, words) in [
        (std::fs::read(SYSLINUX_MBR).expect("SYSLINUX's mbr.bin (syslinux-common; `make deps`)"), "SYSLINUX's boot code (its mbr.bin)"),
        (tests::media::pseudo_random(MBR_CODE_BYTES, 3), "boot code that is not dropboot's"),
    ] {
        patch(&stick, 0, &code[..MBR_CODE_BYTES]);
        let said = info(&stick);
        assert!(said.contains(&format!("not dropboot's: sector 0 holds {words}; dropboot upgrade puts dropboot's back")), "{said}");
        dropboot([OsStr::new("upgrade"), stick.as_os_str()]);
        boot_code_is_ours(&stick);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn upgrade_still_refuses_a_disk_with_grubs_code_and_no_sign_of_dropboot() {
    let dir = work_dir("foreign_boot_code_refused");
    let (stick, _) = booted_to_go(&dir);
    install_grub(&dir, &stick);
    let refused = |stick: &Path, why: &str| {
        let before = std::fs::read(stick).expect("the stick");
        let out = output(Command::new(dropboot_bin()).arg("upgrade").arg(stick));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{why}: {err}");
        assert!(err.contains("not a dropboot disk: no dropboot stage2 after the MBR, and sector 0 holds GRUB's boot code"), "{why}: {err}");
        assert!(std::fs::read(stick).expect("the stick") == before, "{why}: nothing written");
    };
    // The data partition one sector later than dropboot puts it.
    let mut moved = read_at(&stick, 0, 512);
    let entry = 446 + 16 * bootfs::mbr::Mbr::parse(moved[..].try_into().expect("a sector")).expect("a table").data_partition().expect("data").0;
    let start = u32::from_le_bytes(moved[entry + 8..entry + 12].try_into().expect("4 bytes"));
    moved[entry + 8..entry + 12].copy_from_slice(&(start + 1).to_le_bytes());
    let other = dir.join("moved.img");
    std::fs::copy(&stick, &other).expect("a copy");
    patch(&other, 0, &moved);
    refused(&other, "data partition at 2049");
    // No record of a boot.
    patch(&stick, RECORD_LBA * 512, &[0; 512]);
    refused(&stick, "no record");
    let _ = std::fs::remove_dir_all(&dir);
}
