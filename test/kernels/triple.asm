; Triple fault (SDM Vol. 3A 6.15, interrupt 8: "if another exception occurs while attempting to
; call the double-fault handler, the processor enters shutdown mode"). With an empty IDT, INT3
; raises #GP (the gate is outside the IDT limit), delivering that #GP raises #GP again: #DF, whose
; delivery raises #GP once more: shutdown. The machine stops and reports a triple fault; a PC
; (or QEMU with -no-reboot) resets or stops.
; @expect-stop triple-fault
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# triple", 10
        mov word [idtr], 0x00ff         ; the exception vectors 0-31 only
        lidt [idtr]
        TRY .a
        int 0x40                        ; outside the limit: #GP(0x40 << 3 | 2), handled
.a:     CHECK_EQ [exc_vector], 13, "a gate beyond the IDT limit: #GP"
        CHECK_EQ [exc_error], (0x40 << 3) | 2, "... error code: the IDT vector"
        sidt [scratch]
        movzx eax, word [scratch]
        CHECK_EQ eax, 0xff, "SIDT reads back the short limit"
        TEST_PLAN
        mov word [idtr], 0              ; nothing but half of vector 0
        lidt [idtr]
        int3
        BAIL_OUT "still running after the triple fault"

scratch: dd 0, 0
        MULTIBOOT_END
