# stage2's real-mode part: the entry from stage1, A20, the switch to 32-bit
# protected mode, the thunk through which 32-bit Rust calls the BIOS, and
# the protected-mode exception stubs.
# Included by arch.rs with global_asm!; the names in braces are constants passed in
# from Rust (bootfs::layout and the RmRegs layout), never repeated here.
#
# Segments: the GDT below is bootfs::layout::GDT (flat 32-bit code and
# data, 16-bit code and data), its selectors layout's SELECTOR_*.
# Real mode always runs with CS = DS = ES = SS = 0, so everything in
# .text16/.data16 must lie below 64 KiB (the linker script checks it).

# set_data_segments: AX (a selector or a real-mode segment) into DS, ES,
# FS, GS and SS; the caller sets the stack pointer that goes with SS.
.macro set_data_segments
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %fs
    mov     %ax, %gs
    mov     %ax, %ss
.endm

    .section .text16, "ax"
    .code16

# stage2_entry
#   In:  real mode, CS:IP = 0000:STAGE2_ENTRY_ADDR, DL = BIOS boot drive.
#   Out: never returns: calls stage2_main(boot_drive) in 32-bit protected
#        mode on the stack at pm_stack_top, with .bss zeroed.
    .global stage2_entry
stage2_entry:
    cli
    ljmp    $0, $.Lentry_cs0
.Lentry_cs0:
    xor     %ax, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     ${stack_top_rm}, %esp
    sti
    cld
    mov     %dl, boot_drive
    call    a20_enable
    jnc     .Lentry_a20_on
    mov     $msg_a20, %si
    jmp     fail_real_mode
.Lentry_a20_on:
    cli
    lgdtl   gdt_ptr
    mov     %cr0, %eax
    or      $1, %al
    mov     %eax, %cr0
    ljmpl   ${sel_code32}, $.Lentry_pm

    .code32
.Lentry_pm:
    mov     ${sel_data32}, %ax
    set_data_segments
    mov     $__bss_start, %edi
    mov     $__bss_end, %ecx
    sub     %edi, %ecx
    xor     %eax, %eax
    rep stosb
    mov     $pm_stack_top, %esp
    movzbl  boot_drive, %eax
    push    %eax
    call    stage2_main
.Lentry_halt:
    hlt
    jmp     .Lentry_halt

    .code16
# fail_real_mode
#   In:  real mode, DS = 0, SI = NUL-terminated message.
#   Out: never returns: prints the message, waits for a key, then INT 18h
#        (the BIOS tries the next boot device).
fail_real_mode:
    lodsb
    test    %al, %al
    jz      .Lfail_wait
    mov     $0x0E, %ah
    mov     $0x0007, %bx
    int     $0x10
    jmp     fail_real_mode
.Lfail_wait:
    xor     %ax, %ax
    int     $0x16
    int     $0x18
    jmp     .Lfail_wait

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
    lgdtl   gdt_ptr
    mov     %cr0, %eax
    or      $1, %al
    mov     %eax, %cr0
    ljmpl   ${sel_code32}, $.Lrm_back32

    .code32
.Lrm_back32:
    mov     ${sel_data32}, %ax
    set_data_segments
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
#        flat data segments, on a fresh protected-mode stack.
exception_common:
    mov     ${sel_data32}, %ax
    set_data_segments
    mov     (%esp), %eax
    mov     4(%esp), %edx
    mov     8(%esp), %ecx
    mov     $pm_stack_top, %esp
    push    %ecx
    push    %edx
    push    %eax
    call    cpu_exception
.Lexception_halt:
    hlt
    jmp     .Lexception_halt

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
# The IDT protected mode runs with: the real-mode table until
# arch::install_exception_handlers points it at the exception stubs'.
    .global pm_idt_ptr
pm_idt_ptr:
    .word   0x03FF
    .long   0
    .align 4
    .global exception_stubs
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
    .asciz  "dropboot: cannot enable the A20 line (BIOS, keyboard controller and port 92h all failed). Press a key."

    .section .bss.pm_stack, "aw", @nobits
    .align 16
pm_stack:
    .space  {pm_stack_size}
pm_stack_top:
