; VM-exit microbenchmark "cpuid": CPUID leaf 0, an unconditional exit the hypervisor answers (the null exit).
; Per iteration: XOR, CPUID (emulated by the hypervisor), DEC, JNZ: 4 instructions, 1 CPUID exit.
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        EXIT_BENCH_LOOP
        xor eax, eax
        cpuid
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
