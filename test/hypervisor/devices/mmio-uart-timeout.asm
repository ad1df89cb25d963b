; The MMIO UART (its interrupt line is not connected) in loopback with its FIFOs on: one byte
; written comes back into the receive FIFO and is left there, so the character-timeout deadline
; passes while the guest spins. Then the guest reads the byte back and stops.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%define UART 0xfe000000
start:
        mov byte [UART + 2], 0x01       ; FCR: FIFOs on
        mov byte [UART + 4], 0x10       ; MCR: loopback
        mov byte [UART + 0], 0x5a       ; THR: comes back into the receive FIFO
        mov ecx, 200000
spin:   dec ecx
        jnz spin
        mov al, [UART + 0]              ; RBR: the byte
        movzx eax, al
        mov ebx, eax
        mov al, 0
        out 0xf4, al                    ; isa-debug-exit: status 1
        MULTIBOOT_END
