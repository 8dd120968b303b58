//! dropboot, the command-line builder: makes dropboot disk images and
//! manages the boot files on them. Rooms: `stick` (one open, locked stick
//! and its data partition), `image` (disks, partitions, formatting),
//! `bootcode` (the embedded stage1/stage2), `files` (listing and adding
//! files), `persistence` (backends for live ISOs), `error` (what failed,
//! in words, with exit codes).

mod bootcode;
mod check;
mod commands;
mod config;
mod data_volume;
mod device;
mod error;
mod exfat;
mod fat32;
mod fault;
mod files;
mod image;
mod iso_partition;
mod journal;
mod ntfs;
mod partition_file;
mod persistence;
mod progress;
mod source;
mod stick;
mod stick_path;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::Result;

#[derive(Parser)]
#[command(name = "dropboot", version, about = "Boot ISO and disk-image files from one USB stick on BIOS PCs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new dropboot disk image (sparse) and copy files to its root.
    ///
    /// Example: dropboot create stick.img --size 8G debian.iso memtest.iso
    /// (exFAT by default; --fs fat32 for FAT32; --fs ntfs for an empty NTFS one, made by mkntfs)
    Create {
        /// The image file to make; it must not exist.
        image: PathBuf,
        /// Size of the image: bytes, or with K, M, G or T (powers of 1024).
        #[arg(long, value_parser = parse_size)]
        size: u64,
        /// Filesystem of the data partition: exFAT holds files over 4 GiB.
        #[arg(long, value_enum, default_value = "exfat")]
        fs: data_volume::FsKind,
        /// Files to copy to the data partition's root.
        files: Vec<PathBuf>,
    },
    /// Make a USB stick a dropboot stick: erases it all.
    ///
    /// Shows the device and asks first unless --yes. Refuses a mounted
    /// device, the system disk, a partition, a device under 64 MiB, and a
    /// disk that is neither removable nor on USB unless --force.
    ///
    /// Example: dropboot install /dev/sdb
    Install {
        device: PathBuf,
        #[arg(long, value_enum, default_value = "exfat")]
        fs: data_volume::FsKind,
        /// Do not ask before erasing the device.
        #[arg(long)]
        yes: bool,
        /// Accept a disk that is neither removable nor on USB.
        #[arg(long)]
        force: bool,
    },
    /// Copy files onto a dropboot image, each in one piece.
    ///
    /// A dynamic VHD, VDI or VHDX is made fixed as it is copied (same name,
    /// same format), so the loader boots it in place.
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
    /// Replace the boot code of a dropboot image or stick with this
    /// binary's, leaving the partition table and the data untouched.
    ///
    /// Example: dropboot upgrade /dev/sdb
    Upgrade { target: PathBuf },
    /// Show the boot code on a stick against this binary's, its filesystem
    /// and free space.
    ///
    /// Example: dropboot info stick.img --json
    Info {
        target: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite a boot file in one piece (same name, same content), for
    /// files too fragmented for the loader to map.
    ///
    /// Example: dropboot defrag stick.img /linux/debian.iso
    Defrag { image: PathBuf, path: String },
    /// Boot an image (or a stick) in QEMU with SeaBIOS, to try it: the menu
    /// shows on this terminal through the serial port, or in a window.
    ///
    /// Example: dropboot qemu stick.img --window
    Qemu {
        image: PathBuf,
        /// A QEMU window as well as the serial console on this terminal.
        #[arg(long)]
        window: bool,
        /// Guest memory in MiB.
        #[arg(long, default_value = "1024")]
        memory: u32,
        /// Use KVM (faster where it works; real-mode code can crawl under
        /// some nested KVM setups, which is why TCG is the default).
        #[arg(long)]
        kvm: bool,
    },
    /// Remove files from a dropboot image or stick.
    ///
    /// Example: dropboot rm stick.img /old/ubuntu-20.04.iso
    Rm {
        image: PathBuf,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// List the boot files the menu will show, with their sizes.
    ///
    /// Example: dropboot list stick.img
    List {
        image: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Say what the loader will do with each boot file (or one): its El
    /// Torito entries, how it will be presented, how many pieces it is in,
    /// and whether it boots. Exit status 4 when one will not.
    ///
    /// Example: dropboot check stick.img /linux/debian.iso --json
    Check {
        image: PathBuf,
        path: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The configuration file (/dropboot/dropboot.json, else
    /// /ventoy/ventoy.json).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Persistence for live ISOs: a file on the stick that keeps what the
    /// live system changes, from one boot to the next.
    #[command(subcommand)]
    Persistence(PersistenceCommand),
}

#[derive(Subcommand)]
enum PersistenceCommand {
    /// Make a backend file for a live ISO on the stick, in one piece, with
    /// the filesystem its live system looks for (live-boot, casper or
    /// dracut, from the ISO's folders), and name it in the configuration's
    /// persistence list.
    ///
    /// Example: dropboot persistence add /dev/sdb /linux/debian-live.iso --size 4G
    Add {
        stick: PathBuf,
        /// The live ISO, a path on the stick.
        image: String,
        /// Size of the backend: bytes, or with K, M, G or T.
        #[arg(long, value_parser = parse_size)]
        size: u64,
        /// The backend's name in /persistence, or its full path on the
        /// stick (default: /persistence/<the ISO's name>.dat).
        #[arg(long)]
        backend: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a configuration file, on a stick or image or as a .json file:
    /// each problem with its line and column, what is ignored, and the
    /// menu it makes. Exit status 5 when there are problems.
    ///
    /// Example: dropboot config check /dev/sdb
    Check { target: PathBuf },
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
        Command::Create { image, size, fs, files } => commands::create(&image, size, fs, &files),
        Command::Add { image, files, to } => commands::add(&image, &files, &to),
        Command::Install { device, fs, yes, force } => commands::install(&device, fs, yes, force),
        Command::Upgrade { target } => commands::upgrade(&target),
        Command::Info { target, json } => commands::info(&target, json),
        Command::Defrag { image, path } => commands::defrag(&image, &path),
        Command::Qemu { image, window, memory, kvm } => commands::qemu(&image, window, memory, kvm),
        Command::Rm { image, paths } => commands::rm(&image, &paths),
        Command::Check { image, path, json } => commands::check(&image, path, json),
        Command::Config(ConfigCommand::Check { target }) => config::check(&target),
        Command::List { image, json } => commands::list(&image, json),
        Command::Persistence(PersistenceCommand::Add { stick, image, size, backend }) => persistence::add(&stick, &image, size, backend.as_deref()),
    }
}

fn main() -> ExitCode {
    // `dropboot list | head` ends quietly when head has read enough, as
    // other tools do, instead of panicking on the closed pipe. (A change
    // stopped this way is finished or undone by the journal, as after Ctrl-C.)
    // SAFETY: sets one signal's action back to the default, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
