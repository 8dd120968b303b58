//! dropboot, the command-line builder: makes dropboot disk images and
//! manages the boot files on them. Rooms: `image` (disks, partitions,
//! formatting), `bootcode` (the embedded stage1/stage2), `files` (listing
//! and adding files), `error` (what failed, in words, with exit codes).

mod bootcode;
mod error;
mod exfat;
mod files;
mod image;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use error::Result;

#[derive(Parser)]
#[command(name = "dropboot", version, about = "Boot ISO and disk-image files from one USB stick on BIOS PCs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Fs {
    Exfat,
    Fat32,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new dropboot disk image (sparse) and copy files to its root.
    ///
    /// Example: dropboot create stick.img --size 8G debian.iso memtest.iso
    /// (exFAT by default; --fs fat32 for FAT32)
    Create {
        /// The image file to make; it must not exist.
        image: PathBuf,
        /// Size of the image: bytes, or with K, M, G or T (powers of 1024).
        #[arg(long, value_parser = parse_size)]
        size: u64,
        /// Filesystem of the data partition: exFAT holds files over 4 GiB.
        #[arg(long, value_enum, default_value = "exfat")]
        fs: Fs,
        /// Files to copy to the data partition's root.
        files: Vec<PathBuf>,
    },
    /// Copy files onto a dropboot image.
    ///
    /// Example: dropboot add stick.img debian.iso --to /linux/debian
    Add {
        image: PathBuf,
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Folder on the data partition to copy into (made when missing).
        #[arg(long, default_value = "/")]
        to: String,
    },
    /// Rewrite a boot file in one piece (same name, same content), for
    /// files too fragmented for the loader to map.
    ///
    /// Example: dropboot defrag stick.img /linux/debian.iso
    Defrag { image: PathBuf, path: String },
    /// List the boot files the menu will show, with their sizes.
    ///
    /// Example: dropboot list stick.img
    List { image: PathBuf },
}

/// "64M", "8G", "1048576": sizes in bytes with binary suffixes.
fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim().trim_end_matches(['B', 'b']).trim_end_matches(['i', 'I']);
    let (digits, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().parse().map_err(|_| format!("'{s}' is not a size (try 64M or 8G)"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("'{s}' is too large"))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Create { image, size, fs, files } => {
            let (kind, name) = match fs {
                Fs::Exfat => (image::FsKind::Exfat, "exFAT"),
                Fs::Fat32 => (image::FsKind::Fat32, "FAT32"),
            };
            image::create(&image, size, kind)?;
            if !files.is_empty() {
                let mut disk = image::Disk::open(&image, true)?;
                for f in &files {
                    files::add(&mut disk, f, "/", true)?;
                }
            }
            println!("made {} ({} MiB, {name}), {} files copied", image.display(), size >> 20, files.len());
            Ok(())
        }
        Command::Add { image, files, to } => {
            let mut disk = image::Disk::open(&image, true)?;
            for f in &files {
                files::add(&mut disk, f, &to, false)?;
            }
            Ok(())
        }
        Command::Defrag { image, path } => {
            let mut disk = image::Disk::open(&image, true)?;
            if files::defrag(&mut disk, &path)? {
                println!("{path} is now in one piece");
            } else {
                println!("{path} already was in one piece");
            }
            Ok(())
        }
        Command::List { image } => {
            let mut disk = image::Disk::open(&image, false)?;
            let (files, problems) = files::boot_files(&mut disk)?;
            for f in &files {
                println!("{:>12}  {}", f.size, f.path);
            }
            for p in &problems {
                eprintln!("dropboot: skipped {p}");
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dropboot: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("lots").is_err());
    }
}
