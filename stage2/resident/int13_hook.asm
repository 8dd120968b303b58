; dropboot's resident INT 13h hook: makes a boot file on the stick answer
; as a BIOS drive, reading it straight from the stick through the INT 13h
; vector it replaced (AH=42h; AH=02h, within the CHS reach, on a BIOS
; without extensions), and writing a disk image file's sectors back the
; same way (AH=43h or 03h). Linked alone as a flat blob (build/int13_hook.bin),
; so it cannot reach code that is gone after boot; stage2 copies it to the
; top of conventional memory (taken through BDA 413h), fills its header
; (bootfs::layout::HookHeader, offsets from the generated layout.inc),
; appends the extent table, and points the INT 13h vector at offset 0.
;
; Mode: real mode only, entered through INT 13h with CS = the block's
; segment and IP = 0; any 386+ CPU. It keeps its own stack in the block
; (HOOK_STACK_BYTES, room for a BIOS's USB code under it), restores every
; register it does not answer in (segment registers and the high halves
; included), and writes only CF into the caller's stacked FLAGS.
;
; What it assumes of the BIOS below it (the old vectors): only what a
; BIOS of the 1980s keeps. A call keeps the segment registers, SP and the
; 16-bit registers the function does not answer in, and the stack's
; memory. It may change the high half of every 32-bit register (Bochs's
; rombios and other 16-bit BIOSes restore them with a 16-bit POPA), AL
; after AH=42h, and every flag but the CF it answers with. So nothing the
; hook needs after a BIOS call lives in a register: the request's place
; and progress stay in the call's frame (L_SECTOR, L_DONE), and every
; 32-bit value is loaded again from there or from the block after the
; call. The stack it gives the BIOS has ESP's high half clear.
;
; Re-entrant: a call that arrives while another runs (from a timer
; handler, or a BIOS whose USB code calls INT 13h itself) stays on the
; stack it came on, and everything a call keeps while it runs (its packet
; to the BIOS, its counts, the caller's AH and DL) lives in its own frame
; on that stack. The only shared words are the outer call's stack pointer
; and the nesting depth, touched with interrupts off.
;
; What it presents (HOOK_KIND, bootfs::bootplan::Presentation in Rust):
; each of CD, FLOPPY and HARD_DISK has its own function table, one line a
; function (cd_functions, ...), chosen once when a call for its drive
; comes in (presentations), so no handler asks which one it serves.
;  CD (E0h): a no-emulation El Torito CD, 2048-byte blocks, as SeaBIOS,
;   iPXE and memdisk present one: 00 reset, 01 status, 15 type (AH=03h,
;   CX:DX = blocks), 41 (AH=30h, CX=0007h), 42 read (packets 10h/18h),
;   44/47 verify/seek, 45/46 lock/eject, 48 parameters (1Ah/1Eh/42h),
;   49 media change, 4B00/4B01 the specification packet. CHS calls fail.
;  FLOPPY (00h) and HARD_DISK (80h): an emulated drive with CHS geometry:
;   00/0D/10/11 reset/ready, 01 status, 02/03 CHS read/write (across
;   track and head edges), 04 verify, 08 parameters, 0C seek, 15 type, 16
;   change line (floppy); a hard disk also has 41 (CX=0001h), 42, 43, 44,
;   47, 48 with 512-byte sectors. 4Bh answers when the image came from El
;   Torito. Writes go through to the stick only for a disk image file
;   (HOOK_WRITABLE), never past its image range or its extents; an image
;   inside an ISO answers them write-protected, as a CD does.
;   Real drives of the same class at or above the emulated number answer
;   one number higher (real 00h as 01h; real 80h as 81h, ...), as El Torito
;   says: such calls go to the old vector with DL one lower, and DL comes
;   back as it was (AH=08h: the drive count from the BIOS data area, which
;   stage2 raised). Only the HOOK_REAL_DRIVES drives that exist move: a
;   number past them (a CD drive at E0h) goes to the old vector as it is.
;   Each call first puts the BIOS data area's count back if a BIOS reset
;   it (as iPXE does).
;  SWAP: no file; two real hard disks trade numbers, the stick's
;   (HOOK_DISK) and another's (HOOK_DRIVE): a call for one goes to the old
;   vector with the other's number, and DL comes back as it was (AH=08h
;   and 15h return DL as the BIOS left it). For "boot the next disk".
; A CD's writes (03, 43) and every format (05) fail write-protected
; (03h); other functions fail invalid (01h); every other drive goes to
; the old vector untouched. A write the stick's BIOS fails (a
; write-protected stick) returns its status.

%include "layout.inc"

        bits 16
        org 0

MAX_PIECE       equ BIOS_SECTORS_PER_CALL       ; sectors per call to the real BIOS (127),
                                        ; or HOOK_MAX_READ (128 when proved) for a
                                        ; read into a buffer at offset 0

; The caller's structures, as EDD 3.0 and the E820 interface lay them out.
struc dap                               ; AH=42h-44h/47h's disk address packet
  .size:        resb 1                  ; 10h, or 18h with .flat
  .reserved:    resb 1
  .count:       resw 1                  ; units; on failure, those done
  .offset:      resw 1                  ; the buffer, segment:offset
  .segment:     resw 1
  .lba:         resq 1
  .flat:        resq 1                  ; a 64-bit buffer when offset:segment is FFFF:FFFF
endstruc

struc edd_params                        ; AH=48h's result buffer
  .size:        resw 1                  ; in: the buffer's size; out: bytes filled
  .flags:       resw 1
  .cylinders:   resd 1
  .heads:       resd 1
  .sectors:     resd 1                  ; per track
  .total:       resq 1                  ; units
  .unit_bytes:  resw 1
  .dpte:        resd 1                  ; EDD 2.x: FFFF:FFFF for none
endstruc
EDD1_SIZE       equ edd_params.dpte     ; 1Ah
EDD2_SIZE       equ edd_params_size     ; 1Eh

struc e820_entry                        ; INT 15h AX=E820h's entry at ES:DI
  .base:        resq 1
  .length:      resq 1
  .type:        resd 1
endstruc

; A call's frame on its stack, from BP: its locals, then the caller's
; registers as the entry pushes them (PUSH FS, PUSH GS, PUSH DS, PUSH ES,
; PUSHAD), then the caller's IP, CS and FLAGS (the INT's).
struc frame
  .dap:         resb 16                 ; the packet passed to the real BIOS
  .request:     resd 1                  ; sectors a read asked for
  .function:    resb 1                  ; the caller's AH
  .unit_shift:  resb 1                  ; log2(512-byte sectors per unit): the presentation's
  .write:       resb 1                  ; 1: the call writes (to the stick), 0: it reads
                resb 1
  .sector:      resd 1                  ; the file sector a read goes on from
  .done:        resd 1                  ; sectors of the request read so far
  .asked:       resw 1                  ; sectors this piece asked the BIOS for
endstruc
L_DAP           equ frame.dap
L_DAP_COUNT     equ frame.dap + dap.count
L_DAP_OFFSET    equ frame.dap + dap.offset
L_DAP_SEGMENT   equ frame.dap + dap.segment
L_DAP_LBA       equ frame.dap + dap.lba
L_REQUEST       equ frame.request
L_FUNCTION      equ frame.function
L_UNIT_SHIFT    equ frame.unit_shift
L_WRITE         equ frame.write
L_SECTOR        equ frame.sector
L_DONE          equ frame.done
L_ASKED         equ frame.asked
LOCALS          equ frame_size

; The short frame of a call passed on (renumbered, swap_entry, int15_entry,
; return_cf), from BP after PUSH BP and MOV BP, SP.
S_CALLER_FLAGS  equ 6                   ; after BP, IP and CS
S_CALLER_DL     equ -2                  ; PUSH DX first
S_CALLER_AH     equ -3                  ; then PUSH AX
F_EDI   equ LOCALS + 0
F_ESI   equ LOCALS + 4
F_EBP   equ LOCALS + 8
F_EBX   equ LOCALS + 16
F_EDX   equ LOCALS + 20
F_ECX   equ LOCALS + 24
F_EAX   equ LOCALS + 28
F_AL    equ F_EAX
F_AH    equ F_EAX + 1
F_ES    equ LOCALS + 32
F_DS    equ LOCALS + 34
F_GS    equ LOCALS + 36
F_FS    equ LOCALS + 38
F_FLAGS equ LOCALS + 44                 ; after IP and CS
F_BX    equ F_EBX
F_BL    equ F_EBX
F_CX    equ F_ECX
F_DX    equ F_EDX
F_DI    equ F_EDI
F_SI    equ F_ESI

; Status codes (AH on return).
ST_OK           equ 0x00
ST_INVALID      equ 0x01
ST_PAST_END     equ 0x02                ; "address mark not found", as memdisk
ST_WRITE_PROT   equ 0x03
ST_NO_SECTOR    equ 0x04                ; a CHS address outside the geometry

; The memdisk "$INT13SF" safe-hook header: a 3-byte jump, the signature
; at +3, the vendor at +11, the old vector at +19, flags at +23; the rest
; is dropboot's (bootfs::layout::HookHeader).
header:
        jmp near int13_entry
%if ($ - $$) != HOOK_SIGNATURE_OFFSET
  %error "the $INT13SF signature must follow the 3-byte jump"
%endif
        db "$INT13SF"
        db "DROPBOOT"
%if ($ - $$) != HOOK_PREVIOUS
  %error "the old vector must follow the vendor"
%endif
        times HOOK_INT15_ENTRY - ($ - $$) db 0
        dw int15_entry
        times HOOK_HEADER_SIZE - ($ - $$) db 0

; The only state shared by all calls lies outside this code, in the
; block's HookShared words just above the stack's top (HOOK_STACK_TOP),
; on a page without code: the outer call's stack and the nesting depth,
; written with interrupts off (layout.inc: HOOK_SHARED_*).

; int13_entry
;   In:  any INT 13h call. Out: ours answered (AH, CF and the registers
;   the function returns); renumbered drives passed on; others chained
;   with nothing changed.
int13_entry:
        cmp byte [cs:HOOK_KIND], HOOK_KIND_SWAP
        je swap_entry
        call sync_count
        cmp dl, [cs:HOOK_DRIVE]
        je .ours
        cmp ah, 0x4B
        jne .not_all_drives
        cmp dl, 0x7F                    ; 4Bh for "all drives"
        je .ours
.not_all_drives:
        cmp byte [cs:HOOK_KIND], HOOK_KIND_CD
        je .chain
        push ax
        mov al, dl
        xor al, [cs:HOOK_DRIVE]
        test al, 0x80                   ; another class of drive?
        pop ax
        jnz .chain
        cmp dl, [cs:HOOK_DRIVE]
        jbe .chain
        push ax                         ; one of the real drives that moved up?
        mov al, dl
        and al, 0x7F
        dec al                          ; its number in its class, as the BIOS knows it
        cmp al, [cs:HOOK_REAL_DRIVES]
        pop ax
        jb renumbered
.chain:
        jmp far [cs:HOOK_PREVIOUS]
.ours:
        cli
        push bx                         ; on the stack the call came on
        mov bx, [cs:HOOK_STACK_TOP]     ; BX = the shared words
        cmp byte [cs:bx + HOOK_SHARED_DEPTH], 0
        jne .nested                     ; nested: stay on the stack we are on
        pop word [cs:bx + HOOK_SHARED_BX]       ; the caller's stack as the INT left it
        mov [cs:bx + HOOK_SHARED_ESP], esp
        mov [cs:bx + HOOK_SHARED_SS], ss
        push cs
        pop ss
        movzx esp, bx                   ; the stack ends where the shared words start
        mov bx, [cs:bx + HOOK_SHARED_BX]
        jmp .stack_ready
.nested:
        pop bx
.stack_ready:
        push fs
        push gs
        push ds
        push es
        pushad
        mov bx, [cs:HOOK_STACK_TOP]
        inc byte [cs:bx + HOOK_SHARED_DEPTH]
        sub sp, LOCALS
        mov bp, sp
        sti
        cld
        mov [bp + L_FUNCTION], ah
        ; The presentation, chosen once: its function table and unit.
        movzx si, byte [cs:HOOK_KIND]
        shl si, 2
        mov al, [cs:presentations + si + 2]
        mov [bp + L_UNIT_SHIFT], al
        mov si, [cs:presentations + si]
        movzx bx, ah
        cmp bx, FUNCTIONS
        jae .invalid
        shl bx, 1
        call [cs:si + bx]
        jmp .answer
.invalid:
        call fn_invalid

; .answer: AL = the caller's AH, CF = the caller's CF.
.answer:
        cli
        mov [bp + F_AH], al
        setc bl
        cmp byte [bp + L_FUNCTION], 0x01
        je .status_kept                 ; AH=01h reports, it does not replace
        mov ah, al
        test bl, bl
        jnz .record
        mov ah, ST_OK
.record:
        ; (written only when it changes: it shares a page with the code,
        ; and layout.rs's PAGE_BYTES says what a store there costs)
        cmp [cs:HOOK_LAST_STATUS], ah
        je .status_kept
        mov [cs:HOOK_LAST_STATUS], ah
.status_kept:
        ; CF into the caller's FLAGS: on the caller's stack for the outer
        ; call, in this frame for a nested one.
        mov si, [cs:HOOK_STACK_TOP]     ; SI = the shared words
        push ss
        pop es
        lea di, [bp + F_FLAGS]
        cmp byte [cs:si + HOOK_SHARED_DEPTH], 1
        jne .flags_found
        mov es, [cs:si + HOOK_SHARED_SS]
        mov di, [cs:si + HOOK_SHARED_ESP]       ; the caller's IP
        add di, 4
.flags_found:
        and byte [es:di], 0xFE
        or [es:di], bl
        add sp, LOCALS
        dec byte [cs:si + HOOK_SHARED_DEPTH]    ; ZF: the outer call's end
        popad                           ; (POPAD and POP keep the flags)
        pop es
        pop ds
        pop gs
        pop fs
        jnz .return
        ; The outer call's frame is gone: SP is back at the stack's top,
        ; under the shared words.
        lss esp, [esp + HOOK_SHARED_ESP]
.return:
        iret

; sync_count: puts the BIOS data area's count of the emulated class back
; to the real drives plus the emulated one, when a BIOS lowered it since
; stage2 raised it. Keeps every register; flags are the dispatcher's.
sync_count:
        cmp byte [cs:HOOK_KIND], HOOK_KIND_CD
        je .done
        push ds
        push ax
        xor ax, ax
        mov ds, ax
        mov al, [cs:HOOK_REAL_DRIVES]
        inc al
        cmp byte [cs:HOOK_KIND], HOOK_KIND_FLOPPY
        je .floppies
        cmp [BDA_HARD_DISKS], al
        jae .restore
        mov [BDA_HARD_DISKS], al
        jmp .restore
.floppies:
        call floppy_count
        cmp ah, al
        jae .restore
        dec al                          ; the equipment word counts from 0
        shl al, 6
        and byte [BDA_EQUIPMENT], 0x3F
        or al, 0x01
        or [BDA_EQUIPMENT], al
.restore:
        pop ax
        pop ds
.done:
        ret

; floppy_count: in: DS = 0. Out: AH = floppies the equipment word (BDA
; 410h) counts: bit 0 says there are any, bits 6-7 how many less one (the
; one decoder of it here; bootfs::bootplan::floppies_in in Rust). Keeps
; every other register; flags changed.
floppy_count:
        mov ah, [BDA_EQUIPMENT]
        test ah, 0x01
        jz .none
        shr ah, 6
        inc ah
        ret
.none:
        mov ah, 0
        ret

; drive_count: out: DL = drives of the emulated class the BIOS data area
; counts (the emulated one with them). Keeps every other register.
drive_count:
        push ds
        push ax
        xor ax, ax
        mov ds, ax
        mov dl, [BDA_HARD_DISKS]
        cmp byte [cs:HOOK_KIND], HOOK_KIND_FLOPPY
        jne .done
        call floppy_count
        mov dl, ah
.done:
        pop ax
        pop ds
        ret

; renumbered: a real drive of the emulated class, one number up. Calls the
; old vector as that drive (DL - 1) on the caller's stack and returns its
; answer with DL as the caller gave it; AH=08h's DL is the drive count
; (drive_count), and a hard disk's AH=15h keeps CX:DX. The caller's AX
; and DX stay in this call's frame.
renumbered:
        push bp
        mov bp, sp
        push dx                         ; S_CALLER_DL
        push ax                         ; S_CALLER_AH
        dec dl
        pushf
        call far [cs:HOOK_PREVIOUS]
        pushf                           ; the BIOS's flags, for the caller's CF
        cmp byte [bp + S_CALLER_AH], 0x08
        jne .not_08
        call drive_count
        jmp .dl_done
.not_08:
        cmp byte [bp + S_CALLER_AH], 0x15
        jne .dl_back
        cmp byte [cs:HOOK_KIND], HOOK_KIND_HARD_DISK
        je .dl_done
.dl_back:
        mov dl, [bp + S_CALLER_DL]
.dl_done:
        popf
        ; fall through

; return_cf: in: BP = the frame of a call on the caller's stack (PUSH BP,
; MOV BP, SP first), CF = the answer's. Returns to the caller with its
; FLAGS but CF. Keeps every register.
return_cf:
        push ax
        lahf                            ; AH bit 0 = CF
        and byte [bp + S_CALLER_FLAGS], 0xFE
        and ah, 0x01
        or [bp + S_CALLER_FLAGS], ah
        pop ax
        mov sp, bp
        pop bp
        iret

; int15_entry: INT 15h. AX=E820h gets the BIOS's answer with the hook's
;   block taken out: a usable range below 4 GiB that runs into the block
;   (CS:0000 on) ends where the block starts, as memdisk does, so a boot
;   loader that trusts E820 over 413h does not overwrite the hook.
;   Everything else goes to the old vector untouched.
;   In: the caller's registers. Out: the BIOS's registers and CF, with
;   the entry at ES:DI cut. Runs on the caller's stack (10 bytes more).
int15_entry:
        cmp eax, 0xE820
        je .e820
        jmp far [cs:HOOK_PREVIOUS_INT15]
.e820:
        push bp
        mov bp, sp
        pushf
        call far [cs:HOOK_PREVIOUS_INT15]
        pushf                           ; the BIOS's flags, kept for the caller
        jc .done                        ; an error: nothing to cut
        cmp dword [es:di + e820_entry.type], 1   ; usable
        jne .done
        cmp dword [es:di + e820_entry.base + 4], 0       ; base below 4 GiB
        jne .done
        cmp dword [es:di + e820_entry.length + 4], 0     ; length below 4 GiB
        jne .done
        push eax
        push edx
        xor eax, eax
        mov ax, cs
        shl eax, 4                      ; EAX = the block's address
        mov edx, [es:di + e820_entry.base]
        cmp edx, eax
        jae .restore                    ; starts at or past the block
        add edx, [es:di + e820_entry.length]
        cmp edx, eax
        jbe .restore                    ; ends before the block
        sub eax, [es:di + e820_entry.base]
        mov [es:di + e820_entry.length], eax    ; now it ends where the block starts
.restore:
        pop edx
        pop eax
.done:
        popf
        jmp return_cf

; swap_entry: the SWAP kind's dispatcher.
;   In: any INT 13h call. Out: a call for HOOK_DISK or HOOK_DRIVE answered
;   by the other drive, DL kept (but for AH=08h/15h); others chained as
;   they came. Runs on the caller's stack (12 bytes more); the caller's AX
;   and DX stay in this call's frame.
swap_entry:
        cmp dl, [cs:HOOK_DISK]
        je .ours
        cmp dl, [cs:HOOK_DRIVE]
        je .ours
        jmp far [cs:HOOK_PREVIOUS]
.ours:
        push bp
        mov bp, sp
        push dx                         ; S_CALLER_DL
        push ax                         ; S_CALLER_AH
        cmp dl, [cs:HOOK_DISK]
        mov dl, [cs:HOOK_DRIVE]
        je .call
        mov dl, [cs:HOOK_DISK]
.call:
        pushf
        call far [cs:HOOK_PREVIOUS]
        pushf                           ; the BIOS's flags, kept for the caller
        cmp byte [bp + S_CALLER_AH], 0x08       ; DL: the drive count
        je .dl_done
        cmp byte [bp + S_CALLER_AH], 0x15       ; DX: the low word of the sector count
        je .dl_done
        mov dl, [bp + S_CALLER_DL]
.dl_done:
        popf
        jmp return_cf

; The function tables, one per presentation, one line per function. Each
; handler: in: BP = the call's frame, DS/ES/FS undefined; out: AL = value
; for the caller's AH, CF = error. They may clobber every register except
; BP and SS. No handler asks which presentation it serves: its table says.

FUNCTIONS equ 0x4E

; A no-emulation CD (E0h), 2048-byte blocks, as SeaBIOS, iPXE and memdisk
; present one; CHS calls fail.
cd_functions:
%assign i 0
%rep FUNCTIONS
  %if i = 0x00 || i = 0x45 || i = 0x46 || i = 0x49
        dw fn_success
  %elif i = 0x01
        dw fn_last_status
  %elif i = 0x03 || i = 0x43
        dw fn_write_protected
  %elif i = 0x15
        dw fn_drive_type
  %elif i = 0x41
        dw fn_extensions_cd
  %elif i = 0x42
        dw fn_read
  %elif i = 0x44 || i = 0x47
        dw fn_verify
  %elif i = 0x48
        dw fn_parameters_cd
  %elif i = 0x4B
        dw fn_eltorito
  %else
        dw fn_invalid
  %endif
  %assign i i+1
%endrep

; An emulated floppy (00h): CHS only, no EDD (as in iPXE and memdisk).
floppy_functions:
%assign i 0
%rep FUNCTIONS
  %if i = 0x00 || i = 0x0C || i = 0x0D || i = 0x10 || i = 0x11 || i = 0x16
        dw fn_success
  %elif i = 0x01
        dw fn_last_status
  %elif i = 0x02
        dw fn_chs_read
  %elif i = 0x03
        dw fn_chs_write
  %elif i = 0x05
        dw fn_write_protected
  %elif i = 0x04
        dw fn_chs_verify
  %elif i = 0x08
        dw fn_geometry_floppy
  %elif i = 0x15
        dw fn_no_change_line
  %elif i = 0x4B
        dw fn_eltorito_emulated
  %else
        dw fn_invalid
  %endif
  %assign i i+1
%endrep

; An emulated hard disk (80h): CHS and EDD, 512-byte sectors.
hard_disk_functions:
%assign i 0
%rep FUNCTIONS
  %if i = 0x00 || i = 0x0C || i = 0x0D || i = 0x10 || i = 0x11
        dw fn_success
  %elif i = 0x01
        dw fn_last_status
  %elif i = 0x02
        dw fn_chs_read
  %elif i = 0x03
        dw fn_chs_write
  %elif i = 0x05
        dw fn_write_protected
  %elif i = 0x04
        dw fn_chs_verify
  %elif i = 0x08
        dw fn_geometry_hard_disk
  %elif i = 0x15
        dw fn_drive_type
  %elif i = 0x41
        dw fn_extensions_disk
  %elif i = 0x42
        dw fn_read
  %elif i = 0x43
        dw fn_write
  %elif i = 0x44 || i = 0x47
        dw fn_verify
  %elif i = 0x48
        dw fn_parameters_disk
  %elif i = 0x4B
        dw fn_eltorito_emulated
  %else
        dw fn_invalid
  %endif
  %assign i i+1
%endrep

; One row per presentation, by HOOK_KIND: its table, and log2 of the
; 512-byte sectors in one of its units (a CD's block is four). SWAP has
; its own entry (swap_entry).
%if HOOK_KIND_CD != 0 || HOOK_KIND_FLOPPY != 1 || HOOK_KIND_HARD_DISK != 2
  %error "presentations is indexed by HOOK_KIND"
%endif
presentations:
        dw cd_functions, 2
        dw floppy_functions, 0
        dw hard_disk_functions, 0

fn_invalid:
        mov al, ST_INVALID
        stc
        ret

fn_success:
        mov al, ST_OK
        clc
        ret

fn_write_protected:
        mov al, ST_WRITE_PROT
        stc
        ret

; writes_allowed: out: CF set, AL = ST_WRITE_PROT, when the call writes
; (L_WRITE) and the image takes no writes (HOOK_WRITABLE clear); else CF
; clear.
writes_allowed:
        cmp byte [bp + L_WRITE], 0
        je .allowed
        cmp byte [cs:HOOK_WRITABLE], 0
        je fn_write_protected
.allowed:
        clc
        ret

; Failure tails for the range checks (jumped to, they return for them).
fail_past_end:
        mov al, ST_PAST_END
        stc
        ret

fail_no_sector:
        mov al, ST_NO_SECTOR
        stc
        ret

fn_last_status:
        mov al, [cs:HOOK_LAST_STATUS]
        clc
        ret

; 15h of a floppy: one without change line (AH=01h; CX:DX untouched,
; which DOS prefers).
fn_no_change_line:
        mov al, 0x01
        clc
        ret

; 15h: AH=03h with CX:DX = units (blocks of a CD, sectors).
fn_drive_type:
        call image_units
        mov [bp + F_DX], ax
        shr eax, 16
        mov [bp + F_CX], ax
        mov al, 0x03
        clc
        ret

; 41h: BX=55AAh -> BX=AA55h, AH=30h (EDD 3.0), CX = the interfaces: for
; a CD fixed-disk access, removable media and EDD (0007h), for a hard
; disk fixed-disk access (0001h).
fn_extensions_cd:
        mov dx, 0x0007
        jmp extensions
fn_extensions_disk:
        mov dx, 0x0001
extensions:                             ; DX = the interfaces
        cmp word [bp + F_BX], 0x55AA
        jne fn_invalid
        mov word [bp + F_BX], 0xAA55
        mov [bp + F_CX], dx
        mov al, 0x30
        clc
        ret

; unit_shift: out: CL = log2(512-byte sectors per unit) of the call's
; presentation (frame.unit_shift): 2 for a CD's 2048-byte blocks, 0 for
; disks.
unit_shift:
        mov cl, [bp + L_UNIT_SHIFT]
        ret

; image_units: out: EAX = units (blocks or sectors) of the image. Clobbers CL, EDX.
image_units:
        call unit_shift
        mov eax, [cs:HOOK_SECTORS]
        mov edx, [cs:HOOK_SECTORS + 4]
        shrd eax, edx, cl
        ret

; check_range: in: FS:SI = the caller's packet. Out: CF clear with
; EBX = first unit, ECX = units, when the packet is usable and the range
; lies inside the image; else CF set, AL = status. Clobbers EAX, EDX.
check_range:
        cmp byte [fs:si + dap.size], 0x10
        jb fn_invalid
        cmp dword [fs:si + dap.lba + 4], 0      ; an LBA above 2^32 units
        jne fail_past_end
        call image_units
        mov ebx, [fs:si + dap.lba]
        movzx ecx, word [fs:si + dap.count]
        cmp ebx, eax
        ja fail_past_end
        sub eax, ebx
        cmp ecx, eax
        ja fail_past_end
        clc
        ret

; 44h/47h: the range must lie inside the image.
fn_verify:
        mov fs, [bp + F_DS]
        mov si, [bp + F_SI]
        call check_range
        jc .done
        mov al, ST_OK
.done:
        ret

; 42h/43h: read units into the caller's buffer straight from the stick,
; or write them from it through to the file. On failure the packet's
; count says how many whole units were moved.
fn_read:
        mov byte [bp + L_WRITE], 0
        jmp packet_transfer
fn_write:
        mov byte [bp + L_WRITE], 1
packet_transfer:
        mov fs, [bp + F_DS]
        mov si, [bp + F_SI]
        call check_range
        jc .done
        call writes_allowed
        jc .done
        mov al, ST_INVALID
        cmp dword [fs:si + dap.offset], 0xFFFFFFFF      ; a 64-bit flat buffer: not offered
        stc
        je .done
        les di, [fs:si + dap.offset]    ; ES:DI = the caller's buffer
        push cx
        call unit_shift
        shl ebx, cl                     ; units -> sectors
        pop ax
        movzx eax, ax
        shl eax, cl
        mov ecx, eax
        call transfer_image
        jnc .done
        push ax
        call unit_shift
        shr edx, cl                     ; whole units moved
        mov fs, [bp + F_DS]
        mov si, [bp + F_SI]
        mov [fs:si + dap.count], dx
        pop ax
        stc
.done:
        ret

; chs_address: the caller's CX, DH and AL (count) as an image range.
; Out: CF clear with EBX = first sector, ECX = count; else CF set, AL =
; status. Clobbers EAX, EDX.
chs_address:
        movzx ecx, byte [bp + F_AL]
        test ecx, ecx
        jz fn_invalid
        mov ax, [bp + F_CX]
        movzx ebx, al
        and bl, 0x3F                    ; sector, from 1
        jz fail_no_sector
        cmp bx, [cs:HOOK_SECTORS_PER_TRACK]
        ja fail_no_sector
        dec bx
        shr al, 6
        xchg al, ah                     ; AX = cylinder (CH, and CL's top bits)
        cmp ax, [cs:HOOK_CYLINDERS]
        jae fail_no_sector
        movzx eax, ax
        movzx edx, word [cs:HOOK_HEADS]
        imul eax, edx
        movzx edx, byte [bp + F_DX + 1] ; DH = head
        cmp dx, [cs:HOOK_HEADS]
        jae fail_no_sector
        add eax, edx
        movzx edx, word [cs:HOOK_SECTORS_PER_TRACK]
        imul eax, edx
        add ebx, eax
        mov eax, [cs:HOOK_SECTORS]      ; the image's sectors (below 2^32 for CHS)
        cmp ebx, eax
        jae fail_past_end
        sub eax, ebx
        cmp ecx, eax
        ja fail_past_end
        clc
        ret

; 02h/03h: CHS read into ES:BX, or write from it; AL = sectors moved.
fn_chs_read:
        mov byte [bp + L_WRITE], 0
        jmp chs_transfer
fn_chs_write:
        mov byte [bp + L_WRITE], 1
chs_transfer:
        call chs_address
        jc .failed
        call writes_allowed
        jc .failed
        mov es, [bp + F_ES]
        mov di, [bp + F_BX]
        call transfer_image
        mov [bp + F_AL], dl
        ret
.failed:
        mov byte [bp + F_AL], 0
        ret

; 04h: CHS verify: the range must exist; AL = sectors.
fn_chs_verify:
        call chs_address
        jc .done
        mov al, ST_OK
.done:
        ret

; 08h: geometry: CH/CL = last cylinder and sectors per track, DH = last
; head, DL = drives of the class. A hard disk reports one cylinder less,
; as BIOSes keep one for diagnostics; a floppy also gives BL = its type
; and ES:DI = its parameter table.
fn_geometry_hard_disk:
        mov ax, [cs:HOOK_CYLINDERS]
        dec ax
        jz .last_cylinder
        dec ax
.last_cylinder:
        call geometry
        push ds
        push word 0
        pop ds
        mov al, [BDA_HARD_DISKS]
        pop ds
        mov [bp + F_DX], al
        mov al, ST_OK
        clc
        ret

fn_geometry_floppy:
        mov ax, [cs:HOOK_CYLINDERS]
        dec ax
        call geometry
        push ds
        push word 0
        pop ds
        call floppy_count
        pop ds
        mov [bp + F_DX], ah
        mov al, [cs:HOOK_FLOPPY_TYPE]
        mov [bp + F_BL], al
        mov byte [bp + F_BX + 1], 0
        mov [bp + F_ES], cs
        mov word [bp + F_DI], HOOK_PARAMETER_TABLE
        mov al, ST_OK
        clc
        ret

; geometry: in: AX = the last cylinder to report. Out: the caller's CH/CL
; (cylinder, sectors per track) and DH (last head). Clobbers AX, CX.
geometry:
        mov ch, al                      ; cylinder bits 0-7
        shl ah, 6
        mov cl, [cs:HOOK_SECTORS_PER_TRACK]
        or cl, ah                       ; cylinder bits 8-9 above the sector count
        mov [bp + F_CX], cx
        mov al, [cs:HOOK_HEADS]
        dec al
        mov [bp + F_DX + 1], al
        ret

; transfer_image: in: EBX = first sector of the image, ECX = sectors,
; ES:DI = buffer, BP = the call's frame (L_WRITE: read or write). Reads
; them from the stick, or writes them to it, never across an extent's
; edge, with the frame's packet (AH=42h or 43h), or by CHS a track at
; most when stage2 found the BIOS without extensions
; (HOOK_DISK_SECTORS_PER_TRACK set). A call moves at most MAX_PIECE
; sectors, or HOOK_MAX_READ (128, when stage2 proved it) for a read whose
; buffer normalises to offset 0; a read of more than MAX_PIECE that the
; BIOS fails lowers HOOK_MAX_READ to MAX_PIECE for good and is asked again
; after a reset. A piece counts as moved by the count it asked for, never
; by what the BIOS wrote back into the packet. The place and progress
; live in the frame (L_SECTOR, L_DONE, L_ASKED), never in a register
; across the BIOS call. Out: CF clear, AL = 0; or CF set, AL = status.
; EDX = sectors moved. Clobbers EAX, EBX, ECX, SI, DI, ES, DS.
transfer_image:
        add ebx, [cs:HOOK_IMAGE_START]  ; image sector -> file sector
        mov [bp + L_SECTOR], ebx
        mov [bp + L_REQUEST], ecx
        mov dword [bp + L_DONE], 0
        mov byte [bp + L_DAP + dap.size], 16
        mov byte [bp + L_DAP + dap.reserved], 0
.piece:
        mov edx, [bp + L_DONE]
        cmp edx, [bp + L_REQUEST]
        jae .read_all
        ; normalise the buffer so a whole piece fits its segment
        mov ax, di
        shr ax, 4
        mov si, es
        add si, ax
        mov es, si
        and di, 0x000F
        mov ebx, [bp + L_SECTOR]
        call find_extent                ; EBX = file sector -> SI, EAX = into it
        jc .beyond_map
        ; this piece: the rest of the request, of the extent, and of a call
        mov ecx, [bp + L_REQUEST]
        sub ecx, edx
        mov edx, [cs:si + EXTENT_COUNT]
        sub edx, eax
        cmp ecx, edx
        jbe .fits_extent
        mov ecx, edx
.fits_extent:
        mov edx, MAX_PIECE
        test di, di                     ; 128 sectors fill a segment from offset 0 only
        jnz .limit_known
        cmp byte [bp + L_WRITE], 0      ; and are proved for reads only
        jne .limit_known
        mov dl, [cs:HOOK_MAX_READ]
.limit_known:
        cmp ecx, edx
        jbe .fits_call
        mov ecx, edx
.fits_call:
        mov [bp + L_DAP_COUNT], cx
        mov [bp + L_ASKED], cx
        mov [bp + L_DAP_OFFSET], di
        mov [bp + L_DAP_SEGMENT], es
        xor edx, edx
        add eax, [cs:si + EXTENT_DISK_LBA]
        adc edx, [cs:si + EXTENT_DISK_LBA + 4]
        cmp byte [cs:HOOK_DISK_SECTORS_PER_TRACK], 0
        jne .by_chs
        mov [bp + L_DAP_LBA], eax
        mov [bp + L_DAP_LBA + 4], edx
        push ss
        pop ds
        lea si, [bp + L_DAP]            ; DS:SI = the frame's packet
        mov dl, [cs:HOOK_DISK]
        mov ah, 0x42
        add ah, [bp + L_WRITE]          ; 43h, AL = 00h: write, no verify
        mov al, 0
        call stick_bios
        jmp .called
.by_chs:
        call chs_transfer_piece
.called:
        jc .bios_error
        movzx ecx, word [bp + L_ASKED]
        add [bp + L_DONE], ecx
        add [bp + L_SECTOR], ecx
        shl cx, 5                       ; sectors -> paragraphs
        mov ax, es
        add ax, cx
        mov es, ax
        jmp .piece
.read_all:
        mov al, ST_OK
        clc
        ret
.beyond_map:
        mov ah, ST_PAST_END
        jmp .failed
.bios_error:                            ; AH = the BIOS status
        cmp word [bp + L_ASKED], MAX_PIECE
        jbe .failed
        ; a proved 128-sector read failed after all: 127 from now on, and
        ; this piece again after a reset (some BIOSes stay in an error
        ; state after an EDD error until one)
        mov byte [cs:HOOK_MAX_READ], MAX_PIECE
        mov ah, 0x00
        mov dl, [cs:HOOK_DISK]
        call stick_bios
        jmp .piece
.failed:
        mov edx, [bp + L_DONE]
        mov al, ah
        stc
        ret

; chs_transfer_piece: the piece with AH=02h (03h to write), for a BIOS
; without extensions.
;   In: EDX:EAX = the stick's LBA, [BP + L_DAP_COUNT] = sectors, ES:DI =
;   buffer. Reads what lies on that LBA's track (the count is cut to its
;   end). Out: as the BIOS: CF clear, or CF set and AH = status
;   (ST_NO_SECTOR past cylinder 1023); [BP + L_DAP_COUNT] and [BP +
;   L_ASKED] = sectors asked.
;   Clobbers EAX, ECX, EDX, SI.
chs_transfer_piece:
        push ebx
        test edx, edx
        jnz .unreachable
        movzx ecx, byte [cs:HOOK_DISK_SECTORS_PER_TRACK]
        div ecx                         ; EAX = track, EDX = sector - 1
        sub ecx, edx                    ; sectors left on the track
        cmp cx, [bp + L_DAP_COUNT]
        jae .counted
        mov [bp + L_DAP_COUNT], cx
        mov [bp + L_ASKED], cx
.counted:
        mov bx, dx                      ; BL = sector - 1
        movzx ecx, byte [cs:HOOK_DISK_LAST_HEAD]
        inc ecx
        xor edx, edx
        div ecx                         ; EAX = cylinder, DL = head
        cmp eax, 1023
        ja .unreachable
        mov ch, al                      ; cylinder bits 0-7
        shl ah, 6
        mov cl, bl
        inc cl                          ; sector, from 1
        or cl, ah                       ; cylinder bits 8-9
        mov dh, dl
        mov dl, [cs:HOOK_DISK]
        mov al, [bp + L_DAP_COUNT]
        mov ah, 0x02
        add ah, [bp + L_WRITE]          ; 03h to write
        mov bx, di                      ; ES:BX = the buffer
        call stick_bios
        pop ebx
        ret
.unreachable:
        mov ah, ST_NO_SECTOR
        stc
        pop ebx
        ret

; stick_bios: the old INT 13h vector called for the stick, entered as
; INT enters it (the FLAGS of now pushed, interrupts off); its IRET gives
; them back. In and out: the BIOS's registers and flags.
stick_bios:
        pushf
        cli
        call far [cs:HOOK_PREVIOUS]
        ret

; find_extent: in: EBX = file sector. Out: CF clear, SI = its extent's
; offset in the block, EAX = sectors into that extent; CF set when no
; extent holds it. Clobbers CX.
find_extent:
        mov si, [cs:HOOK_EXTENTS]
        mov cx, [cs:HOOK_EXTENT_COUNT]
        jcxz .none
.next:
        mov eax, ebx
        sub eax, [cs:si + EXTENT_FILE_SECTOR]
        jb .skip
        cmp eax, [cs:si + EXTENT_COUNT]
        jb .found
.skip:
        add si, EXTENT_SIZE
        loop .next
.none:
        stc
        ret
.found:
        clc
        ret

; 48h: drive parameters into the caller's buffer (size 1Ah or more; a 42h
; buffer is answered with the 1Eh EDD 2.x fields, as the size says). A CD:
; removable, lockable, change line, no CHS, 2048-byte blocks; a hard disk:
; its CHS geometry, 512-byte sectors.
fn_parameters_cd:
        call parameters
        jc .done
        mov word [es:di + edd_params.flags], 0x0074    ; removable, change line, lockable, CHS invalid
        mov dword [es:di + edd_params.cylinders], 0xFFFFFFFF
        mov dword [es:di + edd_params.heads], 0xFFFFFFFF
        mov dword [es:di + edd_params.sectors], 0xFFFFFFFF
        mov word [es:di + edd_params.unit_bytes], 2048
        mov al, ST_OK
.done:
        ret

fn_parameters_disk:
        call parameters
        jc .done
        mov word [es:di + edd_params.flags], 0x0002    ; CHS valid
        movzx eax, word [cs:HOOK_CYLINDERS]
        mov [es:di + edd_params.cylinders], eax
        movzx eax, word [cs:HOOK_HEADS]
        mov [es:di + edd_params.heads], eax
        movzx eax, word [cs:HOOK_SECTORS_PER_TRACK]
        mov [es:di + edd_params.sectors], eax
        mov word [es:di + edd_params.unit_bytes], 512
        mov al, ST_OK
.done:
        ret

; parameters: the part of 48h every presentation answers the same: the
; buffer's size, the DPTE of EDD 2.x, the total. Out: CF clear with ES:DI
; = the caller's buffer; else CF set, AL = status. Clobbers EAX, BX, CL, EDX.
parameters:
        mov es, [bp + F_DS]
        mov di, [bp + F_SI]
        mov ax, [es:di + edd_params.size]
        cmp ax, EDD1_SIZE
        jb fn_invalid
        mov bx, EDD1_SIZE
        cmp ax, EDD2_SIZE
        jb .size_known
        mov bx, EDD2_SIZE
        mov dword [es:di + edd_params.dpte], 0xFFFFFFFF    ; no device parameter table
.size_known:
        mov [es:di + edd_params.size], bx
        call image_units
        mov [es:di + edd_params.total], eax
        mov dword [es:di + edd_params.total + 4], 0
        clc
        ret

; 4Bh: AL=00h (terminate) or 01h (status): the specification packet to
; DS:SI, for a CD and for an emulated disk when the image came from El
; Torito. Emulation goes on either way.
fn_eltorito_emulated:
        cmp byte [cs:HOOK_ELTORITO], 0
        je fn_invalid
fn_eltorito:
        mov al, [bp + F_AL]
        cmp al, 0x01
        ja fn_invalid
        mov es, [bp + F_DS]
        mov di, [bp + F_SI]
        mov si, HOOK_SPEC_PACKET
        mov cx, SPEC_PACKET_BYTES
        push ds
        push cs
        pop ds
        rep movsb
        pop ds
        mov al, ST_OK
        clc
        ret

hook_end:
%if (hook_end - header) > HOOK_MAX_BYTES
  %error "the INT 13h hook is over HOOK_MAX_BYTES of resident memory"
%endif
