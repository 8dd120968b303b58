; dropboot's resident INT 13h hook: makes a boot file on the stick answer
; as a BIOS drive, reading it straight from the stick through the INT 13h
; vector it replaced. Linked alone as a flat blob (build/int13_hook.bin),
; so it cannot reach code that is gone after boot; stage2 copies it to the
; top of conventional memory (taken through BDA 413h), fills its header
; (bootfs::layout::HookHeader, offsets from the generated layout.inc),
; appends the extent table, and points the INT 13h vector at offset 0.
;
; Mode: real mode only, entered through INT 13h with CS = the block's
; segment and IP = 0; any 386+ CPU. It keeps its own stack in the block,
; restores every register it does not answer in, and writes CF into the
; caller's stacked FLAGS.
;
; Drive presented (kind HOOK_KIND_CD): a no-emulation El Torito CD with
; 2048-byte blocks, as SeaBIOS, iPXE and memdisk present one:
;   00 reset, 01 last status, 41 extensions (AH=30h, CX=0007h),
;   42 extended read (packet 10h or 18h), 44 verify, 45 lock, 46 eject,
;   47 seek, 48 parameters (1Ah/1Eh/42h buffers), 49 media change,
;   4B00/4B01 El Torito status (the 13h-byte packet), 15 type (AH=03h,
;   CX:DX = blocks); 03/43 writes fail write-protected (03h); CHS calls
;   (02, 08, ...) and everything else fail invalid (01h).
; Every other drive goes to the previous vector untouched; AH=4Bh with
; DL=7Fh ("all drives") is answered here too.

%include "layout.inc"

        bits 16
        org 0

CD_BLOCK_SECTORS equ 4                  ; 512-byte sectors per 2048-byte block
MAX_PIECE       equ 127                 ; sectors per call to the real BIOS

; The caller's registers as the entry pushes them (PUSH DS, PUSH ES,
; PUSHAD), addressed from BP on the hook's stack.
F_EDI   equ 0
F_ESI   equ 4
F_EBP   equ 8
F_EBX   equ 16
F_EDX   equ 20
F_ECX   equ 24
F_EAX   equ 28
F_AH    equ 29
F_ES    equ 32
F_DS    equ 34
F_BX    equ F_EBX
F_CX    equ F_ECX
F_DX    equ F_EDX
F_SI    equ F_ESI

; Error codes (INT 13h AH on return).
ST_OK           equ 0x00
ST_INVALID      equ 0x01
ST_PAST_END     equ 0x02                ; "address mark not found", as memdisk
ST_WRITE_PROT   equ 0x03

header:
        jmp near int13_entry
        nop
        db "$INT13SF"
        db "DROPBOOT"
        times HOOK_HEADER_SIZE - ($ - $$) db 0

; Variables of the running hook.
saved_sp:       dw 0
saved_ss:       dw 0
depth:          db 0                    ; nesting: only the outer call switches stacks
result_cf:      db 0
function:       db 0
        align 4
request_sectors: dd 0
        align 4
dap:                                    ; the packet we pass to the real BIOS
dap_size:       db 16
                db 0
dap_count:      dw 0
dap_offset:     dw 0
dap_segment:    dw 0
dap_lba:        dd 0, 0

; int13_entry
;   In:  any INT 13h call. Out: ours answered (AH, CF and the registers
;   the function returns), others chained with nothing changed.
int13_entry:
        cmp dl, [cs:HOOK_DRIVE]
        je .ours
        cmp ah, 0x4B
        jne .chain
        cmp dl, 0x7F
        je .ours
.chain:
        jmp far [cs:HOOK_PREVIOUS]
.ours:
        cli
        cmp byte [cs:depth], 0
        jne .stack_ready                ; nested: stay on the stack we are on
        mov [cs:saved_sp], sp
        mov [cs:saved_ss], ss
        push cs
        pop ss
        mov sp, [cs:HOOK_STACK_TOP]
.stack_ready:
        inc byte [cs:depth]
        push ds
        push es
        pushad
        mov bp, sp
        sti
        cld
        mov [cs:function], ah
        movzx bx, ah
        cmp bx, FUNCTIONS
        jae .invalid
        shl bx, 1
        call [cs:function_table + bx]
        jmp .answer
.invalid:
        call fn_invalid

; .answer: AL = the caller's AH, CF = the caller's CF.
.answer:
        cli
        mov [bp + F_AH], al
        setc [cs:result_cf]
        cmp byte [cs:function], 0x01
        je .status_kept                 ; AH=01h reports, it does not replace
        mov ah, al
        cmp byte [cs:result_cf], 0
        jne .record
        mov ah, ST_OK
.record:
        mov [cs:HOOK_LAST_STATUS], ah
.status_kept:
        popad
        pop es
        pop ds
        dec byte [cs:depth]
        jnz .return
        mov ss, [cs:saved_ss]
        mov sp, [cs:saved_sp]
.return:
        push bp
        mov bp, sp
        and byte [bp + 6], 0xFE         ; the caller's FLAGS, under BP, IP, CS
        cmp byte [cs:result_cf], 0
        je .flags_done
        or byte [bp + 6], 0x01
.flags_done:
        pop bp
        iret

; The function handlers. Each: in: BP = the caller's register frame,
; DS/ES undefined; out: AL = value for the caller's AH, CF = error.
; They may clobber every register except BP.

FUNCTIONS equ 0x4E
function_table:
%assign i 0
%rep FUNCTIONS
  %if i = 0x00 || i = 0x45 || i = 0x46
        dw fn_success
  %elif i = 0x01
        dw fn_last_status
  %elif i = 0x03 || i = 0x43
        dw fn_write
  %elif i = 0x15
        dw fn_drive_type
  %elif i = 0x41
        dw fn_extensions
  %elif i = 0x42
        dw fn_read
  %elif i = 0x44 || i = 0x47
        dw fn_verify
  %elif i = 0x48
        dw fn_parameters
  %elif i = 0x49
        dw fn_media_change
  %elif i = 0x4B
        dw fn_eltorito
  %else
        dw fn_invalid
  %endif
  %assign i i+1
%endrep

fn_invalid:
        mov al, ST_INVALID
        stc
        ret

fn_success:
fn_media_change:                        ; never changed
        mov al, ST_OK
        clc
        ret

fn_write:
        mov al, ST_WRITE_PROT
        stc
        ret

fn_last_status:
        mov al, [cs:HOOK_LAST_STATUS]
        clc
        ret

; 15h: AH=03h "fixed disk", CX:DX = blocks.
fn_drive_type:
        call image_blocks
        mov [bp + F_DX], ax
        shr eax, 16
        mov [bp + F_CX], ax
        mov al, 0x03
        clc
        ret

; 41h: BX=55AAh -> BX=AA55h, AH=30h (EDD 3.0), CX=0007h.
fn_extensions:
        cmp word [bp + F_BX], 0x55AA
        jne fn_invalid
        mov word [bp + F_BX], 0xAA55
        mov word [bp + F_CX], 0x0007
        mov al, 0x30
        clc
        ret

; image_blocks: out: EAX = 2048-byte blocks of the image.
image_blocks:
        mov eax, [cs:HOOK_SECTORS]
        mov edx, [cs:HOOK_SECTORS + 4]
        shrd eax, edx, 2
        ret

; check_range: in: FS:SI = the caller's packet. Out: CF clear with
; EBX = first block, CX = blocks, when the packet is usable and the range
; lies inside the image; else CF set, AL = status.
check_range:
        cmp byte [fs:si], 0x10
        jb .invalid
        cmp dword [fs:si + 12], 0       ; LBA above 2^32 blocks
        jne .past_end
        mov ebx, [fs:si + 8]
        movzx ecx, word [fs:si + 2]
        call image_blocks
        cmp ebx, eax
        ja .past_end
        sub eax, ebx
        cmp ecx, eax
        ja .past_end
        clc
        ret
.invalid:
        mov al, ST_INVALID
        stc
        ret
.past_end:
        mov al, ST_PAST_END
        stc
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

; 42h: read blocks into the caller's buffer, straight from the stick.
fn_read:
        mov fs, [bp + F_DS]
        mov si, [bp + F_SI]
        call check_range
        jc .done
        mov al, ST_INVALID
        cmp dword [fs:si + 4], 0xFFFFFFFF       ; a 64-bit flat buffer: not offered
        stc
        je .done
        les di, [fs:si + 4]             ; ES:DI = the caller's buffer
        shl ebx, 2                      ; blocks -> sectors
        shl ecx, 2
        mov [cs:request_sectors], ecx
        xor edx, edx                    ; EDX = sectors done
.piece:
        cmp edx, [cs:request_sectors]
        jae .read_all
        ; normalise the buffer so a whole piece fits its segment
        mov ax, di
        shr ax, 4
        mov si, es
        add si, ax
        mov es, si
        and di, 0x000F
        push edx
        call find_extent                ; EBX = file sector -> SI, EAX = into it
        jc .beyond_map
        ; this piece: the rest of the request, of the extent, and MAX_PIECE
        mov ecx, [cs:request_sectors]
        sub ecx, edx
        mov edx, [cs:si + EXTENT_COUNT]
        sub edx, eax
        cmp ecx, edx
        jbe .fits_extent
        mov ecx, edx
.fits_extent:
        cmp ecx, MAX_PIECE
        jbe .fits_call
        mov ecx, MAX_PIECE
.fits_call:
        mov [cs:dap_count], cx
        mov [cs:dap_offset], di
        mov [cs:dap_segment], es
        xor edx, edx
        add eax, [cs:si + EXTENT_DISK_LBA]
        adc edx, [cs:si + EXTENT_DISK_LBA + 4]
        mov [cs:dap_lba], eax
        mov [cs:dap_lba + 4], edx
        push ds
        push cs
        pop ds
        mov si, dap
        mov dl, [cs:HOOK_DISK]
        mov ah, 0x42
        pushf
        call far [cs:HOOK_PREVIOUS]
        pop ds
        jc .bios_error
        movzx ecx, word [cs:dap_count]
        pop edx
        add edx, ecx
        add ebx, ecx
        shl cx, 5                       ; sectors -> paragraphs
        mov ax, es
        add ax, cx
        mov es, ax
        jmp .piece
.read_all:
        mov al, ST_OK
        clc
.done:
        ret
.beyond_map:
        mov ah, ST_PAST_END
.bios_error:                            ; AH = the BIOS status
        pop edx
        mov fs, [bp + F_DS]             ; report the whole blocks read
        mov si, [bp + F_SI]
        shr edx, 2
        mov [fs:si + 2], dx
        mov al, ah
        stc
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
; buffer is answered with the 1Eh EDD 2.x fields, as the size says).
fn_parameters:
        mov es, [bp + F_DS]
        mov di, [bp + F_SI]
        mov ax, [es:di]
        cmp ax, 0x1A
        jb fn_invalid
        mov bx, 0x1A
        cmp ax, 0x1E
        jb .size_known
        mov bx, 0x1E
        mov dword [es:di + 0x1A], 0xFFFFFFFF    ; no device parameter table
.size_known:
        mov [es:di], bx
        mov word [es:di + 2], 0x0074    ; removable, change line, lockable, CHS invalid
        mov dword [es:di + 4], 0xFFFFFFFF
        mov dword [es:di + 8], 0xFFFFFFFF
        mov dword [es:di + 12], 0xFFFFFFFF
        call image_blocks
        mov [es:di + 16], eax
        mov dword [es:di + 20], 0
        mov word [es:di + 24], 2048
        mov al, ST_OK
        clc
        ret

; 4Bh: AL=00h (terminate) or 01h (status): the specification packet to
; DS:SI. Emulation goes on either way: a no-emulation CD has none to end.
fn_eltorito:
        mov al, [bp + F_EAX]
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
