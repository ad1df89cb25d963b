; Hypercalls completed inline (Hypervisor.inlineVmcall: a number that is no hypercall, the
; console) between ones that are not (GET_TIME, which reads the clock the inline exits advance),
; with a flag record pending across the VMCALL. Everything they return goes into EBP, which must
; match a run with the fast path off.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "hypercalls.inc"
%include "shutdown.inc"

start:
        mov esp, 0x90000
        xor ebp, ebp
        mov esi, 0x40000000
        mov edi, 500
again:
        mov eax, 0x7777                 ; no such hypercall: -ENOSYS
        vmcall
        add ebp, eax
        rol ebp, 3
        mov eax, HC_GET_TIME
        vmcall
        add ebp, eax
        mov eax, HC_CONSOLE_WRITE
        mov ebx, msg
        mov ecx, 1
        vmcall
        add ebp, eax
        add esi, 0x3456789              ; a carry now and then, read after the VMCALL
        mov eax, 0x7778
        vmcall
        adc ebp, 0
        dec edi
        jnz again
        SHUTDOWN
msg:    db 'x'
        MULTIBOOT_END
