//! The boot code runs on a 486: stage2 is built for LLVM's `i486` target
//! (stage2/i486-dropboot.json), and nothing may bring back an instruction
//! a 486 lacks. objdump disassembles stage2's 32-bit and 16-bit code (the
//! linked ELF's `.text` and `.text16`, the bytes of build/stage2.bin),
//! the resident hook, the trampoline and stage1, and this test fails on
//! any instruction from the Pentium on (CMOV, CMPXCHG8B, RDTSC, RDMSR,
//! the P6's long NOP, MMX and SSE registers, ...). stage1 and the hook
//! must run on a 386 too (stage1 before the CPU check, and the hook is
//! plain 386 code): no BSWAP, XADD or CMPXCHG there.

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::media::run;

/// Mnemonics (prefixes) of instructions that arrived with the Pentium or
/// later. Not among them: `ud2` (0F 0B), an invalid opcode on every CPU,
/// which is what the self-test wants; `tzcnt` and `pause`, which objdump
/// prints for F3 0F BC and F3 90: REP BSF and REP NOP, which CPUs before
/// BMI1 and the Pentium 4 run as BSF and NOP (LLVM and GCC emit REP BSF
/// for every x86 target; where it is TZCNT, the result is the same for the
/// non-zero inputs it is used on).
const NEWER_THAN_486: &[&str] = &[
    "cmov",
    "fcmov",
    "fcomi",
    "fucomi",
    "cmpxchg8b",
    "cmpxchg16b",
    "rdtsc",
    "rdpmc",
    "rdmsr",
    "wrmsr",
    "rsm",
    "sysenter",
    "sysexit",
    "syscall",
    "sysret",
    "nopw",
    "nopl",
    "emms",
    "movd",
    "movq",
    "movnti",
    "prefetch",
    "clflush",
    "lfence",
    "mfence",
    "sfence",
    "popcnt",
    "lzcnt",
    "movbe",
    "fxsave",
    "fxrstor",
    "ldmxcsr",
    "stmxcsr",
];
/// Instructions a 386 lacks (486 and later).
const NEWER_THAN_386: &[&str] = &["bswap", "xadd", "cmpxchg", "invd", "wbinvd", "invlpg", "cpuid"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (address, instruction text) of each instruction objdump decodes.
fn disassemble(args: &[&str], file: &Path) -> Vec<(String, String)> {
    assert!(file.exists(), "{} is missing: run `make` first", file.display());
    let text = run(Command::new("objdump").args(args).arg(file));
    text.lines()
        .filter_map(|l| {
            let mut fields = l.split('\t');
            let address = fields.next()?.trim().strip_suffix(':')?.to_string();
            let _bytes = fields.next()?;
            Some((address, fields.next()?.trim().to_string()))
        })
        .collect()
}

/// The instructions of `code` whose mnemonic (after any prefixes) starts
/// with one of `banned`, or that use an MMX or SSE register.
fn offenders(code: &[(String, String)], banned: &[&str]) -> Vec<String> {
    const PREFIXES: &[&str] =
        &["rep", "repz", "repnz", "repe", "repne", "lock", "data16", "data32", "addr16", "addr32", "cs", "ds", "es", "fs", "gs", "ss"];
    code.iter()
        .filter(|(_, text)| {
            let mnemonic = text.split_whitespace().find(|w| !PREFIXES.contains(w)).unwrap_or("");
            banned.iter().any(|b| mnemonic.starts_with(b)) || text.contains("%mm") || text.contains("%xmm")
        })
        .map(|(address, text)| format!("{address}: {text}"))
        .collect()
}

fn assert_none(what: &str, code: &[(String, String)], banned: &[&str]) {
    assert!(code.len() > 20, "{what}: objdump decoded only {} instructions", code.len());
    let found = offenders(code, banned);
    assert!(found.is_empty(), "{what} holds instructions the CPU it must run on lacks:\n{}", found.join("\n"));
}

#[test]
fn stage2_holds_no_instruction_a_486_lacks() {
    let elf = root().join("target/i486-dropboot/release/stage2");
    let banned = NEWER_THAN_486;
    assert_none("stage2's 32-bit code", &disassemble(&["-d", "-j", ".text"], &elf), banned);
    assert_none("stage2's 16-bit code", &disassemble(&["-d", "-m", "i8086", "-j", ".text16"], &elf), banned);
    // The ELF is what build/stage2.bin was made from: its first bytes are the header and .text16.
    let flat = std::fs::read(root().join("build/stage2.bin")).expect("build/stage2.bin");
    let case = tests::stick::Case::new("cpu_instructions");
    run(Command::new("objcopy").args(["-O", "binary", "-j", ".header", "-j", ".text16"]).arg(&elf).arg(case.file("text16.bin")));
    let text16 = std::fs::read(case.file("text16.bin")).expect("the ELF's .text16");
    assert!(text16.len() > 256 && flat.starts_with(&text16), "build/stage2.bin is not the ELF's image: run `make`");
}

#[test]
fn the_hook_the_trampoline_and_stage1_hold_no_instruction_a_386_or_486_lacks() {
    let build = root().join("build");
    let flat = ["-D", "-b", "binary", "-m", "i8086"];
    let mut older = NEWER_THAN_486.to_vec();
    older.extend(NEWER_THAN_386);
    assert_none("the resident hook", &disassemble(&flat, &build.join("int13_hook.bin")), &older);
    assert_none("stage1", &disassemble(&flat, &build.join("stage1.bin")), &older);
    assert_none("the trampoline", &disassemble(&flat, &build.join("trampoline.bin")), NEWER_THAN_486);
}

#[test]
fn the_check_finds_what_it_looks_for() {
    // cmovz, cmpxchg8b, rdtsc, a long NOP and an SSE move, as objdump prints them.
    let code: Vec<(String, String)> =
        ["cmove  %ecx,%eax", "lock cmpxchg8b (%esi)", "rdtsc", "nopw   0x0(%eax,%eax,1)", "movaps %xmm0,(%eax)", "bswap  %eax", "mov    %eax,%ebx"]
            .iter()
            .map(|t| ("0".to_string(), t.to_string()))
            .collect();
    assert_eq!(offenders(&code, NEWER_THAN_486).len(), 5);
    // BSWAP, CMPXCHG8B (a CMPXCHG) and the SSE register.
    assert_eq!(offenders(&code, NEWER_THAN_386).len(), 3);
}
