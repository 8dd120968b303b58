//! Changes to a FAT32 or exFAT volume made as one step (bootfs::journal
//! has the why and the format). While a change runs, its writes to the volume's
//! metadata collect in an [`Overlay`] in memory, and reads see them; its
//! file data goes straight to clusters that were free when it began, which
//! nothing points at until the change is whole. [`commit`] journals the
//! new sectors, then writes them; [`finish_interrupted`], run when a disk
//! is opened, finishes a change that a kill cut off. (`Disk::journaled`
//! runs a change this way.)

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use bootfs::journal::{record_for, Body, Change, Record, Run, SectorState, MAX_RUNS, RECORD_LBA};

use crate::error::{Error, Result};
use crate::stick::Stick;

/// Clusters of the data partition, by disk LBA: cluster 2 starts at
/// `first_lba`.
#[derive(Clone, Copy, Debug)]
pub struct Clusters {
    pub first_lba: u64,
    pub sectors_per_cluster: u64,
}

impl Clusters {
    pub fn lba(&self, cluster: u32) -> u64 {
        self.first_lba + (cluster as u64 - 2) * self.sectors_per_cluster
    }
}

/// The writes of a change not yet made: metadata sectors held back, by
/// disk LBA, and the clusters free when it began (written straight).
pub struct Overlay {
    what: String,
    sectors: BTreeMap<u64, Box<[u8; 512]>>,
    clusters: Clusters,
    /// Indexed by cluster - 2.
    free_at_start: Vec<bool>,
    /// Clusters free at the start that this change has written, by
    /// cluster - 2 (the others hold what a deleted file or an earlier
    /// journal left there).
    written: Vec<bool>,
}

impl Overlay {
    /// A change named `what` ("add /x.iso") to a volume whose free
    /// clusters are `free`.
    pub fn new(what: &str, clusters: Clusters, cluster_count: u32, free: &[u32]) -> Overlay {
        let mut free_at_start = vec![false; cluster_count as usize];
        for &c in free {
            if let Some(slot) = (c as usize).checked_sub(2).and_then(|i| free_at_start.get_mut(i)) {
                *slot = true;
            }
        }
        let written = vec![false; free_at_start.len()];
        Overlay { what: what.into(), sectors: BTreeMap::new(), clusters, free_at_start, written }
    }

    /// The cluster (- 2) holding `lba`, when it was free as the change
    /// began.
    fn free_cluster(&self, lba: u64) -> Option<usize> {
        let off = lba.checked_sub(self.clusters.first_lba)?;
        let i = usize::try_from(off / self.clusters.sectors_per_cluster).ok()?;
        self.free_at_start.get(i).copied().unwrap_or(false).then_some(i)
    }

    /// Whether a write to `lba` goes straight to the disk: it lies in a
    /// cluster that was free when the change began.
    fn is_direct(&self, lba: u64) -> bool {
        self.free_cluster(lba).is_some()
    }

    /// Whether every sector of `len` bytes at disk byte `at` goes straight
    /// to the disk.
    pub fn all_direct(&self, at: u64, len: u64) -> bool {
        let (mut lba, end) = (at / 512, (at + len).div_ceil(512));
        while lba < end {
            if !self.is_direct(lba) {
                return false;
            }
            lba = self.next_cluster_lba(lba);
        }
        true
    }

    /// The first sector of the cluster after the one holding `lba`.
    fn next_cluster_lba(&self, lba: u64) -> u64 {
        match lba.checked_sub(self.clusters.first_lba) {
            Some(off) => self.clusters.first_lba + (off / self.clusters.sectors_per_cluster + 1) * self.clusters.sectors_per_cluster,
            None => lba + 1,
        }
    }

    /// Before the first part-sector write into a cluster that was free as
    /// the change began and that it has not written yet: zeroes the whole
    /// cluster, straight. Such a write is a folder's entry in a cluster
    /// just added to it, and the rest of a folder's cluster must read as
    /// unused entries, not as what a deleted file or an earlier journal
    /// left there. (The fatfs crate zeroes the clusters it adds to any
    /// folder but FAT32's root; file data is written whole sectors first.)
    fn zero_if_fresh(&mut self, file: &File, lba: u64) -> io::Result<()> {
        let Some(i) = self.free_cluster(lba) else {
            return Ok(());
        };
        match self.written.get_mut(i) {
            Some(w) if !*w => *w = true,
            _ => return Ok(()),
        }
        let first = self.clusters.lba(i as u32 + 2);
        let zeros = vec![0u8; self.clusters.sectors_per_cluster as usize * 512];
        crate::fault::before_write();
        file.write_all_at(&zeros, first * 512)?;
        self.written_straight(first * 512, zeros.len() as u64);
        Ok(())
    }

    /// Forgets what was held back of the whole sectors `len` bytes at disk
    /// byte `at` cover: they were just written straight to the disk. The
    /// clusters those bytes touch count as written by this change (every
    /// straight write, `PartitionFile::copy_from`'s too, comes here, so
    /// [`Overlay::zero_if_fresh`] never zeroes what the change wrote).
    pub fn written_straight(&mut self, at: u64, len: u64) {
        let held: Vec<u64> = self.sectors.range(at.div_ceil(512)..(at + len) / 512).map(|(&lba, _)| lba).collect();
        for lba in held {
            self.sectors.remove(&lba);
        }
        let (mut lba, end) = (at / 512, (at + len).div_ceil(512));
        while lba < end {
            if let Some(w) = self.free_cluster(lba).and_then(|i| self.written.get_mut(i)) {
                *w = true;
            }
            lba = self.next_cluster_lba(lba);
        }
    }

    /// Reads `buf` from disk byte `at`, as the change would leave it.
    pub fn read_at(&self, file: &File, at: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = file.read_at(buf, at)?;
        let end = at + n as u64;
        for (&lba, sector) in self.sectors.range(at / 512..end.div_ceil(512)) {
            let start = lba * 512;
            let (lo, hi) = (start.max(at), (start + 512).min(end));
            buf[(lo - at) as usize..(hi - at) as usize].copy_from_slice(&sector[(lo - start) as usize..(hi - start) as usize]);
        }
        Ok(n)
    }

    /// Writes `buf` at disk byte `at`: whole sectors into free clusters
    /// straight away (file data, a new folder's first zeros), everything
    /// else into the held-back sectors (fatfs writes an entry field by
    /// field), a free cluster zeroed first when this is the change's
    /// first write to it ([`Overlay::zero_if_fresh`]).
    pub fn write_at(&mut self, file: &File, at: u64, buf: &[u8]) -> io::Result<()> {
        let end = at + buf.len() as u64;
        let straight = |o: &Overlay, lba: u64| lba * 512 >= at && (lba + 1) * 512 <= end && o.is_direct(lba);
        let mut pos = at;
        while pos < end {
            let direct = straight(self, pos / 512);
            let mut next = pos / 512 + 1;
            while next * 512 < end && straight(self, next) == direct {
                next += 1;
            }
            let stop = (next * 512).min(end);
            let piece = &buf[(pos - at) as usize..(stop - at) as usize];
            if direct {
                crate::fault::before_write();
                file.write_all_at(piece, pos)?;
                self.written_straight(pos, stop - pos);
            } else {
                let mut p = pos;
                while p < stop {
                    let lba = p / 512;
                    self.zero_if_fresh(file, lba)?;
                    let sector = match self.sectors.entry(lba) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => {
                            let mut s = Box::new([0u8; 512]);
                            file.read_exact_at(&mut s[..], lba * 512)?;
                            e.insert(s)
                        }
                    };
                    let q = ((lba + 1) * 512).min(stop);
                    sector[(p - lba * 512) as usize..(q - lba * 512) as usize].copy_from_slice(&buf[(p - at) as usize..(q - at) as usize]);
                    p = q;
                }
            }
            pos = stop;
        }
        Ok(())
    }
}

fn write_record(stick: &Stick, sector: &[u8; 512]) -> Result<()> {
    crate::fault::before_write();
    stick.file().write_all_at(sector, RECORD_LBA * 512).map_err(stick.io("writing the journal record of"))?;
    stick.file().sync_data().map_err(stick.io("flushing"))
}

/// Writes the sectors of `body`, a run of consecutive LBAs per write,
/// skipping those already written.
fn apply(stick: &Stick, body: &Body) -> Result<()> {
    for run in body.runs() {
        let changes = &body.changes[run];
        let mut bytes = Vec::with_capacity(changes.len() * 512);
        for c in changes {
            bytes.extend_from_slice(&c.after);
        }
        crate::fault::before_write();
        stick.file().write_all_at(&bytes, changes[0].lba * 512).map_err(stick.io("writing the volume of"))?;
    }
    stick.file().sync_data().map_err(stick.io("flushing"))
}

/// Makes the change `overlay` holds: the data is flushed, the new sectors
/// are journaled into `spare` clusters (free before and after the change),
/// the record is written, then the sectors, then the record is cleared.
/// A kill before the record leaves the volume as it was; after it, the
/// next dropboot to open the disk finishes the change.
pub fn commit(stick: &Stick, overlay: Overlay, spare: &[u32]) -> Result<()> {
    stick.file().sync_data().map_err(stick.io("flushing"))?;
    let mut changes = Vec::new();
    for (lba, after) in overlay.sectors {
        let mut before = [0u8; 512];
        stick.file().read_exact_at(&mut before, lba * 512).map_err(stick.io("reading"))?;
        if before != *after {
            changes.push(Change::new(lba, &before, *after));
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let body = Body { changes };
    let bytes = body.to_bytes();

    // The journal's place: whole clusters, in at most MAX_RUNS runs.
    let per_cluster = overlay.clusters.sectors_per_cluster;
    let want = (bytes.len() as u64).div_ceil(512).div_ceil(per_cluster) as usize;
    let mut runs: Vec<Run> = Vec::new();
    for &c in spare.iter().take(want) {
        let lba = overlay.clusters.lba(c);
        match runs.last_mut() {
            Some(r) if r.lba + r.sectors as u64 == lba => r.sectors += per_cluster as u32,
            _ => runs.push(Run { lba, sectors: per_cluster as u32 }),
        }
    }
    if spare.len() < want || runs.len() > MAX_RUNS {
        return Err(Error::Disk {
            path: stick.path().into(),
            problem: format!(
                "no room for the journal of this change ({} KiB of free space in at most {MAX_RUNS} pieces); nothing was changed",
                bytes.len().div_ceil(1024)
            ),
        });
    }
    let mut at = 0usize;
    for r in &runs {
        let n = (r.sectors as usize * 512).min(bytes.len() - at);
        if n > 0 {
            crate::fault::before_write();
            stick.file().write_all_at(&bytes[at..at + n], r.lba * 512).map_err(stick.io("writing the journal on"))?;
        }
        at += n;
    }
    stick.file().sync_data().map_err(stick.io("flushing"))?;
    let record = record_for(&overlay.what, &bytes, runs);
    let sector = record.to_sector().ok_or_else(|| Error::disk(stick.path(), "the journal record has too many runs"))?;
    write_record(stick, &sector)?;
    apply(stick, &body)?;
    write_record(stick, &[0u8; 512])
}

/// What [`finish_interrupted`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Interrupted {
    None,
    /// The change was finished now.
    Finished(String),
    /// A record whose journal is gone or whose sectors someone else wrote
    /// since: cleared, the volume left as it is.
    Dropped(String, &'static str),
}

/// The record on `stick`, if there is one (for readers, which only say so).
pub fn pending(stick: &Stick) -> Result<Option<Record>> {
    let mut sector = [0u8; 512];
    stick.file().read_exact_at(&mut sector, RECORD_LBA * 512).map_err(stick.io("reading the journal record of"))?;
    Ok(Record::parse(&sector))
}

/// Finishes the change a kill cut off, when the record says there is one:
/// its journal is read and checked, and each of its sectors must be as it
/// was or as the change leaves it (else another program wrote the volume
/// since, and the journal is dropped). Says what it did on stderr.
pub fn finish_interrupted(stick: &Stick) -> Result<Interrupted> {
    let Some(record) = pending(stick)? else {
        return Ok(Interrupted::None);
    };
    let done = finish(stick, &record)?;
    write_record(stick, &[0u8; 512])?;
    let image = stick.what();
    match &done {
        Interrupted::Finished(what) => {
            eprintln!("dropboot: finished the change a stop cut off on {image} ({what})")
        }
        Interrupted::Dropped(what, why) => {
            eprintln!("dropboot: did not finish the change a stop cut off on {image} ({what}): {why}; fsck.vfat -a repairs what it left")
        }
        Interrupted::None => {}
    }
    Ok(done)
}

fn finish(stick: &Stick, record: &Record) -> Result<Interrupted> {
    let what = record.what.clone();
    let disk_bytes = stick.bytes();
    let sectors = disk_bytes / 512;
    if record.runs.iter().any(|r| r.lba.checked_add(r.sectors as u64).is_none_or(|end| end > sectors)) || record.body_bytes > disk_bytes {
        return Ok(Interrupted::Dropped(what, "its journal lies outside the disk"));
    }
    let mut bytes = Vec::with_capacity(record.body_bytes as usize);
    for r in &record.runs {
        let n = (r.sectors as u64 * 512).min(record.body_bytes - bytes.len() as u64) as usize;
        let mut piece = vec![0u8; n];
        stick.file().read_exact_at(&mut piece, r.lba * 512).map_err(stick.io("reading the journal on"))?;
        bytes.extend_from_slice(&piece);
    }
    let Some(body) = Body::check(record, &bytes) else {
        return Ok(Interrupted::Dropped(what, "its journal was overwritten"));
    };
    if body.changes.iter().any(|c| c.lba >= sectors) {
        return Ok(Interrupted::Dropped(what, "its journal names sectors outside the disk"));
    }
    for c in &body.changes {
        let mut now = [0u8; 512];
        stick.file().read_exact_at(&mut now, c.lba * 512).map_err(stick.io("reading"))?;
        if c.state(&now) == SectorState::Changed {
            return Ok(Interrupted::Dropped(what, "another program wrote the stick since"));
        }
    }
    apply(stick, &body)?;
    Ok(Interrupted::Finished(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch disk of four 4 KiB clusters (2 to 5, from sector 0), all
    /// free, each full of 0xEE: what earlier files and journals left.
    fn disk(name: &str) -> (File, Overlay) {
        let path = std::env::temp_dir().join(format!("dropboot-overlay-{name}-{}", std::process::id()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).expect("scratch file");
        let _ = std::fs::remove_file(&path);
        file.write_all_at(&[0xEE; 4 * 4096], 0).expect("old contents");
        (file, Overlay::new("test", Clusters { first_lba: 0, sectors_per_cluster: 8 }, 4, &[2, 3, 4, 5]))
    }

    fn sector(file: &File, overlay: &Overlay, lba: u64) -> [u8; 512] {
        let mut s = [0u8; 512];
        overlay.read_at(file, lba * 512, &mut s).expect("read");
        s
    }

    #[test]
    fn a_folders_first_entry_in_a_fresh_cluster_leaves_the_rest_of_it_reading_as_unused() {
        let (file, mut overlay) = disk("fresh");
        // An entry's name field, 11 bytes into sector 8 (cluster 3).
        overlay.write_at(&file, 8 * 512, b"FOLDER  000").expect("write");
        let first = sector(&file, &overlay, 8);
        assert_eq!(&first[..11], b"FOLDER  000");
        assert!(first[11..].iter().all(|&b| b == 0));
        for lba in 9..16 {
            assert_eq!(sector(&file, &overlay, lba), [0; 512], "sector {lba}");
        }
        // The clusters around it are untouched.
        assert_eq!(sector(&file, &overlay, 7), [0xEE; 512]);
        assert_eq!(sector(&file, &overlay, 16), [0xEE; 512]);
    }

    #[test]
    fn data_written_straight_then_a_part_sector_into_the_same_cluster_keeps_the_data() {
        let (file, mut overlay) = disk("copied");
        // As PartitionFile::copy_from does: straight to the disk, then said.
        file.write_all_at(&[0xAA; 1000], 0).expect("copy");
        overlay.written_straight(0, 1000);
        // A file's last bytes, part of sector 2 of the same cluster.
        overlay.write_at(&file, 1024, &[0xBB; 100]).expect("write");
        assert_eq!(sector(&file, &overlay, 0), [0xAA; 512]);
        let tail = sector(&file, &overlay, 2);
        assert!(tail[..100].iter().all(|&b| b == 0xBB) && tail[100..].iter().all(|&b| b == 0xEE));
    }
}
