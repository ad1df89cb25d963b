; Hardware task switching (SDM Vol. 3A chapter 7): CALL and JMP to a TSS and to a task gate in the
; GDT, task gates in the IDT for INT n and for exceptions (with an error code), IRET with NT back
; through the back link, busy bits, a 16-bit TSS, the new task's I/O bitmap and ring-0 stack, and
; #TS/#NP/#GP conditions.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

%define B_SEL      0x40                 ; 32-bit TSS of task B
%define GATE_B_SEL 0x48                 ; task gate (GDT) to task B
%define C_SEL      0x50                 ; task C, reached through IDT task gates
%define T16_SEL    0x58                 ; 16-bit TSS
%define BAD_SEL    0x60                 ; scratch (bad TSS descriptors)
%define E_SEL      0x68                 ; ring-3 task with its own I/O bitmap
%define CODE16T_SEL 0x70                ; code segment for the 16-bit task (base = its code)
%define D_SEL      0x78                 ; task D, #GP through a task gate (error code)
%define NT_FLAG    0x4000

; TSS_DESC selector, tss label, limit, type (0x89 available 32-bit, 0x81 16-bit, DPL 0)
%macro TSS_DESC 4
        SET_DESCRIPTOR %1, %2, %3, %4, 0
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        mov edi, tss_b
        mov eax, task_b
        mov ebx, stack_b_top
        call init_tss32
        mov dword [tss_b + TSS_EBX], 0xb0b0b0b0
        TSS_DESC B_SEL, tss_b, 0x67, 0x89
        mov dword [gdt + GATE_B_SEL], B_SEL << 16
        mov dword [gdt + GATE_B_SEL + 4], 0x8500 ; task gate, DPL 0
        mov edi, tss_c
        mov eax, task_c
        mov ebx, stack_c_top
        call init_tss32
        TSS_DESC C_SEL, tss_c, 0x67, 0x89
        mov edi, tss_d
        mov eax, task_d
        mov ebx, stack_d_top
        call init_tss32
        TSS_DESC D_SEL, tss_d, 0x67, 0x89

; ---------------------------------------------------------------- CALL to a TSS, IRET back
        mov esi, 0x51515151
        mov eax, cr0
        and eax, ~8
        mov cr0, eax                            ; CR0.TS clear before the switch
        call B_SEL:0
.after_call:
        mov eax, esi
        CHECK_EQ eax, 0x51515151, "IRET back restores the caller's registers"
        str eax
        CHECK_EQ eax, TSS_SEL, "... and TR"
        CHECK_EQ [b_tr], B_SEL, "CALL to a TSS: TR names the new task"
        CHECK_EQ [b_ebx], 0xb0b0b0b0, "... registers come from the new TSS"
        CHECK_EQ [b_esp], stack_b_top, "... and ESP"
        CHECK_EQ [b_link], TSS_SEL, "... the back link holds the caller's TSS"
        mov eax, [b_eflags]
        and eax, NT_FLAG
        CHECK_EQ eax, NT_FLAG, "... NT is set in the called task"
        CHECK_EQ [b_busy_self], 0x8b, "... its TSS descriptor is busy"
        CHECK_EQ [b_busy_caller], 0x8b, "... and the caller's stays busy"
        mov eax, [b_cr0]
        and eax, 8
        CHECK_EQ eax, 8, "... CR0.TS is set by the switch"
        movzx eax, byte [gdt + B_SEL + 5]
        CHECK_EQ eax, 0x89, "after IRET the returning task is no longer busy"
        CHECK_EQ [tss + TSS_EIP], .after_call, "the caller's TSS saved EIP after the CALL"
        CHECK_EQ [tss_b + TSS_EIP], task_b.after_iret, "task B's TSS saved EIP after its IRET"
        pushfd
        pop eax
        and eax, NT_FLAG
        CHECK_EQ eax, 0, "NT is clear again in the caller"

; ---------------------------------------------------------------- JMP to a TSS, JMP back
        mov dword [b_mode], 1
        mov word [tss_b], 0x1234                ; JMP does not write the back link
        jmp B_SEL:0
.after_jmp:
        CHECK_EQ [b_tr], B_SEL, "JMP to a TSS switches to it"
        CHECK_EQ [b_link], 0x1234, "... leaving the back link alone"
        mov eax, [b_eflags]
        and eax, NT_FLAG
        CHECK_EQ eax, 0, "... NT clear in the new task"
        CHECK_EQ [b_busy_caller], 0x89, "... the old task is no longer busy"
        CHECK_EQ [b_busy_self], 0x8b, "... the new one is"
        movzx eax, byte [gdt + B_SEL + 5]
        CHECK_EQ eax, 0x89, "JMP back: task B is not busy"
        movzx eax, byte [gdt + TSS_SEL + 5]
        CHECK_EQ eax, 0x8b, "... and this task is busy again"

; ---------------------------------------------------------------- task gate in the GDT
        mov dword [b_mode], 0
        mov dword [b_tr], 0
        call GATE_B_SEL:0
        CHECK_EQ [b_tr], B_SEL, "CALL through a task gate in the GDT"
        CHECK_EQ [b_link], TSS_SEL, "... back link set"
        mov dword [b_mode], 1
        mov dword [b_tr], 0
        jmp GATE_B_SEL:0
        CHECK_EQ [b_tr], B_SEL, "JMP through a task gate in the GDT"
        mov dword [b_mode], 0

; ---------------------------------------------------------------- refused switches
        TRY .r1
        call TSS_SEL:0
.r1:    CHECK_EQ [exc_vector], 13, "CALL to the busy current TSS raises #GP"
        CHECK_EQ [exc_error], TSS_SEL, "... with the TSS selector as error code"
        TRY .r2
        jmp TSS_SEL:0
.r2:    CHECK_EQ [exc_vector], 13, "JMP to a busy TSS raises #GP"
        TSS_DESC BAD_SEL, tss_bad, 0x50, 0x89   ; limit below 0x67
        TRY .r3
        call BAD_SEL:0
.r3:    CHECK_EQ [exc_vector], 10, "a 32-bit TSS with limit < 0x67 raises #TS"
        CHECK_EQ [exc_error], BAD_SEL, "... with the TSS selector as error code"
        TSS_DESC BAD_SEL, tss_bad, 0x67, 0x09   ; not present
        TRY .r4
        call BAD_SEL:0
.r4:    CHECK_EQ [exc_vector], 11, "a not-present TSS raises #NP"
        CHECK_EQ [exc_error], BAD_SEL, "... with the TSS selector as error code"
        mov dword [gdt + BAD_SEL], KERNEL_DS << 16 ; a task gate naming a data segment
        mov dword [gdt + BAD_SEL + 4], 0x8500
        TRY .r5
        call BAD_SEL:0
.r5:    CHECK_EQ [exc_vector], 13, "a task gate naming a data segment raises #GP"
        CHECK_EQ [exc_error], KERNEL_DS, "... with the named selector as error code"
        ; IRET with NT and a back link to a TSS that is not busy: #TS(back link).
        mov word [tss], B_SEL
        TRY .r6
        pushfd
        or dword [esp], NT_FLAG
        popfd
        iretd
.r6:    pushfd
        and dword [esp], ~NT_FLAG
        popfd
        CHECK_EQ [exc_vector], 10, "IRET with NT to a non-busy TSS raises #TS"
        CHECK_EQ [exc_error], B_SEL, "... with the back link as error code"
        TO_RING3
        TRY .r7
        call GATE_B_SEL:0
.r7:    CHECK_EQ [exc_vector], 13, "a task gate with DPL 0 from CPL 3 raises #GP"
        CHECK_EQ [exc_error], GATE_B_SEL, "... with the gate selector as error code"
        TRY .r8
        jmp B_SEL:0
.r8:    CHECK_EQ [exc_vector], 13, "JMP to a DPL-0 TSS from CPL 3 raises #GP"
        CHECK_EQ [exc_error], B_SEL, "... with the TSS selector as error code"
        TO_RING0

; ---------------------------------------------------------------- IDT task gates
        SET_TASK_GATE 0x60, C_SEL
        mov dword [c_runs], 0
        int 0x60
.after_int:
        CHECK_EQ [c_runs], 1, "INT n through an IDT task gate runs the task"
        CHECK_EQ [c_tr], C_SEL, "... with TR set"
        CHECK_EQ [c_link], TSS_SEL, "... and the back link to the interrupted task"
        mov eax, [c_eflags]
        and eax, NT_FLAG
        CHECK_EQ eax, NT_FLAG, "... NT set"
        CHECK_EQ [c_esp], stack_c_top, "... no error code pushed for INT n"
        CHECK_EQ [c_saved_eip], .after_int, "the interrupted task's EIP is after INT"
        ; #UD through a task gate: the saved EIP is the faulting instruction's.
        mov eax, [idt + 6 * 8]
        mov [saved_gate], eax
        mov eax, [idt + 6 * 8 + 4]
        mov [saved_gate + 4], eax
        SET_TASK_GATE 6, C_SEL
        mov dword [c_fixup], 2
.ud:    ud2
        CHECK_EQ [c_runs], 2, "#UD through an IDT task gate runs the task"
        CHECK_EQ [c_saved_eip], .ud, "... the old task's saved EIP is the faulting UD2"
        mov eax, [saved_gate]
        mov [idt + 6 * 8], eax
        mov eax, [saved_gate + 4]
        mov [idt + 6 * 8 + 4], eax
        mov dword [c_fixup], 0
        ; #GP with an error code through a task gate: pushed on the new task's stack.
        SET_TASK_GATE 13, D_SEL
.gp:    mov ax, KERNEL_DS | 3
        mov ds, ax
        CHECK_EQ [d_error], KERNEL_DS, "#GP through a task gate pushes the error code on the new task's stack"
        CHECK_EQ [d_saved_eip], .gp + 4, "... the old task's EIP is the faulting instruction"
        CHECK_EQ [d_tr], D_SEL, "... in task D"
        mov dword [idt + 13 * 8], 0             ; back to the common stub
        mov eax, exc_stubs + 13 * 16
        mov [idt + 13 * 8], ax
        mov word [idt + 13 * 8 + 2], KERNEL_CS
        mov word [idt + 13 * 8 + 4], 0x8e00
        shr eax, 16
        mov [idt + 13 * 8 + 6], ax

; ---------------------------------------------------------------- a 16-bit TSS
        SET_DESCRIPTOR CODE16T_SEL, task16, 0xffff, 0x9a, 0x4  ; 32-bit code at task16
        mov word [tss16 + 0x0e], 0              ; IP
        mov word [tss16 + 0x10], 2              ; FLAGS
        mov word [tss16 + 0x12], 0x1616         ; AX
        mov word [tss16 + 0x18], 0x1234         ; BX
        mov word [tss16 + 0x1a], 0x200          ; SP (in the SS below)
        mov word [tss16 + 0x22], KERNEL_DS      ; ES
        mov word [tss16 + 0x24], CODE16T_SEL    ; CS
        mov word [tss16 + 0x26], KERNEL_DS      ; SS
        mov word [tss16 + 0x28], KERNEL_DS      ; DS
        mov word [tss16 + 0x2a], 0              ; LDT
        TSS_DESC T16_SEL, tss16, 0x2b, 0x81
        mov dword [t16_tr], 0
        mov ebx, 0xabcd0000
        call T16_SEL:0
        CHECK_EQ [t16_tr], T16_SEL, "CALL to a 16-bit TSS switches to it"
        CHECK_EQ [t16_ax], 0x1616, "... AX comes from the 16-bit TSS"
        movzx eax, word [tss16]
        CHECK_EQ eax, TSS_SEL, "... the 16-bit back link is set"
        movzx eax, word [tss16 + 0x0e]
        CHECK_EQ eax, task16.after_iret - task16, "IRET from it saves the 16-bit IP"
        movzx eax, byte [gdt + T16_SEL + 5]
        CHECK_EQ eax, 0x81, "... and leaves its descriptor available (type 1)"
        mov ebx, [t16_bx]
        and ebx, 0xffff
        CHECK_EQ ebx, 0x1234, "... BX was loaded from the 16-bit TSS"
        TSS_DESC T16_SEL, tss16, 0x2a, 0x81
        TRY .t16bad
        call T16_SEL:0
.t16bad:
        CHECK_EQ [exc_vector], 10, "a 16-bit TSS with limit < 0x2b raises #TS"

; ---------------------------------------------------------------- ring-3 task with its own I/O bitmap
        mov edi, tss_e
        mov eax, task_e
        mov ebx, stack_e3_top
        call init_tss32
        mov word [tss_e + TSS_CS], USER_CS
        mov word [tss_e + TSS_SS], USER_DS
        mov word [tss_e + TSS_ES], USER_DS
        mov word [tss_e + TSS_DS], USER_DS
        mov word [tss_e + TSS_FS], USER_DS
        mov word [tss_e + TSS_GS], USER_DS
        mov dword [tss_e + TSS_ESP0], stack_e0_top
        mov dword [tss_e + TSS_SS0], KERNEL_DS
        mov word [tss_e + TSS_IOMAP], tss_e_iomap - tss_e
        mov byte [tss_e_iomap + 0x80 / 8], 1     ; deny port 0x80
        TSS_DESC E_SEL, tss_e, tss_e_end - tss_e - 1, 0x89
        SET_GATE 0x41, e_int_handler, 0xee
        call E_SEL:0
        CHECK_EQ [e_cs], USER_CS, "a task switch to a TSS with CS RPL 3 runs at CPL 3"
        CHECK_EQ [e_ok_vector], -1, "... port 0x81, allowed in its I/O bitmap, works"
        CHECK_EQ [e_deny_vector], 13, "... port 0x80, denied in its bitmap, raises #GP"
        CHECK_EQ [e_beyond_vector], 13, "... port 0x500, beyond its bitmap, raises #GP"
        mov eax, stack_e0_top - 20
        CHECK_EQ [e_int_esp], eax, "... INT from its ring 3 uses its TSS's SS0:ESP0"
        CHECK_EQ [e_int_ss], KERNEL_DS, "... and SS0"
        str eax
        CHECK_EQ eax, TSS_SEL, "IRET at CPL 3 with NT returns to the calling task"
        TEST_DONE

; init_tss32: EDI = TSS, EAX = EIP, EBX = ESP: ring-0 flat segments, EFLAGS 2, no I/O bitmap.
init_tss32:
        push eax
        push ecx
        push edi
        push eax
        xor eax, eax
        mov ecx, 26
        rep stosd
        pop eax
        pop edi
        mov [edi + 0x20], eax                   ; EIP
        mov dword [edi + 0x24], 2               ; EFLAGS
        mov [edi + 0x38], ebx                   ; ESP
        mov eax, cr3
        mov [edi + 0x1c], eax
        mov dword [edi + 0x48], KERNEL_DS       ; ES
        mov dword [edi + 0x4c], KERNEL_CS
        mov dword [edi + 0x50], KERNEL_DS       ; SS
        mov dword [edi + 0x54], KERNEL_DS       ; DS
        mov dword [edi + 0x58], KERNEL_DS       ; FS
        mov dword [edi + 0x5c], KERNEL_DS       ; GS
        mov word [edi + 0x66], 0x68             ; I/O map base at the limit: no bitmap
        pop ecx
        pop eax
        ret

; Task B: records its view, then returns by IRET (b_mode 0) or by JMP to the first task.
task_b:
        str eax
        mov [b_tr], eax
        mov [b_ebx], ebx
        mov [b_esp], esp
        pushfd
        pop eax
        mov [b_eflags], eax
        movzx eax, word [tss_b]
        mov [b_link], eax
        movzx eax, byte [gdt + B_SEL + 5]
        mov [b_busy_self], eax
        movzx eax, byte [gdt + TSS_SEL + 5]
        mov [b_busy_caller], eax
        mov eax, cr0
        mov [b_cr0], eax
        cmp dword [b_mode], 0
        jne .jmp
        iretd
.after_iret:
        jmp task_b
.jmp:   jmp TSS_SEL:0
        jmp task_b

; Task C: INT n and #UD through IDT task gates. Adds c_fixup to the interrupted EIP.
task_c:
        inc dword [c_runs]
        str eax
        mov [c_tr], eax
        mov [c_esp], esp
        pushfd
        pop eax
        mov [c_eflags], eax
        movzx eax, word [tss_c]
        mov [c_link], eax
        mov eax, [tss + TSS_EIP]
        mov [c_saved_eip], eax
        mov eax, [c_fixup]
        add [tss + TSS_EIP], eax
        iretd
        jmp task_c

; Task D: #GP through a task gate; the error code is on its stack. Skips the 2-byte MOV DS
; (after the 4-byte MOV AX) and restores DS in the saved state.
task_d:
        pop eax
        mov [d_error], eax
        str eax
        mov [d_tr], eax
        mov eax, [tss + TSS_EIP]
        mov [d_saved_eip], eax
        add dword [tss + TSS_EIP], 2
        iretd
        jmp task_d

; The 16-bit task: runs in CODE16T_SEL (base task16), records TR, AX and BX, IRETs back.
task16:
        movzx ecx, ax
        mov [t16_ax], ecx
        str eax
        mov [t16_tr], eax
        mov [t16_bx], ebx
        iretd
.after_iret:
        jmp CODE16T_SEL:0

; Task E at CPL 3 with its own I/O bitmap and ring-0 stack.
task_e:
        mov eax, cs
        mov [e_cs], eax
        TRY .a
        in al, 0x81
        TRY_END
.a:     mov eax, [exc_vector]
        mov [e_ok_vector], eax
        TRY .b
        in al, 0x80
.b:     mov eax, [exc_vector]
        mov [e_deny_vector], eax
        TRY .c
        mov dx, 0x500
        in al, dx
.c:     mov eax, [exc_vector]
        mov [e_beyond_vector], eax
        int 0x41
        iretd
        jmp task_e

e_int_handler:
        mov [e_int_esp], esp
        push eax
        mov eax, ss
        mov [e_int_ss], eax
        pop eax
        iretd

b_mode:        dd 0
b_tr:          dd 0
b_ebx:         dd 0
b_esp:         dd 0
b_eflags:      dd 0
b_link:        dd 0
b_busy_self:   dd 0
b_busy_caller: dd 0
b_cr0:         dd 0
c_runs:        dd 0
c_tr:          dd 0
c_esp:         dd 0
c_eflags:      dd 0
c_link:        dd 0
c_saved_eip:   dd 0
c_fixup:       dd 0
d_error:       dd 0
d_tr:          dd 0
d_saved_eip:   dd 0
t16_tr:        dd 0
t16_ax:        dd 0
t16_bx:        dd 0
e_cs:          dd 0
e_ok_vector:   dd 0
e_deny_vector: dd 0
e_beyond_vector: dd 0
e_int_esp:     dd 0
e_int_ss:      dd 0
saved_gate:    dd 0, 0

        align 16
tss_b:  times 104 db 0
tss_c:  times 104 db 0
tss_d:  times 104 db 0
tss_bad: times 104 db 0
tss16:  times 44 db 0
        align 16
tss_e:  times 104 db 0
tss_e_iomap:
        times 0x400 / 8 db 0                    ; ports 0-0x3ff
        db 0xff
tss_e_end:
        align 16
        times 512 db 0
stack_b_top:
        times 512 db 0
stack_c_top:
        times 512 db 0
stack_d_top:
        times 512 db 0
stack_e3_top:
        times 512 db 0
stack_e0_top:
        MULTIBOOT_END
