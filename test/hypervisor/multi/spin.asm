; A guest that never stops and never halts, with interrupts off: only the preemption timer takes
; the CPU back from it. EAX counts loop iterations.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
start:
        cli
        xor eax, eax
.spin:  inc eax
        jmp .spin
        MULTIBOOT_END
