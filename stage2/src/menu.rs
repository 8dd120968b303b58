//! The boot menu: the stick's boot files as a list or as a folder tree,
//! shaped by the configuration file (aliases, tips, order, default,
//! countdown); type-to-filter search; the details and SHA-256 screens; and
//! the entries that leave dropboot (next disk, reboot, power off). A boot
//! that fails comes back here with its reason on the status row.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use bootfs::bootplan;
use bootfs::config::{parent_of, Config, DefaultEntry, Entry, Loaded};
use bootfs::text::{eq_ignore_case, human_size};

use crate::console::{attr, Screen, COLS, ROWS};
use crate::frame::{fit, help, page, title, LIST_ROWS, LIST_TOP};
use crate::input::{Counted, Input, Key};
use crate::volume::Volume;

/// What just happened (a boot that failed, a config problem), ending at
/// this row; the countdown, else the selected entry's tip, right above.
const STATUS_ROW: usize = ROWS - 3;
const SIZE_COLS: usize = 10;

const HELP: [&str; 2] = [
    "Up/Down PgUp/PgDn Home/End: move   Enter: boot or open   Esc: back or clear",
    "Tab: details   F2: SHA-256 check   F3: tree or list view   Type: search",
];

/// Ctrl+P: the panic self-test (proves the panic screen works).
const SELF_TEST_PANIC: char = '\u{10}';
/// Ctrl+E: the CPU-exception self-test (an invalid opcode, vector 06h).
const SELF_TEST_EXCEPTION: char = '\u{05}';
/// Ctrl+D: the same, and another one inside the exception handler (proves
/// that a fault there ends in a message and a halt, not a loop).
const SELF_TEST_NESTED_EXCEPTION: char = '\u{04}';

/// What leaves dropboot without a boot file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    NextDisk,
    Reboot,
    PowerOff,
}

impl Action {
    fn label(self) -> &'static str {
        match self {
            Action::NextDisk => "Boot the next disk",
            Action::Reboot => "Reboot",
            Action::PowerOff => "Power off",
        }
    }
}

/// One row of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Row {
    /// Tree view: back to the parent folder.
    Up,
    /// Tree view: a folder, by full path.
    Folder(String),
    /// A boot file: index into the entries.
    File(usize),
    Action(Action),
}

/// The boot default counting down.
struct Countdown {
    target: Row,
    timer: crate::input::Countdown,
}

pub struct Menu {
    entries: Vec<Entry>,
    config: Config,
    /// The configuration file found, for the details screen.
    loaded: Option<Loaded>,
    /// A line of what the volume is, for the title.
    volume_name: String,
    tree: bool,
    /// Tree view: the folder shown.
    folder: String,
    search: String,
    rows: Vec<Row>,
    selected: usize,
    top: usize,
    /// Shown on the status row until the next key.
    status: String,
    status_attr: u8,
    countdown: Option<Countdown>,
}

impl Menu {
    /// The menu of `entries` (already arranged by `config`, which came from
    /// `loaded` when there is a configuration file), with `status` on the
    /// status row.
    pub fn new(entries: Vec<Entry>, config: Config, loaded: Option<Loaded>, volume_name: String, status: String) -> Self {
        let mut menu = Menu {
            folder: config.tree_root().into(),
            tree: config.tree_view,
            entries,
            config,
            loaded,
            volume_name,
            search: String::new(),
            rows: Vec::new(),
            selected: 0,
            top: 0,
            status,
            status_attr: attr::ERROR,
            countdown: None,
        };
        if menu.status.is_empty() {
            menu.status_attr = attr::NORMAL;
        }
        let default = match &menu.config.default_entry {
            Some(DefaultEntry::NextDisk) => Some(Row::Action(Action::NextDisk)),
            _ => menu.config.default_index(&menu.entries).filter(|_| !menu.entries.is_empty()).map(Row::File),
        };
        if let Some(Row::File(i)) = &default {
            if menu.tree {
                let dir = parent_of(&menu.entries[*i].file.path);
                if bootfs::config::is_under(dir, menu.config.tree_root()) || dir == menu.config.tree_root() {
                    menu.folder = dir.into();
                }
            }
        }
        menu.rebuild();
        if let Some(row) = &default {
            menu.select_row(row);
            if let Some(seconds) = menu.config.timeout {
                menu.countdown = Some(Countdown { target: row.clone(), timer: crate::input::Countdown::start(seconds) });
                crate::log!("countdown: {} in {seconds} s", menu.row_label(row));
            }
        }
        menu
    }

    /// Runs the menu forever.
    pub fn run(&mut self, volume: &mut Volume, screen: &mut Screen, input: &mut Input) -> ! {
        loop {
            self.draw(screen);
            // Once, now that the menu is up: a person takes longer than
            // this read check to press a key, and a key pressed meanwhile
            // waits in the BIOS's buffer.
            volume.disk().check_large_read();
            let key = match &self.countdown {
                Some(c) => match input.wait_key_counting(&c.timer) {
                    Counted::Over => {
                        let target = c.target.clone();
                        self.countdown = None;
                        crate::log!("countdown over: {}", self.row_label(&target));
                        self.activate(&target, volume, screen, input);
                        continue;
                    }
                    // Redraw the count.
                    Counted::Second => continue,
                    Counted::Key(k) => {
                        self.countdown = None;
                        crate::log!("countdown stopped by a key");
                        k
                    }
                },
                None => input.wait_key(),
            };
            self.status.clear();
            self.status_attr = attr::NORMAL;
            self.on_key(key, volume, screen, input);
        }
    }

    fn on_key(&mut self, key: Key, volume: &mut Volume, screen: &mut Screen, input: &mut Input) {
        let current = self.rows.get(self.selected).cloned();
        match key {
            Key::Enter => {
                if let Some(row) = current {
                    self.activate(&row, volume, screen, input);
                }
            }
            Key::Tab => match current {
                Some(Row::File(i)) => details(&self.entries[i], self.loaded.as_ref(), volume, screen, input),
                Some(Row::Folder(dir)) => self.folder_details(&dir, screen, input),
                _ => {}
            },
            Key::F(2) => {
                if let Some(Row::File(i)) = current {
                    crate::checksum::check(&self.entries[i].file, volume, screen, input);
                }
            }
            Key::F(3) => {
                self.tree = !self.tree;
                crate::log!("{} view", if self.tree { "tree" } else { "list" });
                self.rebuild();
                if let Some(row) = current {
                    self.select_row(&row);
                }
            }
            Key::Esc | Key::Backspace if !self.search.is_empty() => {
                if key == Key::Esc {
                    self.search.clear();
                } else {
                    self.search.pop();
                }
                self.rebuild();
            }
            Key::Esc | Key::Backspace if self.tree && self.folder != self.config.tree_root() => self.go_up(),
            Key::Char(SELF_TEST_PANIC) => panic!("self-test requested with Ctrl+P in the menu"),
            Key::Char(SELF_TEST_EXCEPTION) => {
                crate::log!("self-test requested with Ctrl+E in the menu: an invalid opcode");
                // SAFETY: UD2 raises #UD, which cpu_exception handles; it never returns here.
                unsafe { core::arch::asm!("ud2", options(noreturn)) }
            }
            Key::Char(SELF_TEST_NESTED_EXCEPTION) => {
                crate::log!("self-test requested with Ctrl+D in the menu: an invalid opcode, and one in its handler");
                crate::FAULT_IN_EXCEPTION_HANDLER.store(true, core::sync::atomic::Ordering::Relaxed);
                // SAFETY: as for Ctrl+E.
                unsafe { core::arch::asm!("ud2", options(noreturn)) }
            }
            Key::Char(c) if !c.is_control() => {
                self.search.push(c);
                self.rebuild();
            }
            other => self.move_selection(other),
        }
    }

    /// Enter on a row: boot, open a folder, or leave.
    fn activate(&mut self, row: &Row, volume: &mut Volume, screen: &mut Screen, input: &mut Input) {
        let mut extras = crate::boot::Extras::default();
        if let Row::File(i) = row {
            match self.extras(&self.entries[*i].file.path.clone(), volume, screen, input) {
                Some(e) => extras = e,
                None => return,
            }
        }
        // A line too long for the status row takes the rows above too.
        let mut say = |line: &str| {
            crate::log!("{line}");
            let _ = status_lines(screen, line, attr::NORMAL);
            screen.present();
        };
        let (what, result) = match row {
            Row::Up => return self.go_up(),
            Row::Folder(dir) => {
                self.folder = dir.clone();
                self.search.clear();
                return self.rebuild();
            }
            Row::File(i) => {
                let file = self.entries[*i].file.clone();
                (format!("Cannot boot {}", file.name()), crate::boot::boot(volume, &file, !self.config.iso_partition_off, &extras, &mut say))
            }
            Row::Action(Action::NextDisk) => {
                crate::log!("boot the next disk");
                ("Cannot boot the next disk".into(), crate::boot::boot_next_disk(volume, &mut say))
            }
            Row::Action(Action::Reboot) => {
                crate::log!("rebooting");
                crate::arch::reboot()
            }
            Row::Action(Action::PowerOff) => {
                crate::log!("power off");
                say("Switching off...");
                let why = crate::arch::power_off();
                self.status = format!("Cannot switch off: {why}. Use the power button.");
                self.status_attr = attr::ERROR;
                crate::log!("{}", self.status);
                return;
            }
        };
        if let Err(e) = result {
            self.status = format!("{what}: {e}");
            self.status_attr = attr::ERROR;
            crate::log!("{}", self.status);
        }
    }

    /// The files the configuration attaches to the boot of `path`, as the
    /// person chooses them; `None`: Esc, back to the menu. A template that
    /// cannot be read is left out, and the boot says so.
    fn extras(&mut self, path: &str, volume: &mut Volume, screen: &mut Screen, input: &mut Input) -> Option<crate::boot::Extras> {
        use crate::choice::{ask, Choice};
        let mut extras = crate::boot::Extras::default();
        if let Some(attach) = self.config.persistence_for(path) {
            match ask(attach, path, "persistence backend", "without persistence", screen, input) {
                Choice::File(f) => extras.backend = Some(f),
                Choice::Without => crate::log!("{path}: boots without persistence"),
                Choice::Back => return None,
            }
        }
        if let Some(attach) = self.config.auto_install_for(path) {
            match ask(attach, path, "unattended-install template", "without a template", screen, input) {
                Choice::File(f) => match read_template(volume, &f) {
                    Ok(bytes) => extras.template = Some((f, bytes)),
                    Err(why) => extras.warnings.push(format!("{path}: the template {f} {why}; it boots without it")),
                },
                Choice::Without => crate::log!("{path}: boots without a template"),
                Choice::Back => return None,
            }
        }
        Some(extras)
    }

    fn go_up(&mut self) {
        let from = core::mem::take(&mut self.folder);
        self.folder = parent_of(&from).into();
        self.rebuild();
        self.select_row(&Row::Folder(from));
    }

    /// Works out the rows for the view, search and folder now shown.
    fn rebuild(&mut self) {
        self.rows.clear();
        if !self.search.is_empty() {
            let needle: Vec<char> = self.search.chars().flat_map(char::to_lowercase).collect();
            for (i, e) in self.entries.iter().enumerate() {
                if contains_folded(e.label(), &needle) || contains_folded(&e.file.path, &needle) {
                    self.rows.push(Row::File(i));
                }
            }
        } else if self.tree {
            if self.folder != self.config.tree_root() {
                self.rows.push(Row::Up);
            }
            let mut folders: Vec<String> = Vec::new();
            let mut files = Vec::new();
            let prefix_len = if self.folder == "/" { 0 } else { self.folder.len() };
            for (i, e) in self.entries.iter().enumerate() {
                let path = &e.file.path;
                if !bootfs::config::is_under(path, &self.folder) {
                    continue;
                }
                let rest = &path[prefix_len + 1..];
                match rest.split_once('/') {
                    None => files.push(Row::File(i)),
                    Some((sub, _)) => {
                        let dir = format!("{}/{sub}", &path[..prefix_len]);
                        if !folders.iter().rev().any(|f| eq_ignore_case(f, &dir)) {
                            folders.push(dir);
                        }
                    }
                }
            }
            self.rows.extend(folders.into_iter().map(Row::Folder));
            self.rows.extend(files);
        } else {
            self.rows.extend((0..self.entries.len()).map(Row::File));
        }
        let at_top = self.search.is_empty() && (!self.tree || self.folder == self.config.tree_root());
        if at_top {
            self.rows.extend([Action::NextDisk, Action::Reboot, Action::PowerOff].map(Row::Action));
        }
        self.selected = 0;
        self.top = 0;
    }

    fn select_row(&mut self, row: &Row) {
        if let Some(i) = self.rows.iter().position(|r| r == row) {
            self.selected = i;
            self.top = i.saturating_sub(LIST_ROWS / 2).min(self.rows.len().saturating_sub(LIST_ROWS));
        }
    }

    fn move_selection(&mut self, key: Key) {
        let last = self.rows.len().saturating_sub(1);
        self.selected = match key {
            Key::Up => self.selected.saturating_sub(1),
            Key::Down => (self.selected + 1).min(last),
            Key::PageUp => self.selected.saturating_sub(LIST_ROWS),
            Key::PageDown => (self.selected + LIST_ROWS).min(last),
            Key::Home => 0,
            Key::End => last,
            _ => self.selected,
        };
        if self.selected < self.top {
            self.top = self.selected;
        } else if self.selected >= self.top + LIST_ROWS {
            self.top = self.selected + 1 - LIST_ROWS;
        }
    }

    /// The text of a row (without the size).
    fn row_label(&self, row: &Row) -> String {
        match row {
            Row::Up => String::from(if self.config.tree_plain { ".." } else { "[..]  up one folder" }),
            Row::Folder(dir) => {
                let name = self.config.dir_alias(dir).unwrap_or_else(|| dir.rsplit('/').next().unwrap_or(dir));
                if self.config.tree_plain {
                    name.into()
                } else {
                    format!("[DIR] {name}")
                }
            }
            Row::File(i) => {
                let e = &self.entries[*i];
                match (&e.alias, self.tree && self.search.is_empty()) {
                    (Some(alias), _) => alias.clone(),
                    (None, true) => e.file.name().into(),
                    (None, false) => e.file.path.clone(),
                }
            }
            Row::Action(a) => format!("<{}>", a.label()),
        }
    }

    /// The tip for the selected row, if the configuration gives one.
    fn tip(&self) -> Option<&str> {
        match self.rows.get(self.selected)? {
            Row::File(i) => self.entries[*i].tip.as_deref(),
            Row::Folder(dir) => self.config.dir_tip(dir),
            _ => None,
        }
    }

    fn draw(&self, screen: &mut Screen) {
        screen.clear();
        let files = match self.entries.len() {
            1 => String::from("1 boot file"),
            n => format!("{n} boot files"),
        };
        title(screen, &format!("{files} on {}", self.volume_name));
        let where_ = if !self.search.is_empty() {
            format!("Search: {}_   {} found", self.search, self.rows.len())
        } else if self.tree {
            format!("Folder: {}", self.config.dir_alias(&self.folder).unwrap_or(&self.folder))
        } else {
            String::new()
        };
        screen.text(1, 1, &fit(&where_, COLS - 2), attr::NORMAL);
        if self.entries.is_empty() && self.search.is_empty() {
            screen.text(LIST_TOP, 2, "No boot files (.iso, .img, .vhd, .vhdx, .vdi, .vtoy) on this stick.", attr::NORMAL);
            screen.text(LIST_TOP + 1, 2, "Copy boot files onto its data partition, then restart.", attr::NORMAL);
        }
        let list_top = if self.entries.is_empty() && self.search.is_empty() { LIST_TOP + 3 } else { LIST_TOP };
        let sizes = !(self.tree && self.config.tree_plain);
        for (row, (i, r)) in self.rows.iter().enumerate().skip(self.top).take(LIST_ROWS + LIST_TOP - list_top).enumerate() {
            let a = if i == self.selected { attr::SELECTED } else { attr::NORMAL };
            let row = list_top + row;
            screen.fill_row(row, a);
            screen.text(row, 1, &fit(&self.row_label(r), COLS - SIZE_COLS - 4), a);
            if let (Row::File(f), true) = (r, sizes) {
                let size = human_size(self.entries[*f].file.size);
                screen.text(row, COLS - 1 - size.chars().count(), &size, a);
            }
        }
        let tip = match &self.countdown {
            Some(c) => {
                let left = c.timer.seconds_left().max(1);
                Some((format!("Booting {} in {left} s. Press any key to stop.", self.row_label(&c.target)), attr::TITLE))
            }
            None => self.tip().map(|t| (String::from(t), attr::NORMAL)),
        };
        // The status whole (a refusal and its fix), over the rows it needs,
        // and the tip (the countdown) right above it.
        let status_rows = match self.status.is_empty() {
            true => 1,
            false => status_lines(screen, &self.status, self.status_attr),
        };
        if let Some((text, a)) = tip.filter(|(t, _)| !t.is_empty()) {
            let row = STATUS_ROW - status_rows;
            screen.fill_row(row, a);
            screen.text(row, 1, &fit(&text, COLS - 2), a);
        }
        help(screen, HELP);
        screen.present();
    }

    fn folder_details(&self, dir: &str, screen: &mut Screen, input: &mut Input) {
        let inside = self.entries.iter().filter(|e| bootfs::config::is_under(&e.file.path, dir)).count();
        let mut lines = Vec::from([format!("Folder:        {dir}"), format!("Boot files:    {inside} in it and below it")]);
        if let Some(alias) = self.config.dir_alias(dir) {
            lines.push(format!("Alias:         {alias}"));
        }
        if let Some(tip) = self.config.dir_tip(dir) {
            lines.push(format!("Tip:           {tip}"));
        }
        page(screen, input, "details", &lines);
    }
}

/// True if `hay`, folded to lower case, contains `needle` (already folded).
fn contains_folded(hay: &str, needle: &[char]) -> bool {
    let hay: Vec<char> = hay.chars().flat_map(char::to_lowercase).collect();
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `s` as the most words that fit in `width` characters, and the rest.
/// Most rows a status line takes, up from the status row over the list's
/// last rows (the tip row moves up above it).
const STATUS_MOST_ROWS: usize = 4;

/// Writes `text` wrapped into the rows that end at the status row; returns
/// how many it took.
fn status_lines(screen: &mut Screen, text: &str, a: u8) -> usize {
    let lines = wrap(text, COLS - 2, STATUS_MOST_ROWS);
    for (i, line) in lines.iter().enumerate() {
        let row = STATUS_ROW + 1 + i - lines.len();
        screen.fill_row(row, a);
        screen.text(row, 1, line, a);
    }
    lines.len()
}

/// `s` in lines of at most `width` characters, broken at spaces, at most
/// `most` lines (the last one cut with `...` when more would follow).
fn wrap(s: &str, width: usize, most: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = s;
    while !rest.is_empty() && lines.len() < most {
        let (line, after) = split_at_word(rest, width);
        lines.push(String::from(line));
        rest = after;
    }
    if let (false, Some(last)) = (rest.is_empty(), lines.last_mut()) {
        *last = fit(&format!("{last} {rest}"), width);
    }
    lines
}

fn split_at_word(s: &str, width: usize) -> (&str, &str) {
    if s.chars().count() <= width {
        return (s, "");
    }
    let limit = s.char_indices().nth(width).map_or(s.len(), |(i, _)| i);
    match s[..limit].rfind(' ') {
        Some(space) => (&s[..space], &s[space + 1..]),
        None => (&s[..limit], &s[limit..]),
    }
}

/// The details of one boot file: where it lies, what El Torito says, how
/// dropboot would present it, and what the configuration file did.
fn details(entry: &Entry, loaded: Option<&Loaded>, volume: &mut Volume, screen: &mut Screen, input: &mut Input) {
    let file = &entry.file;
    let extents = match volume.extent_map(file) {
        Ok(map) => format!("{}", map.len()),
        Err(e) => format!("unreadable: {e}"),
    };
    let mut lines = Vec::from([
        format!("Path:          {}", file.path),
        format!("Size:          {} bytes ({})", file.size, human_size(file.size)),
        format!("Extents:       {extents} ({})", volume.locate(file)),
    ]);
    for (name, value) in [("Alias:", &entry.alias), ("Tip:", &entry.tip), ("Class:", &entry.class)] {
        if let Some(v) = value {
            lines.push(format!("{name:<15}{v}"));
        }
    }
    match volume.open_file(file).map(|mut source| bootplan::plan(file.name(), &mut source)) {
        Ok(Ok(plan)) => {
            lines.push(format!("Boots as:      {}", plan.presentation));
            if let Some((iso, catalog)) = &plan.catalog {
                lines.push(format!("ISO9660:       \"{}\", {} blocks of 2048 bytes", iso.volume_id, iso.blocks));
                for (n, e) in catalog.entries.iter().enumerate().take(6) {
                    lines.push(format!("El Torito {}:   {e}", n + 1));
                }
            }
        }
        Ok(Err(e)) => lines.push(format!("Boots as:      cannot boot: {e}")),
        Err(e) => lines.push(format!("Boots as:      unreadable: {e}")),
    }
    lines.push(String::new());
    match loaded {
        None => lines.push(String::from("Config:        none (/dropboot/dropboot.json or /ventoy/ventoy.json)")),
        Some(l) => {
            let state = match &l.result {
                Err(_) => "not used",
                Ok((_, p)) if p.is_empty() => "in use",
                Ok(_) => "in use, with problems",
            };
            lines.push(format!("Config:        {} ({state})", l.path));
            if let Some(p) = l.first_problem() {
                lines.push(format!("Problem:       {p}"));
            }
            if let Ok((c, _)) = &l.result {
                if !c.ignored.is_empty() {
                    lines.push(format!("Ignored keys:  {}", c.ignored.join(", ")));
                }
            }
        }
    }
    crate::log!("details {}:", file.path);
    for line in &lines {
        if !line.is_empty() {
            crate::log!("  {line}");
        }
    }
    page(screen, input, "details", &lines);
}

/// The largest template read (Debian's example preseed is 20 KiB).
const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;

/// The bytes of the template at `path`; `Err`: why not, in words that
/// follow "the template PATH".
fn read_template(volume: &mut Volume, path: &str) -> Result<Vec<u8>, String> {
    let file = volume.find_file(path).map_err(|e| format!("cannot be read: {e}"))?.ok_or_else(|| String::from("is not on the stick"))?;
    if file.size > MAX_TEMPLATE_BYTES {
        return Err(format!("is {} bytes, over the {MAX_TEMPLATE_BYTES} dropboot adds", file.size));
    }
    volume.read_whole(&file).map_err(|e| format!("cannot be read: {e}"))
}

/// A screen that says what went wrong and offers a reboot.
pub fn fatal(screen: &mut Screen, input: &mut Input, what: &str, hint: &str) -> ! {
    crate::log!("cannot start: {what}");
    screen.clear();
    title(screen, "cannot start");
    screen.fill_row(LIST_TOP, attr::ERROR);
    screen.text(LIST_TOP, 1, &fit(what, COLS - 2), attr::ERROR);
    screen.text(LIST_TOP + 2, 1, &fit(hint, COLS - 2), attr::NORMAL);
    help(screen, ["Enter: reboot", ""]);
    screen.present();
    while input.wait_key() != Key::Enter {}
    crate::log!("rebooting");
    crate::arch::reboot()
}
