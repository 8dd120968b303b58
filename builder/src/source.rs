//! What `add` copies onto the stick for one file: the file as it is, or,
//! for a dynamic VHD, VDI or VHDX (or a fixed VHDX or VDI whose blocks are
//! out of order), the fixed image of the same disk, made as it is copied
//! (bootfs::vdisk::fixed), so that the loader boots it in place. Which one,
//! and every check of the file, is decided before anything is written:
//! a differencing image (it needs its parent) or a dynamic one that cannot
//! be read is refused then, in words.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bootfs::file::ByteSource;
use bootfs::vdisk::{Conversion, Piece, VdiskRefusal};

use crate::error::{Error, Result};
use crate::stick_path::StickPath;

/// One file to copy, open.
pub struct Source {
    path: PathBuf,
    file: File,
    /// The file's length.
    file_bytes: u64,
    /// The fixed image written in its place, when it is a dynamic one.
    conversion: Option<Conversion>,
}

impl Source {
    /// Opens `path`, to be copied as `target`. A disk image file (a boot
    /// file name other than an ISO's: the loader takes it by its content)
    /// that `bootfs::vdisk::recognize` calls dynamic or out of order is
    /// made fixed as it is copied; a differencing one is refused.
    pub fn open(path: &Path, target: &StickPath) -> Result<Source> {
        let file = File::open(path).map_err(Error::io(format!("opening {}", path.display())))?;
        let file_bytes = file.metadata().map_err(Error::io(format!("reading {}", path.display())))?.len();
        let mut source = Source { path: path.to_path_buf(), file, file_bytes, conversion: None };
        let name = target.name();
        if !bootfs::scan::is_boot_file_name(name) || name.to_ascii_lowercase().ends_with(".iso") {
            return Ok(source);
        }
        let mut reader = Reader::new(&source.file, file_bytes);
        let refused = |reader: &mut Reader, r: VdiskRefusal| match (r, reader.error.take()) {
            (VdiskRefusal::Read(_), Some(e)) => Error::io(format!("reading {}", path.display()))(e),
            _ => Error::Usage(format!("not copying {}: {r}; nothing was written", path.display())),
        };
        match bootfs::vdisk::recognize(&mut reader) {
            Err(VdiskRefusal::Dynamic { .. } | VdiskRefusal::NotInOrder { .. }) => {}
            Err(r @ (VdiskRefusal::Differencing { .. } | VdiskRefusal::Read(_))) => return Err(refused(&mut reader, r)),
            // Fixed already, or something the loader refuses for another
            // reason (which `check` names): copied as it is.
            _ => return Ok(source),
        }
        let mut conversion = Conversion::open(&mut reader).map_err(|r| refused(&mut reader, r))?;
        conversion.check_blocks(&mut reader).map_err(|r| refused(&mut reader, r))?;
        source.conversion = Some(conversion);
        Ok(source)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes written to the stick: the file's, or its fixed image's.
    pub fn len(&self) -> u64 {
        self.conversion.as_ref().map_or(self.file_bytes, Conversion::len)
    }

    /// The file read, for copies the kernel makes ([`Piece::File`]).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// What was made of the file, in words, once it is on the stick as
    /// `target`: "converted /debian.vhd from a dynamic VHD to a fixed one
    /// (8.00 GiB) so it boots in place"; `None` when it was copied as it is.
    pub fn converted(&self, target: &StickPath) -> Option<String> {
        let c = self.conversion.as_ref()?;
        let to = match c.format() {
            bootfs::vdisk::VdiskFormat::FixedVhdx => "a fixed one with its blocks in order",
            _ => "a fixed one",
        };
        Some(format!("converted {target} from {} to {to} ({}) so it boots in place", c.was(), indicatif::HumanBytes(self.len())))
    }

    /// Why the bytes to copy outnumber the file's, for a message about
    /// space: " (a dynamic VHD made fixed takes its disk's whole size)";
    /// empty for a file copied as it is.
    pub fn fixed_note(&self) -> String {
        self.conversion.as_ref().map(|c| format!(" ({} made fixed takes its disk's whole size)", c.was())).unwrap_or_default()
    }

    /// Where the bytes to copy from `from` come from: a run of `max` bytes
    /// at most. A file as it is: itself, or zeros where it has a hole that
    /// covers all of them.
    pub fn piece(&mut self, from: u64, max: u64) -> io::Result<Piece> {
        let Some(conversion) = self.conversion.as_mut() else {
            let hole = next_data(&self.file, from).is_some_and(|d| d >= from + max);
            return Ok(if hole { Piece::Zeros { bytes: max } } else { Piece::File { at: from, bytes: max } });
        };
        let mut reader = Reader::new(&self.file, self.file_bytes);
        conversion.piece(&mut reader, from, max).map_err(|r| reader.failed(r))
    }

    /// Fills `buf` with the bytes to copy from `from`.
    pub fn read_at(&mut self, from: u64, buf: &mut [u8]) -> io::Result<()> {
        let Some(conversion) = self.conversion.as_mut() else {
            return self.file.read_exact_at(buf, from);
        };
        let mut reader = Reader::new(&self.file, self.file_bytes);
        conversion.read_at(&mut reader, from, buf).map_err(|r| reader.failed(r))
    }
}

/// The file as bootfs reads it, keeping the host's error of a failed read.
struct Reader<'a> {
    file: &'a File,
    len: u64,
    error: Option<io::Error>,
}

impl<'a> Reader<'a> {
    fn new(file: &'a File, len: u64) -> Reader<'a> {
        Reader { file, len, error: None }
    }

    /// A refusal met while copying (the file changed since it was
    /// checked, or could not be read) as an I/O error.
    fn failed(&mut self, r: VdiskRefusal) -> io::Error {
        match (r, self.error.take()) {
            (VdiskRefusal::Read(_), Some(e)) => e,
            _ => io::Error::new(io::ErrorKind::InvalidData, r.to_string()),
        }
    }
}

impl ByteSource for Reader<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), bootfs::IoError> {
        use bootfs::block::IoErrorKind;
        self.file.read_exact_at(buf, offset).map_err(|e| {
            let kind = if e.kind() == io::ErrorKind::UnexpectedEof { IoErrorKind::OutOfRange } else { IoErrorKind::Host };
            self.error = Some(e);
            bootfs::IoError { lba: offset / 512, kind }
        })
    }
}

/// Where the next data at or after `offset` of a sparse file starts (the
/// file's end when only a hole follows); `None` when the system cannot say.
fn next_data(file: &File, offset: u64) -> Option<u64> {
    use std::os::fd::AsRawFd;
    // SAFETY: lseek on a descriptor we own. Every read of the file gives
    // its offset (pread), so the file position it moves is never used.
    let found = unsafe { libc::lseek(file.as_raw_fd(), offset as libc::off_t, libc::SEEK_DATA) };
    match found {
        n if n >= 0 => Some(n as u64),
        _ if io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO) => file.metadata().ok().map(|m| m.len()),
        _ => None,
    }
}
