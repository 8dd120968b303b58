//! Installed-system disk images as other tools make and read them: a raw
//! disk with primary, extended and logical partitions written here byte by
//! byte, converted by qemu-img to fixed and dynamic VHD, VDI and VHDX; a GPT
//! disk made by sgdisk. bootfs::vdisk must find the same virtual disk
//! (compared byte for byte with the raw source) and the same partitions as
//! sfdisk and sgdisk list, and refuse what qemu-img made dynamic; libvhdi's
//! vhdiinfo says independently which VHD and VHDX files are fixed and how
//! large their disk is.

mod common;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;

use bootfs::file::ByteSource;
use bootfs::vdisk::{self, ImagePartition, PartitionKind, Scheme, Vdisk, VdiskFormat, VdiskRefusal};
use bootfs::IoError;
use common::tool;

/// An image file read through [`ByteSource`], as stage2 reads one through
/// its extent map.
struct HostFile {
    file: File,
    len: u64,
}

impl HostFile {
    fn open(path: &Path) -> HostFile {
        let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let len = file.metadata().expect("its length").len();
        HostFile { file, len }
    }
}

impl ByteSource for HostFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let err = IoError { lba: offset / 512, kind: bootfs::block::IoErrorKind::Host };
        self.file.seek(SeekFrom::Start(offset)).map_err(|_| err)?;
        self.file.read_exact(buf).map_err(|_| err)
    }
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bootfs-vdisk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

const DISK_BYTES: usize = 16 << 20;

/// Writes a partition entry (type, start, sectors) into table slot `slot`
/// of the sector at `sector`.
fn entry(disk: &mut [u8], sector: usize, slot: usize, kind: u8, start: u32, sectors: u32) {
    let e = &mut disk[sector * 512 + 446 + 16 * slot..][..16];
    e[4] = kind;
    e[8..12].copy_from_slice(&start.to_le_bytes());
    e[12..16].copy_from_slice(&sectors.to_le_bytes());
    disk[sector * 512 + 510] = 0x55;
    disk[sector * 512 + 511] = 0xAA;
}

/// 16 MiB: partition 1 (83h) at 2048, an extended partition (05h) at 8192
/// holding two logical partitions (5 and 6, in a chain of two EBRs), and
/// partition 4 (0Ch) at 28672, slot 3 empty. Every other sector holds its
/// own number, so a block out of place shows.
fn mbr_disk() -> Vec<u8> {
    let mut disk = vec![0u8; DISK_BYTES];
    for (i, s) in disk.chunks_exact_mut(512).enumerate() {
        s[..8].copy_from_slice(&(i as u64).to_le_bytes());
        s[500..508].copy_from_slice(&(!i as u64).to_le_bytes());
    }
    for lba in [0, 8192, 8192 + 8192] {
        disk[lba * 512..][..512].fill(0);
    }
    disk[440..444].copy_from_slice(&0x7E57_D15Cu32.to_le_bytes());
    // Each table's four slots: (type, start, sectors); 0 sectors is empty.
    let tables: [(usize, [(u8, u32, u32); 4]); 3] = [
        (0, [(0x83, 2048, 4096), (0x05, 8192, 16384), (0, 0, 0), (0x0C, 28672, 4096)]),
        // EBR 1: logical 5 at EBR + 2048; the next EBR at extended + 8192.
        (8192, [(0x83, 2048, 4096), (0x05, 8192, 8192), (0, 0, 0), (0, 0, 0)]),
        // EBR 2: logical 6 at EBR + 63, the chain's end.
        (16384, [(0x82, 63, 2048), (0, 0, 0), (0, 0, 0), (0, 0, 0)]),
    ];
    for (sector, slots) in tables {
        for (slot, (kind, start, sectors)) in slots.into_iter().enumerate().filter(|(_, e)| e.2 != 0) {
            entry(&mut disk, sector, slot, kind, start, sectors);
        }
    }
    disk
}

fn part(number: u32, start: u64, sectors: u64, kind: PartitionKind) -> ImagePartition {
    ImagePartition { number, start, sectors, kind }
}

fn expected_mbr_partitions() -> Vec<ImagePartition> {
    vec![
        part(1, 2048, 4096, PartitionKind::Primary { type_byte: 0x83 }),
        part(2, 8192, 16384, PartitionKind::Extended { type_byte: 0x05 }),
        part(4, 28672, 4096, PartitionKind::Primary { type_byte: 0x0C }),
        part(5, 8192 + 2048, 4096, PartitionKind::Logical { type_byte: 0x83 }),
        part(6, 16384 + 63, 2048, PartitionKind::Logical { type_byte: 0x82 }),
    ]
}

/// The virtual disk's bytes as bootfs finds them in `path`.
fn virtual_disk(path: &Path) -> (Vdisk, Vec<u8>, Vec<ImagePartition>) {
    let mut file = HostFile::open(path);
    let disk = vdisk::recognize(&mut file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(disk.data_start % 512, 0, "{}: the disk starts on a sector", path.display());
    let mut bytes = vec![0u8; disk.data_bytes as usize];
    disk.contents(&mut file).read_at(0, &mut bytes).expect("the virtual disk reads");
    let parts = vdisk::partitions(&mut file, &disk).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (disk, bytes, parts.entries)
}

fn qemu_img(args: &[&str], from: &Path, to: &Path) {
    tool(Command::new("qemu-img").args(["convert", "-q", "-f", "raw"]).args(args).arg(from).arg(to));
}

/// vhdiinfo's disk type ("Fixed", "Dynamic") and media size in bytes.
fn vhdiinfo(path: &Path) -> (String, u64) {
    let out = tool(Command::new("vhdiinfo").arg(path));
    let field = |name: &str| {
        let line = out.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("vhdiinfo gave no {name}:\n{out}"));
        line.split_once(':').expect("name: value").1.trim().to_string()
    };
    let size = field("Media size");
    let bytes = size.split_once('(').and_then(|(_, b)| b.split_whitespace().next()).and_then(|n| n.parse().ok());
    (field("Disk type"), bytes.unwrap_or_else(|| panic!("vhdiinfo's media size: {size}")))
}

#[test]
fn the_hand_made_table_is_the_one_sfdisk_lists_with_linux_numbers() {
    let dir = work_dir("sfdisk");
    let raw = dir.join("disk.img");
    std::fs::write(&raw, mbr_disk()).unwrap();
    // sfdisk --dump: "PATH5 : start=       10240, size=        4096, type=83"
    let dump = tool(Command::new("sfdisk").arg("--dump").arg(&raw));
    let mut theirs: Vec<(u32, u64, u64, u8)> = Vec::new();
    for line in dump.lines().filter(|l| l.starts_with(raw.to_str().unwrap())) {
        let (name, fields) = line.split_once(':').unwrap();
        let number = name.trim().trim_start_matches(raw.to_str().unwrap()).parse().unwrap();
        let field = |key: &str| fields.split(',').find_map(|f| f.trim().strip_prefix(key)).map(|v| v.trim().to_string()).unwrap();
        theirs.push((number, field("start=").parse().unwrap(), field("size=").parse().unwrap(), u8::from_str_radix(&field("type="), 16).unwrap()));
    }
    theirs.sort();
    let (disk, _, ours) = virtual_disk(&raw);
    assert_eq!(disk, Vdisk { format: VdiskFormat::Raw, data_start: 0, data_bytes: DISK_BYTES as u64 });
    let ours: Vec<(u32, u64, u64, u8)> = ours
        .iter()
        .map(|p| {
            let t = match p.kind {
                PartitionKind::Primary { type_byte } | PartitionKind::Extended { type_byte } | PartitionKind::Logical { type_byte } => type_byte,
                PartitionKind::GptEntry { .. } => unreachable!("an MBR disk"),
            };
            (p.number, p.start, p.sectors, t)
        })
        .collect();
    assert_eq!(ours, theirs, "sfdisk --dump:\n{dump}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fixed_images_made_by_qemu_img_hold_the_raw_disk_where_bootfs_says() {
    let dir = work_dir("fixed");
    let raw = dir.join("disk.img");
    let source = mbr_disk();
    std::fs::write(&raw, &source).unwrap();
    let cases: [(&str, &[&str], VdiskFormat); 4] = [
        ("disk.raw", &["-O", "raw"], VdiskFormat::Raw),
        ("fixed.vhd", &["-O", "vpc", "-o", "subformat=fixed"], VdiskFormat::FixedVhd),
        ("static.vdi", &["-O", "vdi", "-o", "static=on"], VdiskFormat::StaticVdi),
        ("fixed.vhdx", &["-O", "vhdx", "-o", "subformat=fixed"], VdiskFormat::FixedVhdx),
    ];
    for (name, args, format) in cases {
        let image = dir.join(name);
        qemu_img(args, &raw, &image);
        let (disk, bytes, parts) = virtual_disk(&image);
        assert_eq!(disk.format, format, "{name}");
        // qemu-img rounds a VHD up to its CHS geometry: the rest is zeros.
        assert!(bytes.len() >= source.len(), "{name}: {} bytes", bytes.len());
        assert!(bytes[..source.len()] == source[..], "{name}: the virtual disk's bytes are the raw disk's");
        assert!(bytes[source.len()..].iter().all(|&b| b == 0), "{name}: past the raw disk, zeros");
        assert_eq!(parts, expected_mbr_partitions(), "{name}");
        if name.contains("vhd") {
            let (kind, media) = vhdiinfo(&image);
            assert_eq!((kind.as_str(), media), ("Fixed", disk.data_bytes), "{name}: vhdiinfo");
        }
        if format == VdiskFormat::StaticVdi {
            // A static VDI's data offset is what its header says, not 2 MiB.
            let mut header = [0u8; 512];
            File::open(&image).unwrap().read_exact(&mut header).unwrap();
            assert_eq!(disk.data_start, u32::from_le_bytes(header[0x158..0x15C].try_into().unwrap()) as u64);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dynamic_images_made_by_qemu_img_are_refused_with_their_format() {
    let dir = work_dir("dynamic");
    let raw = dir.join("disk.img");
    let mut source = mbr_disk();
    // Half the disk zeros, so the dynamic images leave blocks out.
    source[8 << 20..].fill(0);
    std::fs::write(&raw, &source).unwrap();
    let cases: [(&str, &[&str], &str); 3] =
        [("dynamic.vhd", &["-O", "vpc"], "VHD"), ("dynamic.vdi", &["-O", "vdi"], "VDI"), ("dynamic.vhdx", &["-O", "vhdx"], "VHDX")];
    for (name, args, format) in cases {
        let image = dir.join(name);
        qemu_img(args, &raw, &image);
        let refusal = vdisk::recognize(&mut HostFile::open(&image));
        assert_eq!(refusal, Err(VdiskRefusal::Dynamic { format }), "{name}");
        let sentence = refusal.unwrap_err().to_string();
        assert!(sentence.contains(&format!("dynamic {format}")) && sentence.contains("copy it with dropboot add"), "{sentence}");
        if format != "VDI" {
            assert_eq!(vhdiinfo(&image).0, "Dynamic", "{name}: vhdiinfo");
        }
    }
    // qemu-img leaves the zero blocks out of even a fixed VHDX unless told
    // otherwise (block_state_zero=off): such a file is no disk in order,
    // though libvhdi calls it fixed.
    let zero_blocks = dir.join("zero-blocks.vhdx");
    qemu_img(&["-O", "vhdx", "-o", "subformat=fixed,block_size=1M"], &raw, &zero_blocks);
    assert_eq!(vdisk::recognize(&mut HostFile::open(&zero_blocks)), Err(VdiskRefusal::NotInOrder { format: "VHDX" }));
    assert_eq!(vhdiinfo(&zero_blocks).0, "Fixed");
    // Every block present and in order makes a dynamic VDI no fixed one.
    let full = dir.join("full.vdi");
    std::fs::write(&raw, mbr_disk()).unwrap();
    qemu_img(&["-O", "vdi"], &raw, &full);
    assert_eq!(vdisk::recognize(&mut HostFile::open(&full)), Err(VdiskRefusal::Dynamic { format: "VDI" }));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fixed file a [`vdisk::Conversion`] makes of `image`, whole.
fn converted(image: &Path) -> (vdisk::Conversion, Vec<u8>) {
    let mut file = HostFile::open(image);
    let mut conversion = vdisk::Conversion::open(&mut file).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    conversion.check_blocks(&mut file).unwrap();
    let mut out = vec![0u8; conversion.len() as usize];
    conversion.read_at(&mut file, 0, &mut out).unwrap();
    (conversion, out)
}

#[test]
fn dynamic_images_made_by_qemu_img_become_fixed_ones_of_the_same_disk_that_qemu_img_and_libvhdi_accept() {
    let dir = work_dir("convert");
    let raw = dir.join("disk.img");
    let mut source = mbr_disk();
    // Blocks of zeros, which the dynamic images leave out.
    source[10 << 20..13 << 20].fill(0);
    std::fs::write(&raw, &source).unwrap();
    let cases: [(&str, &[&str], VdiskFormat, &str, &str); 5] = [
        ("dynamic.vhd", &["-O", "vpc"], VdiskFormat::FixedVhd, "vpc", "a dynamic VHD"),
        ("dynamic.vdi", &["-O", "vdi"], VdiskFormat::StaticVdi, "vdi", "a dynamic VDI"),
        ("dynamic.vhdx", &["-O", "vhdx"], VdiskFormat::FixedVhdx, "vhdx", "a dynamic VHDX"),
        ("small-blocks.vhdx", &["-O", "vhdx", "-o", "block_size=1M"], VdiskFormat::FixedVhdx, "vhdx", "a dynamic VHDX"),
        (
            "zero-blocks.vhdx",
            &["-O", "vhdx", "-o", "subformat=fixed,block_size=1M"],
            VdiskFormat::FixedVhdx,
            "vhdx",
            "a fixed VHDX whose blocks are out of order or left out",
        ),
    ];
    for (name, args, format, driver, was) in cases {
        let image = dir.join(name);
        qemu_img(args, &raw, &image);
        let (conversion, bytes) = converted(&image);
        assert_eq!((conversion.format(), conversion.was()), (format, was), "{name}");
        let fixed = dir.join(format!("fixed-{name}"));
        std::fs::write(&fixed, &bytes).unwrap();
        let (disk, contents, parts) = virtual_disk(&fixed);
        assert_eq!(disk.format, format, "{name}");
        assert_eq!(&contents[..DISK_BYTES], &source[..], "{name}: the disk, byte for byte");
        assert!(contents[DISK_BYTES..].iter().all(|&b| b == 0), "{name}: zeros past the source (a VHD's geometry rounds up)");
        assert_eq!(parts, expected_mbr_partitions(), "{name}");
        if driver != "vpc" {
            // (QEMU checks no VHD.)
            tool(Command::new("qemu-img").args(["check", "-q", "-f", driver]).arg(&fixed));
        }
        tool(Command::new("qemu-img").args(["compare", "-q", "-f", "raw", "-F", driver]).arg(&raw).arg(&fixed));
        if driver != "vdi" {
            assert_eq!(vhdiinfo(&fixed), ("Fixed".to_string(), disk.data_bytes), "{name}: vhdiinfo");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_fixed_vhdx_past_4_gib_has_its_blocks_found_between_the_bitmap_entries() {
    // With 1 MiB blocks the block table holds a sector bitmap entry after
    // every 4096 payload entries (4 GiB). Both files are sparse: only the
    // marked sectors are written.
    let dir = work_dir("large");
    let raw = dir.join("large.img");
    let size = 5u64 << 30;
    let marks = [0, 4 << 30, (4 << 30) + (1 << 20), (4608 << 20) + 512, size - 512];
    {
        use std::os::unix::fs::FileExt;
        let file = File::create(&raw).unwrap();
        file.set_len(size).unwrap();
        for at in marks {
            let mut sector = [0u8; 512];
            sector[..8].copy_from_slice(&at.to_le_bytes());
            sector[510..].copy_from_slice(&[0x55, 0xAA]);
            file.write_all_at(&sector, at).unwrap();
        }
    }
    let vhdx = dir.join("large.vhdx");
    qemu_img(&["-O", "vhdx", "-o", "subformat=fixed,block_state_zero=off,block_size=1M"], &raw, &vhdx);
    let mut file = HostFile::open(&vhdx);
    let disk = vdisk::recognize(&mut file).unwrap();
    assert_eq!((disk.format, disk.data_bytes), (VdiskFormat::FixedVhdx, size));
    assert_eq!(vhdiinfo(&vhdx), ("Fixed".to_string(), size));
    let mut contents = disk.contents(&mut file);
    for at in marks {
        let mut sector = [0u8; 512];
        contents.read_at(at, &mut sector).unwrap();
        assert_eq!(u64::from_le_bytes(sector[..8].try_into().unwrap()), at, "the sector at byte {at}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_gpt_made_by_sgdisk_lists_as_sgdisk_prints_it_raw_and_in_a_fixed_vhdx() {
    let dir = work_dir("gpt");
    let raw = dir.join("gpt.img");
    File::create(&raw).unwrap().set_len(DISK_BYTES as u64).unwrap();
    tool(Command::new("sgdisk").args(["-n", "1:2048:+1M", "-t", "1:EF02", "-n", "2:0:+4M", "-t", "2:8300", "-n", "5:0:0", "-t", "5:0700"]).arg(&raw));
    // sgdisk -p: "   1            2048            4095   1024.0 KiB  EF02  BIOS boot partition"
    let print = tool(Command::new("sgdisk").arg("-p").arg(&raw));
    let mut theirs: Vec<(u32, u64, u64, bool)> = Vec::new();
    for line in print.lines().skip_while(|l| !l.trim_start().starts_with("Number")).skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (start, end): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        theirs.push((f[0].parse().unwrap(), start, end - start + 1, f[5] == "EF02"));
    }
    assert_eq!(theirs.len(), 3, "sgdisk -p:\n{print}");
    let vhdx = dir.join("gpt.vhdx");
    qemu_img(&["-O", "vhdx", "-o", "subformat=fixed"], &raw, &vhdx);
    for image in [&raw, &vhdx] {
        let mut file = HostFile::open(image);
        let disk = vdisk::recognize(&mut file).unwrap();
        let parts = vdisk::partitions(&mut file, &disk).unwrap();
        assert_eq!(parts.scheme, Scheme::Gpt);
        let ours: Vec<(u32, u64, u64, bool)> = parts
            .entries
            .iter()
            .map(|p| match p.kind {
                PartitionKind::GptEntry { bios_boot, .. } => (p.number, p.start, p.sectors, bios_boot),
                _ => unreachable!("a GPT disk"),
            })
            .collect();
        assert_eq!(ours, theirs, "{}; sgdisk -p:\n{print}", image.display());
    }
    // One byte of an entry changed: the entry array's checksum catches it.
    let mut bytes = std::fs::read(&raw).unwrap();
    bytes[2 * 512 + 32] ^= 1;
    let disk = vdisk::recognize(&mut bytes[..]).unwrap();
    let err = vdisk::partitions(&mut bytes[..], &disk).unwrap_err();
    assert!(err.to_string().contains("entry array's checksum"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
