; Privilege levels (SDM Vol. 3A 5.5-5.9, 6.12, 17.3.1.4; Vol. 1 18): ring 3 by IRET, interrupts from
; ring 3 through the TSS stack switch and IRET back, the IOPL rules for CLI/STI/POPF/IRET and port
; I/O, the TSS I/O permission bitmap, privileged instructions at CPL 3, SYSENTER/SYSEXIT, gate DPL
; checks for INT n/INT3/INTO, the STI and MOV SS shadows, single-step traps and HLT.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

%define IRQ4_VECTOR 0x24
%define IOPL3 0x3000
%define EFLAGS_TF 0x100
%define EFLAGS_IF 0x200

; PRIV "description", instruction: the instruction at CPL 3 must raise #GP(0).
%macro PRIV 2+
        TRY %%r
        %2
%%r:    mov eax, [exc_vector]
        shl eax, 16
        or eax, [exc_error]
        CHECK_EQ eax, 0xd0000, %1
%endmacro

; FAULT_CODE: EAX = vector << 16 | error code of the last exception.
%macro FAULT_CODE 0
        mov eax, [exc_vector]
        shl eax, 16
        or eax, [exc_error]
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        ; PIC: master at 0x20, slave at 0x28, everything masked.
        mov al, 0x11
        out 0x20, al
        out 0xa0, al
        mov al, 0x20
        out 0x21, al
        mov al, 0x28
        out 0xa1, al
        mov al, 4
        out 0x21, al
        mov al, 2
        out 0xa1, al
        mov al, 1
        out 0x21, al
        out 0xa1, al
        mov al, 0xff
        out 0x21, al
        out 0xa1, al
        SET_GATE 0x40, r3_handler, 0xee        ; DPL-3 interrupt gate
        SET_GATE 0x41, r3_handler, 0xef        ; DPL-3 trap gate
        SET_GATE IRQ4_VECTOR, irq4_handler, 0x8e
        SET_GATE 1, db_handler, 0x8e
        ; Deny ports 0x60-0x67 to ring 3 in the I/O bitmap.
        mov byte [tss_iomap + 0x60 / 8], 0xff
        ; SYSENTER MSRs.
        xor edx, edx
        mov ecx, 0x174
        mov eax, KERNEL_CS
        wrmsr
        mov ecx, 0x175
        mov eax, sysenter_stack_top
        wrmsr
        mov ecx, 0x176
        mov eax, sysenter_entry
        wrmsr
        mov ecx, 0x174
        rdmsr
        CHECK_EQ eax, KERNEL_CS, "RDMSR reads back IA32_SYSENTER_CS"
        mov ecx, 0x176
        rdmsr
        CHECK_EQ eax, sysenter_entry, "RDMSR reads back IA32_SYSENTER_EIP"

; ---------------------------------------------------------------- ring 3 by IRET, IOPL 0
        sti                                     ; every IRQ is masked at the PIC
        TO_RING3
        mov eax, cs
        CHECK_EQ eax, USER_CS, "IRET to ring 3 loads CS with RPL 3"
        mov eax, ss
        CHECK_EQ eax, USER_DS, "... and SS from the frame"
        mov eax, esp
        CHECK_EQ eax, USER_STACK_TOP, "... and ESP from the frame"

        ; An interrupt from ring 3: the stack comes from SS0:ESP0.
        mov ebx, 0x12345678
        int 0x40
.int_ret:
        mov edx, ds                             ; the handler loaded DS with a DPL-0 selector
        mov ax, USER_DS
        mov ds, ax
        mov es, ax
        CHECK_EQ edx, 0, "IRET to ring 3 nulls DS that held a DPL-0 segment"
        CHECK_EQ [h_cs], KERNEL_CS, "INT from ring 3 runs the handler at CPL 0"
        CHECK_EQ [h_ss], KERNEL_DS, "... on SS0 from the TSS"
        mov eax, [tss + 4]
        sub eax, 20
        CHECK_EQ [h_esp], eax, "... at ESP0 - 20 (SS, ESP, EFLAGS, CS, EIP pushed)"
        CHECK_EQ [h_frame], .int_ret, "frame: EIP after INT"
        CHECK_EQ [h_frame + 4], USER_CS, "frame: CS"
        mov eax, [h_frame + 8]
        and eax, EFLAGS_IF | IOPL3
        CHECK_EQ eax, EFLAGS_IF, "frame: EFLAGS with IF set, IOPL 0"
        CHECK_EQ [h_frame + 12], USER_STACK_TOP, "frame: the ring-3 ESP"
        CHECK_EQ [h_frame + 16], USER_DS, "frame: the ring-3 SS"
        mov eax, [h_eflags]
        and eax, EFLAGS_IF
        CHECK_EQ eax, 0, "an interrupt gate clears IF"
        mov eax, esp
        CHECK_EQ eax, USER_STACK_TOP, "IRET restores the ring-3 ESP"
        int 0x41
        mov ax, USER_DS
        mov ds, ax
        mov es, ax
        mov eax, [h_eflags]
        and eax, EFLAGS_IF
        CHECK_EQ eax, EFLAGS_IF, "a trap gate keeps IF"
        ; An exception from ring 3 with an error code, through the common handler.
        TRY .gp
        mov ax, KERNEL_DS
        mov ds, ax
.gp:    CHECK_EQ [exc_cs], USER_CS, "#GP from ring 3 records CS with RPL 3"

        ; IOPL 0 at CPL 3.
        PRIV "CLI at CPL 3 with IOPL 0 raises #GP(0)", cli
        PRIV "STI at CPL 3 with IOPL 0 raises #GP(0)", sti
        pushfd
        pop eax
        and eax, EFLAGS_IF
        CHECK_EQ eax, EFLAGS_IF, "IF is still set"
        pushfd
        and dword [esp], ~EFLAGS_IF
        or dword [esp], IOPL3 | 1               ; also try IOPL 3 and CF
        popfd
        pushfd
        pop eax
        and eax, EFLAGS_IF | IOPL3 | 1
        CHECK_EQ eax, EFLAGS_IF | 1, "POPF at CPL 3 > IOPL changes neither IF nor IOPL, but CF"
        push dword 0x2                          ; IF clear
        push dword USER_CS
        push dword .iret_same
        iretd
.iret_same:
        pushfd
        pop eax
        and eax, EFLAGS_IF
        CHECK_EQ eax, EFLAGS_IF, "IRET at CPL 3 > IOPL leaves IF alone"
        TRY .io1
        in al, 0x61
.io1:   FAULT_CODE
        CHECK_EQ eax, 0xd0000, "IN from a port denied in the I/O bitmap raises #GP(0)"
        TRY .io2
        mov al, 0
        out 0x67, al
.io2:   FAULT_CODE
        CHECK_EQ eax, 0xd0000, "OUT to a denied port raises #GP(0)"
        TRY .io3
        in al, 0x5f
        in al, 0x68
        mov dx, 0xffff
        in al, dx
        TRY_END
.io3:   CHECK_EQ [exc_vector], -1, "ports 0x5f, 0x68 and 0xffff are allowed"
        TRY .io4
        in ax, 0x5f                             ; 0x5f-0x60
.io4:   FAULT_CODE
        CHECK_EQ eax, 0xd0000, "a word access reaching a denied port raises #GP(0)"
        TRY .io5
        mov dx, 0x5d
        in eax, dx                              ; 0x5d-0x60
.io5:   FAULT_CODE
        CHECK_EQ eax, 0xd0000, "a dword access reaching a denied port raises #GP(0)"
        TRY .io6
        mov dx, 0x62
        mov edi, io_buffer
        insb
.io6:   FAULT_CODE
        CHECK_EQ eax, 0xd0000, "INSB from a denied port raises #GP(0)"
        TRY .io7
        mov dx, 0x64
        mov esi, io_buffer
        outsw
.io7:   FAULT_CODE
        CHECK_EQ eax, 0xd0000, "OUTSW to a denied port raises #GP(0)"
        ; An I/O map base beyond the TSS limit denies every port.
        mov word [tss + 102], 0x4000
        TRY .io8
        mov dx, 0x3f8 + 7                       ; the UART scratch register
        in al, dx
.io8:   mov word [tss + 102], tss_iomap - tss
        FAULT_CODE
        CHECK_EQ eax, 0xd0000, "with the I/O map base beyond the TSS limit every port faults"

        ; Privileged instructions at CPL 3.
        PRIV "HLT at CPL 3 raises #GP(0)", hlt
        PRIV "MOV CR0, EAX at CPL 3 raises #GP(0)", mov cr0, eax
        PRIV "MOV EAX, CR0 at CPL 3 raises #GP(0)", mov eax, cr0
        PRIV "MOV EAX, CR3 at CPL 3 raises #GP(0)", mov eax, cr3
        PRIV "MOV CR4, EAX at CPL 3 raises #GP(0)", mov cr4, eax
        PRIV "MOV DR7, EAX at CPL 3 raises #GP(0)", mov dr7, eax
        PRIV "LGDT at CPL 3 raises #GP(0)", lgdt [gdtr]
        PRIV "LIDT at CPL 3 raises #GP(0)", lidt [idtr]
        PRIV "LLDT at CPL 3 raises #GP(0)", lldt ax
        PRIV "LTR at CPL 3 raises #GP(0)", ltr ax
        PRIV "LMSW at CPL 3 raises #GP(0)", lmsw ax
        PRIV "CLTS at CPL 3 raises #GP(0)", clts
        PRIV "INVLPG at CPL 3 raises #GP(0)", invlpg [0x1000]
        PRIV "INVD at CPL 3 raises #GP(0)", invd
        PRIV "WBINVD at CPL 3 raises #GP(0)", wbinvd
        PRIV "RDMSR at CPL 3 raises #GP(0)", rdmsr
        PRIV "WRMSR at CPL 3 raises #GP(0)", wrmsr
        PRIV "SYSEXIT at CPL 3 raises #GP(0)", sysexit
        TRY .np1
        sgdt [sgdt_buffer]
        sidt [sidt_buffer]
        smsw eax
        str eax
        rdtsc
        TRY_END
.np1:   CHECK_EQ [exc_vector], -1, "SGDT, SIDT, SMSW, STR, RDTSC work at CPL 3"
        CHECK_EQ [sgdt_buffer + 2], gdt, "SGDT at CPL 3 stores the GDT base"
        mov ebx, 0
        str ebx
        CHECK_EQ ebx, TSS_SEL, "STR at CPL 3 gives the TSS selector"

        ; Gate DPL checks for software interrupts.
        TRY .sw1
        int 0x42                                ; gate DPL 0
.sw1:   FAULT_CODE
        CHECK_EQ eax, 0xd0000 | (0x42 * 8 + 2), "INT 0x42 through a DPL-0 gate at CPL 3 raises #GP(0x212)"
        TRY .sw2
        int 13
.sw2:   FAULT_CODE
        CHECK_EQ eax, 0xd0000 | (13 * 8 + 2), "INT 13 at CPL 3 raises #GP(13*8+2), not #GP"
        TRY .sw3
        int3
.sw3:   FAULT_CODE
        CHECK_EQ eax, 0xd0000 | (3 * 8 + 2), "INT3 through a DPL-0 gate at CPL 3 raises #GP(0x1a)"
        TRY .sw4
        mov al, 0x7f
        add al, 1                               ; OF = 1
        into
.sw4:   FAULT_CODE
        CHECK_EQ eax, 0xd0000 | (4 * 8 + 2), "INTO with OF=1 through a DPL-0 gate raises #GP(0x22)"
        TO_RING0

; ---------------------------------------------------------------- ring 0: gates for INT3/INTO, IDT faults
        mov byte [idt + 3 * 8 + 5], 0xee
        mov byte [idt + 4 * 8 + 5], 0xee
        TO_RING3
        TRY .bp1
        int3
.bp_next:
.bp1:   CHECK_EQ [exc_vector], 3, "INT3 through a DPL-3 gate raises #BP at CPL 3"
        CHECK_EQ [exc_eip], .bp_next, "... a trap: EIP after INT3"
        TRY .of1
        mov al, 1
        add al, 1                               ; OF = 0
        into
        TRY_END
.of1:   CHECK_EQ [exc_vector], -1, "INTO with OF=0 does nothing"
        TRY .of2
        mov al, 0x7f
        add al, 1
        into
.of_next:
.of2:   CHECK_EQ [exc_vector], 4, "INTO with OF=1 raises #OF"
        CHECK_EQ [exc_eip], .of_next, "... a trap: EIP after INTO"
        CHECK_EQ [exc_error], 0, "... without an error code"
        ; SYSENTER / SYSEXIT.
        mov ecx, esp
        mov edx, .sysexit_to
        mov ebx, ecx
        sysenter
.sysexit_to:
        mov eax, esp
        CHECK_EQ eax, ebx, "SYSEXIT loads ESP from ECX"
        mov eax, cs
        CHECK_EQ eax, KERNEL_CS + 16 + 3, "SYSEXIT loads CS = SYSENTER_CS + 16 with RPL 3"
        mov eax, ss
        CHECK_EQ eax, KERNEL_CS + 24 + 3, "SYSEXIT loads SS = SYSENTER_CS + 24 with RPL 3"
        CHECK_EQ [se_cs], KERNEL_CS, "SYSENTER loads CS from IA32_SYSENTER_CS"
        CHECK_EQ [se_ss], KERNEL_CS + 8, "... SS = SYSENTER_CS + 8"
        CHECK_EQ [se_esp], sysenter_stack_top, "... ESP from IA32_SYSENTER_ESP"
        mov eax, [se_eflags]
        and eax, EFLAGS_IF
        CHECK_EQ eax, 0, "... and clears IF"
        pushfd
        pop eax
        and eax, EFLAGS_IF
        CHECK_EQ eax, 0, "SYSEXIT does not restore IF"
        TO_RING0
        sti
        xor eax, eax
        xor edx, edx
        mov ecx, 0x174
        wrmsr
        TRY .se1
        sysenter
.se1:   FAULT_CODE
        CHECK_EQ eax, 0xd0000, "SYSENTER with IA32_SYSENTER_CS = 0 raises #GP(0)"
        mov eax, KERNEL_CS
        wrmsr
        ; IDT limit and not-present gates.
        lidt [small_idtr]
        TRY .idt1
        int 0x50
.idt1:  lidt [idtr]
        FAULT_CODE
        CHECK_EQ eax, 0xd0000 | (0x50 * 8 + 2), "INT beyond the IDT limit raises #GP(vector*8+2)"
        mov byte [idt + 0x51 * 8 + 5], 0x0e     ; not present
        TRY .idt2
        int 0x51
.idt2:  FAULT_CODE
        CHECK_EQ eax, 0xb0000 | (0x51 * 8 + 2), "INT through a not-present gate raises #NP(vector*8+2)"
        mov byte [idt + 0x52 * 8 + 5], 0x8c     ; a call-gate type in the IDT
        TRY .idt3
        int 0x52
.idt3:  FAULT_CODE
        CHECK_EQ eax, 0xd0000 | (0x52 * 8 + 2), "INT through a non-gate IDT type raises #GP(vector*8+2)"
        ; RDTSC with CR4.TSD at CPL 3.
        mov eax, cr4
        or eax, 4
        mov cr4, eax
        TO_RING3
        PRIV "RDTSC at CPL 3 with CR4.TSD raises #GP(0)", rdtsc
        TO_RING0
        mov eax, cr4
        and eax, ~4
        mov cr4, eax

; ---------------------------------------------------------------- ring 3 with IOPL 3
        pushfd
        or dword [esp], IOPL3
        popfd
        TO_RING3
        TRY .i3a
        cli
        pushfd
        pop ebx
        sti
        pushfd
        pop ecx
        in al, 0x61                             ; denied in the bitmap, but CPL <= IOPL
        TRY_END
.i3a:   CHECK_EQ [exc_vector], -1, "CLI, STI and IN at CPL 3 with IOPL 3 do not fault"
        and ebx, EFLAGS_IF
        CHECK_EQ ebx, 0, "CLI clears IF at CPL 3 with IOPL 3"
        and ecx, EFLAGS_IF
        CHECK_EQ ecx, EFLAGS_IF, "STI sets IF at CPL 3 with IOPL 3"
        pushfd
        and dword [esp], ~(EFLAGS_IF | IOPL3)
        popfd
        pushfd
        pop eax
        and eax, EFLAGS_IF | IOPL3
        CHECK_EQ eax, IOPL3, "POPF at CPL 3 = IOPL clears IF but cannot change IOPL"
        sti
        TO_RING0
        pushfd
        and dword [esp], ~IOPL3
        popfd
        pushfd
        pop eax
        and eax, IOPL3
        CHECK_EQ eax, 0, "POPF at CPL 0 changes IOPL"

; ---------------------------------------------------------------- interrupt shadows, HLT
        cli
        mov dx, 0x3f8 + 4
        mov al, 0x0b                            ; DTR, RTS, OUT2 (the IRQ line to the PIC)
        out dx, al
        mov al, 0xef                            ; unmask IRQ4
        out 0x21, al
        mov dword [irq_eip], 0
        mov dx, 0x3f8 + 1
        mov al, 2                               ; IER.ETBEI: THR empty -> IRQ4 pending now
        out dx, al
        nop
        nop
        CHECK_EQ [irq_eip], 0, "no interrupt while IF = 0"
        xor ecx, ecx
        sti
.sti1:  mov ecx, 1
.sti2:  mov ecx, 2
        CHECK_EQ [irq_eip], .sti2, "an interrupt pending at STI is taken after the next instruction"
        CHECK_EQ [irq_ecx], 1, "... which ran before it"
        cli
        mov dword [irq_eip], 0
        mov dx, 0x3f8 + 1
        mov al, 2
        out dx, al
        sti
        hlt
.hlt1:  CHECK_EQ [irq_eip], .hlt1, "STI; HLT: HLT runs in the shadow and the interrupt wakes it"
        cli
        mov al, 0xff
        out 0x21, al
        mov dx, 0x3f8 + 4
        mov al, 0x03
        out dx, al

; ---------------------------------------------------------------- single-step traps
        ; The trap follows TF as it was when each instruction began (SDM Vol. 3A 17.3.1.4): POPF
        ; setting TF traps after the next instruction, POPF clearing it still traps. MOV SS holds
        ; the trap over the following instruction (6.8.3): one #DB, after the NOP behind it.
        mov dword [db_count], 0
        mov ax, ss
        pushfd
        or dword [esp], EFLAGS_TF
        popfd
.t1:    nop
.t2:    mov ss, ax
.t3:    nop
.t4:    pushfd
.t5:    and dword [esp], ~EFLAGS_TF
.t6:    popfd
.t7:    CHECK_EQ [db_count], 5, "TF set by POPF: five single-step traps up to the POPF clearing it"
        CHECK_EQ [db_eips], .t2, "... none after the POPF setting TF, the first after the next instruction"
        CHECK_EQ [db_eips + 4], .t4, "... none after MOV SS: held over the instruction behind it"
        CHECK_EQ [db_eips + 8], .t5, "... after PUSHFD"
        CHECK_EQ [db_eips + 12], .t6, "... after AND"
        CHECK_EQ [db_eips + 16], .t7, "... and after the POPF that clears TF"
        ; INT n clears TF on entering its handler (which runs unstepped) and raises no single-step
        ; trap itself; the handler's IRET restores TF, and the instruction after INT n traps.
        mov dword [db_count], 0
        mov dword [h_eflags], -1
        mov dword [h_frame + 8], 0
        pushfd
        or dword [esp], EFLAGS_TF
        popfd
.u1:    nop
.u2:    int 0x41
.u3:    nop
.u4:    pushfd
.u5:    and dword [esp], ~EFLAGS_TF
.u6:    popfd
.u7:    CHECK_EQ [db_count], 5, "TF across INT n: five single-step traps"
        CHECK_EQ [db_eips], .u2, "... after the NOP"
        CHECK_EQ [db_eips + 4], .u4, "... none after INT n or in its handler, the next after the NOP behind it"
        CHECK_EQ [db_eips + 8], .u5, "... after PUSHFD"
        CHECK_EQ [db_eips + 12], .u6, "... after AND"
        CHECK_EQ [db_eips + 16], .u7, "... and after the POPF that clears TF"
        mov eax, [h_eflags]
        and eax, EFLAGS_TF
        CHECK_EQ eax, 0, "INT n runs its handler with TF clear"
        mov eax, [h_frame + 8]
        and eax, EFLAGS_TF
        CHECK_EQ eax, EFLAGS_TF, "... and pushes EFLAGS with TF set"
        TEST_DONE

; A DPL-3 gate's handler: records the stack, then loads DS/ES with the DPL-0 data segment.
r3_handler:
        mov [h_esp], esp
        mov eax, ss
        mov [h_ss], eax
        mov eax, cs
        mov [h_cs], eax
        pushfd
        pop eax
        mov [h_eflags], eax
        cld
        mov esi, esp
        mov edi, h_frame
        mov ecx, 5
        rep movsd
        mov ax, KERNEL_DS
        mov ds, ax
        mov es, ax
        iretd

irq4_handler:
        pushad
        push ds
        mov ax, KERNEL_DS
        mov ds, ax
        mov eax, [esp + 36]
        mov [irq_eip], eax
        mov [irq_ecx], ecx
        mov dx, 0x3f8 + 1
        xor al, al
        out dx, al                              ; IER off: the THRE source goes away
        mov al, 0x20
        out 0x20, al                            ; EOI
        pop ds
        popad
        iretd

db_handler:
        push eax
        push ebx
        mov eax, [esp + 8]
        mov ebx, [db_count]
        cmp ebx, 16
        jae .full
        mov [db_eips + ebx * 4], eax
.full:  inc dword [db_count]
        pop ebx
        pop eax
        iretd

sysenter_entry:
        mov eax, cs
        mov [se_cs], eax
        mov eax, ss
        mov [se_ss], eax
        mov [se_esp], esp
        pushfd
        pop eax
        mov [se_eflags], eax
        sysexit

small_idtr: dw 0x40 * 8 - 1
            dd idt
h_esp:     dd 0
h_ss:      dd 0
h_cs:      dd 0
h_eflags:  dd 0
h_frame:   times 5 dd 0
se_cs:     dd 0
se_ss:     dd 0
se_esp:    dd 0
se_eflags: dd 0
irq_eip:   dd 0
irq_ecx:   dd 0
db_count:  dd 0
db_eips:   times 16 dd 0
io_buffer: times 8 db 0
sgdt_buffer: times 8 db 0
sidt_buffer: times 8 db 0
        align 16
        times 256 db 0
sysenter_stack_top:
        MULTIBOOT_END
