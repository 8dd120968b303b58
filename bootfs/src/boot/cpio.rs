//! newc cpio archives: the small archive the loader appends to an initrd
//! to add files to a live system's early userspace. Linux unpacks every
//! archive in the initrd in turn, compressed or not, each starting on a
//! 4-byte boundary (Documentation/driver-api/early-userspace/
//! buffer-format.rst), so the appended one needs only [`padding_after`]
//! zeros in front of it.

use alloc::string::String;
use alloc::vec::Vec;

/// A regular file, rw-r--r--.
pub const FILE: u32 = 0o100_644;
/// A folder, rwxr-xr-x.
pub const FOLDER: u32 = 0o040_755;
const TYPE_MASK: u32 = 0o170_000;
const TRAILER: &str = "TRAILER!!!";

/// A file or folder of an archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Relative to the archive's root ("etc/casper.conf"); a leading "/"
    /// is dropped.
    pub path: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

impl Member {
    pub fn file(path: &str, data: &[u8]) -> Member {
        Member { path: path.trim_start_matches('/').into(), mode: FILE, data: data.into() }
    }
}

/// Zeros to put after `len` bytes of initrd before an appended archive.
pub fn padding_after(len: u64) -> usize {
    ((4 - len % 4) % 4) as usize
}

/// The archive holding `members`, each one's parent folders first (once,
/// as [`FOLDER`]s, unless listed themselves), owned by root, dated 1970.
pub fn newc(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut written: Vec<&str> = Vec::new();
    let mut ino = 0;
    for m in members {
        let path = m.path.trim_start_matches('/');
        for (i, _) in path.match_indices('/') {
            let folder = &path[..i];
            if !folder.is_empty() && !written.contains(&folder) && !members.iter().any(|o| o.path.trim_start_matches('/') == folder) {
                ino += 1;
                header(&mut out, ino, FOLDER, folder, &[]);
                written.push(folder);
            }
        }
        ino += 1;
        header(&mut out, ino, m.mode, path, &m.data);
        written.push(path);
    }
    header(&mut out, 0, 0, TRAILER, &[]);
    out
}

/// One member: its header, name and data, each padded to 4 bytes.
fn header(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
    let nlink = if mode & TYPE_MASK == FOLDER & TYPE_MASK { 2 } else { 1 };
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
    // rdevminor namesize check
    let fields = [ino, mode, 0, 0, nlink, 0, data.len() as u32, 0, 0, 0, 0, name.len() as u32 + 1, 0];
    out.extend_from_slice(b"070701");
    for f in fields {
        for shift in (0..8).rev() {
            out.push(b"0123456789ABCDEF"[(f >> (shift * 4)) as usize & 0xF]);
        }
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}
