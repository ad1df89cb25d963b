; Hostile guest: spins forever with interrupts off (CLI; JMP $), so no interrupt of its own can
; ever take the CPU back. Only the hypervisor's preemption timer ends its slices. With -D HALT=1
; it does CLI; HLT instead: halted for good, which the hypervisor reports as a stop.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"

start:
        mov esp, 0x90000
        call serial_init
%ifdef HALT
        PRINT "hostile loop: CLI; HLT (halted with interrupts off, for good)", 10
        cli
.stop:  hlt
        jmp .stop
%else
        PRINT "hostile loop: CLI; JMP $ (spinning with interrupts off, forever)", 10
        cli
.spin:  jmp .spin
%endif
        MULTIBOOT_END
