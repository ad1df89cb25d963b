; The smallest full-virtualized guest: a Multiboot kernel that writes to the PC's serial port and
; powers off through isa-debug-exit. It runs on any PC (or `qemu-system-i386 -kernel`).
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
start:  mov esi, message
        mov dx, 0x3f8                   ; COM1 transmit register
.next:  lodsb
        out dx, al
        cmp esi, message_end
        jb .next
        mov al, 0                       ; isa-debug-exit: status (0 << 1) | 1
        out 0xf4, al
        hlt
message: db 'Hello from a full-virtualized guest: every byte is an OUT to the UART.', 10
message_end:
        MULTIBOOT_END
