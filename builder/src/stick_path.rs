//! Every path a user names on the stick (`--to`, the names of the files
//! added, the paths given to `rm`, `defrag` and `check`), checked in one
//! place before anything is written: `.` and empty parts are dropped, and
//! whatever FAT32, exFAT or Windows would refuse or change is refused in
//! words: `..`, the characters `" * / : < > ? \ |` and control characters,
//! names over 255 UTF-16 units, names ending in a dot or a space (Windows
//! drops them, so two names would become one), and folders deeper than
//! the menu searches.

use bootfs::scan::MAX_DEPTH;

use crate::error::{Error, Result};

/// The characters no FAT32, exFAT or NTFS name may hold (besides controls).
const FORBIDDEN: &[char] = &['"', '*', '/', ':', '<', '>', '?', '\\', '|'];
/// The longest name FAT32 long names and exFAT hold, in UTF-16 units.
pub const MAX_NAME_UNITS: usize = 255;
/// The FAT32 writer's placeholder name (builder/src/fat32.rs).
const RESERVED: &str = "DROPBOOT.TMP";

/// A checked, normalised path on the data partition: its parts, root first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StickPath {
    parts: Vec<String>,
}

/// Why one name cannot be stored, or `None` when it can.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("an empty name".into());
    }
    if name == "." || name == ".." {
        return Some(format!("'{name}' (a path here never goes up or stays put)"));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN.contains(c) || c.is_control()) {
        let shown = if c.is_control() { format!("the control character U+{:04X}", c as u32) } else { format!("'{c}'") };
        return Some(format!("{name:?}: {shown} is not allowed in names on FAT32, exFAT or NTFS"));
    }
    let units = name.encode_utf16().count();
    if units > MAX_NAME_UNITS {
        return Some(format!("{name:?} is {units} characters long (UTF-16); FAT32 and exFAT hold {MAX_NAME_UNITS}"));
    }
    // Linux holds names of 255 bytes, and so does the FAT32 writer.
    if name.len() > MAX_NAME_UNITS {
        return Some(format!("{name:?} is {} bytes long in UTF-8; Linux and dropboot's FAT32 writer hold {MAX_NAME_UNITS}", name.len()));
    }
    if let Some(c) = name.chars().find(|&c| c as u32 > 0xFFFF) {
        return Some(format!("{name:?}: {c:?} lies outside the Basic Multilingual Plane, which FAT32's long names do not hold"));
    }
    if name.eq_ignore_ascii_case(RESERVED) {
        return Some(format!("{name:?} is the name dropboot gives a copy under way (an add removes it)"));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some(format!("{name:?} ends in a dot or a space, which Windows drops (it would be another name there)"));
    }
    None
}

impl StickPath {
    /// The root folder.
    pub fn root() -> StickPath {
        StickPath { parts: Vec::new() }
    }

    /// A path as the user typed it (`/a/b`, `a//b/`, `./a`; `\` is no
    /// separator, it is refused like any forbidden character).
    pub fn parse(input: &str) -> Result<StickPath> {
        let mut path = StickPath::root();
        for part in input.split('/').filter(|p| !p.is_empty() && *p != ".") {
            path = path.join(part).map_err(|e| match e {
                Error::Usage(why) => Error::Usage(format!("{input:?} cannot be a path on the stick: {why}")),
                other => other,
            })?;
        }
        Ok(path)
    }

    /// A path that names a file already on the stick (for `rm`, `defrag`
    /// and `check`): only what no stick can hold is refused (`..`, the
    /// forbidden characters), so a file another system stored deeper, or
    /// with a trailing dot, can still be named.
    pub fn parse_file(input: &str) -> Result<StickPath> {
        let mut parts = Vec::new();
        for part in input.split('/').filter(|p| !p.is_empty() && *p != ".") {
            let bad = part == ".." || part.chars().any(|c| FORBIDDEN.contains(&c) || c.is_control());
            if bad {
                let why = name_problem(part).unwrap_or_default();
                return Err(Error::Usage(format!("{input:?} cannot be a path on the stick: {why}")));
            }
            parts.push(part.to_string());
        }
        if parts.is_empty() {
            return Err(Error::Usage(format!("{input:?} names no file on the stick")));
        }
        Ok(StickPath { parts })
    }

    /// This folder's `name` inside it, checked.
    pub fn join(&self, name: &str) -> Result<StickPath> {
        if let Some(why) = name_problem(name) {
            return Err(Error::Usage(why));
        }
        // A file at depth MAX_DEPTH + 1 sits in folders the menu never opens.
        if self.parts.len() >= MAX_DEPTH {
            return Err(Error::Usage(format!(
                "{}/{name} is more than {MAX_DEPTH} folders deep: the menu does not search that far, so it would not show",
                self.display()
            )));
        }
        let mut parts = self.parts.clone();
        parts.push(name.to_string());
        Ok(StickPath { parts })
    }

    /// `/a/b` (`/` for the root).
    pub fn display(&self) -> String {
        format!("/{}", self.parts.join("/"))
    }

    /// The last part (`""` for the root).
    pub fn name(&self) -> &str {
        self.parts.last().map_or("", String::as_str)
    }

    /// The folder holding it.
    pub fn parent(&self) -> StickPath {
        StickPath { parts: self.parts[..self.parts.len().saturating_sub(1)].to_vec() }
    }
}

impl std::fmt::Display for StickPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(input: &str) -> String {
        match StickPath::parse(input) {
            Err(Error::Usage(why)) => why,
            other => panic!("{input:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn dots_and_empty_parts_are_dropped_and_dot_dot_is_refused() {
        assert_eq!(StickPath::parse("/").unwrap().display(), "/");
        assert_eq!(StickPath::parse("").unwrap(), StickPath::root());
        assert_eq!(StickPath::parse("a//b/./c/").unwrap().display(), "/a/b/c");
        assert!(refused("/../../etc").contains("'..'"));
        assert!(refused("/a/../b").contains("never goes up"));
    }

    #[test]
    fn names_windows_fat_and_exfat_refuse_are_refused_in_words() {
        for bad in ["/a:b*c", "/x?", "/q\"", "/l<", "/g>", "/p|", "/b\\s", "/tab\there"] {
            assert!(refused(bad).contains("not allowed in names"), "{bad}");
        }
        assert!(refused("/trailing.").contains("ends in a dot or a space"));
        assert!(refused("/trailing ").contains("ends in a dot or a space"));
        assert!(refused(&format!("/{}", "n".repeat(256))).contains("256 characters long"));
        assert!(StickPath::parse(&format!("/{}", "n".repeat(255))).is_ok());
        assert!(refused(&format!("/{}", "é".repeat(128))).contains("256 bytes long in UTF-8"));
        assert!(StickPath::parse(&format!("/{}", "é".repeat(127))).is_ok());
        assert!(refused("/smile😀.iso").contains("Basic Multilingual Plane"));
        assert!(refused("/dropboot.tmp").contains("a copy under way"));
    }

    #[test]
    fn a_file_deeper_than_the_menu_searches_is_refused() {
        let deep = (0..MAX_DEPTH).map(|i| format!("d{i}")).collect::<Vec<_>>().join("/");
        let folder = StickPath::parse(&deep).unwrap();
        assert!(matches!(folder.join("x.iso"), Err(Error::Usage(why)) if why.contains("would not show")));
        assert!(folder.parent().join("x.iso").is_ok());
    }

    #[test]
    fn a_file_path_has_a_name_and_a_parent_and_names_files_other_systems_stored() {
        let p = StickPath::parse_file("/linux/debian.iso").unwrap();
        assert_eq!((p.name(), p.parent().display()), ("debian.iso", "/linux".to_string()));
        assert!(StickPath::parse_file("/").is_err());
        assert!(StickPath::parse_file("/../x.iso").is_err());
        assert!(StickPath::parse_file("/a:b.iso").is_err());
        // Stored by another system: a trailing dot, or deeper than dropboot adds.
        assert!(StickPath::parse_file("/odd.iso.").is_ok());
        let deep = (0..MAX_DEPTH + 2).map(|i| format!("d{i}")).collect::<Vec<_>>().join("/");
        assert!(StickPath::parse_file(&format!("{deep}/x.iso")).is_ok());
    }
}
