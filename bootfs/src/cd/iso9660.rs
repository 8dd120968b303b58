//! ISO9660: the volume descriptors of a CD image (2048-byte blocks from
//! block 16 on), the primary volume descriptor, and El Torito's boot record.

use alloc::string::String;

use crate::block::IoError;
use crate::file::ByteSource;

pub const BLOCK: u64 = 2048;
/// Volume descriptors start here (blocks 0-15 are the system area).
pub const FIRST_DESCRIPTOR: u64 = 16;
/// Descriptors read before giving up on a terminator.
const MAX_DESCRIPTORS: u64 = 64;

const TYPE_BOOT_RECORD: u8 = 0;
const TYPE_PRIMARY: u8 = 1;
const TYPE_SUPPLEMENTARY: u8 = 2;
const TYPE_TERMINATOR: u8 = 255;
const EL_TORITO_ID: &[u8] = b"EL TORITO SPECIFICATION";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IsoError {
    Io(IoError),
    /// The file is smaller than the 17 blocks every ISO9660 image has.
    TooSmall {
        bytes: u64,
    },
    /// Block 16 does not start a volume descriptor ("CD001").
    NotIso9660,
    /// No primary volume descriptor before the terminator.
    NoPrimaryDescriptor,
    /// The primary descriptor's logical block size is not 2048.
    BlockSize(u16),
}

impl From<IoError> for IsoError {
    fn from(e: IoError) -> Self {
        IsoError::Io(e)
    }
}

impl core::fmt::Display for IsoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IsoError::Io(e) => write!(f, "{e}"),
            IsoError::TooSmall { bytes } => write!(f, "only {bytes} bytes: too small to be an ISO9660 image"),
            IsoError::NotIso9660 => write!(f, "not an ISO9660 image (no CD001 volume descriptor at block 16)"),
            IsoError::NoPrimaryDescriptor => write!(f, "ISO9660 image without a primary volume descriptor"),
            IsoError::BlockSize(b) => write!(f, "ISO9660 block size {b} (only 2048 is supported)"),
        }
    }
}

/// What the volume descriptors say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub volume_id: String,
    /// Blocks the volume says it has.
    pub blocks: u32,
    /// Block of El Torito's boot catalog, when there is a boot record.
    pub boot_catalog: Option<u32>,
    /// The root directory's extent: first block and length in bytes.
    pub root: (u32, u32),
    /// The Joliet tree's root (a supplementary descriptor whose escape
    /// sequence names UCS-2), when there is one.
    pub joliet_root: Option<(u32, u32)>,
}

/// The extent (first block, length) of the directory record at `r`.
pub(crate) fn extent_of(r: &[u8]) -> (u32, u32) {
    (u32::from_le_bytes([r[2], r[3], r[4], r[5]]), u32::from_le_bytes([r[10], r[11], r[12], r[13]]))
}

impl Volume {
    pub fn read(src: &mut (impl ByteSource + ?Sized)) -> Result<Volume, IsoError> {
        if src.len() < (FIRST_DESCRIPTOR + 1) * BLOCK {
            return Err(IsoError::TooSmall { bytes: src.len() });
        }
        let mut d = [0u8; BLOCK as usize];
        let mut primary = None;
        let mut boot_catalog = None;
        let mut joliet_root = None;
        for i in 0..MAX_DESCRIPTORS {
            let block = FIRST_DESCRIPTOR + i;
            if (block + 1) * BLOCK > src.len() {
                break;
            }
            src.read_at(block * BLOCK, &mut d)?;
            if &d[1..6] != b"CD001" || d[6] != 1 {
                if i == 0 {
                    return Err(IsoError::NotIso9660);
                }
                break;
            }
            match d[0] {
                TYPE_PRIMARY if primary.is_none() => {
                    let block_size = u16::from_le_bytes([d[128], d[129]]);
                    if block_size != BLOCK as u16 {
                        return Err(IsoError::BlockSize(block_size));
                    }
                    let id_end = d[40..72].iter().rposition(|&b| b != b' ' && b != 0).map_or(40, |p| 41 + p);
                    let volume_id = d[40..id_end].iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' }).collect();
                    primary = Some((volume_id, u32::from_le_bytes([d[80], d[81], d[82], d[83]]), extent_of(&d[156..])));
                }
                // Joliet: escape sequences %/@, %/C or %/E (UCS-2 levels 1-3).
                TYPE_SUPPLEMENTARY if joliet_root.is_none() && d[88..90] == *b"%/" && matches!(d[90], b'@' | b'C' | b'E') => {
                    joliet_root = Some(extent_of(&d[156..]));
                }
                TYPE_BOOT_RECORD if d[7..7 + EL_TORITO_ID.len()] == *EL_TORITO_ID => {
                    boot_catalog = Some(u32::from_le_bytes([d[0x47], d[0x48], d[0x49], d[0x4A]]));
                }
                TYPE_TERMINATOR => break,
                _ => {}
            }
        }
        let (volume_id, blocks, root) = primary.ok_or(IsoError::NoPrimaryDescriptor)?;
        Ok(Volume { volume_id, blocks, boot_catalog, root, joliet_root })
    }

    /// The names in the root directory (ISO9660 names, version suffix
    /// removed; at most 64 KiB of directory is read).
    pub fn root_names(&self, src: &mut (impl ByteSource + ?Sized)) -> Result<alloc::vec::Vec<String>, IsoError> {
        let (extent, length) = self.root;
        let length = (length as u64).min(64 * 1024);
        let start = extent as u64 * BLOCK;
        if start.checked_add(length).is_none_or(|end| end > src.len()) {
            return Ok(alloc::vec::Vec::new());
        }
        let mut dir = alloc::vec![0u8; length as usize];
        src.read_at(start, &mut dir)?;
        let mut names = alloc::vec::Vec::new();
        for block in dir.chunks(BLOCK as usize) {
            let mut at = 0;
            while at + 34 <= block.len() {
                let len = block[at] as usize;
                if len < 34 || at + len > block.len() {
                    break;
                }
                let name_len = block[at + 32] as usize;
                let name = &block[at + 33..(at + 33 + name_len).min(at + len)];
                if name != [0] && name != [1] {
                    let text: String = name.iter().map(|&b| b as char).collect();
                    names.push(text.split(';').next().unwrap_or("").trim_end_matches('.').into());
                }
                at += len;
            }
        }
        Ok(names)
    }
}
