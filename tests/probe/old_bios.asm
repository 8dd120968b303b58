; An old PC's BIOS for the tests: a floppy boot sector that hides INT 13h
; extensions from every hard disk, then boots the first hard disk (the
; stick) as that BIOS would. It takes 1 KiB from the top of conventional
; memory (BDA 413h), copies itself there, and puts a filter in front of
; INT 13h: AH=41h-49h for a drive of 80h or above fail "invalid" (CF set,
; AH=01h), as on a BIOS from before EDD; everything else goes to the old
; vector untouched. Then it reads 80h's first sector by CHS to 0000:7C00
; and jumps there. The bytes after "OLDBIOS:" are patched by tests:
;   boot_dl  the DL it jumps with (80h as built; 00h plays a BIOS that
;            passes the wrong drive)
;   quirks   bit 0: AH=08h of a hard disk fails too (AH=01h);
;            bit 1: a BPB is written over bytes 03h-59h of the sector in
;            memory before the jump, as a BIOS that boots a stick as
;            USB-FDD or USB-ZIP does;
;            bit 2: the extensions stay (only the other quirks play);
;            bit 3: a 16-bit BIOS: every call passed down comes back
;            with the high halves of EBX, ECX, EDX, ESI, EDI and EBP
;            cleared (as Bochs's rombios does with its 16-bit POPA),
;            AL changed after AH=42h (which returns only AH) and the
;            flags other than CF, IF and DF flipped.
;            Bits 4-7, with bit 2, play a BIOS's answers to an AH=42h read
;            of a hard disk of more than 127 sectors (EDD's limit):
;   bit 4    refused, AH=01h and the count 0, as EDD-4 says;
;   bit 5    the count masked to 7 bits: 128 reads nothing and says yes
;            with the count 0;
;   bit 6    127 sectors read, and yes said with the count left at 128;
;   bit 7    read whole while this filter is the INT 13h vector, refused
;            with AH=09h ("> 80h sectors") once something is in front of
;            it (a BIOS that passes stage2's check and fails the hook's
;            reads).
; It says so on COM1: "old-bios: ...". It is two sectors: the first loads
; the second.
;
; In: real mode, CS:IP = 0000:7C00, DL = 00h. Out: never returns.

        bits 16
        org 0x7C00

EXIT_FAILED     equ 0x35            ; QEMU exit status 107
BDA_BASE_MEMORY equ 0x413
IVT_INT13       equ 0x13 * 4
QUIRK_NO_GEOMETRY equ 0x01
QUIRK_BPB       equ 0x02
QUIRK_KEEP_EXTENSIONS equ 0x04
QUIRK_SCRAMBLE  equ 0x08
QUIRK_REFUSES_OVER_127 equ 0x10
QUIRK_MASKS_COUNT equ 0x20
QUIRK_READS_SHORT equ 0x40
QUIRK_REFUSES_LATER equ 0x80
QUIRKS_OF_COUNT equ 0xF0
SCRAMBLED_FLAGS equ 0x08D4          ; OF, SF, ZF, AF, PF

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7C00
        sti
        cld
        mov es, ax
        mov ax, 0x0201                  ; the second sector, after this one
        mov cx, 0x0002
        xor dh, dh
        mov bx, 0x7E00
        int 0x13
        dec word [BDA_BASE_MEMORY]      ; 1 KiB for the copy
        mov ax, [BDA_BASE_MEMORY]
        shl ax, 6                       ; KiB -> segment
        mov es, ax
        mov si, 0x7C00
        xor di, di
        mov cx, 512
        rep movsw
        mov eax, [IVT_INT13]
        mov [es:old_int13 - $$], eax
        cli
        mov word [IVT_INT13], filter - $$
        mov [IVT_INT13 + 2], es
        sti
        push es                         ; on in the copy
        push word resident - $$
        retf

; filter: the INT 13h handler of the old BIOS. Runs in the copy (offsets
; from its segment); keeps every register but AH and CF for the calls it
; refuses, and passes the others down (scrambled, with QUIRK_SCRAMBLE).
filter:
        cmp dl, 0x80
        jb .chain
        cmp ah, 0x08
        jne .extensions
        test byte [cs:quirks - $$], QUIRK_NO_GEOMETRY
        jnz .refuse
.extensions:
        test byte [cs:quirks - $$], QUIRK_KEEP_EXTENSIONS
        jnz .chain
        cmp ah, 0x41
        jb .chain
        cmp ah, 0x49
        ja .chain
.refuse:
        mov ah, 0x01
..@refuse_with_ah:
        push bp
        mov bp, sp
        or byte [bp + 6], 0x01          ; CF in the caller's FLAGS
        pop bp
        iret
.chain:
        test byte [cs:quirks - $$], QUIRKS_OF_COUNT
        jnz count_quirks
..@pass_down:
        test byte [cs:quirks - $$], QUIRK_SCRAMBLE
        jnz scrambled
        jmp far [cs:old_int13 - $$]

; scrambled: the call passed down, and its answer returned as a 16-bit
; BIOS may return it: what the function returns (AH, CF, and the 16-bit
; registers it answers in) kept, the rest as described above.
scrambled:
        push ax                         ; the caller's AH, for below
        pushf
        call far [cs:old_int13 - $$]
        pushf                           ; the BIOS's flags
        push bp
        mov bp, sp                      ; [bp+2] its flags, [bp+4] the caller's AX
        cmp byte [bp + 5], 0x42
        jne .al_kept
        mov al, 0xA5
.al_kept:
        xor word [bp + 2], SCRAMBLED_FLAGS
        push word [bp + 2]
        pop word [bp + 4]               ; the flags to return, where AX was
        pop bp
        add sp, 2
        popf
        movzx ebx, bx                   ; none of these changes a flag
        movzx ecx, cx
        movzx edx, dx
        movzx esi, si
        movzx edi, di
        movzx ebp, bp
        retf 2                          ; with these flags, not the caller's

; resident: the rest of the boot, from the copy (DS = CS = its segment).
resident:
        push cs
        pop ds
        mov si, prefix - $$
        call print
        mov si, hidden - $$
        test byte [quirks - $$], QUIRK_KEEP_EXTENSIONS
        jnz .extensions_said
        call print
.extensions_said:
        mov si, cleared - $$
        test byte [quirks - $$], QUIRK_SCRAMBLE
        jz .cleared_said
        call print
.cleared_said:
        mov si, said - $$
        call print
        mov al, [boot_dl - $$]
        call print_hex
        mov si, line_end - $$
        call print
        xor ax, ax
        mov es, ax
        mov bx, 0x7C00
        mov ax, 0x0201
        mov cx, 0x0001
        mov dx, 0x0080
        int 0x13
        jc .failed
        test byte [quirks - $$], QUIRK_BPB
        jz .jump
        mov di, 0x7C03                  ; ES = 0
        mov cx, 0x5A - 3
        mov al, 0xF6
        rep stosb
.jump:
        mov dl, [boot_dl - $$]
        xor ax, ax
        mov ds, ax
        jmp 0:0x7C00
.failed:
        mov si, failed - $$
        call print
        mov al, EXIT_FAILED
        out DEBUG_EXIT, al
.halt:  hlt
        jmp .halt

old_int13:      dd 0
                db "OLDBIOS:"
boot_dl:        db 0x80
quirks:         db 0

        times 510 - ($ - $$) db 0
        dw 0xAA55

; The second sector, loaded by the first to 0000:7E00 and copied with it.

; count_quirks: an AH=42h read of a hard disk of more than 127 sectors,
; answered as the quirks say; every other call passed down.
count_quirks:
        cmp dl, 0x80
        jb ..@pass_down
        cmp ah, 0x42
        jne ..@pass_down
        cmp word [si + 2], 127          ; DS:SI = the packet
        jbe ..@pass_down
        test byte [cs:quirks - $$], QUIRK_REFUSES_OVER_127
        jnz .refuse
        test byte [cs:quirks - $$], QUIRK_MASKS_COUNT
        jnz .masked
        test byte [cs:quirks - $$], QUIRK_READS_SHORT
        jnz .short
        push ds                         ; QUIRK_REFUSES_LATER
        push ax
        xor ax, ax
        mov ds, ax
        mov ax, cs
        cmp [IVT_INT13 + 2], ax
        pop ax
        pop ds
        je ..@pass_down                    ; nothing in front yet: read whole
        mov ah, 0x09
        jmp .refused
.refuse:
        mov ah, 0x01
.refused:
        mov word [si + 2], 0
        jmp ..@refuse_with_ah
.masked:
        and word [si + 2], 0x7F
        jnz ..@pass_down
        xor ah, ah                      ; nothing read, and yes said
        push bp
        mov bp, sp
        and byte [bp + 6], 0xFE
        pop bp
        iret
.short:
        push word [si + 2]
        mov word [si + 2], 127
        pushf
        call far [cs:old_int13 - $$]
        pop word [si + 2]               ; the count asked, as if all were read
        retf 2                          ; with the BIOS's flags

%include "com1.inc"

prefix:         db "old-bios: ", 0
hidden:         db "INT 13h extensions hidden; ", 0
cleared:        db "high halves cleared; ", 0
said:           db "booting 80h by CHS with DL=", 0
line_end:       db "h", 13, 10, 0
failed:         db "old-bios: reading 80h failed", 13, 10, 0

        times 1024 - ($ - $$) db 0
