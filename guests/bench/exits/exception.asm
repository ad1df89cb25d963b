; VM-exit microbenchmark "exception": an exception the hypervisor reflects. The hypervisor intercepts no exception (its exception bitmap is 0), so this measures the one it does reflect: VMXOFF in non-root mode exits, and the hypervisor injects #UD (no nested VMX); the guest's #UD handler skips the instruction.
; Per iteration: VMXOFF (exits, faults: not retired), the handler's ADD and IRET, DEC, JNZ: 4 instructions, 1 VMXOFF exit, 1 injected #UD. Setup: EXIT_BENCH_GATE (5).
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
        EXIT_BENCH_GATE 6, ud_handler
        EXIT_BENCH_LOOP
        vmxoff
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
ud_handler:
        add dword [esp], 3              ; past VMXOFF (0F 01 C4)
        iret
        EXIT_BENCH_DATA
        MULTIBOOT_END
