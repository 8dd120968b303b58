; dropboot's final trampoline: the last code stage2 runs. stage2 copies it
; to TRAMPOLINE_ADDR (below every place a boot image may load), fills its
; parameters and calls it from 32-bit protected mode. It copies the boot
; image to its load address (over stage2 itself, which is why it lives
; apart), returns to real mode and jumps to the image as a BIOS would.
;
; In:  32-bit protected mode, flat segments, interrupts off; the parameter
;      block below filled in. Out: never returns. At the boot image:
;      real mode, CS:IP = entry, DL = drive, EAX..EBP = 0 but DL,
;      DS = ES = SS = 0, SP = 7C00h, interrupts on, the BIOS IVT.

%include "layout.inc"

        org TRAMPOLINE_ADDR

        bits 32
start:
        jmp short entry
        align 4
; The parameter block stage2 fills: bootfs::layout::TrampolineParams (the
; build fails below if these labels move).
param_source:   dd 0                    ; flat address of the image in memory
param_dest:     dd 0                    ; flat load address
param_length:   dd 0                    ; bytes
param_entry:    dw 0, 0                 ; offset, segment to jump to
param_drive:    db 0                    ; DL for the boot image
        align 8
gdt:                                    ; stage2's (bootfs::layout::GDT)
        dq GDT_DESCRIPTORS
gdt_end:
gdt_ptr:
        dw gdt_end - gdt - 1
        dd gdt
real_idt:
        dw 0x03FF
        dd 0

entry:
        cli
        lgdt [gdt_ptr]                  ; ours: stage2's GDT is about to be overwritten
        jmp SELECTOR_CODE32:.flat
.flat:
        mov ax, SELECTOR_DATA32
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, start                  ; a few bytes of stack, below us
        cld
        mov esi, [param_source]
        mov edi, [param_dest]
        mov ecx, [param_length]
        rep movsb
        jmp SELECTOR_CODE16:.pm16

        bits 16
.pm16:
        mov ax, SELECTOR_DATA16
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov eax, cr0
        and al, 0xFE
        mov cr0, eax
        jmp 0:.real
.real:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov sp, REAL_MODE_STACK_TOP
        lidt [real_idt]
        xor eax, eax
        xor ebx, ebx
        xor ecx, ecx
        xor edx, edx
        xor esi, esi
        xor edi, edi
        xor ebp, ebp
        mov dl, [param_drive]
        sti
        jmp far [param_entry]

end:
%if param_source - start != TRAMPOLINE_SOURCE || param_dest - start != TRAMPOLINE_DEST || param_length - start != TRAMPOLINE_LENGTH || param_entry - start != TRAMPOLINE_ENTRY || param_drive - start != TRAMPOLINE_DRIVE
  %error "the parameter block does not match bootfs::layout::TrampolineParams"
%endif
%if end - start > TRAMPOLINE_END - TRAMPOLINE_ADDR
  %error "the trampoline does not fit below TRAMPOLINE_END"
%endif
