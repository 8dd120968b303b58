//! Every input the fuzz targets start from (the seeds, made from real
//! media) and every crash fuzzing ever found (fuzz/regressions/<target>/)
//! runs through the same bootfs::fuzz functions here, in `cargo test`: a
//! fixed crash that comes back fails the build, fuzzer or not.

use std::fs;

use tests::stick::Case;

#[test]
fn every_seed_and_every_saved_crash_runs_through_its_target_without_a_panic() {
    let case = Case::new("fuzz_replay");
    let out = case.file("seeds");
    let made = tests::seeds::write_all(&out, &case.file("scratch"));
    let mut ran = 0;
    for (target, run) in bootfs::fuzz::TARGETS {
        let Ok(entries) = fs::read_dir(out.join(target)) else { continue };
        for e in entries.flatten() {
            run(&fs::read(e.path()).expect("a seed"));
            ran += 1;
        }
    }
    assert_eq!(ran, made, "every seed ran");
    for (target, path) in tests::seeds::regressions() {
        let run = bootfs::fuzz::target(&target).expect("a known target");
        eprintln!("replaying {}", path.display());
        run(&fs::read(&path).expect("a saved crash"));
    }
}

#[test]
fn each_target_has_seeds_that_reach_past_its_first_check() {
    // A seed that every parser refuses at once would leave the fuzzer
    // guessing; these must parse.
    let case = Case::new("fuzz_seeds_parse");
    let out = case.file("seeds");
    tests::seeds::write_all(&out, &case.file("scratch"));
    let read = |t: &str, n: &str| fs::read(out.join(t).join(n)).expect("seed");
    let fat = bootfs::fuzz::SparseDisk::decode(&read("fat32", "stick"));
    let mut fat = bootfs::fat::Fat32::open(fat).expect("the FAT32 seed opens");
    assert_eq!(bootfs::scan::scan(&mut fat).expect("scan").files.len(), 2);
    let ex = bootfs::fuzz::SparseDisk::decode(&read("exfat", "stick"));
    let ex = bootfs::filesystem::Filesystem::open(ex).expect("the exFAT seed opens");
    assert_eq!(ex.kind(), "exFAT");
    let mut iso = bootfs::fuzz::SparseDisk::decode(&read("eltorito", "probe"));
    let plan = bootfs::bootplan::plan("probe.iso", &mut iso).expect("the probe seed plans");
    assert_eq!(plan.presentation.drive(), 0xE0);
    assert!(bootfs::config::parse(&read("config", "ventoy-1")).expect("config").1.is_empty());
    for (name, scheme, count) in [("fixed.vhdx", bootfs::vdisk::Scheme::Mbr, 5), ("raw-gpt", bootfs::vdisk::Scheme::Gpt, 2)] {
        let mut file = bootfs::fuzz::SparseDisk::decode(&read("vdisk", name));
        let disk = bootfs::vdisk::recognize(&mut file).expect("the vdisk seed is a disk");
        let table = bootfs::vdisk::partitions(&mut file, &disk).expect("the vdisk seed's partitions");
        assert_eq!((table.scheme, table.entries.len()), (scheme, count), "{name}");
    }
    for name in ["dynamic.vhd", "dynamic.vdi", "dynamic.vhdx"] {
        let mut file = bootfs::fuzz::SparseDisk::decode(&read("vdisk", name));
        let mut fixed = bootfs::vdisk::Conversion::open(&mut file).unwrap_or_else(|e| panic!("{name} is made fixed: {e}"));
        fixed.check_blocks(&mut file).unwrap_or_else(|e| panic!("{name}'s blocks: {e}"));
    }
}
