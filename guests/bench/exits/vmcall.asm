; VM-exit microbenchmark "vmcall": a null hypercall (an unknown number: -ENOSYS), as kvm-unit-tests' vmcall.
; Per iteration: MOV, VMCALL (emulated), DEC, JNZ: 4 instructions, 1 VMCALL exit.
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        EXIT_BENCH_LOOP
        mov eax, 0xabcd
        vmcall
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
