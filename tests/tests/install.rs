//! Installing onto a device and upgrading its boot code, on loop devices
//! (root, as CI has): the stick boots, the data survives an upgrade and an
//! interrupted one, and every unsafe target is refused with nothing written.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bootfs::layout::{word_sum, DATA_PARTITION_LBA, STAGE2_LBA};
use sha2::{Digest, Sha256};
use tests::media::{dropboot, dropboot_bin, patch, read_at, run};
use tests::stick::Case;

/// A loop device over `file`, detached when dropped.
struct Loop(String);

impl Loop {
    fn attach(file: &Path, partitions: bool) -> Loop {
        let mut cmd = Command::new("losetup");
        cmd.args(["-f", "--show"]);
        if partitions {
            cmd.arg("-P");
        }
        let dev = run(cmd.arg(file)).trim().to_string();
        if partitions {
            let _ = tests::media::output(Command::new("partx").args(["-a", &dev]));
        }
        Loop(dev)
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = tests::media::output(Command::new("losetup").args(["-d", &self.0]));
    }
}

fn sparse_file(dir: &Path, name: &str, mib: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().set_len(mib << 20).unwrap();
    path
}

fn dropboot_output(args: &[&OsStr]) -> Output {
    tests::media::output(Command::new(dropboot_bin()).args(args))
}

/// SHA-256 of the data partition of a disk or image.
fn data_sha256(disk: &Path) -> Vec<u8> {
    let size = std::fs::metadata(disk).unwrap().len();
    let offset = DATA_PARTITION_LBA as u64 * 512;
    Sha256::digest(read_at(disk, offset, (size - offset) as usize)).to_vec()
}

/// Makes the boot code on `disk` look like version 0.0.9 (sealed again).
fn make_boot_code_older(disk: &Path) {
    let at = STAGE2_LBA as u64 * 512;
    let mut header = read_at(disk, at, 32);
    let sectors = u32::from_le_bytes(header[12..16].try_into().unwrap()) as usize;
    let mut stage2 = read_at(disk, at, sectors * 512);
    stage2[20..24].copy_from_slice(&0x00_00_09u32.to_le_bytes());
    stage2[16..20].copy_from_slice(&0u32.to_le_bytes());
    let sum = word_sum(&stage2);
    stage2[16..20].copy_from_slice(&0u32.wrapping_sub(sum).to_le_bytes());
    header.copy_from_slice(&stage2[..32]);
    patch(disk, at, &stage2);
}

fn boots_to_menu(case: &Case, disk: &Path, files: usize) {
    let mut vm = case.boot(disk);
    vm.wait_screen(&format!("{files} boot file"));
}

#[test]
fn install_on_a_loop_device_boots_and_upgrade_keeps_the_data_byte_for_byte() {
    let case = Case::new("install_upgrade");
    let backing = sparse_file(&case.dir, "stick.raw", 128);
    let iso = case.random_file("rescue.iso", 200_000, 41);
    {
        let dev = Loop::attach(&backing, false);
        let dev = OsStr::new(&dev.0);
        let said = dropboot([OsStr::new("install"), dev, "--yes".as_ref(), "--force".as_ref()]);
        assert!(said.contains("is a dropboot stick now"), "{said}");
        dropboot([OsStr::new("add"), dev, iso.as_os_str(), "--to".as_ref(), "/rescue".as_ref()]);
    }
    boots_to_menu(&case.step("installed"), &backing, 1);

    make_boot_code_older(&backing);
    let before = data_sha256(&backing);
    {
        let dev = Loop::attach(&backing, false);
        let info = dropboot([OsStr::new("info"), OsStr::new(&dev.0)]);
        assert!(info.contains("boot code:     0.0.9"), "{info}");
        let said = dropboot([OsStr::new("upgrade"), OsStr::new(&dev.0)]);
        assert!(said.contains(": 0.0.9 -> 0.1.0"), "{said}");
    }
    assert_eq!(data_sha256(&backing), before, "the data partition changed");
    boots_to_menu(&case.step("upgraded"), &backing, 1);
}

#[test]
fn an_upgrade_cut_off_after_the_stage2_write_still_boots_with_its_data_intact() {
    let case = Case::new("upgrade_interrupted");
    let iso = case.random_file("rescue.iso", 200_000, 42);
    let image = case.stick().file(&iso).build().path;
    make_boot_code_older(&image);
    let before = data_sha256(&image);
    let out =
        tests::media::output(Command::new(dropboot_bin()).args([OsStr::new("upgrade"), image.as_os_str()]).env("DROPBOOT_FAULT", "after-stage2"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped after the stage2 write"));
    assert_eq!(data_sha256(&image), before, "the data partition changed");
    boots_to_menu(&case, &image, 1);
}

/// `dropboot install DEVICE --yes [--force]` must fail with `reason`
/// and leave the device's first MiB as it was.
fn refused(device: &str, force: bool, reason: &str) {
    let first = read_at(Path::new(device), 0, 1 << 20);
    let mut args: Vec<&OsStr> = vec!["install".as_ref(), device.as_ref(), "--yes".as_ref()];
    if force {
        args.push("--force".as_ref());
    }
    let out = dropboot_output(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{device} was accepted: {stderr}");
    assert!(stderr.contains(reason), "{device}: expected {reason:?} in: {stderr}");
    assert_eq!(read_at(Path::new(device), 0, 1 << 20), first, "{device} was written to");
}

#[test]
fn unsafe_targets_are_refused_with_the_reason_and_nothing_written() {
    let case = Case::new("install_refusals");
    let dir = &case.dir;
    // Too small.
    let small = sparse_file(dir, "small.raw", 32);
    let dev = Loop::attach(&small, false);
    refused(&dev.0, true, "has 32 MiB; dropboot needs at least 64 MiB");
    // Neither removable nor on USB, without --force.
    let fixed = sparse_file(dir, "fixed.raw", 128);
    let dev = Loop::attach(&fixed, false);
    refused(&dev.0, false, "is not a removable or USB disk; add --force");
    // A mounted device (ext4, which this kernel has).
    let mounted = sparse_file(dir, "mounted.raw", 128);
    let dev = Loop::attach(&mounted, false);
    run(Command::new("mkfs.ext4").args(["-q", &dev.0]));
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mnt = std::fs::canonicalize(&mnt).unwrap(); // as the kernel lists it
    run(Command::new("mount").arg(&dev.0).arg(&mnt));
    let result = std::panic::catch_unwind(|| refused(&dev.0, true, &format!("{} is mounted on {}", dev.0, mnt.display())));
    let _ = tests::media::output(Command::new("umount").arg(&mnt));
    result.unwrap();
    // A device with a mounted partition, and a partition instead of a disk.
    let table = sparse_file(dir, "partitioned.raw", 128);
    run(Command::new("sh").args(["-c", "printf 'label: dos\\n2048,,83\\n' | sfdisk -q \"$0\""]).arg(&table));
    let dev = Loop::attach(&table, true);
    let part = format!("{}p1", dev.0);
    for _ in 0..50 {
        if Path::new(&part).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(Path::new(&part).exists(), "the kernel made no {part}");
    refused(&part, true, &format!("{part} is a partition; name the whole disk ({})", dev.0));
    run(Command::new("mkfs.ext4").args(["-q", &part]));
    run(Command::new("mount").arg(&part).arg(&mnt));
    let result = std::panic::catch_unwind(|| refused(&dev.0, true, &format!("{part} is mounted on {}", mnt.display())));
    let _ = tests::media::output(Command::new("umount").arg(&mnt));
    result.unwrap();
    // An image file.
    let out = dropboot_output(&["install".as_ref(), fixed.as_os_str(), "--yes".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a block device"));
}

#[test]
fn install_fs_ntfs_on_a_loop_device_makes_an_ntfs_stick_ntfs_3g_fills_and_the_menu_lists() {
    let case = Case::new("install_ntfs");
    let backing = sparse_file(&case.dir, "stick.raw", 128);
    let iso = case.random_file("rescue.iso", 200_000, 43);
    {
        let dev = Loop::attach(&backing, false);
        let dev = OsStr::new(&dev.0);
        let said = dropboot([OsStr::new("install"), dev, "--fs".as_ref(), "ntfs".as_ref(), "--yes".as_ref(), "--force".as_ref()]);
        assert!(said.contains("is a dropboot stick now"), "{said}");
        let info = dropboot([OsStr::new("info"), dev]);
        assert!(info.contains("NTFS \"DROPBOOT\""), "{info}");
    }
    tests::media::fill_ntfs(&backing, |mnt| tests::media::copy_into(mnt, &[(&iso, "/rescue")]));
    tests::media::fsck_passes(&backing, "ntfs");
    boots_to_menu(&case, &backing, 1);
}
