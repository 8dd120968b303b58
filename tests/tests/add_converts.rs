//! `dropboot add` and `create` make a dynamic VHD, VDI or VHDX (and a fixed
//! VHDX whose zero blocks qemu-img left out) fixed as they copy it, so that
//! the loader boots it in place (issue 22). qemu-img makes the dynamic
//! files from a raw disk sfdisk partitioned, with data here and holes
//! there; then `qemu-img compare` (the oracle, reading the stick's file
//! through its own drivers at its place on the stick) says the file holds
//! the same disk, bootfs recognizes it as fixed, `dropboot check` says it
//! boots, and fsck finds the data partition clean. A differencing VHD and a
//! truncated VDI are refused in words, and nothing is written. Host only.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use bootfs::file::{ByteSource, MappedFile};
use bootfs::layout::DATA_PARTITION_LBA;
use bootfs::vdisk::{self, VdiskFormat};
use tests::media::{dropboot, dropboot_bin, fsck_passes, output, partitioned_image, pseudo_random, run};
use tests::work_dir;

/// A raw disk of `bytes` (sparse) partitioned by sfdisk (a Linux partition
/// at 1 MiB, an extended one holding a logical partition), with `data`
/// (offset, length) written as pseudo-random bytes and zeros elsewhere.
fn raw_disk(path: &Path, bytes: u64, data: &[(u64, usize)]) -> PathBuf {
    use std::os::unix::fs::FileExt;
    let half = bytes / 512 / 2;
    let script = format!("label: dos\nstart=2048, size={half}, type=83\nstart={}, type=5\nstart={}, type=83\n", half + 2048, half + 4096);
    partitioned_image(path, bytes, &script);
    let file = fs::OpenOptions::new().write(true).open(path).expect("the raw disk");
    for (i, &(at, len)) in data.iter().enumerate() {
        file.write_all_at(&pseudo_random(len, i as u64 + 7), at).expect("its data");
    }
    path.to_path_buf()
}

/// qemu-img convert `raw` with `args` to `to`.
fn qemu_img(raw: &Path, args: &[&str], to: &Path) -> PathBuf {
    run(Command::new("qemu-img").args(["convert", "-q", "-f", "raw"]).args(args).arg(raw).arg(to));
    to.to_path_buf()
}

/// Where `path` lies on the stick `image`, in one piece: its byte offset
/// in the image and its length.
fn on_stick(image: &Path, path: &str) -> (u64, u64) {
    let mut volume = bootfs::filesystem::Filesystem::open(tests::media::data_partition(image)).expect("the data partition");
    let report = bootfs::scan::scan(&mut volume).expect("scanning the stick");
    let f = report.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} is not on the stick"));
    let map = volume.extent_map(f).expect("its extent map");
    assert_eq!(map.len(), 1, "{path} is in one piece");
    ((DATA_PARTITION_LBA as u64 + map.extents()[0].disk_lba) * 512, f.size)
}

/// What bootfs makes of `path` on the stick, read as the loader reads it.
fn recognized(image: &Path, path: &str) -> vdisk::Vdisk {
    let mut volume = bootfs::filesystem::Filesystem::open(tests::media::data_partition(image)).expect("the data partition");
    let report = bootfs::scan::scan(&mut volume).expect("scanning the stick");
    let f = report.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} is not on the stick"));
    let map = volume.extent_map(f).expect("its extent map");
    let mut file = MappedFile { dev: tests::media::data_partition(image), map, size: f.size };
    assert_eq!(file.len(), f.size);
    vdisk::recognize(&mut file).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// qemu-img compare of `raw` with the file `path` on the stick `image`,
/// read in place by QEMU's `driver` (vpc, vdi, vhdx) over the stick's bytes.
fn same_disk(raw: &Path, image: &Path, path: &str, driver: &str) {
    let (offset, size) = on_stick(image, path);
    let inner = serde_json::json!({
        "driver": driver,
        "file": { "driver": "raw", "offset": offset, "size": size, "file": { "driver": "file", "filename": image } },
    });
    let out = output(Command::new("qemu-img").args(["compare", "-f", "raw"]).arg(raw).arg(format!("json:{inner}")));
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("Images are identical"), "qemu-img compare of {path}:\n{text}");
}

/// `dropboot check IMAGE PATH`'s verdict line.
fn verdict(image: &Path, path: &str) -> String {
    let out = output(Command::new(dropboot_bin()).arg("check").arg(image).arg(path));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "check {path}:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    text.lines().nth(1).map(str::trim).unwrap_or_default().to_string()
}

fn args(parts: &[&OsStr]) -> Vec<OsString> {
    parts.iter().map(|p| p.to_os_string()).collect()
}

#[test]
fn add_makes_dynamic_vhd_vdi_and_vhdx_fixed_and_qemu_img_finds_the_same_disk_on_the_stick() {
    let dir = work_dir("add_converts");
    // 64 MiB: data in partition 1 and in the logical one, holes between
    // them (blocks the dynamic images leave out).
    let raw = raw_disk(&dir.join("disk.img"), 64 << 20, &[(2 << 20, 5 << 20), (11 << 20, 300_000), (40 << 20, 1 << 20)]);
    let cases = [
        ("debian.vhd", &["-O", "vpc"][..], "vpc", VdiskFormat::FixedVhd, "from a dynamic VHD to a fixed one ("),
        ("debian.vdi", &["-O", "vdi"], "vdi", VdiskFormat::StaticVdi, "from a dynamic VDI to a fixed one ("),
        ("debian.vhdx", &["-O", "vhdx"], "vhdx", VdiskFormat::FixedVhdx, "from a dynamic VHDX to a fixed one with its blocks in order ("),
        (
            "zero-blocks.vhdx",
            &["-O", "vhdx", "-o", "subformat=fixed,block_size=1M"],
            "vhdx",
            VdiskFormat::FixedVhdx,
            "from a fixed VHDX whose blocks are out of order or left out to a fixed one with its blocks in order (",
        ),
    ];
    let images: Vec<PathBuf> = cases.iter().map(|(name, options, ..)| qemu_img(&raw, options, &dir.join(name))).collect();
    // The same bytes under a name the menu does not offer: copied as they are.
    let kept = dir.join("backup.bin");
    fs::copy(&images[0], &kept).expect("a copy");

    for fs_kind in ["exfat", "fat32"] {
        let stick = dir.join(format!("{fs_kind}.img"));
        dropboot(args(&[OsStr::new("create"), stick.as_os_str(), OsStr::new("--size"), OsStr::new("512M"), OsStr::new("--fs"), OsStr::new(fs_kind)]));
        let mut add = args(&[OsStr::new("add"), stick.as_os_str(), kept.as_os_str()]);
        add.extend(images.iter().map(|i| i.as_os_str().to_os_string()));
        let said = dropboot(&add);
        for (name, _, driver, format, words) in &cases {
            let path = format!("/{name}");
            assert!(said.contains(&format!("converted {path} {words}")) && said.contains(") so it boots in place"), "{fs_kind}: {said}");
            same_disk(&raw, &stick, &path, driver);
            let disk = recognized(&stick, &path);
            assert_eq!(disk.format, *format, "{fs_kind} {path}");
            assert!(disk.data_bytes >= 64 << 20, "{fs_kind} {path}: the whole disk");
            let v = verdict(&stick, &path);
            assert!(v.starts_with("boots as hard disk 80h") && v.contains(&format!("from a {}", format.name())), "{fs_kind} {path}: {v}");
            assert!(v.contains("its partitions 1 and 5 will be sda2 and sda5"), "{fs_kind} {path}: {v}");
        }
        assert!(!said.contains("backup.bin"), "{said}");
        let mut volume = bootfs::filesystem::Filesystem::open(tests::media::data_partition(&stick)).expect("the data partition");
        let root = bootfs::scan::list_dir(&mut volume, "/").expect("the root").expect("a root");
        let backup = root.iter().find(|e| e.name == "backup.bin").expect("backup.bin on the stick");
        assert_eq!(backup.size, fs::metadata(&kept).expect("the copy").len(), "copied as it is");
        fsck_passes(&stick, fs_kind);
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn create_makes_a_sparse_dynamic_disk_over_4_gib_fixed_past_the_vhdx_block_tables_bitmap_entry() {
    let dir = work_dir("add_converts_large");
    // 5 GiB, mostly never written: data at the start, just past 4 GiB
    // (where a VHDX with 1 MiB blocks has its first sector bitmap entry)
    // and in the last MiB.
    let size = 5u64 << 30;
    let raw = raw_disk(&dir.join("large.img"), size, &[(1 << 20, 100_000), ((4 << 30) + 4096, 200_000), (size - (1 << 20), 1 << 20)]);
    let vhd = qemu_img(&raw, &["-O", "vpc"], &dir.join("large.vhd"));
    let vhdx = qemu_img(&raw, &["-O", "vhdx", "-o", "block_size=1M"], &dir.join("large.vhdx"));
    let stick = dir.join("stick.img");
    let said = dropboot([OsStr::new("create"), stick.as_os_str(), OsStr::new("--size"), OsStr::new("12G"), vhd.as_os_str(), vhdx.as_os_str()]);
    assert!(said.contains("converted /large.vhd from a dynamic VHD to a fixed one (5.00 GiB) so it boots in place"), "{said}");
    assert!(said.contains("converted /large.vhdx from a dynamic VHDX to a fixed one with its blocks in order (5.00 GiB)"), "{said}");
    for (path, driver, format) in [("/large.vhd", "vpc", VdiskFormat::FixedVhd), ("/large.vhdx", "vhdx", VdiskFormat::FixedVhdx)] {
        same_disk(&raw, &stick, path, driver);
        assert_eq!(recognized(&stick, path).format, format, "{path}");
        assert!(verdict(&stick, path).starts_with("boots as hard disk 80h"), "{path}");
    }
    // What the blocks never written became was skipped, not written: the
    // stick stays sparse.
    use std::os::unix::fs::MetadataExt;
    let used = fs::metadata(&stick).expect("the stick").blocks() * 512;
    assert!(used < 1 << 30, "{used} bytes of the stick written");
    fsck_passes(&stick, "exfat");
    let _ = fs::remove_dir_all(&dir);
}

/// Makes the dynamic VHD `image` a differencing one, as qemu-img cannot:
/// disk type 4 in its footer and the footer's copy at its start.
fn make_differencing(image: &Path) {
    let mut bytes = fs::read(image).expect("the VHD");
    let end = bytes.len() - 512;
    for at in [0, end] {
        let footer = &mut bytes[at..at + 512];
        footer[0x3C..0x40].copy_from_slice(&4u32.to_be_bytes());
        footer[0x40..0x44].fill(0);
        let sum = !footer.iter().fold(0u32, |s, &b| s.wrapping_add(b as u32));
        footer[0x40..0x44].copy_from_slice(&sum.to_be_bytes());
    }
    fs::write(image, bytes).expect("the differencing VHD");
}

#[test]
fn a_differencing_vhd_a_truncated_dynamic_vdi_or_one_too_large_is_refused_in_words_and_nothing_is_written() {
    let dir = work_dir("add_converts_refused");
    let raw = raw_disk(&dir.join("disk.img"), 16 << 20, &[(1 << 20, 3 << 20)]);
    let child = qemu_img(&raw, &["-O", "vpc"], &dir.join("child.vhd"));
    make_differencing(&child);
    let vdi = qemu_img(&raw, &["-O", "vdi"], &dir.join("cut.vdi"));
    let len = fs::metadata(&vdi).expect("the VDI").len();
    fs::File::options().write(true).open(&vdi).and_then(|f| f.set_len(len - (1 << 20))).expect("cutting the VDI");
    let other = dir.join("other.img");
    fs::copy(&raw, &other).expect("a raw disk");
    let stick = dir.join("stick.img");
    dropboot([OsStr::new("create"), stick.as_os_str(), OsStr::new("--size"), OsStr::new("128M")]);
    let before = fs::read(&stick).expect("the stick");
    for (file, words) in [
        (&child, "child.vhd: it is a differencing VHD, which holds only the changes to another image"),
        (&vdi, "cut.vdi: it is a damaged VDI: a block lies past the end of the file; is it truncated?"),
    ] {
        // The good file first: nothing of it is written either.
        let out = output(Command::new(dropboot_bin()).arg("add").arg(&stick).arg(&other).arg(file));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("not copying ") && err.contains(words) && err.contains("nothing was written"), "{err}");
        assert!(fs::read(&stick).expect("the stick") == before, "nothing was written");
        // create makes no image.
        let new = dir.join("new.img");
        let out = output(Command::new(dropboot_bin()).arg("create").arg(&new).args(["--size", "128M"]).arg(file));
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!new.exists(), "create made no image");
    }
    // A small dynamic file whose disk is larger than the stick: the space
    // it needs is its disk's, and the message says why.
    let large = raw_disk(&dir.join("large.img"), 1 << 30, &[]);
    let small = qemu_img(&large, &["-O", "vpc"], &dir.join("small.vhd"));
    let out = output(Command::new(dropboot_bin()).arg("add").arg(&stick).arg(&small));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("MiB on the stick (a dynamic VHD made fixed takes its disk's whole size)"), "{err}");
    assert!(fs::read(&stick).expect("the stick") == before, "nothing was written");
    let _ = fs::remove_dir_all(&dir);
}
