; CPUID exits in every circumstance the hypervisor's exit fast path meets: thousands in a row,
; with the PIT interrupting every 100 ticks (an interrupt pending at some exits, an interrupt
; window at others), right after STI and MOV SS (the shadow the emulated CPUID must end), with
; interrupts off, and between port I/O. The answers and the interrupt count go into a checksum
; printed at the end, so a run with the fast path and one without can be compared byte for byte.
; Runs under `trapvisor boot` only (CPUID's hypervisor leaves).
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "pit.inc"

%define ROUNDS 3000

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# cpuid storm", 10
        call pic_init
        SET_GATE PIC_MASTER_VECTOR, irq0, 0x8e
        PIC_MASK 0xfe
        ; The answers a guest of this hypervisor gets.
        xor eax, eax
        cpuid
        CHECK_EQ ebx, 'Genu', "CPUID 0: GenuineIntel"
        mov eax, 1
        cpuid
        mov [leaf1_ecx], ecx
        and ecx, 0x80000020
        CHECK_EQ ecx, 0x80000000, "CPUID 1: hypervisor present, VMX hidden"
        mov eax, 0x40000000
        cpuid
        CHECK_EQ ebx, 'Trap', "CPUID 0x40000000: the signature"
        PIT_CH0 2, 100
        sti
        xor esi, esi                    ; checksum
        mov edi, ROUNDS
storm_round:
        mov eax, edi
        and eax, 3
        mov eax, [leaves + eax * 4]
        xor ecx, ecx
        cpuid
        call mix
        ; CPUID in the STI shadow: the interrupt (if one is pending) comes after it, not before.
        cli
        mov eax, 1
        sti
sti_cpuid:
        cpuid
        call mix
        cmp ecx, [leaf1_ecx]
        jz leaf1_same
        inc dword [leaf1_changes]
leaf1_same:
        ; CPUID in the MOV SS shadow.
        mov ax, ss
        mov ss, ax
movss_cpuid:
        cpuid
        call mix
        ; With interrupts off: a pending IRQ0 waits for the STI below.
        cli
cli_start:
        mov eax, 0x40000000
        cpuid
        call mix
        mov eax, [ticks]
        add esi, eax
cli_end:
        sti
        ; Port I/O between CPUIDs (the scratch register of COM1).
        mov dx, 0x3ff
        mov al, 0x5a
        out dx, al
        in al, dx
        movzx eax, al
        add esi, eax
        dec edi
        jnz storm_round

        cli
        PRINT "# ticks "
        mov eax, [ticks]
        call serial_dec32
        PRINT ", checksum "
        mov eax, esi
        call serial_hex32
        PRINT ", interrupted at "
        mov eax, [irq_eips]
        call serial_hex32
        PRINT 10
        cmp dword [ticks], 10
        CHECK_TRUE a, "IRQ0 interrupted the CPUID loop"
        CHECK_EQ [leaf1_changes], 0, "CPUID 1 answers the same every time"
        CHECK_EQ [early_sti], 0, "no interrupt between STI and the CPUID in its shadow"
        CHECK_EQ [early_movss], 0, "no interrupt between MOV SS and the CPUID in its shadow"
        CHECK_EQ [with_if_clear], 0, "no interrupt with IF clear"
        TEST_DONE

; ESI = rol(ESI, 5) ^ EAX ^ EBX ^ ECX ^ EDX
mix:
        rol esi, 5
        xor esi, eax
        xor esi, ebx
        xor esi, ecx
        xor esi, edx
        ret

; Where each interrupt came in (the interrupted EIP) goes into the checksum too: an interrupt
; taken an instruction early or late changes it.
irq0:
        inc dword [ticks]
        push eax
        mov eax, [esp + 4]
        rol dword [irq_eips], 3
        add [irq_eips], eax
        cmp eax, sti_cpuid
        jne .1
        inc dword [early_sti]
.1:     cmp eax, movss_cpuid
        jne .2
        inc dword [early_movss]
.2:     cmp eax, cli_start
        jb .3
        cmp eax, cli_end
        ja .3
        inc dword [with_if_clear]
.3:     pop eax
        PIC_EOI
        iretd

align 4
leaves: dd 0, 1, 0x40000000, 0x80000001
ticks:  dd 0
irq_eips: dd 0
leaf1_ecx: dd 0
leaf1_changes: dd 0
early_sti: dd 0
early_movss: dd 0
with_if_clear: dd 0
        MULTIBOOT_END
