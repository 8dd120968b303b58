; The "next disk" a test puts behind the stick: a one-sector MBR that says
; on COM1 which drive number it was entered with, whether drive 80h reads
; as this very sector, and the disk signature (MBR bytes 440-443) drive
; 81h shows, then ends QEMU through isa-debug-exit (port F4h, code 33h:
; exit status 103).
;
; In: real mode, CS:IP = 0000:7C00, DL = the drive it was booted from.
; Out: never returns. Clobbers everything.

        bits 16
        org 0x7C00

EXIT_NEXT_DISK  equ 0x33
SECTOR_BUF      equ 0x0600

start:
        cli
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7C00
        mov bl, dl                      ; BL = the boot drive, kept to the end
        mov si, message
        call print
        mov al, bl
        shr al, 4
        call print_hex_digit
        mov al, bl
        call print_hex_digit
        mov si, self_text
        call print
        mov dl, 0x80
        call read_sector0
        mov si, 0x7C00
        mov di, SECTOR_BUF
        mov cx, 256
        repe cmpsw
        mov si, yes
        je .same
        mov si, no
.same:  call print
        mov si, signature_text
        call print
        mov dl, 0x81
        call read_sector0
        mov si, SECTOR_BUF + 443       ; the signature, most significant byte first
        mov cx, 4
.sig:   mov al, [si]
        push ax
        shr al, 4
        call print_hex_digit
        pop ax
        call print_hex_digit
        dec si
        loop .sig
        mov si, tail
        call print
        mov al, EXIT_NEXT_DISK
        out DEBUG_EXIT, al
.halt:  hlt
        jmp .halt

; read_sector0: DL = drive; sector 0 (CHS 0/0/1) into 0000:SECTOR_BUF.
; On failure the buffer is zeroed. Clobbers AX, BX, CX, DH, DI, ES.
read_sector0:
        xor ax, ax
        mov es, ax
        mov di, SECTOR_BUF
        mov cx, 256
        rep stosw
        mov ax, 0x0201
        mov bx, SECTOR_BUF
        mov cx, 0x0001
        xor dh, dh
        int 0x13
        ret

%include "com1.inc"

message: db "next-disk: booted with DL=", 0
self_text:      db "h; 80h reads as this disk: ", 0
yes:            db "yes", 0
no:             db "no", 0
signature_text: db "; 81h disk signature ", 0
tail:           db 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
