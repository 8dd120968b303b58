//! The SHA-256 check of a boot file on the stick: hashed with a progress
//! bar (Esc stops), then compared with the checksum file beside it
//! (`NAME.sha256`, `SHA256SUMS`, ...) when there is one.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use bootfs::config::{parent_of, MAX_CONFIG_BYTES};
use bootfs::file::ByteSource;
use bootfs::scan::BootFile;
use bootfs::sha256::{expected_digest, to_hex, Sha256};
use bootfs::text::{eq_ignore_case, human_size};

use crate::console::{attr, Screen, COLS};
use crate::frame::{fit, help, page, title};
use crate::input::{Input, Key};
use crate::volume::Volume;

/// Bytes read per step (and per progress update).
const CHUNK: usize = 64 * 1024;

/// Checksum files looked for beside `NAME`, in this order.
fn sidecar_names(name: &str) -> [String; 5] {
    [format!("{name}.sha256"), format!("{name}.sha256sum"), String::from("SHA256SUMS"), String::from("SHA256SUMS.txt"), String::from("sha256sum.txt")]
}

/// Hashes `file`, shows the digest and the verdict, until Esc.
pub fn check(file: &BootFile, volume: &mut Volume, screen: &mut Screen, input: &mut Input) {
    crate::log!("SHA-256 of {}", file.path);
    let digest = match hash(file, volume, screen, input) {
        Ok(Some(d)) => d,
        Ok(None) => {
            crate::log!("  stopped with Esc");
            return;
        }
        Err(e) => {
            crate::log!("  {e}");
            return page(screen, input, "SHA-256", &[format!("File:     {}", file.path), String::new(), e]);
        }
    };
    let hex = to_hex(&digest);
    crate::log!("  SHA-256 {hex}");
    let mut lines = Vec::from([format!("File:     {}", file.path), format!("SHA-256:  {hex}"), String::new()]);
    let (verdict, bad) = match sidecar(file, volume) {
        Some((sidecar, expected)) if expected == digest => (format!("It matches {sidecar}."), false),
        Some((sidecar, expected)) => {
            lines.insert(2, format!("Listed:   {}", to_hex(&expected)));
            (format!("It does NOT match {sidecar}: the file is damaged or not the one listed."), true)
        }
        None => (format!("No checksum file beside it lists it ({}.sha256 or SHA256SUMS).", file.name()), false),
    };
    crate::log!("  {verdict}");
    lines.push(verdict);
    screen.clear();
    title(screen, "SHA-256");
    for (i, line) in lines.iter().enumerate() {
        let a = if bad && i + 1 == lines.len() { attr::ERROR } else { attr::NORMAL };
        screen.text(2 + i, 1, &fit(line, COLS - 2), a);
    }
    help(screen, ["Esc: back to the menu", ""]);
    screen.present();
    while !matches!(input.wait_key(), Key::Esc | Key::Enter) {}
}

/// The digest of the file, `None` if Esc stopped it.
fn hash(file: &BootFile, volume: &mut Volume, screen: &mut Screen, input: &mut Input) -> Result<Option<[u8; 32]>, String> {
    let mut source = volume.open_file(file).map_err(|e| format!("The file is damaged on the stick: {e}"))?;
    let total = source.len();
    let mut h = Sha256::default();
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    let mut shown = u64::MAX;
    while done < total {
        let n = (total - done).min(CHUNK as u64) as usize;
        source.read_at(done, &mut buf[..n]).map_err(|e| format!("Cannot read it: {e}"))?;
        h.update(&buf[..n]);
        done += n as u64;
        let percent = done * 100 / total.max(1);
        if percent != shown {
            shown = percent;
            progress(screen, file, done, total);
        }
        if input.poll() == Some(Key::Esc) {
            return Ok(None);
        }
    }
    Ok(Some(h.finish()))
}

fn progress(screen: &mut Screen, file: &BootFile, done: u64, total: u64) {
    const BAR: usize = 50;
    let filled = (done * BAR as u64 / total.max(1)) as usize;
    let bar: String = core::iter::repeat_n('#', filled).chain(core::iter::repeat_n('.', BAR - filled)).collect();
    screen.clear();
    title(screen, "SHA-256");
    screen.text(2, 1, &fit(&format!("Hashing {}", file.path), COLS - 2), attr::NORMAL);
    let line = format!("[{bar}] {:>3}%  {} of {}", done * 100 / total.max(1), human_size(done), human_size(total));
    screen.text(4, 1, &line, attr::NORMAL);
    help(screen, ["Esc: stop", ""]);
    screen.present();
}

/// The checksum file beside `file` that lists it, and the digest it gives.
fn sidecar(file: &BootFile, volume: &mut Volume) -> Option<(String, [u8; 32])> {
    let dir = parent_of(&file.path);
    let entries = volume.list_dir(dir).ok().flatten()?;
    for name in sidecar_names(file.name()) {
        let Some(e) = entries.iter().find(|e| !e.is_dir && eq_ignore_case(&e.name, &name)) else {
            continue;
        };
        if e.size > MAX_CONFIG_BYTES {
            continue;
        }
        let found = BootFile::in_dir(dir, e);
        let Ok(text) = volume.read_whole(&found) else {
            continue;
        };
        if let Some(d) = expected_digest(&text, file.name()) {
            return Some((e.name.clone(), d));
        }
    }
    None
}
