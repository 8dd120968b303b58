; dropboot stage1: the MBR boot code, at most 440 bytes. The disk signature
; and the partition table after it belong to the disk; the builder writes
; this code around them and never changes them.
;
; In:  real mode, CS:IP = 0000:7C00 or 07C0:0000 (nothing here depends on
;      CS), DL = BIOS boot drive.
; Job: read stage2 (from STAGE2_LBA, its length in its header) to
;      STAGE2_LOAD_ADDR; check its length and its checksum (the u32 words
;      of the whole image sum to zero, which an empty or foreign area
;      fails); jump to 0000:STAGE2_ENTRY_ADDR with DL = the drive it was
;      read from.
;  - It reads by CHS (AH=08h for the geometry, AH=02h a track at a time),
;    the one way every BIOS reads a disk: stage2 lies in the first 770
;    sectors, which CHS reaches on any geometry. (Stage2 and the hook use
;    AH=42h when the BIOS has it.) Dropping the AH=42h path is what makes
;    room for the next points in 440 bytes.
;  - A read that fails is followed by a reset (AH=00h) and read again,
;    READ_RETRIES times in all, as the MBRs of DOS and Windows do: a USB
;    stick's controller can fail one transfer and do the next (SeaBIOS's
;    UHCI driver under QEMU loses a packet when the host is busy, and its
;    next command works). Stage2 tries its own reads again the same way.
;  - Bytes 3-59h are left to a BIOS that writes a BPB there when it boots
;    a stick as USB-FDD or USB-ZIP: the first instruction jumps over them,
;    and the variables live there, written only after the BIOS is done.
;  - DL: a number outside 00-0Fh and 80-8Fh is taken as 80h; and when
;    stage2 cannot be read or checked from the drive DL names, stage1 tries
;    again from 80h (a BIOS that passes 00h for a stick at 80h).
; Out on failure: one line on the screen and COM1 that names it
;      ("dropboot: read error 0x80", "dropboot: geometry error 0x01",
;      "dropboot: stage2 checksum bad", ...), a key, then INT 18h (the
;      BIOS tries the next boot device).
;
; It runs where the BIOS loaded it: stage2 loads above it at 0000:8000, and
; the 440 bytes are better spent on messages than on moving itself.
; Constants come from bootfs/src/disk/layout.rs through the generated layout.inc.

%include "layout.inc"

BPB_END         equ 0x5A        ; a FAT32 BPB's last byte is 59h
; Variables, from BP = 7C00h, in the BPB area (set before they are read).
DRIVE           equ 3           ; byte: the drive stage2 is read from
RETRIES_LEFT    equ 4           ; byte: failed reads that may still be read again
SPT             equ 5           ; word: sectors per track
HEADS           equ 7           ; word
READ_RETRIES    equ 3

        bits 16
        org 0x7C00

        jmp short start
        nop
        times BPB_END - ($ - $$) db 0

start:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax                      ; (no interrupt until after the next instruction)
        mov sp, REAL_MODE_STACK_TOP
        mov bp, sp
        test dl, 0x70                   ; 00-0Fh and 80-8Fh are drives
        jz .drive_known
        mov dl, 0x80
.drive_known:
        mov dh, READ_RETRIES
        mov [bp + DRIVE], dx            ; and RETRIES_LEFT
        mov ah, 0x08                    ; CL = sectors per track, DH = last head
        xor di, di                      ; ES:DI = 0 for buggy BIOSes
        int 0x13
        mov si, msg_geometry
        jc disk_error
        and cx, 0x3F                    ; (0 sectors: "error 0x00")
        jz disk_error
        mov [bp + SPT], cx
        movzx dx, dh
        inc dx
        mov [bp + HEADS], dx

        mov ax, STAGE2_LBA              ; the header sector first
        mov bx, STAGE2_LOAD_ADDR >> 4
        push bx
        mov cx, 1
        call read
        mov si, msg_missing
        mov cx, [STAGE2_LOAD_ADDR + STAGE2_HEADER_SECTORS_OFFSET]
        push cx
        dec cx                          ; 0 wraps to FFFFh and fails the bound
        cmp cx, STAGE2_MAX_SECTORS - 1
        ja fail
        call read                       ; the rest, right after the header

        pop cx                          ; the sectors
        pop bx                          ; and where they are
        xor edx, edx
.sum_sector:
        mov es, bx
        mov di, 512 - 4
.sum_word:                              ; the sector's last word down to its first
        add edx, [es:di]
        sub di, 4
        jns .sum_word
        add bx, 512 >> 4
        loop .sum_sector
        mov si, msg_checksum
        test edx, edx
        jnz fail
        mov dl, [bp + DRIVE]
        jmp 0:STAGE2_ENTRY_ADDR

; disk_error: AH = BIOS status, SI = what failed (its text runs on into
; "error 0x??"). Names the status in hex and fails.
disk_error:
        mov al, ah
        aam 16                          ; AH = high nibble, AL = low nibble
        cmp al, 10                      ; AL = '0'..'9', 'A'..'F'
        sbb al, 0x69
        das
        xchg al, ah
        cmp al, 10
        sbb al, 0x69
        das
        mov [msg_code], ax
; fail: SI = message, BP = 7C00h. Read from a drive other than 80h: try
; 80h. Else "dropboot: " and the message, a key, INT 18h.
fail:
        mov dl, 0x80
        cmp [bp + DRIVE], dl
        jne start
        push si
        mov si, msg_prefix
        call print
        pop si
        call print
        cbw                             ; AH = 0 (print ends with AL = 0): a key
        int 0x16
        int 0x18
        jmp fail

; read: AX = first LBA (below 2048), CX = sectors, BX = segment to read to
; (offset 0), BP = 7C00h. Reads to the end of a track at a time with
; AH=02h; a failed read is reset and read again while RETRIES_LEFT lasts.
; Returns with AX and BX advanced past what was read, CX = 0; when the
; retries are spent, jumps to disk_error with AH = the read's BIOS status.
; Clobbers DX, SI, DI, ES, flags.
read:
        jcxz .done
        push ax
        push cx
        cwd                             ; DX = 0 (AX is below 8000h)
        div word [bp + SPT]             ; AX = track, DX = sector - 1
        mov di, [bp + SPT]
        sub di, dx                      ; DI = sectors to the track's end
        cmp di, cx
        jb .counted
        mov di, cx
.counted:
        mov cx, dx
        inc cx                          ; CL = sector
        cwd
        div word [bp + HEADS]           ; AX = cylinder, DL = head
        mov ch, al
        shl ah, 6
        or cl, ah                       ; cylinder bits 8-9
        mov dh, dl
        mov dl, [bp + DRIVE]
        mov es, bx
        push bx
        xor bx, bx
        mov ax, di
        mov ah, 0x02
        int 0x13
        jnc .read
        mov si, msg_read                ; (after the call: SI need not survive it)
        dec byte [bp + RETRIES_LEFT]
        js disk_error                   ; (the stack no longer matters)
        xor ax, ax                      ; reset, and the same sectors again
        int 0x13
        xor di, di
.read:
        pop bx
        pop cx
        pop ax
        add ax, di
        sub cx, di
        shl di, 5                       ; sectors -> paragraphs
        add bx, di
        jmp read
.done:
        ret

; print: SI = text ended by 0, or by 1 to go on with "error 0x??"; to the
; screen and COM1. Clobbers AX, BX, DX, SI.
print:
        lodsb
        cmp al, 1
        jb .done
        ja .char
        mov si, msg_error
        jmp print
.char:
        mov ah, 0x0E
        mov bx, 0x0007
        push ax
        int 0x10
        pop ax
        mov ah, 0x01                    ; COM1, as the BIOS set it up
        cwd                             ; DX = 0 (AH = 01h)
        int 0x14
        jmp print
.done:
        ret

msg_prefix:     db "dropboot: ", 0
msg_geometry:   db "geometry ", 1
msg_read:       db "read ", 1
msg_error:      db "error 0x"
msg_code:       db "??", 0
msg_missing:    db "stage2 missing", 0
msg_checksum:   db "stage2 checksum bad", 0

%if ($ - $$) > MBR_CODE_BYTES
  %error "stage1 is larger than the MBR's 440 code bytes"
%endif
        times MBR_CODE_BYTES - ($ - $$) db 0
