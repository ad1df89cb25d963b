; The smallest paravirtualized guest: one CONSOLE_WRITE hypercall for the whole message, then
; SHUTDOWN. It needs trapvisor's hypervisor (on bare hardware VMCALL is an invalid opcode).
bits 32
org 0x100000
%include "multiboot.inc"
%include "hypercalls.inc"
        MULTIBOOT_HEADER start
start:  mov eax, HC_CONSOLE_WRITE
        mov ebx, message                ; guest-physical address (paging is off)
        mov ecx, message_end - message
        vmcall
        mov eax, HC_SHUTDOWN
        xor ebx, ebx                    ; exit status (0 << 1) | 1
        vmcall
message: db 'Hello from a paravirtualized guest: the whole line is one VMCALL.', 10
message_end:
        MULTIBOOT_END
