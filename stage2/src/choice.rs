//! The question before an ISO's boot when the configuration attaches files
//! to it (`persistence` backends, `auto_install` templates), asked as
//! Ventoy asks it: a list with "without" first, the `autosel` entry
//! selected, a countdown of `timeout` seconds; `autosel` without a
//! `timeout` is taken without asking, and so is a lone file with neither.
//! Digits pick a row at once; Esc goes back to the menu.

use alloc::format;
use alloc::string::String;

use bootfs::config::Attach;

use crate::console::{attr, Screen, COLS};
use crate::frame::{fit, help, title, LIST_TOP};
use crate::input::{Countdown, Counted, Input, Key};

/// What was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// This file (a full path on the stick).
    File(String),
    /// Boot without any.
    Without,
    /// Esc: no boot.
    Back,
}

/// Asks which of `attach`'s files the boot of `iso` takes; `what` names
/// them ("persistence", "an unattended-install template").
pub fn ask(attach: &Attach, iso: &str, what: &str, without: &str, screen: &mut Screen, input: &mut Input) -> Choice {
    let files = &attach.files;
    let pick = |n: usize| match n {
        0 => Choice::Without,
        n => files.get(n - 1).map_or(Choice::Without, |f| Choice::File(f.clone())),
    };
    match (attach.autosel, attach.timeout) {
        (Some(n), None) => return pick(n as usize),
        (None, None) if files.len() == 1 => return pick(1),
        _ => {}
    }
    let rows = files.len() + 1;
    let mut selected = (attach.autosel.unwrap_or(1) as usize).min(rows - 1);
    let mut counting = attach.timeout.map(Countdown::start);
    loop {
        screen.clear();
        title(screen, what);
        screen.text(LIST_TOP, 1, &fit(&format!("{iso}: boot with which {what}?"), COLS - 2), attr::NORMAL);
        for r in 0..rows {
            let label = match r {
                0 => String::from(without),
                r => files[r - 1].clone(),
            };
            let a = if r == selected { attr::SELECTED } else { attr::NORMAL };
            screen.text(LIST_TOP + 2 + r, 3, &fit(&format!("{r}. {label}"), COLS - 6), a);
        }
        if let Some(c) = &counting {
            let line =
                format!("Boots {} in {} s unless a key is pressed", if selected == 0 { without } else { &files[selected - 1] }, c.seconds_left());
            screen.text(LIST_TOP + 3 + rows, 1, &fit(&line, COLS - 2), attr::NORMAL);
        }
        help(screen, ["Up/Down: move   Enter or a digit: boot with it   Esc: back to the menu", ""]);
        screen.present();
        let key = match &counting {
            Some(c) => match input.wait_key_counting(c) {
                Counted::Over => {
                    crate::log!("{what}: countdown over");
                    return pick(selected);
                }
                Counted::Second => continue,
                Counted::Key(k) => k,
            },
            None => input.wait_key(),
        };
        counting = None;
        match key {
            Key::Enter => return pick(selected),
            Key::Esc => return Choice::Back,
            Key::Up => selected = selected.saturating_sub(1),
            Key::Down => selected = (selected + 1).min(rows - 1),
            Key::Char(c) if c.is_ascii_digit() && (c as usize - '0' as usize) < rows => return pick(c as usize - '0' as usize),
            _ => {}
        }
    }
}
