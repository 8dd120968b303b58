//! `dropboot config check`: the configuration file read by the same parser
//! as stage2 (bootfs::config), its errors with line and column, and what
//! it does to the menu of the stick it is on.

use std::path::Path;

use bootfs::block::BlockDevice;
use bootfs::config::{self, Config, DefaultEntry, Problem, Target};
use bootfs::filesystem::Filesystem;
use bootfs::scan::{scan, BootFile};

use crate::error::{Error, Result};
use crate::image::Disk;
use crate::persistence;
use crate::stick::Lock;
use crate::stick_path::StickPath;

/// Checks the configuration in `target`: a dropboot image or stick (its
/// `/dropboot/dropboot.json` or `/ventoy/ventoy.json`), or a JSON file.
pub fn check(target: &Path) -> Result<()> {
    let what = target.display().to_string();
    let bytes = std::fs::read(target).ok().filter(|_| is_json_file(target));
    let (label, text, result, files) = match bytes {
        Some(text) => {
            let result = config::parse(&text);
            (what.clone(), text, result, None)
        }
        None => {
            let mut disk = Disk::open(target, Lock::Read)?;
            let mut fs = Filesystem::open(disk.block_device()).map_err(|e| Error::disk(target, e))?;
            let found = config::read(&mut fs).map_err(|e| Error::disk(target, e))?;
            let Some((path, text)) = found else {
                println!("{what} has no configuration file ({}): the menu uses the defaults", config::CONFIG_PATHS.join(" or "));
                return Ok(());
            };
            let (text, result) = match text {
                Ok(text) => {
                    let result = config::parse(&text);
                    (text, result)
                }
                Err(unusable) => (Vec::new(), Err(unusable)),
            };
            let files = scan(&mut fs).map_err(|e| Error::disk(target, e))?.files;
            let attached = result.as_ref().map(|(c, _)| attached_files(&mut fs, c, &files)).unwrap_or_default();
            (format!("{what}:{path}"), text, result, Some((files, attached)))
        }
    };
    let (config, problems) = match result {
        Err(syntax) => {
            report(&label, &text, &syntax);
            return Err(Error::Config { problems: 1, what: label });
        }
        Ok(ok) => ok,
    };
    for p in &problems {
        report(&label, &text, p);
    }
    if !config.ignored.is_empty() {
        println!("{label}: ignored (not used by a BIOS loader): {}", config.ignored.join(", "));
    }
    if let Some((files, attached)) = files {
        summarize(&config, files);
        for line in attached {
            println!("{line}");
        }
    }
    if problems.is_empty() {
        println!("{label}: OK");
        Ok(())
    } else {
        Err(Error::Config { problems: problems.len(), what: label })
    }
}

fn is_json_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// One problem as `WHERE: line L, column C: what`, then the line and a caret.
fn report(label: &str, text: &[u8], p: &Problem) {
    println!("{label}: {p}");
    if p.pos.line == 0 {
        return;
    }
    let text = String::from_utf8_lossy(text);
    if let Some(line) = text.lines().nth(p.pos.line as usize - 1) {
        println!("    {line}");
        println!("    {}^", " ".repeat(p.pos.column.saturating_sub(1) as usize));
    }
}

/// The `persistence` and `auto_install` entries against the stick: one line
/// for each ISO that persists, and a warning for each file missing or
/// unfit (a backend in pieces, not ext4, labelled for another live system).
fn attached_files<D: BlockDevice>(fs: &mut Filesystem<D>, config: &Config, files: &[BootFile]) -> Vec<String> {
    let mut lines = Vec::new();
    let on_stick = |p: &str| files.iter().find(|f| config::path_matches(p, &f.path)).map(|f| f.path.clone());
    for entry in &config.persistence {
        let Some(image) = on_stick(&entry.image) else {
            lines.push(format!("warning: persistence names {}, which is not on the stick", entry.image));
            continue;
        };
        let family = persistence::family_on(fs, &image);
        for backend in &entry.files {
            match persistence::inspect(fs, backend) {
                Err(e) => lines.push(format!("warning: persistence backend {backend} cannot be read: {e}")),
                Ok(info) => match persistence::backend_problem(backend, info.as_ref(), family) {
                    Some(problem) => lines.push(format!("warning: {problem}")),
                    None => lines.push(format!("persistence: {image} keeps its changes in {}", persistence::describe(backend, info.as_ref()))),
                },
            }
        }
    }
    for entry in &config.auto_install {
        if on_stick(&entry.image).is_none() {
            lines.push(format!("warning: auto_install names {}, which is not on the stick", entry.image));
        }
        for template in &entry.files {
            if !matches!(bootfs::scan::find_file(fs, template), Ok(Some(_))) {
                lines.push(format!("warning: auto_install template {template} is not on the stick"));
            }
        }
    }
    lines
}

/// What the configuration makes of the stick's files: the menu, and the
/// paths it names that are not there.
fn summarize(config: &Config, files: Vec<BootFile>) {
    let all = files.clone();
    let entries = config.arrange(files);
    println!("menu: {} of {} boot files, {} view", entries.len(), all.len(), if config.tree_view { "tree" } else { "list" });
    for e in &entries {
        match &e.alias {
            Some(alias) => println!("  {}  ({alias})", e.file.path),
            None => println!("  {}", e.file.path),
        }
    }
    let exists = |p: &str| all.iter().any(|f| config::path_matches(p, &f.path));
    match &config.default_entry {
        Some(DefaultEntry::Image(p)) if !exists(p) => println!("warning: VTOY_DEFAULT_IMAGE {p} is not on the stick; the first entry is the default"),
        Some(DefaultEntry::Image(p)) => println!("default: {p}"),
        Some(DefaultEntry::NextDisk) => println!("default: boot the next disk (VTOY_EXIT)"),
        None => {}
    }
    if let Some(t) = config.timeout {
        println!("timeout: {t} s");
    }
    let named = config.aliases.iter().chain(&config.tips).filter_map(|l| match &l.target {
        Target::Image(p) => Some(p),
        Target::Dir(_) => None,
    });
    for p in named.chain(config.image_list.iter().flatten()).chain(&config.blacklist) {
        // A pattern's `*` stands for one character; the rest must be a path a stick can hold.
        if let Err(Error::Usage(why)) = StickPath::parse(&p.replace('*', "x")) {
            println!("warning: {p} can never be on a stick: {why}");
        } else if !exists(p) {
            println!("warning: {p} is named in the configuration but is not on the stick");
        }
    }
}
