; VM-exit microbenchmark "io-out": OUT to COM1's scratch register (0x3FF).
; Per iteration: OUT (emulated), DEC, JNZ: 3 instructions, 1 I/O exit. Setup: 1 (MOV DX).
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        mov dx, 0x3ff
        EXIT_BENCH_LOOP
        out dx, al
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
