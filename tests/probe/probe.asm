; dropboot's test probe: a no-emulation El Torito boot image that asks the
; drive it was booted from everything a boot loader asks, and reports the
; answers on COM1, one "probe: ..." line each, for the host to check:
;
;   41h            the extensions check
;   48h            drive parameters with 1Ah, 1Eh and 42h buffers
;   4B01h          the El Torito specification packet
;   42h            the data file, read whole with many request sizes and
;                  buffer offsets (packet sizes 10h and 18h), as CRC32s
;   42h            one block past the end of the image (must fail)
;   43h            a write (must be refused)
;   42h on 80h     sector 0 of the real first disk (the stick's MBR)
;   regs           each function again with DS, ES, FS and GS distinct and
;                  non-zero and every register a canary: what changed that
;                  the function does not return ("probe: regs ... ok")
;   drives         41h and 08h of drives 80h-83h and E0h (as an emulated
;                  hard disk: the renumbered real disks and a CD drive)
;   int13sf        the hook, found from the INT 13h vector by its memdisk
;                  header ("$INT13SF" at +3, the old vector at +19)
;   nested         the data read again while, under the hook, a shim in its
;                  old vector's place makes a call of its own to the CD in
;                  the middle of each of the hook's reads (as a BIOS's USB
;                  code may): both reads must come back whole
;
; In mode 1 it only times reads of the data file through the boot drive
; and of the same sectors of the stick directly, in the request sizes of
; boot loaders (bench, below), for `make bench`.
;
; then ends QEMU through isa-debug-exit (port F4h, code 31h: exit status 99).
; The host writes the data file's first block and block count into the
; parameter block after "PROBEPAR" in the built ISO.
;
; In: real mode, CS:IP = 0000:7C00 (or 07C0:0000), DL = the drive.

        bits 16
        org 0x7C00

COM1            equ 0x3F8
DEBUG_EXIT      equ 0xF4
EXIT_DONE       equ 0x31
EXIT_SELF_LOAD  equ 0x32                ; sector 0 could not load the rest
CRC_TABLE       equ 0x1000              ; 256 dwords, segment 0
SECTOR_BUF      equ 0x1800              ; 512 bytes, segment 0
INFO_BUF        equ 0x1A00              ; 48h / 4B01h replies, segment 0
DAP             equ 0x1C00              ; the request packet, segment 0
DATA_SEG        equ 0x2000              ; read buffer: 2000:xxxx, up to 254 KiB

; report LABEL: prints LABEL's text, then "cf=C ah=HH" from the flags and
; AH the last INT 13h left (both kept across the print).
%macro report 1
        pushf
        push ax
        mov si, %1
        call print
        pop ax
        popf
        call print_cf_ah
%endmacro

PROBE_SECTORS   equ 12                  ; the probe's size; sector 0 loads the rest
PART_TABLE      equ 446                 ; sector 0 leaves a partition table's room

start:
        jmp 0:load_rest
        align 8
params:
        db "PROBEPAR"
data_lba:       dd 0                    ; the data: first block (CD) or sector (disk)
data_blocks:    dd 0                    ; its length in blocks (CD) or sectors (disk)
mode:           dd 0                    ; 0: every check; 1: time reading the data (bench)
raw_lba:        dd 0                    ; bench: the stick's sector where the data starts
drive:          db 0                    ; (in sector 0: it must survive loading the rest)

; load_rest: booted as a floppy or hard disk only sector 0 is loaded; read
; the rest with CHS from the boot drive. A CD boot loads what the catalog's
; sector count says; when that is less than the probe (a count of 0), read
; the probe's blocks again by LBA from where 4B01h says it was loaded.
load_rest:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov ss, ax
        mov sp, 0x7C00
        sti
        cld
        mov [drive], dl
        cmp dword [rest_magic], REST_MAGIC
        je main
        cmp dl, 0xE0
        jae .cd
        mov ax, 0x0200 + PROBE_SECTORS - 1
        mov cx, 0x0002                  ; cylinder 0, sector 2
        mov dh, 0
        mov dl, [drive]
        mov bx, 0x7E00
        int 0x13
        jmp .loaded
.cd:    mov ax, 0x4B01
        mov si, 0x0500                  ; the specification packet
        mov byte [si], 0x13
        int 0x13
        jc .loaded
        mov eax, [0x0500 + 4]           ; the boot image's first block
        mov si, 0x0600
        mov dword [si], 0x00000010 | ((PROBE_SECTORS + 3) / 4) << 16
        mov dword [si + 4], 0x7C00      ; to 0000:7C00
        mov [si + 8], eax
        mov dword [si + 12], 0
        mov ah, 0x42
        mov dl, [drive]
        int 0x13
.loaded:
        cmp dword [rest_magic], REST_MAGIC
        je main
        mov al, EXIT_SELF_LOAD
        out DEBUG_EXIT, al
        hlt

        times PART_TABLE - ($ - $$) db 0
        times 64 db 0                   ; the partition table (the host fills it)
        dw 0xAA55

REST_MAGIC      equ 0x32425250          ; "PRB2", the last dword: all of the probe is loaded

main:
        call crc_table_init

        mov si, s_start
        call print
        mov al, [drive]
        call hex8
        call newline
        cmp dword [mode], 1
        je bench
        cmp byte [drive], 0xE0
        jb disk_checks

        call check_41

        ; 48h with three buffer sizes
        mov al, 0x1A
        call params48
        mov al, 0x1E
        call params48
        mov al, 0x42
        call params48

        call check_4b01

        ; the data file, whole, with each (blocks per request, buffer offset, packet size)
        mov si, patterns
.next_pattern:
        mov cx, [si]
        jcxz .patterns_done
        mov bx, [si + 2]
        mov al, [si + 4]
        push si
        call crc_pass
        pop si
        add si, 6
        jmp .next_pattern
.patterns_done:

        ; one block past the end: 48h's total is the first block that does not exist
        mov word [INFO_BUF], 0x1A
        mov ah, 0x48
        mov dl, [drive]
        mov si, INFO_BUF
        int 0x13
        mov eax, [INFO_BUF + 16]
        mov cx, 1
        mov bx, 0
        mov dl, 0x10
        call read_blocks
        report s_past_end
        call newline

        ; a write
        mov eax, [data_lba]
        mov cx, 1
        xor bx, bx
        call fill_dap
        mov byte [DAP], 0x10
        mov ah, 0x43
        mov al, 0
        mov dl, [drive]
        mov si, DAP
        int 0x13
        report s_write
        call newline

        ; sector 0 of drive 80h, through the chained vector
        mov byte [DAP], 0x10
        mov word [DAP + 2], 1
        mov word [DAP + 4], SECTOR_BUF
        mov word [DAP + 6], 0
        mov dword [DAP + 8], 0
        mov dword [DAP + 12], 0
        mov ah, 0x42
        mov dl, 0x80
        mov si, DAP
        int 0x13
        report s_mbr
        mov si, s_code
        call print
        mov si, SECTOR_BUF
        mov cx, 4
.code_byte:
        lodsb
        call hex8
        loop .code_byte
        mov si, s_sig
        call print
        mov ax, [SECTOR_BUF + 510]
        xchg al, ah
        call hex16
        call newline

        mov byte [stick], 0x80
        mov si, regs_cd
        call regs_checks
        call nested_check
        mov si, s_done
        call print
        call newline
        ; fall through
; finish: ends QEMU through isa-debug-exit.
finish:
        mov al, EXIT_DONE
        out DEBUG_EXIT, al
.halt:
        hlt
        jmp .halt

; disk_checks: the probe booted as an emulated floppy (00h) or hard disk
; (80h): geometry, BDA counts, CHS reads of the data sectors with many
; counts (across track and head edges) as CRC32s, 42h for a hard disk,
; a sector written back as it was (taken from a disk image file, refused
; inside an ISO), and the stick under its new number.
disk_checks:
        mov ah, 0x08
        mov dl, [drive]
        xor di, di
        int 0x13
        push es
        push di
        mov [geo_cx], cx
        mov [geo_dx], dx
        report s_08
        mov si, s_bl
        call print
        mov al, bl
        call hex8
        mov si, s_cx
        call print
        mov ax, [geo_cx]
        call hex16
        mov si, s_dx
        call print
        mov ax, [geo_dx]
        call hex16
        mov si, s_table
        call print
        pop di
        pop es
        cmp byte [drive], 0
        jne .no_table
        mov si, di
        mov cx, 11
.table_byte:
        mov al, [es:si]
        inc si
        call hex8
        loop .table_byte
.no_table:
        xor ax, ax
        mov es, ax
        call newline
        ; geometry for our own CHS arithmetic
        mov al, [geo_cx]
        and ax, 0x3F
        mov [spt], ax
        movzx ax, byte [geo_dx + 1]
        inc ax
        mov [heads], ax

        mov si, s_bda
        call print
        mov ax, [0x410]
        call hex16
        mov si, s_disks
        call print
        mov al, [0x475]
        call hex8
        call newline

        mov ah, 0x15
        mov dl, [drive]
        int 0x13
        report s_15
        call newline

        call check_41

        call check_4b01

        mov si, chs_counts
.next_count:
        lodsw
        test ax, ax
        jz .counts_done
        push si
        mov [req_blocks], ax
        call chs_pass
        pop si
        jmp .next_count
.counts_done:
        cmp byte [drive], 0x80
        jne .no_ext
        mov si, ext_counts
.next_ext:
        lodsw
        test ax, ax
        jz .no_ext
        push si
        mov [req_blocks], ax
        call ext_pass
        pop si
        jmp .next_ext
.no_ext:

        ; a CHS write of the first data sector, with what it holds: a disk
        ; image file takes it, an image inside an ISO refuses it
        mov eax, [data_lba]
        call lba_to_chs
        push DATA_SEG
        pop es
        xor bx, bx
        push cx
        push dx
        mov ax, 0x0201
        mov dl, [drive]
        int 0x13
        pop dx
        pop cx
        mov ax, 0x0301
        mov dl, [drive]
        int 0x13
        push 0
        pop es
        report s_write
        call newline

        ; the stick: still 80h under a floppy, 81h under a hard disk
        mov byte [DAP], 0x10
        mov word [DAP + 2], 1
        mov word [DAP + 4], SECTOR_BUF
        mov word [DAP + 6], 0
        mov dword [DAP + 8], 0
        mov dword [DAP + 12], 0
        mov dl, 0x80
        cmp byte [drive], 0x80
        jne .stick_number
        mov dl, 0x81
.stick_number:
        mov [stick], dl
        mov ah, 0x42
        mov si, DAP
        int 0x13
        report s_stick
        mov si, s_at
        call print
        mov al, [stick]
        call hex8
        mov si, s_code
        call print
        mov si, SECTOR_BUF
        mov cx, 4
.stick_byte:
        lodsb
        call hex8
        loop .stick_byte
        mov si, s_sig
        call print
        mov ax, [SECTOR_BUF + 510]
        xchg al, ah
        call hex16
        call newline
        mov si, regs_disk
        call regs_checks
        cmp byte [drive], 0x80
        jne .drives_done
        mov si, other_drives
.next_drive:
        lodsb
        test al, al
        jz .drives_done
        push si
        call check_drive
        pop si
        jmp .next_drive
.drives_done:
        mov si, s_done
        call print
        call newline
        jmp finish

; nested_check: finds the hook by its $INT13SF header, puts `shim` in its
; old vector's place, reads the data whole (32 blocks, 64 KiB, a request
; into a buffer at offset 0), puts the vector back. Prints "probe:
; int13sf ..." and "probe: nested calls=N largest=L failed=F crc=C", L the
; largest count of the AH=42h calls the hook passed on.
NESTED_DAP      equ 0x1E00
NESTED_BUF      equ 0x3000              ; one block
nested_check:
        mov si, s_int13sf
        call print
        les di, [0x13 * 4]              ; the INT 13h vector: the hook
        cmp dword [es:di + 3], "$INT"
        jne .missing
        cmp dword [es:di + 7], "13SF"
        jne .missing
        mov ax, es
        call hex16
        mov si, s_found
        call print
        call newline
        mov eax, [es:di + 19]           ; the hook's old vector
        mov [shim_next], eax
        cli
        mov word [es:di + 19], shim
        mov word [es:di + 21], 0
        sti
        push es
        push di
        mov word [nested_calls], 0
        mov word [nested_largest], 0
        mov byte [nested_failed], 0
        xor ax, ax
        mov es, ax
        mov cx, 32
        xor bx, bx
        mov al, 0x10
        call crc_pass
        pop di
        pop es
        cli
        mov eax, [shim_next]
        mov [es:di + 19], eax
        sti
        xor ax, ax
        mov es, ax
        mov si, s_nested
        call print
        mov ax, [nested_calls]
        call hex16
        mov si, s_nested_largest
        call print
        mov ax, [nested_largest]
        call hex16
        mov si, s_nested_failed
        call print
        mov al, [nested_failed]
        call hex8
        ; the block the nested calls read
        mov si, s_crc
        call print
        push ds
        xor ax, ax
        mov ds, ax
        mov si, NESTED_BUF
        mov cx, 2048
        mov edx, 0xFFFFFFFF
        call crc_bytes
        pop ds
        mov eax, edx
        not eax
        call hex32
        jmp newline
.missing:
        xor ax, ax
        mov es, ax
        mov si, s_missing
        call print
        jmp newline

; shim: in the hook's old vector's place. A read the hook passes on (42h,
; or 02h on a BIOS without extensions) makes one call of its own to the
; probe's drive first (the first block of the data into NESTED_BUF), then
; goes on to the BIOS; a 42h's count is kept if it is the largest yet.
; Keeps every register.
shim:
        cmp ah, 0x42
        jne .not_42h
        push ax
        mov ax, [si + 2]                ; DS:SI = the hook's packet
        cmp ax, [cs:nested_largest]
        jbe .smaller
        mov [cs:nested_largest], ax
.smaller:
        pop ax
        jmp .read
.not_42h:
        cmp ah, 0x02
        jne .forward
.read:
        cmp byte [cs:in_shim], 0
        jne .forward
        mov byte [cs:in_shim], 1
        pushad
        push ds
        push es
        xor ax, ax
        mov ds, ax
        mov dword [NESTED_DAP], 0x00010010      ; 10h bytes, one block
        mov dword [NESTED_DAP + 4], NESTED_BUF  ; to 0000:NESTED_BUF
        mov eax, [data_lba]
        mov [NESTED_DAP + 8], eax
        mov dword [NESTED_DAP + 12], 0
        mov si, NESTED_DAP
        mov dl, [drive]
        mov ah, 0x42
        int 0x13
        adc byte [nested_failed], 0
        inc word [nested_calls]
        pop es
        pop ds
        popad
        mov byte [cs:in_shim], 0
.forward:
        jmp far [cs:shim_next]

; check_drive: AL = a drive. Prints "probe: drive dl=XX 41 cf=C ah=HH 08
; cf=C ah=HH dx=XXXX".
check_drive:
        mov [other], al
        mov si, s_drive
        call print
        mov al, [other]
        call hex8
        mov si, s_drive41
        call print
        mov ah, 0x41
        mov bx, 0x55AA
        mov dl, [other]
        int 0x13
        call print_cf_ah
        mov si, s_drive08
        call print
        mov ah, 0x08
        mov dl, [other]
        xor di, di
        push es
        int 0x13
        pop es
        push dx
        call print_cf_ah
        mov si, s_dx
        call print
        pop ax
        call hex16
        jmp newline

; Segment registers for regs_check: distinct, non-zero, and DS and ES
; still reach the probe's buffers (DS:DS_INFO = INFO_BUF, DS:DS_DAP = DAP,
; ES:ES_DATA = DATA_SEG:0000).
CANARY_DS       equ 0x0100
CANARY_ES       equ 0x1F00
CANARY_FS       equ 0x3456
CANARY_GS       equ 0x6543
DS_INFO         equ INFO_BUF - CANARY_DS * 16
DS_DAP          equ DAP - CANARY_DS * 16
ES_DATA         equ DATA_SEG * 16 - CANARY_ES * 16

; What a function returns besides AX and CF (a case's mask): those
; registers' low words may change; everything else must not.
R_BX            equ 0x01
R_CX            equ 0x02
R_DX            equ 0x04
R_DI            equ 0x08
R_ES            equ 0x10
R_AX            equ 0x20                ; (always: AX's low word)
WORD_REG        equ 0x80                ; a segment register: 16 bits

; A case: AX, BX, CX, DX (DL = FFh: the probe's drive; FEh: the stick's
; number), SI, the mask.
%macro regs_case 6
        dw %1, %2, %3, %4, %5
        db %6
%endmacro
CASE_BYTES      equ 11

; regs_checks: SI = cases, ended by FFFFh: regs_check for each, with the
; packet for one block (CD) or sector of the data.
regs_checks:
        push si
        mov eax, [data_lba]
        mov cx, 1
        xor bx, bx
        call fill_dap
        mov byte [DAP], 0x10
        pop si
.case:
        cmp word [si], 0xFFFF
        je .done
        push si
        call regs_check
        pop si
        add si, CASE_BYTES
        jmp .case
.done:
        ret

; regs_check: SI = a case. Calls INT 13h with it, every other register a
; canary (EBP, the high halves) and DS, ES, FS, GS distinct and non-zero;
; prints "probe: regs ah=HH dl=DD cf=C dx=XXXX ok", or "... changed" and
; the registers that changed against the case's mask (flags: all but CF).
regs_check:
        mov [case_at], si
        mov word [INFO_BUF], 0x1A       ; 48h's buffer size
        mov word [DAP + 2], 1           ; one block or sector
        mov ax, [si]
        mov [b_eax], ax
        mov word [b_eax + 2], 0xA1A1
        mov ax, [si + 2]
        mov [b_ebx], ax
        mov word [b_ebx + 2], 0xB2B2
        mov ax, [si + 4]
        mov [b_ecx], ax
        mov word [b_ecx + 2], 0xC3C3
        mov ax, [si + 6]
        cmp al, 0xFF
        jne .not_ours
        mov al, [drive]
.not_ours:
        cmp al, 0xFE
        jne .dl_set
        mov al, [stick]
.dl_set:
        mov [b_edx], ax
        mov word [b_edx + 2], 0xD4D4
        mov ax, [si + 8]
        mov [b_esi], ax
        mov word [b_esi + 2], 0xE5E5
        mov dword [b_edi], 0xF6F60000
        mov dword [b_ebp], 0x17171717
        mov word [b_ds], CANARY_DS
        mov word [b_es], CANARY_ES
        mov word [b_fs], CANARY_FS
        mov word [b_gs], CANARY_GS
        mov ax, CANARY_FS
        mov fs, ax
        mov ax, CANARY_GS
        mov gs, ax
        mov ax, CANARY_ES
        mov es, ax
        mov eax, [b_eax]
        mov ebx, [b_ebx]
        mov ecx, [b_ecx]
        mov edx, [b_edx]
        mov esi, [b_esi]
        mov edi, [b_edi]
        mov ebp, [b_ebp]
        push word CANARY_DS
        pop ds                          ; the probe's memory through CS: now
        cld
        sti
        pushfd
        pop dword [cs:b_flags]
        int 0x13
        pushfd
        pop dword [cs:a_flags]
        mov [cs:a_eax], eax
        mov [cs:a_ebx], ebx
        mov [cs:a_ecx], ecx
        mov [cs:a_edx], edx
        mov [cs:a_esi], esi
        mov [cs:a_edi], edi
        mov [cs:a_ebp], ebp
        mov [cs:a_ds], ds
        mov [cs:a_es], es
        mov [cs:a_fs], fs
        mov [cs:a_gs], gs
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov si, s_regs
        call print
        mov al, [b_eax + 1]
        call hex8
        mov si, s_regs_dl
        call print
        mov al, [b_edx]
        call hex8
        mov si, s_regs_cf
        call print
        mov al, [a_flags]
        and al, 1
        add al, '0'
        call putc
        mov si, s_dx
        call print
        mov ax, [a_edx]
        call hex16
        ; each register against its canary
        mov byte [changed], 0
        mov di, [case_at]
        mov dl, [di + 10]
        or dl, R_AX
        mov di, reg_table
.register:
        mov si, [di]                    ; before
        test si, si
        jz .flags
        mov bx, [di + 2]                ; after
        mov cl, [di + 6]                ; its mask bit (WORD_REG: a segment)
        test cl, WORD_REG
        jnz .word
        mov eax, [si]
        xor eax, [bx]
        test cl, dl
        jz .compare
        and eax, 0xFFFF0000             ; it returns its low word
        jmp .compare
.word:
        and cl, ~WORD_REG
        test cl, dl
        jnz .same                       ; it returns it
        mov ax, [si]
        xor ax, [bx]
        movzx eax, ax
.compare:
        test eax, eax
        jz .same
        call name_changed
.same:
        add di, 7
        jmp .register
.flags:
        mov eax, [b_flags]
        xor eax, [a_flags]
        and eax, 0xFFFE                 ; all but CF
        jz .flags_same
        mov di, flags_entry
        call name_changed
.flags_same:
        cmp byte [changed], 0
        jne .end
        mov si, s_regs_ok
        call print
.end:
        jmp newline

; name_changed: DI = a register's table entry; prints " changed" once,
; then its name.
name_changed:
        cmp byte [changed], 0
        jne .named
        mov byte [changed], 1
        mov si, s_regs_changed
        call print
.named:
        mov al, ' '
        call putc
        mov si, [di + 4]
        jmp print

; The registers regs_check compares: before, after, name, mask bit.
%macro reg_entry 4
        dw %1, %2, %3
        db %4
%endmacro
reg_table:
        reg_entry b_eax, a_eax, n_eax, R_AX
        reg_entry b_ebx, a_ebx, n_ebx, R_BX
        reg_entry b_ecx, a_ecx, n_ecx, R_CX
        reg_entry b_edx, a_edx, n_edx, R_DX
        reg_entry b_esi, a_esi, n_esi, 0
        reg_entry b_edi, a_edi, n_edi, R_DI
        reg_entry b_ebp, a_ebp, n_ebp, 0
        reg_entry b_ds, a_ds, n_ds, WORD_REG
        reg_entry b_es, a_es, n_es, WORD_REG | R_ES
        reg_entry b_fs, a_fs, n_fs, WORD_REG
        reg_entry b_gs, a_gs, n_gs, WORD_REG
        dw 0
flags_entry:
        reg_entry 0, 0, n_flags, 0

regs_cd:
        regs_case 0x0000, 0, 0, 0xFF, 0, 0                     ; reset
        regs_case 0x0100, 0, 0, 0xFF, 0, 0                     ; status
        regs_case 0x1500, 0, 0, 0xFF, 0, R_CX | R_DX           ; type
        regs_case 0x4100, 0x55AA, 0, 0xFF, 0, R_BX | R_CX      ; extensions
        regs_case 0x4200, 0, 0, 0xFF, DS_DAP, 0                ; read
        regs_case 0x4400, 0, 0, 0xFF, DS_DAP, 0                ; verify
        regs_case 0x4300, 0, 0, 0xFF, DS_DAP, 0                ; write (refused)
        regs_case 0x4800, 0, 0, 0xFF, DS_INFO, 0               ; parameters
        regs_case 0x4B01, 0, 0, 0xFF, DS_INFO, 0               ; El Torito status
        regs_case 0x2000, 0, 0, 0xFF, 0, 0                     ; no such function
        regs_case 0x4200, 0, 0, 0x0080, DS_DAP, 0              ; the stick, chained
        dw 0xFFFF

regs_disk:
        regs_case 0x0000, 0, 0, 0xFF, 0, 0
        regs_case 0x0100, 0, 0, 0xFF, 0, 0
        regs_case 0x0800, 0, 0, 0xFF, 0, R_BX | R_CX | R_DX | R_DI | R_ES
        regs_case 0x1500, 0, 0, 0xFF, 0, R_CX | R_DX
        regs_case 0x0201, ES_DATA, 0x0001, 0xFF, 0, 0          ; CHS read of sector 1
        regs_case 0x0401, 0, 0x0001, 0xFF, 0, 0                ; CHS verify
        regs_case 0x0301, ES_DATA, 0x0001, 0xFF, 0, 0          ; CHS write of what was read
        regs_case 0x4100, 0x55AA, 0, 0xFF, 0, R_BX | R_CX
        regs_case 0x4200, 0, 0, 0xFF, DS_DAP, 0
        regs_case 0x4800, 0, 0, 0xFF, DS_INFO, 0
        regs_case 0x4B01, 0, 0, 0xFF, DS_INFO, 0
        regs_case 0x4200, 0, 0, 0xFE, DS_DAP, 0                ; the stick, renumbered
        regs_case 0x0800, 0, 0, 0xFE, 0, R_BX | R_CX | R_DX | R_DI | R_ES
        dw 0xFFFF

; Drives check_drive asks, ended by 0.
other_drives:   db 0x80, 0x81, 0x82, 0x83, 0xE0, 0

; check_41: the extensions check, reported.
check_41:
        mov ah, 0x41
        mov bx, 0x55AA
        mov dl, [drive]
        int 0x13
        report s_41
        mov si, s_bx
        call print
        mov ax, bx
        call hex16
        mov si, s_cx
        call print
        mov ax, cx
        call hex16
        call newline
        ret

; check_4b01: the El Torito status packet, reported.
check_4b01:
        mov di, INFO_BUF
        mov cx, 32
        mov al, 0xCC
        rep stosb
        mov ax, 0x4B01
        mov dl, [drive]
        mov si, INFO_BUF
        int 0x13
        report s_4b01
        mov si, s_packet
        call print
        mov si, INFO_BUF
        mov cx, 0x13
.packet_byte:
        lodsb
        call hex8
        loop .packet_byte
        call newline
        ret

; lba_to_chs: EAX = sector -> CH, CL, DH for AH=02h/03h with the 08h
; geometry. Clobbers EAX, ECX, EDX.
lba_to_chs:
        xor edx, edx
        movzx ecx, word [spt]
        div ecx
        inc dx
        push dx                         ; sector
        xor edx, edx
        movzx ecx, word [heads]
        div ecx                         ; EAX = cylinder, DX = head
        pop cx
        mov ch, al
        shl ah, 6
        or cl, ah
        mov dh, dl
        ret

; chs_pass / ext_pass: [req_blocks] = sectors per request. Read the data
; sectors whole with AH=02h or AH=42h and print "probe: chs count=N crc=..."
; or "probe: ext count=N crc=...".
chs_pass:
        mov word [read_one], chs_read
        mov word [pass_label], s_chs_count
        jmp disk_pass
ext_pass:
        mov word [read_one], ext_read
        mov word [pass_label], s_ext_count
        ; fall through

; disk_pass: reads the data with [read_one] and reports under [pass_label].
disk_pass:
        mov dword [crc], 0xFFFFFFFF
        mov dword [pos], 0
        mov byte [failed], 0
.request:
        mov eax, [pos]
        cmp eax, [data_blocks]
        jae .report
        mov ecx, [data_blocks]
        sub ecx, eax
        movzx edx, word [req_blocks]
        cmp ecx, edx
        jbe .count_ok
        mov ecx, edx
.count_ok:
        mov [this_count], cx
        add eax, [data_lba]
        call [read_one]
        jc .error
        mov cx, [this_count]
        call crc_sectors
        movzx eax, word [this_count]
        add [pos], eax
        jmp .request
.error:
        mov [error_ah], ah
        mov byte [failed], 1
.report:
        mov si, [pass_label]
        jmp report_pass

; chs_read / ext_read: EAX = first sector, [this_count] sectors to
; DATA_SEG:0000. Out: CF, AH as INT 13h left them.
chs_read:
        call lba_to_chs
        mov al, [this_count]
        mov ah, 0x02
        mov dl, [drive]
        push DATA_SEG
        pop es
        xor bx, bx
        int 0x13
        push 0
        pop es
        ret

ext_read:
        mov cx, [this_count]
        xor bx, bx
        mov dl, 0x10
        jmp read_blocks

; report_pass: SI = label; prints it, [req_blocks], then the CRC or the error.
report_pass:
        call print
        mov ax, [req_blocks]
        call hex16
        cmp byte [failed], 0
        jne .failed
        mov si, s_crc
        call print
        mov eax, [crc]
        not eax
        call hex32
        jmp newline
.failed:
        mov si, s_error
        call print
        mov al, [error_ah]
        call hex8
        jmp newline

; crc_sectors: CX = 512-byte sectors at DATA_SEG:0000 into [crc].
crc_sectors:
        push ds
        mov bp, DATA_SEG
        mov di, cx
.sector:
        mov ds, bp
        xor si, si
        mov cx, 512
        mov edx, [cs:crc]
        call crc_bytes
        mov [cs:crc], edx
        add bp, 512 >> 4
        dec di
        jnz .sector
        pop ds
        ret

; bench: for each request size of bench_sizes (1, 4, 16 and 32 blocks:
; 2, 8, 32 and 64 KiB, as boot loaders ask), reads the start of the data
; file through the boot drive, and the same sectors of drive 80h (the
; stick, from raw_lba, which the host wrote) in requests of the same
; bytes, both into DATA_SEG:0000. The two sides take turns request by
; request, each request timed on its own, and which side goes first
; alternates, so that whatever slows the host (its other work, its
; threads' turns) falls on both alike within milliseconds. BENCH_ROUNDS
; rounds of the whole amount are timed, after one untimed (which brings
; the sectors into the host's cache for both). Prints, per timed round,
; "probe: bench round hook=H stick=S" (the TSC / 1024 of each side's
; requests in that round), then "probe: bench blocks=B amount=A" (A
; blocks a round); after all sizes "probe: bench ticks=T tsc=K" (the BIOS ticks and the
; TSC / 1024 over the whole, for the host to turn TSC units into
; seconds); then ends QEMU. A failed read ends the blocks line with
; " failed".
BENCH_ROUNDS    equ 8
bench:
        call tick_edge
        mov [t0], eax
        rdtsc
        mov [tsc0], eax
        mov [tsc0 + 4], edx
        mov si, bench_sizes
.size:
        lodsw
        test ax, ax
        jz .all_sizes
        mov [req_blocks], ax
        lodsw
        mov [bench_amount], ax
        push si
        mov byte [failed], 0
        mov byte [bench_round], 0
.round:
        xor eax, eax
        mov [hook_round], eax
        mov [stick_round], eax
        mov dword [pos], 0
.request:
        mov ax, [pos]
        cmp ax, [bench_amount]
        jae .round_end
        xor byte [bench_turn], 1
        jz .stick_first
        call bench_hook_request
        call bench_stick_request
        jmp .next_request
.stick_first:
        call bench_stick_request
        call bench_hook_request
.next_request:
        mov ax, [req_blocks]
        add [pos], ax
        jmp .request
.round_end:
        cmp byte [bench_round], 0
        je .next_round
        mov si, s_bench_round
        call print
        mov eax, [hook_round]
        call hex32
        mov si, s_stick_time
        call print
        mov eax, [stick_round]
        call hex32
        call newline
.next_round:
        inc byte [bench_round]
        cmp byte [bench_round], BENCH_ROUNDS
        jbe .round
        mov si, s_bench
        call print
        mov ax, [req_blocks]
        call hex16
        mov si, s_amount
        call print
        mov ax, [bench_amount]
        call hex16
        cmp byte [failed], 0
        je .line_end
        mov si, s_bench_failed
        call print
.line_end:
        call newline
        pop si
        jmp .size
.all_sizes:
        call tick_edge
        sub eax, [t0]
        mov [bench_ticks], eax
        rdtsc
        sub eax, [tsc0]
        sbb edx, [tsc0 + 4]
        shrd eax, edx, 10
        push eax
        mov si, s_bench_ticks
        call print
        mov eax, [bench_ticks]
        call hex32
        mov si, s_tsc
        call print
        pop eax
        call hex32
        call newline
        jmp finish

; bench_hook_request: the request at [pos] (req_blocks blocks) through
; the boot drive, its time added to hook_round. Sets [failed] on a failed
; read. Changes EAX-EDX, SI, BX.
bench_hook_request:
        rdtsc
        mov [tsc1], eax
        mov [tsc1 + 4], edx
        movzx eax, word [pos]
        movzx ecx, word [req_blocks]
        add eax, [data_lba]
        xor bx, bx
        mov dl, 0x10
        call read_blocks
        jnc .timed
        mov byte [failed], 1
.timed:
        mov bx, hook_round
        jmp tsc_add

; bench_stick_request: the same sectors of drive 80h, the same bytes, its
; time added to stick_round. Sets [failed] on a failed read. Changes
; EAX-EDX, SI, BX.
bench_stick_request:
        rdtsc
        mov [tsc1], eax
        mov [tsc1 + 4], edx
        movzx eax, word [pos]
        movzx ecx, word [req_blocks]
        shl eax, 2
        add eax, [raw_lba]
        shl cx, 2
        xor bx, bx
        call fill_dap
        mov byte [DAP], 0x10
        mov ah, 0x42
        mov dl, 0x80
        mov si, DAP
        int 0x13
        jnc .timed
        mov byte [failed], 1
.timed:
        mov bx, stick_round
        jmp tsc_add

; tsc_add: BX = a dword; adds the TSC since tsc1 / 1024 to it.
tsc_add:
        rdtsc
        sub eax, [tsc1]
        sbb edx, [tsc1 + 4]
        shrd eax, edx, 10
        add [bx], eax
        ret

; tick_edge: waits for the BIOS tick count (BDA 46Ch) to change; EAX = it.
tick_edge:
        mov ebx, [0x046C]
.wait:
        mov eax, [0x046C]
        cmp eax, ebx
        je .wait
        ret

; params48: AL = buffer size to offer. Prints the reply.
params48:
        mov [offer], al
        mov di, INFO_BUF
        mov cx, 0x42
        push ax
        mov al, 0xCC
        rep stosb
        pop ax
        mov [INFO_BUF], al
        mov byte [INFO_BUF + 1], 0
        mov ah, 0x48
        mov dl, [drive]
        mov si, INFO_BUF
        int 0x13
        pushf
        push ax
        mov si, s_48
        call print
        mov al, [offer]
        call hex8
        mov al, ' '
        call putc
        pop ax
        popf
        call print_cf_ah
        mov si, s_ret
        call print
        mov ax, [INFO_BUF]
        call hex16
        mov si, s_flags
        call print
        mov ax, [INFO_BUF + 2]
        call hex16
        mov si, s_total
        call print
        mov eax, [INFO_BUF + 16]
        call hex32
        mov si, s_bps
        call print
        mov ax, [INFO_BUF + 24]
        call hex16
        mov si, s_dpte
        call print
        mov eax, [INFO_BUF + 26]
        call hex32
        call newline
        ret

; crc_pass: CX = blocks per request, BX = buffer offset, AL = packet size.
; Reads the data file whole and prints "crc count=.. offset=.. size=.. ..."
crc_pass:
        mov [req_blocks], cx
        mov [req_offset], bx
        mov [req_size], al
        mov dword [crc], 0xFFFFFFFF
        mov dword [pos], 0
        mov byte [failed], 0
.request:
        mov eax, [pos]
        cmp eax, [data_blocks]
        jae .report
        mov ecx, [data_blocks]
        sub ecx, eax
        movzx edx, word [req_blocks]
        cmp ecx, edx
        jbe .count_ok
        mov ecx, edx
.count_ok:
        push cx
        add eax, [data_lba]
        mov bx, [req_offset]
        mov dl, [req_size]
        call read_blocks
        pop cx
        jc .error
        ; CRC the blocks just read, one 2048-byte block per segment step
        push ds
        mov bp, DATA_SEG                ; (crc_bytes uses BX)
        mov di, cx
.crc_block:
        mov ds, bp
        mov si, [cs:req_offset]
        mov cx, 2048
        mov edx, [cs:crc]
        call crc_bytes
        mov [cs:crc], edx
        add bp, 2048 >> 4
        dec di
        jnz .crc_block
        pop ds
        movzx eax, word [req_blocks]
        add eax, [pos]
        mov ecx, [data_blocks]
        cmp eax, ecx
        jbe .pos_ok
        mov eax, ecx
.pos_ok:
        mov [pos], eax
        jmp .request
.error:
        mov [error_ah], ah
        mov byte [failed], 1
.report:
        mov si, s_crc_count
        call print
        mov ax, [req_blocks]
        call hex16
        mov si, s_crc_offset
        call print
        mov ax, [req_offset]
        call hex16
        mov si, s_crc_size
        call print
        mov al, [req_size]
        call hex8
        cmp byte [failed], 0
        jne .failed
        mov si, s_crc
        call print
        mov eax, [crc]
        not eax
        call hex32
        call newline
        ret
.failed:
        mov si, s_error
        call print
        mov al, [error_ah]
        call hex8
        call newline
        ret

; fill_dap: EAX = block, CX = blocks; buffer DATA_SEG:BX. Leaves the size
; byte to the caller.
fill_dap:
        mov byte [DAP + 1], 0
        mov [DAP + 2], cx
        mov [DAP + 4], bx
        mov word [DAP + 6], DATA_SEG
        mov [DAP + 8], eax
        mov dword [DAP + 12], 0
        mov dword [DAP + 16], 0xFFFFFFFF         ; flat pointer of an 18h packet: unused
        mov dword [DAP + 20], 0xFFFFFFFF
        ret

; read_blocks: EAX = block, CX = blocks, BX = offset in DATA_SEG, DL = packet
; size (10h or 18h). Out: CF, AH as INT 13h left them.
read_blocks:
        push dx
        call fill_dap
        pop dx
        mov [DAP], dl
        mov ah, 0x42
        mov dl, [drive]
        mov si, DAP
        int 0x13
        ret

; print_cf_ah: prints "cf=C ah=HH " from the flags and AH on entry.
print_cf_ah:
        pushf
        push ax
        mov si, s_cf
        call print
        pop ax
        popf
        push ax
        mov al, '0'
        adc al, 0
        call putc
        mov si, s_ah
        call print
        pop ax
        mov al, ah
        call hex8
        ret

crc_table_init:
        xor bx, bx
.entry:
        movzx eax, bx
        mov cx, 8
.bit:
        shr eax, 1
        jnc .no_poly
        xor eax, 0xEDB88320
.no_poly:
        loop .bit
        mov di, bx
        shl di, 2
        mov [CRC_TABLE + di], eax
        inc bx
        cmp bx, 256
        jb .entry
        ret

; crc_bytes: EDX = running CRC, DS:SI = data, CX = bytes. Table via FS = 0.
; Clobbers AX, BX, CX, SI.
crc_bytes:
        lodsb
        xor al, dl
        movzx bx, al
        shl bx, 2
        shr edx, 8
        xor edx, [fs:CRC_TABLE + bx]
        loop crc_bytes
        ret

; print: DS:SI = NUL-terminated text (segment 0) to COM1.
print:
        lodsb
        test al, al
        jz .done
        call putc
        jmp print
.done:
        ret

newline:
        mov al, 13
        call putc
        mov al, 10
        ; fall through
putc:
        push dx
        push ax
        mov dx, COM1 + 5
.wait:
        in al, dx
        test al, 0x20
        jz .wait
        pop ax
        mov dx, COM1
        out dx, al
        pop dx
        ret

hex32:
        push eax
        shr eax, 16
        call hex16
        pop eax
hex16:
        push ax
        mov al, ah
        call hex8
        pop ax
hex8:
        push ax
        shr al, 4
        call hex_digit
        pop ax
        and al, 0x0F
hex_digit:
        cmp al, 10
        sbb al, 0x69
        das
        jmp putc

; Sectors per CHS request (across track and head edges), ended by 0. No
; pass of single sectors: it would be most of the probe's time over USB,
; and the regs checks read single sectors already; 5 and 19 start a
; request at every sector of an 18- or 63-sector track in turn.
chs_counts:     dw 5, 17, 19, 40, 127, 0
; Sectors per 42h request on a hard disk, ended by 0.
ext_counts:     dw 8, 127, 0

; (blocks per request, buffer offset, packet size), ended by 0.
patterns:
        dw 1, 0x0000
        db 0x10, 0
        dw 2, 0x0001
        db 0x10, 0
        dw 3, 0x0123
        db 0x18, 0
        dw 7, 0x0000
        db 0x10, 0
        dw 13, 0x0FFF
        db 0x10, 0
        dw 31, 0x000F
        db 0x18, 0
        dw 32, 0x0000
        db 0x10, 0
        dw 127, 0x0007
        db 0x10, 0
        dw 0

s_start:        db "probe: start drive=", 0
s_41:           db "probe: 41 ", 0
s_bx:           db " bx=", 0
s_cx:           db " cx=", 0
s_48:           db "probe: 48 size=", 0
s_ret:          db " ret=", 0
s_flags:        db " flags=", 0
s_total:        db " total=", 0
s_bps:          db " bps=", 0
s_dpte:         db " dpte=", 0
s_4b01:         db "probe: 4b01 ", 0
s_packet:       db " packet=", 0
s_crc_count:    db "probe: crc count=", 0
s_crc_offset:   db " offset=", 0
s_crc_size:     db " size=", 0
s_crc:          db " crc=", 0
s_error:        db " error=", 0
s_past_end:     db "probe: past-end ", 0
s_write:        db "probe: write ", 0
s_mbr:          db "probe: mbr80 ", 0
s_code:         db " code=", 0
s_sig:          db " sig=", 0
s_cf:           db "cf=", 0
s_ah:           db " ah=", 0
s_done:         db "probe: done", 0
s_08:           db "probe: 08 ", 0
s_bl:           db " bl=", 0
s_dx:           db " dx=", 0
s_table:        db " table=", 0
s_bda:          db "probe: bda equipment=", 0
s_disks:        db " disks=", 0
s_15:           db "probe: 15 ", 0
s_chs_count:    db "probe: chs count=", 0
s_ext_count:    db "probe: ext count=", 0
s_stick:        db "probe: stick ", 0
s_at:           db " at=", 0
s_bench:        db "probe: bench blocks=", 0
s_bench_round:  db "probe: bench round hook=", 0
s_amount:       db " amount=", 0
s_stick_time:   db " stick=", 0
s_bench_failed: db " failed", 0
s_bench_ticks:  db "probe: bench ticks=", 0
s_tsc:          db " tsc=", 0
s_drive:        db "probe: drive dl=", 0
s_int13sf:      db "probe: int13sf ", 0
s_found:        db ":0000 found", 0
s_missing:      db "missing", 0
s_nested:       db "probe: nested calls=", 0
s_nested_largest: db " largest=", 0
s_nested_failed: db " failed=", 0
s_drive41:      db " 41 ", 0
s_drive08:      db " 08 ", 0
s_regs:         db "probe: regs ah=", 0
s_regs_dl:      db " dl=", 0
s_regs_ok:      db " ok", 0
s_regs_cf:      db " cf=", 0
s_regs_changed: db " changed", 0
n_eax:          db "eax", 0
n_ebx:          db "ebx", 0
n_ecx:          db "ecx", 0
n_edx:          db "edx", 0
n_esi:          db "esi", 0
n_edi:          db "edi", 0
n_ebp:          db "ebp", 0
n_ds:           db "ds", 0
n_es:           db "es", 0
n_fs:           db "fs", 0
n_gs:           db "gs", 0
n_flags:        db "flags", 0

stick:          db 0
other:          db 0
in_shim:        db 0
nested_failed:  db 0
nested_calls:   dw 0
nested_largest: dw 0
changed:        db 0
case_at:        dw 0
b_ds:           dw 0
b_es:           dw 0
b_fs:           dw 0
b_gs:           dw 0
a_ds:           dw 0
a_es:           dw 0
a_fs:           dw 0
a_gs:           dw 0
offer:          db 0
req_size:       db 0
failed:         db 0
error_ah:       db 0
req_blocks:     dw 0
req_offset:     dw 0
this_count:     dw 0
read_one:       dw 0
pass_label:     dw 0
spt:            dw 0
heads:          dw 0
geo_cx:         dw 0
geo_dx:         dw 0
        align 4
crc:            dd 0
pos:            dd 0
t0:             dd 0
tsc0:           dq 0
tsc1:           dq 0
bench_ticks:    dd 0
bench_amount:   dw 0
bench_round:    db 0
bench_turn:     db 0
hook_round:     dd 0
stick_round:    dd 0
; bench: (blocks a request, blocks read a round) pairs, then 0
bench_sizes:    dw 1, 64, 4, 256, 16, 256, 32, 512, 0
shim_next:      dd 0
b_eax:          dd 0
b_ebx:          dd 0
b_ecx:          dd 0
b_edx:          dd 0
b_esi:          dd 0
b_edi:          dd 0
b_ebp:          dd 0
b_flags:        dd 0
a_eax:          dd 0
a_ebx:          dd 0
a_ecx:          dd 0
a_edx:          dd 0
a_esi:          dd 0
a_edi:          dd 0
a_ebp:          dd 0
a_flags:        dd 0

%if ($ - $$) > PROBE_SECTORS * 512 - 4
  %error "the probe is larger than PROBE_SECTORS"
%endif
        times PROBE_SECTORS * 512 - 4 - ($ - $$) db 0
rest_magic:     dd REST_MAGIC
