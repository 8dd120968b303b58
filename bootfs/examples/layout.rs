//! Writes bootfs::layout's constants for the other languages of the build:
//! `layout nasm` (for stage1) or `layout ld` (for stage2's linker script).
use bootfs::layout::*;

fn main() {
    let values: [(&str, u64); 10] = [
        ("MBR_CODE_BYTES", MBR_CODE_BYTES as u64),
        ("STAGE2_LBA", STAGE2_LBA as u64),
        ("DATA_PARTITION_LBA", DATA_PARTITION_LBA as u64),
        ("STAGE2_LOAD_ADDR", STAGE2_LOAD_ADDR as u64),
        ("STAGE2_MAX_SECTORS", STAGE2_MAX_SECTORS as u64),
        ("STAGE2_END_LIMIT", STAGE2_END_LIMIT as u64),
        ("STAGE2_HEADER_SIZE", STAGE2_HEADER_SIZE as u64),
        ("STAGE2_HEADER_SECTORS_OFFSET", STAGE2_HEADER_SECTORS_OFFSET as u64),
        ("STAGE2_ENTRY_ADDR", STAGE2_ENTRY_ADDR as u64),
        ("REAL_MODE_STACK_TOP", REAL_MODE_STACK_TOP as u64),
    ];
    let magic = u32::from_le_bytes([STAGE2_MAGIC[0], STAGE2_MAGIC[1], STAGE2_MAGIC[2], STAGE2_MAGIC[3]]);
    let magic_hi = u32::from_le_bytes([STAGE2_MAGIC[4], STAGE2_MAGIC[5], STAGE2_MAGIC[6], STAGE2_MAGIC[7]]);
    let mode = std::env::args().nth(1).unwrap_or_default();
    let note = format!("generated from bootfs/src/layout.rs by `cargo run -p bootfs --example layout {mode}`: do not edit");
    match mode.as_str() {
        "nasm" => println!("; {note}"),
        _ => println!("/* {note} */"),
    }
    for (name, v) in values.iter().chain(&[("STAGE2_MAGIC_LO", magic as u64), ("STAGE2_MAGIC_HI", magic_hi as u64)]) {
        match mode.as_str() {
            "nasm" => println!("%define {name} 0x{v:X}"),
            "ld" => println!("{name} = 0x{v:X};"),
            _ => {
                eprintln!("usage: layout nasm|ld");
                std::process::exit(2);
            }
        }
    }
}
