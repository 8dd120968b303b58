#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bootfs::fuzz::iso_tree(data));
