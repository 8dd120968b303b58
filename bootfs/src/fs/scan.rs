//! Finding boot files: every `.iso` and `.img` on the data partition.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::text::cmp_ignore_case;
use crate::tree::{DirEntry, FileTree, NodeId};

/// Folders deeper than this are not searched.
pub const MAX_DEPTH: usize = 32;
/// Folders one scan lists at most.
pub const MAX_FOLDERS: usize = 65_536;

/// A file the menu offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootFile {
    /// Full path from the partition's root, `/`-separated, starting with `/`.
    pub path: String,
    pub size: u64,
    /// Where its filesystem finds it again.
    pub node: NodeId,
}

impl BootFile {
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The file `entry`, found in the folder `dir` (a full path).
    pub fn in_dir(dir: &str, entry: &DirEntry) -> BootFile {
        let dir = dir.trim_end_matches('/');
        BootFile { path: format!("{dir}/{}", entry.name), size: entry.size, node: entry.node }
    }
}

/// The entries of the folder at `path` (full, `/`-separated; names compared
/// as the volume compares them, without regard to case). `None` if a part of the
/// path is missing or is not a folder.
pub fn list_dir<T: FileTree + ?Sized>(fs: &mut T, path: &str) -> Result<Option<Vec<DirEntry>>, T::Error> {
    let mut entries = fs.read_root()?;
    for (depth, part) in path.split('/').filter(|p| !p.is_empty()).enumerate() {
        if depth >= MAX_DEPTH {
            return Ok(None);
        }
        let Some(dir) = entries.iter().find(|e| e.is_dir && fs.same_name(&e.name, part) && !e.node.is_none()) else {
            return Ok(None);
        };
        let dir = dir.clone();
        entries = fs.read_subdir(&dir)?;
    }
    Ok(Some(entries))
}

/// The file at `path`, if there is one (see [`list_dir`]).
pub fn find_file<T: FileTree + ?Sized>(fs: &mut T, path: &str) -> Result<Option<BootFile>, T::Error> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let Some(entries) = list_dir(fs, dir)? else {
        return Ok(None);
    };
    Ok(entries.iter().find(|e| !e.is_dir && fs.same_name(&e.name, name)).map(|e| BootFile::in_dir(dir, e)))
}

/// A tree whose small files (configuration and checksum files) can be
/// read whole; the caller bounds their size.
pub trait ReadWhole: FileTree {
    fn read_whole(&mut self, file: &BootFile) -> Result<Vec<u8>, Self::Error>;
}

/// What a scan found: the boot files in menu order, and the folders it
/// could not read, each with the reason.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub files: Vec<BootFile>,
    pub problems: Vec<String>,
}

/// The endings of the files dropboot offers, any case: CD images, and
/// disk images (raw, VHD, VHDX, VDI, and Ventoy's `.vtoy`, which is one of
/// those). What a file is comes from its content; the ending only says
/// which files the menu lists.
pub const BOOT_FILE_ENDINGS: [&str; 6] = [".iso", ".img", ".vhd", ".vhdx", ".vdi", ".vtoy"];

/// True for names dropboot offers (see [`BOOT_FILE_ENDINGS`]).
pub fn is_boot_file_name(name: &str) -> bool {
    let name = name.as_bytes();
    let ends_with = |e: &str| name.len() > e.len() && name[name.len() - e.len()..].eq_ignore_ascii_case(e.as_bytes());
    name.first() != Some(&b'.') && BOOT_FILE_ENDINGS.iter().any(|e| ends_with(e))
}

/// True for folders the scan never enters.
pub fn is_skipped_folder(name: &str) -> bool {
    name.starts_with('.') || name.eq_ignore_ascii_case("System Volume Information") || name.eq_ignore_ascii_case("$RECYCLE.BIN")
}

/// Scans the whole volume. Only an unreadable root is an error; a folder
/// that cannot be read is skipped and named in [`ScanReport::problems`].
pub fn scan<T: FileTree + ?Sized>(fs: &mut T) -> Result<ScanReport, T::Error> {
    let mut report = ScanReport::default();
    let root = fs.read_root()?;
    // Depth-first without recursion: each level is a folder being listed,
    // with the node of that folder kept to refuse loops.
    let mut stack: Vec<(String, Vec<DirEntry>, usize)> = Vec::from([(String::new(), root, 0)]);
    let mut ancestors: Vec<NodeId> = Vec::from([fs.root()]);
    let mut listed = alloc::collections::BTreeSet::from([fs.root()]);
    while let Some((prefix, entries, next)) = stack.last_mut() {
        let Some(e) = entries.get(*next).cloned() else {
            stack.pop();
            ancestors.truncate(stack.len());
            continue;
        };
        *next += 1;
        let path = format!("{prefix}/{}", e.name);
        if !e.is_dir {
            if is_boot_file_name(&e.name) {
                report.files.push(BootFile { path, size: e.size, node: e.node });
            }
            continue;
        }
        if is_skipped_folder(&e.name) {
            continue;
        }
        if stack.len() >= MAX_DEPTH {
            report.problems.push(format!("{path}: folders nested deeper than {MAX_DEPTH} are not searched"));
            continue;
        }
        if e.node.is_none() || ancestors.contains(&e.node) {
            report.problems.push(format!("{path}: folder points back to a folder above it"));
            continue;
        }
        // A damaged volume can name one folder from many places: each is
        // listed once, and a scan lists at most MAX_FOLDERS.
        if !listed.insert(e.node) {
            report.problems.push(format!("{path}: the same folder as another one listed"));
            continue;
        }
        if listed.len() > MAX_FOLDERS {
            report.problems.push(format!("{path}: more than {MAX_FOLDERS} folders; the rest are not searched"));
            break;
        }
        match fs.read_subdir(&e) {
            Ok(children) => {
                ancestors.push(e.node);
                stack.push((path, children, 0));
            }
            Err(err) => report.problems.push(format!("{path}: {err}")),
        }
    }
    report.files.sort_by(|a, b| cmp_ignore_case(&a.path, &b.path));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_a_boot_ending_in_any_case_are_offered_hidden_and_bare_ones_not() {
        for name in ["debian.iso", "WIN.ISO", "disk.Img", "system.vhdx", "x.VDI", "a.vtoy", "über.iso"] {
            assert!(is_boot_file_name(name), "{name}");
        }
        for name in [".hidden.iso", ".iso", "iso", "notes.txt", "image.iso.part", "täst.isö"] {
            assert!(!is_boot_file_name(name), "{name}");
        }
    }
}
