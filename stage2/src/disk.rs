//! The boot disk through BIOS INT 13h: extensions (AH=42h, 43h to write)
//! when the BIOS has them, CHS (AH=02h, 03h) otherwise, via a bounce
//! buffer below 1 MiB. stage2 writes only single sectors of the boot area
//! (the ISO partition entry and its record).

use bootfs::block::{BlockDevice, IoError, IoErrorKind, SECTOR_SIZE};

use crate::arch::{bios_int, RmRegs};

/// Sectors the bounce buffer holds (32 KiB, aligned so no read crosses a
/// 64 KiB DMA boundary).
const BOUNCE_SECTORS: usize = 64;
const TRIES: usize = 3;

#[repr(C, align(32768))]
struct Bounce([u8; BOUNCE_SECTORS * SECTOR_SIZE]);

/// The INT 13h AH=42h disk address packet.
#[repr(C, align(16))]
struct Dap {
    size: u8,
    reserved: u8,
    count: u16,
    offset: u16,
    segment: u16,
    lba: u64,
}

#[link_section = ".bss.bounce"]
static mut BOUNCE: Bounce = Bounce([0; BOUNCE_SECTORS * SECTOR_SIZE]);
static mut DAP: Dap = Dap { size: 16, reserved: 0, count: 0, offset: 0, segment: 0, lba: 0 };

/// Real-mode segment:offset of a linear address below 1 MiB.
fn seg_off(addr: usize) -> (u16, u16) {
    ((addr >> 4) as u16, (addr & 0xF) as u16)
}

/// A write that did not take.
pub enum WriteError {
    /// The BIOS refused it with this INT 13h status (03h: write-protected).
    Bios { lba: u64, code: u8 },
    /// The sector could not be read back.
    ReadBack(IoError),
    /// The BIOS said yes, but the sector reads back different.
    Mismatch { lba: u64 },
}

impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WriteError::Bios { code: 0x03, .. } => write!(f, "the stick is write-protected"),
            WriteError::Bios { lba, code } => write!(f, "the BIOS could not write sector {lba} (error 0x{code:02X})"),
            WriteError::ReadBack(e) => write!(f, "the sector written could not be read back: {e}"),
            WriteError::Mismatch { lba } => write!(f, "the stick did not keep what was written to sector {lba} (is it read-only?)"),
        }
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

#[derive(Clone, Copy, Debug)]
struct Chs {
    heads: u32,
    sectors: u32,
}

/// A disk's geometry as INT 13h AH=08h gives it.
#[derive(Clone, Copy, Debug)]
pub struct ChsGeometry {
    pub last_head: u8,
    pub sectors_per_track: u8,
}

impl ChsGeometry {
    /// Sectors CHS reaches: 1024 cylinders of the geometry.
    pub fn reach(&self) -> u64 {
        1024 * (self.last_head as u64 + 1) * self.sectors_per_track as u64
    }
}

pub struct BiosDisk {
    pub drive: u8,
    /// INT 13h extensions present.
    pub extensions: bool,
    chs: Option<Chs>,
}

impl BiosDisk {
    pub fn open(drive: u8) -> BiosDisk {
        let mut r = RmRegs { eax: 0x4100, ebx: 0x55AA, edx: drive as u32, ..Default::default() };
        bios_int(0x13, &mut r);
        let extensions = !r.carry() && r.ebx as u16 == 0xAA55 && r.ecx & 1 != 0;
        let chs = if extensions { None } else { geometry(drive) };
        BiosDisk { drive, extensions, chs }
    }

    /// The disk's CHS geometry (last head, sectors per track) when the
    /// BIOS reads it only by CHS; `None` with extensions.
    pub fn chs_geometry(&self) -> Option<ChsGeometry> {
        self.chs.map(|c| ChsGeometry { last_head: (c.heads - 1) as u8, sectors_per_track: c.sectors as u8 })
    }

    fn reset(&self) {
        bios_int(0x13, &mut RmRegs { edx: self.drive as u32, ..Default::default() });
    }

    /// Reads `count` sectors at `lba` into the bounce buffer. CHS reads stay
    /// within one track.
    fn read_to_bounce(&mut self, lba: u64, count: usize) -> Result<usize, u8> {
        self.transfer(Direction::Read, lba, count)
    }

    /// Writes one sector at `lba`, then reads it back and compares: a
    /// BIOS that says yes to a write it dropped (a read-only drive) is
    /// caught.
    pub fn write_sector(&mut self, lba: u64, sector: &[u8; SECTOR_SIZE]) -> Result<(), WriteError> {
        // SAFETY: one CPU, no interrupts in protected mode: nothing else uses the bounce buffer.
        unsafe { (&mut (*(&raw mut BOUNCE)).0)[..SECTOR_SIZE].copy_from_slice(sector) };
        // Retried like reads, except on a write-protected stick.
        let mut result = Err(0);
        for _ in 0..TRIES {
            result = self.transfer(Direction::Write, lba, 1);
            if matches!(result, Ok(_) | Err(0x03)) {
                break;
            }
            self.reset();
        }
        result.map_err(|code| WriteError::Bios { lba, code })?;
        let mut back = [0u8; SECTOR_SIZE];
        self.read_sectors(lba, &mut back).map_err(WriteError::ReadBack)?;
        if back != *sector {
            return Err(WriteError::Mismatch { lba });
        }
        Ok(())
    }

    /// One INT 13h read or write of `count` sectors at `lba` from or into
    /// the bounce buffer.
    fn transfer(&mut self, direction: Direction, lba: u64, count: usize) -> Result<usize, u8> {
        let (lba_function, chs_function) = match direction {
            Direction::Read => (0x4200, 0x0200),
            Direction::Write => (0x4300, 0x0300),
        };
        let bounce = (&raw mut BOUNCE) as usize;
        let (segment, offset) = seg_off(bounce);
        let (mut r, count) = if self.extensions {
            let dap_addr = (&raw mut DAP) as usize;
            // SAFETY: one CPU, no interrupts in protected mode: nothing else uses DAP.
            unsafe { DAP = Dap { size: 16, reserved: 0, count: count as u16, offset, segment, lba } };
            let (ds, si) = seg_off(dap_addr);
            (RmRegs { eax: lba_function, edx: self.drive as u32, ds, esi: si as u32, ..Default::default() }, count)
        } else {
            let chs = self.chs.ok_or(0x01u8)?;
            let track = lba / chs.sectors as u64;
            let sector = (lba % chs.sectors as u64) as u32 + 1;
            let (cyl, head) = (track / chs.heads as u64, (track % chs.heads as u64) as u32);
            if cyl > 1023 {
                return Err(0x04);
            }
            let count = count.min((chs.sectors + 1 - sector) as usize);
            let cx = ((cyl as u32 & 0xFF) << 8) | ((cyl as u32 >> 2) & 0xC0) | sector;
            let regs = RmRegs {
                eax: chs_function | count as u32,
                ecx: cx,
                edx: (head << 8) | self.drive as u32,
                es: segment,
                ebx: offset as u32,
                ..Default::default()
            };
            (regs, count)
        };
        bios_int(0x13, &mut r);
        if r.carry() {
            Err(r.ah())
        } else {
            Ok(count)
        }
    }
}

/// Heads and sectors per track of `drive` (INT 13h AH=08h).
fn geometry(drive: u8) -> Option<Chs> {
    let mut r = RmRegs { eax: 0x0800, edx: drive as u32, ..Default::default() };
    bios_int(0x13, &mut r);
    let sectors = r.ecx & 0x3F;
    let heads = ((r.edx >> 8) & 0xFF) + 1;
    (!r.carry() && sectors != 0).then_some(Chs { heads, sectors })
}

impl BlockDevice for BiosDisk {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let mut done = 0;
        while done < buf.len() {
            let want = ((buf.len() - done) / SECTOR_SIZE).min(BOUNCE_SECTORS);
            let at = lba + (done / SECTOR_SIZE) as u64;
            let mut result = Err(0);
            for _ in 0..TRIES {
                result = self.read_to_bounce(at, want);
                if result.is_ok() {
                    break;
                }
                self.reset();
            }
            let got = result.map_err(|code| IoError { lba: at, kind: IoErrorKind::Bios(code) })?;
            let bytes = got * SECTOR_SIZE;
            // SAFETY: the BIOS has finished writing the bounce buffer; nothing else uses it.
            let bounce = unsafe { &(*(&raw const BOUNCE)).0 };
            buf[done..done + bytes].copy_from_slice(&bounce[..bytes]);
            done += bytes;
        }
        Ok(())
    }
}
