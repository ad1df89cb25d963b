; VM-exit microbenchmark "io-eoi": OUT of a non-specific EOI to the master PIC (0x20), as every
; interrupt handler of a PC kernel ends. The PIC is never a quiet device (an EOI may let the next
; interrupt through), so the exit fast path completes it, with the device sync and the look at
; pending interrupts and the next deadline, never the inline path.
; Per iteration: OUT (emulated), DEC, JNZ: 3 instructions, 1 I/O exit. Setup: 1 (MOV AL).
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        mov al, 0x20
        EXIT_BENCH_LOOP
        out 0x20, al
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
