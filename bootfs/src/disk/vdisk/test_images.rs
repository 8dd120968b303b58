//! Disk image files made by hand for the unit tests of [`super`] and
//! [`super::fixed`]: a small raw disk, and a fixed VHD, static VDI and
//! fixed VHDX of it, each as small as its format allows.

use alloc::vec;
use alloc::vec::Vec;

use super::*;

pub(crate) fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Writes entry `slot` (type, start, sectors) of the table in `sector`.
pub(crate) fn entry(disk: &mut [u8], sector: usize, slot: usize, kind: u8, start: u32, sectors: u32) {
    let at = sector * 512 + entry_range(slot).start;
    disk[at + 4] = kind;
    put(disk, at + 8, &start.to_le_bytes());
    put(disk, at + 12, &sectors.to_le_bytes());
    put(disk, sector * 512 + 510, &[0x55, 0xAA]);
}

/// 64 sectors, each holding its number; partition 1 (83h) at 8, 16 long.
pub(crate) fn raw_disk() -> Vec<u8> {
    let mut d = vec![0u8; 64 * 512];
    for (i, s) in d.chunks_exact_mut(512).enumerate() {
        s[..8].copy_from_slice(&(i as u64 + 1000).to_le_bytes());
    }
    d[..512].fill(0);
    entry(&mut d, 0, 0, 0x83, 8, 16);
    d
}

/// Sets the checksum of the VHD footer (or, with `field` 36, the dynamic
/// header) `f`.
pub(crate) fn seal_vhd(f: &mut [u8], field: usize) {
    let sum = vhd_checksum(f, field);
    put(f, field, &sum.to_be_bytes());
}

pub(crate) fn vhd_footer(disk_type: u32, size: u64) -> Vec<u8> {
    let mut f = vec![0u8; 512];
    put(&mut f, 0, VHD_COOKIE);
    put(&mut f, VHD_CURRENT_SIZE, &size.to_be_bytes());
    put(&mut f, VHD_DISK_TYPE, &disk_type.to_be_bytes());
    seal_vhd(&mut f, VHD_CHECKSUM);
    f
}

/// A static VDI of `disk` with 4 KiB blocks: the header, the block map
/// at 512, the data at 1024.
pub(crate) fn static_vdi(disk: &[u8]) -> Vec<u8> {
    let blocks = disk.len().div_ceil(4096);
    let mut f = vec![0u8; 1024 + blocks * 4096];
    put(&mut f, 0, b"<<< test VDI >>>\n");
    for (at, v) in [(0x40, VDI_SIGNATURE), (0x44, VDI_VERSION_1_1), (0x48, 0x190), (0x4C, VDI_STATIC), (0x154, 512), (0x158, 1024), (0x168, 512)] {
        put(&mut f, at, &v.to_le_bytes());
    }
    put(&mut f, 0x170, &(disk.len() as u64).to_le_bytes());
    put(&mut f, 0x178, &4096u32.to_le_bytes());
    put(&mut f, 0x180, &(blocks as u32).to_le_bytes());
    for i in 0..blocks {
        put(&mut f, 512 + 4 * i, &(i as u32).to_le_bytes());
    }
    put(&mut f, 1024, disk);
    f
}

pub(crate) const MIB: usize = 1 << 20;

/// Recomputes both headers' and the region table's CRC-32C.
pub(crate) fn vhdx_checksums(f: &mut [u8]) {
    for (at, len) in [(64 << 10, 4096), (128 << 10, 4096), (192 << 10, 64 << 10)] {
        put(f, at + 4, &[0; 4]);
        let crc = crc32c(&f[at..at + len]);
        put(f, at + 4, &crc.to_le_bytes());
    }
}

/// A fixed VHDX of `disk` with 1 MiB blocks: the metadata at 1 MiB, the
/// block table at 2 MiB, the blocks from 3 MiB on.
pub(crate) fn fixed_vhdx(disk: &[u8]) -> Vec<u8> {
    let blocks = disk.len().div_ceil(MIB);
    let mut f = vec![0u8; 3 * MIB + blocks * MIB];
    put(&mut f, 0, VHDX_SIGNATURE);
    for (at, seq) in [(64 << 10, 7u64), (128 << 10, 6)] {
        put(&mut f, at, b"head");
        put(&mut f, at + 8, &seq.to_le_bytes());
        put(&mut f, at + 66, &1u16.to_le_bytes());
    }
    let rt = 192 << 10;
    put(&mut f, rt, b"regi");
    put(&mut f, rt + 8, &2u32.to_le_bytes());
    for (i, (id, offset)) in [(VHDX_BAT, 2 * MIB), (VHDX_METADATA, MIB)].into_iter().enumerate() {
        let e = rt + 16 + 32 * i;
        put(&mut f, e, &id.0);
        put(&mut f, e + 16, &(offset as u64).to_le_bytes());
        put(&mut f, e + 24, &(MIB as u32).to_le_bytes());
        put(&mut f, e + 28, &VHDX_REGION_REQUIRED.to_le_bytes());
    }
    put(&mut f, MIB, b"metadata");
    put(&mut f, MIB + 10, &3u16.to_le_bytes());
    for (i, (id, value)) in [
        (VHDX_FILE_PARAMETERS, [(MIB as u64) | (VHDX_LEAVE_BLOCKS_ALLOCATED as u64) << 32].as_slice()),
        (VHDX_VIRTUAL_DISK_SIZE, &[disk.len() as u64]),
        (VHDX_LOGICAL_SECTOR_SIZE, &[512]),
    ]
    .into_iter()
    .enumerate()
    {
        let e = MIB + 32 + 32 * i;
        let offset = (64 << 10) + 8 * i;
        put(&mut f, e, &id.0);
        put(&mut f, e + 16, &(offset as u32).to_le_bytes());
        put(&mut f, e + 20, &8u32.to_le_bytes());
        put(&mut f, e + 24, &VHDX_ITEM_REQUIRED.to_le_bytes());
        put(&mut f, MIB + offset, &value[0].to_le_bytes());
    }
    for i in 0..blocks {
        put(&mut f, 2 * MIB + 8 * i, &((((3 + i) as u64) << 20) | VHDX_PAYLOAD_FULLY_PRESENT).to_le_bytes());
    }
    put(&mut f, 3 * MIB, disk);
    vhdx_checksums(&mut f);
    f
}

/// `sectors` sectors, each holding its number (and 55AA, so sector 0 is a
/// disk).
pub(crate) fn numbered(sectors: usize) -> Vec<u8> {
    let mut d = vec![0u8; sectors * 512];
    for (i, s) in d.chunks_exact_mut(512).enumerate() {
        s[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        s[510..].copy_from_slice(&[0x55, 0xAA]);
    }
    d
}

/// A dynamic VHD of `disk` (whole 4 KiB blocks) with 4 KiB blocks: the
/// footer's copy, the dynamic header at 512, the block table at 1536 (one
/// sector: 128 blocks at most), the blocks that hold anything but zeros
/// from 2048 on, the last first, each a one-sector bitmap and its data;
/// then the footer.
pub(crate) fn dynamic_vhd(disk: &[u8]) -> Vec<u8> {
    let blocks = disk.len() / 4096;
    let mut footer = vhd_footer(VHD_DYNAMIC, disk.len() as u64);
    put(&mut footer, 0x10, &512u64.to_be_bytes());
    put(&mut footer, 0x44, b"sixteen byte id!");
    seal_vhd(&mut footer, VHD_CHECKSUM);
    let mut f = footer.clone();
    f.resize(2048, 0);
    put(&mut f, 512, b"cxsparse");
    put(&mut f, 512 + 8, &u64::MAX.to_be_bytes());
    put(&mut f, 512 + 16, &1536u64.to_be_bytes());
    put(&mut f, 512 + 24, &0x0001_0000u32.to_be_bytes());
    put(&mut f, 512 + 28, &(blocks as u32).to_be_bytes());
    put(&mut f, 512 + 32, &4096u32.to_be_bytes());
    seal_vhd(&mut f[512..1536], 36);
    f[1536..2048].fill(0xFF);
    for (i, block) in disk.chunks_exact(4096).enumerate().rev().filter(|(_, b)| b.iter().any(|&x| x != 0)) {
        let sector = (f.len() / 512) as u32;
        put(&mut f, 1536 + 4 * i, &sector.to_be_bytes());
        f.extend_from_slice(&[0xFF; 512]);
        f.extend_from_slice(block);
    }
    f.extend_from_slice(&footer);
    f
}
