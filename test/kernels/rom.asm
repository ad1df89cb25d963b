; A 64 KiB firmware ROM started from the reset vector (SDM Vol. 3A 9.1: CS = F000 with base
; FFFF0000, EIP = FFF0, CR0 = 60000010, EFLAGS = 2) in real mode. It far-jumps into the low ROM
; alias, records the reset state, enters protected mode, compares the two ROM aliases (below 1 MiB
; and below 4 GiB) and checks that ROM ignores writes, then "shadows" itself: copies its image to
; RAM and enables paging with the ROM's linear range mapped onto the copy, so the rest of the run
; (the TAP counters, the IDT and TSS of system.inc) is ordinary writable memory.
; @boot rom
; @post-port 0x80
bits 16
org 0xf0000
%define RESET_INFO 0x600                ; RAM scratch for what real mode and early PM saw
%define SHADOW     0x20000              ; RAM copy of the ROM
%define BOOT_PD    0x1000
%define BOOT_PT    0x2000

start16:
        pushfd                          ; (SS:SP = 0:0 at reset: this lands at 0xfffc in RAM)
        pop ebp
        cli
        mov bx, dx
        xor ax, ax
        mov ds, ax
        mov ss, ax
        mov sp, 0x7000
        mov [RESET_INFO + 0], bx        ; DX at reset
        smsw ax
        mov [RESET_INFO + 4], ax        ; CR0 low word at reset
        mov [RESET_INFO + 8], ebp       ; EFLAGS at reset
        mov ax, cs
        mov [RESET_INFO + 12], ax       ; CS after the far jump
        mov al, 0x01
        out 0x80, al                    ; POST: real mode
        o32 lgdt [cs:rom_gdtr - 0xf0000]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp dword 0x08:start32

bits 32
%include "serial.inc"
%include "check.inc"
%include "system.inc"

start32:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, 0x7000
        mov al, 0x02
        out 0x80, al                    ; POST: protected mode
        mov eax, [0xfffffff0]
        mov [RESET_INFO + 16], eax      ; the reset vector through the 4 GiB alias
        mov eax, [0xffff0]
        mov [RESET_INFO + 20], eax      ; ... and through the 1 MiB alias
        mov dword [rom_probe], 0x12345678
        mov eax, [rom_probe]
        mov [RESET_INFO + 24], eax      ; ROM after a write
        ; Shadow: copy the ROM to RAM, map the ROM's linear range onto the copy.
        mov esi, 0xf0000
        mov edi, SHADOW
        mov ecx, 0x10000 / 4
        rep movsd
        mov edi, BOOT_PD
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword [BOOT_PD], BOOT_PT | 3
        mov edi, BOOT_PT
        mov eax, 3
        mov ecx, 1024
.id:    stosd
        add eax, 0x1000
        loop .id
        mov edi, BOOT_PT + 0xf0 * 4
        mov eax, SHADOW | 3
        mov ecx, 16
.sh:    stosd
        add eax, 0x1000
        loop .sh
        mov eax, BOOT_PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .paged
.paged: mov al, 0x03
        out 0x80, al                    ; POST: paging, running from the shadow copy
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# rom", 10
        CHECK_EQ [RESET_INFO + 4], 0x0010, "reset: CR0 low word 0010 (PE clear, ET set)"
        CHECK_EQ [RESET_INFO + 8], 2, "reset: EFLAGS = 2"
        movzx eax, word [RESET_INFO + 12]
        CHECK_EQ eax, 0xf000, "real mode at F000 after the far jump from the reset vector"
        CHECK_EQ [RESET_INFO + 16], [RESET_INFO + 20], "the ROM's last bytes read the same below 4 GiB and below 1 MiB"
        movzx eax, byte [RESET_INFO + 16]
        CHECK_EQ eax, 0xea, "... and hold the reset vector's far JMP"
        CHECK_EQ [RESET_INFO + 24], 0, "ROM ignores writes"
        mov eax, cr0
        and eax, 0x80000001
        CHECK_EQ eax, 0x80000001, "protected mode with paging"
        mov dword [rom_probe], 0xfeedface
        CHECK_EQ [rom_probe], 0xfeedface, "the shadowed image is writable RAM"
        CHECK_EQ [SHADOW + rom_probe - 0xf0000], 0xfeedface, "... at physical 0x20000 + offset"
        mov eax, [0xffff0]
        CHECK_EQ eax, [SHADOW + 0xfff0], "linear 0xffff0 now reads the copy"
        TRY .pf
        mov eax, [0x400000]
.pf:    CHECK_EQ [exc_vector], 14, "beyond the boot page table: #PF"
        CHECK_EQ [exc_cr2], 0x400000, "... with CR2"
        TEST_DONE

        align 4
rom_probe: dd 0
        align 8
rom_gdt:
        dq 0
        dq 0x00cf9a000000ffff           ; 0x08 code, flat 32-bit
        dq 0x00cf92000000ffff           ; 0x10 data, flat
rom_gdtr:
        dw 3 * 8 - 1
        dd rom_gdt

        times 0xfff0 - ($ - $$) db 0xff
bits 16
reset_vector:
        jmp 0xf000:start16 - 0xf0000
        times 0x10000 - ($ - $$) db 0xff
