//! The stick's added-files area (bootfs::added_files decides what it
//! holds; here is the I/O): written just before a boot that adds files to
//! an ISO, each sector read back, only over sectors that are zero or that
//! were zero; zeroed at the next start of stage2. The header is written
//! first and zeroed last, so a cut leaves it to finish by.

use alloc::format;
use alloc::string::String;

use bootfs::added_files::{Header, AREA_LBA};
use bootfs::BlockDevice;

use crate::disk::BiosDisk;

const SECTOR: usize = 512;
const ZERO: [u8; SECTOR] = [0; SECTOR];

/// Zeroes what the last boot wrote to the area, if its header says it
/// holds something. Logs what it did.
pub fn undo_last(disk: &mut BiosDisk) {
    let mut first = [0u8; SECTOR];
    if let Err(e) = disk.read_sectors(AREA_LBA, &mut first) {
        crate::log!("added-files area: cannot read it: {e}");
        return;
    }
    let Some(header) = Header::parse(&first) else { return };
    for s in (1..header.sectors as u64).chain([0]) {
        if let Err(e) = disk.write_sector(AREA_LBA + s, &ZERO) {
            crate::log!("added-files area: cannot zero sector {}: {e}", AREA_LBA + s);
            return;
        }
    }
    crate::log!("added-files area: the {} sectors written for {} at the last boot zeroed", header.sectors, header.path);
}

/// Writes `area` (whole sectors, its header first) from the area's start,
/// after checking that each sector it takes is zero: stage2 overwrites
/// nothing it did not write. The header goes first, so that the next
/// start zeroes whatever part of the body a failure left.
pub fn write(disk: &mut BiosDisk, area: &[u8]) -> Result<(), String> {
    let sectors = area.len() / SECTOR;
    let mut old = alloc::vec![0u8; area.len()];
    disk.read_sectors(AREA_LBA, &mut old).map_err(|e| format!("the stick's added-files area cannot be read: {e}"))?;
    if let Some(s) = old.chunks(SECTOR).position(|c| c != ZERO) {
        return Err(format!(
            "sector {} of the stick holds data dropboot did not write there (another tool's?), and the added-files area from sector {AREA_LBA} on must be free",
            AREA_LBA + s as u64
        ));
    }
    for s in 0..sectors {
        let mut sector = [0u8; SECTOR];
        sector.copy_from_slice(&area[s * SECTOR..][..SECTOR]);
        disk.write_sector(AREA_LBA + s as u64, &sector).map_err(|e| format!("the stick's added-files area cannot be written: {e}"))?;
    }
    Ok(())
}
