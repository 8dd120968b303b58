# stage2's real-mode part: the entry from stage1, the CPU check, A20, the
# switch to 32-bit protected mode, the thunk through which 32-bit Rust
# calls the BIOS, and the protected-mode exception stubs and their IDT.
# Included by arch.rs with global_asm!; the names in braces are constants passed in
# from Rust (bootfs::layout and the RmRegs layout), never repeated here.
#
# Segments: the GDT below is bootfs::layout::GDT (flat 32-bit code and
# data, 16-bit code and data), its selectors layout's SELECTOR_*.
# Real mode always runs with CS = DS = ES = SS = 0, so everything in
# .text16/.data16 must lie below 64 KiB (the linker script checks it).
# .text16 holds only 16-bit code and .text.entry32 (in .text) only 32-bit
# code, so that each can be disassembled in its own mode (the tests look
# for instructions a 486 lacks).

# set_data_segments: AX (a selector or a real-mode segment) into DS, ES,
# FS, GS and SS; the caller sets the stack pointer that goes with SS.
.macro set_data_segments
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %fs
    mov     %ax, %gs
    mov     %ax, %ss
.endm

# enter_protected_mode LABEL: from real mode with DS = 0 and interrupts
# off, loads the GDT, sets CR0.PE and far-jumps to LABEL, which it opens
# in .text.entry32 as 32-bit code with the flat data segments loaded (the
# caller then sets ESP). Leaves the assembler in that section: the caller
# ends the 32-bit code with .popsection.
.macro enter_protected_mode label
    lgdtl   gdt_ptr
    mov     %cr0, %eax
    or      $1, %al
    mov     %eax, %cr0
    ljmpl   ${sel_code32}, $\label

    .pushsection .text.entry32, "ax"
    .code32
\label:
    mov     ${sel_data32}, %ax
    set_data_segments
.endm

    .section .text16, "ax"
    .code16

# stage2_entry
#   In:  real mode, CS:IP = 0000:STAGE2_ENTRY_ADDR, DL = BIOS boot drive;
#        any CPU from the 8086 on (the first instructions are 8086 ones).
#   Out: never returns: calls stage2_main(boot_drive) in 32-bit protected
#        mode on the stack at pm_stack_top, with .bss zeroed and the
#        exception IDT loaded; or, on a CPU before the 486, or when A20
#        stays off, a message, a key and INT 18h.
    .global stage2_entry
stage2_entry:
    cli
    ljmp    $0, $.Lentry_cs0
.Lentry_cs0:
    xor     %ax, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     ${stack_top_rm}, %sp
    sti
    cld
    mov     %dl, boot_drive
    call    cpu_check
    jnc     .Lentry_cpu_ok
    mov     $msg_cpu, %si
    jmp     fail_real_mode
.Lentry_cpu_ok:
    mov     ${stack_top_rm}, %esp
    call    a20_enable
    jnc     .Lentry_a20_on
    mov     $msg_a20, %si
    jmp     fail_real_mode
.Lentry_a20_on:
    cli
    enter_protected_mode .Lentry_pm
    mov     $__bss_start, %edi
    mov     $__bss_end, %ecx
    sub     %edi, %ecx
    xor     %eax, %eax
    rep stosb
    mov     $pm_stack_top, %esp
    call    build_idt
    lidt    pm_idt_ptr
    movzbl  boot_drive, %eax
    push    %eax
    call    stage2_main
.Lentry_halt:
    hlt
    jmp     .Lentry_halt

    .popsection
    .code16
# fail_real_mode
#   In:  real mode, DS = 0, SI = NUL-terminated message; any CPU (8086 code).
#   Out: never returns: prints the message on the screen and on COM1 (set
#        to 115200 8N1 here, as stage2's serial.rs sets it: a BIOS need not
#        have set it up at all, and rombios leaves it at 5 data bits), waits
#        for a key, then INT 18h (the BIOS tries the next boot device).
fail_real_mode:
    mov     ${com1} + 1, %dx
    xor     %al, %al
    out     %al, %dx                    # no interrupts
    mov     ${com1} + 3, %dx
    mov     $0x80, %al
    out     %al, %dx                    # divisor latch
    mov     ${com1}, %dx
    mov     $0x01, %al
    out     %al, %dx                    # 115200 baud
    mov     ${com1} + 1, %dx
    xor     %al, %al
    out     %al, %dx
    mov     ${com1} + 3, %dx
    mov     $0x03, %al
    out     %al, %dx                    # 8N1
.Lfail_char:
    lodsb
    test    %al, %al
    jz      .Lfail_wait
    push    %ax
    mov     $0x0E, %ah
    mov     $0x0007, %bx
    int     $0x10
    mov     ${com1} + 5, %dx
    mov     $0xFFFF, %cx                # bounded: a PC may have no COM1
.Lfail_com1_wait:
    in      %dx, %al
    test    $0x20, %al
    jnz     .Lfail_com1_send
    loop    .Lfail_com1_wait
.Lfail_com1_send:
    pop     %ax
    mov     ${com1}, %dx
    out     %al, %dx
    jmp     .Lfail_char
.Lfail_wait:
    xor     %ax, %ax
    int     $0x16
    int     $0x18
    jmp     .Lfail_wait

# cpu_check
#   In:  real mode, DS = 0; any CPU (8086 instructions until a 386 is known).
#   Out: CF set when the CPU is older than a 486, which stage2's code needs
#        (its target is LLVM's i486: BSWAP, XADD, CMPXCHG). FLAGS as they
#        were but CF. Clobbers EAX, ECX.
#   How: an 8086/80186 keeps FLAGS bits 12-15 set; a 286 in real mode keeps
#        them clear; a 386 cannot change EFLAGS.AC (bit 18), a 486 can.
#        The AC bit to toggle is read from stage2's header (cpu_probe_flags),
#        so a test can play a 386 on a 486 by clearing it there. CPUID is
#        not asked: every CPU that has it is a 486 or later, and stage2 needs
#        nothing CPUID reports (no FPU: it is built soft-float).
cpu_check:
    pushf
    pop     %cx                         # CX = FLAGS as they came
    mov     %cx, %ax
    and     $0x0FFF, %ax
    push    %ax
    popf
    pushf
    pop     %ax
    and     $0xF000, %ax
    cmp     $0xF000, %ax
    je      .Lcpu_old                   # 8086 or 80186
    mov     %cx, %ax
    or      $0xF000, %ax
    push    %ax
    popf
    pushf
    pop     %ax
    test    $0xF000, %ax
    jz      .Lcpu_old                   # 286
    push    %cx
    popf
    pushfl
    popl    %eax
    mov     %eax, %ecx                  # ECX = EFLAGS as they came
    xorl    __stage2_start + {cpu_probe_offset}, %eax
    pushl   %eax
    popfl
    pushfl
    popl    %eax
    pushl   %ecx
    popfl
    xor     %ecx, %eax
    test    ${eflags_ac}, %eax
    jz      .Lcpu_old                   # a 386: AC did not change
    clc
    ret
.Lcpu_old:
    push    %cx
    popf
    stc
    ret

# a20_enable
#   In:  real mode, DS = 0.
#   Out: CF clear when the A20 line is on (checked by wrap-around), set when
#        the BIOS (INT 15h 2401h), the keyboard controller and port 92h all
#        failed. Clobbers AX, BX, CX.
a20_enable:
    call    a20_check
    jnc     .La20_done
    mov     $0x2401, %ax
    int     $0x15
    call    a20_check
    jnc     .La20_done
    call    kbc_wait
    mov     $0xD1, %al
    out     %al, $0x64
    call    kbc_wait
    mov     $0xDF, %al
    out     %al, $0x60
    call    kbc_wait
    call    a20_check
    jnc     .La20_done
    in      $0x92, %al
    or      $0x02, %al
    and     $0xFE, %al
    out     %al, $0x92
    call    a20_check
.La20_done:
    ret

# a20_check
#   In:  real mode, DS = 0.
#   Out: CF clear when 0000:0500 and FFFF:0510 are different bytes (A20 on).
#        Both bytes are restored. Clobbers AX, BX.
a20_check:
    push    %es
    mov     $0xFFFF, %ax
    mov     %ax, %es
    movb    0x0500, %bl
    movb    %es:0x0510, %bh
    movb    $0x00, 0x0500
    movb    $0xFF, %es:0x0510
    cmpb    $0xFF, 0x0500
    movb    %bh, %es:0x0510
    movb    %bl, 0x0500
    pop     %es
    clc
    jne     .La20_check_on
    stc
.La20_check_on:
    ret

# kbc_wait
#   Out: waits (bounded) until the keyboard controller's input buffer is
#        empty. Clobbers AL, CX.
kbc_wait:
    mov     $0xFFFF, %cx
.Lkbc_loop:
    in      $0x64, %al
    test    $0x02, %al
    jz      .Lkbc_done
    loop    .Lkbc_loop
.Lkbc_done:
    ret

# rm_call(routine: u32, regs: *mut RmRegs)   [cdecl, 32-bit protected mode]
#   Copies *regs to rm_regs, drops to real mode (interrupts on, the BIOS IVT,
#   SS:SP = 0:REAL_MODE_STACK_TOP), calls the near 16-bit `routine` (which
#   works on rm_regs), returns to protected mode and copies rm_regs back to
#   *regs. Preserves EBX, ESI, EDI, EBP and the protected-mode stack;
#   clobbers EAX, ECX, EDX and flags. Interrupts are off again on return.
    .pushsection .text.entry32, "ax"
    .code32
    .global rm_call
rm_call:
    push    %ebp
    push    %ebx
    push    %esi
    push    %edi
    mov     20(%esp), %eax
    mov     %ax, rm_routine
    mov     24(%esp), %esi
    mov     %esi, rm_regs_user
    mov     $rm_regs, %edi
    mov     ${regs_size}, %ecx
    cld
    rep movsb
    mov     %esp, rm_saved_esp
    ljmp    ${sel_code16}, $.Lrm_pm16

    .popsection
    .code16
.Lrm_pm16:
    mov     ${sel_data16}, %ax
    set_data_segments
    mov     %cr0, %eax
    and     $0xFE, %al
    mov     %eax, %cr0
    ljmp    $0, $.Lrm_real
.Lrm_real:
    xor     %ax, %ax
    set_data_segments
    mov     ${stack_top_rm}, %esp
    lidtl   rm_idt_ptr
    sti
    call    *rm_routine
    cli
    cld
    xor     %ax, %ax
    mov     %ax, %ds
    enter_protected_mode .Lrm_back32
    mov     rm_saved_esp, %esp
    lidtl   pm_idt_ptr
    mov     $rm_regs, %esi
    mov     rm_regs_user, %edi
    mov     ${regs_size}, %ecx
    rep movsb
    pop     %edi
    pop     %esi
    pop     %ebx
    pop     %ebp
    ret

# The protected-mode exception stubs, one per vector 0-31 (the IDT that
# arch::install_exception_handlers fills points at them). Each pushes 0
# for a vector the CPU gives no error code, then its vector, and goes to
# exception_common. Interrupts are off in protected mode, so only the CPU
# (and NMI) ever comes here.
    .irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
exception_\n:
    pushl   $0
    pushl   $\n
    jmp     exception_common
    .endr
    .irp n, 8,10,11,12,13,14,17,21,29,30
exception_\n:
    pushl   $\n
    jmp     exception_common
    .endr

# exception_common
#   In:  [ESP] = vector, [ESP+4] = error code, [ESP+8] = EIP (then CS and
#        EFLAGS, as the CPU pushed them).
#   Out: never returns: calls cpu_exception(vector, error, eip) with the
#        flat data segments, on a fresh protected-mode stack. An exception
#        while cpu_exception runs (its own code faulted) comes back here:
#        then nothing of Rust runs again; nested_exception says so and halts.
exception_common:
    mov     ${sel_data32}, %ax
    set_data_segments
    mov     (%esp), %eax
    mov     4(%esp), %edx
    mov     8(%esp), %ecx
    mov     $pm_stack_top, %esp
    btsl    $0, in_exception
    jc      nested_exception
    push    %ecx
    push    %edx
    push    %eax
    call    cpu_exception
    jmp     halt_forever

# nested_exception
#   In:  EAX = the vector of the exception inside the handler.
#   Out: never returns: one line on COM1 (polled, bounded, as serial.rs
#        set it up) and the screen's first row (VGA text memory), then HLT
#        with interrupts off.
nested_exception:
    mov     %al, %bl
    shr     $4, %al
    call    hex_digit
    mov     %al, msg_nested_vector
    mov     %bl, %al
    call    hex_digit
    mov     %al, msg_nested_vector + 1
    mov     $msg_nested, %esi
    mov     $0xB8000, %edi
.Lnested_char:
    lodsb
    test    %al, %al
    jz      .Lnested_row_end
    mov     $0x4F, %ah                  # white on red
    stosw
    call    com1_byte
    jmp     .Lnested_char
.Lnested_row_end:                       # the rest of the first row blank
    mov     $0x4F20, %ax
    mov     $0xB8000 + 160, %ecx
    sub     %edi, %ecx
    shr     $1, %ecx
    rep stosw
    mov     $'\r', %al
    call    com1_byte
    mov     $'\n', %al
    call    com1_byte
    jmp     halt_forever

# com1_byte: AL to COM1 once its transmitter is empty (or after a bounded
#   wait, for a PC without COM1). Keeps AL; clobbers AH, ECX, EDX.
com1_byte:
    mov     %al, %ah
    mov     ${com1} + 5, %dx            # COM1's line status
    mov     $100000, %ecx
1:  inb     %dx, %al
    test    $0x20, %al
    jnz     2f
    loop    1b
2:  mov     ${com1}, %dx
    mov     %ah, %al
    outb    %al, %dx
    ret

# halt_forever: interrupts off, HLT for good (an NMI wakes it into HLT again).
halt_forever:
    cli
    hlt
    jmp     halt_forever

# hex_digit: AL's low nibble -> its hex digit in AL.
hex_digit:
    and     $0x0F, %al
    add     $'0', %al
    cmp     $'9', %al
    jbe     1f
    add     $('A' - '9' - 1), %al
1:  ret

# build_idt
#   In:  32-bit protected mode, flat segments.
#   Out: idt holds a 32-bit interrupt gate to each of exception_stubs'
#        stubs (SELECTOR_CODE32, present, ring 0). Clobbers EAX, ECX,
#        EDX, ESI, EDI.
build_idt:
    mov     $exception_stubs, %esi
    mov     $idt, %edi
    mov     ${exception_vectors}, %ecx
1:  lodsl
    mov     %eax, %edx
    and     $0xFFFF, %eax
    or      $({sel_code32} << 16), %eax
    stosl                               # offset 0-15, selector
    and     $0xFFFF0000, %edx
    or      $({interrupt_gate} << 8), %edx
    mov     %edx, %eax
    stosl                               # gate type, offset 16-31
    loop    1b
    ret

    .popsection
    .code16
# rm_do_int: a routine for rm_call.
#   Loads EAX..EBP, DS and ES from rm_regs, executes INT rm_int_no, and
#   stores every register, DS, ES and EFLAGS back to rm_regs (through CS,
#   which is 0, since DS may have changed). Clobbers everything.
    .global rm_do_int
rm_do_int:
    mov     rm_regs+{r_eax}, %eax
    mov     rm_regs+{r_ebx}, %ebx
    mov     rm_regs+{r_ecx}, %ecx
    mov     rm_regs+{r_edx}, %edx
    mov     rm_regs+{r_esi}, %esi
    mov     rm_regs+{r_edi}, %edi
    mov     rm_regs+{r_ebp}, %ebp
    pushw   rm_regs+{r_es}
    pushw   rm_regs+{r_ds}
    pop     %ds
    pop     %es
    .byte   0xCD                    # INT imm8, the number patched by bios_int
    .global rm_int_no
rm_int_no:
    .byte   0x00
    mov     %eax, %cs:rm_regs+{r_eax}
    mov     %ebx, %cs:rm_regs+{r_ebx}
    mov     %ecx, %cs:rm_regs+{r_ecx}
    mov     %edx, %cs:rm_regs+{r_edx}
    mov     %esi, %cs:rm_regs+{r_esi}
    mov     %edi, %cs:rm_regs+{r_edi}
    mov     %ebp, %cs:rm_regs+{r_ebp}
    mov     %ds, %cs:rm_regs+{r_ds}
    mov     %es, %cs:rm_regs+{r_es}
    pushfl
    popl    %cs:rm_regs+{r_eflags}
    ret

# rm_do_idle: a routine for rm_call. Waits for the next interrupt (the
#   18.2 Hz timer at the latest) with interrupts on. Clobbers nothing.
    .global rm_do_idle
rm_do_idle:
    sti
    hlt
    ret

    .section .data16, "aw"
    .align 8
gdt:
    .quad   {gdt0}, {gdt1}, {gdt2}, {gdt3}, {gdt4}
gdt_end:
gdt_ptr:
    .word   gdt_end - gdt - 1
    .long   gdt
rm_idt_ptr:
    .word   0x03FF
    .long   0
# The IDT protected mode runs with, from its first instruction on: build_idt
# fills it before anything can fault.
pm_idt_ptr:
    .word   {exception_vectors} * 8 - 1
    .long   idt
    .align 4
exception_stubs:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long   exception_\n
    .endr
    .global boot_drive
boot_drive:
    .byte   0
    .align 4
rm_routine:
    .word   0
rm_saved_esp:
    .long   0
rm_regs_user:
    .long   0
rm_regs:
    .space  {regs_size}
msg_a20:
    .asciz  "dropboot: cannot enable the A20 line (BIOS, keyboard controller and port 92h all failed).\r\nPress a key.\r\n"
msg_cpu:
    .asciz  "dropboot: this PC's CPU cannot run dropboot (a 486 or later is needed).\r\nPress a key.\r\n"
msg_nested:
    .ascii  "dropboot: CPU exception "
msg_nested_vector:
    .asciz  "??h inside the exception handler; halted."
# Bit 0 set while cpu_exception runs: an exception then is one inside it.
    .align 4
in_exception:
    .long   0

    .section .bss.pm_stack, "aw", @nobits
    .align 8
idt:
    .space  {exception_vectors} * 8
    .align 16
    .global pm_stack
pm_stack:
    .space  {pm_stack_size}
pm_stack_top:
