//! Persistence for live ISOs (issue 23, DESIGN D9): `dropboot persistence
//! add` makes a backend file on the stick for a live ISO and names it in the
//! configuration's `persistence` list; `check`, `list` and `config check`
//! say which ISOs persist and whether their backends will do.
//!
//! A backend is an ext4 filesystem in one contiguous file, as Ventoy's
//! (its CreatePersistentImg.sh and its ready-made images) are, with the
//! label the ISO's live system looks for:
//! - live-boot (`/live`: Debian live, Kali, Tails): `persistence`, holding
//!   `persistence.conf` = `/ union` (the whole root is kept);
//! - casper (`/casper`: Ubuntu and its kin): `casper-rw`, empty;
//! - dracut dmsquash-live (`/LiveOS`: Fedora and its kin): `vtoycow`, as
//!   Ventoy labels it (dracut is told the label, so a backend made by hand
//!   may carry any), holding the folders `/vtoyoverlayfs/overlayfs` and
//!   `/vtoyoverlayfs/ovlwork`: dracut's `rd.live.overlay=DEVICE:PATH` with
//!   overlayfs takes PATH as the upper folder and `PATH/../ovlwork` as its
//!   work folder, and Ventoy passes this very PATH.
//!
//! archiso (`/arch`) reads its `cow_label` only from the kernel command line,
//! which dropboot does not change: refused for now.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use bootfs::config::json::{self, Value};
use bootfs::file::MappedFile;
use bootfs::filesystem::Filesystem;
use bootfs::iso9660::Volume;
use bootfs::scan::find_file;

use crate::error::{Error, Result};
use crate::image::Disk;
use crate::stick::Lock;
use crate::stick_path::StickPath;

/// A backend smaller than this is refused: ext4's own structures and a
/// useful overlay need room.
pub const MIN_SIZE: u64 = 16 << 20;

/// Where a new configuration file goes when the stick has none.
const NEW_CONFIG: &str = "/ventoy/ventoy.json";

/// The live systems dropboot makes backends for: bootfs's, whose verdict
/// on a backend the loader boots by.
pub use bootfs::additions::Family;

/// The label a new dracut backend gets: Ventoy's. dracut is told its
/// backend's label, so any other will do as well (bootfs::additions).
const NEW_DRACUT_LABEL: &str = "vtoycow";

/// The family of a live ISO, by its root folder's names: the one the
/// loader judges its backend for, or why there is none.
pub fn live_family(root_names: &[String]) -> std::result::Result<Family, String> {
    match bootfs::additions::persistence_family(root_names) {
        Some(family) => Ok(family),
        None if bootfs::iso_partition::live_system(root_names) == Some("arch") => Err("an Arch-style live system (/arch): archiso reads where to keep its changes only from the kernel command line, which dropboot does not change".into()),
        None => Err("no live system dropboot knows (no /live, /casper or /LiveOS folder at its root)".into()),
    }
}

/// The filesystem label a new backend for `family` gets.
fn new_label(family: Family) -> &'static str {
    family.backend_label().unwrap_or(NEW_DRACUT_LABEL)
}

/// What a new backend for `family` holds besides its root: folders
/// (ending in `/`) and files with their text.
fn contents(family: Family) -> &'static [(&'static str, &'static str)] {
    match family {
        Family::LiveBoot => &[("persistence.conf", "/ union\n")],
        Family::Dracut => &[("vtoyoverlayfs/", ""), ("vtoyoverlayfs/overlayfs/", ""), ("vtoyoverlayfs/ovlwork/", "")],
        Family::Casper | Family::DebianInstaller => &[],
    }
}

/// A folder in the host's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!("dropboot-persistence-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(Error::io(format!("removing {}", path.display())))?;
        }
        std::fs::create_dir(&path).map_err(Error::io(format!("making {}", path.display())))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The root folder names of the ISO at `image` on the stick, and its path
/// as the stick spells it.
fn iso_root_names(disk: &mut Disk, image: &StickPath) -> Result<(String, Vec<String>)> {
    let where_ = disk.stick.path().to_path_buf();
    let what = disk.stick.what().to_string();
    let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(&where_, e))?;
    let file = find_file(&mut fs, &image.display())
        .map_err(|e| Error::disk(&where_, e))?
        .ok_or_else(|| Error::Usage(format!("no file {image} on {what}")))?;
    let map = fs.extent_map(&file).map_err(|e| Error::disk(&where_, e))?;
    let mut source = MappedFile { dev: fs.device(), map, size: file.size };
    let names = Volume::read(&mut source)
        .and_then(|v| v.root_names(&mut source))
        .map_err(|e| Error::Usage(format!("{image} is not an ISO dropboot can read: {e}")))?;
    Ok((file.path, names))
}

/// The backend's path: `--backend` as given when it is a full path, else
/// in `/persistence`; by default `/persistence/<the ISO's name>.dat`.
fn backend_path(image: &StickPath, backend: Option<&str>) -> Result<StickPath> {
    match backend {
        Some(b) if b.starts_with('/') => StickPath::parse_file(b),
        Some(b) => StickPath::parse("/persistence")?.join(b),
        None => {
            let name = image.name();
            let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
            StickPath::parse("/persistence")?.join(&format!("{stem}.dat"))
        }
    }
}

/// Makes the ext4 backend in a host file: `size` bytes, `family`'s label
/// and files, by mkfs.ext4 (e2fsprogs).
fn make_backend(dir: &Path, family: Family, size: u64) -> Result<PathBuf> {
    let root = dir.join("root");
    std::fs::create_dir(&root).map_err(Error::io(format!("making {}", root.display())))?;
    for (name, text) in contents(family) {
        let path = root.join(name);
        let made = if name.ends_with('/') { std::fs::create_dir(&path) } else { std::fs::write(&path, text) };
        made.map_err(Error::io(format!("making {}", path.display())))?;
    }
    let file = dir.join("backend.dat");
    let f = std::fs::File::create(&file).map_err(Error::io(format!("making {}", file.display())))?;
    f.set_len(size).map_err(Error::io(format!("sizing {} to {size} bytes (is the host's temporary folder full?)", file.display())))?;
    drop(f);
    let mut mkfs = Command::new("mkfs.ext4");
    mkfs.args(["-q", "-F", "-L", new_label(family), "-E", "root_owner=0:0", "-d"]).arg(&root).arg(&file);
    run_tool(&mut mkfs, "making the ext4 backend")?;
    // mkfs.ext4 -d gives what it copies its owner on the host; the live
    // system's root is root's, whoever runs dropboot.
    let mut owners = String::new();
    for (name, _) in contents(family) {
        let name = name.trim_end_matches('/');
        owners.push_str(&format!("sif /{name} uid 0\nsif /{name} gid 0\n"));
    }
    if !owners.is_empty() {
        let script = dir.join("owners.debugfs");
        std::fs::write(&script, owners).map_err(Error::io(format!("writing {}", script.display())))?;
        let mut debugfs = Command::new("debugfs");
        debugfs.arg("-w").arg("-f").arg(&script).arg(&file);
        run_tool(&mut debugfs, "giving the backend's files to root")?;
    }
    Ok(file)
}

/// Runs an e2fsprogs tool to success; its failure in words with its own.
fn run_tool(cmd: &mut Command, doing: &str) -> Result<()> {
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().map_err(Error::io(format!("running {tool} (install e2fsprogs)")))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Io {
        doing: format!("{doing} with {tool}: {}", String::from_utf8_lossy(&out.stderr).trim()),
        source: std::io::Error::other(format!("{tool} exited with {}", out.status)),
    })
}

/// `dropboot persistence add STICK IMAGE --size SIZE [--backend NAME]`.
pub fn add(target: &Path, image: &str, size: u64, backend: Option<&str>) -> Result<()> {
    let image = StickPath::parse_file(image)?;
    let backend = backend_path(&image, backend)?;
    if size < MIN_SIZE {
        return Err(Error::Usage(format!("a backend of {size} bytes is too small: give at least {} MiB", MIN_SIZE >> 20)));
    }
    // All that can be refused is refused before a byte is written.
    let mut disk = Disk::open(target, Lock::Write)?;
    let (image_path, names) = iso_root_names(&mut disk, &image)?;
    let family = live_family(&names).map_err(|why| Error::Usage(format!("{image_path}: {why}; nothing was written")))?;
    let volume = crate::data_volume::on(&mut disk)?;
    if !volume.writes_files() {
        return Err(Error::Usage(format!(
            "{} holds {}, which dropboot reads but does not write: make the backend elsewhere (mkfs.ext4 -L {} on a file{}, as Ventoy's CreatePersistentImg.sh does), copy it on with Windows or ntfs-3g and name it in the configuration's persistence list; nothing was written",
            disk.stick.what(),
            volume.name(),
            new_label(family),
            if family == Family::LiveBoot { " holding persistence.conf with \"/ union\"" } else { "" }
        )));
    }
    let plan = vec![(PathBuf::from("backend.dat"), backend.clone())];
    crate::files::refuse_present(&mut disk, &plan)?;
    let (config_path, old_text) = config_text(&mut disk)?;
    let new_text = with_backend(old_text.as_deref(), &image_path, &backend.display())
        .map_err(|why| Error::Usage(format!("{}: {why}; nothing was written", config_path.display())))?;
    let (free_label, free) = crate::files::space(&mut disk).map(|s| (s.kind, s.free))?;
    if size > free {
        return Err(Error::Usage(format!(
            "{backend} would need {} MiB, and the {free_label} partition has {} MiB free; nothing was written",
            size >> 20,
            free >> 20
        )));
    }

    let dir = TempDir::new()?;
    let file = make_backend(&dir.0, family, size)?;
    crate::files::add(&mut disk, &mut crate::source::Source::open(&file, &backend)?, &backend, false, &[])?;
    let json = dir.0.join("config.json");
    let mut f = std::fs::File::create(&json).map_err(Error::io(format!("making {}", json.display())))?;
    f.write_all(new_text.as_bytes()).map_err(Error::io(format!("writing {}", json.display())))?;
    drop(f);
    if old_text.is_some() {
        crate::files::remove(&mut disk, &config_path)?;
    }
    crate::files::add(&mut disk, &mut crate::source::Source::open(&json, &config_path)?, &config_path, false, &[])?;
    println!(
        "{image_path} persists in {backend} ({} MiB, ext4 labelled \"{}\" for {}); {config_path} names it",
        size >> 20,
        new_label(family),
        family.name()
    );
    Ok(())
}

/// The configuration file in use (or where a new one goes) and its text.
fn config_text(disk: &mut Disk) -> Result<(StickPath, Option<String>)> {
    let where_ = disk.stick.path().to_path_buf();
    let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(&where_, e))?;
    match bootfs::config::read(&mut fs).map_err(|e| Error::disk(&where_, e))? {
        None => Ok((StickPath::parse_file(NEW_CONFIG)?, None)),
        Some((path, Err(unusable))) => Err(Error::Usage(format!("{path}: {unusable}; nothing was written"))),
        Some((path, Ok(bytes))) => {
            let text = String::from_utf8(bytes).map_err(|_| Error::Usage(format!("{path} is not UTF-8 text; nothing was written")))?;
            Ok((StickPath::parse_file(path)?, Some(text)))
        }
    }
}

/// The configuration `text` (none: a new file) with `backend` named for
/// `image` in its `persistence` list (its `persistence_legacy` one if it
/// has that): the entry the loader takes for the image (the first whose
/// pattern matches it) gets the backend added to its list, or a new entry
/// is made. Everything outside that list is kept as written.
pub fn with_backend(text: Option<&str>, image: &str, backend: &str) -> std::result::Result<String, String> {
    let entry = serde_json::json!({ "image": image, "backend": backend });
    let Some(text) = text else {
        return Ok(format!("{{\n    \"persistence\": {}\n}}\n", pretty(&serde_json::json!([entry]), "    ", "    ")));
    };
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(body) => ("\u{feff}", body),
        None => ("", text),
    };
    let doc = json::parse(body.as_bytes()).map_err(|e| format!("{e} (fix it first: dropboot config check)"))?;
    let Value::Object(members) = &doc.value else {
        return Err("the file is not a JSON object {...}".into());
    };
    let found = members.iter().find(|m| m.key == "persistence_legacy").or_else(|| members.iter().find(|m| m.key == "persistence"));
    let Some(member) = found else {
        // A new member, first in the object, indented as the first one is.
        let open = offset_of(body, doc.pos).ok_or("the file's text does not match its parse")? + 1;
        let indent = members.first().map(|m| line_indent(body, m.key_pos)).unwrap_or("    ");
        let comma = if members.is_empty() { "" } else { "," };
        let unit = if indent.is_empty() { "    " } else { indent };
        let inserted = format!("\n{indent}\"persistence\": {}{comma}", pretty(&serde_json::json!([entry]), indent, unit));
        return Ok(format!("{bom}{}{inserted}{}", &body[..open], &body[open..]));
    };
    let start = offset_of(body, member.node.pos).ok_or("the file's text does not match its parse")?;
    let end = start + value_len(&body[start..]).ok_or("the persistence list does not end")?;
    let mut list: serde_json::Value = serde_json::from_str(&body[start..end]).map_err(|e| format!("its persistence list: {e}"))?;
    let items = list.as_array_mut().ok_or_else(|| format!("{} must be an array [...]", member.key))?;
    // The entry the loader will take for this image: the first whose
    // pattern matches it.
    let same = |v: &serde_json::Value| v.as_str().is_some_and(|s| bootfs::config::path_matches(s, image));
    match items.iter_mut().find(|i| i.get("image").is_some_and(same)) {
        Some(item) => {
            let named = |v: &serde_json::Value| v.as_str().is_some_and(|s| bootfs::text::eq_ignore_case(s, backend));
            let now = match item.get("backend") {
                Some(serde_json::Value::String(old)) if bootfs::text::eq_ignore_case(old, backend) => serde_json::json!(old),
                Some(old @ serde_json::Value::String(_)) => serde_json::json!([old, backend]),
                Some(serde_json::Value::Array(old)) if old.iter().any(named) => serde_json::json!(old),
                Some(serde_json::Value::Array(old)) => {
                    let mut all = old.clone();
                    all.push(serde_json::json!(backend));
                    serde_json::Value::Array(all)
                }
                _ => serde_json::json!(backend),
            };
            if let Some(obj) = item.as_object_mut() {
                obj.insert("backend".into(), now);
            }
        }
        None => items.push(entry),
    }
    // A level of the file's own indentation: its first member's.
    let indent = line_indent(body, member.key_pos);
    let unit = members.first().map(|m| line_indent(body, m.key_pos)).filter(|u| !u.is_empty()).unwrap_or("    ");
    Ok(format!("{bom}{}{}{}", &body[..start], pretty(&list, indent, unit), &body[end..]))
}

/// `value` as JSON, a level indented by `unit`, its lines after the first
/// starting with `indent`; in an object `image` comes first, as Ventoy
/// writes it, then the other keys in order.
fn pretty(value: &serde_json::Value, indent: &str, unit: &str) -> String {
    let mut out = String::new();
    write_value(value, &format!("\n{indent}"), unit, &mut out);
    out
}

fn write_value(value: &serde_json::Value, newline: &str, unit: &str, out: &mut String) {
    let inner = format!("{newline}{unit}");
    match value {
        serde_json::Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "" } else { "," });
                out.push_str(&inner);
                write_value(item, &inner, unit, out);
            }
            out.push_str(newline);
            out.push(']');
        }
        serde_json::Value::Object(members) if !members.is_empty() => {
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort_by_key(|k| *k != "image");
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                out.push_str(if i == 0 { "" } else { "," });
                out.push_str(&inner);
                out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                out.push_str(": ");
                write_value(&members[key], &inner, unit, out);
            }
            out.push_str(newline);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The byte offset of a parser position (1-based line, column in characters).
fn offset_of(text: &str, pos: json::Pos) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..pos.line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let line = &text[line_start..];
    let column = line.char_indices().nth(pos.column.checked_sub(1)? as usize)?.0;
    Some(line_start + column)
}

/// The white space that starts the line of `pos`.
fn line_indent(text: &str, pos: json::Pos) -> &str {
    let Some(at) = offset_of(text, pos) else { return "" };
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[start..at];
    &line[..line.len() - line.trim_start().len()]
}

/// The length in bytes of the array or object that `text` starts with.
fn value_len(text: &str) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// What is inside a backend, read from its ext4 superblock.
#[derive(Debug, PartialEq, Eq)]
pub struct BackendInfo {
    pub size: u64,
    pub pieces: usize,
    /// `None`: not an ext2/3/4 filesystem.
    pub label: Option<String>,
}

/// Looks at the backend at `path` on the volume: `Ok(None)` when there is
/// no such file.
pub fn inspect<D: bootfs::block::BlockDevice>(fs: &mut Filesystem<D>, path: &str) -> std::result::Result<Option<BackendInfo>, String> {
    let Some(file) = find_file(fs, path).map_err(|e| e.to_string())? else { return Ok(None) };
    let map = fs.extent_map(&file).map_err(|e| e.to_string())?;
    let pieces = map.len();
    let mut source = MappedFile { dev: fs.device(), map, size: file.size };
    let label = bootfs::additions::ext_label(&mut source);
    Ok(Some(BackendInfo { size: file.size, pieces, label }))
}

/// What is wrong with a backend for an ISO of `family` (`None`: the ISO's
/// family is not known), in words; `None` when it will do.
pub fn backend_problem(path: &str, info: Option<&BackendInfo>, family: Option<Family>) -> Option<String> {
    let Some(info) = info else { return Some(format!("persistence backend {path} is not on the stick")) };
    if info.pieces > 1 {
        return Some(format!("persistence backend {path} is in {} pieces; the loader needs it in one (dropboot defrag it)", info.pieces));
    }
    let Some(label) = &info.label else { return Some(format!("persistence backend {path} holds no ext4 filesystem")) };
    // The loader's own verdict on the label (dracut takes any but none).
    let family = family?;
    match bootfs::additions::backend_for(&[family], Some(label)) {
        Ok(_) => None,
        Err(bootfs::additions::NoBackend::WrongLabel { wanted, .. }) => {
            Some(format!("persistence backend {path} is labelled \"{label}\"; {} looks for \"{wanted}\"", family.name()))
        }
        Err(why) => Some(format!("persistence backend {path}: {why}")),
    }
}

/// A backend in a few words: `/p.dat (ext4 "persistence", 64 MiB)`.
pub fn describe(path: &str, info: Option<&BackendInfo>) -> String {
    match info {
        Some(BackendInfo { size, label: Some(label), .. }) => format!("{path} (ext4 \"{label}\", {} MiB)", size >> 20),
        Some(BackendInfo { size, .. }) => format!("{path} ({} MiB)", size >> 20),
        None => format!("{path} (not on the stick)"),
    }
}

/// The family of the ISO at `path` on the volume, when it is one dropboot knows.
pub fn family_on<D: bootfs::block::BlockDevice>(fs: &mut Filesystem<D>, path: &str) -> Option<Family> {
    let file = find_file(fs, path).ok()??;
    let map = fs.extent_map(&file).ok()?;
    let mut source = MappedFile { dev: fs.device(), map, size: file.size };
    let names = Volume::read(&mut source).and_then(|v| v.root_names(&mut source)).ok()?;
    live_family(&names).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_holds_one_entry() {
        let text = with_backend(None, "/a.iso", "/persistence/a.dat").expect("made");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["persistence"][0]["backend"], "/persistence/a.dat");
    }

    #[test]
    fn the_other_settings_are_kept_as_written() {
        let old = "{\n  \"control\": [ { \"VTOY_MENU_TIMEOUT\": \"5\" } ],\n  \"theme\": {\"file\": \"/x\"}\n}\n";
        let text = with_backend(Some(old), "/a.iso", "/p/a.dat").expect("made");
        assert!(text.contains("\"control\": [ { \"VTOY_MENU_TIMEOUT\": \"5\" } ],\n  \"theme\": {\"file\": \"/x\"}\n}\n"), "{text}");
        assert!(text.starts_with("{\n  \"persistence\": [\n"), "{text}");
        let (config, problems) = bootfs::config::parse(text.as_bytes()).expect("valid");
        assert!(problems.is_empty());
        assert_eq!(config.timeout, Some(5));
        assert_eq!(config.persistence[0].files, ["/p/a.dat"]);
        let empty = with_backend(Some("{}"), "/a.iso", "/p/a.dat").expect("made");
        assert_eq!(bootfs::config::parse(empty.as_bytes()).expect("valid").0.persistence.len(), 1, "{empty}");
    }

    #[test]
    fn an_entry_for_the_image_gets_the_backend_added_once() {
        let old = r#"{ "persistence": [ { "image": "/A.iso", "backend": "/old.dat", "autosel": 1 }, { "image": "/b.iso", "backend": "/b.dat" } ], "x": "]" }"#;
        let text = with_backend(Some(old), "/a.iso", "/new.dat").expect("made");
        let (config, _) = bootfs::config::parse(text.as_bytes()).expect("valid");
        assert_eq!(config.persistence[0].files, ["/old.dat", "/new.dat"]);
        assert_eq!(config.persistence[0].autosel, Some(1));
        assert_eq!(config.persistence[1].files, ["/b.dat"]);
        assert!(text.ends_with(r#", "x": "]" }"#), "{text}");
        let again = with_backend(Some(&text), "/a.iso", "/NEW.dat").expect("made");
        assert_eq!(bootfs::config::parse(again.as_bytes()).expect("valid").0.persistence[0].files.len(), 2);
        assert!(with_backend(Some("{ \"persistence\": "), "/a.iso", "/n.dat").is_err());
        // A pattern's entry is the one the loader takes: the backend joins it.
        let pattern = with_backend(Some(r#"{"persistence":[{"image":"/deb-1*.iso","backend":"/p.dat"}]}"#), "/deb-12.iso", "/q.dat").expect("made");
        assert_eq!(bootfs::config::parse(pattern.as_bytes()).expect("valid").0.persistence[0].files, ["/p.dat", "/q.dat"]);
    }

    #[test]
    fn a_backends_label_is_judged_as_the_loader_judges_it() {
        let info = |label: &str| BackendInfo { size: 64 << 20, pieces: 1, label: Some(label.into()) };
        // live-boot and casper find their backend by its label alone.
        let wrong = backend_problem("/p.dat", Some(&info("casper-rw")), Some(Family::LiveBoot));
        assert_eq!(wrong.as_deref(), Some("persistence backend /p.dat is labelled \"casper-rw\"; live-boot looks for \"persistence\""));
        assert_eq!(backend_problem("/p.dat", Some(&info("persistence")), Some(Family::LiveBoot)), None);
        assert!(backend_problem("/c.dat", Some(&info("persistence")), Some(Family::Casper)).is_some_and(|p| p.contains("\"casper-rw\"")));
        // dracut is told its backend's label, whatever it is: the loader
        // boots with it, so it is no problem.
        assert_eq!(backend_problem("/d.dat", Some(&info("mychanges")), Some(Family::Dracut)), None);
        assert!(backend_problem("/d.dat", Some(&info("")), Some(Family::Dracut)).is_some_and(|p| p.contains("no label")));
        assert_eq!(new_label(Family::Dracut), "vtoycow");
    }

    #[test]
    fn families_by_their_root_folders() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(live_family(&names(&["isolinux", "live"])), Ok(Family::LiveBoot));
        assert_eq!(live_family(&names(&["CASPER"])), Ok(Family::Casper));
        // live-boot's backend on an ISO with both, as the loader judges it.
        assert_eq!(live_family(&names(&["casper", "live"])), Ok(Family::LiveBoot));
        assert_eq!(live_family(&names(&["LiveOS", "boot"])), Ok(Family::Dracut));
        assert!(live_family(&names(&["arch"])).is_err_and(|e| e.contains("kernel command line")));
        assert!(live_family(&names(&["boot"])).is_err());
    }
}
