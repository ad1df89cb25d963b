; VM-exit microbenchmark "wrmsr": WRMSR of the TSC (0x10): the hypervisor moves the VM's TSC offset.
; Per iteration: XOR, XOR, MOV, WRMSR (emulated), DEC, JNZ: 6 instructions, 1 WRMSR exit.
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        EXIT_BENCH_LOOP
        xor eax, eax
        xor edx, edx
        mov ecx, 0x10
        wrmsr
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
