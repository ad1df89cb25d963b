; VM-exit microbenchmark "cr": MOV to CR0 toggling CR0.NE, the CR0 bit the hypervisor owns (CR0 guest/host mask).
; Per iteration: XOR, MOV CR0 (emulated), DEC, JNZ: 4 instructions, 1 CR-access exit. Setup: 1 (MOV EAX, CR0: reads never exit).
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        mov eax, cr0
        EXIT_BENCH_LOOP
        xor eax, 0x20                   ; CR0.NE differs from the read shadow: the write exits
        mov cr0, eax
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
