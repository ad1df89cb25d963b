; VM-exit microbenchmark "irq": interrupt injection at a high rate: the PIT's IRQ0 every IRQ_PIT_COUNT (default 4) PIT ticks (3.4 us of VM time, about 335 guest instructions) while the guest spins; the hypervisor cuts the guest's slice at the PIT's deadline (a preemption-timer exit) and injects the interrupt on the next entry. The iteration count is the number of interrupts to take.
; Per iteration: one interrupt: the handler's INC and IRET, and the spin (CMP, JB) until it comes. The spin's length depends on where the deadline falls, so this guest's instruction count is read from the emulator's counter, not modelled. Setup: EXIT_BENCH_GATE (5), EXIT_BENCH_TIMER (16), STI (1).
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
%ifndef IRQ_PIT_COUNT
%define IRQ_PIT_COUNT 4
%endif
        EXIT_BENCH_GATE 0x20, timer_handler
        EXIT_BENCH_TIMER IRQ_PIT_COUNT
        sti
        test ebp, ebp
        jz exit_bench_done
.spin:  cmp [ticks], ebp
        jb .spin
        cli
        EXIT_BENCH_END
timer_handler:
        inc dword [ticks]
        iret
        align 4096                      ; a data page of its own: a store to the code's page
ticks:  dd 0                            ; would discard its compiled blocks at every tick
        EXIT_BENCH_DATA
        MULTIBOOT_END
