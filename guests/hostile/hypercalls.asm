; Hostile guest: hypercalls with wild pointers, huge lengths, ranges that wrap around 4 GiB,
; unknown numbers, out-of-range arguments, MULTICALL batches that point at themselves, nest, are
; too long or lie outside memory, and hypercalls from ring 3. Every one must fail with its errno
; and touch nothing (TAP on COM1; exit status 1 when all pass).
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "ring3.inc"
%include "hypercalls.inc"

; HC nr, a0, a1, a2, a3: VMCALL; EAX = the result.
%macro HC 1-5 0, 0, 0, 0
        mov eax, %1
        mov ebx, %2
        mov ecx, %3
        mov edx, %4
        mov esi, %5
        vmcall
%endmacro

; RECORD index, nr, a0, a1: fills MULTICALL record `index` of `batch`.
%macro RECORD 4
        mov dword [batch + (%1) * MULTICALL_RECORD], %2
        mov dword [batch + (%1) * MULTICALL_RECORD + 4], %3
        mov dword [batch + (%1) * MULTICALL_RECORD + 8], %4
        mov dword [batch + (%1) * MULTICALL_RECORD + 12], 0
        mov dword [batch + (%1) * MULTICALL_RECORD + 16], 0
        mov dword [batch + (%1) * MULTICALL_RECORD + 20], 0x5a5a5a5a
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        MULTIBOOT_MEMORY_END eax
        mov [memsize], eax
        call serial_init
        call system_init
        call ring3_init
        PRINT "# hostile hypercalls: wild pointers, huge lengths, wrapping ranges, bad numbers, MULTICALL abuse, ring 3", 10

        HC HC_CONSOLE_WRITE, hello, hello_len
        CHECK_EQ eax, hello_len, "CONSOLE_WRITE of a good buffer writes it"
        HC HC_CONSOLE_WRITE, 0xfffffff0, 0x20
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_WRITE wrapping around 4 GiB: EFAULT"
        mov edi, [memsize]
        HC HC_CONSOLE_WRITE, edi, 16
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_WRITE at the end of memory: EFAULT"
        lea edi, [edi - 8]
        HC HC_CONSOLE_WRITE, edi, 16
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_WRITE straddling the end of memory: EFAULT"
        HC HC_CONSOLE_WRITE, 0x80000000, 1
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_WRITE at 2 GiB: EFAULT"
        HC HC_CONSOLE_WRITE, 0xfe000000, 1
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_WRITE from the MMIO UART's page: EFAULT"
        HC HC_CONSOLE_WRITE, hello, 0xffffffff
        CHECK_EQ eax, HC_EINVAL, "CONSOLE_WRITE of 4 GiB - 1 bytes: EINVAL"
        HC HC_CONSOLE_WRITE, hello, CONSOLE_MAX + 1
        CHECK_EQ eax, HC_EINVAL, "CONSOLE_WRITE of CONSOLE_MAX + 1 bytes: EINVAL"
        mov edi, [memsize]
        HC HC_CONSOLE_WRITE, edi, 0
        CHECK_EQ eax, 0, "CONSOLE_WRITE of 0 bytes at the end of memory: 0"
        HC HC_CONSOLE_READ, 0xffffffff, 16
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_READ into 0xffffffff: EFAULT"
        HC HC_CONSOLE_READ, buffer, 0x80000000
        CHECK_EQ eax, HC_EINVAL, "CONSOLE_READ of 2 GiB: EINVAL"

        HC 12
        CHECK_EQ eax, HC_ENOSYS, "hypercall 12: ENOSYS"
        HC 0x7fffffff
        CHECK_EQ eax, HC_ENOSYS, "hypercall 0x7fffffff: ENOSYS"
        HC 0xffffffff
        CHECK_EQ eax, HC_ENOSYS, "hypercall 0xffffffff: ENOSYS"
        HC HC_SEND_EVENT, 32
        CHECK_EQ eax, HC_EINVAL, "SEND_EVENT 32: EINVAL"
        HC HC_SEND_EVENT, 0xffffffff
        CHECK_EQ eax, HC_EINVAL, "SEND_EVENT 0xffffffff: EINVAL"
        HC HC_EVENT_VECTOR, 31
        CHECK_EQ eax, HC_EINVAL, "EVENT_VECTOR 31 (an exception vector): EINVAL"
        HC HC_EVENT_VECTOR, 256
        CHECK_EQ eax, HC_EINVAL, "EVENT_VECTOR 256: EINVAL"
        HC HC_EVENT_VECTOR, 0xffffffff
        CHECK_EQ eax, HC_EINVAL, "EVENT_VECTOR 0xffffffff: EINVAL"
        HC HC_ACK_EVENT, 0xffffffff
        CHECK_EQ eax, 0, "ACK_EVENT of every bit: nothing pending"
        HC HC_SET_TIMER, 0xffffffff, 0xffffffff, 0
        CHECK_EQ eax, 0, "SET_TIMER at 2^64 ns: accepted"
        HC HC_CANCEL_TIMER
        CHECK_EQ eax, 0, "CANCEL_TIMER"

        RECORD 0, HC_MULTICALL, batch, 1
        HC HC_MULTICALL, batch, 1
        CHECK_EQ eax, 1, "MULTICALL of a MULTICALL of itself: one call completed"
        CHECK_EQ [batch + 20], HC_EINVAL, "... the nested MULTICALL: EINVAL"
        RECORD 0, HC_BLOCK, 0, 0
        HC HC_MULTICALL, batch, 1
        CHECK_EQ [batch + 20], HC_EINVAL, "BLOCK inside MULTICALL: EINVAL"
        HC HC_MULTICALL, batch, MULTICALL_MAX + 1
        CHECK_EQ eax, HC_EINVAL, "MULTICALL of MULTICALL_MAX + 1 records: EINVAL"
        HC HC_MULTICALL, batch, 0xffffffff
        CHECK_EQ eax, HC_EINVAL, "MULTICALL of 0xffffffff records: EINVAL"
        HC HC_MULTICALL, 0xfffffff0, 2
        CHECK_EQ eax, HC_EFAULT, "MULTICALL records wrapping around 4 GiB: EFAULT"
        mov edi, [memsize]
        sub edi, MULTICALL_RECORD
        HC HC_MULTICALL, edi, 2
        CHECK_EQ eax, HC_EFAULT, "MULTICALL records straddling the end of memory: EFAULT"
        mov edi, [memsize]
        HC HC_MULTICALL, edi, 0
        CHECK_EQ eax, 0, "MULTICALL of 0 records at the end of memory: 0"
        ; 64 records, each a wild call: every one fails alone, the batch completes.
        xor ecx, ecx
.fill:  imul edi, ecx, MULTICALL_RECORD
        mov dword [batch + edi], HC_CONSOLE_WRITE
        mov dword [batch + edi + 4], 0xfffff000
        mov dword [batch + edi + 8], ecx
        shl dword [batch + edi + 8], 26 ; lengths 0, 64 Mi, 128 Mi, ...
        mov dword [batch + edi + 20], 0
        inc ecx
        cmp ecx, MULTICALL_MAX
        jb .fill
        mov dword [batch + 3 * MULTICALL_RECORD], 0xdeadbeef
        HC HC_MULTICALL, batch, MULTICALL_MAX
        CHECK_EQ eax, MULTICALL_MAX, "MULTICALL of 64 wild calls: all 64 completed"
        CHECK_EQ [batch + 20], HC_EFAULT, "... record 0 (0 bytes at 0xfffff000, outside memory): EFAULT"
        CHECK_EQ [batch + MULTICALL_RECORD + 20], HC_EINVAL, "... record 1 (length 64 MiB): EINVAL"
        CHECK_EQ [batch + 3 * MULTICALL_RECORD + 20], HC_ENOSYS, "... record 3 (number 0xdeadbeef): ENOSYS"
        CHECK_EQ [batch + 63 * MULTICALL_RECORD + 20], HC_EINVAL, "... record 63: EINVAL"

        ; From ring 3: a user program must not reach the hypervisor past its kernel.
        mov eax, user_console_write
        call user_call
        CHECK_EQ eax, HC_EPERM, "CONSOLE_WRITE from ring 3: EPERM"
        mov eax, user_shutdown
        call user_call
        CHECK_EQ eax, HC_EPERM, "SHUTDOWN from ring 3: EPERM (the VM goes on)"
        TEST_DONE

user_console_write:
        HC HC_CONSOLE_WRITE, ring3_msg, ring3_msg_len
        USER_EXIT
user_shutdown:
        HC HC_SHUTDOWN, 0x40
        USER_EXIT

hello:  db "hostile hypercalls: a good CONSOLE_WRITE", 10
hello_len equ $ - hello
ring3_msg: db "hostile hypercalls: written by ring 3 through the hypervisor", 10
ring3_msg_len equ $ - ring3_msg
memsize: dd 0
buffer: times 16 db 0
        align 4
batch:  times (MULTICALL_MAX + 1) * MULTICALL_RECORD db 0
        MULTIBOOT_END
