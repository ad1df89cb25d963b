; Virtual-8086 mode (SDM Vol. 3A chapter 20): entered by IRET with EFLAGS.VM and by a task switch,
; real-mode addressing (segment * 16, 64 KiB limits, beyond 1 MiB without wrap), left through
; ring-0 interrupt gates with the V86 frame (ES/DS/FS/GS pushed, then zeroed), the IOPL-sensitive
; instructions at IOPL < 3 and at IOPL 3, INT3 not being IOPL-sensitive, I/O through the TSS bitmap,
; and IRET back into V86.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

%define V86_SEG    0x0800               ; the V86 code and data segment (linear 0x8000)
%define V86_BASE   (V86_SEG * 16)
%define V86_SP     0xfff0
%define RING0_STACK 0x70000             ; ESP0 while in V86
%define EFLAGS_VM  0x20000
%define IOPL3      0x3000
%define V86TSS_SEL 0x40
%define COM1_SCR   0x3ff                ; UART scratch register

; V86 offsets of the 16-bit code (copied to V86_BASE).
%define V(label) (label - v86_code)

; V86_RUN entry, eflags: runs V86 code from V86_SEG:V(entry) until an event ends the session.
%macro V86_RUN 2
        mov eax, V(%1)
        mov ebx, %2
        call v86_call
%endmacro

; Stub for vector %1 (%2 = 1 when the CPU pushes an error code).
%macro V86_STUB 2
v86_stub_%1:
%if %2 == 0
        push dword 0
%endif
        push dword %1
        jmp v86_common
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        ; The V86 code below 1 MiB.
        mov esi, v86_code
        mov edi, V86_BASE
        mov ecx, v86_code_end - v86_code
        rep movsb
        SET_GATE 3, v86_stub_3, 0xee
        SET_GATE 6, v86_stub_6, 0x8e
        SET_GATE 12, v86_stub_12, 0x8e
        SET_GATE 13, v86_stub_13, 0x8e
        SET_GATE 0x31, v86_stub_0x31, 0xee      ; DPL 3: reachable by INT n from V86
        mov byte [tss_iomap + 0x60 / 8], 0x02   ; deny port 0x61
        mov dword [tss + TSS_ESP0], RING0_STACK

; ---------------------------------------------------------------- IRET into V86, leave by #GP
        V86_RUN v_basic, EFLAGS_VM | 2
        CHECK_EQ [ev_vector], 13, "CLI in V86 with IOPL 0 raises #GP"
        CHECK_EQ [ev_error], 0, "... with error code 0"
        CHECK_EQ [ev_frame], V(v_basic.cli), "frame: EIP of CLI"
        CHECK_EQ [ev_frame + 4], V86_SEG, "frame: CS"
        mov eax, [ev_frame + 8]
        and eax, EFLAGS_VM | IOPL3
        CHECK_EQ eax, EFLAGS_VM, "frame: EFLAGS with VM, IOPL 0"
        CHECK_EQ [ev_frame + 12], V86_SP - 2, "frame: ESP (one word pushed)"
        CHECK_EQ [ev_frame + 16], V86_SEG, "frame: SS"
        CHECK_EQ [ev_frame + 20], 0x0900, "frame: ES"
        CHECK_EQ [ev_frame + 24], V86_SEG, "frame: DS"
        CHECK_EQ [ev_frame + 28], 0xffff, "frame: FS"
        CHECK_EQ [ev_frame + 32], 0x1234, "frame: GS"
        CHECK_EQ [ev_ds], 0, "the handler sees DS = 0"
        CHECK_EQ [ev_es], 0, "... ES = 0"
        CHECK_EQ [ev_fs], 0, "... FS = 0"
        CHECK_EQ [ev_gs], 0, "... GS = 0"
        CHECK_EQ [ev_cs], KERNEL_CS, "... and runs at CPL 0"
        CHECK_EQ [ev_ss], KERNEL_DS, "... on SS0 from the TSS"
        CHECK_EQ [ev_esp], RING0_STACK - 44, "... at ESP0 - 36 (frame) - 4 (error) - 4 (vector)"
        mov eax, [ev_eflags]
        and eax, EFLAGS_VM
        CHECK_EQ eax, 0, "... with VM clear"
        movzx eax, word [V86_BASE + V(v_cs_seen)]
        CHECK_EQ eax, V86_SEG, "in V86, MOV AX, CS gives the segment"
        movzx eax, word [V86_BASE + 0x100]
        CHECK_EQ eax, 0x1234, "a store to DS:0x100 lands at DS*16 + 0x100"
        movzx eax, word [0x9020]
        CHECK_EQ eax, 0x5678, "a store to ES:0x20 with ES = 0x900 lands at 0x9020"
        mov eax, [V86_BASE + V(v_high)]
        CHECK_EQ eax, 0x1badb002, "FS = 0xFFFF: FS:0x10 is linear 0x100000 (no wrap)"
        movzx eax, word [V86_BASE + V(v_pop)]
        CHECK_EQ eax, 0xbeef, "PUSH and POP use SS:SP"

; ---------------------------------------------------------------- IOPL-sensitive instructions
%macro SENSITIVE 2
        V86_RUN %1, EFLAGS_VM | 2
        mov eax, [ev_vector]
        shl eax, 16
        or eax, [ev_error]
        CHECK_EQ eax, 0xd0000, %2
        CHECK_EQ [ev_frame], V(%1), "... EIP of the instruction"
%endmacro
        SENSITIVE v_sti, "STI in V86 with IOPL 0 raises #GP(0)"
        SENSITIVE v_pushf, "PUSHF in V86 with IOPL 0 raises #GP(0)"
        SENSITIVE v_pushfd, "PUSHFD in V86 with IOPL 0 raises #GP(0)"
        SENSITIVE v_popf, "POPF in V86 with IOPL 0 raises #GP(0)"
        SENSITIVE v_int, "INT 0x31 in V86 with IOPL 0 raises #GP(0)"
        SENSITIVE v_iret, "IRET in V86 with IOPL 0 raises #GP(0)"
        SENSITIVE v_hlt, "HLT in V86 raises #GP(0)"
        SENSITIVE v_in_denied, "IN from a port denied in the bitmap raises #GP(0)"
        V86_RUN v_int3, EFLAGS_VM | 2
        CHECK_EQ [ev_vector], 3, "INT3 in V86 with IOPL 0 is not IOPL-sensitive: #BP"
        CHECK_EQ [ev_frame], V(v_int3) + 1, "... a trap with EIP after INT3"
        V86_RUN v_io, EFLAGS_VM | 2
        CHECK_EQ [ev_vector], 6, "the I/O sequence ended with UD2's #UD"
        CHECK_EQ [ev_frame], V(v_io.ud), "... EIP of UD2"
        movzx eax, byte [V86_BASE + V(v_io_byte)]
        CHECK_EQ eax, 0x5a, "IN/OUT on allowed ports at IOPL 0 work in V86 (UART scratch)"
        V86_RUN v_limit, EFLAGS_VM | 2
        mov eax, [ev_vector]
        shl eax, 16
        or eax, [ev_error]
        CHECK_EQ eax, 0xd0000, "a word at DS:0xFFFF crosses the 64 KiB limit: #GP(0)"
        V86_RUN v_sslimit, EFLAGS_VM | 2
        mov eax, [ev_vector]
        shl eax, 16
        or eax, [ev_error]
        CHECK_EQ eax, 0xc0000, "a word at SS:0xFFFF: #SS(0)"

; ---------------------------------------------------------------- IOPL 3, INT n to ring 0 and IRET back
        mov dword [resume_count], 0
        V86_RUN v_iopl3, EFLAGS_VM | IOPL3 | 2
        CHECK_EQ [ev_vector], 6, "IOPL 3 sequence ran to its UD2"
        CHECK_EQ [resume_count], 1, "INT 0x31 at IOPL 3 went to the ring-0 handler and IRET resumed V86"
        CHECK_EQ [int31_eip], V(v_iopl3.after_int), "... its frame held the EIP after INT"
        CHECK_EQ [int31_eflags_vm], EFLAGS_VM, "... and EFLAGS with VM"
        movzx eax, word [V86_BASE + V(v_flags_cli)]
        and eax, 0x200
        CHECK_EQ eax, 0, "CLI at IOPL 3 clears IF in V86"
        mov eax, [V86_BASE + V(v_flags_pushfd)]
        and eax, EFLAGS_VM | IOPL3
        CHECK_EQ eax, IOPL3, "PUSHFD in V86 shows IOPL 3 and VM clear"
        movzx eax, word [V86_BASE + V(v_flags_popf)]
        and eax, IOPL3
        CHECK_EQ eax, IOPL3, "POPF in V86 cannot change IOPL"
        movzx eax, word [V86_BASE + V(v_iret_ok)]
        CHECK_EQ eax, 0x77, "IRET at IOPL 3 in V86 returns like real mode"
        movzx eax, word [V86_BASE + V(v_in_denied3)]
        CHECK_EQ eax, 1, "IOPL 3 does not open ports denied in the bitmap (#GP caught)"

; ---------------------------------------------------------------- entering V86 by a task switch
        mov edi, v86_tss
        xor eax, eax
        mov ecx, 26
        rep stosd
        mov dword [v86_tss + TSS_ESP0], RING0_STACK
        mov dword [v86_tss + TSS_SS0], KERNEL_DS
        mov dword [v86_tss + TSS_EIP], V(v_task)
        mov dword [v86_tss + TSS_EFLAGS], EFLAGS_VM | 2
        mov dword [v86_tss + TSS_ESP], V86_SP
        mov dword [v86_tss + TSS_ES], 0x0900
        mov dword [v86_tss + TSS_CS], V86_SEG
        mov dword [v86_tss + TSS_SS], V86_SEG
        mov dword [v86_tss + TSS_DS], V86_SEG
        mov word [v86_tss + TSS_IOMAP], 0x68
        SET_DESCRIPTOR V86TSS_SEL, v86_tss, 0x67, 0x89, 0
        mov dword [in_task], 1
        jmp V86TSS_SEL:0
.back:  mov dword [in_task], 0
        str eax
        CHECK_EQ eax, TSS_SEL, "back in the first task"
        CHECK_EQ [ev_vector], 13, "the V86 task left by #GP at its HLT"
        CHECK_EQ [ev_frame + 4], V86_SEG, "... frame CS of the V86 task"
        CHECK_EQ [ev_frame + 20], 0x0900, "... frame ES from the TSS"
        mov eax, [ev_frame + 8]
        and eax, EFLAGS_VM
        CHECK_EQ eax, EFLAGS_VM, "... frame EFLAGS with VM: the task switch entered V86"
        movzx eax, word [V86_BASE + V(v_task_cs)]
        CHECK_EQ eax, V86_SEG, "the V86 task saw CS = its segment"
        movzx eax, word [0x9000 + 0x30]
        CHECK_EQ eax, 0x4321, "... and ES from its TSS (ES:0x30 -> 0x9030)"
        CHECK_EQ [ev_tr], V86TSS_SEL, "the ring-0 handler ran in the V86 task"
        TEST_DONE

; v86_call: EAX = V86 IP, EBX = EFLAGS. Returns when v86_common ends the session.
v86_call:
        pushad
        mov [v86_kesp], esp
        push dword 0x1234                       ; GS
        push dword 0xffff                       ; FS
        push dword V86_SEG                      ; DS
        push dword 0x0900                       ; ES
        push dword V86_SEG                      ; SS
        push dword V86_SP                       ; ESP
        push ebx                                ; EFLAGS
        push dword V86_SEG                      ; CS
        push eax                                ; EIP
        iretd
v86_return:
        mov ax, KERNEL_DS
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        popad
        ret

V86_STUB 3, 0
V86_STUB 6, 0
V86_STUB 12, 1
V86_STUB 13, 1
V86_STUB 0x31, 0

; Stack: vector, error, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS.
v86_common:
        push eax
        mov eax, ds
        mov [ss:ev_ds], eax
        mov eax, es
        mov [ss:ev_es], eax
        mov eax, fs
        mov [ss:ev_fs], eax
        mov eax, gs
        mov [ss:ev_gs], eax
        mov ax, KERNEL_DS
        mov ds, ax
        mov es, ax
        pop eax
        mov [ev_esp], esp
        pushad
        mov eax, cs
        mov [ev_cs], eax
        mov eax, ss
        mov [ev_ss], eax
        pushfd
        pop eax
        mov [ev_eflags], eax
        str eax
        mov [ev_tr], eax
        cld
        lea esi, [esp + 32]
        mov eax, [esi]
        cmp eax, 0x31
        je .int31
        mov [ev_vector], eax
        mov eax, [esi + 4]
        mov [ev_error], eax
        add esi, 8
        mov edi, ev_frame
        mov ecx, 9
        rep movsd
        ; V86 code asking to be resumed after a fault (v_recover != 0).
        movzx eax, word [V86_BASE + V(v_recover)]
        test eax, eax
        jz .end
        mov word [V86_BASE + V(v_recover)], 0
        inc word [V86_BASE + V(v_in_denied3)]
        mov [esp + 32 + 8], eax
        jmp .resume
.end:   cmp dword [in_task], 0
        jne .task
        mov esp, [v86_kesp]
        jmp v86_return
.task:  jmp TSS_SEL:0
.int31: mov eax, [esi + 8]
        mov [int31_eip], eax
        mov eax, [esi + 16]
        and eax, EFLAGS_VM
        mov [int31_eflags_vm], eax
        inc dword [resume_count]
.resume:
        popad
        add esp, 8
        iretd

; ---------------------------------------------------------------- 16-bit V86 code
bits 16
v86_code:
v_basic:
        mov ax, cs
        mov [V(v_cs_seen)], ax
        mov word [0x100], 0x1234
        mov word [es:0x20], 0x5678
        mov eax, [fs:0x10]
        mov [V(v_high)], eax
        push word 0xbeef
        pop ax
        mov [V(v_pop)], ax
        push ax
.cli:   cli
v_sti:  sti
v_pushf: pushf
v_pushfd: pushfd
v_popf: popf
v_int:  int 0x31
v_iret: iret
v_hlt:  hlt
v_in_denied: in al, 0x61
v_int3: int3
v_io:   mov dx, COM1_SCR
        mov al, 0x5a
        out dx, al
        xor al, al
        in al, dx
        mov [V(v_io_byte)], al
.ud:    ud2
v_limit:
        mov ax, [0xffff]
v_sslimit:
        mov bp, 0xffff
        mov ax, [bp]
v_iopl3:
        cli
        pushf
        pop word [V(v_flags_cli)]
        sti
        pushfd
        pop dword [V(v_flags_pushfd)]
        pushf
        pop ax
        and ax, ~0x3000
        push ax
        popf
        pushf
        pop word [V(v_flags_popf)]
        int 0x31
.after_int:
        pushf
        push cs
        push word V(.iret_to)
        iret
.iret_to:
        mov word [V(v_iret_ok)], 0x77
        mov word [V(v_recover)], V(.denied_done)
        in al, 0x61
.denied_done:
        ud2
v_task:
        mov ax, cs
        mov [V(v_task_cs)], ax
        mov word [es:0x30], 0x4321
        hlt
        align 4
v_cs_seen:      dw 0
v_pop:          dw 0
v_io_byte:      dw 0
v_flags_cli:    dw 0
v_flags_popf:   dw 0
v_iret_ok:      dw 0
v_recover:      dw 0
v_in_denied3:   dw 0
v_task_cs:      dw 0
        align 4
v_high:         dd 0
v_flags_pushfd: dd 0
v86_code_end:
bits 32

v86_kesp:   dd 0
in_task:    dd 0
ev_vector:  dd 0
ev_error:   dd 0
ev_frame:   times 9 dd 0
ev_ds:      dd 0
ev_es:      dd 0
ev_fs:      dd 0
ev_gs:      dd 0
ev_cs:      dd 0
ev_ss:      dd 0
ev_esp:     dd 0
ev_eflags:  dd 0
ev_tr:      dd 0
resume_count: dd 0
int31_eip:  dd 0
int31_eflags_vm: dd 0
        align 16
v86_tss:    times 104 db 0
        MULTIBOOT_END
