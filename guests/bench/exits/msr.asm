; VM-exit microbenchmark "msr": RDMSR of IA32_FEATURE_CONTROL (0x3A), which the MSR bitmap sends to the hypervisor.
; Per iteration: MOV, RDMSR (emulated), DEC, JNZ: 4 instructions, 1 RDMSR exit.
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        EXIT_BENCH_LOOP
        mov ecx, 0x3a
        rdmsr
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
