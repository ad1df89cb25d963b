; CPUID between the instructions that set the flags and those that read them. A compiled block
; completes CPUID's exit inline (Hypervisor.inlineCpuid) without writing the pending flag record
; of the instruction before it, which a later instruction that writes every flag may then drop;
; the executor's path (the exit taken, or the fast path) writes it first. Every case folds the
; flags it sees into EBP (CPUID writes EAX to EDX); the run must end with the same registers and
; state with exits completed inline, on the fast path and the long way.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "hypercalls.inc"
%include "shutdown.inc"

%macro FOLD_FLAGS 0
        pushfd
        pop edx
        and edx, 0x8d5                  ; OF SF ZF AF PF CF
        add ebp, edx
        rol ebp, 5
%endmacro

start:
        mov esp, 0x90000
        xor ebp, ebp
        mov esi, 0x7ffffff0
        mov edi, 600
again:
        ; 1. A record read after CPUID through PUSHF (nothing writes the flags in between).
        cmp esi, edi
        mov eax, 0
        cpuid
        FOLD_FLAGS
        ; 2. A record that ADD replaces after CPUID (dropped on the inline path), then read.
        cmp edi, esi
        mov eax, 1
        cpuid
        add edx, 1
        FOLD_FLAGS
        ; 3. INC after CPUID keeps the carry of the SUB before it.
        sub esi, 0x10000001
        mov eax, 0
        cpuid
        inc edx
        FOLD_FLAGS
        ; 4. ADC after CPUID reads the carry of the ADD before it.
        add esi, 0x9abcdef1
        mov eax, 0
        cpuid
        adc ebp, 0
        ; 5. DEC after CPUID keeps the carry XOR cleared; the loop's branch reads DEC's flags.
        xor eax, eax
        cpuid
        add ebp, eax
        FOLD_FLAGS
        ; 6. CPUID right before a jump: the record must be there when the jump leaves the block.
        cmp esi, 0x40000000
        mov eax, 0
        cpuid
        jmp .next
.next:  FOLD_FLAGS
        dec edi
        jnz again
        SHUTDOWN
        MULTIBOOT_END
