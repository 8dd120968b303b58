//! Random sequences of `add`, `rm` and `defrag` with names drawn to include
//! every hostile kind (`..`, characters FAT and exFAT refuse, trailing dots
//! and spaces, names over 255 characters, names that differ only in case,
//! doubled slashes and `.`), on exFAT and FAT32. After every step fsck
//! passes and `list --json` equals a model of what should be there; a
//! refused step leaves the image byte for byte as it was, and an add
//! killed half way through its data leaves it byte for byte as it was
//! outside the clusters the volume calls free. Seeded, so a failure reruns
//! the same way.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Command;

use bootfs::layout::DATA_PARTITION_LBA;
use tests::media::{dropboot, dropboot_bin, pseudo_random, stalled_add};
use tests::stick::{Case, Fs};

struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Folders to add into, as typed, with the folder they mean as typed,
/// without `.` and doubled slashes (None: refused).
const FOLDERS: [(&str, Option<&str>); 10] = [
    ("/", Some("")),
    ("/iso", Some("/iso")),
    ("/ISO", Some("/ISO")),
    ("//iso/./", Some("/iso")),
    ("/a/b", Some("/a/b")),
    ("/../etc", None),
    ("/a:b*c", None),
    ("/dir. ", None),
    ("/Ünïcødé folder", Some("/Ünïcødé folder")),
    // 128 characters, 256 bytes: more than Linux and the FAT32 writer hold.
    ("/éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé", None),
];

/// File names, and whether the stick can hold them.
const NAMES: [(&str, bool); 11] = [
    ("debian.iso", true),
    ("DEBIAN.ISO", true),
    ("rescue disk.img", true),
    ("ménage.iso", true),
    ("what?.iso", false),
    ("pipe|.iso", false),
    ("trailing.iso.", false),
    ("tab\tname.iso", false),
    ("quote\".iso", false),
    ("smile😀.iso", false),
    ("DROPBOOT.TMP", false),
];

fn output(args: &[&OsStr]) -> std::process::Output {
    tests::media::output(Command::new(dropboot_bin()).args(args))
}

fn listed(image: &Path) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&dropboot([OsStr::new("list"), image.as_os_str(), "--json".as_ref()])).expect("list --json");
    let mut paths: Vec<String> = json.as_array().expect("a list").iter().map(|e| e["path"].as_str().unwrap_or_default().to_string()).collect();
    paths.sort_by_key(|p| p.to_lowercase());
    paths
}

/// The data partition's clusters in `disk` (an image's bytes): the byte
/// where cluster 2 starts, the bytes of a cluster, and whether each one is
/// free (by cluster - 2), from the FAT on FAT32 and the allocation bitmap
/// on exFAT.
fn free_clusters(disk: &[u8]) -> (usize, usize, Vec<bool>) {
    let p = DATA_PARTITION_LBA as usize * 512;
    let bs = &disk[p..p + 512];
    let le16 = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
    if &bs[3..11] == b"EXFAT   " {
        let (heap, count, root) = (le32(bs, 88), le32(bs, 92), le32(bs, 96));
        let cluster = 1usize << (bs[108] + bs[109]);
        let data = p + heap * 512;
        let at = |c: usize| data + (c - 2) * cluster;
        let entries = &disk[at(root)..at(root) + cluster];
        let bitmap = entries.chunks(32).find(|e| e[0] == 0x81).expect("an allocation bitmap in the root");
        let (first, len) = (le32(bitmap, 20), le32(bitmap, 24));
        let bits = &disk[at(first)..at(first) + len];
        (data, cluster, (0..count).map(|i| bits[i / 8] >> (i % 8) & 1 == 0).collect())
    } else {
        let (reserved, fats, fat_sectors, per_cluster, total) = (le16(bs, 14), bs[16] as usize, le32(bs, 36), bs[13] as usize, le32(bs, 32));
        let meta = reserved + fats * fat_sectors;
        let fat = &disk[p + reserved * 512..p + (reserved + fat_sectors) * 512];
        let count = (total - meta) / per_cluster;
        (p + meta * 512, per_cluster * 512, (2..count + 2).map(|c| le32(fat, c * 4) & 0x0FFF_FFFF == 0).collect())
    }
}

/// The first sector of `after` that differs from `before` outside the
/// clusters `before` calls free.
fn changed_outside_free(before: &[u8], after: &[u8]) -> Option<usize> {
    let (data, cluster, free) = free_clusters(before);
    let is_free = |at: usize| at >= data && free.get((at - data) / cluster).copied().unwrap_or(false);
    (0..before.len().max(after.len()) / 512).find(|&s| before.get(s * 512..s * 512 + 512) != after.get(s * 512..s * 512 + 512) && !is_free(s * 512))
}

fn sequence(fs: Fs, seed: u64, steps: usize) {
    let case = Case::new(&format!("sequence_{fs}"));
    let dir = &case.dir;
    let stick = case.stick().fs(fs).build();
    let image = &stick.path;
    let mut rng = Rng(seed);
    // lower-case path -> the path as the stick spells it.
    let mut model: BTreeMap<String, String> = BTreeMap::new();
    // lower-case folder -> its spelling (the first add that made it).
    let mut folders: BTreeMap<String, String> = BTreeMap::new();
    let long_folder = format!("/{}", "l".repeat(256));
    let mut killed = 0;
    for step in 0..steps {
        let before = fs::read(&image).expect("the image");
        let what = match rng.next(10) {
            0..=5 => {
                let (typed, meant) = if rng.next(12) == 0 { (long_folder.as_str(), None) } else { FOLDERS[rng.next(FOLDERS.len())] };
                let (name, good) = NAMES[rng.next(NAMES.len())];
                let source_dir = dir.join(format!("src{step}"));
                fs::create_dir_all(&source_dir).expect("a source folder");
                let source = source_dir.join(name);
                fs::write(&source, pseudo_random(1 + rng.next(150_000), step as u64)).expect("a source file");
                let out = output(&[OsStr::new("add"), image.as_os_str(), source.as_os_str(), "--to".as_ref(), typed.as_ref()]);
                let said = String::from_utf8_lossy(&out.stderr).into_owned();
                match (meant, good) {
                    (Some(folder), true) => {
                        // A folder already there keeps its spelling; a new one takes the one typed.
                        let spelled = folders.get(&folder.to_lowercase()).cloned().unwrap_or_else(|| folder.to_string());
                        let path = format!("{spelled}/{name}");
                        if model.contains_key(&path.to_lowercase()) {
                            assert_eq!(out.status.code(), Some(2), "step {step}: add {typed} {name}: {said}");
                            assert!(said.contains("is already on"), "step {step}: {said}");
                            assert!(fs::read(&image).expect("the image") == before, "step {step}: a refused add changed the image");
                        } else {
                            assert!(out.status.success(), "step {step}: add {name:?} --to {typed:?}: {said}");
                            if !spelled.is_empty() {
                                folders.entry(folder.to_lowercase()).or_insert(spelled.clone());
                                if let Some((parent, _)) = spelled.rsplit_once('/').filter(|(p, _)| !p.is_empty()) {
                                    folders.entry(parent.to_lowercase()).or_insert(parent.to_string());
                                }
                            }
                            model.insert(path.to_lowercase(), path);
                        }
                    }
                    _ => {
                        assert_eq!(out.status.code(), Some(2), "step {step}: add {name:?} --to {typed:?} must be refused: {said}");
                        assert!(fs::read(&image).expect("the image") == before, "step {step}: a refused add changed the image");
                    }
                }
                format!("add {name:?} --to {typed:?}")
            }
            6..=7 if !model.is_empty() => {
                let key = model.keys().nth(rng.next(model.len())).cloned().expect("a file");
                // Typed in another case now and then: the same name on FAT and exFAT.
                let typed = if rng.next(2) == 0 { key.clone() } else { model[&key].clone() };
                let out = output(&[OsStr::new("rm"), image.as_os_str(), typed.as_ref()]);
                assert!(out.status.success(), "step {step}: rm {typed}: {}", String::from_utf8_lossy(&out.stderr));
                model.remove(&key);
                format!("rm {typed}")
            }
            8 if !model.is_empty() => {
                let path = model.values().nth(rng.next(model.len())).cloned().expect("a file");
                let out = output(&[OsStr::new("defrag"), image.as_os_str(), path.as_ref()]);
                assert!(out.status.success(), "step {step}: defrag {path}: {}", String::from_utf8_lossy(&out.stderr));
                format!("defrag {path}")
            }
            9 if step % 2 == 0 => {
                // Killed half way through the data, as a pulled plug would.
                let source = dir.join(format!("src{step}.iso"));
                fs::write(&source, pseudo_random(40_000 + rng.next(150_000), step as u64)).expect("a source file");
                let mut child = stalled_add(&image, &source, "/killed");
                child.kill().expect("kill");
                child.wait().expect("wait");
                let after = fs::read(&image).expect("the image");
                assert_eq!(changed_outside_free(&before, &after), None, "step {step}: a killed add changed a sector that was not free");
                killed += 1;
                "add killed half way".into()
            }
            _ => {
                let out = output(&[OsStr::new("rm"), image.as_os_str(), "/not/there.iso".as_ref()]);
                assert_eq!(out.status.code(), Some(2), "step {step}: rm of a missing file");
                assert!(fs::read(&image).expect("the image") == before, "step {step}: a refused rm changed the image");
                "rm /not/there.iso".into()
            }
        };
        stick.fsck_passes();
        let mut want: Vec<String> = model.values().cloned().collect();
        want.sort_by_key(|p| p.to_lowercase());
        assert_eq!(listed(&image), want, "after step {step} ({what})");
    }
    assert!(killed > 0, "the sequence kills an add");
}

#[test]
fn random_adds_rms_and_defrags_with_hostile_names_keep_an_exfat_stick_clean_and_as_modelled() {
    sequence(Fs::Exfat, 0x5EED_0001, 60);
}

#[test]
fn random_adds_rms_and_defrags_with_hostile_names_keep_a_fat32_stick_clean_and_as_modelled() {
    sequence(Fs::Fat32, 0x5EED_0002, 60);
}
