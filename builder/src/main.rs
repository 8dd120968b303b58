//! dropboot, the command-line builder: makes dropboot disk images and
//! manages the boot files on them. Rooms: `image` (disks, partitions,
//! formatting), `bootcode` (the embedded stage1/stage2), `files` (listing
//! and adding files), `error` (what failed, in words, with exit codes).

mod bootcode;
mod check;
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
mod progress;
mod stick_path;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::{Error, Result};

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
        Command::Create { image, size, fs, files } => {
            let volume = data_volume::of_kind(fs);
            let plan = files::plan_adds(&files, &stick_path::StickPath::root())?;
            if !plan.is_empty() && !volume.writes_files() {
                return Err(Error::Usage(format!(
                    "dropboot does not copy files to {}: make the image empty, then copy them with Windows or ntfs-3g (or use --fs exfat); nothing was written",
                    volume.name()
                )));
            }
            let file = image::create(&image, size, volume)?;
            if !plan.is_empty() {
                let mut disk = image::Disk::from_file(&image, file, true)?;
                for (source, target) in &plan {
                    files::add(&mut disk, source, target, true)?;
                }
            }
            println!("made {} ({} MiB, {}), {} files copied", image.display(), size >> 20, volume.name(), files.len());
            Ok(())
        }
        Command::Add { image, files, to } => {
            let plan = files::plan_adds(&files, &stick_path::StickPath::parse(&to)?)?;
            let mut disk = image::Disk::open(&image, true)?;
            files::refuse_present(&mut disk, &plan)?;
            files::warn_unlisted(&mut disk, &plan)?;
            for (source, target) in &plan {
                files::add(&mut disk, source, target, false)?;
            }
            Ok(())
        }
        Command::Install { device, fs, yes, force } => {
            let dev = device::Device::inspect(&device)?;
            println!("{}", dev.describe());
            let refusals = dev.refusals(force);
            if !refusals.is_empty() {
                return Err(Error::Disk { path: device.clone(), problem: format!("not written:\n  {}", refusals.join("\n  ")) });
            }
            if !yes {
                use std::io::{BufRead, Write};
                print!("Erase everything on {} and make it a dropboot stick? Type yes: ", device.display());
                std::io::stdout().flush().map_err(Error::io("writing to the terminal"))?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer).map_err(Error::io("reading the answer"))?;
                if answer.trim() != "yes" {
                    return Err(Error::Usage("nothing written".into()));
                }
            }
            let volume = data_volume::of_kind(fs);
            let what = device.display().to_string();
            let bar = progress::steps(3);
            bar.set_message(format!("writing the layout, filesystem and boot code to {what}"));
            let mut file = image::open_for_writing(&device)?;
            image::lay_out(&mut file, dev.bytes / 512, volume, &what, false)?;
            bar.inc(1);
            bar.set_message(format!("flushing {what}"));
            file.sync_all().map_err(Error::io(format!("flushing {what}")))?;
            bar.inc(1);
            bar.set_message("asking the kernel to read the new partition table");
            let reread = device::reread_partitions(&file);
            bar.inc(1);
            bar.finish_and_clear();
            if let Err(e) = reread {
                eprintln!("dropboot: the kernel did not re-read the partition table of {what} ({e}); unplug and replug the stick");
            }
            println!("{what} is a dropboot stick now: copy .iso and .img files onto its partition, or use dropboot add");
            Ok(())
        }
        Command::Upgrade { target } => {
            let what = target.display().to_string();
            let mut disk = image::open_for_writing(&target)?;
            if bootcode::on_disk(&mut disk, &what).is_ok() {
                iso_partition::undo(&mut disk, &what)?;
            }
            let fault = fault::is("after-stage2");
            let before = bootcode::upgrade(&mut disk, &what, fault)?;
            println!("upgraded the boot code of {what}: {} -> {}", before.version(), bootcode::this_version());
            Ok(())
        }
        Command::Info { target, json } => {
            let what = target.display().to_string();
            let mut file = image::open_for_reading(&target)?;
            let code = bootcode::on_disk(&mut file, &what)?;
            let iso_partition = iso_partition::on_disk(&mut file, &what)?;
            let iso_partition_line = iso_partition.as_ref().map(|r| {
                format!(
                    "partition {}: {}, written at its last boot (its next start, or a dropboot command that writes, takes it out)",
                    r.slot + 1,
                    r.path
                )
            });
            let mut disk = image::Disk::open(&target, false)?;
            let space = files::space(&mut disk)?;
            let on_disk = code.version();
            let state = if !code.stage2_intact {
                "damaged (run dropboot upgrade)"
            } else if code.stage1_current && on_disk == bootcode::this_version() {
                "current"
            } else {
                "older or newer than this dropboot (dropboot upgrade replaces it)"
            };
            if json {
                let v = serde_json::json!({
                    "target": what,
                    "boot_code": { "version": on_disk.to_string(), "intact": code.stage2_intact, "stage1_current": code.stage1_current, "state": state },
                    "this_dropboot": bootcode::this_version().to_string(),
                    "filesystem": space.kind, "label": space.label,
                    "size_bytes": space.total, "free_bytes": space.free,
                    "iso_partition": iso_partition.as_ref().map(|r| serde_json::json!({
                        "partition": r.slot + 1, "path": r.path,
                        "start_lba": r.entry().start_lba, "sectors": r.entry().sectors,
                    })),
                });
                println!("{v:#}");
            } else {
                println!("{what}");
                println!("  boot code:     {on_disk} ({state}); this dropboot: {}", bootcode::this_version());
                println!("  data:          {} \"{}\", {} MiB, {} MiB free", space.kind, space.label, space.total >> 20, space.free >> 20);
                if let Some(line) = iso_partition_line {
                    println!("  ISO partition: {line}");
                }
            }
            Ok(())
        }
        Command::Defrag { image, path } => {
            let path = stick_path::StickPath::parse_file(&path)?;
            let mut disk = image::Disk::open(&image, true)?;
            if files::defrag(&mut disk, &path)? {
                println!("{path} is now in one piece");
            } else {
                println!("{path} already was in one piece");
            }
            Ok(())
        }
        Command::Qemu { image, window, memory, kvm } => {
            // Refuse what is not a dropboot disk before starting anything.
            let what = image.display().to_string();
            // A writer's lock, which QEMU inherits and holds while it runs:
            // the stage2 it boots writes the ISO partition entry.
            let mut file = image::open_for_writing(&image)?;
            bootcode::on_disk(&mut file, &what)?;
            image::keep_across_exec(&file, &what)?;
            let mut cmd = std::process::Command::new("qemu-system-x86_64");
            cmd.args(["-machine", if kvm { "pc,accel=kvm" } else { "pc,accel=tcg" }]);
            cmd.args(["-m", &memory.to_string()]);
            cmd.arg("-drive").arg(format!("file={},format=raw,if=ide", image.display()));
            if window {
                cmd.args(["-serial", "mon:stdio"]);
            } else {
                cmd.arg("-nographic");
            }
            eprintln!("dropboot: {cmd:?}");
            eprintln!("dropboot: Ctrl-A X quits QEMU");
            // QEMU takes this process's place: stopping it stops QEMU, and
            // the terminal is QEMU's.
            use std::os::unix::process::CommandExt;
            let e = cmd.exec();
            Err(Error::Io { doing: "starting qemu-system-x86_64 (install the qemu-system-x86 package)".into(), source: e })
        }
        Command::Rm { image, paths } => {
            let paths = paths.iter().map(|p| stick_path::StickPath::parse_file(p)).collect::<Result<Vec<_>>>()?;
            let mut disk = image::Disk::open(&image, true)?;
            for p in &paths {
                files::remove(&mut disk, p)?;
            }
            Ok(())
        }
        Command::Check { image, path, json } => {
            let path = path.map(|p| stick_path::StickPath::parse_file(&p)).transpose()?;
            let mut disk = image::Disk::open(&image, false)?;
            let verdicts = check::check(&mut disk, path.as_ref())?;
            if json {
                println!("{:#}", check::json(&verdicts));
            } else {
                check::print(&verdicts);
            }
            let failing = verdicts.iter().filter(|v| !v.boots).count();
            if failing > 0 {
                return Err(Error::NotBootable { failing, checked: verdicts.len() });
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Check { target }) => config::check(&target),
        Command::List { image, json } => {
            let mut disk = image::Disk::open(&image, false)?;
            let (files, problems) = files::boot_files(&mut disk)?;
            let entries = files::menu_config(&mut disk)?.arrange(files);
            if json {
                let list: Vec<_> = entries.iter().map(|e| serde_json::json!({"path": e.file.path, "size": e.file.size, "alias": e.alias})).collect();
                println!("{:#}", serde_json::Value::Array(list));
            } else {
                for e in &entries {
                    match &e.alias {
                        Some(alias) => println!("{:>12}  {}  ({alias})", e.file.size, e.file.path),
                        None => println!("{:>12}  {}", e.file.size, e.file.path),
                    }
                }
            }
            for p in &problems {
                eprintln!("dropboot: skipped {p}");
            }
            Ok(())
        }
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
