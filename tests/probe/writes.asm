; The tests' writing boot sector: booted from a disk image file on the
; stick as an emulated hard disk (80h) or floppy (00h), it writes through
; INT 13h as a system's own tools do. It reads a sector, says what mark it
; found there, and writes it back with the mark's count one higher:
;   by CHS (AH=03h): the image's last sector on a floppy, the one before
;     it on a hard disk;
;   by packet (AH=43h), a hard disk only: the image's last sector;
; then writes one sector past the image (a floppy by CHS, a hard disk by
; packet), which must fail. A mark is "DRPW", its kind ('C' for CHS, 'P'
; for packet) and a count byte over the sector's first six bytes; the
; rest of the sector is written back as it was read. Reports on COM1:
;   writes: drive=DD
;   writes: chs before=NN cf=C ah=HH
;   writes: packet before=NN cf=C ah=HH       (a hard disk)
;   writes: past cf=C ah=HH
; (NN: the count found, 00 for no mark), then ends QEMU through
; isa-debug-exit (port F4h, code 34h: exit status 105). The host writes
; the image's size in sectors after "WRITEPAR". Two sectors: the first
; (with room for a hard disk's partition table) loads the second by CHS.
;
; In: real mode, CS:IP = 0000:7C00, DL = the drive it was booted from.
; Out: never returns. Clobbers everything.

        bits 16
        org 0x7C00

EXIT_WRITES     equ 0x34
BUF             equ 0x0600              ; one sector
PART_TABLE      equ 446                 ; a hard disk image's table (the host fills it)

start:
        xor ax, ax
        mov ds, ax
        mov es, ax
        cli
        mov ss, ax
        mov sp, 0x7C00
        sti
        mov [drive], dl
        mov ax, 0x0201                  ; the second sector: cylinder 0, head 0, sector 2
        mov cx, 0x0002
        mov dh, 0
        mov bx, main
        int 0x13
        jmp main

drive:          db 0

        times PART_TABLE - ($ - $$) db 0
        times 64 db 0                   ; a hard disk image's table (the host fills it)
        dw 0xAA55

main:                                   ; the second sector
        mov si, s_drive
        call line
        mov al, [drive]
        call print_hex
        call newline
        mov ah, 0x08                    ; the geometry, for CHS addresses
        mov dl, [drive]
        int 0x13
        xor ax, ax
        mov es, ax                      ; a floppy's 08h sets ES:DI
        and cl, 0x3F
        mov [spt], cl
        inc dh
        mov [heads], dh
        mov eax, [sectors]
        dec eax                         ; the last sector
        cmp byte [drive], 0x80
        jb .chs_target
        dec eax                         ; a hard disk: the one before it
.chs_target:
        mov si, s_chs
        mov bl, 'C'
        call rewrite_chs
        cmp byte [drive], 0x80
        jb .past
        mov eax, [sectors]
        dec eax
        mov si, s_packet
        mov bl, 'P'
        call rewrite_packet
.past:
        mov si, s_past
        call line
        mov eax, [sectors]
        cmp byte [drive], 0x80
        jae .past_packet
        call chs_of
        mov ax, 0x0301
        mov dl, [drive]
        mov bx, BUF
        int 0x13
        jmp .past_done
.past_packet:
        mov [dap_lba], eax
        mov ah, 0x43
        call packet_call
.past_done:
        call report_status
        mov al, EXIT_WRITES
        out DEBUG_EXIT, al
.halt:
        hlt
        jmp .halt

; rewrite_chs: EAX = sector, SI = the line's label, BL = the mark's kind.
; Reads it by CHS (02h), marks it, writes it (03h), reports. Clobbers all.
rewrite_chs:
        push eax
        call line
        pop eax
        call chs_of
        push cx
        push dx
        mov ax, 0x0201
        mov dl, [drive]
        push bx
        mov bx, BUF
        int 0x13
        pop bx
        call mark
        pop dx
        pop cx
        mov ax, 0x0301
        mov dl, [drive]
        mov bx, BUF
        int 0x13
        jmp report_status

; rewrite_packet: as rewrite_chs, by packet (42h, 43h).
rewrite_packet:
        mov [dap_lba], eax
        call line
        mov ah, 0x42
        call packet_call
        call mark
        mov ah, 0x43
        call packet_call
        jmp report_status

; packet_call: AH = 42h or 43h: one sector, [dap_lba], to or from BUF.
; Out: the BIOS's CF and AH. Clobbers DX, SI.
packet_call:
        mov word [dap + 2], 1
        mov al, 0
        mov dl, [drive]
        mov si, dap
        int 0x13
        ret

; mark: BUF = a sector just read, BL = the kind. Prints " before=NN"
; (the count of a mark of this kind in it, 00 for none) and puts the
; mark with the count one higher in BUF. Keeps BX.
mark:
        xor al, al
        cmp dword [BUF], 'DRPW'
        jne .none
        cmp [BUF + 4], bl
        jne .none
        mov al, [BUF + 5]
.none:
        push ax
        mov si, s_before
        call print
        pop ax
        push ax
        call print_hex
        pop ax
        inc al
        mov dword [BUF], 'DRPW'
        mov [BUF + 4], bl
        mov [BUF + 5], al
        ret

; line: starts a report line: "writes: ", then SI's text. Clobbers AX,
; DX, SI.
line:
        push si
        mov si, s_line
        call print
        pop si
        jmp print

; chs_of: EAX = sector (below 65536 tracks) -> CH, CL, DH for 02h/03h
; with the 08h geometry. Clobbers EAX, EDX.
chs_of:
        xor edx, edx
        movzx ecx, byte [spt]
        div ecx                         ; EAX = track, EDX = sector - 1
        inc dx
        push dx
        xor dx, dx
        mov cl, [heads]
        div cx                          ; AX = cylinder, DX = head
        pop cx                          ; CL = sector
        mov ch, al
        shl ah, 6
        or cl, ah
        mov dh, dl
        ret

; report_status: after an INT 13h, prints " cf=C ah=HH" and a newline.
report_status:
        mov bl, '0'
        adc bl, 0                       ; '0' + CF
        mov bh, ah
        mov si, s_cf
        call print
        mov al, bl
        call put
        mov si, s_ah
        call print
        mov al, bh
        call print_hex
newline:
        mov al, 13
        call put
        mov al, 10
        jmp put

%include "com1.inc"

s_drive:        db "drive=", 0
s_chs:          db "chs", 0
s_packet:       db "packet", 0
s_past:         db "past", 0
s_before:       db " before=", 0
s_line:         db "writes: ", 0
s_cf:           db " cf=", 0
s_ah:           db " ah=", 0

dap:            db 0x10, 0
                dw 1
                dw BUF, 0
dap_lba:        dd 0, 0

                db "WRITEPAR"
sectors:        dd 0
spt:            db 0
heads:          db 0

%if ($ - main) > 512
  %error "the rest must fit the second sector"
%endif
        times 1024 - ($ - $$) db 0
