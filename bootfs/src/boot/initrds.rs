//! Which files an ISO's boot loader loads as initrds, read from its
//! ISOLINUX/SYSLINUX and GRUB configurations: the files the loader appends
//! its archive to (issue 23).
//!
//! ISOLINUX: the first of `isolinux.cfg`/`syslinux.cfg` in the usual
//! folders, every `initrd=a,b` on any line (APPEND, KERNEL) and `INITRD
//! a,b`, following `INCLUDE`, `MENU INCLUDE` and `CONFIG`; relative paths
//! are taken from the configuration's folder (or CONFIG's). GRUB:
//! `/boot/grub/grub.cfg`, `loopback.cfg` and `/EFI/BOOT/grub.cfg`, each
//! `initrd`/`initrd16`/`initrdefi` line's files, following `source` and
//! `configfile`; `$prefix` is the configuration's folder, other variables
//! (`${root}`) and devices (`(loop)`) are dropped, paths are from the root. Only files that exist count; when
//! no configuration names one, the usual initrd names are tried. Every
//! count and depth is bounded.

use alloc::string::String;
use alloc::vec::Vec;

use crate::file::ByteSource;
use crate::iso_tree::Iso;

/// Files in the ISO, by absolute path.
pub trait IsoFiles {
    /// The bytes of the file at `path`, when it is there and small enough
    /// to be a configuration.
    fn read(&mut self, path: &str) -> Option<Vec<u8>>;
    /// Whether a file (not a folder) is at `path`.
    fn exists(&mut self, path: &str) -> bool;
}

/// A configuration is read when at most this long.
pub const MAX_CONFIG_BYTES: u32 = 256 * 1024;
/// INCLUDE/source levels followed.
const MAX_DEPTH: usize = 8;
/// Configuration files read in all.
const MAX_CONFIGS: usize = 32;
/// Initrds kept.
pub const MAX_INITRDS: usize = 16;

const ISOLINUX_FOLDERS: [&str; 5] = ["/isolinux", "/boot/isolinux", "/syslinux", "/boot/syslinux", ""];
const ISOLINUX_NAMES: [&str; 2] = ["isolinux.cfg", "syslinux.cfg"];
const GRUB_CONFIGS: [&str; 3] = ["/boot/grub/grub.cfg", "/boot/grub/loopback.cfg", "/EFI/BOOT/grub.cfg"];
/// Where live systems and installers keep their initrd, for ISOs whose
/// configuration names none that exists.
pub const USUAL_INITRDS: [&str; 12] = [
    "/live/initrd.img",
    "/casper/initrd",
    "/casper/initrd.gz",
    "/casper/initrd.lz",
    "/isolinux/initrd.img",
    "/images/pxeboot/initrd.img",
    "/install.amd/initrd.gz",
    "/install/initrd.gz",
    "/boot/initrd.img",
    "/boot/initrd",
    "/boot/x86_64/loader/initrd",
    "/arch/boot/x86_64/initramfs-linux.img",
];

impl<S: ByteSource + ?Sized> IsoFiles for Iso<'_, S> {
    fn read(&mut self, path: &str) -> Option<Vec<u8>> {
        Iso::read(self, path, MAX_CONFIG_BYTES).ok()
    }

    fn exists(&mut self, path: &str) -> bool {
        self.find(path).is_ok_and(|e| !e.is_folder)
    }
}

/// The initrds found, and where from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Initrds {
    /// Absolute paths, each once, in the order the configurations name them.
    pub paths: Vec<String>,
    /// The configuration files read, in order.
    pub configs: Vec<String>,
    /// No configuration named an initrd that exists: `paths` are the
    /// usual names found.
    pub usual_names: bool,
}

/// The initrds of the ISO `iso`.
pub fn find(iso: &mut impl IsoFiles) -> Initrds {
    let mut found = Initrds::default();
    let mut named = Vec::new();
    'isolinux: for folder in ISOLINUX_FOLDERS {
        for name in ISOLINUX_NAMES {
            let path = alloc::format!("{folder}/{name}");
            if let Some(text) = read_config(iso, &mut found, &path) {
                isolinux(iso, &mut found, &mut named, &text, folder, 0);
                break 'isolinux;
            }
        }
    }
    for path in GRUB_CONFIGS {
        if let Some(text) = read_config(iso, &mut found, path) {
            let folder = path.rsplit_once('/').map_or("", |(d, _)| d);
            grub(iso, &mut found, &mut named, &text, folder, 0);
        }
    }
    for path in named {
        if found.paths.len() < MAX_INITRDS && !found.paths.contains(&path) && iso.exists(&path) {
            found.paths.push(path);
        }
    }
    if found.paths.is_empty() {
        found.usual_names = true;
        found.paths = USUAL_INITRDS.iter().filter(|p| iso.exists(p)).map(|&p| p.into()).collect();
    }
    found
}

/// The text of a configuration not read yet, within the bounds.
fn read_config(iso: &mut impl IsoFiles, found: &mut Initrds, path: &str) -> Option<String> {
    if found.configs.len() >= MAX_CONFIGS || found.configs.iter().any(|c| c == path) {
        return None;
    }
    let bytes = iso.read(path)?;
    found.configs.push(path.into());
    Some(bytes.iter().map(|&b| b as char).collect())
}

fn isolinux(iso: &mut impl IsoFiles, found: &mut Initrds, named: &mut Vec<String>, text: &str, folder: &str, depth: usize) {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        let keyword = first.to_ascii_lowercase();
        let keyword = if keyword == "menu" { words.next().unwrap_or_default().to_ascii_lowercase() } else { keyword };
        match keyword.as_str() {
            "include" | "config" if depth < MAX_DEPTH => {
                let Some(file) = words.next().map(|f| resolve(f, folder)) else { continue };
                let next_folder = match (keyword.as_str(), words.next()) {
                    ("config", Some(dir)) => resolve(dir, folder),
                    ("config", None) => String::from(file.rsplit_once('/').map_or("", |(d, _)| d)),
                    _ => String::from(folder),
                };
                if let Some(text) = read_config(iso, found, &file) {
                    isolinux(iso, found, named, &text, &next_folder, depth + 1);
                }
            }
            "initrd" => add_list(named, words.next().unwrap_or_default(), folder),
            k if k.starts_with('#') => {}
            _ => {
                for w in line.split_whitespace() {
                    // Compared as bytes: the 8th byte may be inside a character.
                    if w.len() > 7 && w.as_bytes()[..7].eq_ignore_ascii_case(b"initrd=") {
                        add_list(named, &w[7..], folder);
                    }
                }
            }
        }
    }
}

/// "a,b" (ISOLINUX's list), each resolved against `folder`.
fn add_list(named: &mut Vec<String>, list: &str, folder: &str) {
    for f in list.split(',').filter(|f| !f.is_empty()) {
        if named.len() < 4 * MAX_INITRDS {
            named.push(resolve(f, folder));
        }
    }
}

/// `folder` is the configuration's, which `$prefix` and
/// `$config_directory` stand for.
fn grub(iso: &mut impl IsoFiles, found: &mut Initrds, named: &mut Vec<String>, text: &str, folder: &str, depth: usize) {
    for command in text.lines().flat_map(|l| l.split(';')) {
        let mut words = command.split_whitespace();
        match words.next() {
            Some("initrd" | "initrd16" | "initrdefi") => {
                for w in words.filter(|w| !w.starts_with("--")) {
                    if let Some(path) = grub_path(w, folder) {
                        if named.len() < 4 * MAX_INITRDS {
                            named.push(path);
                        }
                    }
                }
            }
            Some("source" | "configfile") if depth < MAX_DEPTH => {
                let Some(path) = words.next().and_then(|w| grub_path(w, folder)) else { continue };
                if let Some(text) = read_config(iso, found, &path) {
                    let folder = path.rsplit_once('/').map_or("", |(d, _)| d);
                    grub(iso, found, named, &text, folder, depth + 1);
                }
            }
            _ => {}
        }
    }
}

/// A GRUB file word as a path in the ISO: quotes and a leading device
/// ("(loop)", "(cd0)") dropped, `$prefix` and `$config_directory` taken
/// as `folder`, other variables dropped; None when nothing is left.
fn grub_path(word: &str, folder: &str) -> Option<String> {
    let mut w = unquote(word);
    if w.starts_with('(') {
        w = w.split_once(')').map_or("", |(_, rest)| rest);
    }
    let mut out = String::new();
    let mut rest = w;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, next) = match after.strip_prefix('{') {
            Some(braced) => braced.split_once('}').unwrap_or((braced, "")),
            None => after.split_at(after.find(|c: char| !c.is_ascii_alphanumeric() && c != '_').unwrap_or(after.len())),
        };
        if name == "prefix" || name == "config_directory" {
            out.push_str(folder);
        }
        rest = next;
    }
    out.push_str(rest);
    let path = resolve(&out, "");
    (path != "/").then_some(path)
}

/// `path` as an absolute path without "." or ".." or doubled slashes,
/// relative ones taken from `folder`.
pub fn resolve(path: &str, folder: &str) -> String {
    let path = unquote(path);
    let mut parts: Vec<&str> = Vec::new();
    let whole = if path.starts_with('/') { ["", path] } else { [folder, path] };
    for p in whole.iter().flat_map(|s| s.split('/')) {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::new();
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `s` without the quotes around it.
fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}
