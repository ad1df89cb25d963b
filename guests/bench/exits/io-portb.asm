; VM-exit microbenchmark "io-portb": IN from system control port B (0x61), whose refresh-toggle
; bit follows the clock and whose timer-2 bit reads the PIT, as a delay or calibration loop polls
; it. A quiet access that needs the time: the inline path passes the VM's clock to the device,
; which works both bits out from it without bringing the PIT up to date (Pit8254.quietOutputLevel).
; Per iteration: IN (emulated), DEC, JNZ: 3 instructions, 1 I/O exit. Setup: none.
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        EXIT_BENCH_LOOP
        in al, 0x61
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
        EXIT_BENCH_DATA
        MULTIBOOT_END
