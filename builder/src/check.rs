//! `dropboot check`: for each boot file, what the loader will do with it,
//! from the verdict stage2 boots by (bootfs::bootplan::judge), in words.

use bootfs::bootplan::{self, Machine, Refusal, LARGEST_CHS_REACH};
use bootfs::file::MappedFile;
use bootfs::filesystem::Filesystem;
use bootfs::scan::scan;
use bootfs::text::human_size;

use crate::error::{Error, Result};
use crate::image::Disk;
use crate::stick_path::StickPath;

/// One El Torito entry, for people and for JSON.
#[derive(Debug)]
pub struct Entry {
    pub platform: &'static str,
    pub bootable: bool,
    pub media: &'static str,
    pub sectors: u16,
    pub load_rba: u32,
}

#[derive(Debug)]
pub struct Verdict {
    pub path: String,
    pub size: u64,
    pub pieces: usize,
    pub entries: Vec<Entry>,
    /// The drive the loader presents, when it can boot the file.
    pub presented_as: Option<String>,
    pub boots: bool,
    /// The verdict in words.
    pub verdict: String,
    /// A Linux live system's root folder, when there is one.
    pub live_system: Option<&'static str>,
    /// The partition the booted ISO becomes for the system it starts.
    pub iso_partition: Option<usize>,
    /// For an installed system in a disk image file: its partitions as the
    /// stick's (its own number, the stick's), and what that means, in words.
    pub installed_system: Option<(Vec<(u32, u32)>, String)>,
    /// What an old PC cannot do with it (a BIOS without INT 13h extensions).
    pub warning: Option<String>,
    /// Its `persistence` backends in a few words, each with what is wrong with it.
    pub persistence: Vec<String>,
    /// What the loader adds to its initrds for its `persistence` and
    /// `auto_install` entries, in words (bootfs::added_files decides).
    pub adds: Option<String>,
}

fn platform(p: u8) -> &'static str {
    match p {
        0x00 => "x86 BIOS",
        0x01 => "PowerPC",
        0x02 => "Mac",
        0xEF => "UEFI",
        _ => "unknown",
    }
}

/// Verdicts for every boot file, or only for `only`.
pub fn check(disk: &mut Disk, only: Option<&StickPath>) -> Result<Vec<Verdict>> {
    let where_ = disk.stick.path().to_path_buf();
    // The entry of the last boot is undone before the next one is placed.
    let sector0 = crate::iso_partition::sector0_undone(&mut disk.stick)?;
    let config = crate::files::menu_config(disk)?;
    let turned_off = config.iso_partition_off;
    let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(&where_, e))?;
    let files = scan(&mut fs).map_err(|e| Error::disk(&where_, e))?.files;
    let want = only.map(StickPath::display);
    if let Some(w) = &want {
        if !files.iter().any(|f| bootfs::text::eq_ignore_case(&f.path, w)) {
            return Err(Error::Usage(format!("no boot file {w} on {}", where_.display())));
        }
    }
    let mut out = Vec::new();
    for f in files.iter().filter(|f| want.as_ref().is_none_or(|w| bootfs::text::eq_ignore_case(&f.path, w))) {
        let mut v = Verdict {
            path: f.path.clone(),
            size: f.size,
            pieces: 0,
            entries: Vec::new(),
            presented_as: None,
            boots: false,
            verdict: String::new(),
            live_system: None,
            iso_partition: None,
            installed_system: None,
            warning: None,
            persistence: Vec::new(),
            adds: None,
        };
        let (persistence, persists) = persistence_of(&mut fs, &config, &f.path);
        v.persistence = persistence;
        let map = match fs.extent_map(f) {
            Ok(map) => map,
            Err(e) => {
                v.verdict = format!("not bootable: the file is damaged on the stick: {e}");
                out.push(v);
                continue;
            }
        };
        v.pieces = map.len();
        let partition_start = fs.device().start;
        let mut source = MappedFile { dev: fs.device(), map, size: f.size };
        // The verdict stage2 boots by, on the usual PC (639 KiB, INT 13h
        // extensions); its refusal is the sentence the menu shows.
        let table = (!turned_off).then_some(&sector0);
        let verdict = match bootplan::judge(f.name(), &f.path, &mut source, partition_start, &Machine::TYPICAL, table) {
            Ok(verdict) => verdict,
            Err(e) => {
                v.verdict = format!("not bootable: {e}");
                out.push(v);
                continue;
            }
        };
        let plan = &verdict.plan;
        if let Some((_, catalog)) = &plan.catalog {
            v.entries = catalog
                .entries
                .iter()
                .map(|e| Entry {
                    platform: platform(e.platform),
                    bootable: e.bootable,
                    media: e.media.describe(),
                    sectors: e.sector_count,
                    load_rba: e.load_rba,
                })
                .collect();
        }
        v.live_system = verdict.live_system;
        v.presented_as = Some(plan.presentation.to_string());
        if let Some(r) = &verdict.refusal {
            v.verdict = format!("not bootable: {r}");
        } else {
            v.boots = true;
            v.verdict = format!("boots as {}", plan.presentation);
            if let Some(disk) = &plan.disk_file {
                v.verdict.push_str(&format!(" from a {}", disk.format.name()));
            }
            let partitions = &verdict.partitions;
            let system = v.live_system.map(|l| format!("a Linux live system ({l}): ")).unwrap_or_default();
            match (partitions.installed_system(), partitions.placements.as_slice()) {
                (Some(words), _) => {
                    v.verdict.push_str(&format!("; {words}"));
                    v.installed_system = Some((partitions.renumbered.clone(), words));
                }
                (None, [p]) => {
                    v.iso_partition = Some(p.slot + 1);
                    v.verdict.push_str(&format!("; {system}its system finds its ISO as partition {}", p.slot + 1));
                }
                _ => {}
            }
            for why in &partitions.missing {
                v.verdict.push_str(&format!("; {system}{why}"));
            }
            // A PC whose BIOS reads only by CHS reaches 7.8 GiB at most.
            if verdict.disk_end > LARGEST_CHS_REACH {
                let beyond = Refusal::BeyondChs { end: verdict.disk_end, reach: LARGEST_CHS_REACH };
                v.warning = Some(format!("on an old PC: {beyond}"));
            }
            v.adds = files_added(&mut source, &config, &f.path, &verdict.extents, partition_start, persists);
        }
        out.push(v);
    }
    Ok(out)
}

/// Each of `path`'s `persistence` backends in a few words, with what keeps
/// the loader from using it, and whether the loader can use any of them
/// (with none, it boots the ISO without persistence).
fn persistence_of<D: bootfs::block::BlockDevice>(fs: &mut Filesystem<D>, config: &bootfs::config::Config, path: &str) -> (Vec<String>, bool) {
    let Some(entry) = config.persistence_for(path) else { return (Vec::new(), false) };
    let family = crate::persistence::family_on(fs, path);
    let mut usable = false;
    let words = entry
        .files
        .iter()
        .map(|backend| match crate::persistence::inspect(fs, backend) {
            Err(e) => format!("{backend}: cannot be read: {e}"),
            Ok(info) => match crate::persistence::backend_problem(backend, info.as_ref(), family) {
                Some(problem) => format!("{} ({problem})", crate::persistence::describe(backend, info.as_ref())),
                None => {
                    usable = true;
                    crate::persistence::describe(backend, info.as_ref())
                }
            },
        })
        .collect();
    (words, usable)
}

/// The verdicts for people.
pub fn print(verdicts: &[Verdict]) {
    for v in verdicts {
        let pieces = if v.pieces == 1 { "1 piece".to_string() } else { format!("{} pieces", v.pieces) };
        println!("{}  ({}, {pieces})", v.path, human_size(v.size));
        for e in &v.entries {
            let bootable = if e.bootable { "" } else { ", not bootable" };
            println!("  El Torito: {}, {}, {} sectors at block {}{bootable}", e.platform, e.media, e.sectors, e.load_rba);
        }
        println!("  {}", v.verdict);
        if !v.persistence.is_empty() {
            println!("  persistence: {}", v.persistence.join(", "));
        }
        if let Some(adds) = &v.adds {
            println!("  at boot: {adds}");
        }
        if let Some(w) = &v.warning {
            println!("  warning: {w}");
        }
    }
}

/// The verdicts as JSON.
pub fn json(verdicts: &[Verdict]) -> serde_json::Value {
    serde_json::Value::Array(
        verdicts
            .iter()
            .map(|v| {
                serde_json::json!({
                    "path": v.path,
                    "size": v.size,
                    "pieces": v.pieces,
                    "eltorito": v.entries.iter().map(|e| serde_json::json!({
                        "platform": e.platform, "bootable": e.bootable, "media": e.media,
                        "sectors": e.sectors, "load_rba": e.load_rba,
                    })).collect::<Vec<_>>(),
                    "presented_as": v.presented_as,
                    "boots": v.boots,
                    "live_system": v.live_system,
                    "iso_partition": v.iso_partition,
                    "installed_system": v.installed_system.as_ref().map(|(renumbered, words)| serde_json::json!({
                        "partitions": renumbered.iter().map(|(own, stick)| serde_json::json!({ "own": own, "stick": stick })).collect::<Vec<_>>(),
                        "words": words,
                    })),
                    "verdict": v.verdict,
                    "warning": v.warning,
                    "persistence": v.persistence,
                    "adds": v.adds,
                })
            })
            .collect(),
    )
}

/// What the loader adds to the initrds of the ISO at `path` (read through
/// `source`, its hook table `table`, on a data partition from sector
/// `partition_start`) for its configuration entries, as stage2 decides and
/// serves it (bootfs::added_files): "adds conf/conf.d/zz-dropboot to
/// /live/initrd.img", or why nothing is; `None` without entries.
/// `persists`: one of its persistence backends is one the loader can use.
fn files_added<D: bootfs::block::BlockDevice>(
    source: &mut MappedFile<D>,
    config: &bootfs::config::Config,
    path: &str,
    table: &[bootfs::layout::HookExtent],
    partition_start: u64,
    persists: bool,
) -> Option<String> {
    use bootfs::added_files::{find, for_request, AddError, AREA_LBA, AREA_SECTORS};
    use bootfs::additions::{Backend, Request};
    let (persist, template) = (config.persistence_for(path).is_some(), config.auto_install_for(path).is_some());
    if !persist && !template {
        return None;
    }
    // With no backend the loader can use, it boots without persistence:
    // the line above says why.
    let persist = persist && persists;
    if !persist && !template {
        return Some("adds nothing: it boots without persistence".into());
    }
    // The backend's label only changes dracut's line, and the template's
    // bytes only the archive's length, not which files are added where.
    let request =
        Request { persistence: persist.then_some(Backend { label: "", file: None, overlayfs: false }), template: template.then_some(&[][..]) };
    let room = AREA_SECTORS.min(partition_start.saturating_sub(AREA_LBA));
    let added = match config.iso_partition_off {
        true => Err(AddError::LoaderWritesNothing),
        false => find(source).and_then(|found| for_request(source, table, path, &found, &request, room)),
    };
    Some(match added {
        Ok(added) => {
            let grown: Vec<String> = added.files.initrds.into_iter().map(|i| i.0).collect();
            format!("adds {} to {}", bootfs::text::list_in_words(&added.members), bootfs::text::list_in_words(&grown))
        }
        Err(e) => format!("adds nothing: {e}"),
    })
}
