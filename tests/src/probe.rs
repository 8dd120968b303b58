//! The probe (tests/probe/probe.asm): building its ISO, and checking what it
//! reports on COM1 against what the host computes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::media::{pseudo_random, run};

/// QEMU's exit status when the probe finishes (isa-debug-exit code 31h).
pub const EXIT_DONE: i32 = 0x31 * 2 + 1;

/// A probe ISO: the probe as its no-emulation boot image, and a data file of
/// known pseudo-random content whose place the probe is told.
pub struct ProbeIso {
    pub path: PathBuf,
    pub data: Vec<u8>,
    pub data_lba: u32,
    pub blocks: u32,
    pub boot_rba: u32,
    /// 512-byte sectors of the probe (the catalog's load count).
    pub load_sectors: u16,
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        *t = (0..8).fold(i as u32, |c, _| if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 });
    }
    !bytes.iter().fold(!0u32, |c, &b| (c >> 8) ^ table[((c ^ b as u32) & 0xFF) as usize])
}

/// Builds the probe and an ISO of it with `data_bytes` of data.
pub fn build_iso(dir: &Path, data_bytes: usize) -> ProbeIso {
    build_iso_mode(dir, data_bytes, 0)
}

/// Mode 1: the probe only times reading the data (`make bench`).
pub const MODE_BENCH: u32 = 1;

/// The probe's parameter block (probe.asm's `params`): after the 8 bytes of
/// "PROBEPAR", these dwords, at these offsets from its start.
const PARAM_DATA_LBA: usize = 8;
const PARAM_DATA_BLOCKS: usize = 12;
const PARAM_MODE: usize = 16;
const PARAM_RAW_LBA: usize = 20;

/// Writes `value` into the dword at `field` of the first probe parameter
/// block in `bytes` (an ISO, a disk image or the probe itself).
fn set_param(bytes: &mut [u8], field: usize, value: u32) {
    let params = bytes.windows(8).position(|w| w == b"PROBEPAR").expect("the probe's parameter block");
    bytes[params + field..params + field + 4].copy_from_slice(&value.to_le_bytes());
}

pub fn build_iso_mode(dir: &Path, data_bytes: usize, mode: u32) -> ProbeIso {
    build_iso_after(dir, 0, data_bytes, mode)
}

/// A probe ISO whose data file starts past `lead_bytes` of zeros (a file
/// the ISO holds before it), so the hook reads it that far into the file.
pub fn build_iso_after(dir: &Path, lead_bytes: usize, data_bytes: usize, mode: u32) -> ProbeIso {
    build_iso_holding(dir, lead_bytes, data_bytes, mode, &[])
}

/// A probe ISO that also holds `files` (path in the ISO, content).
pub fn build_iso_holding(dir: &Path, lead_bytes: usize, data_bytes: usize, mode: u32, files: &[(&str, &[u8])]) -> ProbeIso {
    let root = dir.join("probe-root");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).expect("probe folder");
    for (path, content) in files {
        let to = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(to.parent().expect("a folder")).expect("its folder");
        fs::write(&to, content).expect("a file in the ISO");
    }
    if lead_bytes > 0 {
        // xorriso lays files out in name order: "0lead" before "data".
        fs::File::create(root.join("0lead.bin")).and_then(|f| f.set_len(lead_bytes as u64)).expect("the lead file");
    }
    assemble("probe.asm", &root.join("probe.bin"));
    let probe = fs::read(root.join("probe.bin")).expect("probe.bin");
    let data = pseudo_random(data_bytes, 0x5EED);
    fs::write(root.join("data.bin"), &data).expect("data.bin");
    let path = dir.join("probe.iso");
    let _ = fs::remove_file(&path);
    let load_sectors = (probe.len() / 512).to_string();
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-V", "DROPBOOT_PROBE", "-o"])
        .arg(&path)
        .args(["-b", "probe.bin", "-no-emul-boot", "-boot-load-size", &load_sectors])
        .arg(&root));
    let mut iso = fs::read(&path).expect("probe.iso");
    let block_of = |needle: &[u8]| (0..iso.len() / 2048).find(|&b| iso[b * 2048..].starts_with(needle));
    let data_lba = block_of(&data[..2048]).expect("data.bin in the ISO") as u32;
    let boot_rba = block_of(&probe[..64]).expect("probe.bin in the ISO") as u32;
    let blocks = (data_bytes / 2048) as u32;
    set_param(&mut iso, PARAM_DATA_LBA, data_lba);
    set_param(&mut iso, PARAM_DATA_BLOCKS, blocks);
    set_param(&mut iso, PARAM_MODE, mode);
    fs::write(&path, &iso).expect("writing the patched ISO");
    let load_sectors = (probe.len() / 512) as u16;
    ProbeIso { path, data, data_lba, blocks: (iso.len() / 2048) as u32, boot_rba, load_sectors }
}

/// The probe's lines from COM1's text.
pub fn report(serial: &str) -> Vec<String> {
    serial.lines().filter_map(|l| l.find("probe: ").map(|i| l[i..].trim().to_string())).collect()
}

/// How the BIOS under the hook reads the stick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StickBios {
    /// With INT 13h extensions (AH=42h).
    Extensions,
    /// By CHS only: AH=42h of 80h fails "invalid" (the old PC of
    /// [`old_bios_floppy`]).
    ChsOnly,
    /// With extensions, through a 16-bit BIOS that gives back only the
    /// low halves of some 32-bit registers: the probe's own AH=42h call
    /// of the stick, which the hook passes down as it is, shows that it
    /// changed these ("ebx" under Bochs's rombios; all of them and the
    /// flags under [`OLD_BIOS_CLEARS_HIGH_HALVES`]).
    SixteenBit(&'static str),
    /// With extensions, on a BIOS that gets reads of more than 127
    /// sectors wrong (one of the [`OLD_BIOS_REFUSES_OVER_127`] quirks):
    /// stage2 found it so, and the hook asks 127 a call.
    At127,
}

/// What [`OLD_BIOS_CLEARS_HIGH_HALVES`] changes in a call it passes down.
pub const CLEARED_BY_OLD_BIOS: &str = "ebx ecx edx esi edi ebp flags";

/// Checks every line the probe printed; `stick_mbr` is sector 0 of the stick.
pub fn check(lines: &[String], iso: &ProbeIso, stick_mbr: &[u8]) {
    check_on(lines, iso, stick_mbr, StickBios::Extensions)
}

/// [`check`] under a BIOS that reads the stick as `bios` says.
pub fn check_on(lines: &[String], iso: &ProbeIso, stick_mbr: &[u8], bios: StickBios) {
    let find = |prefix: &str| -> &str {
        lines.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line {prefix:?} in the probe's report:\n{}", lines.join("\n")))
    };
    let expect = |prefix: &str, whole: &str| assert_eq!(find(prefix), whole, "probe report:\n{}", lines.join("\n"));
    expect("probe: start", "probe: start drive=E0");
    expect("probe: 41 ", "probe: 41 cf=0 ah=30 bx=AA55 cx=0007");
    let total = format!("{:08X}", iso.blocks);
    expect("probe: 48 size=1A", &format!("probe: 48 size=1A cf=0 ah=00 ret=001A flags=0074 total={total} bps=0800 dpte=CCCCCCCC"));
    expect("probe: 48 size=1E", &format!("probe: 48 size=1E cf=0 ah=00 ret=001E flags=0074 total={total} bps=0800 dpte=FFFFFFFF"));
    expect("probe: 48 size=42", &format!("probe: 48 size=42 cf=0 ah=00 ret=001E flags=0074 total={total} bps=0800 dpte=FFFFFFFF"));
    let rba: String = iso.boot_rba.to_le_bytes().iter().map(|b| format!("{b:02X}")).collect();
    let count: String = iso.load_sectors.to_le_bytes().iter().map(|b| format!("{b:02X}")).collect();
    expect("probe: 4b01", &format!("probe: 4b01 cf=0 ah=00 packet=1300E000{rba}00000000C007{count}000000"));
    let crc = format!("{:08X}", crc32(&iso.data));
    let crc_lines: Vec<&String> = lines.iter().filter(|l| l.starts_with("probe: crc ")).collect();
    assert_eq!(crc_lines.len(), 9, "eight read patterns and the nested pass:\n{}", lines.join("\n"));
    for l in crc_lines {
        assert!(l.ends_with(&format!(" crc={crc}")), "{l} (the host's CRC32 is {crc})");
    }
    expect("probe: past-end", "probe: past-end cf=1 ah=02");
    expect("probe: write", "probe: write cf=1 ah=03");
    let code: String = stick_mbr[..4].iter().map(|b| format!("{b:02X}")).collect();
    match bios {
        StickBios::Extensions | StickBios::SixteenBit(_) | StickBios::At127 => {
            expect("probe: mbr80", &format!("probe: mbr80 cf=0 ah=00 code={code} sig=55AA"))
        }
        StickBios::ChsOnly => {
            assert!(find("probe: mbr80").starts_with("probe: mbr80 cf=1 ah=01"), "42h of 80h must fail here:\n{}", lines.join("\n"))
        }
    }
    regs_kept_under(lines, 11, 0xE0, bios);
    // The hook is found from the INT 13h vector by memdisk's header, and a
    // call made in the middle of each of its reads, from under it, leaves
    // both reads whole (the crc pass above, and the nested block here).
    assert!(find("probe: int13sf").ends_with(":0000 found"), "{}", lines.join("\n"));
    let nested = find("probe: nested");
    let first_block = format!("{:08X}", crc32(&iso.data[..2048]));
    assert!(nested.ends_with(&format!(" failed=00 crc={first_block}")), "{nested} (the first block's CRC32 is {first_block})");
    let calls = u16::from_str_radix(&nested["probe: nested calls=".len()..][..4], 16).expect("the count");
    let requests = iso.data.len().div_ceil(64 << 10);
    assert!(calls as usize >= requests, "a nested call in each of the hook's reads ({requests} requests of 64 KiB): {nested}");
    // The nested pass asks 64 KiB into a buffer at offset 0: at most 128
    // sectors a call where stage2 proved this BIOS reads them whole
    // (SeaBIOS does), 127 where it did not, and no AH=42h at all where the
    // hook reads by CHS (exactly so for an ISO in one piece:
    // [`largest_hook_read`]).
    let most = largest_read_for(bios);
    let largest = largest_hook_read(lines);
    assert!(largest <= most, "{nested}: the hook asked more than {most:#X} sectors in one call");
    expect("probe: done", "probe: done");
}

/// Presses `keys` in the menu `vm` shows, waits up to `limit` for the probe
/// to end QEMU, and checks its report against `iso` and the MBR of `image`
/// (see [`check`]). Returns COM1's text, for more checks.
pub fn boot_and_check(vm: &mut crate::Qemu, keys: &[&str], limit: std::time::Duration, iso: &ProbeIso, image: &Path) -> String {
    vm.keys(keys);
    let status = vm.wait_exit_within(limit);
    let serial = vm.serial_text();
    let lines = report(&serial);
    assert_eq!(status.code(), Some(EXIT_DONE), "the probe did not finish:\n{}", lines.join("\n"));
    check(&lines, iso, &crate::media::read_at(image, 0, 512));
    serial
}

/// The most sectors the hook may ask in one call under `bios`.
pub fn largest_read_for(bios: StickBios) -> u16 {
    match bios {
        StickBios::ChsOnly => 0,
        StickBios::At127 => 0x7F,
        _ => 0x80,
    }
}

/// The largest count of the AH=42h calls the hook passed on in the
/// probe's nested pass (64 KiB requests into a buffer at offset 0).
pub fn largest_hook_read(lines: &[String]) -> u16 {
    let nested = lines.iter().find(|l| l.starts_with("probe: nested")).expect("the probe's nested line");
    let value = nested.split(' ').find_map(|w| w.strip_prefix("largest=")).expect("largest= in the nested line");
    u16::from_str_radix(value, 16).expect("hex")
}

/// The probe's "regs" lines: `count` calls made with DS, ES, FS and GS
/// distinct and non-zero and every other register a canary, and after each
/// only what the function returns changed (flags: only CF).
pub fn regs_kept(lines: &[String], count: usize) {
    regs_kept_under(lines, count, 0xE0, StickBios::Extensions)
}

/// [`regs_kept`] for the calls the hook answers as `drive`; the probe's
/// AH=42h calls of a real disk go to the BIOS below it as they are, and
/// under a [`StickBios::SixteenBit`] BIOS show exactly what it changes.
pub fn regs_kept_under(lines: &[String], count: usize, drive: u8, bios: StickBios) {
    let all = lines.join("\n");
    let regs: Vec<&String> = lines.iter().filter(|l| l.starts_with("probe: regs ")).collect();
    assert_eq!(regs.len(), count, "the register checks:\n{all}");
    for l in regs {
        let passed_down = l.starts_with("probe: regs ah=42 ") && !l.contains(&format!(" dl={drive:02X} "));
        match bios {
            StickBios::SixteenBit(changes) if passed_down => {
                assert!(l.ends_with(&format!(" changed {changes}")), "{l}: the BIOS below should change {changes}\n{all}")
            }
            _ => assert!(l.ends_with(" ok"), "{l}: the call changed what it does not return\n{all}"),
        }
    }
}

/// Assembles `tests/probe/NAME` (nasm, flat binary) into `out`; the
/// folder is on the include path (com1.inc).
pub fn assemble(name: &str, out: &Path) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("probe");
    run(Command::new("nasm").args(["-f", "bin", "-I"]).arg(format!("{}/", folder.display())).arg("-o").arg(out).arg(folder.join(name)));
}

/// Quirks of the old PC [`old_bios_floppy`] plays (tests/probe/old_bios.asm).
pub const OLD_BIOS_NO_GEOMETRY: u8 = 0x01;
pub const OLD_BIOS_WRITES_BPB: u8 = 0x02;
/// The extensions stay: only the other quirks play.
pub const OLD_BIOS_KEEPS_EXTENSIONS: u8 = 0x04;
/// A 16-bit BIOS: every call comes back with the high halves of EBX, ECX,
/// EDX, ESI, EDI and EBP cleared, AL changed after AH=42h and the flags
/// other than CF, IF and DF flipped.
pub const OLD_BIOS_CLEARS_HIGH_HALVES: u8 = 0x08;
/// With [`OLD_BIOS_KEEPS_EXTENSIONS`]: an AH=42h read of more than 127
/// sectors is refused (AH=01h, the count 0), as EDD-4 says.
pub const OLD_BIOS_REFUSES_OVER_127: u8 = 0x10;
/// ... has its count masked to 7 bits: 128 reads nothing and says yes.
pub const OLD_BIOS_MASKS_COUNT: u8 = 0x20;
/// ... reads 127 sectors and says yes with the count left at 128.
pub const OLD_BIOS_READS_SHORT: u8 = 0x40;
/// ... is read whole while the old BIOS is the INT 13h vector, and refused
/// (AH=09h) once the hook is in front of it.
pub const OLD_BIOS_REFUSES_LATER: u8 = 0x80;

/// A 1.44 MB floppy whose boot sector turns SeaBIOS into a BIOS without
/// INT 13h extensions, then boots 80h with DL = `boot_dl` and `quirks`.
pub fn old_bios_floppy(dir: &Path, boot_dl: u8, quirks: u8) -> PathBuf {
    let sector = dir.join("old_bios.bin");
    assemble("old_bios.asm", &sector);
    let mut bytes = fs::read(&sector).expect("old_bios.bin");
    let params = bytes.windows(8).position(|w| w == b"OLDBIOS:").expect("the old BIOS's parameters") + 8;
    bytes[params] = boot_dl;
    bytes[params + 1] = quirks;
    bytes.resize(1_474_560, 0);
    let path = dir.join("old_bios.img");
    fs::write(&path, &bytes).expect("writing the floppy");
    path
}

/// A disk image holding the probe in its first sectors and pseudo-random
/// data after it, for booting as a floppy or a hard disk.
pub struct ProbeDisk {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub data_start: u32,
    pub data_sectors: u32,
}

/// Heads and sectors per track of the probe's hard disk, written into its
/// partition's CHS fields so that a small disk has several cylinders
/// (1008 sectors each) and CHS reads cross cylinder edges.
pub const PROBE_DISK_HEADS: u32 = 16;
pub const PROBE_DISK_SECTORS_PER_TRACK: u32 = 63;

/// Builds the probe into a disk image of `sectors`; with `partition`, the
/// image gets a partition table (one active partition from sector 2048 to
/// the end, its CHS fields in the 16-head, 63-sector geometry).
pub fn build_disk(dir: &Path, name: &str, sectors: u32, partition: bool) -> ProbeDisk {
    let root = dir.join("probe-disk");
    fs::create_dir_all(&root).expect("probe folder");
    assemble("probe.asm", &root.join("probe.bin"));
    let probe = fs::read(root.join("probe.bin")).expect("probe.bin");
    let data_start = (probe.len() / 512) as u32;
    let data_sectors = sectors - data_start;
    let mut bytes = probe.clone();
    bytes.extend(pseudo_random(data_sectors as usize * 512, 0xD15C));
    set_param(&mut bytes, PARAM_DATA_LBA, data_start);
    set_param(&mut bytes, PARAM_DATA_BLOCKS, data_sectors);
    if partition {
        partition_from(&mut bytes, 2048, sectors);
    }
    let path = dir.join(name);
    fs::write(&path, &bytes).expect("writing the probe disk");
    ProbeDisk { path, bytes, data_start, data_sectors }
}

/// Gives the disk image `bytes` of `sectors` a partition table: one
/// active partition from `start` to the end, its CHS fields in the
/// 16-head, 63-sector geometry (which the loader then presents).
fn partition_from(bytes: &mut [u8], start: u32, sectors: u32) {
    use bootfs::mbr::{Mbr, PartitionEntry};
    let mut partitions = [PartitionEntry::default(); 4];
    partitions[0] = PartitionEntry { bootable: true, kind: 0x0C, start_lba: start, sectors: sectors - start };
    let sector0: &mut [u8; 512] = (&mut bytes[..512]).try_into().expect("a sector");
    Mbr { disk_signature: 0x0D15_C0DE, partitions }.write_into(sector0);
    let chs = |lba: u32| {
        let (per_cylinder, spt) = (PROBE_DISK_HEADS * PROBE_DISK_SECTORS_PER_TRACK, PROBE_DISK_SECTORS_PER_TRACK);
        let (c, h, s) = (lba / per_cylinder, lba % per_cylinder / spt, lba % spt + 1);
        [h as u8, s as u8 | ((c >> 8) as u8) << 6, c as u8]
    };
    let entry = bootfs::mbr::PARTITION_TABLE_OFFSET;
    sector0[entry + 1..entry + 4].copy_from_slice(&chs(start));
    sector0[entry + 5..entry + 8].copy_from_slice(&chs(sectors - 1));
}

/// QEMU's exit status when the writing boot sector (tests/probe/writes.asm)
/// finishes (isa-debug-exit code 34h).
pub const EXIT_WRITES: i32 = 0x34 * 2 + 1;

/// A disk image of `sectors` whose first two sectors are the writing boot
/// sector (tests/probe/writes.asm) and the rest pseudo-random: a floppy
/// by its size, or, with `partition`, a hard disk with one partition from
/// sector 63 in the 16x63 geometry.
pub fn writes_disk(dir: &Path, name: &str, sectors: u32, partition: bool) -> PathBuf {
    let program = dir.join("writes.bin");
    assemble("writes.asm", &program);
    let mut bytes = fs::read(&program).expect("writes.bin");
    let params = bytes.windows(8).position(|w| w == b"WRITEPAR").expect("the writing sector's parameters") + 8;
    bytes[params..params + 4].copy_from_slice(&sectors.to_le_bytes());
    let program_bytes = bytes.len();
    bytes.extend(pseudo_random(sectors as usize * 512 - program_bytes, 0x3C3C));
    if partition {
        partition_from(&mut bytes, 63, sectors);
    }
    let path = dir.join(name);
    fs::write(&path, &bytes).expect("writing the disk image");
    path
}

/// An ISO whose El Torito boot entry emulates `disk` (`-hard-disk-boot`
/// for a hard disk, floppy emulation by size otherwise).
pub fn emulation_iso(dir: &Path, disk: &ProbeDisk, hard_disk: bool) -> (PathBuf, u32) {
    let root = dir.join("emulation-root");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).expect("ISO folder");
    fs::copy(&disk.path, root.join("disk.img")).expect("copying the disk image");
    let iso = dir.join(if hard_disk { "hard-disk-emulation.iso" } else { "floppy-emulation.iso" });
    let mut cmd = Command::new("xorriso");
    cmd.args(["-as", "mkisofs", "-quiet", "-o"]).arg(&iso).args(["-b", "disk.img"]);
    if hard_disk {
        cmd.arg("-hard-disk-boot");
    }
    run(cmd.arg(&root));
    let bytes = fs::read(&iso).expect("the ISO");
    let rba = (0..bytes.len() / 2048).find(|&b| bytes[b * 2048..].starts_with(&disk.bytes[..2048])).expect("the image in the ISO");
    (iso, rba as u32)
}

/// Sectors of the probe's 1.44 MB floppy.
pub const FLOPPY_SECTORS: u32 = 2880;

/// What the probe as a 1.44 MB floppy ([`build_disk`] of [`FLOPPY_SECTORS`])
/// must report, from El Torito at `eltorito_rba` or from a raw `.img`.
pub fn floppy_expectation(disk: &ProbeDisk, eltorito_rba: Option<u32>) -> DiskExpectation<'_> {
    let f = &bootfs::diskimage::FLOPPY_FORMATS[3];
    DiskExpectation {
        drive: 0x00,
        disk,
        chs: (f.chs.cylinders, f.chs.heads, f.chs.sectors),
        floppy_type_and_table: Some((f.bios_type, f.parameter_table)),
        hard_disks: 1,
        eltorito_rba,
    }
}

/// What the probe must report when booted as an emulated disk.
pub struct DiskExpectation<'a> {
    pub drive: u8,
    pub disk: &'a ProbeDisk,
    /// (cylinders, heads, sectors) the hook presents.
    pub chs: (u16, u16, u16),
    pub floppy_type_and_table: Option<(u8, [u8; 11])>,
    /// Hard disks the BIOS data area counts, with the emulated one.
    pub hard_disks: u8,
    /// The El Torito packet's load block, for an image from a catalog.
    pub eltorito_rba: Option<u32>,
}

pub fn check_disk(lines: &[String], e: &DiskExpectation, stick_mbr: &[u8]) {
    check_disk_on(lines, e, stick_mbr, StickBios::Extensions)
}

/// [`check_disk`] under a BIOS that reads the stick as `bios` says.
pub fn check_disk_on(lines: &[String], e: &DiskExpectation, stick_mbr: &[u8], bios: StickBios) {
    let find = |prefix: &str| -> &str {
        lines.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line {prefix:?} in the probe's report:\n{}", lines.join("\n")))
    };
    let all = lines.join("\n");
    let expect = |prefix: &str, whole: &str| assert_eq!(find(prefix), whole, "probe report:\n{all}");
    let hard_disk = e.drive == 0x80;
    expect("probe: start", &format!("probe: start drive={:02X}", e.drive));

    // 08h: last cylinder (a hard disk reports one less), sectors, last head, count.
    let (c, h, s) = e.chs;
    let last = if hard_disk { c.saturating_sub(2) } else { c - 1 };
    let cx = ((last & 0xFF) << 8) | ((last >> 2) & 0xC0) | s;
    let bda = find("probe: bda");
    let equipment = u16::from_str_radix(&bda["probe: bda equipment=".len()..][..4], 16).expect("equipment word");
    let count = if hard_disk { e.hard_disks as u16 } else { ((equipment >> 6) & 3) + 1 };
    let dx = ((h - 1) << 8) | count;
    let geometry = find("probe: 08 ");
    assert!(geometry.starts_with("probe: 08 cf=0 ah=00 "), "{all}");
    assert!(geometry.contains(&format!(" cx={cx:04X} dx={dx:04X}")), "08h geometry, expected cx={cx:04X} dx={dx:04X}:\n{all}");
    if let Some((kind, table)) = e.floppy_type_and_table {
        let table: String = table.iter().map(|b| format!("{b:02X}")).collect();
        assert!(geometry.contains(&format!(" bl={kind:02X} ")) && geometry.ends_with(&format!(" table={table}")), "{all}");
        assert_eq!(equipment & 1, 1, "the equipment word counts a floppy: {all}");
    }
    assert!(bda.ends_with(&format!(" disks={:02X}", e.hard_disks)), "{all}");

    expect("probe: 15 ", if hard_disk { "probe: 15 cf=0 ah=03" } else { "probe: 15 cf=0 ah=01" });
    if hard_disk {
        expect("probe: 41 ", "probe: 41 cf=0 ah=30 bx=AA55 cx=0001");
    } else {
        assert!(find("probe: 41 ").starts_with("probe: 41 cf=1 ah=01"), "a floppy has no EDD: {all}");
    }
    match e.eltorito_rba {
        Some(rba) => {
            let rba: String = rba.to_le_bytes().iter().map(|b| format!("{b:02X}")).collect();
            let media = if hard_disk { 4 } else { 2 };
            expect("probe: 4b01", &format!("probe: 4b01 cf=0 ah=00 packet=13{media:02X}{:02X}00{rba}00000000C0070100000000", e.drive));
        }
        None => assert!(find("probe: 4b01").starts_with("probe: 4b01 cf=1 ah=01"), "no El Torito for a .img: {all}"),
    }

    let data = &e.disk.bytes[e.disk.data_start as usize * 512..];
    let crc = format!("{:08X}", crc32(data));
    let passes: Vec<&String> = lines.iter().filter(|l| l.starts_with("probe: chs ") || l.starts_with("probe: ext ")).collect();
    assert_eq!(passes.len(), if hard_disk { 7 } else { 5 }, "{all}");
    for l in passes {
        assert!(l.ends_with(&format!(" crc={crc}")), "{l} (the host's CRC32 is {crc})");
    }
    // A disk image file takes its system's writes; an image inside an ISO
    // is as read-only as the CD it is on.
    let write = if e.eltorito_rba.is_some() { "probe: write cf=1 ah=03" } else { "probe: write cf=0 ah=00" };
    expect("probe: write", write);
    let code: String = stick_mbr[..4].iter().map(|b| format!("{b:02X}")).collect();
    let stick = if hard_disk { 0x81 } else { 0x80 };
    expect("probe: stick", &format!("probe: stick cf=0 ah=00 at={stick:02X} code={code} sig=55AA"));
    regs_kept_under(lines, 13, e.drive, bios);
    // 08h of the stick under its new number counts the hard disks as the
    // BIOS data area does (the emulated one too), once.
    let stick_08 = find(&format!("probe: regs ah=08 dl={stick:02X} "));
    let disks = if hard_disk { e.hard_disks } else { 1 };
    assert!(stick_08.starts_with(&format!("probe: regs ah=08 dl={stick:02X} cf=0 dx=")), "{all}");
    let dx = u16::from_str_radix(&stick_08["probe: regs ah=08 dl=81 cf=0 dx=".len()..][..4], 16).expect("08h's DX");
    assert_eq!(dx & 0xFF, disks as u16, "08h of the stick at {stick:02X}h counts {disks} hard disks: {all}");
    expect("probe: done", "probe: done");
}

/// Points the probe at `data` from block `lba` of the drive (past the
/// ISO's end, say), and says the drive holds `blocks` blocks in all.
pub fn read_instead(iso: &mut ProbeIso, lba: u32, data: Vec<u8>, blocks: u32) {
    let mut bytes = fs::read(&iso.path).expect("the probe ISO");
    set_param(&mut bytes, PARAM_DATA_LBA, lba);
    set_param(&mut bytes, PARAM_DATA_BLOCKS, (data.len() / 2048) as u32);
    fs::write(&iso.path, &bytes).expect("rewriting the ISO");
    (iso.data_lba, iso.data, iso.blocks) = (lba, data, blocks);
}

/// Moves the probe ISO's data file to byte `offset` (past 4 GiB, say) of a
/// sparse copy of the ISO, and tells the probe. The file grows past the
/// offset; the blocks between are holes that read as zeros.
pub fn move_data_to(iso: &mut ProbeIso, offset: u64) {
    use std::io::{Seek, SeekFrom, Write};
    assert_eq!(offset % 2048, 0);
    let mut bytes = fs::read(&iso.path).expect("the probe ISO");
    let lba = (offset / 2048) as u32;
    set_param(&mut bytes, PARAM_DATA_LBA, lba);
    let mut f = fs::OpenOptions::new().write(true).truncate(true).open(&iso.path).expect("rewriting the ISO");
    f.write_all(&bytes).expect("the ISO's first part");
    f.seek(SeekFrom::Start(offset)).expect("seek past the hole");
    f.write_all(&iso.data).expect("the data past the hole");
    iso.data_lba = lba;
    iso.blocks = ((offset + iso.data.len() as u64) / 2048) as u32;
}

/// A copy of the probe ISO at `out` for QEMU's CD drive, without dropboot:
/// in bench mode it times its data file through the CD drive against the
/// same bytes of the disk beside it, from sector `stick_lba` on (what
/// [`point_at_stick_data`] found): the BIOS's two drives, one against the other.
pub fn cd_pointing_at_stick(iso: &ProbeIso, stick_lba: u64, out: &Path) {
    let mut bytes = fs::read(&iso.path).expect("the probe ISO");
    set_param(&mut bytes, PARAM_RAW_LBA, stick_lba as u32);
    fs::write(out, &bytes).expect("the probe ISO for the CD drive");
}

/// Finds the probe ISO's data file on the stick image `stick` and writes
/// its first sector into the stick's copy of the probe (bench mode reads
/// the same sectors from the stick directly); returns that sector.
pub fn point_at_stick_data(stick: &Path, iso: &ProbeIso) -> u64 {
    use std::io::{Seek, SeekFrom, Write};
    let bytes = fs::read(stick).expect("the stick image");
    let first = &iso.data[..2048];
    let lba = (0..bytes.len() / 512).find(|&s| bytes[s * 512..].starts_with(first)).expect("the probe's data on the stick") as u64;
    let params = bytes.windows(8).position(|w| w == b"PROBEPAR").expect("the probe on the stick");
    let mut f = fs::OpenOptions::new().write(true).open(stick).expect("the stick image");
    f.seek(SeekFrom::Start((params + PARAM_RAW_LBA) as u64)).and_then(|_| f.write_all(&(lba as u32).to_le_bytes())).expect("the probe's raw_lba");
    lba
}
