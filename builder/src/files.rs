//! Files on the data partition: listing boot files (through bootfs, the
//! same code stage2 runs) and adding files (through the fatfs crate).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use bootfs::filesystem::Filesystem;
use bootfs::scan::{scan, BootFile};

use crate::error::{Error, Result};
use crate::exfat::ExfatVolume;
use crate::image::{ClusterUse, Disk};
use crate::stick_path::StickPath;

/// The boot files stage2 will list, in menu order, plus the folders it
/// will skip and why.
pub fn boot_files(disk: &mut Disk) -> Result<(Vec<BootFile>, Vec<String>)> {
    let path = disk.path.clone();
    let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(&path, e))?;
    let report = scan(&mut fs).map_err(|e| Error::disk(&path, e))?;
    Ok((report.files, report.problems))
}

/// The configuration the menu will use (the defaults when the stick has
/// no configuration file or an unusable one).
pub fn menu_config(disk: &mut Disk) -> Result<bootfs::config::Config> {
    let path = disk.path.clone();
    let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(&path, e))?;
    let loaded = bootfs::config::load(&mut fs).map_err(|e| Error::disk(&path, e))?;
    Ok(loaded.map(|l| l.config()).unwrap_or_default())
}

/// The files to copy and where each goes, checked before anything is
/// written: every source is a readable file, and every name one the stick
/// can hold, no two the same (names differ only in case on FAT and exFAT).
pub fn plan_adds(sources: &[PathBuf], to: &StickPath) -> Result<Vec<(PathBuf, StickPath)>> {
    let mut plan: Vec<(PathBuf, StickPath)> = Vec::new();
    for source in sources {
        match std::fs::metadata(source) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(Error::Usage(format!("{} is not a file", source.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::Usage(format!("no such file: {}", source.display()))),
            Err(e) => return Err(Error::io(format!("looking at {}", source.display()))(e)),
        }
        let name = source
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Usage(format!("{}: not a file name dropboot can store (not UTF-8)", source.display())))?;
        let target = to.join(name)?;
        if plan.iter().any(|(_, t)| bootfs::text::eq_ignore_case(t.name(), name)) {
            return Err(Error::Usage(format!("{target} is named twice (names differ only in case on FAT32 and exFAT)")));
        }
        plan.push((source.clone(), target));
    }
    Ok(plan)
}

/// Says on standard error which boot files of `plan` the stick's menu will
/// not list under its configuration (its search root, search levels,
/// image list or blacklist), by the same rules the menu uses.
pub fn warn_unlisted(disk: &mut Disk, plan: &[(PathBuf, StickPath)]) -> Result<()> {
    let config = menu_config(disk)?;
    for (_, target) in plan.iter().filter(|(_, t)| bootfs::scan::is_boot_file_name(t.name())) {
        let file = BootFile { path: target.display(), size: 0, first_cluster: 0, contiguous: true };
        if config.arrange(vec![file]).is_empty() {
            eprintln!(
                "dropboot: {target} will not show in the menu: the configuration's VTOY_DEFAULT_SEARCH_ROOT, VTOY_MAX_SEARCH_LEVEL, image_list or image_blacklist leaves it out"
            );
        }
    }
    Ok(())
}

/// Refuses the whole `plan` when one of its targets is on the stick
/// already (in any case), before the first file is copied.
pub fn refuse_present(disk: &mut Disk, plan: &[(PathBuf, StickPath)]) -> Result<()> {
    let image = disk.path.display().to_string();
    let path = disk.path.clone();
    let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(&path, e))?;
    for (_, target) in plan {
        if bootfs::scan::list_dir(&mut fs, &target.parent().display())
            .map_err(|e| Error::disk(&path, e))?
            .is_some_and(|entries| entries.iter().any(|e| bootfs::text::eq_ignore_case(&e.name, target.name())))
        {
            return Err(Error::Usage(format!("{target} is already on {image} (dropboot rm it first); nothing was copied")));
        }
    }
    Ok(())
}

/// Copies `source` to `target` (its folders made as needed) on the data
/// partition, once [`plan_adds`] and [`refuse_present`] passed the plan.
/// `fresh`: the partition was just formatted on a sparse image.
pub fn add(disk: &mut Disk, source: &Path, target: &StickPath, fresh: bool) -> Result<()> {
    let image = disk.path.display().to_string();
    let (to, name) = (target.parent().display(), target.name().to_owned());
    let mut input = File::open(source).map_err(Error::io(format!("opening {}", source.display())))?;
    if disk.is_exfat()? {
        let size = input.metadata().map_err(Error::io(format!("reading {}", source.display())))?.len();
        let bar = crate::progress::copying(&name, size);
        let done = disk.journaled(&format!("add {target}"), exfat_cluster_use, |disk| {
            let mut vol = ExfatVolume::open(disk.partition_file(), fresh).map_err(Error::io(format!("opening the exFAT volume of {image}")))?;
            let copied = vol.add(&to, &name, &mut input, size, &mut |n| {
                bar.set_position(n);
                crate::fault::copy_progress(n, size);
            });
            copied.map_err(Error::io(format!("copying {} to {target} on {image}", source.display())))
        });
        bar.finish_and_clear();
        return done;
    }
    crate::fat32::add(disk, source, &mut input, &to, &name)
}

/// Rewrites the file at `path` on the data partition in one piece (same
/// name, same content), so the loader can map it. Returns false when it
/// already was in one piece.
pub fn defrag(disk: &mut Disk, path: &StickPath) -> Result<bool> {
    let image = disk.path.display().to_string();
    let path = path.display();
    let where_ = disk.path.clone();
    // The file as the stick spells it (names differ only in case on FAT
    // and exFAT), and its pieces.
    let pieces = |disk: &mut Disk| -> Result<Option<(String, usize)>> {
        let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(&where_, e))?;
        let files = scan(&mut fs).map_err(|e| Error::disk(&where_, e))?.files;
        let Some(f) = files.into_iter().find(|f| bootfs::text::eq_ignore_case(&f.path, &path)) else { return Ok(None) };
        let n = fs.extent_map(&f).map_err(|e| Error::disk(&where_, e))?.len();
        Ok(Some((f.path, n)))
    };
    let (path, before) = pieces(disk)?.ok_or_else(|| Error::Usage(format!("no file {path} on {image}")))?;
    if before <= 1 {
        return Ok(false);
    }
    if disk.is_exfat()? {
        disk.journaled(&format!("defrag {path}"), exfat_cluster_use, |disk| {
            let mut vol = ExfatVolume::open(disk.partition_file(), false).map_err(Error::io(format!("opening the exFAT volume of {image}")))?;
            vol.defrag(&path).map_err(Error::io(format!("rewriting {path} on {image}")))
        })?;
    } else {
        crate::fat32::defrag(disk, &path)?;
    }
    match pieces(disk)? {
        Some((_, 1)) => Ok(true),
        after => Err(Error::disk(&where_, format!("{path} is still in {} pieces: not enough contiguous free space", after.map_or(0, |a| a.1)))),
    }
}

/// The exFAT volume's clusters, as the change being made leaves them.
fn exfat_cluster_use(disk: &mut Disk) -> Result<ClusterUse> {
    let image = disk.path.display().to_string();
    let vol = ExfatVolume::open(disk.partition_file(), false).map_err(Error::io(format!("opening the exFAT volume of {image}")))?;
    let (heap_lba, sectors_per_cluster, count) = vol.heap();
    Ok(ClusterUse { heap_lba, sectors_per_cluster, count, free: vol.free_clusters() })
}

/// Size and free space of the data partition.
pub struct Space {
    pub kind: &'static str,
    pub label: String,
    pub total: u64,
    pub free: u64,
}

pub fn space(disk: &mut Disk) -> Result<Space> {
    let image = disk.path.display().to_string();
    let total = disk.partition.sectors as u64 * 512;
    if disk.is_exfat()? {
        let vol = ExfatVolume::open(disk.partition_file(), false).map_err(Error::io(format!("opening the exFAT volume of {image}")))?;
        let (label, free) = (vol.label(), vol.free_bytes());
        return Ok(Space { kind: "exFAT", label, total, free });
    }
    let fs = fatfs::FileSystem::new(disk.partition_file(), fatfs::FsOptions::new())
        .map_err(Error::io(format!("opening the FAT32 volume of {image}")))?;
    let stats = fs.stats().map_err(Error::io(format!("counting free space on {image}")))?;
    let label = fs.volume_label().trim_end().to_string();
    Ok(Space { kind: "FAT32", label, total, free: stats.free_clusters() as u64 * stats.cluster_size() as u64 })
}

/// Removes the file at `path` from the data partition.
pub fn remove(disk: &mut Disk, path: &StickPath) -> Result<()> {
    let image = disk.path.display().to_string();
    let path = path.display();
    if disk.is_exfat()? {
        return disk.journaled(&format!("rm {path}"), exfat_cluster_use, |disk| {
            let mut vol = ExfatVolume::open(disk.partition_file(), false).map_err(Error::io(format!("opening the exFAT volume of {image}")))?;
            vol.remove(&path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::Usage(format!("no file {path} on {image}")),
                _ => Error::io(format!("removing {path} from {image}"))(e),
            })
        });
    }
    disk.journaled(&format!("rm {path}"), crate::fat32::cluster_use, |disk| fat32_remove(disk, &path))
}

fn fat32_remove(disk: &mut Disk, path: &str) -> Result<()> {
    let image = disk.path.display().to_string();
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    let fs = fatfs::FileSystem::new(disk.partition_file(), fatfs::FsOptions::new())
        .map_err(Error::io(format!("opening the FAT32 volume of {image}")))?;
    let mut dir = fs.root_dir();
    for part in folder.split('/').filter(|p| !p.is_empty()) {
        dir = dir.open_dir(part).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::Usage(format!("no file {path} on {image}")),
            _ => Error::io(format!("opening folder {part} on {image}"))(e),
        })?;
    }
    // Names differ only in case on FAT32: the file as the folder spells it.
    let Some(stored) = dir
        .iter()
        .filter_map(|e| e.ok())
        .find(|e| e.is_file() && bootfs::text::eq_ignore_case(&e.file_name(), name))
        .map(|e| e.file_name())
    else {
        return Err(Error::Usage(format!("no file {path} on {image}")));
    };
    dir.remove(&stored).map_err(Error::io(format!("removing {path} from {image}")))?;
    drop(dir);
    fs.unmount().map_err(Error::io(format!("closing the FAT32 volume of {image}")))
}
