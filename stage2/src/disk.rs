//! The boot disk through BIOS INT 13h: extensions (AH=42h, 43h to write)
//! when the BIOS has them, CHS (AH=02h, 03h) otherwise, via a bounce
//! buffer below 1 MiB; and the largest read this BIOS performs whole
//! (127 sectors, or 128 when a read check proves it), which the hook is
//! told too. The check runs once, when it is first needed: while the menu
//! waits for a key, or before a read that could use 128, or before the
//! boot tells the hook; so the menu does not wait for its 128 KiB. stage2
//! writes only single sectors of the boot area (the ISO partition entry
//! and its record).

use bootfs::block::{BlockDevice, IoError, IoErrorKind, SECTOR_SIZE};
use bootfs::crc32::crc32;
use bootfs::layout::{BIOS_PROVEN_SECTORS_PER_CALL, BIOS_SECTORS_PER_CALL};

use crate::arch::{bios_int, RmRegs};

/// Sectors the bounce buffer holds: 64 KiB at offset 0 of its segment,
/// aligned so that no read crosses a 64 KiB DMA boundary.
const BOUNCE_SECTORS: usize = BIOS_PROVEN_SECTORS_PER_CALL as usize;
const TRIES: usize = 3;

#[repr(C, align(65536))]
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

#[link_section = ".bounce"]
static mut BOUNCE: Bounce = Bounce([0; BOUNCE_SECTORS * SECTOR_SIZE]);
static mut DAP: Dap = Dap { size: 16, reserved: 0, count: 0, offset: 0, segment: 0, lba: 0 };

/// What the bounce buffer holds from its start as the last read left it
/// (drive, first sector, sectors): a read within it needs no call (the
/// filesystems read a boot sector or a folder twice). Every call through
/// the buffer, any drive's, sets or forgets it first; so does the read
/// check, which fills the buffer with its pattern.
static mut HELD: Option<(u8, u64, usize)> = None;

fn held() -> Option<(u8, u64, usize)> {
    // SAFETY: one CPU, no interrupts in protected mode: nothing else uses HELD.
    unsafe { HELD }
}

fn set_held(what: Option<(u8, u64, usize)>) {
    // SAFETY: as in `held`.
    unsafe { HELD = what }
}

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

/// What the read check of 128 sectors showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LargeRead {
    /// It read exactly what 127 + 1 sectors read, and nothing around them.
    Proved,
    /// Not yet: the disk has extensions, and nothing has needed it.
    Untested,
    /// Not tried: without extensions, CHS reads stay within a track.
    NotTried,
    /// The BIOS failed it with this status (01h: EDD's limit of 127).
    Refused(u8),
    /// It said yes but wrote back another count.
    CountChanged(u16),
    /// It said yes but the buffer, or the bytes after it, differ.
    DataDiffers,
    /// The 127 + 1 sectors to compare with could not be read.
    NoReference(u8),
    /// Proved, but a later read of 128 failed with this status: 127 since.
    FailedLater(u8),
}

impl core::fmt::Display for LargeRead {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LargeRead::Proved => write!(f, "128 sectors read whole"),
            LargeRead::Untested => write!(f, "128 not tried yet"),
            LargeRead::NotTried => write!(f, "not tried"),
            LargeRead::Refused(code) => write!(f, "128 failed with error 0x{code:02X}"),
            LargeRead::CountChanged(n) => write!(f, "128 came back as {n}"),
            LargeRead::DataDiffers => write!(f, "128 did not read what 127 + 1 read"),
            LargeRead::NoReference(code) => write!(f, "127 + 1 failed with error 0x{code:02X}"),
            LargeRead::FailedLater(code) => write!(f, "128 read whole at first, later failed with error 0x{code:02X}"),
        }
    }
}

pub struct BiosDisk {
    pub drive: u8,
    /// INT 13h extensions present.
    pub extensions: bool,
    chs: Option<Chs>,
    /// Sectors one read asks for: 127, or 128 once proved.
    max_read: usize,
    /// Why `max_read` is what it is.
    large_read: LargeRead,
    /// INT 13h reads and writes made so far (for the log).
    pub calls: u32,
}

impl BiosDisk {
    pub fn open(drive: u8) -> BiosDisk {
        let mut r = RmRegs { eax: 0x4100, ebx: 0x55AA, edx: drive as u32, ..Default::default() };
        bios_int(0x13, &mut r);
        let extensions = !r.carry() && r.ebx as u16 == 0xAA55 && r.ecx & 1 != 0;
        let chs = if extensions { None } else { geometry(drive) };
        let large_read = if extensions { LargeRead::Untested } else { LargeRead::NotTried };
        BiosDisk { drive, extensions, chs, max_read: BIOS_SECTORS_PER_CALL as usize, large_read, calls: 0 }
    }

    /// Sectors one read asks of this BIOS: 127, or 128 when proved (the
    /// check runs first if it has not).
    pub fn max_read(&mut self) -> u8 {
        self.check_large_read();
        self.max_read as u8
    }

    /// What the read check showed, and so the sectors a read asks: for
    /// the log, after [`BiosDisk::max_read`].
    pub fn large_read(&self) -> LargeRead {
        self.large_read
    }

    /// Runs the read check of 128 sectors once, if the disk has
    /// extensions and it has not run: the menu calls it while it waits
    /// for a key. Uses the bounce buffer.
    pub fn check_large_read(&mut self) {
        if self.large_read == LargeRead::Untested {
            self.large_read = self.try_large_read();
            if self.large_read == LargeRead::Proved {
                self.max_read = BIOS_PROVEN_SECTORS_PER_CALL as usize;
            }
        }
    }

    /// Reads the disk's first 128 sectors (the MBR and stage2: sectors
    /// that differ) as 127 + 1, then in one call into the whole bounce
    /// buffer filled with a pattern, with 16 bytes after it watched.
    /// Every way a BIOS gets a count past EDD's 127 wrong shows here: it
    /// refuses it (01h by EDD-4, 09h on older BIOSes), writes back another
    /// count, masks it to 7 bits (nothing read), reads less, or wraps its
    /// offset (the buffer's start overwritten) or runs on past the
    /// buffer. A refusal is followed by a reset, as syslinux does.
    fn try_large_read(&mut self) -> LargeRead {
        let all = BIOS_PROVEN_SECTORS_PER_CALL as usize;
        let first = BIOS_SECTORS_PER_CALL as usize;
        let whole = self.transfer(Direction::Read, 0, first, 0).and_then(|_| self.transfer(Direction::Read, first as u64, all - first, first));
        if let Err(code) = whole {
            self.reset();
            return LargeRead::NoReference(code);
        }
        // SAFETY: one CPU, no interrupts in protected mode: nothing else
        // uses the bounce buffer. The 16 bytes after it are conventional
        // memory below the hook and the EBDA (STAGE2_END_LIMIT), used by
        // nothing while stage2 runs; they are put back.
        unsafe {
            let bounce = &mut (*(&raw mut BOUNCE)).0;
            set_held(None);
            let reference = crc32(bounce);
            bounce.fill(0xA5);
            let after = bounce.as_mut_ptr().add(bounce.len()) as *mut [u8; 16];
            let kept = core::ptr::read_volatile(after);
            core::ptr::write_volatile(after, [0x5A; 16]);
            let result = self.transfer(Direction::Read, 0, all, 0);
            let guard = core::ptr::read_volatile(after);
            core::ptr::write_volatile(after, kept);
            let count = (*(&raw const DAP)).count;
            // What the bounce buffer holds is the check's, proved or not.
            set_held(None);
            match result {
                Err(code) => {
                    self.reset();
                    LargeRead::Refused(code)
                }
                Ok(_) if count as usize != all => LargeRead::CountChanged(count),
                Ok(_) if crc32(bounce) != reference || guard != [0x5A; 16] => LargeRead::DataDiffers,
                Ok(_) => LargeRead::Proved,
            }
        }
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
        self.transfer(Direction::Read, lba, count, 0)
    }

    /// Writes one sector at `lba`, then reads it back and compares: a
    /// BIOS that says yes to a write it dropped (a read-only drive) is
    /// caught.
    pub fn write_sector(&mut self, lba: u64, sector: &[u8; SECTOR_SIZE]) -> Result<(), WriteError> {
        set_held(None);
        // SAFETY: one CPU, no interrupts in protected mode: nothing else uses the bounce buffer.
        unsafe { (&mut (*(&raw mut BOUNCE)).0)[..SECTOR_SIZE].copy_from_slice(sector) };
        // Retried like reads, except on a write-protected stick.
        let mut result = Err(0);
        for _ in 0..TRIES {
            result = self.transfer(Direction::Write, lba, 1, 0);
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
    /// the bounce buffer, from its sector `at` on.
    fn transfer(&mut self, direction: Direction, lba: u64, count: usize, at: usize) -> Result<usize, u8> {
        set_held(None);
        let (lba_function, chs_function) = match direction {
            Direction::Read => (0x4200, 0x0200),
            Direction::Write => (0x4300, 0x0300),
        };
        let bounce = (&raw mut BOUNCE) as usize + at * SECTOR_SIZE;
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
        self.calls += 1;
        if r.carry() {
            Err(r.ah())
        } else {
            if matches!(direction, Direction::Read) && at == 0 {
                set_held(Some((self.drive, lba, count)));
            }
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
            let at = lba + (done / SECTOR_SIZE) as u64;
            let mut result = Err(0);
            let mut tries = 0;
            if (buf.len() - done) / SECTOR_SIZE > BIOS_SECTORS_PER_CALL as usize {
                self.check_large_read();
            }
            if let Some((drive, first, count)) = held() {
                let want = (buf.len() - done) / SECTOR_SIZE;
                if drive == self.drive && want > 0 && at >= first && at + want as u64 <= first + count as u64 {
                    let (from, bytes) = ((at - first) as usize * SECTOR_SIZE, want * SECTOR_SIZE);
                    // SAFETY: the bounce buffer holds these sectors (HELD); nothing else uses it.
                    let bounce = unsafe { &(*(&raw const BOUNCE)).0 };
                    buf[done..done + bytes].copy_from_slice(&bounce[from..from + bytes]);
                    done += bytes;
                    continue;
                }
            }
            while tries < TRIES {
                let want = ((buf.len() - done) / SECTOR_SIZE).min(self.max_read);
                result = self.read_to_bounce(at, want);
                if result.is_ok() {
                    break;
                }
                self.reset();
                // A proved 128 that fails after all: 127 from now on, and
                // this read again without counting it as a try.
                if want > BIOS_SECTORS_PER_CALL as usize {
                    self.max_read = BIOS_SECTORS_PER_CALL as usize;
                    if let Err(code) = result {
                        self.large_read = LargeRead::FailedLater(code);
                    }
                    continue;
                }
                tries += 1;
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
