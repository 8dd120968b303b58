//! Reading a file by byte offset: through its extent map on a block device,
//! or from memory. ISO9660 and El Torito parse files through [`ByteSource`].

use alloc::vec;

use crate::block::{BlockDevice, IoError, IoErrorKind, SECTOR_SIZE};
use crate::extent::ExtentMap;

/// Bytes of a file, by offset.
pub trait ByteSource {
    /// The file's length in bytes.
    fn len(&self) -> u64;
    /// Fills `buf` from byte `offset`; reading past the end is an error.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ByteSource for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let end = offset.checked_add(buf.len() as u64).filter(|&e| e <= ByteSource::len(self));
        let Some(end) = end else {
            return Err(IoError { lba: offset / SECTOR_SIZE as u64, kind: IoErrorKind::OutOfRange });
        };
        buf.copy_from_slice(&self[offset as usize..end as usize]);
        Ok(())
    }
}

/// A file on a block device, found through its extent map.
pub struct MappedFile<D> {
    pub dev: D,
    pub map: ExtentMap,
    pub size: u64,
}

impl<D: BlockDevice> ByteSource for MappedFile<D> {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let past = |o: u64| IoError { lba: o / SECTOR_SIZE as u64, kind: IoErrorKind::OutOfRange };
        if offset.checked_add(buf.len() as u64).is_none_or(|e| e > self.size) {
            return Err(past(offset));
        }
        let mut done = 0usize;
        let mut bounce = vec![0u8; 0];
        while done < buf.len() {
            let at = offset + done as u64;
            let sector = at / SECTOR_SIZE as u64;
            let skip = (at % SECTOR_SIZE as u64) as usize;
            let (lba, run) = self.map.lookup(sector).ok_or_else(|| past(at))?;
            let want = buf.len() - done;
            if skip == 0 && want >= SECTOR_SIZE {
                // Whole sectors straight into the caller's buffer.
                let n = (want / SECTOR_SIZE).min(run as usize).min(128);
                self.dev.read_sectors(lba, &mut buf[done..done + n * SECTOR_SIZE])?;
                done += n * SECTOR_SIZE;
            } else {
                bounce.resize(SECTOR_SIZE, 0);
                self.dev.read_sectors(lba, &mut bounce)?;
                let n = (SECTOR_SIZE - skip).min(want);
                buf[done..done + n].copy_from_slice(&bounce[skip..skip + n]);
                done += n;
            }
        }
        Ok(())
    }
}
