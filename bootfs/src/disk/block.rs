//! The read trait every parser uses: whole 512-byte sectors by LBA.

/// Every LBA in dropboot counts 512-byte sectors.
pub const SECTOR_SIZE: usize = 512;

/// A failed read (or write) of the medium.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoError {
    /// First sector of the failed request.
    pub lba: u64,
    /// What failed, in the device's terms.
    pub kind: IoErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoErrorKind {
    /// The BIOS returned this INT 13h status code.
    Bios(u8),
    /// The request reaches past the end of the device or partition.
    OutOfRange,
    /// A host I/O error (builder, tests).
    Host,
}

impl core::fmt::Display for IoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.kind {
            IoErrorKind::Bios(code) => write!(f, "disk read error 0x{code:02X} at sector {}", self.lba),
            IoErrorKind::OutOfRange => write!(f, "sector {} is past the end of the device", self.lba),
            IoErrorKind::Host => write!(f, "I/O error at sector {}", self.lba),
        }
    }
}

/// A device read in whole 512-byte sectors.
pub trait BlockDevice {
    /// Fills `buf` (a multiple of 512 bytes) from `lba` on.
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError>;
}

impl<D: BlockDevice + ?Sized> BlockDevice for &mut D {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_sectors(lba, buf)
    }
}

/// A window of a device: a partition, addressed from its own sector 0.
pub struct Window<D> {
    pub dev: D,
    pub start: u64,
    pub sectors: u64,
}

impl<D: BlockDevice> BlockDevice for Window<D> {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let count = (buf.len() / SECTOR_SIZE) as u64;
        if lba.checked_add(count).is_none_or(|end| end > self.sectors) {
            return Err(IoError { lba, kind: IoErrorKind::OutOfRange });
        }
        self.dev.read_sectors(self.start + lba, buf)
    }
}

/// An in-memory disk (tests, fuzzing, the builder's checks).
impl BlockDevice for [u8] {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let start = usize::try_from(lba).ok().and_then(|l| l.checked_mul(SECTOR_SIZE));
        match start.and_then(|s| Some((s, s.checked_add(buf.len())?))) {
            Some((s, e)) if e <= self.len() => {
                buf.copy_from_slice(&self[s..e]);
                Ok(())
            }
            _ => Err(IoError { lba, kind: IoErrorKind::OutOfRange }),
        }
    }
}

/// A disk image file or device on the host.
#[cfg(any(feature = "std", test))]
pub struct FileDevice<F>(pub F);

#[cfg(any(feature = "std", test))]
impl<F: std::io::Read + std::io::Seek> BlockDevice for FileDevice<F> {
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        use std::io::SeekFrom;
        let err = IoError { lba, kind: IoErrorKind::Host };
        self.0.seek(SeekFrom::Start(lba * SECTOR_SIZE as u64)).map_err(|_| err)?;
        self.0.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => IoError { lba, kind: IoErrorKind::OutOfRange },
            _ => err,
        })
    }
}
