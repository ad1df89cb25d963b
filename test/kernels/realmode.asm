; Back to real-address mode and into protected mode again (SDM Vol. 3A 9.9): from the Multiboot
; protected-mode state through a 16-bit code segment, CR0.PE cleared, a far jump to load CS; then
; real-mode segmentation and 16-bit addressing, INT n and exceptions through the IVT at 0, and the
; way back (LGDT, CR0.PE, a far jump to the 32-bit code segment).
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

%define RM_BASE 0x7000                  ; the 16-bit code runs here (segment 0)
%define R(label) (label - rm_code + RM_BASE)

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        mov esi, rm_code
        mov edi, RM_BASE
        mov ecx, rm_code_end - rm_code
        rep movsb
        mov dword [R(rm_gdtr) + 2], gdt
        mov word [R(rm_gdtr)], gdt_end - gdt - 1
        mov [saved_esp], esp
        ; Data at known places for the real-mode code.
        mov word [0x12340], 0x4242              ; DS = 0x1234, offset 0
        mov word [0x20000 + 0x1111 + 0x0222 + 0x10], 0x5151
        cli
        jmp CODE16_SEL:R(pm16)
back_in_pm:
        mov ax, KERNEL_DS
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, [saved_esp]
        lidt [idtr]
        mov eax, cr0
        and eax, 1
        CHECK_EQ eax, 1, "back in protected mode: CR0.PE set"
        mov eax, cs
        CHECK_EQ eax, KERNEL_CS, "... CS is the 32-bit kernel code segment"
        movzx eax, word [R(r_cr0)]
        and eax, 1
        CHECK_EQ eax, 0, "in real mode CR0.PE read 0"
        movzx eax, word [R(r_cs)]
        CHECK_EQ eax, 0, "the far jump loaded CS = 0"
        movzx eax, word [R(r_seg)]
        CHECK_EQ eax, 0x4242, "DS = 0x1234: DS:0 is linear 0x12340"
        movzx eax, word [R(r_bxsi)]
        CHECK_EQ eax, 0x5151, "ES = 0x2000: [ES:BX+SI+0x10] with 16-bit addressing"
        movzx eax, word [R(r_bp)]
        CHECK_EQ eax, 0x6b6b, "[BP+DI] uses SS"
        movzx eax, word [R(r_wrap)]
        CHECK_EQ eax, 0x9999, "16-bit offsets wrap: [BX+SI] with BX+SI = 0x10004 is offset 4"
        CHECK_EQ [R(r_int_count)], 1, "INT 0x60 ran the IVT handler"
        movzx eax, word [R(r_int_ip)]
        CHECK_EQ eax, R(rm_real.after_int), "... with the return IP on the stack"
        movzx eax, word [R(r_int_cs)]
        CHECK_EQ eax, 0, "... and the return CS"
        movzx eax, word [R(r_int_flags)]
        and eax, 0x200
        CHECK_EQ eax, 0x200, "... and FLAGS with IF as before"
        movzx eax, word [R(r_int_if)]
        and eax, 0x200
        CHECK_EQ eax, 0, "the handler runs with IF clear"
        movzx eax, word [R(r_int_sp)]
        CHECK_EQ eax, 0x6ff0 - 6, "... and 3 words on the stack"
        movzx eax, word [R(r_after_iret)]
        CHECK_EQ eax, 0x1234, "IRET returned to the caller, registers intact"
        movzx eax, word [R(r_ud_ip)]
        CHECK_EQ eax, R(rm_real.ud), "#UD through IVT[6] pushes the IP of UD2"
        movzx eax, word [R(r_de_ip)]
        CHECK_EQ eax, R(rm_real.div), "#DE through IVT[0] pushes the IP of DIV"
        movzx eax, word [R(r_de_done)]
        CHECK_EQ eax, 1, "... and execution went on after the handler skipped it"
        movzx eax, word [R(r_pm16_cs)]
        CHECK_EQ eax, CODE16_SEL, "the 16-bit protected-mode step ran in CODE16_SEL"
        movzx eax, word [R(r_sreg_pm)]
        CHECK_EQ eax, 0x5a5a, "MOV SS in real mode after PE=0 takes selector*16 (SS = 0x600 -> 0x6000)"
        TEST_DONE

saved_esp: dd 0

; ---------------------------------------------------------------- 16-bit code, copied to RM_BASE
bits 16
rm_code:
pm16:   ; 16-bit protected mode, CPL 0
        mov ax, cs
        mov [R(r_pm16_cs)], ax
        mov ax, DATA16_SEL
        mov ds, ax
        mov es, ax
        mov ss, ax
        lidt [R(ivt_ptr)]
        mov eax, cr0
        and eax, ~1
        mov cr0, eax
        jmp 0:R(rm_real)
rm_real:
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x6ff0
        mov [R(r_cs)], cs
        mov eax, cr0
        mov [R(r_cr0)], ax
        ; IVT entries 0x60, 6 and 0.
        mov word [0x60 * 4], R(int60)
        mov word [0x60 * 4 + 2], 0
        mov word [6 * 4], R(ud_handler)
        mov word [6 * 4 + 2], 0
        mov word [0 * 4], R(de_handler)
        mov word [0 * 4 + 2], 0
        ; Segmentation and 16-bit addressing.
        mov ax, 0x1234
        mov ds, ax
        mov ax, [0]
        xor bx, bx
        mov ds, bx
        mov [R(r_seg)], ax
        mov ax, 0x2000
        mov es, ax
        mov bx, 0x1111
        mov si, 0x0222
        mov ax, [es:bx + si + 0x10]
        mov [R(r_bxsi)], ax
        mov ax, 0x600
        mov ss, ax
        mov word [ss:0x100 + 0x20], 0x6b6b
        mov bp, 0x100
        mov di, 0x20
        mov ax, [bp + di]
        mov [R(r_bp)], ax
        mov word [ss:0], 0x5a5a
        mov ax, [ss:0]
        mov [R(r_sreg_pm)], ax
        xor ax, ax
        mov ss, ax
        mov word [4], 0x9999
        mov bx, 0xfff0
        mov si, 0x0014
        mov ax, [bx + si]
        mov [R(r_wrap)], ax
        ; INT n through the IVT.
        sti
        mov ax, 0x1234
        int 0x60
.after_int:
        mov [R(r_after_iret)], ax
        cli
        ; Exceptions through the IVT.
.ud:    ud2
        xor dx, dx
        xor ax, ax
        xor cx, cx
.div:   div cx
        mov word [R(r_de_done)], 1
        ; Back to protected mode.
        lgdt [R(rm_gdtr)]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp dword KERNEL_CS:back_in_pm

int60:  push bp
        mov bp, sp
        inc word [R(r_int_count)]
        push ax
        mov ax, [bp + 2]
        mov [R(r_int_ip)], ax
        mov ax, [bp + 4]
        mov [R(r_int_cs)], ax
        mov ax, [bp + 6]
        mov [R(r_int_flags)], ax
        pushf
        pop ax
        mov [R(r_int_if)], ax
        lea ax, [bp + 2]
        mov [R(r_int_sp)], ax
        pop ax
        pop bp
        xor bx, bx                              ; AX must survive, BX need not
        iret

ud_handler:
        push bp
        mov bp, sp
        push ax
        mov ax, [bp + 2]
        mov [R(r_ud_ip)], ax
        add word [bp + 2], 2
        pop ax
        pop bp
        iret

de_handler:
        push bp
        mov bp, sp
        push ax
        mov ax, [bp + 2]
        mov [R(r_de_ip)], ax
        add word [bp + 2], 2                    ; DIV CX is 2 bytes
        pop ax
        pop bp
        iret

        align 4
ivt_ptr:     dw 0x3ff
             dd 0
rm_gdtr:     dw 0
             dd 0
r_cs:        dw 0xffff
r_cr0:       dw 0xffff
r_seg:       dw 0
r_bxsi:      dw 0
r_bp:        dw 0
r_wrap:      dw 0
r_sreg_pm:   dw 0
r_int_count: dd 0
r_int_ip:    dw 0
r_int_cs:    dw 0xffff
r_int_flags: dw 0
r_int_if:    dw 0xffff
r_int_sp:    dw 0
r_after_iret: dw 0
r_ud_ip:     dw 0
r_de_ip:     dw 0
r_de_done:   dw 0
r_pm16_cs:   dw 0
rm_code_end:
bits 32
        MULTIBOOT_END
