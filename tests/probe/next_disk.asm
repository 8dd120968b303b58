; The "next disk" a test puts behind the stick: a one-sector MBR that says
; on COM1 which drive number it was entered with, then ends QEMU through
; isa-debug-exit (port F4h, code 33h: exit status 103).
;
; In: real mode, CS:IP = 0000:7C00, DL = the drive it was booted from.
; Out: never returns. Clobbers everything.

        bits 16
        org 0x7C00

COM1            equ 0x3F8
DEBUG_EXIT      equ 0xF4
EXIT_NEXT_DISK  equ 0x33

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
        mov si, tail
        call print
        mov al, EXIT_NEXT_DISK
        out DEBUG_EXIT, al
.halt:  hlt
        jmp .halt

; print: DS:SI = zero-terminated text to COM1. Clobbers AX, DX, SI.
print:
        lodsb
        test al, al
        jz .done
        call put
        jmp print
.done:  ret

; print_hex_digit: AL's low nibble as one hex digit. Clobbers AX, DX.
print_hex_digit:
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe put
        add al, 'A' - '9' - 1
; put: AL to COM1 once its transmitter is empty. Clobbers DX.
put:
        mov dx, COM1 + 5
        push ax
.wait:  in al, dx
        test al, 0x20
        jz .wait
        pop ax
        mov dx, COM1
        out dx, al
        ret

message: db "next-disk: booted with DL=", 0
tail:    db "h", 13, 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
