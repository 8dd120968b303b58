//! Adding a file to a FAT32 data partition and moving one into one piece,
//! each as one journaled change (crate::journal). An add makes every check
//! first (name, free space); then, in its change, any new folders and an empty placeholder entry
//! (`DROPBOOT.TMP`, made by the fatfs crate), room in the folder for the
//! names the command copies there after it (one run of clusters when it
//! can, see `make_room`), the data into clusters the
//! FAT still calls free (one run when there is one), the chain in every
//! FAT copy, the placeholder's cluster and size, and its rename to the
//! real name. Until the journal's record is written only free clusters
//! have been touched; after it, the next dropboot to open the stick
//! finishes the change.

use std::io::{self, Read, Seek, SeekFrom, Write};

use bootfs::fat::{
    Fat32, ATTR_DIRECTORY, ATTR_LFN, ATTR_MASK, FAT32_END_OF_CHAIN as END_OF_CHAIN, FAT32_ENTRY_MASK, SLOT_BYTES as SLOT, SLOT_DELETED,
};

use bootfs::text::human_size;
use bootfs::vdisk::Piece;

use crate::error::{Error, Result};
use crate::image::{ClusterUse, Disk};
use crate::partition_file::PartitionFile;
use crate::source::Source;

/// The placeholder's name: a valid 8.3 name, so fatfs stores it as is.
const PLACEHOLDER: &str = "DROPBOOT.TMP";
const PLACEHOLDER_RAW: &[u8; 11] = b"DROPBOOTTMP";
/// Bytes copied per step (and per progress update).
const COPY_CHUNK: usize = 8 << 20;

/// What the volume's boot sector and FAT say, read once.
struct Layout {
    /// The active FAT, which is read.
    fat_start: u64,
    fat_sectors: u64,
    fats: u64,
    /// Where each copy that is written starts: every copy when they are
    /// mirrored, else only the active one.
    written_fats: Vec<u64>,
    cluster_bytes: u64,
    data_start: u64,
    cluster_count: u32,
    root_cluster: u32,
    fsinfo: u64,
}

impl Layout {
    fn read(disk: &mut Disk) -> Result<Layout> {
        let path = disk.stick.path().to_path_buf();
        let fs = Fat32::open(disk.block_device()).map_err(|e| Error::disk(&path, e))?;
        let g = &fs.geometry;
        Ok(Layout {
            fat_start: g.fat_start,
            fat_sectors: g.fat_sectors,
            fats: g.fats as u64,
            written_fats: if g.mirrored {
                (0..g.fats as u64).map(|i| g.first_fat_start + i * g.fat_sectors).collect()
            } else {
                Vec::from([g.fat_start])
            },
            cluster_bytes: g.cluster_bytes(),
            data_start: g.data_start,
            cluster_count: g.cluster_count,
            root_cluster: g.root_cluster,
            fsinfo: g.fsinfo_sector,
        })
    }

    /// Clusters a journal record of `sectors` changed sectors takes.
    fn journal_clusters(&self, sectors: u64) -> usize {
        (sectors * bootfs::journal::CHANGE_BYTES as u64 + 512).div_ceil(self.cluster_bytes) as usize
    }

    fn cluster_offset(&self, c: u32) -> u64 {
        (self.data_start + (c as u64 - 2) * (self.cluster_bytes / 512)) * 512
    }

    /// The first FAT's bytes.
    fn fat(&self, disk: &mut Disk) -> Result<Vec<u8>> {
        let mut fat = vec![0u8; (self.fat_sectors * 512) as usize];
        read_part(disk, self.fat_start * 512, &mut fat)?;
        Ok(fat)
    }

    /// The volume's clusters as the journal sees them, free ones as the
    /// FAT says now.
    fn cluster_use(&self, disk: &mut Disk) -> Result<ClusterUse> {
        let free = self.free_clusters(disk)?;
        Ok(ClusterUse { heap_lba: self.data_start, sectors_per_cluster: self.cluster_bytes / 512, count: self.cluster_count, free })
    }

    /// Free data clusters, in order.
    fn free_clusters(&self, disk: &mut Disk) -> Result<Vec<u32>> {
        let fat = self.fat(disk)?;
        Ok(fat
            .chunks_exact(4)
            .take(self.cluster_count as usize + 2)
            .enumerate()
            .skip(2)
            .filter(|(_, e)| u32::from_le_bytes([e[0], e[1], e[2], e[3]]) & FAT32_ENTRY_MASK == 0)
            .map(|(c, _)| c as u32)
            .collect())
    }
}

fn read_part(disk: &mut Disk, at: u64, buf: &mut [u8]) -> Result<()> {
    let what = format!("reading the data partition of {}", disk.stick.what());
    let mut part = disk.partition_file();
    part.seek(SeekFrom::Start(at)).map_err(Error::io(what.clone()))?;
    part.read_exact(buf).map_err(Error::io(what))
}

fn write_part(disk: &mut Disk, at: u64, buf: &[u8]) -> Result<()> {
    let what = format!("writing the data partition of {}", disk.stick.what());
    let mut part = disk.partition_file();
    part.seek(SeekFrom::Start(at)).map_err(Error::io(what.clone()))?;
    part.write_all(buf).map_err(Error::io(what))
}

/// Where in `free` (in order) the first `count` clusters in a row start.
fn run_in(free: &[u32], count: usize) -> Option<usize> {
    let last = count.checked_sub(1)?;
    (0..free.len().saturating_sub(last)).find(|&i| free[i + last] - free[i] == last as u32)
}

/// `count` clusters from `free`: the first run of that many in a row if
/// there is one, else the first `count` free ones.
fn choose(free: &[u32], count: usize) -> Vec<u32> {
    if count == 0 {
        return Vec::new();
    }
    match run_in(free, count) {
        Some(i) => free[i..i + count].to_vec(),
        None => free[..count].to_vec(),
    }
}

/// The first cluster of the first `count` free clusters in a row on the
/// FAT32 data partition of `disk`, if there are that many.
pub fn free_run(disk: &mut Disk, count: usize) -> Result<Option<u32>> {
    let free = Layout::read(disk)?.free_clusters(disk)?;
    Ok(run_in(&free, count).map(|i| free[i]))
}

/// Runs of consecutive clusters, as (first, length).
fn runs(clusters: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &c in clusters {
        match out.last_mut() {
            Some((first, len)) if *first + *len == c => *len += 1,
            _ => out.push((c, 1)),
        }
    }
    out
}

/// Copies `source` to `to/name` (see the module comment for the order).
/// `later`: the names to be copied into the same folder after this one; the
/// folder makes room for them now ([`make_room`]).
pub fn add(disk: &mut Disk, source: &mut Source, to: &str, name: &str, later: &[&str]) -> Result<()> {
    let image = disk.stick.what().to_string();
    let target = format!("{}/{name}", to.trim_end_matches('/'));
    let size = source.len();
    if size > u32::MAX as u64 {
        return Err(Error::Usage(format!("{name} is {size} bytes; FAT32 holds files up to 4 GiB - 1 (make the stick exFAT)")));
    }

    // Every check before the first write (the name was checked with the
    // whole plan: files::plan_adds, files::refuse_present).
    let layout = Layout::read(disk)?;
    let needed = size.div_ceil(layout.cluster_bytes) as usize;
    // New folders take a cluster each, and the folder may have to grow
    // for this name (the room for the names to come is made only from what
    // is spare, see make_room); the journal holds the FAT sectors the
    // chains touch and a few more.
    let (room, own) = (room_slots(name, later), room_slots(name, &[]));
    let own_growth = growth(disk, &layout, to, own)?;
    let folders = to.split('/').filter(|p| !p.is_empty()).count() + 1;
    let journal = layout.journal_clusters(layout.fats * ((needed as u64 * 4).div_ceil(512) + 2) + 2 * folders as u64 + 4);
    let slack = folders + own_growth + journal;
    let before = layout.cluster_use(disk)?;
    let free = &before.free;
    if needed + slack > free.len() {
        return Err(Error::Disk {
            path: disk.stick.path().to_path_buf(),
            // In the same units, with what the change needs besides the
            // file's own clusters: one cluster short once read "it needs
            // 1 MiB, 0 MiB are free".
            problem: format!(
                "not enough free space for {name}: it needs {}{} ({} for the file, the rest for its folder and the change's journal), {} are free; nothing was written",
                human_size((needed + slack) as u64 * layout.cluster_bytes),
                source.fixed_note(),
                human_size(needed as u64 * layout.cluster_bytes),
                human_size(free.len() as u64 * layout.cluster_bytes),
            ),
        });
    }

    disk.journaled_from(&format!("add {target}"), before, cluster_use, |disk| {
        // The folders, the empty placeholder, room for the names to come.
        let (made, folder_cluster) = placeholder(disk, to, &layout)?;
        let room = Room { slots: room, own, reserve: needed + journal, keep: journal + later.len() };
        let folder_cluster = make_room(disk, &layout, to, folder_cluster, made, room)?;

        // The data, into clusters still free in the FAT.
        let clusters = choose(&layout.free_clusters(disk)?, needed);
        write_data(disk, &layout, &clusters, source, name)?;

        // The chain, the entry, the name.
        write_chain(disk, &layout, &clusters)?;
        point_placeholder(disk, &layout, folder_cluster, clusters.first().copied().unwrap_or(0), size)?;
        let fs = fatfs::FileSystem::new(disk.partition_file(), fatfs::FsOptions::new())
            .map_err(Error::io(format!("opening the FAT32 volume of {image}")))?;
        {
            let dir = open_folder(&fs, to, &image)?;
            dir.rename(PLACEHOLDER, &dir, name).map_err(Error::io(format!("naming {target} on {image}")))?;
        }
        fs.unmount().map_err(Error::io(format!("closing the FAT32 volume of {image}")))?;
        write_fsinfo(disk, &layout, clusters.last().map_or(u32::MAX, |c| c + 1))
    })
}

/// FSInfo: the free count unknown (FAT32 allows it), the next free cluster
/// `next_free`.
fn write_fsinfo(disk: &mut Disk, layout: &Layout, next_free: u32) -> Result<()> {
    let mut hint = [0u8; 8];
    hint[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    hint[4..].copy_from_slice(&next_free.to_le_bytes());
    write_part(disk, layout.fsinfo * 512 + 488, &hint)
}

/// The volume's clusters, as the change being made leaves them (for
/// `Disk::journaled`).
pub fn cluster_use(disk: &mut Disk) -> Result<ClusterUse> {
    Layout::read(disk)?.cluster_use(disk)
}

fn open_folder<'a, T: fatfs::ReadWriteSeek>(fs: &'a fatfs::FileSystem<T>, to: &str, image: &str) -> Result<fatfs::Dir<'a, T>> {
    let mut dir = fs.root_dir();
    for part in to.split('/').filter(|p| !p.is_empty()) {
        dir = dir.open_dir(part).map_err(Error::io(format!("opening folder {part} on {image}")))?;
    }
    Ok(dir)
}

/// Makes the folders of `to` that are missing, through fatfs. Returns
/// them (for the dot-entry repair), outermost first.
fn make_folders(disk: &mut Disk, to: &str) -> Result<Vec<Vec<String>>> {
    let image = disk.stick.what().to_string();
    let fs =
        fatfs::FileSystem::new(disk.partition_file(), fatfs::FsOptions::new()).map_err(Error::io(format!("opening the FAT32 volume of {image}")))?;
    let mut created: Vec<Vec<String>> = Vec::new();
    {
        let mut dir = fs.root_dir();
        let parts: Vec<&str> = to.split('/').filter(|p| !p.is_empty()).collect();
        for (depth, part) in parts.iter().enumerate() {
            dir = match dir.open_dir(part) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    created.push(parts[..=depth].iter().map(|p| p.to_string()).collect());
                    dir.create_dir(part).map_err(Error::io(format!("making folder {part} on {image}")))?
                }
                Err(e) => return Err(Error::io(format!("opening folder {part} on {image}"))(e)),
            };
        }
    }
    fs.unmount().map_err(Error::io(format!("closing the FAT32 volume of {image}")))?;
    for folder in &created {
        repair_dot_entries(disk, folder)?;
    }
    Ok(created)
}

/// Makes the folders of `to` that are missing and an empty placeholder in
/// it (removing one a cut-off add left). Returns whether the folder itself
/// was made, and its first cluster (the root's for the root).
fn placeholder(disk: &mut Disk, to: &str, layout: &Layout) -> Result<(bool, u32)> {
    let made = make_folders(disk, to)?.last().is_some_and(|made| made.join("/") == to.trim_matches('/'));
    let image = disk.stick.what().to_string();
    let fs =
        fatfs::FileSystem::new(disk.partition_file(), fatfs::FsOptions::new()).map_err(Error::io(format!("opening the FAT32 volume of {image}")))?;
    {
        let dir = open_folder(&fs, to, &image)?;
        if dir.open_file(PLACEHOLDER).is_ok() {
            dir.remove(PLACEHOLDER).map_err(Error::io(format!("removing the {PLACEHOLDER} an earlier copy left on {image}")))?;
        }
        dir.create_file(PLACEHOLDER).map_err(Error::io(format!("creating {PLACEHOLDER} on {image}")))?;
    }
    fs.unmount().map_err(Error::io(format!("closing the FAT32 volume of {image}")))?;
    Ok((made, folder_cluster(disk, layout, to)?))
}

/// Slots an add of `name`, with `later` names to come, wants free in the
/// folder: each name's short entry and long-name slots (counted whether or
/// not fatfs needs them for the name), and the placeholder's.
fn room_slots(name: &str, later: &[&str]) -> usize {
    let slots = |n: &&str| 1 + n.encode_utf16().count().div_ceil(13);
    [name].iter().chain(later).map(slots).sum::<usize>() + 1
}

/// Slots of the folder whose chain is `chain` before its end marker.
fn used_slots(disk: &mut Disk, layout: &Layout, chain: &[u32]) -> Result<usize> {
    let mut buf = vec![0u8; layout.cluster_bytes as usize];
    for (i, &cluster) in chain.iter().enumerate() {
        read_part(disk, layout.cluster_offset(cluster), &mut buf)?;
        if let Some(end) = buf.chunks_exact(SLOT).position(|slot| slot[0] == 0) {
            return Ok(i * buf.len() / SLOT + end);
        }
    }
    Ok(chain.len() * buf.len() / SLOT)
}

/// Clusters a folder with `used` slots in use needs for `slots` more (a
/// folder holds at most the FAT limit's entries).
fn folder_clusters(layout: &Layout, used: usize, slots: usize) -> usize {
    (used + slots).min(bootfs::fat::MAX_DIR_ENTRIES).div_ceil(layout.cluster_bytes as usize / SLOT)
}

/// Clusters the folder `to` must grow by for `slots` more free slots: what
/// its chain lacks if it is there, else all of them (a new folder's first
/// cluster is counted with the folders).
fn growth(disk: &mut Disk, layout: &Layout, to: &str, slots: usize) -> Result<usize> {
    let Ok(first) = folder_cluster(disk, layout, to) else {
        return Ok(folder_clusters(layout, 0, slots));
    };
    let chain = chain_of(disk, layout, first)?;
    Ok(folder_clusters(layout, used_slots(disk, layout, &chain)?, slots).saturating_sub(chain.len()))
}

/// The room an add makes in its folder ([`make_room`]).
struct Room {
    /// Free slots wanted for this name and the names to come.
    slots: usize,
    /// Free slots this name needs (the free-space check counted them).
    own: usize,
    /// Free clusters the rest of the change needs (data and journal).
    reserve: usize,
    /// Free clusters to leave, beyond those, for the adds to come (the
    /// next one's journal, a cluster of data each), before the room for
    /// their names is made now.
    keep: usize,
}

/// Gives the folder `to` (first cluster `first`; `made` in this change)
/// `room.slots` more free slots than it uses, in one run of clusters when
/// it can, before the data of the add is placed; on a volume too full for
/// that and the adds to come (`room.reserve`, `room.keep`), only
/// `room.own`, as fatfs would grow it: the room is a speed-up and takes
/// no file's place. Returns
/// the folder's first cluster, which changes when a folder made in this
/// change moves.
///
/// Left to fatfs, a folder grows a cluster at a time as names come, each
/// cluster after the data copied before it, and the loader reads each such
/// piece in a BIOS call of its own: on a 256 MiB stick (512-byte clusters,
/// 16 slots) a folder of 25 files was 4 pieces. Clusters a folder's chain
/// holds past its end marker are zeroed, which FAT allows and fsck accepts.
fn make_room(disk: &mut Disk, layout: &Layout, to: &str, first: u32, made: bool, room: Room) -> Result<u32> {
    let chain = chain_of(disk, layout, first)?;
    let used = used_slots(disk, layout, &chain)?;
    let extra_for = |wanted: usize| wanted.checked_sub(chain.len()).filter(|&n| n > 0);
    let wanted = folder_clusters(layout, used, room.slots);
    let Some(extra) = extra_for(wanted) else {
        return Ok(first);
    };
    let free = layout.free_clusters(disk)?;
    // The room's own FAT sectors in the journal, and a parent's entry.
    let journaled = layout.journal_clusters(layout.fats * ((extra as u64 * 4).div_ceil(512) + 1) + 1);
    let (wanted, extra) = if extra + journaled + room.reserve + room.keep <= free.len() {
        (wanted, extra)
    } else {
        let wanted = folder_clusters(layout, used, room.own);
        match extra_for(wanted) {
            Some(extra) => (wanted, extra),
            None => return Ok(first),
        }
    };
    let last = chain[chain.len() - 1];
    let next: Vec<u32> = (last + 1..=last + extra as u32).collect();
    if next.iter().all(|c| free.binary_search(c).is_ok()) {
        append(disk, layout, &chain, &next)?;
        return Ok(first);
    }
    // A folder made just now holds only its dot entries and the
    // placeholder: it moves whole into a run of the size it needs.
    if made && chain.len() == 1 {
        if let Some(i) = run_in(&free, wanted) {
            return relocate_new_folder(disk, layout, to, first, &free[i..i + wanted]);
        }
    }
    if free.len() >= extra {
        append(disk, layout, &chain, &choose(&free, extra))?;
    }
    Ok(first)
}

/// Zeroes `more` (free clusters) and links them after the folder chain
/// `chain`.
fn append(disk: &mut Disk, layout: &Layout, chain: &[u32], more: &[u32]) -> Result<()> {
    zero_clusters(disk, layout, more)?;
    let linked: Vec<u32> = chain.last().into_iter().chain(more).copied().collect();
    write_chain(disk, layout, &linked)
}

fn zero_clusters(disk: &mut Disk, layout: &Layout, clusters: &[u32]) -> Result<()> {
    for (first, len) in runs(clusters) {
        write_part(disk, layout.cluster_offset(first), &vec![0u8; (len as u64 * layout.cluster_bytes) as usize])?;
    }
    Ok(())
}

/// Moves the folder `to`, made in this change with its one cluster `old`,
/// to the free clusters `run`: the cluster copied to the run's first (the
/// rest zeroed), its "." and the parent's entry pointed there, the run
/// chained, `old` freed. Returns the folder's new first cluster.
fn relocate_new_folder(disk: &mut Disk, layout: &Layout, to: &str, old: u32, run: &[u32]) -> Result<u32> {
    let new = run[0];
    let mut cluster = vec![0u8; layout.cluster_bytes as usize];
    read_part(disk, layout.cluster_offset(old), &mut cluster)?;
    if &cluster[..11] != b".          " {
        return Err(Error::disk(disk.stick.path(), format!("the folder {to} made just now does not start with its \".\" entry")));
    }
    set_first_cluster(&mut cluster[..SLOT], new);
    zero_clusters(disk, layout, run)?;
    write_part(disk, layout.cluster_offset(new), &cluster)?;
    write_chain(disk, layout, run)?;
    let parent = folder_cluster(disk, layout, to.trim_end_matches('/').rsplit_once('/').map_or("", |(p, _)| p))?;
    let is_it = |e: &[u8]| e[11] & ATTR_DIRECTORY != 0 && first_cluster(e) == old;
    if !edit_entry(disk, layout, parent, is_it, |e| set_first_cluster(e, new))? {
        return Err(Error::disk(disk.stick.path(), format!("the entry of the folder {to} made just now is gone")));
    }
    free_chain(disk, layout, &[old])?;
    Ok(new)
}

fn write_data(disk: &mut Disk, layout: &Layout, clusters: &[u32], source: &mut Source, name: &str) -> Result<()> {
    let image = disk.stick.what().to_string();
    let doing = format!("copying {} to {image}", source.path().display());
    let size = source.len();
    let bar = crate::progress::copying(name, size);
    let mut from = 0u64;
    let mut buf = vec![0u8; COPY_CHUNK];
    for (first, len) in runs(clusters) {
        let mut at = layout.cluster_offset(first);
        let mut left = (len as u64 * layout.cluster_bytes).min(size - from);
        let mut part = disk.partition_file();
        while left > 0 {
            let piece = source.piece(from, left.min(COPY_CHUNK as u64)).map_err(Error::io(doing.clone()))?;
            let n = piece.bytes();
            // In the kernel when it can; else through the buffer.
            let copied = match piece {
                Piece::File { at: offset, .. } => part.copy_from(source.file(), offset, n, at).map_err(Error::io(doing.clone()))?,
                _ => false,
            };
            if !copied {
                let buf = &mut buf[..n as usize];
                source.read_at(from, buf).map_err(Error::io(doing.clone()))?;
                part.seek(SeekFrom::Start(at)).map_err(Error::io(doing.clone()))?;
                part.write_all(buf).map_err(Error::io(doing.clone()))?;
            }
            (at, left, from) = (at + n, left - n, from + n);
            bar.set_position(from);
            crate::fault::copy_progress(from, size);
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// Links `clusters` into one chain in every copy of the FAT.
fn write_chain(disk: &mut Disk, layout: &Layout, clusters: &[u32]) -> Result<()> {
    set_fat_entries(disk, layout, clusters, |i| clusters.get(i + 1).copied().unwrap_or(END_OF_CHAIN))
}

/// Marks `clusters` free in every copy of the FAT.
fn free_chain(disk: &mut Disk, layout: &Layout, clusters: &[u32]) -> Result<()> {
    set_fat_entries(disk, layout, clusters, |_| 0)
}

/// Sets the FAT entry of `clusters[i]` to `value(i)` (its top four bits
/// kept) in every copy of the FAT in use, writing the span they lie in.
fn set_fat_entries(disk: &mut Disk, layout: &Layout, clusters: &[u32], value: impl Fn(usize) -> u32) -> Result<()> {
    let (Some(&low), Some(&high)) = (clusters.iter().min(), clusters.iter().max()) else {
        return Ok(());
    };
    let mut fat = layout.fat(disk)?;
    for (i, &c) in clusters.iter().enumerate() {
        let at = c as usize * 4;
        let keep = u32::from_le_bytes([fat[at], fat[at + 1], fat[at + 2], fat[at + 3]]) & 0xF000_0000;
        fat[at..at + 4].copy_from_slice(&(keep | value(i)).to_le_bytes());
    }
    let (from, to) = (low as usize * 4, high as usize * 4 + 4);
    for &start in &layout.written_fats {
        write_part(disk, start * 512 + from as u64, &fat[from..to])?;
    }
    Ok(())
}

/// The clusters of the chain from `first` (bounded by the volume's size).
fn chain_of(disk: &mut Disk, layout: &Layout, first: u32) -> Result<Vec<u32>> {
    let path = disk.stick.path().to_path_buf();
    let mut chain = vec![first];
    let mut fs = Fat32::open(disk.block_device()).map_err(|e| Error::disk(&path, e))?;
    while chain.len() < layout.cluster_count as usize {
        let last = chain[chain.len() - 1];
        match fs.next_cluster(last).map_err(|e| Error::disk(&path, e))? {
            Some(next) => chain.push(next),
            None => break,
        }
    }
    Ok(chain)
}

/// Rewrites the short entry in the folder at `folder_cluster` that `is_it`
/// picks (by its 32 bytes) with `edit`. False when there is none.
fn edit_entry(disk: &mut Disk, layout: &Layout, folder_cluster: u32, is_it: impl Fn(&[u8]) -> bool, edit: impl FnOnce(&mut [u8])) -> Result<bool> {
    let mut buf = vec![0u8; layout.cluster_bytes as usize];
    for cluster in chain_of(disk, layout, folder_cluster)? {
        let at = layout.cluster_offset(cluster);
        read_part(disk, at, &mut buf)?;
        for (i, slot) in buf.chunks_exact(SLOT).enumerate() {
            if slot[0] == 0 {
                return Ok(false);
            }
            if slot[0] != SLOT_DELETED && slot[11] & ATTR_MASK != ATTR_LFN && is_it(slot) {
                let mut entry = slot.to_vec();
                edit(&mut entry);
                write_part(disk, at + (i * SLOT) as u64, &entry)?;
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn set_first_cluster(entry: &mut [u8], first: u32) {
    entry[20..22].copy_from_slice(&((first >> 16) as u16).to_le_bytes());
    entry[26..28].copy_from_slice(&(first as u16).to_le_bytes());
}

fn first_cluster(entry: &[u8]) -> u32 {
    (u16::from_le_bytes([entry[20], entry[21]]) as u32) << 16 | u16::from_le_bytes([entry[26], entry[27]]) as u32
}

/// Gives the placeholder's entry in the folder at `folder_cluster` its
/// first cluster and size.
fn point_placeholder(disk: &mut Disk, layout: &Layout, folder_cluster: u32, first: u32, size: u64) -> Result<()> {
    let found = edit_entry(
        disk,
        layout,
        folder_cluster,
        |e| &e[..11] == PLACEHOLDER_RAW,
        |e| {
            set_first_cluster(e, first);
            e[28..32].copy_from_slice(&(size as u32).to_le_bytes());
        },
    )?;
    if found {
        return Ok(());
    }
    Err(Error::disk(disk.stick.path(), format!("the {PLACEHOLDER} entry made for the copy is gone")))
}

/// The first cluster of the folder `path` ("" or "/a/b").
fn folder_cluster(disk: &mut Disk, layout: &Layout, path: &str) -> Result<u32> {
    let where_ = disk.stick.path().to_path_buf();
    let Some((parent, last)) = path.trim_end_matches('/').rsplit_once('/') else {
        return Ok(layout.root_cluster);
    };
    let mut fs = Fat32::open(disk.block_device()).map_err(|e| Error::disk(&where_, e))?;
    let entries = bootfs::scan::list_dir(&mut fs, parent).map_err(|e| Error::disk(&where_, e))?.unwrap_or_default();
    entries
        .iter()
        .find(|e| e.is_dir && bootfs::text::eq_ignore_case(&e.name, last))
        .map(|e| e.node.fat_cluster())
        .ok_or_else(|| Error::disk(&where_, format!("no folder {path}")))
}

/// Moves the file at `path` (as the stick spells it) into one run of free
/// clusters, as one journaled change: its data is copied into the run
/// (free clusters, written straight), the run is chained in every FAT
/// copy, the entry is pointed at it and the old chain is freed. The name,
/// size, dates and the rest of the entry stay as they were.
pub fn defrag(disk: &mut Disk, path: &str) -> Result<()> {
    let image = disk.stick.what().to_string();
    let layout = Layout::read(disk)?;
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    let entry = {
        let where_ = disk.stick.path().to_path_buf();
        let mut fs = Fat32::open(disk.block_device()).map_err(|e| Error::disk(&where_, e))?;
        let entries = bootfs::scan::list_dir(&mut fs, folder).map_err(|e| Error::disk(&where_, e))?.unwrap_or_default();
        entries.into_iter().find(|e| !e.is_dir && e.name == name).ok_or_else(|| Error::Usage(format!("no file {path} on {image}")))?
    };
    if entry.node.fat_cluster() < 2 {
        return Ok(());
    }
    let all = chain_of(disk, &layout, entry.node.fat_cluster())?;
    let needed = entry.size.div_ceil(layout.cluster_bytes) as usize;
    let Some(old) = all.get(..needed) else {
        return Err(Error::disk(disk.stick.path(), format!("{path} has {} clusters for {} bytes: run fsck.vfat", all.len(), entry.size)));
    };
    let start = free_run(disk, needed)?.ok_or_else(|| Error::disk(disk.stick.path(), format!("no contiguous free space for {path}")))?;
    let new: Vec<u32> = (start..start + needed as u32).collect();
    let folder_first = folder_cluster(disk, &layout, folder)?;
    let bar = crate::progress::copying(name, entry.size);
    let done = disk.journaled(&format!("defrag {path}"), cluster_use, |disk| {
        // The data, run by run, into the new clusters.
        let mut buf = vec![0u8; COPY_CHUNK];
        let (mut to, mut copied) = (layout.cluster_offset(start), 0u64);
        for (first, len) in runs(old) {
            let (mut from, mut left) = (layout.cluster_offset(first), len as u64 * layout.cluster_bytes);
            while left > 0 {
                let n = left.min(COPY_CHUNK as u64) as usize;
                read_part(disk, from, &mut buf[..n])?;
                write_part(disk, to, &buf[..n])?;
                (from, to, left, copied) = (from + n as u64, to + n as u64, left - n as u64, copied + n as u64);
                bar.set_position(copied.min(entry.size));
            }
        }
        write_chain(disk, &layout, &new)?;
        free_chain(disk, &layout, &all)?;
        let old_first = old[0];
        if !edit_entry(disk, &layout, folder_first, |e| first_cluster(e) == old_first, |e| set_first_cluster(e, start))? {
            return Err(Error::disk(disk.stick.path(), format!("the entry of {path} was not found in its folder")));
        }
        write_fsinfo(disk, &layout, start + needed as u32)
    });
    bar.finish_and_clear();
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_in_a_row_is_preferred_else_the_first_free_clusters() {
        assert_eq!(choose(&[3, 5, 6, 7, 9], 3), [5, 6, 7]);
        assert_eq!(choose(&[3, 5, 7, 9], 3), [3, 5, 7]);
        assert_eq!(choose(&[3], 0), Vec::<u32>::new());
        assert_eq!(runs(&[3, 4, 5, 9, 10]), [(3, 3), (9, 2)]);
        assert_eq!(run_in(&[3, 5, 6, 7], 3), Some(1));
        assert_eq!(run_in(&[3, 5, 7], 2), None);
        assert_eq!(run_in(&[3], 0), None);
    }
}

/// fatfs 0.3.6 starts a new folder with a long-name slot before "." and
/// another before ".." (rust-fatfs #117), and gives a first-level folder's
/// ".." the root's cluster where FAT32 wants 0 (#99); fsck.vfat rejects
/// both. This puts "." and ".." in the first two slots, marks the two
/// slots after them deleted, and sets ".." to 0 under the root.
fn repair_dot_entries(disk: &mut Disk, folder: &[String]) -> Result<()> {
    const SLOT: usize = 32;
    let path = disk.stick.path().to_path_buf();
    let bad = |e: bootfs::fat::FatError| Error::disk(&path, e);
    let (at, parent) = {
        let mut fs = Fat32::open(disk.block_device()).map_err(bad)?;
        let (mut cluster, mut parent) = (0u32, 0u32);
        for name in folder {
            let entry = fs.read_dir(cluster).map_err(bad)?.into_iter().find(|e| e.is_dir && e.name == *name);
            let entry = entry.ok_or_else(|| Error::disk(&path, format!("folder {name} vanished after it was made")))?;
            (parent, cluster) = (cluster, entry.node.fat_cluster());
        }
        (fs.geometry.cluster_lba(cluster) * 512, parent)
    };
    let mut sector = [0u8; 512];
    let what = format!("the folder /{} on {}", folder.join("/"), path.display());
    let mut part = disk.partition_file();
    part.seek(SeekFrom::Start(at)).map_err(Error::io(format!("seeking to {what}")))?;
    part.read_exact(&mut sector).map_err(Error::io(format!("reading {what}")))?;
    let slot = |i: usize| &sector[i * SLOT..(i + 1) * SLOT];
    let is_lfn = |i: usize| slot(i)[11] & ATTR_MASK == ATTR_LFN;
    if !(is_lfn(0) && &slot(1)[..11] == b".          " && is_lfn(2) && &slot(3)[..11] == b"..         ") {
        return Ok(());
    }
    let (dot, mut dotdot) = (slot(1).to_vec(), slot(3).to_vec());
    dotdot[20..22].copy_from_slice(&((parent >> 16) as u16).to_le_bytes());
    dotdot[26..28].copy_from_slice(&(parent as u16).to_le_bytes());
    sector[..SLOT].copy_from_slice(&dot);
    sector[SLOT..2 * SLOT].copy_from_slice(&dotdot);
    sector[2 * SLOT] = SLOT_DELETED;
    sector[3 * SLOT] = SLOT_DELETED;
    part.seek(SeekFrom::Start(at)).map_err(Error::io(format!("seeking to {what}")))?;
    part.write_all(&sector).map_err(Error::io(format!("repairing {what}")))
}

/// Removes the file at `path` (fatfs frees its chain), inside the caller's
/// journaled change.
pub fn remove(disk: &mut Disk, path: &str) -> Result<()> {
    let image = disk.stick.what().to_string();
    let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
    let fs =
        fatfs::FileSystem::new(disk.partition_file(), fatfs::FsOptions::new()).map_err(Error::io(format!("opening the FAT32 volume of {image}")))?;
    let mut dir = fs.root_dir();
    for part in folder.split('/').filter(|p| !p.is_empty()) {
        dir = dir.open_dir(part).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::Usage(format!("no file {path} on {image}")),
            _ => Error::io(format!("opening folder {part} on {image}"))(e),
        })?;
    }
    // Names differ only in case on FAT32: the file as the folder spells it.
    let Some(stored) =
        dir.iter().filter_map(|e| e.ok()).find(|e| e.is_file() && bootfs::text::eq_ignore_case(&e.file_name(), name)).map(|e| e.file_name())
    else {
        return Err(Error::Usage(format!("no file {path} on {image}")));
    };
    dir.remove(&stored).map_err(Error::io(format!("removing {path} from {image}")))?;
    drop(dir);
    fs.unmount().map_err(Error::io(format!("closing the FAT32 volume of {image}")))
}

/// The volume's label and free bytes.
pub fn space(disk: &mut Disk) -> Result<(String, u64)> {
    let image = disk.stick.what().to_string();
    let fs =
        fatfs::FileSystem::new(disk.partition_file(), fatfs::FsOptions::new()).map_err(Error::io(format!("opening the FAT32 volume of {image}")))?;
    let stats = fs.stats().map_err(Error::io(format!("counting free space on {image}")))?;
    Ok((fs.volume_label().trim_end().to_string(), stats.free_clusters() as u64 * stats.cluster_size() as u64))
}

/// Formats `part` (a partition of `sectors`) as an empty FAT32 volume, by
/// the fatfs crate, with the cluster size Windows would pick.
pub fn format(part: &mut PartitionFile, sectors: u64, label: &str) -> io::Result<()> {
    let mut name = [b' '; 11];
    for (n, b) in name.iter_mut().zip(label.bytes()) {
        *n = b.to_ascii_uppercase();
    }
    fatfs::format_volume(
        part,
        fatfs::FormatVolumeOptions::new().fat_type(fatfs::FatType::Fat32).bytes_per_cluster(cluster_bytes_for(sectors * 512)).volume_label(name),
    )
}

/// The cluster size Windows' format picks for a FAT32 volume of `bytes`:
/// what every other tool and the user expect, and big enough clusters keep
/// the FAT short and large files in few pieces.
fn cluster_bytes_for(bytes: u64) -> u32 {
    const MIB: u64 = 1024 * 1024;
    match bytes {
        b if b < 260 * MIB => 512,
        b if b < 8 * 1024 * MIB => 4096,
        b if b < 16 * 1024 * MIB => 8192,
        b if b < 32 * 1024 * MIB => 16384,
        _ => 32768,
    }
}
