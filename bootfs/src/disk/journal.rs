//! The builder's journal, as it lies on the disk: how a change to a FAT32
//! volume (an add, rm or defrag) is made in one step that a kill cannot
//! cut in half. FAT32 has no step of its own that does that: every change
//! touches two FAT copies and a folder, three writes apart, and fsck
//! rejects every state between them.
//!
//! The builder writes the sectors a change leaves behind, each with a hash
//! of the sector it replaces ([`Body`]), into clusters that are free
//! before and after the change; then a [`Record`] at
//! [`BUILDER_JOURNAL_LBA`] that says where they are; only then the sectors
//! themselves; last, it clears the record. Whoever opens the stick next
//! and finds a record finishes the change. This module encodes and checks;
//! the builder does the I/O.

use alloc::string::String;
use alloc::vec::Vec;

use crate::layout::BUILDER_JOURNAL_LBA;
use crate::sha256;

/// Where the record lives (disk LBA).
pub const RECORD_LBA: u64 = BUILDER_JOURNAL_LBA as u64;
const RECORD_MAGIC: [u8; 8] = *b"DRPBJRNL";
const BODY_MAGIC: [u8; 8] = *b"DRPBJBDY";
const FORMAT: u32 = 1;
/// Disk runs a body may lie in.
pub const MAX_RUNS: usize = 30;
/// Bytes of the change's name the record keeps ("add /x.iso").
const WHAT_BYTES: usize = 64;
const RUNS_AT: usize = 120;
const DIGEST_AT: usize = 480;
/// One changed sector in the body: LBA, hash of the old sector, new sector.
pub const CHANGE_BYTES: usize = 8 + 8 + 512;
const BODY_HEADER: usize = 16;

/// Sectors of the disk in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub lba: u64,
    pub sectors: u32,
}

/// The record: a body of `body_bytes` with this digest lies in `runs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub what: String,
    pub body_bytes: u64,
    pub body_digest: [u8; 32],
    pub runs: Vec<Run>,
}

impl Record {
    /// The record in `sector`, if it holds a whole and consistent one.
    pub fn parse(sector: &[u8; 512]) -> Option<Record> {
        if sector[..8] != RECORD_MAGIC || u32_at(sector, 8) != FORMAT {
            return None;
        }
        if sha256::digest(&sector[..DIGEST_AT])[..] != sector[DIGEST_AT..] {
            return None;
        }
        let count = u32_at(sector, 12) as usize;
        if count == 0 || count > MAX_RUNS {
            return None;
        }
        let runs: Vec<Run> = (0..count)
            .map(|i| {
                let at = RUNS_AT + i * 12;
                Run { lba: u64_at(sector, at), sectors: u32_at(sector, at + 8) }
            })
            .collect();
        let body_bytes = u64_at(sector, 16);
        let room: u64 = runs.iter().map(|r| r.sectors as u64 * 512).sum();
        if body_bytes < BODY_HEADER as u64 || body_bytes > room {
            return None;
        }
        let mut body_digest = [0u8; 32];
        body_digest.copy_from_slice(&sector[24..56]);
        let what = &sector[56..56 + WHAT_BYTES];
        let what = String::from_utf8_lossy(&what[..what.iter().position(|&b| b == 0).unwrap_or(WHAT_BYTES)]).into_owned();
        Some(Record { what, body_bytes, body_digest, runs })
    }

    /// The record as its sector; `None` with more than [`MAX_RUNS`] runs.
    pub fn to_sector(&self) -> Option<[u8; 512]> {
        if self.runs.is_empty() || self.runs.len() > MAX_RUNS {
            return None;
        }
        let mut s = [0u8; 512];
        s[..8].copy_from_slice(&RECORD_MAGIC);
        s[8..12].copy_from_slice(&FORMAT.to_le_bytes());
        s[12..16].copy_from_slice(&(self.runs.len() as u32).to_le_bytes());
        s[16..24].copy_from_slice(&self.body_bytes.to_le_bytes());
        s[24..56].copy_from_slice(&self.body_digest);
        // Cut at a character boundary.
        let mut n = self.what.len().min(WHAT_BYTES);
        while !self.what.is_char_boundary(n) {
            n -= 1;
        }
        s[56..56 + n].copy_from_slice(&self.what.as_bytes()[..n]);
        for (i, r) in self.runs.iter().enumerate() {
            let at = RUNS_AT + i * 12;
            s[at..at + 8].copy_from_slice(&r.lba.to_le_bytes());
            s[at + 8..at + 12].copy_from_slice(&r.sectors.to_le_bytes());
        }
        let digest = sha256::digest(&s[..DIGEST_AT]);
        s[DIGEST_AT..].copy_from_slice(&digest);
        Some(s)
    }
}

/// One sector a change leaves behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub lba: u64,
    /// The first 8 bytes of the SHA-256 of the sector it replaces.
    pub before: [u8; 8],
    pub after: [u8; 512],
}

/// What a sector on the disk says of its change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectorState {
    /// Not written yet.
    Before,
    /// Written.
    After,
    /// Neither: someone else wrote it since.
    Changed,
}

impl Change {
    pub fn new(lba: u64, before: &[u8; 512], after: [u8; 512]) -> Change {
        Change { lba, before: short_hash(before), after }
    }

    pub fn state(&self, on_disk: &[u8; 512]) -> SectorState {
        if on_disk == &self.after {
            SectorState::After
        } else if short_hash(on_disk) == self.before {
            SectorState::Before
        } else {
            SectorState::Changed
        }
    }
}

fn short_hash(sector: &[u8; 512]) -> [u8; 8] {
    let mut h = [0u8; 8];
    h.copy_from_slice(&sha256::digest(sector)[..8]);
    h
}

/// The sectors of one change, in LBA order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    pub changes: Vec<Change>,
}

impl Body {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(BODY_HEADER + self.changes.len() * CHANGE_BYTES);
        b.extend_from_slice(&BODY_MAGIC);
        b.extend_from_slice(&(self.changes.len() as u32).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        for c in &self.changes {
            b.extend_from_slice(&c.lba.to_le_bytes());
            b.extend_from_slice(&c.before);
            b.extend_from_slice(&c.after);
        }
        b
    }

    /// The body in `bytes` (read from the runs a [`Record`] names, and
    /// checked against its digest by [`Body::check`]).
    pub fn parse(bytes: &[u8]) -> Option<Body> {
        if bytes.len() < BODY_HEADER || bytes[..8] != BODY_MAGIC {
            return None;
        }
        let count = u32_at(bytes, 8) as usize;
        let entries = bytes.get(BODY_HEADER..BODY_HEADER.checked_add(count.checked_mul(CHANGE_BYTES)?)?)?;
        let changes: Vec<Change> = entries
            .chunks_exact(CHANGE_BYTES)
            .map(|e| {
                let (mut before, mut after) = ([0u8; 8], [0u8; 512]);
                before.copy_from_slice(&e[8..16]);
                after.copy_from_slice(&e[16..]);
                Change { lba: u64_at(e, 0), before, after }
            })
            .collect();
        // In order, each sector once.
        changes.windows(2).all(|w| w[0].lba < w[1].lba).then_some(Body { changes })
    }

    /// The body `record` names, from the bytes read from its runs.
    pub fn check(record: &Record, bytes: &[u8]) -> Option<Body> {
        let bytes = bytes.get(..usize::try_from(record.body_bytes).ok()?)?;
        (sha256::digest(bytes) == record.body_digest).then(|| Body::parse(bytes)).flatten()
    }

    /// Runs of consecutive LBAs, as index ranges into `changes`: what one
    /// write each applies.
    pub fn runs(&self) -> Vec<core::ops::Range<usize>> {
        let mut out: Vec<core::ops::Range<usize>> = Vec::new();
        for (i, c) in self.changes.iter().enumerate() {
            match out.last_mut() {
                Some(r) if self.changes[r.end - 1].lba + 1 == c.lba => r.end = i + 1,
                _ => out.push(i..i + 1),
            }
        }
        out
    }
}

/// The record for a body of `bytes` laid in `runs`.
pub fn record_for(what: &str, bytes: &[u8], runs: Vec<Run>) -> Record {
    Record { what: what.into(), body_bytes: bytes.len() as u64, body_digest: sha256::digest(bytes), runs }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn body() -> Body {
        let old = [0u8; 512];
        Body { changes: vec![Change::new(2048, &old, [1; 512]), Change::new(2049, &old, [2; 512]), Change::new(4000, &old, [3; 512])] }
    }

    #[test]
    fn a_record_and_its_body_read_back_as_written() {
        let bytes = body().to_bytes();
        let record = record_for("add /x.iso", &bytes, vec![Run { lba: 9000, sectors: 4 }]);
        let sector = record.to_sector().expect("one run");
        let again = Record::parse(&sector).expect("parses");
        assert_eq!(again, record);
        assert_eq!(Body::check(&again, &bytes), Some(body()));
        assert_eq!(body().runs(), [0..2, 2..3]);
    }

    #[test]
    fn a_damaged_record_or_body_is_not_trusted() {
        let bytes = body().to_bytes();
        let record = record_for("rm /y.iso", &bytes, vec![Run { lba: 9000, sectors: 4 }]);
        let mut sector = record.to_sector().expect("one run");
        sector[20] ^= 1;
        assert_eq!(Record::parse(&sector), None, "the record's digest");
        let mut other = bytes.clone();
        other[100] ^= 1;
        assert_eq!(Body::check(&record, &other), None, "the body's digest");
        let short = record_for("x", &bytes, vec![Run { lba: 9000, sectors: 1 }]);
        assert_eq!(Record::parse(&short.to_sector().expect("one run")), None, "a body longer than its runs");
    }

    #[test]
    fn a_sector_is_before_after_or_changed_by_someone_else() {
        let c = Change::new(5, &[7; 512], [8; 512]);
        assert_eq!(c.state(&[7; 512]), SectorState::Before);
        assert_eq!(c.state(&[8; 512]), SectorState::After);
        assert_eq!(c.state(&[9; 512]), SectorState::Changed);
    }
}
