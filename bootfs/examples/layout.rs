//! Writes bootfs::layout's constants for the other languages of the build:
//! `layout nasm` (for stage1) or `layout ld` (for stage2's linker script).
use bootfs::layout::*;
use core::mem::offset_of;

fn main() {
    let values = [
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
        ("TRAMPOLINE_ADDR", TRAMPOLINE_ADDR as u64),
        ("TRAMPOLINE_END", TRAMPOLINE_END as u64),
        ("TRAMPOLINE_SOURCE", (TRAMPOLINE_PARAMS + offset_of!(TrampolineParams, source)) as u64),
        ("TRAMPOLINE_DEST", (TRAMPOLINE_PARAMS + offset_of!(TrampolineParams, dest)) as u64),
        ("TRAMPOLINE_LENGTH", (TRAMPOLINE_PARAMS + offset_of!(TrampolineParams, length)) as u64),
        ("TRAMPOLINE_ENTRY", (TRAMPOLINE_PARAMS + offset_of!(TrampolineParams, entry_offset)) as u64),
        ("TRAMPOLINE_DRIVE", (TRAMPOLINE_PARAMS + offset_of!(TrampolineParams, drive)) as u64),
        ("HOOK_HEADER_SIZE", HOOK_HEADER_SIZE as u64),
        ("HOOK_SIGNATURE_OFFSET", offset_of!(HookHeader, signature) as u64),
        ("HOOK_PREVIOUS", offset_of!(HookHeader, previous) as u64),
        ("HOOK_DRIVE", offset_of!(HookHeader, drive) as u64),
        ("HOOK_DISK", offset_of!(HookHeader, disk) as u64),
        ("HOOK_KIND", offset_of!(HookHeader, kind) as u64),
        ("HOOK_LAST_STATUS", offset_of!(HookHeader, last_status) as u64),
        ("HOOK_SECTORS", offset_of!(HookHeader, sectors) as u64),
        ("HOOK_EXTENT_COUNT", offset_of!(HookHeader, extent_count) as u64),
        ("HOOK_EXTENTS", offset_of!(HookHeader, extents) as u64),
        ("HOOK_STACK_TOP", offset_of!(HookHeader, stack_top) as u64),
        ("HOOK_SHARED_ESP", offset_of!(HookShared, caller_esp) as u64),
        ("HOOK_SHARED_SS", offset_of!(HookShared, caller_ss) as u64),
        ("HOOK_SHARED_DEPTH", offset_of!(HookShared, depth) as u64),
        ("HOOK_SHARED_BX", offset_of!(HookShared, caller_bx) as u64),
        ("HOOK_SPEC_PACKET", offset_of!(HookHeader, spec_packet) as u64),
        ("SPEC_PACKET_BYTES", SPEC_PACKET_BYTES as u64),
        ("HOOK_WRITABLE", offset_of!(HookHeader, writable) as u64),
        ("HOOK_IMAGE_START", offset_of!(HookHeader, image_start) as u64),
        ("HOOK_CYLINDERS", offset_of!(HookHeader, cylinders) as u64),
        ("HOOK_HEADS", offset_of!(HookHeader, heads) as u64),
        ("HOOK_SECTORS_PER_TRACK", offset_of!(HookHeader, sectors_per_track) as u64),
        ("HOOK_FLOPPY_TYPE", offset_of!(HookHeader, floppy_type) as u64),
        ("HOOK_ELTORITO", offset_of!(HookHeader, eltorito) as u64),
        ("HOOK_PARAMETER_TABLE", offset_of!(HookHeader, parameter_table) as u64),
        ("HOOK_INT15_ENTRY", offset_of!(HookHeader, int15_entry) as u64),
        ("HOOK_PREVIOUS_INT15", offset_of!(HookHeader, previous_int15) as u64),
        ("HOOK_MAX_READ", offset_of!(HookHeader, max_read) as u64),
        ("BIOS_SECTORS_PER_CALL", BIOS_SECTORS_PER_CALL as u64),
        ("HOOK_REAL_DRIVES", offset_of!(HookHeader, real_drives) as u64),
        ("HOOK_DISK_LAST_HEAD", offset_of!(HookHeader, disk_last_head) as u64),
        ("HOOK_DISK_SECTORS_PER_TRACK", offset_of!(HookHeader, disk_sectors_per_track) as u64),
        ("SELECTOR_CODE32", SELECTOR_CODE32 as u64),
        ("SELECTOR_DATA32", SELECTOR_DATA32 as u64),
        ("SELECTOR_CODE16", SELECTOR_CODE16 as u64),
        ("SELECTOR_DATA16", SELECTOR_DATA16 as u64),
        ("BDA_EQUIPMENT", BDA_EQUIPMENT as u64),
        ("BDA_BASE_MEMORY", BDA_BASE_MEMORY as u64),
        ("BDA_HARD_DISKS", BDA_HARD_DISKS as u64),
        ("HOOK_MAX_BYTES", HOOK_MAX_BYTES as u64),
        ("HOOK_KIND_CD", HOOK_KIND_CD as u64),
        ("HOOK_KIND_FLOPPY", HOOK_KIND_FLOPPY as u64),
        ("HOOK_KIND_HARD_DISK", HOOK_KIND_HARD_DISK as u64),
        ("HOOK_KIND_SWAP", HOOK_KIND_SWAP as u64),
        ("EXTENT_FILE_SECTOR", offset_of!(HookExtent, file_sector) as u64),
        ("EXTENT_COUNT", offset_of!(HookExtent, count) as u64),
        ("EXTENT_DISK_LBA", offset_of!(HookExtent, disk_lba) as u64),
        ("EXTENT_SIZE", core::mem::size_of::<HookExtent>() as u64),
    ];
    let magic = u32::from_le_bytes([STAGE2_MAGIC[0], STAGE2_MAGIC[1], STAGE2_MAGIC[2], STAGE2_MAGIC[3]]);
    let magic_hi = u32::from_le_bytes([STAGE2_MAGIC[4], STAGE2_MAGIC[5], STAGE2_MAGIC[6], STAGE2_MAGIC[7]]);
    let mode = std::env::args().nth(1).unwrap_or_default();
    let note = format!("generated from bootfs/src/disk/layout.rs by `cargo run -p bootfs --example layout {mode}`: do not edit");
    match mode.as_str() {
        "nasm" => println!("; {note}"),
        _ => println!("/* {note} */"),
    }
    if mode == "nasm" {
        // The GDT's descriptors, for `dq GDT_DESCRIPTORS`.
        let descriptors: Vec<String> = GDT.iter().map(|d| format!("0x{d:016X}")).collect();
        println!("%define GDT_DESCRIPTORS {}", descriptors.join(", "));
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
