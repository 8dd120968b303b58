; dropboot stage1: the MBR boot code, at most 440 bytes. The disk signature
; and the partition table after it belong to the disk; the builder writes
; this code around them and never changes them.
;
; In:  real mode, CS:IP = 0000:7C00 or 07C0:0000, DL = BIOS boot drive.
; Job: read stage2 (from STAGE2_LBA, its length in its header) to
;      STAGE2_LOAD_ADDR with INT 13h AH=42h, or with AH=02h (CHS) when the
;      BIOS has no extensions; check its magic and its checksum (the u32
;      words of the whole image sum to zero); jump to 0000:STAGE2_ENTRY_ADDR
;      with DL = boot drive.
; Out on failure: one line that names it ("dropboot: stage2 read error
;      0x80", "... checksum bad", ...), a key, then INT 18h (the BIOS tries
;      the next boot device).
;
; It runs where the BIOS loaded it: stage2 loads above it at 0000:8000, and
; the 440 bytes are better spent on messages than on moving itself.
; Constants come from bootfs/src/layout.rs through the generated layout.inc.

%include "layout.inc"

CHUNK           equ 64          ; sectors per AH=42h read: 32 KiB, never across 64 KiB

        bits 16
        org 0x7C00

start:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax                      ; (no interrupt until after the next instruction)
        mov sp, REAL_MODE_STACK_TOP
        jmp 0:main                      ; CS = 0 whatever the BIOS used
main:
        mov [drive], dl
        mov ah, 0x41                    ; extensions? BX=AA55h and CX bit 0 set
        mov bx, 0x55AA
        int 0x13
        jc .chs
        cmp bx, 0xAA55
        jne .chs
        test cl, 1
        jnz .load
.chs:
        mov ah, 0x08                    ; CL = sectors per track, DH = last head
        mov dl, [drive]
        xor di, di                      ; ES:DI = 0 for buggy BIOSes
        int 0x13
        jc disk_error
        and cx, 0x3F
        mov [spt], cx                   ; nonzero from here on: read with CHS
        movzx dx, dh
        inc dx
        mov [heads], dx

.load:
        mov eax, STAGE2_LBA             ; the header sector first
        mov bx, STAGE2_LOAD_ADDR >> 4
        mov cx, 1
        call read
        mov si, msg_missing
        cmp dword [STAGE2_LOAD_ADDR], STAGE2_MAGIC_LO   ; the checksum covers the rest
        jne fail
        mov cx, [STAGE2_LOAD_ADDR + STAGE2_HEADER_SECTORS_OFFSET]
        dec cx                          ; 0 wraps to FFFFh and fails the bound
        cmp cx, STAGE2_MAX_SECTORS - 1
        ja fail
        call read                       ; the rest, right after the header

        mov cx, [STAGE2_LOAD_ADDR + STAGE2_HEADER_SECTORS_OFFSET]
        mov bx, STAGE2_LOAD_ADDR >> 4
        xor edx, edx
.sum_sector:
        mov es, bx
        xor di, di
.sum_word:
        add edx, [es:di]
        add di, 4
        cmp di, 512
        jb .sum_word
        add bx, 512 >> 4
        loop .sum_sector
        mov si, msg_checksum
        test edx, edx
        jnz fail
        mov dl, [drive]
        jmp 0:STAGE2_ENTRY_ADDR

; read: EAX = first LBA (below 2048), CX = sectors, BX = segment to read to
; (offset 0). Returns with EAX and BX advanced past what was read, CX = 0;
; on failure jumps to disk_error with AH = BIOS status (no retries, as in
; the MBRs of GRUB and syslinux). Clobbers DX, DI, ES, flags.
read:
        jcxz .done
        xor edi, edi
        inc di                          ; CHS: one sector per call
        cmp byte [spt], 0
        jne .counted
        mov di, CHUNK
        cmp cx, di
        jae .counted
        mov di, cx
.counted:
        pushad
        mov es, bx
        cmp byte [spt], 0
        jne .by_chs
        push dword 0                    ; disk address packet, on the stack:
        push eax                        ;   LBA
        push bx                         ;   buffer segment
        push word 0                     ;   buffer offset
        push di                         ;   sectors
        push word 16                    ;   packet size
        mov si, sp
        mov ah, 0x42
        mov dl, [drive]
        int 0x13
        lea sp, [si + 16]               ; (keeps CF)
        jmp .called
.by_chs:
        xor dx, dx
        div word [spt]                  ; AX = track, DX = sector - 1
        mov cx, dx
        inc cx                          ; CL = sector
        xor dx, dx
        div word [heads]                ; AX = cylinder, DL = head
        mov ch, al
        shl ah, 6
        or cl, ah                       ; cylinder bits 8-9
        mov dh, dl
        mov dl, [drive]
        xor bx, bx
        mov ax, 0x0201
        int 0x13
.called:
        jc disk_error                   ; (the stack no longer matters)
        popad
        add eax, edi
        sub cx, di
        shl di, 5                       ; sectors -> paragraphs
        add bx, di
        jmp read
.done:
        ret

; disk_error: AH = BIOS status; names it in hex and fails.
disk_error:
        mov al, ah
        aam 16                          ; AH = high nibble, AL = low nibble
        call hex_digit
        xchg al, ah
        call hex_digit
        mov [msg_code], ax
        mov si, msg_read
        cmp byte [spt], 0
        je fail
        mov si, msg_no_ext
; fail: SI = message. "dropboot: " and the message, a key, INT 18h.
fail:
        push si
        mov si, msg_prefix
        call print
        pop si
        call print
        xor ax, ax
        int 0x16
        int 0x18
        jmp fail

; print: SI = NUL-terminated text, to the screen. Clobbers AX, BX, SI.
print:
        lodsb
        test al, al
        jz .done
        mov ah, 0x0E
        mov bx, 0x0007
        int 0x10
        jmp print
.done:
        ret

; hex_digit: AL = 0..15 -> AL = '0'..'9', 'A'..'F'.
hex_digit:
        cmp al, 10
        sbb al, 0x69
        das
        ret

drive:          db 0
spt:            dw 0                    ; 0: INT 13h extensions
heads:          dw 0
msg_prefix:     db "dropboot: ", 0
msg_no_ext:     db "no INT 13h ext, CHS "
msg_read:       db "stage2 read error 0x"
msg_code:       db "??", 0
msg_missing:    db "stage2 missing", 0
msg_checksum:   db "stage2 checksum bad", 0

%if ($ - $$) > MBR_CODE_BYTES
  %error "stage1 is larger than the MBR's 440 code bytes"
%endif
        times MBR_CODE_BYTES - ($ - $$) db 0
