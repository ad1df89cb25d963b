; Segment loads and their faults (SDM Vol. 3A 5.4-5.10, Vol. 2 MOV/LxS/JMP/CALL/RET/LAR/LSL/
; VERR/VERW/ARPL/LLDT): null selectors, the GDT and LDT limits, present bits, SS rules, limit
; checks on expand-up and expand-down segments, the LDT, the ZF-reporting descriptor checks, far
; transfers at the same privilege, and a call gate from ring 3 to ring 0 copying parameters.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

%define NP_SEL      0x40                ; scratch descriptors (rewritten by the tests)
%define EXPD_SEL    0x48                ; expand-down data, B=1
%define EXPD16_SEL  0x50                ; expand-down data, B=0
%define CODE2_SEL   0x58                ; 32-bit code with base 0x1000
%define GATE_SEL    0x60                ; call gate, DPL 3, two parameters
%define LDT_SEL     0x68                ; the LDT
%define SCRATCH_SEL 0x70
%define SCRATCH2_SEL 0x78
%define DATA_BASE   0x200000

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init

; ---------------------------------------------------------------- null selectors
        TRY .f1
        xor eax, eax
        mov fs, ax
        TRY_END
.f1:    CHECK_EQ [exc_vector], -1, "loading FS with the null selector does not fault"
        mov eax, fs
        CHECK_EQ eax, 0, "... and FS reads back 0"
        TRY .f2
        mov eax, [fs:0x1000]
.f2:    CHECK_EQ [exc_vector], 13, "a memory access through a null FS raises #GP"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        TRY .f3
        mov ax, 3                       ; null with RPL 3
        mov gs, ax
        TRY_END
.f3:    CHECK_EQ [exc_vector], -1, "null selector with RPL 3 loads into GS"
        TRY .f4
        xor eax, eax
        mov ss, ax
.f4:    CHECK_EQ [exc_vector], 13, "loading SS with the null selector raises #GP"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        mov ax, KERNEL_DS
        mov fs, ax
        mov gs, ax

; ---------------------------------------------------------------- table limit
        TRY .l1
        mov ax, 0x80                    ; the GDT holds 16 entries (limit 0x7f)
        mov es, ax
.l1:    CHECK_EQ [exc_vector], 13, "a selector beyond the GDT limit raises #GP"
        CHECK_EQ [exc_error], 0x80, "... with the selector as error code"
        TRY .l2
        mov ax, 0xfffb                  ; far beyond, RPL 3
        mov es, ax
.l2:    CHECK_EQ [exc_vector], 13, "a selector far beyond the GDT limit raises #GP"
        CHECK_EQ [exc_error], 0xfff8, "... error code without the RPL bits"
        TRY .l3
        mov ax, 0x0c                    ; LDT selector, no LDT loaded
        mov es, ax
.l3:    CHECK_EQ [exc_vector], 13, "an LDT selector with a null LDTR raises #GP"
        CHECK_EQ [exc_error], 0x0c, "... with the selector (TI set) as error code"
        mov ax, KERNEL_DS
        mov es, ax

; ---------------------------------------------------------------- not present, types, privilege
        SET_DESCRIPTOR NP_SEL, 0, 0xfffff, 0x12, 0xc      ; data RW, DPL 0, not present
        TRY .p1
        mov ax, NP_SEL
        mov ds, ax
.p1:    CHECK_EQ [exc_vector], 11, "loading DS with a not-present segment raises #NP"
        CHECK_EQ [exc_error], NP_SEL, "... with the selector as error code"
        TRY .p2
        mov ax, NP_SEL
        mov ss, ax
.p2:    CHECK_EQ [exc_vector], 12, "loading SS with a not-present segment raises #SS"
        CHECK_EQ [exc_error], NP_SEL, "... with the selector as error code"
        TRY .p3
        mov ax, USER_DS                 ; RPL 3, DPL 3 at CPL 0
        mov ss, ax
.p3:    CHECK_EQ [exc_vector], 13, "SS with RPL and DPL 3 at CPL 0 raises #GP"
        CHECK_EQ [exc_error], USER_DS & 0xfffc, "... with the selector as error code"
        TRY .p4
        mov ax, USER_DS & 0xfffc        ; RPL 0, DPL 3
        mov ss, ax
.p4:    CHECK_EQ [exc_vector], 13, "SS with DPL 3 != CPL 0 raises #GP"
        CHECK_EQ [exc_error], 0x20, "... error code 0x20"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x90, 0xc ; data read-only, DPL 0
        TRY .p5
        mov ax, SCRATCH_SEL
        mov ss, ax
.p5:    CHECK_EQ [exc_vector], 13, "SS with a read-only data segment raises #GP"
        CHECK_EQ [exc_error], SCRATCH_SEL, "... with the selector as error code"
        TRY .p6
        mov ax, SCRATCH_SEL
        mov es, ax
        TRY_END
.p6:    CHECK_EQ [exc_vector], -1, "ES takes a read-only data segment"
        TRY .p7
        mov dword [es:DATA_BASE], 1
.p7:    CHECK_EQ [exc_vector], 13, "writing through a read-only ES raises #GP"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x98, 0xc ; code execute-only
        TRY .p8
        mov ax, SCRATCH_SEL
        mov es, ax
.p8:    CHECK_EQ [exc_vector], 13, "ES with an execute-only code segment raises #GP"
        CHECK_EQ [exc_error], SCRATCH_SEL, "... with the selector as error code"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x9a, 0xc ; code execute/read
        TRY .p9
        mov ax, SCRATCH_SEL
        mov es, ax
        TRY_END
.p9:    CHECK_EQ [exc_vector], -1, "ES takes a readable code segment"
        mov eax, [es:start]
        CHECK_EQ eax, [start], "... and reads through it"
        TRY .p10
        mov [es:DATA_BASE], eax
.p10:   CHECK_EQ [exc_vector], 13, "writing through a code segment in ES raises #GP(0)"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        TRY .p11
        mov ax, TSS_SEL
        mov es, ax
.p11:   CHECK_EQ [exc_vector], 13, "ES with a TSS descriptor raises #GP"
        CHECK_EQ [exc_error], TSS_SEL, "... with the selector as error code"
        TRY .p12
        mov ax, KERNEL_DS | 3           ; RPL 3 > DPL 0
        mov es, ax
.p12:   CHECK_EQ [exc_vector], 13, "ES with RPL 3 on a DPL-0 segment raises #GP"
        CHECK_EQ [exc_error], KERNEL_DS, "... with the selector as error code"
        TRY .p13
        mov ax, USER_DS                 ; DPL 3 at CPL 0: allowed
        mov es, ax
        TRY_END
.p13:   CHECK_EQ [exc_vector], -1, "ES takes a DPL-3 data segment at CPL 0"
        mov eax, es
        CHECK_EQ eax, USER_DS, "... and keeps the RPL in the selector"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x9e, 0xc ; conforming readable code, DPL 0
        TRY .p14
        mov ax, SCRATCH_SEL | 3
        mov es, ax
        TRY_END
.p14:   CHECK_EQ [exc_vector], -1, "ES takes a conforming readable code segment with RPL 3 > DPL"
        mov ax, KERNEL_DS
        mov es, ax
        ; The accessed bit is set by a load.
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x92, 0xc
        mov ax, SCRATCH_SEL
        mov es, ax
        movzx eax, byte [gdt + SCRATCH_SEL + 5]
        CHECK_EQ eax, 0x93, "loading a segment sets its descriptor's accessed bit"
        mov ax, KERNEL_DS
        mov es, ax

; ---------------------------------------------------------------- limits
        mov dword [DATA_BASE + 0xffc], 0x11223344
        mov dword [DATA_BASE + 0x1000], 0x55667788
        SET_DESCRIPTOR SCRATCH_SEL, DATA_BASE, 0xfff, 0x92, 0x4  ; expand-up, byte granular, 4 KiB
        mov ax, SCRATCH_SEL
        mov es, ax
        mov eax, [es:0xffc]
        CHECK_EQ eax, 0x11223344, "expand-up: the last dword inside the limit reads"
        TRY .m1
        mov eax, [es:0xffd]
.m1:    CHECK_EQ [exc_vector], 13, "expand-up: a dword crossing the limit raises #GP"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        TRY .m2
        mov al, [es:0x1000]
.m2:    CHECK_EQ [exc_vector], 13, "expand-up: a byte just past the limit raises #GP"
        SET_DESCRIPTOR SCRATCH_SEL, DATA_BASE, 0, 0x92, 0xc      ; G=1, limit 0 -> 0xfff
        mov ax, SCRATCH_SEL
        mov es, ax
        mov eax, [es:0xffc]
        CHECK_EQ eax, 0x11223344, "granular limit 0 covers 4 KiB"
        TRY .m3
        mov eax, [es:0x1000]
.m3:    CHECK_EQ [exc_vector], 13, "... and offset 0x1000 raises #GP"
        mov ax, SCRATCH_SEL
        lsl eax, ax
        CHECK_EQ eax, 0xfff, "LSL reports the scaled limit 0xfff"

        SET_DESCRIPTOR EXPD_SEL, DATA_BASE, 0xfff, 0x96, 0x4     ; expand-down, B=1
        mov ax, EXPD_SEL
        mov es, ax
        mov eax, [es:0x1000]
        CHECK_EQ eax, 0x55667788, "expand-down: offset limit+1 is the lowest valid"
        mov eax, 0xfffffffc
        mov dword [es:eax], 0xa5a5a5a5
        CHECK_EQ [es:0xfffffffc], 0xa5a5a5a5, "expand-down B=1: offset 0xfffffffc is valid"
        TRY .e1
        mov al, [es:0xfff]
.e1:    CHECK_EQ [exc_vector], 13, "expand-down: offset == limit raises #GP"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        TRY .e2
        mov eax, [es:0xffe]
.e2:    CHECK_EQ [exc_vector], 13, "expand-down: a dword starting below limit+1 raises #GP"
        TRY .e3
        mov al, [es:0]
.e3:    CHECK_EQ [exc_vector], 13, "expand-down: offset 0 raises #GP"
        mov ax, EXPD_SEL
        lsl eax, ax
        CHECK_EQ eax, 0xfff, "LSL of an expand-down segment gives the raw limit"
        SET_DESCRIPTOR EXPD16_SEL, DATA_BASE, 0xfff, 0x96, 0x0   ; expand-down, B=0: up to 0xffff
        mov ax, EXPD16_SEL
        mov es, ax
        TRY .e3b
        mov eax, [es:0xfffc]
        TRY_END
.e3b:   CHECK_EQ [exc_vector], -1, "expand-down B=0: the dword at 0xfffc reads"
        TRY .e4
        mov al, [es:0x10000]
.e4:    CHECK_EQ [exc_vector], 13, "expand-down B=0: offset 0x10000 raises #GP"
        TRY .e5
        mov eax, [es:0xfffe]
.e5:    CHECK_EQ [exc_vector], 13, "expand-down B=0: a dword crossing 0xffff raises #GP"
        mov ax, KERNEL_DS
        mov es, ax

        ; Stack segment limits: #SS(0) instead of #GP(0).
        SET_DESCRIPTOR SCRATCH_SEL, 0, KERNEL_STACK_TOP - 1, 0x92, 0x4 ; expand-up, ends at the stack top
        mov ax, SCRATCH_SEL
        mov ss, ax
        mov ebp, KERNEL_STACK_TOP
        TRY .s1
        mov eax, [ebp]
.s1:    CHECK_EQ [exc_vector], 12, "SS expand-up: reading past the limit via EBP raises #SS"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        TRY .s1b
        mov eax, [ebp - 4]
        TRY_END
.s1b:   CHECK_EQ [exc_vector], -1, "... the dword below the limit reads"
        SET_DESCRIPTOR SCRATCH2_SEL, 0, 0xffff, 0x96, 0x4 ; expand-down stack: 0x10000 and up
        mov ax, SCRATCH2_SEL
        mov ss, ax
        push dword 0x1234
        pop eax
        CHECK_EQ eax, 0x1234, "SS expand-down: push and pop work above the limit"
        mov ebp, 0x8000
        TRY .s2
        mov eax, [ebp]
.s2:    CHECK_EQ [exc_vector], 12, "SS expand-down: reading below the limit raises #SS"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        TRY .s3
        mov eax, [ss:0xfffe]
.s3:    CHECK_EQ [exc_vector], 12, "SS expand-down: a dword crossing limit+1 from below raises #SS"
        mov ax, KERNEL_DS
        mov ss, ax

; ---------------------------------------------------------------- LDT
        SET_DESCRIPTOR LDT_SEL, ldt, 3 * 8 - 1, 0x82, 0
        mov ax, LDT_SEL
        lldt ax
        sldt eax
        CHECK_EQ eax, LDT_SEL, "SLDT reads back the LDT selector"
        mov dword [DATA_BASE + 0x10], 0xcafef00d
        mov ax, 0x0c                    ; LDT entry 1, RPL 0
        mov fs, ax
        CHECK_EQ [fs:0x10], 0xcafef00d, "a data segment from the LDT has its own base"
        mov ax, 0x0c
        lsl eax, ax
        CHECK_EQ eax, 0xffff, "LSL of the LDT data segment"
        mov dword [0x300000], 0x33
        mov ax, 0x17                    ; LDT entry 2, RPL 3: DPL 3 data
        mov gs, ax
        CHECK_EQ [gs:0], 0x33, "a DPL-3 data segment from the LDT with RPL 3"
        TRY .d1
        mov ax, 0x1c                    ; entry 3: beyond the LDT limit 0x17
        mov fs, ax
.d1:    CHECK_EQ [exc_vector], 13, "a selector beyond the LDT limit raises #GP"
        CHECK_EQ [exc_error], 0x1c, "... with the selector as error code"
        TRY .d2
        mov ax, KERNEL_DS
        lldt ax
.d2:    CHECK_EQ [exc_vector], 13, "LLDT with a data-segment descriptor raises #GP"
        CHECK_EQ [exc_error], KERNEL_DS, "... with the selector as error code"
        TRY .d3
        mov ax, 0x0c
        lldt ax
.d3:    CHECK_EQ [exc_vector], 13, "LLDT with a selector in the LDT raises #GP"
        CHECK_EQ [exc_error], 0x0c, "... with the selector as error code"
        mov byte [gdt + LDT_SEL + 5], 0x02              ; not present
        TRY .d4
        mov ax, LDT_SEL
        lldt ax
.d4:    CHECK_EQ [exc_vector], 11, "LLDT with a not-present LDT raises #NP"
        CHECK_EQ [exc_error], LDT_SEL, "... with the selector as error code"
        mov byte [gdt + LDT_SEL + 5], 0x82
        xor eax, eax
        lldt ax
        TRY .d5
        mov ax, 0x0c
        mov fs, ax
.d5:    CHECK_EQ [exc_vector], 13, "after LLDT 0, LDT selectors raise #GP"
        mov eax, fs
        CHECK_EQ eax, 0x0c, "FS keeps the segment loaded before LLDT 0"
        CHECK_EQ [fs:0x10], 0xcafef00d, "... and its cached base"
        mov ax, KERNEL_DS
        mov fs, ax
        mov gs, ax

; ---------------------------------------------------------------- LAR LSL VERR VERW ARPL
        mov eax, 0x5a5a5a5a
        mov bx, KERNEL_CS
        lar eax, bx
        CHECK_TRUE z, "LAR of the kernel code segment sets ZF"
        and eax, 0x00f0ff00
        CHECK_EQ eax, 0x00c09b00, "LAR: G, D, P, DPL 0, code execute/read accessed"
        mov bx, TSS_SEL
        lar eax, bx
        CHECK_TRUE z, "LAR of the busy TSS sets ZF"
        and eax, 0x00f0ff00
        CHECK_EQ eax, 0x00008b00, "LAR: busy 32-bit TSS, present"
        mov eax, 0x5a5a5a5a
        xor ebx, ebx
        lar eax, bx
        CHECK_TRUE nz, "LAR of the null selector clears ZF"
        CHECK_EQ eax, 0x5a5a5a5a, "... and leaves the destination alone"
        mov bx, 0x80
        lar eax, bx
        CHECK_TRUE nz, "LAR beyond the GDT limit clears ZF"
        mov bx, KERNEL_CS | 3
        lar eax, bx
        CHECK_TRUE nz, "LAR with RPL 3 on a DPL-0 segment clears ZF"
        mov bx, USER_CS
        lar eax, bx
        CHECK_TRUE z, "LAR of the DPL-3 code segment sets ZF"
        and eax, 0xff00
        CHECK_EQ eax, 0xfa00, "... DPL 3 code (not yet accessed)"
        mov dword [gdt + SCRATCH_SEL], 0
        mov dword [gdt + SCRATCH_SEL + 4], 0x8e00       ; an interrupt gate in the GDT
        mov bx, SCRATCH_SEL
        lar eax, bx
        CHECK_TRUE nz, "LAR of an interrupt-gate type clears ZF"
        mov dword [gdt + SCRATCH_SEL + 4], 0x8c00       ; a call gate
        lar eax, bx
        CHECK_TRUE z, "LAR of a call gate sets ZF"
        mov eax, 0x77
        lsl eax, bx
        CHECK_TRUE nz, "LSL of a call gate clears ZF"
        CHECK_EQ eax, 0x77, "... and leaves the destination alone"
        mov bx, TSS_SEL
        lsl eax, bx
        CHECK_TRUE z, "LSL of the TSS sets ZF"
        CHECK_EQ eax, tss_end - tss - 1, "LSL of the TSS gives its byte limit"
        mov bx, KERNEL_DS
        lsl eax, bx
        CHECK_EQ eax, 0xffffffff, "LSL of a flat data segment gives 0xffffffff"
        mov eax, 0x12345678
        mov bx, KERNEL_CS
        lsl ax, bx
        CHECK_EQ eax, 0x1234ffff, "LSL with a 16-bit destination writes the low word only"
        mov bx, KERNEL_CS
        verr bx
        CHECK_TRUE z, "VERR of readable code sets ZF"
        verw bx
        CHECK_TRUE nz, "VERW of code clears ZF"
        mov bx, KERNEL_DS
        verw bx
        CHECK_TRUE z, "VERW of writable data sets ZF"
        mov bx, KERNEL_DS | 3
        verw bx
        CHECK_TRUE nz, "VERW with RPL 3 on DPL-0 data clears ZF"
        mov bx, TSS_SEL
        verr bx
        CHECK_TRUE nz, "VERR of a TSS clears ZF"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x98, 0xc ; execute-only code
        mov bx, SCRATCH_SEL
        verr bx
        CHECK_TRUE nz, "VERR of execute-only code clears ZF"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x90, 0xc ; read-only data
        verr bx
        CHECK_TRUE z, "VERR of read-only data sets ZF"
        verw bx
        CHECK_TRUE nz, "VERW of read-only data clears ZF"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x9e, 0xc ; conforming readable code
        mov bx, SCRATCH_SEL | 3
        verr bx
        CHECK_TRUE z, "VERR of conforming readable code ignores RPL 3 > DPL"
        xor ebx, ebx
        verr bx
        CHECK_TRUE nz, "VERR of the null selector clears ZF"
        mov ax, 0x0010
        mov bx, 0x0003
        arpl ax, bx
        CHECK_TRUE z, "ARPL raising the RPL sets ZF"
        movzx eax, ax
        CHECK_EQ eax, 0x13, "... and the RPL becomes 3"
        mov bx, 0x0001
        arpl ax, bx
        CHECK_TRUE nz, "ARPL with a lower source RPL clears ZF"
        movzx eax, ax
        CHECK_EQ eax, 0x13, "... and leaves the selector alone"
        mov word [arpl_word], 0x0029
        mov cx, 0xffff
        arpl [arpl_word], cx
        CHECK_TRUE z, "ARPL on memory sets ZF"
        movzx eax, word [arpl_word]
        CHECK_EQ eax, 0x2b, "... and writes RPL 3 into memory"

; ---------------------------------------------------------------- far transfers, same privilege
        SET_DESCRIPTOR CODE2_SEL, 0x1000, 0xfffff, 0x9a, 0xc
        call CODE2_SEL:far_target - 0x1000
.ret1:  CHECK_EQ [far_cs], CODE2_SEL, "far CALL loads CS with the new selector"
        CHECK_EQ [far_eip], far_target.here - 0x1000, "... and EIP relative to the new base"
        CHECK_EQ [far_ret_cs], KERNEL_CS, "... pushing the old CS"
        CHECK_EQ [far_ret_eip], .ret1, "... and the return EIP"
        mov eax, cs
        CHECK_EQ eax, KERNEL_CS, "RETF restores CS"
        mov dword [far_ptr], far_target - 0x1000
        mov word [far_ptr + 4], CODE2_SEL
        mov esi, esp
        push dword 0xaaaa
        push dword 0xbbbb
        call far [far_ptr]
        mov edi, esp
        sub esi, edi
        CHECK_EQ esi, 0, "far CALL through memory and RETF 8 pop the two parameters"
        CHECK_EQ [far_cs], CODE2_SEL, "... indirect far CALL loads CS"
        ; In CODE2_SEL (base 0x1000) the code below, CHECK_EQ's check_report and serial output
        ; included, runs at linear addresses it also runs at with CS base 0 (the block engine keys
        ; compiled code by physical address and must not reuse a block made for another CS base).
        jmp CODE2_SEL:.jmp_far - 0x1000
.jmp_far:
        mov eax, cs
        CHECK_EQ eax, CODE2_SEL, "far JMP loads CS"
        call .get_eip
.get_eip_ret:
        CHECK_EQ eax, .get_eip_ret - 0x1000, "... and runs at the new base"
        jmp KERNEL_CS:.jmp_back
.get_eip:
        mov eax, [esp]
        ret
.jmp_back:
        mov eax, cs
        CHECK_EQ eax, KERNEL_CS, "far JMP back to the flat code segment"
        TRY .j1
        jmp KERNEL_DS:0
.j1:    CHECK_EQ [exc_vector], 13, "far JMP to a data segment raises #GP"
        CHECK_EQ [exc_error], KERNEL_DS, "... with the selector as error code"
        TRY .j2
        jmp USER_CS:.j2
.j2:    CHECK_EQ [exc_vector], 13, "far JMP to DPL-3 non-conforming code at CPL 0 raises #GP"
        CHECK_EQ [exc_error], USER_CS & 0xfffc, "... with the selector as error code"
        mov byte [gdt + CODE2_SEL + 5], 0x1a             ; not present
        TRY .j3
        jmp CODE2_SEL:0
.j3:    CHECK_EQ [exc_vector], 11, "far JMP to a not-present code segment raises #NP"
        CHECK_EQ [exc_error], CODE2_SEL, "... with the selector as error code"
        SET_DESCRIPTOR CODE2_SEL, 0x1000, 0xfff, 0x9a, 0x4  ; limit 0xfff
        TRY .j4
        jmp CODE2_SEL:0x2000
.j4:    CHECK_EQ [exc_vector], 13, "far JMP beyond the code segment limit raises #GP"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        mov eax, cs
        CHECK_EQ eax, KERNEL_CS, "... and CS is unchanged"
        TRY .j5
        jmp 0:0
.j5:    CHECK_EQ [exc_vector], 13, "far JMP to the null selector raises #GP"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0xfe, 0xc ; conforming code, DPL 3
        TRY .j6
        call SCRATCH_SEL:.j6
.j6:    CHECK_EQ [exc_vector], 13, "far CALL to conforming code with DPL 3 > CPL 0 raises #GP"
        CHECK_EQ [exc_error], SCRATCH_SEL, "... with the selector as error code"
        SET_DESCRIPTOR SCRATCH_SEL, 0, 0xfffff, 0x9e, 0xc ; conforming code, DPL 0 (called from ring 3 below)

; ---------------------------------------------------------------- call gates from ring 3
        ; 32-bit call gate, DPL 3, to KERNEL_CS:gate_entry, copying 2 dwords.
        mov eax, gate_entry
        mov [gdt + GATE_SEL], ax
        mov word [gdt + GATE_SEL + 2], KERNEL_CS
        mov byte [gdt + GATE_SEL + 4], 2
        mov byte [gdt + GATE_SEL + 5], 0xec
        shr eax, 16
        mov [gdt + GATE_SEL + 6], ax
        mov [kernel_esp], esp
        TO_RING3
        mov eax, cs
        CHECK_EQ eax, USER_CS, "running at CPL 3"
        push dword 0x1111
        push dword 0x2222
        mov [user_esp], esp
        call GATE_SEL | 3:0xdead        ; the offset is ignored
.gate_ret:
        mov ebx, esp
        sub ebx, [user_esp]
        CHECK_EQ ebx, 8, "RETF 8 from the gate releases the parameters on the outer stack"
        mov eax, ss
        CHECK_EQ eax, USER_DS, "RETF back to ring 3 restores SS"
        mov eax, cs
        CHECK_EQ eax, USER_CS, "... and CS"
        CHECK_EQ [g_cs], KERNEL_CS, "the call gate enters ring 0 (CS RPL 0)"
        CHECK_EQ [g_ss], KERNEL_DS, "... on SS0 from the TSS"
        mov eax, [kernel_esp]
        sub eax, 24
        CHECK_EQ [g_esp], eax, "... with ESP0 - 24 after pushing SS, ESP, 2 params, CS, EIP"
        CHECK_EQ [g_frame], .gate_ret, "frame: return EIP"
        CHECK_EQ [g_frame + 4], USER_CS, "frame: return CS"
        CHECK_EQ [g_frame + 8], 0x2222, "frame: parameter at the lower address"
        CHECK_EQ [g_frame + 12], 0x1111, "frame: second parameter"
        mov eax, [user_esp]
        CHECK_EQ [g_frame + 16], eax, "frame: the outer ESP"
        CHECK_EQ [g_frame + 20], USER_DS, "frame: the outer SS"
        ; Gate DPL below CPL, not present gate, JMP through a gate to an inner ring.
        mov byte [gdt + GATE_SEL + 5], 0x8c             ; DPL 0
        TRY .g1
        call GATE_SEL:0
.g1:    CHECK_EQ [exc_vector], 13, "a call gate with DPL 0 from CPL 3 raises #GP"
        CHECK_EQ [exc_error], GATE_SEL, "... with the gate selector as error code"
        mov byte [gdt + GATE_SEL + 5], 0x6c             ; DPL 3, not present
        TRY .g2
        call GATE_SEL | 3:0
.g2:    CHECK_EQ [exc_vector], 11, "a not-present call gate raises #NP"
        CHECK_EQ [exc_error], GATE_SEL, "... with the gate selector as error code"
        mov byte [gdt + GATE_SEL + 5], 0xec
        TRY .g3
        jmp GATE_SEL | 3:0
.g3:    CHECK_EQ [exc_vector], 13, "JMP through a call gate to ring 0 raises #GP"
        CHECK_EQ [exc_error], KERNEL_CS, "... with the code selector as error code"
        TRY .g4
        mov ax, KERNEL_DS
        mov ds, ax
.g4:    CHECK_EQ [exc_vector], 13, "CPL 3 loading DS with a DPL-0 segment raises #GP"
        CHECK_EQ [exc_error], KERNEL_DS, "... with the selector as error code"
        TRY .g5
        push dword KERNEL_CS
        push dword .g5
        retf
.g5:    CHECK_EQ [exc_vector], 13, "RETF from CPL 3 to a CS with RPL 0 raises #GP"
        CHECK_EQ [exc_error], KERNEL_CS, "... with the selector as error code"
        mov esp, USER_STACK_TOP
        TRY .c1
        call SCRATCH_SEL:.conforming
.conforming:
        TRY_END
        pop eax
        pop ebx
.c1:    CHECK_EQ [exc_vector], -1, "CPL 3 far CALL to conforming DPL-0 code works"
        CHECK_EQ ebx, USER_CS, "... and pushed the old CS"
        mov eax, cs
        CHECK_EQ eax, SCRATCH_SEL | 3, "... CS RPL becomes the unchanged CPL 3"
        jmp USER_CS:.c2
.c2:    mov bx, KERNEL_CS | 3
        lar eax, bx
        CHECK_TRUE nz, "LAR at CPL 3 of a DPL-0 segment clears ZF"
        mov bx, USER_DS
        verw bx
        CHECK_TRUE z, "VERW at CPL 3 of the user data segment sets ZF"
        TO_RING0
        mov eax, cs
        CHECK_EQ eax, KERNEL_CS, "back in ring 0"
        TEST_DONE

; Runs in CODE2_SEL (base 0x1000): records CS and EIP, returns with RETF 8 or RETF.
far_target:
        mov eax, cs
        mov [far_cs], eax
        call .here
.here:  pop eax
        mov [far_eip], eax
        mov eax, [esp]
        mov [far_ret_eip], eax
        mov eax, [esp + 4]
        mov [far_ret_cs], eax
        cmp dword [esp + 8], 0xbbbb
        je .params
        retf
.params:
        retf 8

; Entered through the call gate in ring 0: records the stack and the frame.
gate_entry:
        mov eax, cs
        mov [g_cs], eax
        mov eax, ss
        mov [g_ss], eax
        mov [g_esp], esp
        mov esi, esp
        mov edi, g_frame
        mov ecx, 6
        rep movsd
        retf 8

        align 8
ldt:    dq 0
        ; entry 1 (0x0c): data RW, DPL 0, base DATA_BASE, limit 0xffff
        dw 0xffff, DATA_BASE & 0xffff
        db (DATA_BASE >> 16) & 0xff, 0x92, 0x40, DATA_BASE >> 24
        ; entry 2 (0x14): data RW, DPL 3, base 0x300000, limit 0xffff
        dw 0xffff, 0
        db 0x30, 0xf2, 0x40, 0

arpl_word:   dw 0
far_ptr:     dd 0, 0
far_cs:      dd 0
far_eip:     dd 0
far_ret_cs:  dd 0
far_ret_eip: dd 0
kernel_esp:  dd 0
user_esp:    dd 0
g_cs:        dd 0
g_ss:        dd 0
g_esp:       dd 0
g_frame:     times 6 dd 0
        MULTIBOOT_END
