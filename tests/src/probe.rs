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

pub fn build_iso_mode(dir: &Path, data_bytes: usize, mode: u32) -> ProbeIso {
    let root = dir.join("probe-root");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).expect("probe folder");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("probe/probe.asm");
    run(Command::new("nasm").args(["-f", "bin", "-o"]).arg(root.join("probe.bin")).arg(&source));
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
    let params = iso.windows(8).position(|w| w == b"PROBEPAR").expect("the probe's parameter block");
    let blocks = (data_bytes / 2048) as u32;
    iso[params + 8..params + 12].copy_from_slice(&data_lba.to_le_bytes());
    iso[params + 12..params + 16].copy_from_slice(&blocks.to_le_bytes());
    iso[params + 16..params + 20].copy_from_slice(&mode.to_le_bytes());
    fs::write(&path, &iso).expect("writing the patched ISO");
    ProbeIso { path, data, data_lba, blocks: (iso.len() / 2048) as u32, boot_rba }
}

/// The probe's lines from COM1's text.
pub fn report(serial: &str) -> Vec<String> {
    serial.lines().filter_map(|l| l.find("probe: ").map(|i| l[i..].trim().to_string())).collect()
}

/// Checks every line the probe printed; `stick_mbr` is sector 0 of the stick.
pub fn check(lines: &[String], iso: &ProbeIso, stick_mbr: &[u8]) {
    let find = |prefix: &str| -> &str {
        lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in the probe's report:\n{}", lines.join("\n")))
    };
    let expect = |prefix: &str, whole: &str| assert_eq!(find(prefix), whole, "probe report:\n{}", lines.join("\n"));
    expect("probe: start", "probe: start drive=E0");
    expect("probe: 41 ", "probe: 41 cf=0 ah=30 bx=AA55 cx=0007");
    let total = format!("{:08X}", iso.blocks);
    expect(
        "probe: 48 size=1A",
        &format!("probe: 48 size=1A cf=0 ah=00 ret=001A flags=0074 total={total} bps=0800 dpte=CCCCCCCC"),
    );
    expect(
        "probe: 48 size=1E",
        &format!("probe: 48 size=1E cf=0 ah=00 ret=001E flags=0074 total={total} bps=0800 dpte=FFFFFFFF"),
    );
    expect(
        "probe: 48 size=42",
        &format!("probe: 48 size=42 cf=0 ah=00 ret=001E flags=0074 total={total} bps=0800 dpte=FFFFFFFF"),
    );
    let rba: String = iso.boot_rba.to_le_bytes().iter().map(|b| format!("{b:02X}")).collect();
    expect("probe: 4b01", &format!("probe: 4b01 cf=0 ah=00 packet=1300E000{rba}00000000C0070800000000"));
    let crc = format!("{:08X}", crc32(&iso.data));
    let crc_lines: Vec<&String> = lines.iter().filter(|l| l.starts_with("probe: crc ")).collect();
    assert_eq!(crc_lines.len(), 8, "eight read patterns:\n{}", lines.join("\n"));
    for l in crc_lines {
        assert!(l.ends_with(&format!(" crc={crc}")), "{l} (the host's CRC32 is {crc})");
    }
    expect("probe: past-end", "probe: past-end cf=1 ah=02");
    expect("probe: write", "probe: write cf=1 ah=03");
    let code: String = stick_mbr[..4].iter().map(|b| format!("{b:02X}")).collect();
    expect("probe: mbr80", &format!("probe: mbr80 cf=0 ah=00 code={code} sig=55AA"));
    expect("probe: done", "probe: done");
}
