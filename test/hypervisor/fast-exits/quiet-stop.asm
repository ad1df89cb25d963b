; Stops right after a run of exits that touch no device (CPUIDs), with the PIT counting and its
; interrupt masked, by the SHUTDOWN hypercall, which syncs nothing. With the exit fast path those
; exits skip the device sync while no event is due (Vm.quietUntil); without it every one syncs.
; The saved state of the stopped VM must be the same either way.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "hypercalls.inc"
%include "shutdown.inc"

start:
        mov al, 0x34                    ; PIT channel 0, lobyte/hibyte, mode 2
        out 0x43, al
        mov al, 0
        out 0x40, al                    ; count 0x1000: a rising edge every 4096 ticks (3.4 ms)
        mov al, 0x10
        out 0x40, al
        mov edi, 2000
again:  xor eax, eax
        cpuid
        dec edi
        jnz again
        SHUTDOWN
        MULTIBOOT_END
