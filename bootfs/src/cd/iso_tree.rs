//! Paths inside an ISO9660 image: finding a file's directory record (where
//! the loader patches its extent and size to serve a changed file), and
//! reading small files such as boot configurations.
//!
//! Names are read as the boot loaders that read the image see them: Rock
//! Ridge `NM` names in the primary tree when its root carries SUSP's `SP`
//! entry (continuation areas followed, a few at most), else ISO9660 names
//! without their `;1` version and trailing dot; and the Joliet tree (UCS-2
//! big-endian) as a second tree of its own. A name that matches only when
//! case is ignored is taken when nothing matches exactly. Files in several
//! extents (over 4 GiB) are refused. Nothing read from the image is trusted:
//! every folder, continuation area and file is checked against the image's
//! length, and every loop has a bound.

use alloc::string::String;
use alloc::vec::Vec;

use crate::block::IoError;
use crate::file::ByteSource;
use crate::iso9660::{extent_of, IsoError, Volume, BLOCK};

/// Folder levels a path may have.
const MAX_DEPTH: usize = 16;
/// Bytes of one folder read at most (boot folders take a few blocks).
const MAX_FOLDER_BYTES: u32 = 1 << 20;
/// SUSP continuation areas followed for one record.
const MAX_CONTINUATIONS: usize = 4;
/// A Rock Ridge name is cut at this length.
const MAX_NAME: usize = 255;
/// Directory record offsets and flags (ECMA-119 9.1).
const RECORD_MIN: usize = 34;
const NAME_LEN_AT: usize = 32;
const FLAGS_AT: usize = 25;
const FLAG_FOLDER: u8 = 0x02;
const FLAG_MORE_EXTENTS: u8 = 0x80;
/// Byte offsets in a directory record of the fields a patch rewrites:
/// the extent (little-endian, then big-endian) and the size (the same).
pub const RECORD_EXTENT_AT: u64 = 2;
pub const RECORD_SIZE_AT: u64 = 10;

/// How a tree's names are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    /// ISO9660 names (levels 1-3).
    Iso9660,
    /// Rock Ridge `NM` names, after `skip` bytes of each System Use area
    /// (SUSP's `SP`); records without one fall back to their ISO9660 name.
    RockRidge { skip: u8 },
    /// Joliet: UCS-2 big-endian.
    Joliet,
}

/// One directory tree of the image: the primary one or Joliet's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tree {
    pub root: (u32, u32),
    pub names: Names,
}

/// A file or folder found by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Byte offset of its directory record in the image (the extent is at
    /// [`RECORD_EXTENT_AT`] from it, the size at [`RECORD_SIZE_AT`]).
    pub record: u64,
    /// First 2048-byte block of its data.
    pub extent: u32,
    /// Its length in bytes.
    pub size: u32,
    pub is_folder: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeError {
    Iso(IsoError),
    /// Nothing by that path (or a part of it is not a folder).
    NotFound,
    /// A file recorded in several extents (over 4 GiB): not handled.
    MoreExtents,
    /// The file is longer than the caller reads.
    TooLarge {
        bytes: u32,
        limit: u32,
    },
    /// The file's data lies past the image's end.
    Outside {
        block: u32,
    },
}

impl From<IsoError> for TreeError {
    fn from(e: IsoError) -> Self {
        TreeError::Iso(e)
    }
}

impl From<IoError> for TreeError {
    fn from(e: IoError) -> Self {
        TreeError::Iso(IsoError::Io(e))
    }
}

impl core::fmt::Display for TreeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TreeError::Iso(e) => write!(f, "{e}"),
            TreeError::NotFound => write!(f, "no such file in the ISO"),
            TreeError::MoreExtents => write!(f, "file in several extents (over 4 GiB) in the ISO"),
            TreeError::TooLarge { bytes, limit } => write!(f, "file of {bytes} bytes in the ISO (at most {limit} are read)"),
            TreeError::Outside { block } => write!(f, "file at block {block} lies past the ISO's end"),
        }
    }
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl Tree {
    /// The primary tree, read with Rock Ridge names when the root's "."
    /// record starts its System Use area with SUSP's `SP` entry.
    pub fn primary(volume: &Volume, src: &mut (impl ByteSource + ?Sized)) -> Result<Tree, IsoError> {
        let (extent, _) = volume.root;
        let start = extent as u64 * BLOCK;
        let mut names = Names::Iso9660;
        if start.checked_add(BLOCK).is_some_and(|end| end <= src.len()) {
            let mut first = [0u8; 64];
            src.read_at(start, &mut first)?;
            let len = first[0] as usize;
            // "." has a 1-byte name, so its System Use area starts at 34.
            let sp = &first[RECORD_MIN..len.clamp(RECORD_MIN, first.len())];
            if sp.len() >= 7 && sp[..2] == *b"SP" && sp[2] >= 7 && sp[4..6] == [0xBE, 0xEF] {
                names = Names::RockRidge { skip: sp[6] };
            }
        }
        Ok(Tree { root: volume.root, names })
    }

    /// The Joliet tree, when the image has one.
    pub fn joliet(volume: &Volume) -> Option<Tree> {
        volume.joliet_root.map(|root| Tree { root, names: Names::Joliet })
    }

    /// The entry at `path` ("/boot/grub/grub.cfg"; "." and ".." work,
    /// empty parts are skipped, the root itself is a folder entry).
    pub fn find(&self, src: &mut (impl ByteSource + ?Sized), path: &str) -> Result<Entry, TreeError> {
        let mut parts: Vec<&str> = Vec::new();
        for p in path.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                _ if parts.len() == MAX_DEPTH => return Err(TreeError::NotFound),
                _ => parts.push(p),
            }
        }
        let mut at = Entry { record: 0, extent: self.root.0, size: self.root.1, is_folder: true };
        for part in parts {
            if !at.is_folder {
                return Err(TreeError::NotFound);
            }
            at = self.find_in(src, (at.extent, at.size), part)?;
        }
        Ok(at)
    }

    /// The entry called `name` in the folder at `folder` (extent, length):
    /// the first exact match, else the first one ignoring ASCII case.
    fn find_in(&self, src: &mut (impl ByteSource + ?Sized), folder: (u32, u32), name: &str) -> Result<Entry, TreeError> {
        let (extent, length) = folder;
        let blocks = length.min(MAX_FOLDER_BYTES).div_ceil(BLOCK as u32);
        let mut block = alloc::vec![0u8; BLOCK as usize];
        let mut other_case = None;
        let mut text = String::new();
        for b in 0..blocks {
            let start = (extent as u64 + b as u64) * BLOCK;
            if start + BLOCK > src.len() {
                break;
            }
            src.read_at(start, &mut block)?;
            let mut at = 0;
            while at + RECORD_MIN <= block.len() {
                let len = block[at] as usize;
                if len < RECORD_MIN || at + len > block.len() {
                    break;
                }
                let r = &block[at..at + len];
                let name_len = r[NAME_LEN_AT] as usize;
                if RECORD_MIN - 1 + name_len <= len && !(name_len == 1 && r[33] <= 1) {
                    self.name_of(src, r, &mut text)?;
                    let exact = text == name;
                    if exact || (other_case.is_none() && text.eq_ignore_ascii_case(name)) {
                        if r[FLAGS_AT] & FLAG_MORE_EXTENTS != 0 {
                            return Err(TreeError::MoreExtents);
                        }
                        let (extent, size) = extent_of(r);
                        let e = Entry { record: start + at as u64, extent, size, is_folder: r[FLAGS_AT] & FLAG_FOLDER != 0 };
                        if exact {
                            return Ok(e);
                        }
                        other_case = Some(e);
                    }
                }
                at += len;
            }
        }
        other_case.ok_or(TreeError::NotFound)
    }

    /// The name of record `r` (whose name fits in it) as this tree writes it.
    fn name_of(&self, src: &mut (impl ByteSource + ?Sized), r: &[u8], out: &mut String) -> Result<(), IoError> {
        out.clear();
        let name_len = r[NAME_LEN_AT] as usize;
        let raw = &r[33..33 + name_len];
        match self.names {
            Names::Joliet => {
                let units = raw.chunks_exact(2).map(|u| u16::from_be_bytes([u[0], u[1]]));
                out.extend(char::decode_utf16(units).map(|c| c.unwrap_or('?')));
                strip_version(out);
            }
            Names::RockRidge { skip } => {
                // The System Use area follows the name and its pad byte.
                let su = (33 + name_len + (1 - name_len % 2) + skip as usize).min(r.len());
                let mut name = Vec::new();
                if rock_ridge_name(src, &r[su..], &mut name)? {
                    match core::str::from_utf8(&name) {
                        Ok(s) => out.push_str(s),
                        Err(_) => out.extend(name.iter().map(|&b| b as char)),
                    }
                } else {
                    out.extend(raw.iter().map(|&b| b as char));
                    strip_version(out);
                }
            }
            Names::Iso9660 => {
                out.extend(raw.iter().map(|&b| b as char));
                strip_version(out);
            }
        }
        Ok(())
    }

    /// The whole of a file found by [`Tree::find`], when it is at most
    /// `limit` bytes long.
    pub fn read(&self, src: &mut (impl ByteSource + ?Sized), entry: &Entry, limit: u32) -> Result<Vec<u8>, TreeError> {
        read_entry(src, entry, limit)
    }
}

/// The bytes of `entry`, when at most `limit` long and inside the image.
pub fn read_entry(src: &mut (impl ByteSource + ?Sized), entry: &Entry, limit: u32) -> Result<Vec<u8>, TreeError> {
    if entry.is_folder {
        return Err(TreeError::NotFound);
    }
    if entry.size > limit {
        return Err(TreeError::TooLarge { bytes: entry.size, limit });
    }
    let start = entry.extent as u64 * BLOCK;
    if start + entry.size as u64 > src.len() {
        return Err(TreeError::Outside { block: entry.extent });
    }
    let mut bytes = alloc::vec![0u8; entry.size as usize];
    src.read_at(start, &mut bytes)?;
    Ok(bytes)
}

/// "NAME.CFG;1" -> "NAME.CFG", "README." -> "README".
fn strip_version(name: &mut String) {
    if let Some(semi) = name.find(';') {
        name.truncate(semi);
    }
    if name.len() > 1 && name.ends_with('.') {
        name.pop();
    }
}

/// Appends the Rock Ridge name in System Use area `area` (and the
/// continuation areas it points to) to `out`; false when it has none.
fn rock_ridge_name(src: &mut (impl ByteSource + ?Sized), area: &[u8], out: &mut Vec<u8>) -> Result<bool, IoError> {
    let mut found = false;
    let mut continued: Vec<u8>;
    let mut area = area;
    for _ in 0..=MAX_CONTINUATIONS {
        let mut next = None;
        let mut at = 0;
        while at + 4 <= area.len() {
            let len = area[at + 2] as usize;
            if len < 4 || at + len > area.len() {
                break;
            }
            let (sig, body) = (&area[at..at + 2], &area[at + 4..at + len]);
            match sig {
                b"ST" => break,
                // Block, offset and length, each both-endian (8 bytes).
                b"CE" if body.len() >= 24 => next = Some((le32(&body[0..]), le32(&body[8..]), le32(&body[16..]))),
                // Flags: bit 0 "continues in the next NM", bits 1-2 "." and "..".
                b"NM" if !body.is_empty() && body[0] & 0x06 == 0 => {
                    let room = MAX_NAME.saturating_sub(out.len());
                    out.extend_from_slice(&body[1..][..(body.len() - 1).min(room)]);
                    found = true;
                }
                _ => {}
            }
            at += len;
        }
        let Some((block, offset, length)) = next else { break };
        let start = block as u64 * BLOCK + offset as u64;
        if offset as u64 + length as u64 > BLOCK || start + length as u64 > src.len() {
            break;
        }
        continued = alloc::vec![0u8; length as usize];
        src.read_at(start, &mut continued)?;
        area = &continued;
    }
    Ok(found)
}

/// An ISO image and its trees, primary first, for finding and reading
/// files by path.
pub struct Iso<'a, S: ?Sized> {
    pub src: &'a mut S,
    pub trees: Vec<Tree>,
}

impl<'a, S: ByteSource + ?Sized> Iso<'a, S> {
    pub fn open(src: &'a mut S) -> Result<Self, IsoError> {
        let volume = Volume::read(src)?;
        let mut trees = alloc::vec![Tree::primary(&volume, src)?];
        trees.extend(Tree::joliet(&volume));
        Ok(Iso { src, trees })
    }

    /// `path` in the first tree that has it.
    pub fn find(&mut self, path: &str) -> Result<Entry, TreeError> {
        let mut last = TreeError::NotFound;
        for t in self.trees.clone() {
            match t.find(self.src, path) {
                Ok(e) => return Ok(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The whole file at `path`, when it is at most `limit` bytes long.
    pub fn read(&mut self, path: &str, limit: u32) -> Result<Vec<u8>, TreeError> {
        let e = self.find(path)?;
        read_entry(self.src, &e, limit)
    }

    /// The record of `path` in every tree that has it (the primary's, then
    /// Joliet's): the places a patch of that file must change.
    pub fn records(&mut self, path: &str) -> Vec<Entry> {
        self.trees.clone().iter().filter_map(|t| t.find(self.src, path).ok()).collect()
    }
}
