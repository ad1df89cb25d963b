; The smallest self-checking kernel: boots from Multiboot, checks what the loader handed over,
; installs the system structures, takes and recovers from a fault, and exits through
; isa-debug-exit with a TAP report on COM1.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

start:
        mov esp, KERNEL_STACK_TOP
        mov [boot_eax], eax
        mov [boot_ebx], ebx
        call serial_init
        call system_init
        PRINT "hello from a bare-metal kernel", 10
        CHECK_EQ [boot_eax], 0x2badb002, "EAX holds the Multiboot magic"
        mov ebx, [boot_ebx]
        mov eax, [ebx]
        and eax, 0x245
        CHECK_EQ eax, 0x245, "info flags: mem, cmdline, mmap, boot loader name"
        CHECK_EQ dword [ebx + 4], 640, "mem_lower is 640 KiB"
        TRY .after_ud
        ud2
.after_ud:
        CHECK_EQ [exc_vector], 6, "UD2 raises #UD"
        TRY .after_gp
        mov ax, 0x13                    ; RPL 3 on a DPL 0 data segment
        mov ds, ax
.after_gp:
        CHECK_EQ [exc_vector], 13, "loading DS with a DPL-0 selector at RPL 3 raises #GP"
        CHECK_EQ [exc_error], 0x10, "... with the selector as error code"
        TEST_DONE

boot_eax: dd 0
boot_ebx: dd 0
        MULTIBOOT_END
