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
    /// The block of the last small read: its partition offset and bytes.
    /// fatfs reads a folder an entry (32 bytes) at a time, which was one
    /// system call each: 340,000 for one add on a FAT32 stick of 5,000
    /// files. Every write through this window drops it, and nothing else
    /// writes the disk while the window is open (it borrows the file).
    cached: Option<(u64, Vec<u8>)>,
}

/// The size and alignment of [`PartitionFile`]'s cached block.
const CACHED_BLOCK: u64 = 4096;

impl<'a> PartitionFile<'a> {
    pub fn new(file: &'a mut File, start_lba: u64, sectors: u64) -> Self {
        Self::with_overlay(file, None, start_lba, sectors)
    }

    pub fn with_overlay(file: &'a mut File, overlay: Option<&'a mut Overlay>, start_lba: u64, sectors: u64) -> Self {
        PartitionFile { file, overlay, start: start_lba * 512, len: sectors * 512, pos: 0, cached: None }
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
        self.cached = None;
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

    /// Reads `buf.len()` bytes at partition byte `at` (fewer at the disk
    /// file's end), as the change being made leaves them.
    fn read_through(&self, at: u64, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut got = 0;
        while got < buf.len() {
            let at = self.start + at + got as u64;
            let n = match &self.overlay {
                Some(o) => o.read_at(self.file, at, &mut buf[got..])?,
                None => self.file.read_at(&mut buf[got..], at)?,
            };
            if n == 0 {
                break;
            }
            got += n;
        }
        Ok(got)
    }
}

impl Read for PartitionFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.room(buf.len());
        let block = self.pos / CACHED_BLOCK * CACHED_BLOCK;
        let got = if n == 0 || n as u64 >= CACHED_BLOCK || (self.pos + n as u64 - 1) / CACHED_BLOCK * CACHED_BLOCK != block {
            self.read_through(self.pos, &mut buf[..n])?
        } else {
            if self.cached.as_ref().is_none_or(|(at, _)| *at != block) {
                let mut bytes = vec![0; CACHED_BLOCK.min(self.len - block) as usize];
                let got = self.read_through(block, &mut bytes)?;
                bytes.truncate(got);
                self.cached = Some((block, bytes));
            }
            let bytes = self.cached.as_ref().map_or(&[][..], |(_, b)| b.as_slice());
            let from = (self.pos - block) as usize;
            let got = n.min(bytes.len().saturating_sub(from));
            buf[..got].copy_from_slice(&bytes[from..from + got]);
            got
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
        self.cached = None;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> File {
        use std::os::unix::fs::FileExt;
        let path = std::env::temp_dir().join(format!("dropboot-window-{name}-{}", std::process::id()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).expect("scratch file");
        let _ = std::fs::remove_file(&path);
        file.write_all_at(&[0x11; 64 * 512], 0).expect("old contents");
        file
    }

    fn read(part: &mut PartitionFile, at: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        part.seek(SeekFrom::Start(at)).expect("seek");
        part.read_exact(&mut buf).expect("read");
        buf
    }

    #[test]
    fn an_entry_read_after_it_was_written_reads_as_written() {
        let mut file = scratch("written");
        // A partition from sector 4 to sector 36: its blocks are not the file's.
        let mut part = PartitionFile::new(&mut file, 4, 32);
        assert_eq!(read(&mut part, 100, 32), [0x11; 32]);
        part.seek(SeekFrom::Start(110)).expect("seek");
        part.write_all(&[0x22; 4]).expect("write");
        let entry = read(&mut part, 100, 32);
        assert_eq!(&entry[..10], [0x11; 10]);
        assert_eq!(&entry[10..14], [0x22; 4]);
        assert_eq!(&entry[14..], [0x11; 18]);
        // A read across a block's edge, and one at the partition's end.
        part.seek(SeekFrom::Start(4090)).expect("seek");
        part.write_all(&[0x33; 12]).expect("write");
        assert_eq!(read(&mut part, 4088, 16), [&[0x11; 2][..], &[0x33; 12], &[0x11; 2]].concat());
        assert_eq!(read(&mut part, 32 * 512 - 8, 8), [0x11; 8]);
        part.seek(SeekFrom::Start(32 * 512 - 4)).expect("seek");
        let mut past = [0u8; 8];
        assert_eq!(part.read(&mut past).expect("read"), 4);
    }

    #[test]
    fn bytes_copied_in_by_the_kernel_read_as_copied() {
        use std::os::unix::fs::FileExt;
        let source = scratch("source");
        source.write_all_at(&[0x44; 512], 0).expect("source bytes");
        let mut file = scratch("copied");
        let mut part = PartitionFile::new(&mut file, 0, 64);
        assert_eq!(read(&mut part, 512, 32), [0x11; 32]);
        if part.copy_from(&source, 0, 512, 512).expect("copy") {
            assert_eq!(read(&mut part, 512, 32), [0x44; 32]);
        }
    }
}
