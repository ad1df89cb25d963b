; Sleeps through TICKS timer interrupts (PIT channel 0 at 100 Hz through the PIC, HLT between
; them), then reports how many arrived and stops. Almost all of its time is spent halted.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

%define TICKS 20

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        SET_GATE 0x20, timer, 0x8e
        ; PIC: IRQ0-7 at 0x20, only IRQ0 unmasked
        mov al, 0x11
        out 0x20, al
        mov al, 0x20
        out 0x21, al
        mov al, 4
        out 0x21, al
        mov al, 1
        out 0x21, al
        mov al, 0xfe
        out 0x21, al
        ; PIT channel 0, mode 2, 11932 = 100 Hz
        mov al, 0x34
        out 0x43, al
        mov ax, 11932
        out 0x40, al
        mov al, ah
        out 0x40, al
        sti
.wait:  hlt
        cmp dword [ticks], TICKS
        jb .wait
        cli
        PRINT "ticks="
        mov eax, [ticks]
        call serial_dec32
        PRINT 10
        mov al, 0
        out 0xf4, al

timer:  push eax
        inc dword [ticks]
        mov al, 0x20
        out 0x20, al
        pop eax
        iretd

ticks:  dd 0
        MULTIBOOT_END
