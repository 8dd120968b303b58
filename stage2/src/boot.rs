//! Booting a chosen file: an ISO's El Torito BIOS entry (a CD E0h, or an
//! emulated floppy 00h or hard disk 80h) or a `.img` disk image (a floppy
//! or a hard disk), presented by the resident hook; its boot image loaded
//! and jumped to. Nothing is hooked until every check has passed; every
//! failure comes back as a [`BootError`] for the menu to show.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;

use bootfs::bootplan::{self, DriveClass, Machine, PlanError, Refusal, MIN_BASE_MEMORY_KIB};
use bootfs::file::ByteSource;
use bootfs::filesystem::FsError;
use bootfs::iso_partition::NoEntry;
use bootfs::layout::BDA_HARD_DISKS;
use bootfs::scan::BootFile;
use bootfs::{BlockDevice, IoError};

use crate::hook::{self, HookPlan};
use crate::launch::launch;
use crate::volume::Volume;

/// How long a warning before a boot stays on the screen (18.2 ticks a
/// second), unless a key is pressed.
const WARNING_TICKS: u32 = 55;

pub enum BootError {
    /// The filesystem's record of where the file lies does not hold it.
    Chain(FsError),
    Read(IoError),
    /// What the file is, or is not, as a boot file.
    Plan(PlanError),
    /// A limit of the loader's or of this PC's (bootfs::bootplan::judge,
    /// whose sentence `dropboot check` prints too).
    Refused(Refusal),
    /// "Boot the next disk" found no hard disk besides the stick.
    NoOtherDisk,
    /// The next disk's first sector does not end in 55h AAh.
    NotBootableDisk {
        drive: u8,
    },
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::Chain(e) if e.is_damage() => write!(f, "the file is damaged on the stick: {e}"),
            BootError::Chain(e) => write!(f, "{e}"),
            BootError::Read(e) => write!(f, "{e}"),
            BootError::Plan(e) => write!(f, "{e}"),
            BootError::Refused(r) => write!(f, "{r}"),
            BootError::NoOtherDisk => write!(f, "this PC has no hard disk besides the stick"),
            BootError::NotBootableDisk { drive } => {
                write!(f, "disk {drive:02X}h has no boot sector (its first sector does not end in 55h AAh)")
            }
        }
    }
}

impl From<IoError> for BootError {
    fn from(e: IoError) -> Self {
        BootError::Read(e)
    }
}

/// The KiB a hook with `extents` runs needs and the KiB of conventional
/// memory there are, if the hook still leaves [`MIN_BASE_MEMORY_KIB`].
fn low_memory_for(extents: usize) -> Result<(u16, u16), BootError> {
    let have_kib = hook::base_memory_kib();
    let need_kib = bootplan::hook_kib(extents, have_kib);
    if have_kib < MIN_BASE_MEMORY_KIB + need_kib {
        return Err(BootError::Refused(Refusal::NoLowMemory { need_kib, have_kib }));
    }
    Ok((need_kib, have_kib))
}

/// What the person chose to add to an ISO's boot (the menu asks, from the
/// configuration's `persistence` and `auto_install`).
#[derive(Default)]
pub struct Extras {
    /// The persistence backend, by its path on the stick.
    pub backend: Option<String>,
    /// An unattended-install template's path and bytes.
    pub template: Option<(String, alloc::vec::Vec<u8>)>,
    /// What could not be attached, in sentences the boot shows.
    pub warnings: alloc::vec::Vec<String>,
}

/// An ISO's boot with files added: the hook's table and capacity, the
/// backend's entry, and the area to write.
struct WithAdditions {
    extents: alloc::vec::Vec<bootfs::layout::HookExtent>,
    sectors: u64,
    backend: Option<bootfs::iso_partition::Placement>,
    area: alloc::vec::Vec<u8>,
}

/// A persistence backend as the boot needs it: its runs, its length and
/// its ext filesystem's label (None: no ext filesystem).
type BackendFile = (bootfs::extent::ExtentMap, u64, Option<String>);

/// The backend at `path` on the stick.
fn backend_file(volume: &mut Volume, path: &str) -> Result<BackendFile, String> {
    let found = volume.find_file(path).map_err(|e| e.to_string())?;
    let found = found.ok_or_else(|| bootfs::additions::NoBackend::Missing { path: path.into() }.to_string())?;
    let mut backend = volume.open_file(&found).map_err(|e| e.to_string())?;
    let label = bootfs::additions::ext_label(&mut backend);
    Ok((backend.map.clone(), backend.size, label))
}

/// Decides what `extras` add to the ISO `file` (read through `source`,
/// whose verdict is `verdict`; its backend, if any, `backend`), and the
/// backend's entry in `sector0` as it will be with the ISO's entries.
/// Logs what it found; `Err`: the sentence that says why nothing is added.
fn add_files(
    file: &BootFile,
    source: &mut crate::volume::VolumeFile<'_>,
    verdict: &bootplan::Verdict,
    extras: &Extras,
    backend: Option<Result<BackendFile, String>>,
    sector0: &[u8; 512],
    partition_start: u64,
) -> Result<WithAdditions, String> {
    use bootfs::added_files::{self, AREA_LBA, AREA_SECTORS};
    use bootfs::additions::{backend_for, NoBackend, Request};
    let found = added_files::find(source).map_err(|e| e.to_string())?;
    let mut request = Request { persistence: None, template: extras.template.as_ref().map(|(_, t)| t.as_slice()) };
    let backend = backend.transpose()?;
    if let Some((_, _, label)) = &backend {
        request.persistence = Some(backend_for(&found.families, label.as_deref()).map_err(|e| e.to_string())?);
    }
    let room = AREA_SECTORS.min(partition_start.saturating_sub(AREA_LBA));
    let added = added_files::for_request(source, &verdict.extents, &file.path, &found, &request, room).map_err(|e| e.to_string())?;
    let grown: alloc::vec::Vec<String> = added.files.initrds.iter().map(|i| i.0.clone()).collect();
    crate::log!("  adds {} to {}", bootfs::text::list_in_words(&added.members), bootfs::text::list_in_words(&grown));
    for (path, before, after) in &added.files.initrds {
        crate::log!("  {path}: {before} -> {after} bytes");
    }
    if added.files.joliet_disabled {
        crate::log!("  Joliet's tree lacks an initrd: its descriptor is disabled");
    }
    let placed = match (&extras.backend, backend) {
        (Some(path), Some((map, size, _))) => {
            let with_iso = bootfs::iso_partition::Record::new(&verdict.partitions.placements, sector0, &file.path).apply(sector0);
            let placed = bootfs::iso_partition::place(bootplan::Presentation::Cd, &map, size, partition_start, &with_iso)
                .map_err(|why| NoBackend::from_no_entry(why, path).to_string())?;
            crate::log!("  backend {path}: partition {}, sectors {}+{}", placed.slot + 1, placed.entry.start_lba, placed.entry.sectors);
            Some(placed)
        }
        _ => None,
    };
    let extents = added.files.extents;
    low_memory_for(extents.len()).map_err(|e| e.to_string())?;
    Ok(WithAdditions { extents, sectors: added.files.sectors, backend: placed, area: added.files.area })
}

/// Boots `file`, with the partition entries its system needs written
/// into the stick's table first when `stick_partitions` (the
/// configuration's switch), and the files `extras` asks added to an
/// ISO; returns only when it cannot.
pub fn boot(volume: &mut Volume, file: &BootFile, stick_partitions: bool, extras: &Extras, say: &mut dyn FnMut(&str)) -> Result<(), BootError> {
    crate::log!("boot {}", file.path);
    let (start, disk, chs_only) = (volume.partition_start(), volume.drive(), volume.chs_geometry());
    let max_read = volume.disk().max_read();
    if volume.disk().extensions {
        crate::log!("disk {disk:02X}h: reads of {max_read} sectors a call ({})", volume.disk().large_read());
    }
    // The stick's table as the entries will go into it (the last boot's
    // are out since this stage2 started).
    let sector0 = crate::iso_partition::table(volume.disk())?;
    let backend = extras.backend.as_ref().map(|path| backend_file(volume, path));
    let mut source = volume.open_file(file).map_err(|e| match e {
        FsError::Io(io) => BootError::Read(io),
        e => BootError::Chain(e),
    })?;
    // The one verdict (bootfs::bootplan::judge), which `dropboot check`
    // prints: the plan, this PC's limits, the hook's table.
    let have_kib = hook::base_memory_kib();
    let machine = Machine { base_kib: have_kib, chs_reach: chs_only.map(|g| g.reach()) };
    let table = stick_partitions.then_some(&sector0);
    let verdict = bootplan::judge(file.name(), &file.path, &mut source, start, &machine, table).map_err(BootError::Plan)?;
    let plan = &verdict.plan;
    if let Some((iso, catalog)) = &plan.catalog {
        crate::log!("  ISO9660 \"{}\", {} blocks, El Torito catalog with {} entries", iso.volume_id, iso.blocks, catalog.entries.len());
        for e in &catalog.entries {
            crate::log!("  entry: {e}, segment {:04X}h", e.load_segment);
        }
    }
    if let Some(root) = verdict.live_system {
        crate::log!("  a Linux live system ({root})");
    }
    crate::log!("  presented as {}", plan.presentation);
    if let Some(disk_file) = plan.disk_file {
        crate::log!("  a {}: its disk is {} sectors from byte {} of the file", disk_file.format.name(), disk_file.sectors(), disk_file.data_start);
    }
    if let Some(refusal) = verdict.refusal {
        return Err(BootError::Refused(refusal));
    }
    if let Some(words) = verdict.partitions.installed_system() {
        crate::log!("  {words}");
    }
    let mut warnings: alloc::vec::Vec<String> = extras.warnings.clone();
    let mut with = None;
    if extras.backend.is_some() || extras.template.is_some() {
        let what = match (&extras.backend, &extras.template) {
            (Some(_), _) => "without persistence",
            (None, _) => "without its unattended-install file",
        };
        if plan.presentation != bootplan::Presentation::Cd {
            warnings.push(format!("{}: only an ISO booted as a CD takes added files; it boots {what}", file.path));
        } else if !stick_partitions {
            // The switch promises a stick the loader never writes.
            warnings.push(format!("{}: {}; it boots {what}", file.path, bootfs::added_files::AddError::LoaderWritesNothing));
        } else {
            match add_files(file, &mut source, &verdict, extras, backend, &sector0, start) {
                Ok(w) => with = Some(w),
                Err(why) => warnings.push(format!("{}: {why}; it boots {what}", file.path)),
            }
        }
    }
    // Without extensions the hook reads the stick by CHS, as far as it reaches.
    if let Some(geometry) = chs_only {
        crate::log!(
            "  no INT 13h extensions: the hook reads the stick by CHS ({} heads, {} sectors a track)",
            geometry.last_head as u16 + 1,
            geometry.sectors_per_track
        );
    }
    let boot_image = plan.boot_image;
    let dest = (boot_image.load_segment as u32) << 4;
    let mut image = vec![0u8; boot_image.bytes as usize];
    source.read_at(boot_image.offset, &mut image)?;

    // The added-files area is written before the hook is planned, so that
    // the hook never serves blocks the stick does not hold; the next start
    // zeroes it whether or not this boot goes on.
    if let Some(w) = &with {
        match crate::added_files::write(volume.disk(), &w.area) {
            Ok(()) => {
                crate::log!("  added-files area: {} sectors from {}, zeroed at the next start", w.area.len() / 512, bootfs::added_files::AREA_LBA)
            }
            Err(why) => {
                warnings.push(format!("{}: {why}; it boots without what was to be added", file.path));
                with = None;
            }
        }
    }
    let extents = match &with {
        Some(w) => &w.extents,
        None => &verdict.extents,
    };
    let presentation = plan.presentation;
    let mut image_range = plan.image;
    if let Some(w) = &with {
        image_range.sectors = w.sectors;
    }
    let hook_plan = HookPlan { presentation, disk, image: image_range, extents, spec_packet: plan.spec_packet, disk_chs: chs_only, max_read };
    // The entry point as SeaBIOS jumps to it: 0000:7C00 for the default
    // segment, segment:0000 otherwise.
    let (segment, offset16) = if dest < 0x10000 { (0u16, dest as u16) } else { (boot_image.load_segment, 0u16) };
    say(&format!("Booting {} as {presentation}: {} bytes at {segment:04X}:{offset16:04X}, {} extents", file.path, image.len(), extents.len()));
    // The last thing before hooking: the entries the system it starts
    // needs (the ISO, or an installed system's partitions, and a
    // persistence backend) go into the stick's table, after the files
    // added to an ISO go into the added-files area. What is missing is
    // said and the boot goes on.
    let mut placements = verdict.partitions.placements.clone();
    placements.extend(with.as_ref().and_then(|w| w.backend));
    for why in &verdict.partitions.missing {
        match why {
            NoEntry::NotACd | NoEntry::TurnedOff => crate::log!("  {}: {why}", file.path),
            why => warnings.push(format!("{}: {why}", file.path)),
        }
    }
    if !placements.is_empty() {
        match crate::iso_partition::write(volume.disk(), &sector0, &placements, &file.path) {
            Ok(lines) => crate::log!("{lines}"),
            Err(why) => warnings.push(why),
        }
    }
    for why in &warnings {
        say(why);
    }
    if !warnings.is_empty() {
        // Long enough to read before the boot loader clears the screen.
        let _ = crate::input::Input::default().wait_key_until(crate::arch::ticks().wrapping_add(WARNING_TICKS));
    }
    let installed = hook::install(&hook_plan);
    crate::log!(
        "  INT 13h hook at {:04X}:0000 ({} KiB, {} extents); old vector {:04X}:{:04X}; base memory {} -> {} KiB",
        installed.segment,
        installed.kib,
        extents.len(),
        installed.previous >> 16,
        installed.previous & 0xFFFF,
        have_kib,
        have_kib - installed.kib
    );
    crate::log!(
        "  INT 15h hooked too (old vector {:04X}:{:04X}): E820 leaves out {:05X}h-{:05X}h",
        installed.previous_int15 >> 16,
        installed.previous_int15 & 0xFFFF,
        installed.segment as u32 * 16,
        have_kib as u32 * 1024 - 1
    );
    match installed.count {
        Some((DriveClass::Floppy, before, after)) => {
            crate::log!("  equipment word {before:04X}h -> {after:04X}h; real floppies move up one")
        }
        Some((DriveClass::HardDisk, before, after)) => {
            crate::log!("  hard disks {before} -> {after}; real hard disks move up one (the stick is now {:02X}h)", disk + 1)
        }
        None => {}
    }
    crate::log!("  stage2's stack: {} of {} bytes used", crate::arch::stack_used(), crate::arch::PM_STACK_SIZE);
    crate::log!("  jumping to {segment:04X}:{offset16:04X} with DL={:02X}h", presentation.drive());
    let image = alloc::boxed::Box::leak(image.into_boxed_slice());
    launch(image, dest, segment, offset16, presentation.drive())
}

/// The first hard disk that is not `stick`, by BIOS number, from the BIOS
/// data area's hard-disk count (475h).
pub fn next_disk(stick: u8) -> Option<u8> {
    // SAFETY: the BDA is identity-mapped and always readable.
    let count = unsafe { core::ptr::read_volatile(BDA_HARD_DISKS as usize as *const u8) };
    (0x80..0x80u8.saturating_add(count)).find(|&d| d != stick)
}

/// Boots the next hard disk as the BIOS would have without the stick: its
/// first sector at 0000:7C00. When the stick is 80h, the hook swaps the two
/// disks' numbers first, so the disk answers as 80h (boot code that
/// assumes 80h, such as NTLDR's boot.ini paths, finds its disk). Returns
/// only when it cannot.
pub fn boot_next_disk(volume: &mut Volume, say: &mut dyn FnMut(&str)) -> Result<(), BootError> {
    let stick = volume.drive();
    let drive = next_disk(stick).ok_or(BootError::NoOtherDisk)?;
    let mut mbr = vec![0u8; 512];
    crate::disk::BiosDisk::open(drive).read_sectors(0, &mut mbr)?;
    if mbr[510..512] != [0x55, 0xAA] {
        return Err(BootError::NotBootableDisk { drive });
    }
    let answers_as = if stick == 0x80 {
        low_memory_for(0)?;
        let installed = hook::install(&HookPlan::swap_disks(stick, drive));
        crate::log!("  INT 13h hook at {:04X}:0000 ({} KiB) swaps disks {stick:02X}h and {drive:02X}h", installed.segment, installed.kib);
        stick
    } else {
        drive
    };
    say(&format!("Booting disk {drive:02X}h as {answers_as:02X}h"));
    crate::log!("  jumping to 0000:7C00 with DL={answers_as:02X}h (disk {drive:02X}h's first sector)");
    let mbr = alloc::boxed::Box::leak(mbr.into_boxed_slice());
    launch(mbr, 0x7C00, 0, 0x7C00, answers_as)
}
