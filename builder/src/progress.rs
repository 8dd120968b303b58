//! Progress for people: bars for copies and installs on the terminal
//! (stderr), and nothing at all when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for copying `bytes` bytes of `what`.
pub fn copying(what: &str, bytes: u64) -> ProgressBar {
    let bar = ProgressBar::new(bytes);
    if let Ok(style) = ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// A bar over the `steps` steps of an install, each named as it starts.
pub fn steps(steps: u64) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    if let Ok(style) = ProgressStyle::with_template("{bar:20} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}
