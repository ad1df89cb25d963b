; A CONSOLE_READ hypercall completed inline that writes the guest's own code right after it: the
; compiled block must not go on with what it compiled from the old bytes. The first 300 rounds
; read nothing (the first 256 hypercalls are timed, on the fast path; the later ones complete
; inline); the last 300 read two bytes of input, 0x40 (INC EAX), over the NOPs after the VMCALL.
; So ESI ends as 600 when every patched round runs the new bytes. The run must also match one
; with the fast path off.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "hypercalls.inc"
%include "shutdown.inc"

start:
        mov esp, 0x90000
        xor esi, esi                    ; INC EAXs run
        mov edi, 600
again:
        xor ecx, ecx                    ; nothing to read for the first 300 rounds
        cmp edi, 300
        ja read
        mov ecx, 2
read:   mov eax, HC_CONSOLE_READ
        mov ebx, patch
        vmcall
        xor eax, eax
patch:  nop
        nop
        add esi, eax
        dec edi
        jnz again
        SHUTDOWN
        MULTIBOOT_END
