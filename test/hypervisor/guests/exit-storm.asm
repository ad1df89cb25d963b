; The exits the hypervisor completes in place (its exit fast path), in every circumstance that path
; meets: thousands in a row with the PIT interrupting every 100 ticks (an interrupt pending at some
; exits, an interrupt window open at others), CPUID right after STI and MOV SS (the shadow the
; emulated instruction must end), with interrupts off, port I/O, RDMSR/WRMSR, VMCALL (the clock,
; and a yield now and then) and an HLT now and then. The answers, the clock readings and where
; each interrupt came in go into checksums printed at the end, so that a run with the fast path
; and one without can be compared byte for byte. Runs under `trapvisor boot` only.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "pit.inc"
%include "hypercalls.inc"

%define ROUNDS 3000

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# exit storm", 10
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
        ; MSRs: IA32_FEATURE_CONTROL read, IA32_TSC_AUX written and read back.
        mov ecx, 0x3a
        rdmsr
        call mix
        mov ecx, 0xc0000103
        mov eax, edi
        xor edx, edx
        wrmsr
        xor eax, eax
        rdmsr
        cmp eax, edi
        je tsc_aux_ok
        inc dword [tsc_aux_wrong]
tsc_aux_ok:
        ; The clock, which must never go backwards.
        mov eax, HC_GET_TIME
        vmcall
        call mix
        cmp eax, [last_time]
        jae time_ok
        inc dword [time_backwards]
time_ok:
        mov [last_time], eax
        ; Every 64 rounds an HLT until the next IRQ0, then 200 CPUIDs in a loop of their own (a
        ; compiled block that goes round through its exits); every 256 rounds a YIELD.
        test edi, 63
        jnz no_hlt
        hlt
        mov ebp, 200
tight:  mov eax, ebp
        and eax, 1
        cpuid
        add esi, eax
        dec ebp
        jnz tight
no_hlt:
        test edi, 255
        jnz no_yield
        mov eax, HC_YIELD
        vmcall
        add esi, eax
no_yield:
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
        CHECK_EQ [tsc_aux_wrong], 0, "IA32_TSC_AUX reads back what was written"
        CHECK_EQ [time_backwards], 0, "the clock (GET_TIME) never goes backwards"
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
tsc_aux_wrong: dd 0
time_backwards: dd 0
last_time: dd 0
        MULTIBOOT_END
