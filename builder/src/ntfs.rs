//! Formatting an NTFS data partition with mkntfs, from ntfs-3g: the tool
//! made for it, which Windows reads as its own. dropboot reads NTFS through
//! bootfs and writes no files to it (see data_volume::Ntfs).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::process::Command;

use crate::partition_file::PartitionFile;

/// Formats `part` (a partition of `sectors`) as an empty NTFS volume: mkntfs
/// on a sparse scratch file of the same size (mkntfs formats a whole file
/// or device, not a window of one), then the parts it wrote, copied in.
pub fn format(part: &mut PartitionFile, sectors: u64, label: &str) -> io::Result<()> {
    let scratch = tempfile_path();
    let result = (|| {
        // A new file of our own (never one a symlink there points at).
        std::fs::OpenOptions::new().write(true).create_new(true).open(&scratch)?.set_len(sectors * 512)?;
        // -Q: no zeroing or bad-sector scan; -p/-H/-S: the partition's
        // place and geometry, as Windows writes them into the boot sector.
        let out = Command::new("mkntfs")
            .args(["-F", "-Q", "-q", "-L", label, "-p", &bootfs::layout::DATA_PARTITION_LBA.to_string(), "-H", "255", "-S", "63"])
            .arg(&scratch)
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("running mkntfs ({e}); install ntfs-3g")))?;
        if !out.status.success() {
            return Err(io::Error::other(format!("mkntfs failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        copy_written(&mut File::open(&scratch)?, part)
    })();
    let _ = std::fs::remove_file(&scratch);
    result
}

fn tempfile_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("dropboot-mkntfs-{}.img", std::process::id()))
}

/// Copies the data regions of the sparse file `from` (SEEK_DATA/SEEK_HOLE)
/// to the same offsets of `to`, which is zeroed there first by the caller
/// (a new sparse image) or holds old bytes NTFS calls free.
fn copy_written(from: &mut File, to: &mut PartitionFile) -> io::Result<()> {
    let len = from.metadata()?.len();
    let fd = from.as_raw_fd();
    let mut at = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    while at < len {
        // SAFETY: lseek on a file descriptor this function holds open.
        let data = unsafe { libc::lseek(fd, at as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENXIO) {
                break; // no data past `at`
            }
            return Err(io::Error::new(e.kind(), format!("finding what mkntfs wrote: {e}")));
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        if hole < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("finding what mkntfs wrote: {e}")));
        }
        let (start, end) = (data as u64, hole as u64);
        from.seek(SeekFrom::Start(start))?;
        to.seek(SeekFrom::Start(start))?;
        let mut left = end - start;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            from.read_exact(&mut buf[..n])?;
            to.write_all(&buf[..n])?;
            left -= n as u64;
        }
        at = end;
    }
    to.flush()
}
