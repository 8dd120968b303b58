//! Seed inputs for the fuzz targets (bootfs::fuzz), made from real media:
//! sticks written by `dropboot`, ISOs made by xorriso, the third-party boot
//! media when they are cached (only the sectors bootfs reads of them), and
//! configuration files in Ventoy's documented forms. `make fuzz` and the
//! smoke runs in `make test` start from them; the replay test runs them.

use std::fs;
use std::path::{Path, PathBuf};

use bootfs::file::ByteSource;
use bootfs::fuzz::SparseDisk;
use bootfs::layout::DATA_PARTITION_LBA;
use bootfs::IoError;

use crate::media::random_file;
use crate::probe::{build_disk, build_iso, emulation_iso};
use crate::stick::{Fs, Stick};

/// A file read through [`ByteSource`] that notes the sectors read.
struct Recording {
    bytes: Vec<u8>,
    read: Vec<u64>,
}

impl ByteSource for Recording {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let end = offset + buf.len() as u64;
        self.read.extend(offset / 512..end.div_ceil(512));
        self.bytes.as_mut_slice().read_at(offset, buf)
    }
}

/// The sectors of `bytes` that `read` reads, as a sparse input.
fn sectors_read(bytes: Vec<u8>, read: impl FnOnce(&mut Recording)) -> Vec<u8> {
    let mut rec = Recording { bytes, read: Vec::new() };
    read(&mut rec);
    rec.read.sort_unstable();
    rec.read.dedup();
    SparseDisk::encode(&rec.bytes, Some(&rec.read))
}

/// The sectors of `bytes` a boot plan reads, as a sparse input.
fn planned_sectors(name: &str, bytes: Vec<u8>) -> Vec<u8> {
    sectors_read(bytes, |rec| drop(bootfs::bootplan::plan(name, rec)))
}

/// The sectors of an ISO that looking up and reading its boot files reads.
fn iso_tree_sectors(bytes: Vec<u8>) -> Vec<u8> {
    sectors_read(bytes, bootfs::fuzz::walk_iso)
}

/// An ISO with Rock Ridge and Joliet trees holding boot configurations
/// (ISOLINUX with an INCLUDE, GRUB), an initrd and a name long enough for
/// a Rock Ridge continuation area.
pub fn config_iso(work: &Path) -> PathBuf {
    let root = work.join("config-iso");
    let _ = fs::remove_dir_all(&root);
    for (path, text) in [
        ("isolinux/isolinux.cfg", "default live\ninclude menu.cfg\n"),
        ("isolinux/menu.cfg", "label live\n  kernel /live/vmlinuz\n  append initrd=/live/initrd.img boot=live\n"),
        ("boot/grub/grub.cfg", "menuentry live {\n  linux /live/vmlinuz boot=live\n  initrd /live/initrd.img\n}\n"),
        ("live/initrd.img", "not really an initrd"),
        (&format!("long-{}.txt", "n".repeat(200)), "long"),
    ] {
        let file = root.join(path);
        fs::create_dir_all(file.parent().expect("a folder")).expect("config ISO folder");
        fs::write(file, text).expect("config ISO file");
    }
    let iso = work.join("config.iso");
    let args = ["-as", "mkisofs", "-quiet", "-R", "-J", "-joliet-long", "-V", "CONFIGS", "-o"];
    assert!(crate::media::output(std::process::Command::new("xorriso").args(args).arg(&iso).arg(&root)).status.success(), "xorriso");
    iso
}

/// A volume read through [`bootfs::BlockDevice`] that notes the sectors read.
struct RecordingDisk {
    bytes: Vec<u8>,
    read: Vec<u64>,
}

impl bootfs::BlockDevice for RecordingDisk {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.read.extend(lba..lba + (buf.len() / 512) as u64);
        self.bytes.as_mut_slice().read_sectors(lba, buf)
    }
}

/// The sectors of a volume that opening it, scanning it, mapping and
/// reading its files and its configuration read, as a sparse input.
fn volume_sectors_read(volume: Vec<u8>) -> Vec<u8> {
    let mut disk = RecordingDisk { bytes: volume, read: Vec::new() };
    if let Ok(mut fs) = bootfs::filesystem::Filesystem::open(&mut disk) {
        let _ = bootfs::config::load(&mut fs);
        for f in bootfs::scan::scan(&mut fs).map(|r| r.files).unwrap_or_default() {
            let _ = fs.extent_map(&f);
            let _ = fs.read_whole(&bootfs::scan::BootFile { size: f.size.min(4096), ..f });
        }
    }
    disk.read.sort_unstable();
    disk.read.dedup();
    SparseDisk::encode(&disk.bytes, Some(&disk.read))
}

/// The sectors of an image file that recognising it as an installed
/// system's disk and listing its partitions read, or making a dynamic one
/// fixed reads of its tables, the zero ones left out (a sparse input reads
/// them as zeros; a VHDX's 64 KiB region table is mostly zeros).
fn vdisk_sectors_read(bytes: Vec<u8>) -> Vec<u8> {
    let mut rec = Recording { bytes, read: Vec::new() };
    if let Ok(disk) = bootfs::vdisk::recognize(&mut rec) {
        let _ = bootfs::vdisk::partitions(&mut rec, &disk);
    } else if let Ok(mut fixed) = bootfs::vdisk::Conversion::open(&mut rec) {
        let _ = fixed.check_blocks(&mut rec);
    }
    rec.read.sort_unstable();
    rec.read.dedup();
    let sectors: Vec<&[u8]> = rec.bytes.chunks(512).collect();
    rec.read.retain(|&lba| sectors.get(lba as usize).is_some_and(|s| s.iter().any(|&b| b != 0)));
    SparseDisk::encode(&rec.bytes, Some(&rec.read))
}

/// Installed-system disk images: a 16 MiB raw disk whose table sfdisk
/// writes (primary, extended and two logical partitions), qemu-img's fixed
/// VHD, static VDI, fixed VHDX, and dynamic VHD, VDI and VHDX of it, and a
/// GPT disk sgdisk makes.
fn vdisk_images(work: &Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let run = |cmd: &mut Command| assert!(crate::media::output(cmd).status.success(), "{cmd:?}");
    let raw = work.join("vdisk.img");
    fs::File::create(&raw).and_then(|f| f.set_len(16 << 20)).expect("a raw disk");
    let mut sfdisk = Command::new("sfdisk").arg("-q").arg(&raw).stdin(Stdio::piped()).spawn().expect("sfdisk (`make deps`)");
    let d = raw.to_string_lossy();
    let script = format!(
        "label: dos\n{d}1 : start=2048, size=4096, type=83\n{d}2 : start=8192, size=16384, type=5\n\
         {d}4 : start=28672, size=4096, type=c\n{d}5 : start=10240, size=4096, type=83\n{d}6 : start=16384, size=2048, type=82\n"
    );
    sfdisk.stdin.take().expect("its input").write_all(script.as_bytes()).expect("the script");
    assert!(sfdisk.wait().expect("sfdisk").success());
    let mut images = vec![("raw-mbr".to_string(), fs::read(&raw).expect("the raw disk"))];
    for (name, options) in [
        ("fixed.vhd", &["-O", "vpc", "-o", "subformat=fixed"][..]),
        ("static.vdi", &["-O", "vdi", "-o", "static=on"]),
        ("fixed.vhdx", &["-O", "vhdx", "-o", "subformat=fixed,block_state_zero=off"]),
        ("dynamic.vhdx", &["-O", "vhdx"]),
        ("dynamic.vhd", &["-O", "vpc"]),
        ("dynamic.vdi", &["-O", "vdi"]),
    ] {
        let image = work.join(name);
        let _ = fs::remove_file(&image);
        run(Command::new("qemu-img").args(["convert", "-q", "-f", "raw"]).args(options).arg(&raw).arg(&image));
        images.push((name.to_string(), fs::read(&image).expect("the image")));
    }
    let gpt = work.join("gpt.img");
    fs::File::create(&gpt).and_then(|f| f.set_len(16 << 20)).expect("a GPT disk");
    run(Command::new("sgdisk").args(["-n", "1:2048:+1M", "-t", "1:EF02", "-n", "2:0:0", "-t", "2:8300"]).arg(&gpt));
    images.push(("raw-gpt".to_string(), fs::read(&gpt).expect("the GPT disk")));
    images
}

/// The data partition of a stick image.
fn partition(image: &Path) -> Vec<u8> {
    let bytes = fs::read(image).expect("reading the stick image");
    bytes[DATA_PARTITION_LBA as usize * 512..].to_vec()
}

const CONFIGS: [&str; 4] = [
    r#"{ "control": [ { "VTOY_MENU_TIMEOUT": "5" }, { "VTOY_DEFAULT_IMAGE": "/ISO/b.iso" }, { "VTOY_DEFAULT_MENU_MODE": "1" } ] }"#,
    r#"{ "menu_alias": [ { "image": "/ISO/b.iso", "alias": "B" }, { "dir": "/ISO", "alias": "[ISO]" } ],
         "menu_tip": { "left": "10%", "tips": [ { "image": "/a.iso", "tip": "A" } ] },
         "menu_class": [ { "key": "b", "class": "bee" }, { "parent": "/ISO", "class": "iso" } ] }"#,
    r#"{ "image_list": [ "/ISO/*.iso", "/a.iso" ], "control_legacy": [ { "VTOY_DEFAULT_SEARCH_ROOT": "/ISO" }, { "VTOY_MAX_SEARCH_LEVEL": "0" } ] }"#,
    "{ \"image_blacklist\": [ \"/x/y/z/d.iso\" ], \"theme\": { \"file\": \"/ventoy/theme.txt\" }, \"s\": \"\\u00e9\\ud83d\\ude00\" }",
];

/// Writes the seeds for every target under `out/<target>/`; returns how
/// many. `work` is scratch space.
pub fn write_all(out: &Path, work: &Path) -> usize {
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(work).expect("seed scratch folder");
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();

    // Sticks as dropboot writes them, with folders, a config and files.
    let a = random_file(&work.join("a.iso"), 70_000, 1);
    let b = random_file(&work.join("b.iso"), 5_000, 2);
    let json = work.join("ventoy.json");
    fs::write(&json, CONFIGS[1]).expect("a config");
    for fs in [Fs::Fat32, Fs::Exfat] {
        let fs_kind = fs.name();
        let image = Stick::at(work.join(format!("{fs_kind}.img"))).fs(fs).file(&a).file_in(&b, "/ISO/Linux").file_in(&json, "/ventoy").build().path;
        let bytes = fs::read(&image).expect("stick");
        seeds.push(("mbr", format!("{fs_kind}-stick"), bytes[..512].to_vec()));
        // The same table carrying a booted ISO's entry, and its record.
        let sector0: [u8; 512] = bytes[..512].try_into().expect("a sector");
        let mut map = bootfs::ExtentMap::new();
        map.push(4096, 140);
        let placement = bootfs::iso_partition::place(bootfs::bootplan::Presentation::Cd, &map, 70_000, 2048, &sector0).expect("a free slot");
        let record = bootfs::iso_partition::Record::new(&[placement], &sector0, "/a.iso");
        seeds.push(("mbr", format!("{fs_kind}-stick-with-iso-partition"), [record.apply(&sector0), record.to_sector()].concat()));
        // And a builder journal: its record, then its body.
        let old = [0u8; 512];
        let changes = vec![bootfs::journal::Change::new(2048, &old, [1; 512]), bootfs::journal::Change::new(2049, &old, [2; 512])];
        let body = bootfs::journal::Body { changes }.to_bytes();
        let journal = bootfs::journal::record_for("add /a.iso", &body, vec![bootfs::journal::Run { lba: 9000, sectors: 4 }]);
        let journal = journal.to_sector().expect("one run");
        seeds.push(("mbr", format!("{fs_kind}-stick-with-journal"), [&record.apply(&sector0)[..], &record.to_sector(), &journal, &body].concat()));
        seeds.push((fs_kind, "stick".into(), SparseDisk::encode(&partition(&image), None)));
    }

    // An NTFS volume as mkntfs makes it and ntfs-3g fills it (FUSE, as
    // root); skipped where either is missing.
    // Only the sectors bootfs reads of it (the $UpCase table alone is 128 KiB).
    if let Some(volume) = ntfs_volume(work, &[(&a, "/"), (&b, "/ISO/Linux"), (&json, "/ventoy")]) {
        seeds.push(("ntfs", "volume".into(), volume_sectors_read(volume)));
    }

    // ISOs: the probe (no emulation) and a floppy-emulation ISO.
    let probe = build_iso(work, 16 * 1024);
    let disk = build_disk(work, "floppy.img", 2880, false);
    let (floppy_iso, _) = emulation_iso(work, &disk, false);
    for (name, path) in [("probe", &probe.path), ("floppy-emulation", &floppy_iso)] {
        let bytes = fs::read(path).expect("ISO");
        seeds.push(("iso9660", name.into(), planned_sectors("x.iso", bytes.clone())));
        seeds.push(("eltorito", name.into(), planned_sectors("x.iso", bytes)));
    }
    for (name, path) in [("probe", probe.path.clone()), ("configs", config_iso(work))] {
        seeds.push(("iso_tree", name.into(), iso_tree_sectors(fs::read(path).expect("ISO"))));
    }
    let disk_bytes = fs::read(&disk.path).expect("floppy image");
    seeds.push(("eltorito", "floppy-img".into(), planned_sectors("x.img", disk_bytes)));

    // Third-party media, when cached: the sectors a boot plan reads.
    let media = Path::new(env!("CARGO_MANIFEST_DIR")).join("media");
    for name in ["grub-rescue-cdrom.iso", "ipxe.iso", "memtest86+x64.iso", "grub-rescue-usb.img", "grub-rescue-floppy.img"] {
        let Ok(bytes) = fs::read(media.join(name)) else { continue };
        if name.ends_with(".img") {
            seeds.push(("mbr", name.into(), bytes[..512.min(bytes.len())].to_vec()));
        }
        seeds.push(("eltorito", name.into(), planned_sectors(name, bytes.clone())));
        seeds.push(("iso9660", name.into(), planned_sectors(name, bytes)));
    }
    if let Ok(bytes) = fs::read(media.join("debian-installer.iso")) {
        seeds.push(("iso_tree", "debian-installer.iso".into(), iso_tree_sectors(bytes)));
    }

    for (name, bytes) in vdisk_images(work) {
        seeds.push(("vdisk", name, vdisk_sectors_read(bytes)));
    }

    for (i, c) in CONFIGS.iter().enumerate() {
        seeds.push(("config", format!("ventoy-{i}"), c.as_bytes().to_vec()));
    }
    // Runs: (LE sector, count) in 5-byte records; adjacent, apart, empty.
    seeds.push(("extent_map", "runs".into(), vec![10, 0, 0, 0, 4, 14, 0, 0, 0, 2, 100, 0, 0, 0, 0, 1, 0, 0, 0, 255]));

    for (target, name, bytes) in &seeds {
        let dir = out.join(target);
        fs::create_dir_all(&dir).expect("seed folder");
        fs::write(dir.join(name), bytes).expect("writing a seed");
    }
    seeds.len()
}

/// The regression inputs saved from fuzzing: fuzz/regressions/<target>/*.
pub fn regressions() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut out = Vec::new();
    for (target, _) in bootfs::fuzz::TARGETS {
        let Ok(entries) = fs::read_dir(root.join(target)) else { continue };
        for e in entries.flatten() {
            out.push((target.to_string(), e.path()));
        }
    }
    out.sort();
    out
}

/// A 16 MiB NTFS volume made by mkntfs holding `files` (each copied into
/// its folder by ntfs-3g); None when mkntfs or ntfs-3g cannot run here.
pub fn ntfs_volume(work: &Path, files: &[(&Path, &str)]) -> Option<Vec<u8>> {
    use std::process::Command;
    let image = work.join("ntfs.img");
    let mnt = work.join("ntfs-mnt");
    let _ = fs::remove_file(&image);
    fs::create_dir_all(&mnt).ok()?;
    fs::File::create(&image).ok()?.set_len(16 << 20).ok()?;
    let made = crate::media::output(Command::new("mkntfs").args(["-F", "-Q", "-q", "-L", "SEEDS"]).arg(&image));
    if !made.status.success() || !crate::media::output(Command::new("ntfs-3g").arg(&image).arg(&mnt)).status.success() {
        return None;
    }
    for (file, folder) in files {
        let to = mnt.join(folder.trim_start_matches('/'));
        let _ = fs::create_dir_all(&to);
        let Some(name) = file.file_name() else { continue };
        let _ = fs::copy(file, to.join(name));
    }
    let _ = crate::media::output(Command::new("umount").arg(&mnt));
    fs::read(&image).ok()
}
