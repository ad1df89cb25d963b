; Double faults (SDM Vol. 3A 6.15, interrupt 8, table 6-5): a contributory exception raised while
; delivering a contributory one, or a contributory or page fault while delivering a page fault,
; becomes #DF with error code 0; a benign first exception is handled serially instead. #DF is
; taken through an interrupt gate and then through a task gate, whose handler task repairs the
; interrupted task's saved state and returns to it with IRET (NT).
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "paging.inc"

%define DF_TSS_SEL  GDT_FREE_SEL        ; 0x40
%define DF_STACK    0x70000
%define NP_PAGE     0x800000            ; PDE 2 not present

; GATE_PRESENT vector, 0 or 1
%macro GATE_PRESENT 2
%if %2
        or byte [idt + (%1) * 8 + 5], 0x80
%else
        and byte [idt + (%1) * 8 + 5], 0x7f
%endif
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# faults", 10

        ; ---------------------------------------------------------------- through an interrupt gate
        GATE_PRESENT 13, 0
        TRY .a
        mov ax, 0x13                    ; #GP(0x10), whose gate is not present: #NP
        mov ds, ax
.a:     GATE_PRESENT 13, 1
        CHECK_EQ [exc_vector], 8, "#GP, then #NP delivering it: #DF"
        CHECK_EQ [exc_error], 0, "... with error code 0"
        mov ax, ds
        movzx eax, ax
        CHECK_EQ eax, KERNEL_DS, "... and DS was never loaded"

        GATE_PRESENT 0, 0
        TRY .b
        xor edx, edx
        xor ecx, ecx
        div ecx                         ; #DE, gate not present
.b:     GATE_PRESENT 0, 1
        CHECK_EQ [exc_vector], 8, "#DE, then #NP delivering it: #DF"
        CHECK_EQ [exc_error], 0, "... with error code 0"

        mov word [idt + 0 * 8 + 2], 0x03        ; #DE gate: a null selector
        TRY .c
        div ecx                         ; #DE; its gate's null selector: #GP(0) -> #DF
.c:     CHECK_EQ [exc_vector], 8, "#DE, then #GP (null code selector in its gate): #DF"
        mov word [idt + 0 * 8 + 2], KERNEL_CS
        mov word [gdtr], 0x47           ; GDT limit: 0x40 and up are outside
        mov word [idt + 6 * 8 + 2], 0x48
        lgdt [gdtr]
        TRY .d
        ud2                             ; #UD (benign); its gate's selector is outside the GDT: #GP(0x48)
.d:     mov word [gdtr], gdt_end - gdt - 1
        lgdt [gdtr]
        mov word [idt + 6 * 8 + 2], KERNEL_CS
        CHECK_EQ [exc_vector], 13, "#UD (benign), then #GP delivering it: handled serially as #GP"
        CHECK_EQ [exc_error], 0x49, "... error code: the gate's selector, EXT set"

        GATE_PRESENT 3, 0
        TRY .e
        int3                            ; benign: #NP is delivered normally
.e:     GATE_PRESENT 3, 1
        CHECK_EQ [exc_vector], 11, "INT3 through a not-present gate: #NP, not #DF"
        CHECK_EQ [exc_error], (3 << 3) | 2, "... error code: IDT vector 3, EXT clear"
        GATE_PRESENT 0x30, 0
        TRY .f
        int 0x30
.f:     GATE_PRESENT 0x30, 1
        CHECK_EQ [exc_vector], 11, "INT 0x30 through a not-present gate: #NP"
        CHECK_EQ [exc_error], (0x30 << 3) | 2, "... error code: IDT vector 0x30"
        GATE_PRESENT 13, 0
        TRY .f2
        int 0x31                        ; DPL 0 gate from CPL 0: allowed ...
.f2:    GATE_PRESENT 13, 1
        CHECK_EQ [exc_vector], 0x31, "INT 0x31 reaches its handler (no fault to double)"

        ; #PF, then #NP delivering it: #DF.
        mov eax, PAGE_P | PAGE_W
        call paging_identity
        call paging_on
        GATE_PRESENT 14, 0
        TRY .g
        mov eax, [NP_PAGE]
.g:     GATE_PRESENT 14, 1
        CHECK_EQ [exc_vector], 8, "#PF, then #NP delivering it: #DF"
        mov eax, cr2
        CHECK_EQ eax, NP_PAGE, "CR2 holds the #PF address"

        ; ---------------------------------------------------------------- through a task gate
        SET_DESCRIPTOR DF_TSS_SEL, df_tss, 0x67, 0x89, 0
        mov eax, cr3
        mov [df_tss + 28], eax
        mov [tss + 28], eax             ; a task switch never saves CR3: returning loads this
        SET_TASK_GATE 8, DF_TSS_SEL
        mov dword [df_resume], .h
        mov [df_resume_esp], esp
        GATE_PRESENT 13, 0
        mov ax, 0x13
        mov ds, ax                      ; #GP -> #NP -> #DF: task switch
.h:     GATE_PRESENT 13, 1
        CHECK_EQ [df_count], 1, "#DF through a task gate runs the handler task"
        CHECK_EQ [df_error], 0, "... which finds error code 0 on its stack"
        CHECK_EQ [df_link], TSS_SEL, "... and the interrupted task in its back link"
        mov eax, [df_flags]
        and eax, 0x4000
        CHECK_EQ eax, 0x4000, "... and runs with EFLAGS.NT set"
        pushfd
        pop eax
        and eax, 0x4000
        CHECK_EQ eax, 0, "IRET returned to the interrupted task (NT clear)"
        mov eax, [gdt + DF_TSS_SEL + 4]
        and eax, 0x0f00
        CHECK_EQ eax, 0x0900, "the handler task is no longer busy"
        mov eax, [gdt + TSS_SEL + 4]
        and eax, 0x0f00
        CHECK_EQ eax, 0x0b00, "the interrupted task is busy again"

        ; #PF while delivering #PF (the stack is not present): #DF, handled on the task's stack.
        mov dword [df_resume], .i
        mov [df_resume_esp], esp
        mov dword [df_count], 0
        mov esp, NP_PAGE + 0x100
        mov eax, [NP_PAGE + 0x2000]     ; #PF; pushing its frame: #PF
.i:     CHECK_EQ [df_count], 1, "#PF, then #PF pushing its frame: #DF (task gate)"
        CHECK_EQ [df_error], 0, "... error code 0"
        mov eax, cr2
        CHECK_EQ eax, NP_PAGE + 0x100 - 4, "CR2 holds the second fault's address (the first push)"
        CHECK_EQ [df_saved_esp], NP_PAGE + 0x100, "the interrupted task's saved ESP is where it faulted"
        TEST_DONE

; The #DF task: records what it finds, repairs the interrupted task and returns to it.
df_task:
        pop eax                         ; error code
        mov [df_error], eax
        inc dword [df_count]
        pushfd
        pop eax
        mov [df_flags], eax
        movzx eax, word [df_tss]
        mov [df_link], eax
        mov eax, [tss + 56]
        mov [df_saved_esp], eax
        mov eax, [df_resume]
        mov [tss + 32], eax             ; interrupted task's EIP
        mov eax, [df_resume_esp]
        mov [tss + 56], eax             ; and ESP
        iretd
        jmp df_task

df_count:      dd 0
df_error:      dd -1
df_flags:      dd 0
df_link:       dd 0
df_saved_esp:  dd 0
df_resume:     dd 0
df_resume_esp: dd 0

        align 4
df_tss: dd 0                            ; back link
        dd 0, 0, 0, 0, 0, 0             ; ESP0-SS2
        dd 0                            ; CR3 (filled in)
        dd df_task                      ; EIP
        dd 0x2                          ; EFLAGS
        dd 0, 0, 0, 0                   ; EAX ECX EDX EBX
        dd DF_STACK                     ; ESP
        dd 0, 0, 0                      ; EBP ESI EDI
        dd KERNEL_DS, KERNEL_CS, KERNEL_DS, KERNEL_DS, KERNEL_DS, KERNEL_DS
        dd 0                            ; LDT
        dw 0, 104                       ; T, I/O map base (none)
        MULTIBOOT_END
