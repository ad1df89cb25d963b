; VM-exit microbenchmark "io-in": IN from COM1's line status register (0x3FD), as a polling UART driver does.
; Per iteration: IN (emulated), DEC, JNZ: 3 instructions, 1 I/O exit. Setup: 1 (MOV DX).
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        mov dx, 0x3fd
        EXIT_BENCH_LOOP
        in al, dx
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
