; Hostile guest: a triple fault. With an IDT of limit 0, INT3 raises #GP (its gate is beyond the
; limit), delivering that #GP raises #GP again, so #DF, whose delivery fails too: shutdown. The
; hypervisor must stop this VM, and only this VM, with a report.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"

start:
        mov esp, 0x90000
        call serial_init
        PRINT "hostile triple: IDT limit 0, then INT3 (#GP, #DF, shutdown)", 10
        lidt [empty_idt]
        int3
        PRINT "hostile triple: still running after the triple fault", 10
        mov al, 1
        out 0xf4, al
        cli
.stop:  hlt
        jmp .stop

empty_idt: dw 0
           dd 0
        MULTIBOOT_END
