//! Files on the data partition: listing boot files (through bootfs, the
//! same code stage2 runs) and adding files (through the fatfs crate).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use bootfs::fat::Fat32;
use bootfs::scan::{scan, BootFile};

use crate::error::{Error, Result};
use crate::image::Disk;

/// The boot files stage2 will list, in menu order, plus the folders it
/// will skip and why.
pub fn boot_files(disk: &mut Disk) -> Result<(Vec<BootFile>, Vec<String>)> {
    let path = disk.path.clone();
    let mut fs = Fat32::open(disk.block_device()).map_err(|e| Error::disk(&path, e))?;
    let report = scan(&mut fs).map_err(|e| Error::disk(&path, e))?;
    Ok((report.files, report.problems))
}

/// Copies `source` into folder `to` (made as needed) on the data partition.
pub fn add(disk: &mut Disk, source: &Path, to: &str) -> Result<()> {
    let name = source
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Usage(format!("{}: not a file name dropboot can store", source.display())))?
        .to_owned();
    let mut input = File::open(source).map_err(Error::io(format!("opening {}", source.display())))?;
    let image = disk.path.display().to_string();
    let fs = fatfs::FileSystem::new(disk.partition_file(), fatfs::FsOptions::new())
        .map_err(Error::io(format!("opening the FAT32 volume of {image}")))?;
    let mut dir = fs.root_dir();
    for part in to.split('/').filter(|p| !p.is_empty()) {
        dir = match dir.open_dir(part) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                dir.create_dir(part).map_err(Error::io(format!("making folder {part} on {image}")))?
            }
            Err(e) => return Err(Error::io(format!("opening folder {part} on {image}"))(e)),
        };
    }
    let mut out = dir.create_file(&name).map_err(Error::io(format!("creating {to}/{name} on {image}")))?;
    out.truncate().map_err(Error::io(format!("emptying {to}/{name} on {image}")))?;
    io::copy(&mut input, &mut out).map_err(Error::io(format!("copying {} to {image}", source.display())))?;
    out.flush().map_err(Error::io(format!("flushing {to}/{name} on {image}")))?;
    drop(out);
    drop(dir);
    fs.unmount().map_err(Error::io(format!("closing the FAT32 volume of {image}")))
}
