//! The configuration file and what it does to the menu.
//!
//! dropboot reads `/dropboot/dropboot.json`, else `/ventoy/ventoy.json`, so
//! a stick brought from Ventoy keeps its menu. The schema is the part of
//! ventoy.json that means something to a BIOS loader:
//!
//! - `control`: `VTOY_MENU_TIMEOUT`, `VTOY_DEFAULT_IMAGE` (a path, or
//!   `VTOY_EXIT`: boot the next disk), `VTOY_DEFAULT_SEARCH_ROOT`,
//!   `VTOY_MAX_SEARCH_LEVEL`, `VTOY_FILT_DOT_UNDERSCORE_FILE`,
//!   `VTOY_SORT_CASE_SENSITIVE`, `VTOY_TREE_VIEW_MENU_STYLE`,
//!   `VTOY_DEFAULT_MENU_MODE`; and dropboot's own `DROPBOOT_ISO_PARTITION`
//!   ("0": write no partition entry for a booted ISO, see
//!   [`crate::iso_partition`]);
//! - `menu_alias`, `menu_tip` (`tips`), `menu_class`, `image_list`,
//!   `image_blacklist`;
//! - `persistence` (`image`, `backend`: a path or a list, `autosel`,
//!   `timeout`) and `auto_install` (`image`, `template`: a path or a list,
//!   `autosel`, `timeout`): files added to a live or installer ISO as it
//!   boots (DESIGN D9), read as [`Attach`] entries.
//!
//! As in Ventoy, `NAME_legacy` replaces `NAME` (this is a legacy-BIOS
//! loader). Anything else (themes, UEFI variants, Ventoy-only
//! control keys) is ignored and listed in [`Config::ignored`]. Paths match
//! without regard to case (FAT and exFAT names do not either), and `*`
//! matches exactly one character, as Ventoy's patterns do.
//!
//! A syntax error makes the whole file unusable ([`parse`] fails with its
//! place). A bad setting is a [`Problem`] with its place, and the rest of
//! the file still applies.

pub mod json;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::scan::{find_file, BootFile, ReadWhole};
use crate::text::cmp_ignore_case;
use json::{Member, Node, Pos, Value};

/// Where the configuration file is looked for, first match wins.
pub const CONFIG_PATHS: [&str; 2] = ["/dropboot/dropboot.json", "/ventoy/ventoy.json"];

/// Configuration files larger than this are refused unread.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// What `VTOY_DEFAULT_IMAGE` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultEntry {
    /// A boot file, by path (a pattern, as in the other path settings).
    Image(String),
    /// `VTOY_EXIT`: leave dropboot for the next disk.
    NextDisk,
}

/// What a label (alias or tip) is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A boot file path (pattern).
    Image(String),
    /// A folder, by its full path.
    Dir(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub target: Target,
    pub text: String,
}

/// How a `menu_class` rule picks its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassRule {
    /// The file name contains this text.
    Key(String),
    /// The file lies directly in this folder.
    Parent(String),
    /// This folder (in the tree view).
    Dir(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    pub rule: ClassRule,
    pub class: String,
}

/// Files attached to an ISO as it boots: a `persistence` entry (its
/// backends) or an `auto_install` entry (its templates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attach {
    /// The ISO, by path (a pattern, as in the other path settings).
    pub image: String,
    /// The backend or template files, full paths, at least one.
    pub files: Vec<String>,
    /// `autosel`: the file used without asking, 1-based; `None`: ask
    /// (Ventoy's 0, "boot without", is `Some(0)`).
    pub autosel: Option<u32>,
    /// `timeout`: seconds before `autosel` is taken.
    pub timeout: Option<u32>,
}

/// The settings that shape the menu. `Config::default()` is the menu with
/// no configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Seconds before the default entry boots; `None`: wait for a key.
    pub timeout: Option<u32>,
    pub default_entry: Option<DefaultEntry>,
    /// Only files under this folder are listed (no trailing `/`).
    pub search_root: Option<String>,
    /// Folder levels below the search root searched; 0: its files only.
    pub max_search_level: Option<usize>,
    pub sort_case_sensitive: bool,
    /// Start in the tree view (`VTOY_DEFAULT_MENU_MODE` 1).
    pub tree_view: bool,
    /// Tree view without the `[DIR]` marks and sizes (`VTOY_TREE_VIEW_MENU_STYLE` 1).
    pub tree_plain: bool,
    /// `DROPBOOT_ISO_PARTITION` "0": a booted ISO gets no partition entry.
    pub iso_partition_off: bool,
    pub aliases: Vec<Label>,
    pub tips: Vec<Label>,
    pub classes: Vec<Class>,
    /// `image_list`: only these files, in this order.
    pub image_list: Option<Vec<String>>,
    pub blacklist: Vec<String>,
    /// `persistence`: backends for live ISOs.
    pub persistence: Vec<Attach>,
    /// `auto_install`: templates for installer ISOs.
    pub auto_install: Vec<Attach>,
    /// Settings read but not used by dropboot, for the details screen.
    pub ignored: Vec<String>,
}

/// A setting that could not be used, and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub pos: Pos,
    pub what: String,
}

impl core::fmt::Display for Problem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.pos.line == 0 {
            // Not a place in the text (the file as a whole).
            write!(f, "{}", self.what)
        } else {
            write!(f, "{}: {}", self.pos, self.what)
        }
    }
}

/// A boot file as the menu shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub file: BootFile,
    /// `menu_alias`: shown instead of the path.
    pub alias: Option<String>,
    /// `menu_tip`: shown while the entry is selected.
    pub tip: Option<String>,
    /// `menu_class`: shown in the details.
    pub class: Option<String>,
}

impl Entry {
    /// The text the menu shows for this entry.
    pub fn label(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.file.path)
    }
}

/// The settings a legacy-BIOS loader uses; `NAME_legacy` replaces `NAME`.
const SECTIONS: [&str; 8] = ["control", "menu_alias", "menu_tip", "menu_class", "image_list", "image_blacklist", "persistence", "auto_install"];

/// Reads a configuration file. `Err` is a syntax error (nothing applies);
/// the problems are settings skipped, each with its place.
pub fn parse(text: &[u8]) -> Result<(Config, Vec<Problem>), Problem> {
    let doc = json::parse(text).map_err(|e| Problem { pos: e.pos, what: e.what })?;
    let Value::Object(members) = &doc.value else {
        return Err(Problem { pos: doc.pos, what: format!("the file must be a JSON object {{...}}, not {}", doc.value.kind()) });
    };
    let mut r = Reader { config: Config::default(), problems: Vec::new() };
    for m in members {
        let (base, legacy) = match m.key.strip_suffix("_legacy") {
            Some(base) => (base, true),
            None => (m.key.as_str(), false),
        };
        if !SECTIONS.contains(&base) {
            r.config.ignored.push(m.key.clone());
            continue;
        }
        if !legacy && members.iter().any(|o| o.key.strip_suffix("_legacy") == Some(base)) {
            continue;
        }
        match base {
            "control" => r.control(&m.node),
            "menu_alias" => r.labels(&m.node, "alias").into_iter().for_each(|l| r.config.aliases.push(l)),
            "menu_tip" => r.menu_tip(&m.node),
            "menu_class" => r.menu_class(&m.node),
            "image_list" => r.config.image_list = Some(r.paths(&m.node)),
            "persistence" => r.config.persistence = r.attach(&m.node, "backend"),
            "auto_install" => r.config.auto_install = r.attach(&m.node, "template"),
            _ => r.config.blacklist = r.paths(&m.node),
        }
    }
    if r.config.image_list.is_some() && !r.config.blacklist.is_empty() {
        let at = members.iter().find(|m| m.key.starts_with("image_blacklist")).map_or(doc.pos, |m| m.key_pos);
        r.problem(at, "image_list and image_blacklist exclude each other; image_blacklist is not used".into());
        r.config.blacklist.clear();
    }
    Ok((r.config, r.problems))
}

struct Reader {
    config: Config,
    problems: Vec<Problem>,
}

impl Reader {
    fn problem(&mut self, pos: Pos, what: String) {
        self.problems.push(Problem { pos, what });
    }

    fn array<'a>(&mut self, node: &'a Node, what: &str) -> &'a [Node] {
        match &node.value {
            Value::Array(items) => items,
            other => {
                self.problem(node.pos, format!("{what} must be an array [...], not {}", other.kind()));
                &[]
            }
        }
    }

    fn object<'a>(&mut self, node: &'a Node, what: &str) -> &'a [Member] {
        match &node.value {
            Value::Object(members) => members,
            other => {
                self.problem(node.pos, format!("{what} must be an object {{...}}, not {}", other.kind()));
                &[]
            }
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.problem(node.pos, format!("{what} must be a string, not {}", other.kind()));
                None
            }
        }
    }

    /// A full path: starts with `/`; a trailing `/` is dropped.
    fn path(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if !s.starts_with('/') {
            self.problem(node.pos, format!("{what} {s:?} must be a full path starting with '/'"));
            return None;
        }
        let trimmed = s.trim_end_matches('/');
        Some(if trimmed.is_empty() { "/".into() } else { trimmed.into() })
    }

    fn paths(&mut self, node: &Node) -> Vec<String> {
        let mut out = Vec::new();
        for item in self.array(node, "this list") {
            if let Some(p) = self.path(item, "a path") {
                out.push(p);
            }
        }
        out
    }

    fn control(&mut self, node: &Node) {
        for item in self.array(node, "control") {
            for m in self.object(item, "each control item") {
                self.control_key(m);
            }
        }
    }

    fn control_key(&mut self, m: &Member) {
        let text = match &m.node.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.clone(),
            other => {
                let what = format!("{} must be a string, not {}", m.key, other.kind());
                return self.problem(m.node.pos, what);
            }
        };
        let flag = |r: &mut Reader| match text.as_str() {
            "0" => Some(false),
            "1" => Some(true),
            _ => {
                r.problem(m.node.pos, format!("{} must be \"0\" or \"1\", not {text:?}", m.key));
                None
            }
        };
        let c = &mut self.config;
        match m.key.as_str() {
            "VTOY_MENU_TIMEOUT" => match text.parse::<u32>() {
                Ok(s) => c.timeout = Some(s),
                Err(_) => self.problem(m.node.pos, format!("VTOY_MENU_TIMEOUT must be whole seconds, not {text:?}")),
            },
            "VTOY_DEFAULT_IMAGE" => {
                if text == "VTOY_EXIT" {
                    c.default_entry = Some(DefaultEntry::NextDisk);
                } else if text.starts_with('/') {
                    c.default_entry = Some(DefaultEntry::Image(text));
                } else {
                    let what = format!("VTOY_DEFAULT_IMAGE {text:?} is not a file path; dropboot has no hotkey menus");
                    self.problem(m.node.pos, what);
                }
            }
            "VTOY_DEFAULT_SEARCH_ROOT" => {
                if let Some(p) = self.path(&m.node, "VTOY_DEFAULT_SEARCH_ROOT") {
                    self.config.search_root = (p != "/").then_some(p);
                }
            }
            "VTOY_MAX_SEARCH_LEVEL" => match text.as_str() {
                "max" => c.max_search_level = None,
                n => match n.parse::<usize>() {
                    Ok(n) => c.max_search_level = Some(n),
                    Err(_) => self.problem(m.node.pos, format!("VTOY_MAX_SEARCH_LEVEL must be \"max\" or a number, not {text:?}")),
                },
            },
            "VTOY_FILT_DOT_UNDERSCORE_FILE" => {
                if flag(self) == Some(false) {
                    self.config.ignored.push("VTOY_FILT_DOT_UNDERSCORE_FILE=0 (names starting with . are never boot files)".into());
                }
            }
            "VTOY_SORT_CASE_SENSITIVE" => self.config.sort_case_sensitive = flag(self).unwrap_or(false),
            "VTOY_TREE_VIEW_MENU_STYLE" => self.config.tree_plain = flag(self).unwrap_or(false),
            "VTOY_DEFAULT_MENU_MODE" => self.config.tree_view = flag(self).unwrap_or(false),
            "DROPBOOT_ISO_PARTITION" => self.config.iso_partition_off = flag(self) == Some(false),
            other => self.config.ignored.push(other.to_owned()),
        }
    }

    /// `[{ "image"|"dir": path, <text_key>: text }, ...]`
    fn labels(&mut self, node: &Node, text_key: &str) -> Vec<Label> {
        let mut out = Vec::new();
        for item in self.array(node, "this list") {
            let members = self.object(item, "each item");
            if members.is_empty() {
                continue;
            }
            let mut target = None;
            let mut text: Option<String> = None;
            let before = self.problems.len();
            for m in members {
                match m.key.as_str() {
                    "image" => target = self.path(&m.node, "image").map(Target::Image),
                    "dir" => target = self.path(&m.node, "dir").map(Target::Dir),
                    k if k == text_key || (text_key == "tip" && (k == "tip1" || k == "tip2")) => {
                        if let Some(t) = self.string(&m.node, k) {
                            text = Some(match text {
                                Some(before) => format!("{before} {t}"),
                                None => t,
                            });
                        }
                    }
                    _ => {}
                }
            }
            match (target, text) {
                (Some(target), Some(text)) => out.push(Label { target, text }),
                // A bad value inside the item was already reported.
                _ if self.problems.len() > before => {}
                _ => self.problem(item.pos, format!("each item needs \"image\" or \"dir\", and \"{text_key}\"")),
            }
        }
        out
    }

    /// `[{ "image": path, <files_key>: path or [paths], "autosel": n, "timeout": s }, ...]`
    fn attach(&mut self, node: &Node, files_key: &str) -> Vec<Attach> {
        let mut out = Vec::new();
        for item in self.array(node, "this list") {
            let (mut image, mut files, mut autosel, mut timeout) = (None, Vec::new(), None, None);
            let before = self.problems.len();
            for m in self.object(item, "each item") {
                match m.key.as_str() {
                    "image" => image = self.path(&m.node, "image"),
                    k if k == files_key => match &m.node.value {
                        Value::Array(_) => files = self.paths(&m.node),
                        _ => files.extend(self.path(&m.node, files_key)),
                    },
                    "autosel" => autosel = self.number(&m.node, "autosel"),
                    "timeout" => timeout = self.number(&m.node, "timeout"),
                    _ => {}
                }
            }
            if let Some(n) = autosel.filter(|&n| n as usize > files.len() && !files.is_empty()) {
                self.problem(item.pos, format!("autosel {n} names no {files_key}: there are {}", files.len()));
                autosel = None;
            }
            match image {
                Some(image) if !files.is_empty() => out.push(Attach { image, files, autosel, timeout }),
                _ if self.problems.len() > before => {}
                _ => self.problem(item.pos, format!("each item needs \"image\" and \"{files_key}\"")),
            }
        }
        out
    }

    /// A whole number, written as a number or as text (`3` or `"3"`).
    fn number(&mut self, node: &Node, what: &str) -> Option<u32> {
        let text = match &node.value {
            Value::Number(n) | Value::String(n) => n,
            other => {
                self.problem(node.pos, format!("{what} must be a whole number, not {}", other.kind()));
                return None;
            }
        };
        let n = text.parse::<u32>().ok();
        if n.is_none() {
            self.problem(node.pos, format!("{what} must be a whole number, not {text:?}"));
        }
        n
    }

    fn menu_tip(&mut self, node: &Node) {
        for m in self.object(node, "menu_tip") {
            match m.key.as_str() {
                "tips" => {
                    let tips = self.labels(&m.node, "tip");
                    self.config.tips.extend(tips);
                }
                // Placement and colour belong to Ventoy's graphical theme.
                "left" | "top" | "color" => {}
                other => self.config.ignored.push(format!("menu_tip.{other}")),
            }
        }
    }

    fn menu_class(&mut self, node: &Node) {
        for item in self.array(node, "menu_class") {
            let mut rule = None;
            let mut class = None;
            for m in self.object(item, "each item") {
                match m.key.as_str() {
                    "key" => rule = self.string(&m.node, "key").map(ClassRule::Key),
                    "parent" => rule = self.path(&m.node, "parent").map(ClassRule::Parent),
                    "dir" => rule = self.path(&m.node, "dir").map(ClassRule::Dir),
                    "class" => class = self.string(&m.node, "class"),
                    _ => {}
                }
            }
            match (rule, class) {
                (Some(rule), Some(class)) => self.config.classes.push(Class { rule, class }),
                _ => self.problem(item.pos, "each item needs \"key\", \"parent\" or \"dir\", and \"class\"".into()),
            }
        }
    }
}

/// The configuration file found on a volume, and what reading it gave.
#[derive(Debug)]
pub struct Loaded {
    /// Where it was found (one of [`CONFIG_PATHS`]).
    pub path: &'static str,
    /// `Err`: unusable (syntax error, too large, unreadable).
    pub result: Result<(Config, Vec<Problem>), Problem>,
}

impl Loaded {
    /// The configuration to use: the file's, or the defaults if it is unusable.
    pub fn config(&self) -> Config {
        self.result.as_ref().map(|(c, _)| c.clone()).unwrap_or_default()
    }

    /// The first thing wrong with the file, in one line for a status row.
    pub fn first_problem(&self) -> Option<alloc::string::String> {
        match &self.result {
            Err(e) => Some(format!("{}: {e}; settings not used", self.path)),
            Ok((_, problems)) => match problems.as_slice() {
                [] => None,
                [p] => Some(format!("{}: {p}", self.path)),
                [p, rest @ ..] => Some(format!("{}: {p} (and {} more)", self.path, rest.len())),
            },
        }
    }
}

/// A configuration file found: where it is (one of [`CONFIG_PATHS`]), and
/// its bytes or why they cannot be had.
pub type FoundConfig = (&'static str, Result<Vec<u8>, Problem>);

/// Finds and reads the configuration file of a volume. `Ok(None)`: there
/// is none. A read error of the folders searched is `Err`.
pub fn read<T: ReadWhole + ?Sized>(fs: &mut T) -> Result<Option<FoundConfig>, T::Error> {
    for path in CONFIG_PATHS {
        let Some(file) = find_file(fs, path)? else {
            continue;
        };
        let text = if file.size > MAX_CONFIG_BYTES {
            Err(Problem { pos: Pos::default(), what: format!("the file is larger than {} KiB", MAX_CONFIG_BYTES / 1024) })
        } else {
            fs.read_whole(&file).map_err(|e| Problem { pos: Pos::default(), what: format!("cannot be read: {e}") })
        };
        return Ok(Some((path, text)));
    }
    Ok(None)
}

/// Finds, reads and parses the configuration file of a volume (see [`read`]).
pub fn load<T: ReadWhole + ?Sized>(fs: &mut T) -> Result<Option<Loaded>, T::Error> {
    Ok(read(fs)?.map(|(path, text)| Loaded { path, result: text.and_then(|t| parse(&t)) }))
}

/// True if `path` matches `pattern`: the same characters without regard to
/// case, where each `*` stands for exactly one character other than `/`.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.chars();
    let mut s = path.chars();
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some('*'), Some(c)) if c != '/' => {}
            (Some(a), Some(b)) if a == b || a.to_lowercase().eq(b.to_lowercase()) => {}
            _ => return false,
        }
    }
}

/// The folder a path lies in ("/" for the root).
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// True if `path` lies in `folder` or below it.
pub fn is_under(path: &str, folder: &str) -> bool {
    if folder == "/" {
        return true;
    }
    path.len() > folder.len() && path.as_bytes()[folder.len()] == b'/' && path.get(..folder.len()).is_some_and(|head| path_matches(folder, head))
}

impl Config {
    /// The boot files the menu lists, in menu order, with their labels.
    pub fn arrange(&self, files: Vec<BootFile>) -> Vec<Entry> {
        let root = self.search_root.as_deref().unwrap_or("/");
        let mut files: Vec<BootFile> = files
            .into_iter()
            .filter(|f| is_under(&f.path, root))
            .filter(|f| match self.max_search_level {
                // Folder levels between the root and the file.
                Some(level) => {
                    let inside = if root == "/" { &f.path[..] } else { &f.path[root.len()..] };
                    inside.matches('/').count() <= level + 1
                }
                None => true,
            })
            .filter(|f| !self.blacklist.iter().any(|p| path_matches(p, &f.path)))
            .collect();
        if self.sort_case_sensitive {
            files.sort_by(|a, b| a.path.cmp(&b.path));
        } else {
            files.sort_by(|a, b| cmp_ignore_case(&a.path, &b.path));
        }
        if let Some(list) = &self.image_list {
            let mut taken = alloc::vec![false; files.len()];
            let mut ordered = Vec::new();
            for pattern in list {
                for (i, f) in files.iter().enumerate() {
                    if !taken[i] && path_matches(pattern, &f.path) {
                        taken[i] = true;
                        ordered.push(f.clone());
                    }
                }
            }
            files = ordered;
        }
        files.into_iter().map(|file| self.entry(file)).collect()
    }

    fn entry(&self, file: BootFile) -> Entry {
        let text_for =
            |labels: &[Label]| labels.iter().find(|l| matches!(&l.target, Target::Image(p) if path_matches(p, &file.path))).map(|l| l.text.clone());
        let class = self
            .classes
            .iter()
            .find(|c| match &c.rule {
                ClassRule::Key(key) => file.name().contains(key.as_str()),
                ClassRule::Parent(dir) => path_matches(dir, parent_of(&file.path)),
                ClassRule::Dir(_) => false,
            })
            .map(|c| c.class.clone());
        Entry { alias: text_for(&self.aliases), tip: text_for(&self.tips), class, file }
    }

    /// The `persistence` entry for the boot file at `path`, if any (the
    /// first that matches, as in Ventoy).
    pub fn persistence_for(&self, path: &str) -> Option<&Attach> {
        self.persistence.iter().find(|a| path_matches(&a.image, path))
    }

    /// The `auto_install` entry for the boot file at `path`, if any.
    pub fn auto_install_for(&self, path: &str) -> Option<&Attach> {
        self.auto_install.iter().find(|a| path_matches(&a.image, path))
    }

    /// The folder the tree view opens in.
    pub fn tree_root(&self) -> &str {
        self.search_root.as_deref().unwrap_or("/")
    }

    /// The alias of a folder, for the tree view.
    pub fn dir_alias(&self, dir: &str) -> Option<&str> {
        dir_label(&self.aliases, dir)
    }

    /// The tip of a folder, for the tree view.
    pub fn dir_tip(&self, dir: &str) -> Option<&str> {
        dir_label(&self.tips, dir)
    }

    /// The entry selected at start: `VTOY_DEFAULT_IMAGE` if it is listed,
    /// else the first. `None` when the default is to boot the next disk.
    pub fn default_index(&self, entries: &[Entry]) -> Option<usize> {
        match &self.default_entry {
            Some(DefaultEntry::NextDisk) => None,
            Some(DefaultEntry::Image(p)) => Some(entries.iter().position(|e| path_matches(p, &e.file.path)).unwrap_or(0)),
            None => Some(0),
        }
    }
}

fn dir_label<'a>(labels: &'a [Label], dir: &str) -> Option<&'a str> {
    labels.iter().find(|l| matches!(&l.target, Target::Dir(d) if path_matches(d, dir))).map(|l| l.text.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> BootFile {
        BootFile { path: path.into(), size: 1, node: crate::tree::NodeId::fat(3, false) }
    }

    fn paths(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.file.path.as_str()).collect()
    }

    #[test]
    fn patterns_take_one_character_per_star_and_ignore_case() {
        assert!(path_matches("/ISO/Ubuntu-20.**-desktop.iso", "/iso/ubuntu-20.04-DESKTOP.iso"));
        assert!(!path_matches("/ISO/abc*.iso", "/ISO/abc12.iso"));
        assert!(!path_matches("/ISO/abc*.iso", "/ISO/abc.iso"));
        assert!(!path_matches("/*/a.iso", "//a.iso"));
        assert!(is_under("/ISO/Linux/a.iso", "/iso"));
        assert!(!is_under("/ISOS/a.iso", "/ISO"));
        assert_eq!(parent_of("/a.iso"), "/");
        assert_eq!(parent_of("/x/y/a.iso"), "/x/y");
    }

    #[test]
    fn legacy_sections_replace_the_plain_ones_and_the_rest_is_listed_as_ignored() {
        let text = br#"{
            "control": [ { "VTOY_MENU_TIMEOUT": "30" } ],
            "control_legacy": [ { "VTOY_MENU_TIMEOUT": "7" }, { "VTOY_MENU_LANGUAGE": "de_DE" } ],
            "theme": { "file": "/ventoy/theme/blur/theme.txt" },
            "control_uefi": []
        }"#;
        let (config, problems) = parse(text).expect("valid");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.timeout, Some(7));
        assert_eq!(config.ignored, ["VTOY_MENU_LANGUAGE", "theme", "control_uefi"]);
    }

    #[test]
    fn a_bad_setting_is_a_problem_with_its_place_and_the_rest_still_applies() {
        let text = b"{\n \"control\": [\n  { \"VTOY_MENU_TIMEOUT\": \"ten\" },\n  { \"VTOY_DEFAULT_MENU_MODE\": \"1\" }\n ],\n \"menu_alias\": [ { \"image\": \"a.iso\", \"alias\": \"A\" } ]\n}";
        let (config, problems) = parse(text).expect("valid JSON");
        assert!(config.tree_view);
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].to_string(), "line 3, column 26: VTOY_MENU_TIMEOUT must be whole seconds, not \"ten\"");
        assert_eq!(problems[1].pos.line, 6);
        assert!(problems[1].what.contains("must be a full path"), "{}", problems[1]);
        let syntax = parse(b"{ \"control\": [ }").expect_err("syntax");
        assert_eq!(syntax.to_string(), "line 1, column 16: expected a value, found '}'");
        assert!(parse(b"[]").expect_err("not an object").what.contains("must be a JSON object"));
    }

    #[test]
    fn the_menu_follows_root_level_blacklist_and_sorting() {
        let files = ["/ISO/b.iso", "/ISO/A.iso", "/ISO/deep/x/y.iso", "/ISO/deep/z.iso", "/other.iso"].map(file).to_vec();
        let config =
            Config { search_root: Some("/ISO".into()), max_search_level: Some(1), blacklist: ["/ISO/b.*so".into()].to_vec(), ..Config::default() };
        assert_eq!(paths(&config.arrange(files.clone())), ["/ISO/A.iso", "/ISO/deep/z.iso"]);
        let case = Config { sort_case_sensitive: true, ..Config::default() };
        assert_eq!(paths(&case.arrange(files.clone()))[..2], ["/ISO/A.iso", "/ISO/b.iso"]);
        let level0 = Config { max_search_level: Some(0), ..Config::default() };
        assert_eq!(paths(&level0.arrange(files)), ["/other.iso"]);
    }

    #[test]
    fn image_list_orders_and_limits_the_menu() {
        let files = ["/a.iso", "/b.iso", "/c1.iso", "/c2.iso"].map(file).to_vec();
        let config = Config { image_list: Some(["/c*.iso".into(), "/a.iso".into(), "/gone.iso".into()].to_vec()), ..Config::default() };
        assert_eq!(paths(&config.arrange(files)), ["/c1.iso", "/c2.iso", "/a.iso"]);
    }

    #[test]
    fn aliases_tips_classes_and_the_default() {
        let text = br#"{
            "control": [ { "VTOY_DEFAULT_IMAGE": "/ISO/deb.iso" }, { "VTOY_MENU_TIMEOUT": "5" } ],
            "menu_alias": [ { "image": "/ISO/deb.iso", "alias": "Debian" }, { "dir": "/ISO", "alias": "[Images]" } ],
            "menu_tip": { "left": "10%", "tips": [ { "image": "/ISO/deb.iso", "tip": "netinst" } ] },
            "menu_class": [ { "key": "deb", "class": "debian" } ]
        }"#;
        let (config, problems) = parse(text).expect("valid");
        assert!(problems.is_empty(), "{problems:?}");
        let entries = config.arrange(["/ISO/arch.iso", "/ISO/deb.iso"].map(file).to_vec());
        assert_eq!(entries[1].label(), "Debian");
        assert_eq!(entries[1].tip.as_deref(), Some("netinst"));
        assert_eq!(entries[1].class.as_deref(), Some("debian"));
        assert_eq!(entries[0].label(), "/ISO/arch.iso");
        assert_eq!(config.default_index(&entries), Some(1));
        assert_eq!(config.dir_alias("/iso"), Some("[Images]"));
        let exit = parse(br#"{"control":[{"VTOY_DEFAULT_IMAGE":"VTOY_EXIT"}]}"#).expect("valid").0;
        assert_eq!(exit.default_index(&entries), None);
    }

    #[test]
    fn persistence_and_auto_install_take_a_path_or_a_list() {
        let text = br#"{
            "persistence": [
                { "image": "/ISO/deb.iso", "backend": "/persistence/deb.dat" },
                { "image": "/ISO/ubuntu.iso", "backend": [ "/p/1.dat", "/p/2.dat" ], "autosel": 2, "timeout": "10" }
            ],
            "auto_install": [ { "image": "/ISO/deb.iso", "template": [ "/ventoy/a.cfg" ], "autosel": 1 } ]
        }"#;
        let (config, problems) = parse(text).expect("valid");
        assert!(problems.is_empty() && config.ignored.is_empty(), "{problems:?} {:?}", config.ignored);
        assert_eq!(config.persistence.len(), 2);
        assert_eq!(config.persistence[0].files, ["/persistence/deb.dat"]);
        let ubuntu = config.persistence_for("/iso/UBUNTU.iso").expect("matched without regard to case");
        assert_eq!((ubuntu.files.len(), ubuntu.autosel, ubuntu.timeout), (2, Some(2), Some(10)));
        assert_eq!(config.auto_install[0].files, ["/ventoy/a.cfg"]);
        assert!(config.persistence_for("/other.iso").is_none());
    }

    #[test]
    fn a_bad_persistence_entry_is_a_problem_in_words() {
        let text = b"{\n \"persistence\": [\n  { \"image\": \"/a.iso\", \"backend\": \"a.dat\" },\n  { \"image\": \"/b.iso\" },\n  { \"image\": \"/c.iso\", \"backend\": \"/c.dat\", \"autosel\": 3 },\n  { \"image\": \"/d.iso\", \"backend\": \"/d.dat\", \"timeout\": \"soon\" }\n ]\n}";
        let (config, problems) = parse(text).expect("valid JSON");
        let words: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(words.len(), 4, "{words:?}");
        assert!(words[0].starts_with("line 3, column 35: backend \"a.dat\" must be a full path"), "{words:?}");
        assert_eq!(words[1], "line 4, column 3: each item needs \"image\" and \"backend\"");
        assert_eq!(words[2], "line 5, column 3: autosel 3 names no backend: there are 1");
        assert_eq!(words[3], "line 6, column 56: timeout must be a whole number, not \"soon\"");
        // The entries whose backend is usable still apply.
        assert_eq!(config.persistence.iter().map(|a| a.image.as_str()).collect::<Vec<_>>(), ["/c.iso", "/d.iso"]);
    }

    #[test]
    fn dropboot_iso_partition_0_turns_the_partition_entry_off_and_it_is_on_by_default() {
        assert!(!parse(br#"{"control":[{"VTOY_MENU_TIMEOUT":"3"}]}"#).expect("valid").0.iso_partition_off);
        let (off, problems) = parse(br#"{"control":[{"DROPBOOT_ISO_PARTITION":"0"}]}"#).expect("valid");
        assert!(off.iso_partition_off && problems.is_empty() && off.ignored.is_empty());
        let (_, problems) = parse(br#"{"control":[{"DROPBOOT_ISO_PARTITION":"no"}]}"#).expect("valid");
        assert_eq!(problems.len(), 1);
    }
}
