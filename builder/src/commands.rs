//! The `dropboot` commands, one function each: `main` parses the command
//! line and calls one of them with the arguments it holds.

use std::path::{Path, PathBuf};

use crate::data_volume::{self, FsKind};
use crate::error::{Error, Result};
use crate::image::Disk;
use crate::stick::{Lock, Stick};
use crate::{bootcode, check, device, fault, files, image, iso_partition, progress, stick_path};

/// `dropboot create IMAGE --size SIZE [--fs FS] [FILES...]`: a new image file with an empty data partition, the files copied in.
pub fn create(image: &Path, size: u64, fs: FsKind, files: &[PathBuf]) -> Result<()> {
    let volume = data_volume::of_kind(fs);
    let plan = files::plan_adds(files, &stick_path::StickPath::root())?;
    if !plan.is_empty() && !volume.writes_files() {
        return Err(Error::Usage(format!(
            "dropboot does not copy files to {}: make the image empty, then copy them with Windows or ntfs-3g (or use --fs exfat); nothing was written",
            volume.name()
        )));
    }
    let mut sources = files::open_sources(&plan)?;
    let stick = image::create(image, size, volume)?;
    if !plan.is_empty() {
        let mut disk = Disk::from_stick(stick)?;
        files::add_all(&mut disk, &mut sources, &plan, true)?;
    }
    println!("made {} ({} MiB, {}), {} files copied", image.display(), size >> 20, volume.name(), files.len());
    Ok(())
}

/// `dropboot add IMAGE FILES... [--to FOLDER]`: files copied onto the stick, each in one piece.
pub fn add(image: &Path, files: &[PathBuf], to: &str) -> Result<()> {
    let plan = files::plan_adds(files, &stick_path::StickPath::parse(to)?)?;
    let mut sources = files::open_sources(&plan)?;
    let mut disk = Disk::open(image, Lock::Write)?;
    files::refuse_present(&mut disk, &plan)?;
    files::warn_unlisted(&mut disk, &plan)?;
    files::add_all(&mut disk, &mut sources, &plan, false)?;
    Ok(())
}

/// `dropboot install DEVICE [--fs FS] [--yes] [--force]`: a whole disk made a dropboot stick, after its checks and a "yes".
pub fn install(device: &Path, fs: FsKind, yes: bool, force: bool) -> Result<()> {
    let dev = device::Device::inspect(device)?;
    println!("{}", dev.describe());
    let refusals = dev.refusals(force);
    if !refusals.is_empty() {
        return Err(Error::Disk { path: device.to_path_buf(), problem: format!("not written:\n  {}", refusals.join("\n  ")) });
    }
    if !yes {
        use std::io::{BufRead, Write};
        print!("Erase everything on {} and make it a dropboot stick? Type yes: ", device.display());
        std::io::stdout().flush().map_err(Error::io("writing to the terminal"))?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map_err(Error::io("reading the answer"))?;
        if answer.trim() != "yes" {
            return Err(Error::Usage("nothing written".into()));
        }
    }
    let volume = data_volume::of_kind(fs);
    let what = device.display().to_string();
    let bar = progress::steps(3);
    bar.set_message(format!("writing the layout, filesystem and boot code to {what}"));
    let mut stick = Stick::open(device, Lock::Write)?;
    image::lay_out(&mut stick, volume, false)?;
    bar.inc(1);
    bar.set_message(format!("flushing {what}"));
    stick.file().sync_all().map_err(stick.io("flushing"))?;
    bar.inc(1);
    bar.set_message("asking the kernel to read the new partition table");
    let reread = device::reread_partitions(stick.file());
    bar.inc(1);
    bar.finish_and_clear();
    if let Err(e) = reread {
        eprintln!("dropboot: the kernel did not re-read the partition table of {what} ({e}); unplug and replug the stick");
    }
    println!("{what} is a dropboot stick now: copy .iso files and disk images (.img, .vhd, .vhdx, .vdi) onto its partition, or use dropboot add");
    Ok(())
}

/// `dropboot upgrade TARGET`: the boot code replaced, the data partition untouched (the last ISO partition entry taken out first).
pub fn upgrade(target: &Path) -> Result<()> {
    let mut stick = Stick::open(target, Lock::Write)?;
    if bootcode::on_disk(&mut stick).is_ok() {
        iso_partition::undo(&mut stick)?;
    }
    let fault = fault::is("after-stage2");
    let before = bootcode::upgrade(&mut stick, fault)?;
    let now = bootcode::this_version();
    match (before.replaced(), before.version()) {
        (None, Some(version)) => println!("upgraded the boot code of {}: {version} -> {now}", stick.what()),
        (replaced, _) => {
            println!("put dropboot's boot code ({now}) back on {}; it was not dropboot's: {}", stick.what(), replaced.unwrap_or_default())
        }
    }
    Ok(())
}

/// `dropboot info TARGET [--json]`: the boot code, the data partition and an ISO partition entry left on the stick.
pub fn info(target: &Path, json: bool) -> Result<()> {
    let what = target.display().to_string();
    let mut stick = Stick::open(target, Lock::Read)?;
    let code = bootcode::on_disk(&mut stick)?;
    let iso_partition = iso_partition::on_disk(&mut stick)?;
    let iso_partition_line = iso_partition.as_ref().map(|r| {
        let them = if r.changes.len() == 1 { "it" } else { "them" };
        format!(
            "{}: {}, written at its last boot (its next start, or a dropboot command that writes, takes {them} out)",
            r.partitions_in_words(),
            r.path
        )
    });
    let mut disk = Disk::from_stick(stick)?;
    let space = files::space(&mut disk)?;
    let on_disk = code.version();
    let not_ours = code.replaced().map(|r| format!("not dropboot's: {r}; dropboot upgrade puts dropboot's back"));
    let state = if let Some(words) = &not_ours {
        words.as_str()
    } else if !code.stage2_intact {
        "damaged (run dropboot upgrade)"
    } else if code.stage1_current && on_disk == Some(bootcode::this_version()) {
        "current"
    } else {
        "older or newer than this dropboot (dropboot upgrade replaces it)"
    };
    if json {
        let v = serde_json::json!({
            "target": what,
            "boot_code": {
                "version": on_disk.map(|v| v.to_string()), "intact": code.stage2_intact, "stage1_current": code.stage1_current,
                "sector0": code.sector0.key(), "state": state,
            },
            "this_dropboot": bootcode::this_version().to_string(),
            "filesystem": space.kind, "label": space.label,
            "size_bytes": space.total, "free_bytes": space.free,
            "iso_partition": iso_partition.as_ref().map(|r| {
                let entries = r.entries();
                let (first, entry) = entries.first().copied().unwrap_or_default();
                serde_json::json!({
                    "partition": first, "path": r.path,
                    "start_lba": entry.start_lba, "sectors": entry.sectors,
                    "partitions": entries.iter().map(|(n, e)| serde_json::json!({
                        "partition": n, "type": e.kind, "start_lba": e.start_lba, "sectors": e.sectors,
                    })).collect::<Vec<_>>(),
                })
            }),
        });
        println!("{v:#}");
    } else {
        println!("{what}");
        let code = match (&not_ours, on_disk) {
            (None, Some(version)) => format!("{version} ({state})"),
            _ => state.to_string(),
        };
        println!("  boot code:     {code}; this dropboot: {}", bootcode::this_version());
        println!("  data:          {} \"{}\", {} MiB, {} MiB free", space.kind, space.label, space.total >> 20, space.free >> 20);
        if let Some(line) = iso_partition_line {
            println!("  boot entries:  {line}");
        }
    }
    Ok(())
}

/// `dropboot defrag IMAGE PATH`: a file rewritten in one piece.
pub fn defrag(image: &Path, path: &str) -> Result<()> {
    let path = stick_path::StickPath::parse_file(path)?;
    let mut disk = Disk::open(image, Lock::Write)?;
    if files::defrag(&mut disk, &path)? {
        println!("{path} is now in one piece");
    } else {
        println!("{path} already was in one piece");
    }
    Ok(())
}

/// `dropboot qemu IMAGE ...`: QEMU boots the image in this process's place, holding its writer's lock.
pub fn qemu(image: &Path, window: bool, memory: u32, kvm: bool) -> Result<()> {
    // Refuse what is not a dropboot disk before starting anything.
    // A writer's lock, which QEMU inherits and holds while it runs:
    // the stage2 it boots writes the ISO partition entry.
    let mut stick = Stick::open(image, Lock::Write)?;
    bootcode::on_disk(&mut stick)?;
    stick.keep_across_exec()?;
    let mut cmd = std::process::Command::new("qemu-system-x86_64");
    cmd.args(["-machine", if kvm { "pc,accel=kvm" } else { "pc,accel=tcg" }]);
    cmd.args(["-m", &memory.to_string()]);
    cmd.arg("-drive").arg(format!("file={},format=raw,if=ide", image.display()));
    if window {
        cmd.args(["-serial", "mon:stdio"]);
    } else {
        cmd.arg("-nographic");
    }
    eprintln!("dropboot: {cmd:?}");
    eprintln!("dropboot: Ctrl-A X quits QEMU");
    // QEMU takes this process's place: stopping it stops QEMU, and
    // the terminal is QEMU's.
    use std::os::unix::process::CommandExt;
    let e = cmd.exec();
    Err(Error::Io { doing: "starting qemu-system-x86_64 (install the qemu-system-x86 package)".into(), source: e })
}

/// `dropboot rm IMAGE PATHS...`: files removed.
pub fn rm(image: &Path, paths: &[String]) -> Result<()> {
    let paths = paths.iter().map(|p| stick_path::StickPath::parse_file(p)).collect::<Result<Vec<_>>>()?;
    let mut disk = Disk::open(image, Lock::Write)?;
    for p in &paths {
        files::remove(&mut disk, p)?;
    }
    Ok(())
}

/// `dropboot check IMAGE [PATH] [--json]`: the loader's verdict on each boot file (exit status 4 when one will not boot).
pub fn check(image: &Path, path: Option<String>, json: bool) -> Result<()> {
    let path = path.map(|p| stick_path::StickPath::parse_file(&p)).transpose()?;
    let mut disk = Disk::open(image, Lock::Read)?;
    let verdicts = check::check(&mut disk, path.as_ref())?;
    if json {
        println!("{:#}", check::json(&verdicts));
    } else {
        check::print(&verdicts);
    }
    let failing = verdicts.iter().filter(|v| !v.boots).count();
    if failing > 0 {
        return Err(Error::NotBootable { failing, checked: verdicts.len() });
    }
    Ok(())
}

/// `dropboot list IMAGE [--json]`: the boot files in menu order.
pub fn list(image: &Path, json: bool) -> Result<()> {
    let mut disk = Disk::open(image, Lock::Read)?;
    let (files, problems) = files::boot_files(&mut disk)?;
    let config = files::menu_config(&mut disk)?;
    let entries = config.arrange(files);
    let persists = |path: &str| config.persistence_for(path).map(|a| a.files.clone()).unwrap_or_default();
    if json {
        let list: Vec<_> = entries
            .iter()
            .map(|e| serde_json::json!({"path": e.file.path, "size": e.file.size, "alias": e.alias, "persistence": persists(&e.file.path)}))
            .collect();
        println!("{:#}", serde_json::Value::Array(list));
    } else {
        for e in &entries {
            let alias = e.alias.as_ref().map(|a| format!("  ({a})")).unwrap_or_default();
            let backends = persists(&e.file.path);
            let persistence = if backends.is_empty() { String::new() } else { format!("  [persistence: {}]", backends.join(", ")) };
            println!("{:>12}  {}{alias}{persistence}", e.file.size, e.file.path);
        }
    }
    for p in &problems {
        eprintln!("dropboot: skipped {p}");
    }
    Ok(())
}
