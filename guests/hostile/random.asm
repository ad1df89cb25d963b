; Hostile guest: random bytes as code. A 4 KiB page is filled with bytes from a xorshift32
; generator (seeded with -D SEED=n, default 1); each round rewrites 64 bytes at a random offset in
; it (one dword in four taken from a table of the instructions a hypervisor must handle: CPUID,
; VMCALL, the VMX instructions, RDMSR/WRMSR, HLT, IN/OUT and INS/OUTS, MOV to CR0/CR3/CR4/DR7,
; LGDT/LIDT/LTR/LLDT, INVD/WBINVD, INVLPG, SYSENTER, CLI/STI, POPF, INT, UD2), loads the general
; registers with more random values and jumps to that offset. Whatever the bytes do ends the
; round: an exception (each vector counted), or the 10 kHz timer when a round has run for two
; ticks (an endless loop). After ROUNDS rounds (default 500) it prints the counts and stops with
; status 0 (exit code 1).
;   default     the random code runs in ring 3, with only its page and a stack page user-accessible
;               and every port denied: it can only fault, or exit to the hypervisor (CPUID, VMCALL,
;               which gets -EPERM, VMX instructions, which get #UD), so every round ends and the
;               guest survives them all.
;   -D RING0=1  the random code runs in ring 0: it may also reprogram CR0/CR3/CR4, load garbage into
;               the GDTR and IDTR, write any port (isa-debug-exit included), make hypercalls, spin
;               with interrupts off or halt. Each round restores what it can; the guest usually
;               dies somehow (triple fault, access outside its memory, power-off, halt, endless
;               CLI loop), and the hypervisor must stop or contain it whatever it is.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "paging.inc"
%include "pit.inc"
%include "xorshift.inc"
%ifndef SEED
%define SEED 1
%endif
%ifndef ROUNDS
%define ROUNDS 500
%endif
%define CODE        0x200000            ; the random page
%define STACK_TOP   0x202000            ; the random code's stack: the page below it
%define TICK_VECTOR PIC_MASTER_VECTOR
%define DF_TSS_SEL  GDT_FREE_SEL
%define DF_STACK    0x98000
%ifdef RING0
%define RANDOM_CS   KERNEL_CS
%define RANDOM_DS   KERNEL_DS
%else
%define RANDOM_CS   USER_CS
%define RANDOM_DS   USER_DS
%endif

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
%ifdef RING0
        PRINT "hostile random: random bytes as code in ring 0, seed "
%else
        PRINT "hostile random: random bytes as code in ring 3, seed "
%endif
        mov eax, SEED
        call serial_dec32
        PRINT 10
        ; Every vector to its trap stub; the timer to its own.
        xor ecx, ecx
.gate:  mov eax, ecx
        cmp ecx, 32
        jb .stub
        mov eax, 32                     ; vectors 32-255 share the last stub
.stub:  imul eax, eax, TRAP_STUB_SIZE
        add eax, trap_stubs
        mov [idt + ecx * 8], ax
        shr eax, 16
        mov [idt + ecx * 8 + 6], ax
        inc ecx
        cmp ecx, 256
        jb .gate
        SET_GATE TICK_VECTOR, tick, 0x8e
        ; #DF through a task gate: its handler task has its own stack, so a fault with a broken
        ; stack (ring 0 random code may load anything into ESP) still ends only the round.
        SET_DESCRIPTOR DF_TSS_SEL, df_tss, 0x67, 0x89, 0
        SET_TASK_GATE 8, DF_TSS_SEL
        ; Ring 3 may touch no port: every bit of the TSS's I/O bitmap set.
        mov edi, tss_iomap
        mov ecx, 8192
        mov al, 0xff
        rep stosb
        ; Paging: the first 8 MiB identity-mapped for the kernel; the random page and its stack
        ; page user-accessible.
        mov eax, PAGE_P | PAGE_W
        call paging_identity
        or dword [PAGING_PT0 + (CODE >> 12) * 4], PAGE_U
        or dword [PAGING_PT0 + (CODE >> 12) * 4 + 4], PAGE_U
        call paging_on
        mov dword [rng], SEED
        mov edi, CODE                   ; the whole page, once
        mov ecx, 1024
.fill:  call random
        stosd
        loop .fill

next_round:
        cli
        cld                             ; the random code may have set DF
        mov esp, KERNEL_STACK_TOP
%ifdef RING0
        ; Put back what ring-0 code may have broken: descriptor tables, segments, control
        ; registers, the interrupt controller and the timer.
        lgdt [gdtr]
        lidt [idtr]
        jmp KERNEL_CS:.cs
.cs:    mov eax, PAGING_PD
        mov cr3, eax
        xor eax, eax
        mov cr4, eax
        mov eax, CR0_PG | 0x11          ; PG, ET, PE
        mov cr0, eax
%endif
        mov ax, KERNEL_DS
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
%ifdef RING0
        call timer_init
%else
        cmp dword [rounds], 0
        jne .timer_on
        call timer_init
.timer_on:
%endif
        mov eax, [rounds]
        cmp eax, ROUNDS
        jae report
        inc dword [rounds]
        mov eax, [ticks]
        mov [round_start], eax
        ; The entry: a random offset, with 64 fresh bytes from there (wrapping in the page).
        call random
        and eax, 0xfff
        mov ebx, eax
        add eax, CODE
        mov [entry], eax
        and ebx, ~3
        mov ecx, 16
.refill:
        call random
        test al, 3
        jnz .plain
        shr eax, 8
        and eax, INTERESTING_COUNT - 1
        mov eax, [interesting + eax * 4]
.plain: mov [CODE + ebx], eax
        add ebx, 4
        and ebx, 0xfff
        loop .refill
        ; The registers: random too.
%ifdef RING0
        mov esp, STACK_TOP
        push dword 0x202                ; EFLAGS: IF
        push dword RANDOM_CS
        push dword [entry]
%else
        push dword RANDOM_DS
        push dword STACK_TOP
        push dword 0x202
        push dword RANDOM_CS
        push dword [entry]
%endif
        mov ecx, 7
        mov edi, registers
.regs:  call random
        stosd
        loop .regs
        mov ax, RANDOM_DS
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov eax, [registers]
        mov ebx, [registers + 4]
        mov ecx, [registers + 8]
        mov edx, [registers + 12]
        mov esi, [registers + 16]
        mov edi, [registers + 20]
        mov ebp, [registers + 24]
        push eax
        mov ax, RANDOM_DS
        mov ds, ax
        pop eax
        iretd

; Instructions worth meeting more often than chance would: 32 of them, each padded to a dword
; with NOPs (the random bytes after it run next).
        align 4
interesting:
        db 0x0f, 0xa2, 0x90, 0x90       ; CPUID
        db 0x0f, 0x01, 0xc1, 0x90       ; VMCALL
        db 0x0f, 0x01, 0xc2, 0x90       ; VMLAUNCH
        db 0x0f, 0x01, 0xc3, 0x90       ; VMRESUME
        db 0x0f, 0x01, 0xc4, 0x90       ; VMXOFF
        db 0x0f, 0x78, 0xc0, 0x90       ; VMREAD eax, eax
        db 0x0f, 0x79, 0xc0, 0x90       ; VMWRITE eax, eax
        db 0x0f, 0xc7, 0x30, 0x90       ; VMPTRLD [eax]
        db 0xf3, 0x0f, 0xc7, 0x30       ; VMXON [eax]
        db 0x66, 0x0f, 0xc7, 0x30       ; VMCLEAR [eax]
        db 0x66, 0x0f, 0x38, 0x80       ; INVEPT (ModRM from the random bytes after it)
        db 0x0f, 0x32, 0x90, 0x90       ; RDMSR
        db 0x0f, 0x30, 0x90, 0x90       ; WRMSR
        db 0xf4, 0x90, 0x90, 0x90       ; HLT
        db 0xec, 0x90, 0x90, 0x90       ; IN AL, DX
        db 0xee, 0x90, 0x90, 0x90       ; OUT DX, AL
        db 0xf3, 0x6c, 0x90, 0x90       ; REP INSB
        db 0xf3, 0x6e, 0x90, 0x90       ; REP OUTSB
        db 0x0f, 0x22, 0xc0, 0x90       ; MOV CR0, EAX
        db 0x0f, 0x22, 0xd8, 0x90       ; MOV CR3, EAX
        db 0x0f, 0x22, 0xe0, 0x90       ; MOV CR4, EAX
        db 0x0f, 0x23, 0xf8, 0x90       ; MOV DR7, EAX
        db 0x0f, 0x01, 0x10, 0x90       ; LGDT [eax]
        db 0x0f, 0x01, 0x18, 0x90       ; LIDT [eax]
        db 0x0f, 0x00, 0xd8, 0x90       ; LTR AX
        db 0x0f, 0x00, 0xd0, 0x90       ; LLDT AX
        db 0x0f, 0x09, 0x90, 0x90       ; WBINVD
        db 0x0f, 0x01, 0x38, 0x90       ; INVLPG [eax]
        db 0x0f, 0x34, 0x90, 0x90       ; SYSENTER
        db 0xfa, 0xfb, 0x9d, 0x90       ; CLI; STI; POPFD
        db 0xcd, 0x80, 0x90, 0x90       ; INT 0x80
        db 0x0f, 0x0b, 0x90, 0x90       ; UD2
INTERESTING_COUNT equ ($ - interesting) / 4

; xorshift32: EAX = the next value.
random:
        mov eax, [rng]
        push edx
        XORSHIFT32 eax, edx
        pop edx
        mov [rng], eax
        ret

; The PIC with only IRQ0 open, and the PIT at 10 kHz.
timer_init:
        call pic_init
        PIC_MASK 0xfe
        PIT_CH0 2, PIT_HZ / 10000
        ret

; One stub per exception vector (and one for 32-255): push a zero where the CPU pushes no error
; code, then the vector, and end the round.
        align 16
trap_stubs:
%assign v 0
%rep 33
%if !(v == 8 || (v >= 10 && v <= 14) || v == 17)
        push byte 0
%endif
        push byte v
        jmp near trap
        align 16
%assign v v + 1
%endrep
TRAP_STUB_SIZE equ 16

trap:   mov ax, KERNEL_DS
        mov ds, ax
        mov eax, [esp]
        inc dword [traps + eax * 4]
        jmp next_round

; The timer: a round that has seen two ticks is an endless loop.
tick:   push ds
        push eax
        mov ax, KERNEL_DS
        mov ds, ax
        mov al, 0x20
        out 0x20, al
        inc dword [ticks]
        mov eax, [ticks]
        sub eax, [round_start]
        cmp eax, 2
        jae .timeout
        pop eax
        pop ds
        iretd
.timeout:
        inc dword [timeouts]
        jmp next_round

; The #DF task: counts the double fault, rewrites the interrupted task's saved state so that it
; resumes at next_round on a fresh stack, and returns to it (IRET with NT: a task switch).
df_task:
        add esp, 4                      ; the error code
        inc dword [traps + 8 * 4]
        mov dword [tss + TSS_CR3], PAGING_PD    ; a task switch loads it, never saves it
        mov dword [tss + TSS_EIP], next_round
        mov dword [tss + TSS_EFLAGS], 2         ; interrupts off
        mov dword [tss + TSS_ESP], KERNEL_STACK_TOP
        mov dword [tss + TSS_ES], KERNEL_DS
        mov dword [tss + TSS_CS], KERNEL_CS
        mov dword [tss + TSS_SS], KERNEL_DS
        mov dword [tss + TSS_DS], KERNEL_DS
        mov dword [tss + TSS_FS], KERNEL_DS
        mov dword [tss + TSS_GS], KERNEL_DS
        mov dword [tss + TSS_LDT], 0
        iretd
        jmp df_task                     ; the next #DF starts here

report:
        PRINT "hostile random: "
        mov eax, [rounds]
        call serial_dec32
        PRINT " rounds; by vector (32: 32-255)"
        xor ecx, ecx
.vector:
        mov eax, [traps + ecx * 4]
        test eax, eax
        jz .skip
        mov al, ' '
        call serial_putc
        mov eax, ecx
        call serial_dec32
        mov al, ':'
        call serial_putc
        mov eax, [traps + ecx * 4]
        call serial_dec32
.skip:  inc ecx
        cmp ecx, 33
        jb .vector
        PRINT ", timeouts "
        mov eax, [timeouts]
        call serial_dec32
        PRINT 10
        mov al, 0
        out DEBUG_EXIT_PORT, al
.stop:  hlt
        jmp .stop

        align 4
df_tss: dd 0                            ; back link
        dd 0, 0, 0, 0, 0, 0             ; ESP0-SS2
        dd PAGING_PD                    ; CR3
        dd df_task                      ; EIP
        dd 0x2                          ; EFLAGS
        dd 0, 0, 0, 0                   ; EAX ECX EDX EBX
        dd DF_STACK                     ; ESP
        dd 0, 0, 0                      ; EBP ESI EDI
        dd KERNEL_DS, KERNEL_CS, KERNEL_DS, KERNEL_DS, KERNEL_DS, KERNEL_DS
        dd 0                            ; LDT
        dw 0, 104                       ; T, I/O map base (none)

        align 4096                      ; data off the code's pages
rng:         dd 0
rounds:      dd 0
ticks:       dd 0
round_start: dd 0
timeouts:    dd 0
entry:       dd 0
registers:   times 7 dd 0
traps:       times 33 dd 0              ; per vector (32: any of 32-255)
        MULTIBOOT_END
