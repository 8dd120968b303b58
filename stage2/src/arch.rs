//! The CPU-mode boundary: stage2's real-mode entry and the thunk through
//! which 32-bit code calls BIOS services (entry.S), with the register
//! structure they share. Every BIOS call in stage2 goes through [`bios_int`].

use bootfs::layout::{Stage2Header, EFLAGS_AC, GDT, REAL_MODE_STACK_TOP, SELECTOR_CODE16, SELECTOR_CODE32, SELECTOR_DATA16, SELECTOR_DATA32};
use core::mem::{offset_of, size_of};

/// Registers in and out of a real-mode BIOS call.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct RmRegs {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
    pub esi: u32,
    pub edi: u32,
    pub ebp: u32,
    pub ds: u16,
    pub es: u16,
    pub eflags: u32,
}

pub const FLAG_CARRY: u32 = 1 << 0;
pub const FLAG_ZERO: u32 = 1 << 6;

impl RmRegs {
    pub fn carry(&self) -> bool {
        self.eflags & FLAG_CARRY != 0
    }
    pub fn zero(&self) -> bool {
        self.eflags & FLAG_ZERO != 0
    }
    pub fn ah(&self) -> u8 {
        (self.eax >> 8) as u8
    }
}

/// Bytes of the 32-bit stack (in .bss).
/// Measured at each boot (the log's "stage2's stack" line): at most 12 KiB
/// in every test's boot, 5,000-file menus and VHD verdicts included.
pub const PM_STACK_SIZE: usize = 32 * 1024;

extern "C" {
    /// The lowest byte of the 32-bit stack (entry.S), zeroed with .bss.
    static pm_stack: u8;
}

/// Bytes of the 32-bit stack ever used: from its top down to its lowest
/// byte that is not zero still (a word written as zero there is missed, so
/// it is a close lower bound), for the log at each boot.
pub fn stack_used() -> usize {
    // SAFETY: [pm_stack, pm_stack + PM_STACK_SIZE) is the stack, all mapped;
    // the bytes below the live frame are only read.
    let bottom = core::ptr::addr_of!(pm_stack);
    let untouched = (0..PM_STACK_SIZE).find(|&i| unsafe { core::ptr::read_volatile(bottom.add(i)) } != 0).unwrap_or(PM_STACK_SIZE);
    PM_STACK_SIZE - untouched
}

core::arch::global_asm!(
    include_str!("entry.S"),
    stack_top_rm = const REAL_MODE_STACK_TOP,
    pm_stack_size = const PM_STACK_SIZE,
    regs_size = const size_of::<RmRegs>(),
    r_eax = const offset_of!(RmRegs, eax),
    r_ebx = const offset_of!(RmRegs, ebx),
    r_ecx = const offset_of!(RmRegs, ecx),
    r_edx = const offset_of!(RmRegs, edx),
    r_esi = const offset_of!(RmRegs, esi),
    r_edi = const offset_of!(RmRegs, edi),
    r_ebp = const offset_of!(RmRegs, ebp),
    r_ds = const offset_of!(RmRegs, ds),
    r_es = const offset_of!(RmRegs, es),
    r_eflags = const offset_of!(RmRegs, eflags),
    sel_code32 = const SELECTOR_CODE32,
    sel_data32 = const SELECTOR_DATA32,
    sel_code16 = const SELECTOR_CODE16,
    sel_data16 = const SELECTOR_DATA16,
    gdt0 = const GDT[0],
    gdt1 = const GDT[1],
    gdt2 = const GDT[2],
    gdt3 = const GDT[3],
    gdt4 = const GDT[4],
    exception_vectors = const EXCEPTION_VECTORS,
    interrupt_gate = const INTERRUPT_GATE,
    cpu_probe_offset = const offset_of!(Stage2Header, cpu_probe_flags),
    eflags_ac = const EFLAGS_AC,
    com1 = const crate::serial::COM1,
    options(att_syntax)
);

/// The header stage1 checks; the builder fills in its length and checksum.
#[used]
#[link_section = ".stage2_header"]
static HEADER: Stage2Header = Stage2Header::unsealed();

extern "C" {
    fn rm_call(routine: u32, regs: *mut RmRegs);
    static rm_do_int: u8;
    static rm_do_idle: u8;
    static mut rm_int_no: u8;
}

/// Calls BIOS interrupt `n` in real mode with `regs`, and returns what the
/// BIOS left in them.
pub fn bios_int(n: u8, regs: &mut RmRegs) {
    // SAFETY: stage2 runs on one CPU with interrupts off in protected mode;
    // rm_int_no is the immediate of the INT instruction rm_do_int executes,
    // and rm_call saves and restores all protected-mode state around it.
    unsafe {
        core::ptr::write_volatile(&raw mut rm_int_no, n);
        rm_call(&raw const rm_do_int as u32, regs);
    }
}

/// The CPU's exception vectors, each with a stub in entry.S and a gate in
/// its IDT (built there before stage2_main runs, so a fault anywhere in
/// protected mode reaches `cpu_exception` instead of resetting the machine).
const EXCEPTION_VECTORS: usize = 32;
/// A present, ring-0, 32-bit interrupt gate (the gate's type byte).
const INTERRUPT_GATE: u32 = 0x8E;

/// What the CPU calls exception `vector` (Intel SDM vol. 3, 6.3.1).
pub fn exception_name(vector: u32) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        2 => "NMI",
        3 => "breakpoint",
        4 => "overflow",
        5 => "BOUND range exceeded",
        6 => "invalid opcode",
        7 => "no math coprocessor",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack-segment fault",
        13 => "general protection",
        14 => "page fault",
        16 => "x87 FPU error",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating-point",
        _ => "reserved",
    }
}

/// Waits in real mode, interrupts on, for the next interrupt (at most one
/// timer tick, 55 ms).
pub fn idle() {
    let mut regs = RmRegs::default();
    // SAFETY: as for bios_int; rm_do_idle touches no registers.
    unsafe { rm_call(&raw const rm_do_idle as u32, &mut regs) }
}

/// BIOS timer ticks since midnight (18.2 Hz), from the BIOS data area.
pub fn ticks() -> u32 {
    // SAFETY: 0x46C is the BDA tick counter, identity-mapped and always readable.
    unsafe { core::ptr::read_volatile(0x46C as *const u32) }
}

/// Reads a byte from an I/O port.
pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: port I/O has no memory effects; callers pick their ports.
    unsafe { core::arch::asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Writes a byte to an I/O port.
pub fn outb(port: u16, v: u8) {
    // SAFETY: as for inb.
    unsafe { core::arch::asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack, preserves_flags)) };
}

/// Resets the machine: the keyboard controller's reset line, then the PCI
/// reset register, then INT 19h as a last resort.
pub fn reboot() -> ! {
    for _ in 0..0x10000 {
        if inb(0x64) & 0x02 == 0 {
            break;
        }
    }
    outb(0x64, 0xFE);
    outb(0xCF9, 0x06);
    loop {
        bios_int(0x19, &mut RmRegs::default());
    }
}

/// Switches the machine off through the BIOS's APM interface (INT 15h
/// 53xxh): installation check, real-mode connection, APM 1.2, then "all
/// devices off". Returns only when the BIOS has no APM or refuses, with
/// the step that failed.
pub fn power_off() -> &'static str {
    let mut check = RmRegs { eax: 0x5300, ..Default::default() };
    bios_int(0x15, &mut check);
    if check.carry() || check.ebx & 0xFFFF != 0x504D {
        return "this BIOS has no APM power management";
    }
    // Connecting fails harmlessly when already connected (AH=02h).
    let mut connect = RmRegs { eax: 0x5301, ..Default::default() };
    bios_int(0x15, &mut connect);
    if connect.carry() && connect.ah() != 0x02 {
        return "the BIOS refused the APM connection";
    }
    let mut version = RmRegs { eax: 0x530E, ecx: 0x0102, ..Default::default() };
    bios_int(0x15, &mut version);
    let mut off = RmRegs { eax: 0x5307, ebx: 0x0001, ecx: 0x0003, ..Default::default() };
    bios_int(0x15, &mut off);
    "the BIOS did not switch the machine off (APM)"
}
