//! `make bench`: records (never asserts) how fast and how big dropboot is.
//! Prints a table; the numbers are for the record and for comparisons.

use std::ffi::OsStr;
use std::time::Instant;

use tests::media::{dropboot, random_file};
use tests::{work_dir, Qemu};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let dir = work_dir("bench");
    let image = dir.join("stick.img");
    let files: Vec<_> = (0..20).map(|i| random_file(&dir.join(format!("image-{i:02}.iso")), 4096, i)).collect();
    let mut args = vec![OsStr::new("create").to_owned(), image.clone().into(), "--size".into(), "256M".into()];
    args.extend(files.iter().map(|f| f.clone().into_os_string()));
    dropboot(&args);

    let mut to_menu = Vec::new();
    for run in 0..5 {
        let start = Instant::now();
        let mut vm = Qemu::boot(&format!("bench-{run}"), &dir, &image);
        vm.wait_screen("20 boot files");
        to_menu.push(start.elapsed().as_secs_f64());
    }
    let stage2 = include_bytes!("../../../build/stage2.bin").len();
    println!("dropboot bench (QEMU TCG, SeaBIOS)");
    println!("  seconds from QEMU start to the menu (20 files), median of 5: {:.2}", median(to_menu.clone()));
    println!("    runs: {:?}", to_menu.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>());
    println!("  stage2 size: {stage2} bytes ({} sectors)", stage2.div_ceil(512));
    println!("  stage1 size: 440 bytes (MBR code area)");
}
