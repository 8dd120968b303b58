//! Files on the data partition: listing boot files (through bootfs, the
//! same code stage2 runs), and checking and making changes to them through
//! the stick's [`data_volume::DataVolume`].

use std::io;
use std::path::PathBuf;

use bootfs::filesystem::Filesystem;
use bootfs::scan::{scan, BootFile};

use crate::data_volume;
use crate::error::{Error, Result};
use crate::image::Disk;
use crate::source::Source;
use crate::stick_path::StickPath;

/// The boot files stage2 will list, in menu order, plus the folders it
/// will skip and why.
pub fn boot_files(disk: &mut Disk) -> Result<(Vec<BootFile>, Vec<String>)> {
    let path = disk.stick.path().to_path_buf();
    let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(&path, e))?;
    let report = scan(&mut fs).map_err(|e| Error::disk(&path, e))?;
    Ok((report.files, report.problems))
}

/// The configuration the menu will use (the defaults when the stick has
/// no configuration file or an unusable one).
pub fn menu_config(disk: &mut Disk) -> Result<bootfs::config::Config> {
    let path = disk.stick.path().to_path_buf();
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
        let file = BootFile { path: target.display(), size: 0, node: bootfs::tree::NodeId::NONE };
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
    let image = disk.stick.what().to_string();
    let path = disk.stick.path().to_path_buf();
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

/// Opens each file of `plan` to be copied: a dynamic disk image is made
/// fixed as it is copied, a differencing one refused ([`Source::open`]),
/// before anything is written.
pub fn open_sources(plan: &[(PathBuf, StickPath)]) -> Result<Vec<Source>> {
    plan.iter().map(|(source, target)| Source::open(source, target)).collect()
}

/// Copies each file of `plan` (opened as `sources`), in order (see [`add`]).
pub fn add_all(disk: &mut Disk, sources: &mut [Source], plan: &[(PathBuf, StickPath)], fresh: bool) -> Result<()> {
    // Each folder's names in plan order, and where each file is among them.
    let mut folders: Vec<(StickPath, Vec<&str>)> = Vec::new();
    let mut place = Vec::with_capacity(plan.len());
    for (_, target) in plan {
        let folder = target.parent();
        let i = match folders.iter().position(|(f, _)| *f == folder) {
            Some(i) => i,
            None => {
                folders.push((folder, Vec::new()));
                folders.len() - 1
            }
        };
        folders[i].1.push(target.name());
        place.push((i, folders[i].1.len()));
    }
    for ((source, (_, target)), (folder, next)) in sources.iter_mut().zip(plan).zip(place) {
        add(disk, source, target, fresh, &folders[folder].1[next..])?;
    }
    Ok(())
}

/// Copies `source` to `target` (its folders made as needed) on the data
/// partition, once [`plan_adds`] and [`refuse_present`] passed the plan,
/// and says so when it made a dynamic disk image fixed.
/// `fresh`: the partition was just formatted on a sparse image. `later`:
/// the names to be copied into the same folder after this one.
pub fn add(disk: &mut Disk, source: &mut Source, target: &StickPath, fresh: bool, later: &[&str]) -> Result<()> {
    data_volume::on(disk)?.add(disk, source, target, fresh, later)?;
    if let Some(converted) = source.converted(target) {
        println!("{converted}");
    }
    Ok(())
}

/// Rewrites the file at `path` on the data partition in one piece (same
/// name, same content), so the loader can map it. Returns false when it
/// already was in one piece.
pub fn defrag(disk: &mut Disk, path: &StickPath) -> Result<bool> {
    let image = disk.stick.what().to_string();
    let path = path.display();
    let where_ = disk.stick.path().to_path_buf();
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
    data_volume::on(disk)?.defrag(disk, &path)?;
    match pieces(disk)? {
        Some((_, 1)) => Ok(true),
        after => Err(Error::disk(&where_, format!("{path} is still in {} pieces: not enough contiguous free space", after.map_or(0, |a| a.1)))),
    }
}

/// Size and free space of the data partition.
pub struct Space {
    pub kind: &'static str,
    pub label: String,
    pub total: u64,
    pub free: u64,
}

pub fn space(disk: &mut Disk) -> Result<Space> {
    let total = disk.partition.sectors as u64 * 512;
    let volume = data_volume::on(disk)?;
    let (label, free) = volume.space(disk)?;
    Ok(Space { kind: volume.name(), label, total, free })
}

/// Removes the file at `path` from the data partition.
pub fn remove(disk: &mut Disk, path: &StickPath) -> Result<()> {
    data_volume::on(disk)?.remove(disk, &path.display())
}
