; VM-exit microbenchmark "mmio": a byte write to the MMIO UART's scratch register (guest-physical 0xFE000007): an EPT violation the hypervisor completes by decoding the instruction.
; Per iteration: MOV (emulated), DEC, JNZ: 3 instructions, 1 EPT-violation exit.
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        EXIT_BENCH_LOOP
        mov [0xfe000007], al
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
