; VM-exit microbenchmark "hlt": HLT with interrupts on, woken by the PIT's IRQ0 (every 1,000 PIT ticks, 838 us of VM time, skipped while the vCPU is blocked, so the wall time is the exit, the block, the wake-up and the injection).
; Per iteration: HLT (emulated), the handler's IRET, DEC, JNZ: 4 instructions, 1 HLT exit, 1 injected interrupt. Setup: EXIT_BENCH_GATE (5), EXIT_BENCH_TIMER (16), STI (1).
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        EXIT_BENCH_GATE 0x20, timer_handler
        EXIT_BENCH_TIMER 1000
        sti
        EXIT_BENCH_LOOP
        hlt
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
timer_handler:
        iret
        EXIT_BENCH_DATA
        MULTIBOOT_END
