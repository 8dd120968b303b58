//! A byte window of the disk file onto the data partition: what the
//! fatfs crate and the exFAT writer read and write, through the change
//! being made (crate::journal's overlay) when there is one.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::journal::Overlay;

/// Making an empty filesystem on a partition: the part of
/// [`crate::data_volume::DataVolume`] that laying out a new disk needs.
pub trait FormatVolume {
    /// "exFAT", "FAT32".
    fn name(&self) -> &'static str;
    /// The MBR partition type byte for it.
    fn partition_type(&self) -> u8;
    /// Formats `part` (a partition of `sectors`) as an empty volume.
    fn format(&self, part: &mut PartitionFile, sectors: u64, label: &str) -> io::Result<()>;
}

/// A byte window of a disk file: what fatfs reads and writes.
pub struct PartitionFile<'a> {
    file: &'a mut File,
    overlay: Option<&'a mut Overlay>,
    start: u64,
    len: u64,
    pos: u64,
}

impl<'a> PartitionFile<'a> {
    pub fn new(file: &'a mut File, start_lba: u64, sectors: u64) -> Self {
        Self::with_overlay(file, None, start_lba, sectors)
    }

    pub fn with_overlay(file: &'a mut File, overlay: Option<&'a mut Overlay>, start_lba: u64, sectors: u64) -> Self {
        PartitionFile { file, overlay, start: start_lba * 512, len: sectors * 512, pos: 0 }
    }

    /// Copies `len` bytes of `source` from `from` to byte `at` of the
    /// partition inside the kernel (copy_file_range); false when the
    /// system cannot, or the bytes are not all for the disk straight away
    /// (a journaled change), and nothing was copied.
    pub fn copy_from(&mut self, source: &File, from: u64, len: u64, at: u64) -> io::Result<bool> {
        use std::os::fd::AsRawFd;
        if at.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "copy past the end of the partition"));
        }
        if self.overlay.as_ref().is_some_and(|o| !o.all_direct(self.start + at, len)) {
            return Ok(false);
        }
        crate::fault::before_write();
        let (mut src, mut dst, mut left) = ((from) as libc::loff_t, (self.start + at) as libc::loff_t, len);
        while left > 0 {
            // SAFETY: both descriptors are open files we own; the offsets are
            // passed by pointer and advanced by the kernel.
            let n = unsafe { libc::copy_file_range(source.as_raw_fd(), &mut src, self.file.as_raw_fd(), &mut dst, left as usize, 0) };
            match n {
                n if n > 0 => {
                    if let Some(o) = self.overlay.as_mut() {
                        o.written_straight(dst as u64 - n as u64, n as u64);
                    }
                    left -= n as u64
                }
                0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the source file ended early")),
                _ => {
                    let e = io::Error::last_os_error();
                    if left == len && matches!(e.raw_os_error(), Some(libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP)) {
                        return Ok(false);
                    }
                    return Err(e);
                }
            }
        }
        Ok(true)
    }

    /// Waits until what was written is on the disk.
    pub fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn room(&self, want: usize) -> usize {
        want.min(self.len.saturating_sub(self.pos) as usize)
    }
}

impl Read for PartitionFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.room(buf.len());
        let at = self.start + self.pos;
        let got = match &self.overlay {
            Some(o) => o.read_at(self.file, at, &mut buf[..n])?,
            None => self.file.read_at(&mut buf[..n], at)?,
        };
        self.pos += got as u64;
        Ok(got)
    }
}

impl Write for PartitionFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.room(buf.len());
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "write past the end of the partition"));
        }
        let at = self.start + self.pos;
        match &mut self.overlay {
            Some(o) => o.write_at(self.file, at, &buf[..n])?,
            None => {
                crate::fault::before_write();
                self.file.write_all_at(&buf[..n], at)?
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for PartitionFile<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 || target > self.len as i128 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek outside the partition"));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}
