//! `make bench`: records (never asserts) how fast and how big dropboot is,
//! under QEMU/TCG with SeaBIOS, each figure against the peer it is judged
//! by (the stick read directly, QEMU's own CD drive, `cp`) in the same
//! run, over several runs. Prints one line a figure as it goes, one table
//! at the end, and writes the same figures to target/bench.json; QEMU's
//! command lines go to target/bench-qemu.log.
//!
//! `bench` runs the sections with goals (menu, probe, iso, live, create,
//! sizes); `bench WORD` the sections whose name contains WORD, `bench all`
//! every section (togo and persistence too).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use tests::media::{copy_fragmented, third_party};
use tests::probe::{build_iso_mode, cd_pointing_at_stick, point_at_stick_data, report, MODE_BENCH};
use tests::stick::{Case, Fs, Stick};
use tests::{BootOptions, Qemu, Usb};

/// What a figure should reach.
#[derive(Clone, Copy)]
enum Goal {
    /// The median at most this.
    AtMost(f64),
    /// The median of the runs' ratios to the peer at most, or at least, this.
    RatioAtMost(f64),
    RatioAtLeast(f64),
}

/// One measured figure: our runs, the peer's in the same runs, the goal.
struct Figure {
    section: &'static str,
    name: String,
    unit: &'static str,
    runs: Vec<f64>,
    peer: Option<(String, Vec<f64>)>,
    goal: Option<Goal>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

impl Figure {
    fn new(section: &'static str, name: impl Into<String>, unit: &'static str, runs: Vec<f64>) -> Figure {
        Figure { section, name: name.into(), unit, runs, peer: None, goal: None }
    }

    fn against(mut self, peer: impl Into<String>, runs: Vec<f64>) -> Figure {
        self.peer = Some((peer.into(), runs));
        self
    }

    fn goal(mut self, goal: Goal) -> Figure {
        self.goal = Some(goal);
        self
    }

    /// Each run's ratio to the peer's run beside it.
    fn ratios(&self) -> Option<Vec<f64>> {
        self.peer.as_ref().map(|(_, p)| self.runs.iter().zip(p).map(|(a, b)| a / b).collect())
    }

    fn met(&self) -> Option<bool> {
        let ratio = self.ratios().map(|r| median(&r));
        match self.goal? {
            Goal::AtMost(x) => Some(median(&self.runs) <= x),
            Goal::RatioAtMost(x) => ratio.map(|r| r <= x),
            Goal::RatioAtLeast(x) => ratio.map(|r| r >= x),
        }
    }

    fn goal_text(&self) -> String {
        match self.goal {
            None => String::new(),
            Some(Goal::AtMost(x)) => format!("<= {x} {}", self.unit),
            Some(Goal::RatioAtMost(x)) => format!("ratio <= {x}"),
            Some(Goal::RatioAtLeast(x)) => format!("ratio >= {x}"),
        }
    }

    fn json(&self) -> serde_json::Value {
        let (lo, hi) = min_max(&self.runs);
        let goal = self.goal.map(|g| match g {
            Goal::AtMost(x) => json!({ "median_at_most": x }),
            Goal::RatioAtMost(x) => json!({ "ratio_at_most": x }),
            Goal::RatioAtLeast(x) => json!({ "ratio_at_least": x }),
        });
        let peer = self.peer.as_ref().map(|(name, runs)| {
            let (plo, phi) = min_max(runs);
            json!({ "name": name, "runs": runs, "median": median(runs), "min": plo, "max": phi })
        });
        let ratio = self.ratios().map(|r| json!({ "runs": r, "median": median(&r) }));
        json!({
            "section": self.section, "name": self.name, "unit": self.unit,
            "runs": self.runs, "median": median(&self.runs), "min": lo, "max": hi,
            "peer": peer, "ratio": ratio, "goal": goal, "met": self.met(),
        })
    }

    fn value(&self, v: f64) -> String {
        match self.unit {
            "s" if v < 10.0 => format!("{v:.2} s"),
            "s" => format!("{v:.1} s"),
            "MiB/s" => format!("{v:.1} MiB/s"),
            unit => format!("{v:.0} {unit}"),
        }
    }

    /// One row of the table.
    fn row(&self) -> String {
        let (lo, hi) = min_max(&self.runs);
        let spread = if self.runs.len() > 1 { format!("{}-{}, {}", self.value(lo), self.value(hi), self.runs.len()) } else { String::from("1 run") };
        let peer = self.peer.as_ref().map_or(String::new(), |(name, runs)| format!("{name} {}", self.value(median(runs))));
        let ratio = self.ratios().map_or(String::new(), |r| format!("{:.2}", median(&r)));
        let met = match self.met() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        format!(
            "| {} | {} | {} ({spread}) | {peer} | {ratio} | {} | {met} |",
            self.section,
            self.name,
            self.value(median(&self.runs)),
            self.goal_text()
        )
    }
}

/// The figures so far, printed as they come.
struct Bench {
    figures: Vec<Figure>,
}

impl Bench {
    fn record(&mut self, f: Figure) {
        let (lo, hi) = min_max(&f.runs);
        let ratio = f.ratios().map_or(String::new(), |r| format!("; ratio {:.2}", median(&r)));
        let peer = f.peer.as_ref().map_or(String::new(), |(name, runs)| format!("; {name} {}", f.value(median(runs))));
        println!("  {}: {}: {} (of {}: {}-{}){peer}{ratio}", f.section, f.name, f.value(median(&f.runs)), f.runs.len(), f.value(lo), f.value(hi));
        self.figures.push(f);
    }
}

/// Runs `a` and `b` at once, one QEMU each on this machine's two cores:
/// dropboot and its peer under the same load.
fn side_by_side<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|s| {
        let b = s.spawn(b);
        let a = a();
        (a, b.join().expect("the peer's run"))
    })
}

const RUNS: usize = 3;
/// Boots of the probe with the stick on IDE ([`probe_rounds`] says why).
const IDE_PROBE_BOOTS: usize = 5;

/// [`RUNS`] runs of dropboot (`ours`) and its peer side by side: the
/// seconds of each.
fn paired_runs(ours: impl Fn() -> f64 + Sync, peer: impl Fn() -> f64 + Sync) -> (Vec<f64>, Vec<f64>) {
    (0..RUNS).map(|_| side_by_side(&ours, &peer)).unzip()
}

fn main() {
    let only = std::env::args().nth(1).unwrap_or_default();
    let default = ["menu", "probe", "iso", "live", "create", "sizes"];
    let want = |section: &str| match only.as_str() {
        "" => default.contains(&section),
        "all" => true,
        word => section.contains(word),
    };
    let target = tests::target_dir();
    let command_log = target.join("bench-qemu.log");
    let _ = std::fs::remove_file(&command_log);
    tests::log_commands_to(&command_log);
    let started = Instant::now();
    println!("dropboot bench: QEMU x86_64 with SeaBIOS, TCG; wall-clock seconds; QEMU command lines in {}", command_log.display());
    let mut bench = Bench { figures: Vec::new() };
    let sections: [(&str, fn(&mut Bench)); 8] = [
        ("sizes", sizes_section),
        ("menu", menu_section),
        ("probe", probe_section),
        ("iso", iso_section),
        ("live", live_section),
        ("create", create_section),
        ("togo", togo_section),
        ("persistence", persistence_section),
    ];
    let mut section_seconds = Vec::new();
    for (name, section) in sections {
        if want(name) {
            let start = Instant::now();
            section(&mut bench);
            let seconds = start.elapsed().as_secs_f64();
            println!("  ({name}: {seconds:.0} s)");
            section_seconds.push((name, seconds));
        }
    }
    let took = started.elapsed().as_secs_f64();
    let machine = machine();
    let split: Vec<String> = section_seconds.iter().map(|(name, seconds)| format!("{name} {seconds:.0} s")).collect();
    println!("\ndropboot bench, {} UTC, {machine}, {took:.0} s ({})", date(), split.join(", "));
    println!("| section | figure | median (min-max, runs) | peer (median) | ratio | goal | met |");
    println!("|---|---|---|---|---|---|---|");
    for f in &bench.figures {
        println!("{}", f.row());
    }
    let report = json!({
        "date": date(), "machine": machine, "seconds": took,
        "section_seconds": section_seconds.iter().map(|(name, seconds)| json!({"section": name, "seconds": seconds})).collect::<Vec<_>>(),
        "figures": bench.figures.iter().map(Figure::json).collect::<Vec<_>>(),
    });
    let path = target.join("bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("the report")).expect("writing target/bench.json");
    println!("(also in {})", path.display());
}

fn date() -> String {
    let out = tests::media::output(std::process::Command::new("date").args(["-u", "+%Y-%m-%d %H:%M"]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// "N cores, CPU model, G GiB".
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_string()));
    let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: f64 = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0.0);
    format!("{cores} cores, {}, {:.0} GiB", model.unwrap_or_else(|| "unknown CPU".into()), kib / 1048576.0)
}

fn sizes_section(bench: &mut Bench) {
    let stage2 = include_bytes!("../../../build/stage2.bin").len() as f64;
    let hook = include_bytes!("../../../build/int13_hook.bin").len() as f64;
    bench.record(Figure::new("sizes", "stage2 (the stage2 area holds 384 KiB)", "bytes", vec![stage2]));
    bench.record(Figure::new("sizes", "the INT 13h hook's code", "bytes", vec![hook]));
}

/// Seconds from QEMU's start to COM1's copy of the menu's title, and to
/// stage2's first line and its count of boot files on the way.
struct MenuTimes {
    stage2: f64,
    found: f64,
    menu: f64,
}

fn time_to_menu(case: &Case, stick: &Path, files: usize, usb: Option<Usb>) -> MenuTimes {
    let mut vm = case.boot_with(stick, &BootOptions { usb, ..Default::default() });
    let title = format!("{files} boot files on");
    let shown = vm.wait_serial_arrival(&title, Duration::from_secs(60));
    let at = |needle: &str| vm.serial_arrival(needle).map_or(f64::NAN, |t| t.duration_since(vm.spawned()).as_secs_f64());
    MenuTimes {
        stage2: at("dropboot: stage2"),
        found: at(&format!("dropboot: {files} boot files")),
        menu: shown.duration_since(vm.spawned()).as_secs_f64(),
    }
}

fn menu_section(bench: &mut Bench) {
    let case = Case::new("bench-menu");
    let files: Vec<_> = (0..20).map(|i| case.random_file(&format!("image-{i:02}.iso"), 4096, i)).collect();
    let stick = case.stick().size("256M").files(&files).build();
    let runs: Vec<MenuTimes> = (0..5).map(|_| time_to_menu(&case, &stick.path, 20, None)).collect();
    bench
        .record(Figure::new("menu", "QEMU start to the menu, 20 files (exFAT)", "s", runs.iter().map(|r| r.menu).collect()).goal(Goal::AtMost(0.30)));
    bench.record(Figure::new("menu", "  of which QEMU start to stage2's first line", "s", runs.iter().map(|r| r.stage2).collect()));
    let mut sticks = Vec::new();
    for (fs, name) in [(Fs::Exfat, "exFAT"), (Fs::Fat32, "FAT32"), (Fs::NtfsByMkntfs, "NTFS")] {
        let case = Case::new(&format!("bench-menu-5000-{}", name.to_lowercase()));
        // Made once and kept (200 `dropboot add`s take minutes on FAT32);
        // the menu writes nothing to it.
        let kept = tests::target_dir().join("bench-sticks").join(format!("menu-5000-{}.img", name.to_lowercase()));
        if !kept.exists() {
            let stick = case.stick().size("256M").fs(fs).many_files(200, 25).build();
            std::fs::create_dir_all(kept.parent().expect("a folder")).expect("target/bench-sticks");
            std::fs::rename(&stick.path, &kept).expect("keeping the stick");
        }
        // With this build's boot code.
        tests::media::dropboot(["upgrade".as_ref(), kept.as_os_str()]);
        let stick = kept;
        let buses: &[(Option<Usb>, &str)] = if fs == Fs::Exfat { &[(None, "IDE"), (Some(Usb::Xhci), "USB xHCI")] } else { &[(None, "IDE")] };
        for &(usb, bus) in buses {
            let runs: Vec<MenuTimes> = (0..RUNS).map(|_| time_to_menu(&case, &stick, 5000, usb)).collect();
            bench.record(
                Figure::new(
                    "menu",
                    format!("QEMU start to the menu, 5,000 files in 200 folders ({name}, {bus})"),
                    "s",
                    runs.iter().map(|r| r.menu).collect(),
                )
                .goal(Goal::AtMost(1.0)),
            );
            bench.record(Figure::new("menu", "  of which QEMU start to stage2's first line", "s", runs.iter().map(|r| r.stage2).collect()));
            bench.record(Figure::new("menu", "  of which stage2 finding the files", "s", runs.iter().map(|r| r.found - r.stage2).collect()));
            bench.record(Figure::new("menu", "  of which sorting and drawing", "s", runs.iter().map(|r| r.menu - r.found).collect()));
        }
        sticks.push((case, stick));
    }
    // Search: the last key typed to the filtered list, on exFAT.
    let (case, stick) = &sticks[0];
    let runs: Vec<f64> = (0..RUNS)
        .map(|_| {
            let mut vm = case.boot(stick);
            vm.wait_screen("5000 boot files");
            vm.keys(&["1", "2", "3"]);
            let typed = Instant::now();
            vm.press(&["slash"]);
            vm.wait_screen_arrival("25 found", Duration::from_secs(30)).duration_since(typed).as_secs_f64()
        })
        .collect();
    bench.record(Figure::new("menu", "search over 5,000 files: last key to the filtered list", "s", runs));
}

/// One boot of the probe in bench mode: per request size (blocks), the
/// MiB/s of each timed round through the hook (or the CD drive) and from
/// the stick directly, read turn about in that round.
fn probe_run(case: &Case, stick: &Path, usb: Option<Usb>, cdrom: Option<PathBuf>) -> Vec<(u32, Vec<(f64, f64)>)> {
    let direct = cdrom.is_some();
    let opts = BootOptions { boot_cdrom: cdrom, usb, limit: Some(Duration::from_secs(300)), ..Default::default() };
    let mut vm = case.boot_with(stick, &opts);
    if !direct {
        vm.wait_screen("1 boot file on");
        vm.keys(&["ret"]);
    }
    vm.wait_exit_within(Duration::from_secs(290));
    let lines = report(&vm.serial_text());
    let field = |line: &str, k: &str| -> u64 {
        let v = line.split(' ').find_map(|w| w.strip_prefix(k)).unwrap_or_else(|| panic!("{k} in {line}"));
        u64::from_str_radix(v, 16).expect("hex")
    };
    let total =
        lines.iter().find(|l| l.starts_with("probe: bench ticks=")).unwrap_or_else(|| panic!("the probe's bench lines:\n{}", lines.join("\n")));
    // TSC units (of 1024 cycles) a second, from the whole run's BIOS ticks.
    let per_second = field(total, "tsc=") as f64 / (field(total, "ticks=") as f64 / 18.2065);
    // A size's round lines come before its blocks line.
    let mut sizes = Vec::new();
    let mut rounds = Vec::new();
    for l in &lines {
        if l.starts_with("probe: bench round ") {
            rounds.push((field(l, "hook="), field(l, "stick=")));
        } else if l.starts_with("probe: bench blocks=") {
            assert!(!l.ends_with("failed"), "a bench read failed: {l}");
            assert!(!rounds.is_empty(), "no rounds before {l}");
            // The amount is read once a round.
            let mib = field(l, "amount=") as f64 * 2048.0 / (1 << 20) as f64;
            let speed = |tsc: u64| mib / (tsc as f64 / per_second);
            sizes.push((field(l, "blocks=") as u32, rounds.drain(..).map(|(h, s)| (speed(h), speed(s))).collect()));
        }
    }
    sizes
}

/// Boots of the probe in bench mode: per request size (blocks), every
/// timed round of every boot, each a pair read request by request turn
/// about (through the hook or the CD drive, and from the stick). The
/// rounds are the samples: their median ratio is not moved by a round
/// that a host hiccup slowed on one side, as a boot's sum of rounds is.
///
/// The hook on IDE gets [`IDE_PROBE_BOOTS`] boots rather than [`RUNS`]:
/// there one boot's rounds agree with each other to 2-5%, but one boot
/// differs from the next by up to 7% either way (the hook "faster" than
/// the stick as often as slower), which three boots cannot average out.
fn probe_rounds(case: &Case, stick: &Path, usb: Option<Usb>, cdrom: Option<PathBuf>) -> Vec<(u32, Vec<f64>, Vec<f64>)> {
    let boots = if usb.is_none() && cdrom.is_none() { IDE_PROBE_BOOTS } else { RUNS };
    let runs: Vec<Vec<(u32, Vec<(f64, f64)>)>> = (0..boots).map(|_| probe_run(case, stick, usb, cdrom.clone())).collect();
    runs[0]
        .iter()
        .enumerate()
        .map(|(i, &(blocks, _))| {
            let pairs = runs.iter().flat_map(|r| r[i].1.iter().copied());
            let (first, stick): (Vec<f64>, Vec<f64>) = pairs.unzip();
            (blocks, first, stick)
        })
        .collect()
}

fn probe_section(bench: &mut Bench) {
    let case = Case::new("bench-probe");
    let iso = build_iso_mode(&case.dir, 4 << 20, MODE_BENCH);
    let stick = case.stick().size("256M").file(&iso.path).build();
    point_at_stick_data(&stick.path, &iso);
    // FAT32 with 512-byte clusters: the ISO's blocks start off a 4-sector
    // boundary of the stick.
    let odd_case = Case::new("bench-probe-unaligned");
    let mut odd = None;
    for pad in 0..4 {
        let filler = odd_case.random_file("a-filler.bin", 512 * pad + 1, pad as u64);
        let s = odd_case.stick().size("256M").fs(Fs::Fat32).file(&filler).file(&iso.path).build();
        let lba = point_at_stick_data(&s.path, &iso);
        if lba % 4 != 0 {
            odd = Some((s, lba));
            break;
        }
    }
    let (odd, _) = odd.expect("a stick with the ISO off a 4-sector boundary");
    let buses: [(&str, &Stick, Option<Usb>); 4] = [
        ("IDE", &stick, None),
        ("USB xHCI", &stick, Some(Usb::Xhci)),
        ("USB EHCI", &stick, Some(Usb::Ehci)),
        ("USB xHCI, ISO at a sector = 4n+1..3", &odd, Some(Usb::Xhci)),
    ];
    for (bus, stick, usb) in buses {
        for (blocks, hook, raw) in probe_rounds(&case, &stick.path, usb, None) {
            bench.record(
                Figure::new("probe", format!("{bus}: {} KiB requests through the hook", blocks * 2), "MiB/s", hook)
                    .against("the stick itself", raw)
                    .goal(Goal::RatioAtLeast(0.95)),
            );
        }
    }
    // Low memory the hook takes.
    let small = build_iso_mode(&case.dir, 1 << 20, MODE_BENCH);
    let fragmented = case.stick().fs(Fs::Fat32).build();
    let pieces = copy_fragmented(&fragmented.path, &small.path, 60);
    for (stick, what) in [(&stick, "a contiguous ISO".to_string()), (&fragmented, format!("an ISO in {pieces} pieces"))] {
        let mut vm = case.boot(stick);
        vm.wait_screen("1 boot file on");
        vm.keys(&["ret"]);
        vm.wait_serial("INT 13h hook at");
        let text = vm.serial_text();
        let rest = &text[text.find("INT 13h hook at").unwrap_or(0)..];
        let kib = rest.split('(').nth(1).and_then(|r| r.split(' ').next()).and_then(|k| k.parse().ok()).unwrap_or(f64::NAN);
        bench.record(Figure::new("sizes", format!("low memory the hook takes for {what}"), "KiB", vec![kib]));
    }
}

/// How a payload shows that it is up.
#[derive(Clone, Copy)]
enum Shown {
    Screen(&'static str),
    Serial(&'static str),
}

fn wait_shown(vm: &mut Qemu, shown: Shown, limit: Duration) -> Instant {
    match shown {
        Shown::Screen(t) => vm.wait_screen_arrival(t, limit),
        Shown::Serial(t) => vm.wait_serial_arrival(t, limit),
    }
}

/// Seconds from Enter in the menu of `stick` (its one boot file) to
/// `shown`, the stick on `usb` or IDE.
fn through_dropboot(case: &Case, stick: &Stick, usb: Option<Usb>, shown: Shown, memory: u32, limit: Duration) -> f64 {
    let opts = BootOptions { memory_mib: Some(memory), usb, limit: Some(limit + Duration::from_secs(60)), ..Default::default() };
    let mut vm = case.boot_with(stick, &opts);
    vm.wait_screen("1 boot file on");
    let enter = Instant::now();
    vm.keys(&["ret"]);
    wait_shown(&mut vm, shown, limit).duration_since(enter).as_secs_f64()
}

/// Seconds from QEMU's start to `shown` with `iso` in QEMU's CD drive,
/// the machine otherwise as dropboot's run has it: `disk` (a blank one) on
/// `usb` or IDE, so that a payload that starts the same controllers (iPXE
/// its USB driver) does the same work.
fn from_cd_drive(case: &Case, disk: &Path, usb: Option<Usb>, iso: &Path, shown: Shown, memory: u32, limit: Duration) -> f64 {
    let opts = BootOptions {
        memory_mib: Some(memory),
        usb,
        boot_cdrom: Some(iso.into()),
        limit: Some(limit + Duration::from_secs(60)),
        ..Default::default()
    };
    let mut vm = case.boot_with(disk, &opts);
    wait_shown(&mut vm, shown, limit).duration_since(vm.spawned()).as_secs_f64()
}

/// A blank 1 MiB disk in `case`'s folder: the CD's machine gets it where
/// dropboot's has the stick.
fn blank_disk(case: &Case) -> PathBuf {
    let blank = case.file("blank.img");
    std::fs::File::create(&blank).and_then(|f| f.set_len(1 << 20)).expect("a blank disk");
    blank
}

/// A boot file timed against QEMU's own CD drive.
struct AgainstCd {
    name: String,
    iso: PathBuf,
    shown: Shown,
    memory: u32,
    /// The ratio's goal with the stick on USB storage (xHCI), and on IDE.
    goals: (f64, Option<f64>),
    /// Runs with the stick on IDE (each side): [`RUNS`], or one for a
    /// figure with no goal whose runs would take minutes of the bench.
    ide_runs: usize,
}

impl AgainstCd {
    /// Runs on `bus` (0: USB storage, 1: IDE), each side.
    fn runs(&self, bus: usize) -> usize {
        if bus == 0 {
            RUNS
        } else {
            self.ide_runs
        }
    }
}

/// Each of `files` through dropboot on USB storage (xHCI) and on IDE:
/// Enter in the menu to `shown`, against QEMU's start to it from its CD
/// drive. dropboot's runs go one after another on one core and the CD's
/// on the other, in the same order, so each meets the same load (one
/// other QEMU) and neither core waits for the other until the section
/// ends.
/// Returns each file's median seconds from the CD drive with the disk on IDE.
fn against_cd(bench: &mut Bench, section: &'static str, files: &[AgainstCd]) -> Vec<f64> {
    let limit = Duration::from_secs(240);
    let setups: Vec<(Case, Case, Stick, PathBuf)> = files
        .iter()
        .map(|file| {
            let case = Case::new(&format!("bench-{}", file.name));
            let cd_case = Case::new(&format!("bench-{}-cd", file.name));
            let stick = case.stick().size("256M").file(&file.iso).build();
            let blank = blank_disk(&cd_case);
            (case, cd_case, stick, blank)
        })
        .collect();
    let buses = [("USB storage (xHCI)", Some(Usb::Xhci)), ("IDE", None)];
    let figures: Vec<(usize, usize)> = (0..files.len()).flat_map(|file| (0..buses.len()).map(move |bus| (file, bus))).collect();
    let (ours, cd): (Vec<Vec<f64>>, Vec<Vec<f64>>) = side_by_side(
        || {
            figures
                .iter()
                .map(|&(i, bus)| {
                    let (case, _, stick, _) = &setups[i];
                    (0..files[i].runs(bus)).map(|_| through_dropboot(case, stick, buses[bus].1, files[i].shown, files[i].memory, limit)).collect()
                })
                .collect()
        },
        || {
            figures
                .iter()
                .map(|&(i, bus)| {
                    let (_, cd_case, _, blank) = &setups[i];
                    let file = &files[i];
                    (0..file.runs(bus)).map(|_| from_cd_drive(cd_case, blank, buses[bus].1, &file.iso, file.shown, file.memory, limit)).collect()
                })
                .collect()
        },
    );
    let mut cd_on_ide = vec![f64::NAN; files.len()];
    for ((&(i, bus), ours), cd) in figures.iter().zip(ours).zip(cd) {
        let file = &files[i];
        if buses[bus].1.is_none() {
            cd_on_ide[i] = median(&cd);
        }
        let name = format!("{}: Enter to {}, the stick on {}", file.name, what_shown(file.shown), buses[bus].0);
        let mut f = Figure::new(section, name, "s", ours).against("QEMU's CD drive (from its start)", cd);
        if let Some(g) = if bus == 0 { Some(file.goals.0) } else { file.goals.1 } {
            f = f.goal(Goal::RatioAtMost(g));
        }
        bench.record(f);
    }
    cd_on_ide
}

fn what_shown(shown: Shown) -> String {
    match shown {
        Shown::Screen(t) | Shown::Serial(t) => format!("{t:?}"),
    }
}

fn iso_section(bench: &mut Bench) {
    // memtest86+ gets 64 MiB: with 256 it spends 10 s of TCG on its own
    // before its first screen (0.2 s with 64), which only thins the
    // comparison out and takes a minute of the bench. The installer on
    // IDE (no goal: the figure beside the USB one) gets one run each side:
    // its boots are 45-50 s here, and two more of each took 100 s of the
    // bench's 15 minutes.
    let files = [
        ("grub-rescue-cdrom.iso", Shown::Screen("GNU GRUB  version"), 256, RUNS),
        ("ipxe.iso", Shown::Screen("iPXE initialising devices"), 256, RUNS),
        ("memtest86+x64.iso", Shown::Screen("Memtest86+ v6"), 64, RUNS),
        ("debian-installer.iso", Shown::Serial("Select a language"), 1024, 1),
    ]
    .map(|(name, shown, memory, ide_runs)| AgainstCd { name: name.into(), iso: third_party(name), shown, memory, goals: (1.0, None), ide_runs });
    against_cd(bench, "iso", &files);
}

/// The BIOS alone, no dropboot: the probe booted from QEMU's CD drive
/// times its data there against the same bytes of a stick that is an IDE
/// disk beside it, in the request sizes of boot loaders. What a boot
/// loader loads from a stick on IDE comes no faster than this disk gives
/// it, whatever the hook does. Returns the disk's and the CD drive's
/// MiB/s (medians) at 64 KiB requests, the size boot loaders load
/// kernels and initrds in.
fn bios_alone_on_ide(bench: &mut Bench, section: &'static str) -> (f64, f64) {
    let case = Case::new("bench-bios-alone");
    let iso = build_iso_mode(&case.dir, 4 << 20, MODE_BENCH);
    let stick = case.stick().size("256M").file(&iso.path).build();
    let cd = case.file("probe-cd.iso");
    cd_pointing_at_stick(&iso, point_at_stick_data(&stick.path, &iso), &cd);
    let mut at_64k = (f64::NAN, f64::NAN);
    for (blocks, cd_drive, disk) in probe_rounds(&case, &stick.path, None, Some(cd.clone())) {
        if blocks == 32 {
            at_64k = (median(&disk), median(&cd_drive));
        }
        bench.record(
            Figure::new(section, format!("the BIOS alone: its IDE disk (a stick), {} KiB requests", blocks * 2), "MiB/s", disk)
                .against("its own CD drive", cd_drive),
        );
    }
    at_64k
}

/// Bytes of the files at `paths` in the ISO image `iso`.
fn loaded_bytes(iso: &Path, paths: &[&str]) -> u64 {
    let mut image = std::fs::read(iso).expect("the ISO");
    let mut tree = bootfs::iso_tree::Iso::open(image.as_mut_slice()).expect("an ISO 9660 volume");
    paths.iter().map(|p| tree.find(p).unwrap_or_else(|e| panic!("{p} in {}: {e:?}", iso.display())).size as u64).sum()
}

fn live_section(bench: &mut Bench) {
    let (disk, cd_drive) = bios_alone_on_ide(bench, "live");
    // The files each one's boot loader loads through the BIOS.
    let systems = [
        ("debian-live.iso", ["/live/vmlinuz", "/live/initrd.img"]),
        ("debian-live-grub.iso", ["/live/vmlinuz", "/live/initrd.img"]),
        ("dracut-live.iso", ["/boot/vmlinuz", "/boot/initrd.img"]),
    ];
    let files = systems.map(|(iso, _)| {
        let line: &'static str = Box::leak(format!("dropboot-live-root: {} reached its root", iso.trim_end_matches(".iso")).into_boxed_str());
        AgainstCd {
            name: iso.into(),
            iso: tests::media::live_medium(iso),
            shown: Shown::Serial(line),
            memory: 1024,
            goals: (1.0, Some(1.1)),
            ide_runs: RUNS,
        }
    });
    let cd_on_ide = against_cd(bench, "live", &files);
    // The least any loader could take on IDE: the CD's own time, plus what
    // the BIOS's IDE disk costs over its CD drive for the bytes the boot
    // loader loads (the kernel and the initrd, at 64 KiB requests).
    for ((file, (_, paths)), cd) in files.iter().zip(systems).zip(cd_on_ide) {
        let mib = loaded_bytes(&file.iso, &paths) as f64 / (1 << 20) as f64;
        let floor = cd + mib / disk - mib / cd_drive;
        bench.record(
            Figure::new(
                "live",
                format!(
                    "{}: the least any loader could take on IDE through this BIOS ({mib:.0} MiB loaded from its IDE disk, not its CD drive)",
                    file.name
                ),
                "s",
                vec![floor],
            )
            .against("QEMU's CD drive (from its start)", vec![cd]),
        );
    }
}

/// `dropboot create` (exFAT) with a 4 GiB file, against `cp` of the same
/// file on the same disk, both flushed to the disk, alternating.
fn create_section(bench: &mut Bench) {
    use std::io::Write;
    let case = Case::new("bench-create");
    let big = case.file("big.iso");
    {
        // A pattern, not zeros: nothing may be skipped as a hole.
        let mut f = std::fs::File::create(&big).expect("the 4 GiB file");
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8 | 1).collect();
        for _ in 0..4096 {
            f.write_all(&chunk).expect("writing the 4 GiB file");
        }
        f.sync_all().expect("sync");
    }
    let sync = || {
        let _ = tests::media::output(&mut std::process::Command::new("sync"));
    };
    let image = case.file("stick.img");
    let copy = case.file("copy.iso");
    let (mut ours, mut cp) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let _ = std::fs::remove_file(&image);
        sync();
        let start = Instant::now();
        Stick::at(&image).size("6G").file(&big).build();
        sync();
        ours.push(start.elapsed().as_secs_f64());
        let _ = std::fs::remove_file(&copy);
        sync();
        let start = Instant::now();
        tests::media::run(std::process::Command::new("cp").arg(&big).arg(&copy));
        sync();
        cp.push(start.elapsed().as_secs_f64());
    }
    bench.record(
        Figure::new("create", "dropboot create (exFAT) with a 4 GiB file, flushed", "s", ours).against("cp of it", cp).goal(Goal::RatioAtMost(1.0)),
    );
    let _ = std::fs::remove_dir_all(&case.dir);
}

/// Enter in the menu to an installed system's COM1 line (its root mounted
/// from inside its image file, its boot counted), through dropboot on IDE
/// and on USB storage (xHCI), against QEMU's start to the same line with
/// the raw image as QEMU's own first disk.
fn togo_section(bench: &mut Bench) {
    for (image, raw) in [("debian-mbr.img", "debian-mbr.img"), ("debian-mbr.vhd", "debian-mbr.img"), ("dracut-mbr.img", "dracut-mbr.img")] {
        let system = raw.trim_end_matches(".img");
        let case = Case::new(&format!("bench-{image}"));
        let own_case = Case::new(&format!("bench-{image}-own-disk"));
        let limit = Duration::from_secs(300);
        let line = tests::installed::boot_line(system, 1);
        let line: &'static str = Box::leak(line.into_boxed_str());
        // A fresh stick and a fresh copy each run: the system counts its boots.
        let (usb, own) = paired_runs(
            || {
                let stick = case.stick().size("256M").file(tests::installed::installed_medium(image)).build();
                through_dropboot(&case, &stick, Some(Usb::Xhci), Shown::Serial(line), 1024, limit)
            },
            || {
                let disk = own_case.file(raw);
                std::fs::copy(tests::installed::installed_medium(raw), &disk).expect("a copy of the image");
                let opts = BootOptions { memory_mib: Some(1024), limit: Some(limit), ..Default::default() };
                let mut vm = own_case.boot_with(&disk, &opts);
                vm.wait_serial_arrival(line, limit).duration_since(vm.spawned()).as_secs_f64()
            },
        );
        bench.record(
            Figure::new("togo", format!("{image}: Enter to its boot line, the stick on USB storage (xHCI)"), "s", usb)
                .against("its own disk (from QEMU's start)", own),
        );
    }
}

/// Enter in the menu to a live system's root line with a persistence
/// backend (the ISO's initrd grown by stage2, the backend one more
/// partition), through dropboot on USB storage (xHCI), against QEMU's
/// start to the same line from its CD drive with the backend a second
/// disk and the parameter a person would type written into a copy of the
/// ISO's isolinux.cfg.
fn persistence_section(bench: &mut Bench) {
    use std::process::Command;
    for (iso, label, parameter) in
        [("debian-live.iso", "persistence", "persistence"), ("dracut-live.iso", "vtoycow", "rd.live.overlay=LABEL=vtoycow:/vtoyoverlayfs/overlayfs")]
    {
        let path = tests::media::live_medium(iso);
        let line: &'static str = Box::leak(format!("dropboot-live-root: {} reached its root", iso.trim_end_matches(".iso")).into_boxed_str());
        let case = Case::new(&format!("bench-persist-{iso}"));
        let ours_dir = Case::new(&format!("bench-persist-{iso}-stick"));
        let cd_dir = Case::new(&format!("bench-persist-{iso}-cd"));
        let limit = Duration::from_secs(400);
        // The CD with the parameter typed: a copy whose isolinux.cfg says it.
        let cfg = case.file("isolinux.cfg");
        tests::media::run(
            Command::new("xorriso").args(["-osirrox", "on", "-indev"]).arg(&path).args(["-extract", "/isolinux/isolinux.cfg"]).arg(&cfg),
        );
        let text = std::fs::read_to_string(&cfg).expect("isolinux.cfg");
        let typed: String =
            text.lines().map(|l| if l.trim_start().starts_with("append") { format!("{l} {parameter}\n") } else { format!("{l}\n") }).collect();
        std::fs::write(&cfg, typed).expect("isolinux.cfg with the parameter");
        let typed_iso = case.file("typed.iso");
        let _ = std::fs::remove_file(&typed_iso);
        tests::media::run(
            Command::new("xorriso")
                .arg("-indev")
                .arg(&path)
                .arg("-outdev")
                .arg(&typed_iso)
                .args(["-boot_image", "any", "replay", "-map"])
                .arg(&cfg)
                .args(["/isolinux/isolinux.cfg", "-commit"]),
        );
        let (ours, cd) = paired_runs(
            || {
                let backend = tests::media::ventoy_style_backend(&ours_dir.file(""), label);
                let config =
                    format!("{{ \"persistence\": [ {{ \"image\": \"/{iso}\", \"backend\": \"/persistence/{label}.dat\", \"autosel\": 1 }} ] }}");
                let stick = ours_dir.stick().size("320M").file(&path).file_in(&backend, "/persistence").ventoy_json(&config).build();
                through_dropboot(&ours_dir, &stick, Some(Usb::Xhci), Shown::Serial(line), 1024, limit)
            },
            || {
                let cd_backend = tests::media::ventoy_style_backend(&cd_dir.file(""), label);
                let blank = blank_disk(&cd_dir);
                let opts = BootOptions {
                    memory_mib: Some(1024),
                    boot_cdrom: Some(typed_iso.clone()),
                    extra_disks: vec![cd_backend],
                    limit: Some(limit),
                    ..Default::default()
                };
                let mut vm = cd_dir.boot_with(&blank, &opts);
                vm.wait_serial_arrival(line, limit).duration_since(vm.spawned()).as_secs_f64()
            },
        );
        bench.record(
            Figure::new("persistence", format!("{iso} with a backend: Enter to its live root, USB storage (xHCI)"), "s", ours)
                .against(format!("QEMU's CD drive with `{parameter}` typed"), cd),
        );
    }
}
