//! The partition table as sfdisk (util-linux) writes it, read by bootfs.

use std::io::Write;
use std::process::{Command, Stdio};

use bootfs::mbr::{ptype, Mbr, PartitionEntry};

#[test]
fn a_table_written_by_sfdisk_reads_back_entry_for_entry() {
    let img = std::env::temp_dir().join(format!("bootfs-sfdisk-{}.img", std::process::id()));
    std::fs::File::create(&img).unwrap().set_len(64 << 20).unwrap();
    let mut child = Command::new("sfdisk")
        .arg("--no-reread")
        .arg("-q")
        .arg(&img)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sfdisk (run `make deps`)");
    let script = "label: dos\nlabel-id: 0x5eed1234\n2048,65536,c,*\n67584,32768,83\n100352,,ee\n";
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let sector: [u8; 512] = std::fs::read(&img).unwrap()[..512].try_into().unwrap();
    let _ = std::fs::remove_file(&img);

    let mbr = Mbr::parse(&sector).unwrap();
    assert_eq!(mbr.disk_signature, 0x5eed_1234);
    let e = |bootable, kind, start_lba, sectors| PartitionEntry { bootable, kind, start_lba, sectors };
    let rest = (64 << 20) / 512 - 100_352;
    assert_eq!(
        mbr.partitions,
        [
            e(true, ptype::FAT32_LBA, 2048, 65536),
            e(false, 0x83, 67584, 32768),
            e(false, ptype::GPT_PROTECTIVE, 100_352, rest),
            PartitionEntry::default()
        ]
    );
    assert_eq!(mbr.data_partition().map(|(i, _)| i), Some(0));
    // Writing the same entries back gives sfdisk's bytes (CHS included).
    let mut ours = sector;
    ours[446..].fill(0);
    mbr.write_into(&mut ours);
    assert_eq!(ours[446..462], sector[446..462], "entry 1 as sfdisk wrote it");
}
