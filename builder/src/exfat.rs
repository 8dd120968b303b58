//! exFAT for the builder: formatting a data partition and adding files to
//! any exFAT volume (ours or one mkfs.exfat or Windows made). Files are
//! written contiguous (NoFatChain), so the loader maps each in one piece;
//! folders keep FAT chains so they can grow. Reading uses bootfs's exFAT
//! geometry; the structures written are those bootfs::exfat reads.

use std::io::{self, Read, Seek, SeekFrom, Write};

use bootfs::exfat::{
    checksum32, name_hash, BitmapEntry, BootSector, EntrySet, FileEntry, Geometry, LabelEntry, StreamEntry, UpcaseEntry, UpcaseTable, ATTR_ARCHIVE,
    ATTR_DIRECTORY, END_OF_CHAIN, ENTRY_END, ENTRY_FILE, ENTRY_IN_USE, ENTRY_SIZE as ENTRY, FLAG_ALLOCATION_POSSIBLE, FLAG_NO_FAT_CHAIN,
};

use bootfs::vdisk::Piece;

use crate::partition_file::PartitionFile;
use crate::source::Source;

const SECTOR: u64 = 512;
/// Bytes copied at a time.
const COPY_CHUNK: usize = 8 << 20;

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// The cluster size Windows' format picks for an exFAT volume of `bytes`.
pub fn cluster_bytes_for(bytes: u64) -> u64 {
    match bytes {
        b if b <= 256 << 20 => 4096,
        b if b <= 32 << 30 => 32768,
        _ => 131_072,
    }
}

/// DOS date and time of now (local time is unknown here: UTC).
fn timestamp() -> u32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = (year - 1980).clamp(0, 127) as u32;
    (year << 25)
        | ((month as u32) << 21)
        | ((day as u32) << 16)
        | (((rem / 3600) as u32) << 11)
        | ((((rem / 60) % 60) as u32) << 5)
        | (((rem % 60) / 2) as u32)
}

/// Formats `part` (a partition of `sectors`) as an empty exFAT volume.
pub fn format(part: &mut PartitionFile, sectors: u64, label: &str) -> io::Result<()> {
    let cluster_bytes = cluster_bytes_for(sectors * SECTOR);
    let cs = cluster_bytes / SECTOR;
    let fat_offset: u64 = 2048;
    if sectors < fat_offset + 64 * cs {
        return Err(invalid("the partition is too small for exFAT"));
    }
    let estimate = (sectors - fat_offset) / cs;
    let fat_length = ((estimate + 2) * 4).div_ceil(SECTOR);
    let heap = (fat_offset + fat_length).next_multiple_of(2048.max(cs));
    let clusters = ((sectors - heap) / cs).min(0xFFFF_FFF5);
    let upcase = UpcaseTable::unicode().to_bytes();
    let bitmap_bytes = clusters.div_ceil(8);
    let bitmap_clusters = bitmap_bytes.div_ceil(cluster_bytes);
    let upcase_clusters = (upcase.len() as u64).div_ceil(cluster_bytes);
    let bitmap_first = 2u32;
    let upcase_first = bitmap_first + bitmap_clusters as u32;
    let root = upcase_first + upcase_clusters as u32;

    // The FAT: media entries, then the chains of the bitmap, table and root.
    let mut fat = vec![0u32; clusters as usize + 2];
    fat[0] = 0xFFFF_FFF8;
    fat[1] = END_OF_CHAIN;
    for (first, count) in [(bitmap_first, bitmap_clusters as u32), (upcase_first, upcase_clusters as u32), (root, 1)] {
        for c in first..first + count {
            fat[c as usize] = if c + 1 < first + count { c + 1 } else { END_OF_CHAIN };
        }
    }
    let mut bitmap = vec![0u8; (bitmap_clusters * cluster_bytes) as usize];
    for c in 0..(root + 1 - 2) {
        bitmap[(c / 8) as usize] |= 1 << (c % 8);
    }

    let write_at = |part: &mut PartitionFile, at: u64, bytes: &[u8]| -> io::Result<()> {
        part.seek(SeekFrom::Start(at))?;
        part.write_all(bytes)
    };
    let cluster_at = |c: u32| (heap + (c as u64 - 2) * cs) * SECTOR;
    let fat_bytes: Vec<u8> = fat.iter().flat_map(|e| e.to_le_bytes()).collect();
    let mut fat_region = fat_bytes;
    fat_region.resize((fat_length * SECTOR) as usize, 0);
    write_at(part, fat_offset * SECTOR, &fat_region)?;
    write_at(part, cluster_at(bitmap_first), &bitmap)?;
    let mut table = upcase.clone();
    table.resize((upcase_clusters * cluster_bytes) as usize, 0);
    write_at(part, cluster_at(upcase_first), &table)?;

    // The root: label, bitmap and up-case table entries.
    let mut root_dir = vec![0u8; cluster_bytes as usize];
    let entries = [
        LabelEntry::new(label).to_bytes(),
        BitmapEntry { flags: 0, first_cluster: bitmap_first, data_length: bitmap_bytes }.to_bytes(),
        UpcaseEntry { table_checksum: checksum32(upcase.iter().copied()), first_cluster: upcase_first, data_length: upcase.len() as u64 }.to_bytes(),
    ];
    root_dir[..entries.len() * ENTRY].copy_from_slice(entries.as_flattened());
    write_at(part, cluster_at(root), &root_dir)?;

    // The boot region, and its backup right after it.
    let boot = BootSector {
        partition_offset: 0,
        volume_length: sectors,
        fat_offset: fat_offset as u32,
        fat_length: fat_length as u32,
        cluster_heap_offset: heap as u32,
        cluster_count: clusters as u32,
        root_cluster: root,
        serial: timestamp() ^ 0x5EED_0D15,
        revision: 0x0100,
        volume_flags: 0,
        bytes_per_sector_shift: SECTOR.trailing_zeros() as u8,
        sectors_per_cluster_shift: cs.trailing_zeros() as u8,
        fat_count: 1,
        drive_select: 0x80,
        percent_in_use: 0xFF,
    };
    let region = boot.boot_region();
    write_at(part, 0, &region)?;
    write_at(part, 12 * SECTOR, &region)?;
    part.flush()
}

/// Where a directory's entries are.
#[derive(Clone, Debug)]
struct Dir {
    clusters: Vec<u32>,
    /// The folder's own entry set in its parent (partition byte offsets of
    /// its entries), absent for the root.
    entry_set: Option<Vec<u64>>,
}

/// An exFAT volume opened for adding files.
pub struct ExfatVolume<'a> {
    part: PartitionFile<'a>,
    geo: Geometry,
    cluster_bytes: u64,
    fat: Vec<u32>,
    bitmap: Vec<u8>,
    bitmap_at: Vec<u32>,
    upcase: UpcaseTable,
    label: String,
    /// The volume was just formatted on a sparse image: its free clusters
    /// read as zeros, so runs of zeros need not be written.
    fresh: bool,
}

impl<'a> ExfatVolume<'a> {
    pub fn open(mut part: PartitionFile<'a>, fresh: bool) -> io::Result<Self> {
        let mut region = vec![0u8; 12 * SECTOR as usize];
        part.seek(SeekFrom::Start(0))?;
        part.read_exact(&mut region)?;
        let boot = BootSector::parse(region.first_chunk().ok_or_else(|| invalid("no exFAT boot sector"))?).map_err(|e| invalid(e.to_string()))?;
        if 1 << boot.bytes_per_sector_shift != SECTOR {
            return Err(invalid(format!("exFAT with {}-byte sectors is not supported for writing", 1u32 << boot.bytes_per_sector_shift)));
        }
        let geo = Geometry::parse(&region).map_err(|e| invalid(e.to_string()))?;
        let cluster_bytes = geo.cluster_sectors as u64 * SECTOR;
        let mut fat_bytes = vec![0u8; (geo.cluster_count as usize + 2) * 4];
        part.seek(SeekFrom::Start(geo.fat_start * SECTOR))?;
        part.read_exact(&mut fat_bytes)?;
        let fat = fat_bytes.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let mut v = ExfatVolume {
            part,
            geo,
            cluster_bytes,
            fat,
            bitmap: Vec::new(),
            bitmap_at: Vec::new(),
            upcase: UpcaseTable::default(),
            label: String::new(),
            fresh,
        };
        let root = Dir { clusters: v.chain(v.geo.root_cluster)?, entry_set: None };
        let bytes = v.read_dir(&root)?;
        let mut upcase = None;
        for e in bytes.as_chunks::<ENTRY>().0 {
            if let Ok(bitmap) = BitmapEntry::parse(e) {
                if !bitmap.of_second_fat() && v.bitmap_at.is_empty() {
                    v.bitmap_at = v.chain(bitmap.first_cluster)?;
                    v.bitmap = v.read_clusters(&v.bitmap_at.clone())?;
                    v.bitmap.truncate(bitmap.data_length as usize);
                    let needed = (v.geo.cluster_count as usize).div_ceil(8);
                    if v.bitmap.len() < needed {
                        return Err(invalid(format!("the allocation bitmap is {} bytes; the volume's clusters need {needed}", v.bitmap.len())));
                    }
                }
            } else if let Ok(table) = UpcaseEntry::parse(e) {
                let clusters = v.read_clusters(&v.chain(table.first_cluster)?)?;
                let stored = usize::try_from(table.data_length)
                    .ok()
                    .and_then(|n| clusters.get(..n))
                    .ok_or_else(|| invalid(format!("the up-case table is {} bytes, but its clusters hold {}", table.data_length, clusters.len())))?;
                upcase = Some(UpcaseTable::parse(stored));
            } else if let Ok(label) = LabelEntry::parse(e) {
                v.label = label.label();
            }
        }
        match upcase {
            Some(table) if !v.bitmap_at.is_empty() => v.upcase = table,
            _ => return Err(invalid("exFAT volume without an allocation bitmap or up-case table")),
        }
        Ok(v)
    }

    fn cluster_offset(&self, c: u32) -> u64 {
        (self.geo.heap_start + (c as u64 - 2) * self.geo.cluster_sectors as u64) * SECTOR
    }

    /// The clusters of the FAT chain from `first`.
    fn chain(&self, first: u32) -> io::Result<Vec<u32>> {
        let mut out = vec![first];
        let mut c = first;
        while let Some(&next) = self.fat.get(c as usize) {
            if next >= 0xFFFF_FFF8 {
                return Ok(out);
            }
            if next < 2 || next as usize >= self.fat.len() || out.len() > self.fat.len() {
                return Err(invalid(format!("damaged FAT chain from cluster {first}")));
            }
            out.push(next);
            c = next;
        }
        Err(invalid(format!("cluster {c} outside the volume")))
    }

    /// The `count` clusters from `first` (a NoFatChain file's or folder's),
    /// all of them the volume's.
    fn run(&self, first: u32, count: u64) -> io::Result<Vec<u32>> {
        if first < 2 || first as u64 + count > self.geo.cluster_count as u64 + 2 {
            return Err(invalid(format!("{count} clusters from cluster {first} run outside the volume")));
        }
        Ok((first..first + count as u32).collect())
    }

    fn read_clusters(&mut self, clusters: &[u32]) -> io::Result<Vec<u8>> {
        let mut out = vec![0u8; clusters.len() * self.cluster_bytes as usize];
        for (i, &c) in clusters.iter().enumerate() {
            self.part.seek(SeekFrom::Start(self.cluster_offset(c)))?;
            self.part.read_exact(&mut out[i * self.cluster_bytes as usize..(i + 1) * self.cluster_bytes as usize])?;
        }
        Ok(out)
    }

    fn read_dir(&mut self, dir: &Dir) -> io::Result<Vec<u8>> {
        self.read_clusters(&dir.clusters.clone())
    }

    /// Partition byte offset of entry `index` of `dir`.
    fn entry_offset(&self, dir: &Dir, index: usize) -> u64 {
        let at = index as u64 * ENTRY as u64;
        self.cluster_offset(dir.clusters[(at / self.cluster_bytes) as usize]) + at % self.cluster_bytes
    }

    fn allocated(&self, c: u32) -> bool {
        let i = (c - 2) as usize;
        self.bitmap[i / 8] & (1 << (i % 8)) != 0
    }

    fn set_allocated(&mut self, first: u32, count: u64) {
        for c in first as u64..first as u64 + count {
            let i = (c - 2) as usize;
            self.bitmap[i / 8] |= 1 << (i % 8);
        }
    }

    /// The first run of `count` free clusters.
    fn find_free(&self, count: u64) -> Option<u32> {
        let (mut start, mut run) = (2u32, 0u64);
        for c in 2..self.geo.cluster_count + 2 {
            if self.allocated(c) {
                run = 0;
                start = c + 1;
            } else {
                run += 1;
                if run == count {
                    return Some(start);
                }
            }
        }
        None
    }

    /// UTF-16 units upper-cased, for comparisons and the name hash.
    fn upcased(&self, units: impl IntoIterator<Item = u16>) -> Vec<u16> {
        units.into_iter().map(|u| self.upcase.upcase(u)).collect()
    }

    /// Finds `name` in `dir`: its entry set and the offsets of its entries.
    fn find(&mut self, dir: &Dir, name: &str) -> io::Result<Option<(EntrySet, Vec<u64>)>> {
        let bytes = self.read_dir(dir)?;
        let want = self.upcased(name.encode_utf16());
        let (entries, _) = bytes.as_chunks::<ENTRY>();
        let mut i = 0;
        while let Some(e) = entries.get(i) {
            match e[0] {
                ENTRY_END => break,
                ENTRY_FILE => {}
                _ => {
                    i += 1;
                    continue;
                }
            }
            let set = EntrySet::parse(&entries[i..])
                .map_err(|e| invalid(format!("the exFAT folder at cluster {}: entry {i}: {e}", dir.clusters.first().copied().unwrap_or(0))))?;
            if self.upcased(set.name_units()) == want {
                let offsets = (i..i + set.entries()).map(|k| self.entry_offset(dir, k)).collect();
                return Ok(Some((set, offsets)));
            }
            i += set.entries();
        }
        Ok(None)
    }

    /// The entry set of a new file or folder.
    fn entry_set(&self, name: &str, attributes: u16, first: u32, size: u64, no_fat_chain: bool) -> io::Result<EntrySet> {
        let units: Vec<u16> = name.encode_utf16().collect();
        let now = timestamp();
        let file = FileEntry { attributes, created: now, modified: now, accessed: now, ..FileEntry::default() };
        let stream = StreamEntry {
            flags: if size > 0 || attributes & ATTR_DIRECTORY != 0 { FLAG_ALLOCATION_POSSIBLE } else { 0 }
                | if no_fat_chain { FLAG_NO_FAT_CHAIN } else { 0 },
            name_length: 0,
            name_hash: name_hash(&self.upcased(units.iter().copied())),
            valid_data_length: size,
            first_cluster: first,
            data_length: size,
        };
        EntrySet::new(file, stream, &units).map_err(|_| invalid(format!("{name:?}: exFAT names are 1 to 255 UTF-16 units")))
    }

    fn write_at(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        self.part.seek(SeekFrom::Start(at))?;
        self.part.write_all(bytes)
    }

    /// Puts an entry set into `dir`, growing the folder when it is full.
    fn insert(&mut self, dir: &mut Dir, set: &EntrySet) -> io::Result<()> {
        let (set, need) = (set.to_bytes(), set.entries());
        loop {
            let bytes = self.read_dir(dir)?;
            // Unused (00h, which ends the folder) and deleted entries are
            // free. Everything from the end on is free, so the first run
            // long enough never starts past the end.
            let free: Vec<bool> = bytes.chunks_exact(ENTRY).map(|e| e[0] & ENTRY_IN_USE == 0).collect();
            let free_run = (0..free.len()).find(|&i| i + need <= free.len() && free[i..i + need].iter().all(|&f| f));
            if let Some(i) = free_run {
                let offsets: Vec<u64> = (0..need).map(|k| self.entry_offset(dir, i + k)).collect();
                return self.write_entries(&offsets, &set);
            }
            self.grow(dir)?;
        }
    }

    /// The entry set whose entries lie at `offsets`, as one run of bytes.
    fn read_entries(&mut self, offsets: &[u64]) -> io::Result<Vec<u8>> {
        let mut set = vec![0u8; offsets.len() * ENTRY];
        for (e, &at) in set.chunks_exact_mut(ENTRY).zip(offsets) {
            self.part.seek(SeekFrom::Start(at))?;
            self.part.read_exact(e)?;
        }
        Ok(set)
    }

    /// Writes an entry set's entries at `offsets`: the entries that lie one
    /// after the other on the disk in one write each (a set inside one
    /// cluster, the usual case, in a single write, so no moment shows
    /// half a set).
    fn write_entries(&mut self, offsets: &[u64], set: &[u8]) -> io::Result<()> {
        let mut k = 0;
        while k < offsets.len() {
            let mut end = k + 1;
            while end < offsets.len() && offsets[end] == offsets[end - 1] + ENTRY as u64 {
                end += 1;
            }
            self.write_at(offsets[k], &set[k * ENTRY..end * ENTRY])?;
            k = end;
        }
        Ok(())
    }

    /// Adds a zeroed cluster to a folder's chain and its recorded size.
    fn grow(&mut self, dir: &mut Dir) -> io::Result<()> {
        let c = self.find_free(1).ok_or_else(|| invalid("the volume is full"))?;
        self.set_allocated(c, 1);
        let last = *dir.clusters.last().ok_or_else(|| invalid("a folder without clusters"))?;
        self.fat[last as usize] = c;
        self.fat[c as usize] = END_OF_CHAIN;
        let zero = vec![0u8; self.cluster_bytes as usize];
        self.write_at(self.cluster_offset(c), &zero)?;
        dir.clusters.push(c);
        // The cluster is in the folder's chain on the disk before the
        // folder's entry says it is that long.
        self.flush()?;
        if let Some(offsets) = &dir.entry_set {
            let offsets = offsets.clone();
            let bytes = self.read_entries(&offsets)?;
            let mut set = EntrySet::parse(bytes.as_chunks().0).map_err(|e| invalid(format!("a folder's entry set: {e}")))?;
            let size = dir.clusters.len() as u64 * self.cluster_bytes;
            set.stream.flags &= !FLAG_NO_FAT_CHAIN; // the folder now has a chain
            set.stream.valid_data_length = size;
            set.stream.data_length = size;
            self.write_entries(&offsets, &set.to_bytes())?;
        }
        Ok(())
    }

    /// The folder at `path` (`/a/b`), made where missing.
    fn folder(&mut self, path: &str) -> io::Result<Dir> {
        self.folder_at(path, true)
    }

    /// The folder at `path`; with `make`, folders that are missing are made.
    fn folder_at(&mut self, path: &str, make: bool) -> io::Result<Dir> {
        let mut dir = Dir { clusters: self.chain(self.geo.root_cluster)?, entry_set: None };
        for name in path.split('/').filter(|p| !p.is_empty()) {
            dir = match self.find(&dir, name)? {
                Some((set, offsets)) if set.file.is_dir() => {
                    let (first, size, contiguous) = (set.stream.first_cluster, set.stream.data_length, set.stream.no_fat_chain());
                    let clusters = if contiguous {
                        let run = self.run(first, size.div_ceil(self.cluster_bytes).max(1))?;
                        // Give it a chain now, so it can grow like any other folder.
                        for pair in run.windows(2) {
                            self.fat[pair[0] as usize] = pair[1];
                        }
                        if let Some(&last) = run.last() {
                            self.fat[last as usize] = END_OF_CHAIN;
                        }
                        run
                    } else {
                        self.chain(first)?
                    };
                    Dir { clusters, entry_set: Some(offsets) }
                }
                Some(_) => return Err(invalid(format!("{name} is a file, not a folder"))),
                None if !make => return Err(io::Error::new(io::ErrorKind::NotFound, format!("no folder {name} on the stick"))),
                None => {
                    let c = self.find_free(1).ok_or_else(|| invalid("the volume is full"))?;
                    self.set_allocated(c, 1);
                    self.fat[c as usize] = END_OF_CHAIN;
                    let zero = vec![0u8; self.cluster_bytes as usize];
                    self.write_at(self.cluster_offset(c), &zero)?;
                    // The cluster is the volume's before an entry names it.
                    self.flush()?;
                    let set = self.entry_set(name, ATTR_DIRECTORY, c, self.cluster_bytes, false)?;
                    self.insert(&mut dir, &set)?;
                    let found = self.find(&dir, name)?.ok_or_else(|| invalid("a folder vanished after it was made"))?;
                    Dir { clusters: vec![c], entry_set: Some(found.1) }
                }
            };
        }
        Ok(dir)
    }

    /// Copies `size` bytes from `source` into folder `to` as `name`, in one
    /// contiguous run of clusters. `progress` is told the bytes copied.
    ///
    /// Every check comes before the first write. New folders are written
    /// and the bitmap flushed before the data; the data goes to clusters
    /// the bitmap on disk still calls free; the file's entry and the bitmap
    /// come last. A copy cut off leaves the volume as it was, plus any new
    /// (empty) folders.
    pub fn add(&mut self, to: &str, name: &str, source: &mut Source, progress: &mut dyn FnMut(u64)) -> io::Result<()> {
        match self.folder_at(to, false) {
            Ok(dir) if self.find(&dir, name)?.is_some() => {
                return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{to}/{name} is already on the stick")));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let size = source.len();
        let clusters = size.div_ceil(self.cluster_bytes);
        let no_room = || {
            let mib = size.div_ceil(1 << 20);
            invalid(format!("no contiguous free space for {mib} MiB on the stick{}; nothing was written", source.fixed_note()))
        };
        let first = if clusters == 0 { 0 } else { self.find_free(clusters).ok_or_else(no_room)? };
        // The data first, into clusters the bitmap still calls free: a cut
        // while it is copied leaves the volume as it was but for them.
        let mut at = if clusters == 0 { 0 } else { self.cluster_offset(first) };
        let mut from = 0;
        let mut buf = vec![0u8; COPY_CHUNK];
        while from < size {
            let piece = source.piece(from, (size - from).min(COPY_CHUNK as u64))?;
            let n = piece.bytes();
            match piece {
                // Zeros (a hole in a sparse source, blocks a dynamic image
                // never wrote) over a never-written target: skipped.
                Piece::Zeros { .. } if self.fresh => {}
                Piece::File { at: offset, .. } if self.part.copy_from(source.file(), offset, n, at)? => {}
                _ => {
                    let buf = &mut buf[..n as usize];
                    source.read_at(from, buf)?;
                    // On a fresh sparse image free clusters read as zeros already.
                    if !(self.fresh && buf.iter().all(|&b| b == 0)) {
                        self.write_at(at, buf)?;
                    }
                }
            }
            at += n;
            from += n;
            progress(from);
        }
        // Then new folders, kept out of the data's run. The clusters are the
        // volume's before an entry names them: a cut in between leaves them
        // allocated to nothing, which fsck accepts.
        self.set_allocated(first, clusters);
        let mut dir = self.folder(to)?;
        self.flush()?;
        let set = self.entry_set(name, ATTR_ARCHIVE, first, size, clusters > 0)?;
        self.insert(&mut dir, &set)?;
        self.flush()
    }

    /// Rewrites the file at `path` in one run of clusters, keeping its name
    /// and content. The copy is written and the bitmap flushed before the
    /// file's entry moves to it; the old clusters are freed last. Returns
    /// false when the file already was in one piece.
    pub fn defrag(&mut self, path: &str) -> io::Result<bool> {
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = self.folder_at(folder, false)?;
        let Some((mut set, offsets)) = self.find(&dir, name)?.filter(|(set, _)| !set.file.is_dir()) else {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no file {path} on the stick")));
        };
        let (first, size, contiguous) = (set.stream.first_cluster, set.stream.data_length, set.stream.no_fat_chain());
        let old = if contiguous || size == 0 { return Ok(false) } else { self.chain(first)? };
        let needed = size.div_ceil(self.cluster_bytes);
        if old.len() as u64 != needed {
            return Err(invalid(format!("{path}: its FAT chain has {} clusters for {size} bytes", old.len())));
        }
        if old.windows(2).all(|w| w[1] == w[0] + 1) {
            return Ok(false);
        }
        let new = self.find_free(needed).ok_or_else(|| {
            invalid(format!("no contiguous free space for {} MiB: free space on the stick is in pieces too", size.div_ceil(1 << 20)))
        })?;
        self.set_allocated(new, needed);
        let mut buf = vec![0u8; self.cluster_bytes as usize];
        for (i, &c) in old.iter().enumerate() {
            self.part.seek(SeekFrom::Start(self.cluster_offset(c)))?;
            self.part.read_exact(&mut buf)?;
            self.write_at(self.cluster_offset(new + i as u32), &buf)?;
        }
        self.flush()?;
        set.stream.flags |= FLAG_NO_FAT_CHAIN;
        set.stream.first_cluster = new;
        self.write_entries(&offsets, &set.to_bytes())?;
        for &c in &old {
            let i = (c - 2) as usize;
            self.bitmap[i / 8] &= !(1 << (i % 8));
            self.fat[c as usize] = 0;
        }
        self.flush()?;
        Ok(true)
    }

    /// Removes the file at `path`: its entry set is marked unused and its
    /// clusters freed.
    pub fn remove(&mut self, path: &str) -> io::Result<()> {
        let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = self.folder_at(folder, false)?;
        let Some((set, offsets)) = self.find(&dir, name)? else {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no file {path} on the stick")));
        };
        let (first, size, contiguous) = (set.stream.first_cluster, set.stream.data_length, set.stream.no_fat_chain());
        if set.file.is_dir() {
            return Err(invalid(format!("{path} is a folder; dropboot rm removes files")));
        }
        let clusters: Vec<u32> = match (size, contiguous) {
            (0, _) => Vec::new(),
            (_, true) => self.run(first, size.div_ceil(self.cluster_bytes))?,
            (_, false) => self.chain(first)?,
        };
        // The whole set marked unused at once (one write when it lies in one
        // run), then its clusters freed: a cut in between leaves clusters
        // allocated to nothing, which fsck accepts.
        let mut set = self.read_entries(&offsets)?;
        for e in set.chunks_exact_mut(ENTRY) {
            e[0] &= !ENTRY_IN_USE;
        }
        self.write_entries(&offsets, &set)?;
        for c in clusters {
            let i = (c - 2) as usize;
            self.bitmap[i / 8] &= !(1 << (i % 8));
            self.fat[c as usize] = 0;
        }
        self.flush()
    }

    /// The free clusters, in order.
    pub fn free_clusters(&self) -> Vec<u32> {
        (2..self.geo.cluster_count + 2).filter(|&c| !self.allocated(c)).collect()
    }

    /// Where cluster 2 starts (sectors from the volume's start), sectors
    /// per cluster, and how many clusters there are.
    pub fn heap(&self) -> (u64, u64, u32) {
        (self.geo.heap_start, self.geo.cluster_sectors as u64, self.geo.cluster_count)
    }

    /// Bytes in free clusters.
    pub fn free_bytes(&self) -> u64 {
        (2..self.geo.cluster_count + 2).filter(|&c| !self.allocated(c)).count() as u64 * self.cluster_bytes
    }

    /// The volume label.
    pub fn label(&self) -> String {
        self.label.clone()
    }

    /// Writes the FAT and the allocation bitmap back.
    pub fn flush(&mut self) -> io::Result<()> {
        // The bitmap first: a chain the FAT links is never to a cluster the
        // bitmap still calls free. Then to the disk itself, so the order
        // holds across a pulled plug too.
        let mut bitmap = self.bitmap.clone();
        bitmap.resize(self.bitmap_at.len() * self.cluster_bytes as usize, 0);
        for (i, &c) in self.bitmap_at.clone().iter().enumerate() {
            let chunk = bitmap[i * self.cluster_bytes as usize..(i + 1) * self.cluster_bytes as usize].to_vec();
            self.write_at(self.cluster_offset(c), &chunk)?;
        }
        let fat: Vec<u8> = self.fat.iter().flat_map(|e| e.to_le_bytes()).collect();
        let fat_at = self.geo.fat_start * SECTOR;
        self.write_at(fat_at, &fat)?;
        self.part.sync_data()
    }
}
