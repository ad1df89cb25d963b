; Two PV events pending, taken one at a time: the upcall acknowledges one (ACK_EVENT), and the
; other is pending again at once, to be delivered when the handler's IRET opens interrupts. That
; ACK_EVENT is completed on the exit fast path, which must see the event it left pending (it may
; not count ACK_EVENT among the hypercalls that raise no interrupt) and take the exit, for the
; run loop to open the interrupt window. The main loop counts the CPUIDs it runs until both
; upcalls came; the counts go into a checksum that must match a run with the fast path off.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "hypercalls.inc"
%include "shutdown.inc"

%define VECTOR 0x40
%define ROUNDS 200

start:
        mov esp, KERNEL_STACK_TOP
        call system_init
        SET_GATE VECTOR, upcall, 0x8e
        mov eax, HC_EVENT_VECTOR
        mov ebx, VECTOR
        vmcall
        xor esi, esi                    ; checksum
        mov edi, ROUNDS
round:
        mov dword [upcalls], 0
        cli
        mov eax, HC_SEND_EVENT
        mov ebx, EVENT_USER
        vmcall
        mov eax, HC_SEND_EVENT
        mov ebx, EVENT_USER + 1
        vmcall
        xor ebp, ebp                    ; CPUIDs until both upcalls came
        sti
spin:   xor eax, eax
        cpuid
        inc ebp
        cmp dword [upcalls], 2
        jb spin
        add esi, ebp
        rol esi, 3
        dec edi
        jnz round
        SHUTDOWN

upcall: pushad
        mov eax, HC_ACK_EVENT
        mov ebx, [next_ack]
        vmcall
        xor dword [next_ack], (1 << EVENT_USER) ^ (1 << (EVENT_USER + 1))
        inc dword [upcalls]
        popad
        iretd

upcalls: dd 0
next_ack: dd 1 << EVENT_USER
        MULTIBOOT_END
