; The paravirtual ABI call by call, from a guest, with every bad argument: results in EAX,
; -EFAULT for pointers outside guest memory, -EINVAL for bad values, -ENOSYS for unknown
; numbers; events delivered on the chosen vector; the timer waking a blocked guest; MULTICALL.
; Ends with the SHUTDOWN hypercall instead of isa-debug-exit.
; @input hi
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "ring3.inc"
%include "hypercalls.inc"

%define EVENT_VEC 0x40

; HC nr, a0, a1, a2: a hypercall; the result is in EAX.
%macro HC 1-4 0, 0, 0
        push ebx
        push ecx
        push edx
        mov eax, %1
        mov ebx, %2
        mov ecx, %3
        mov edx, %4
        vmcall
        pop edx
        pop ecx
        pop ebx
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        SET_GATE EVENT_VEC, event_handler, 0x8e

        HC HC_CONSOLE_WRITE, text, text_end - text
        CHECK_EQ eax, text_end - text, "CONSOLE_WRITE returns the bytes written"
        HC HC_CONSOLE_WRITE, 0x7ffffff0, 64
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_WRITE beyond guest memory: -EFAULT"
        HC HC_CONSOLE_WRITE, 0xfffffff0, 0x20
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_WRITE wrapping past 4 GiB: -EFAULT"
        HC HC_CONSOLE_WRITE, text, 100000
        CHECK_EQ eax, HC_EINVAL, "CONSOLE_WRITE longer than CONSOLE_MAX: -EINVAL"
        HC 99
        CHECK_EQ eax, HC_ENOSYS, "an unknown hypercall: -ENOSYS"
        HC -1, -1, -1, -1
        CHECK_EQ eax, HC_ENOSYS, "hypercall 0xFFFFFFFF: -ENOSYS"

        HC HC_CONSOLE_READ, buffer, 16
        CHECK_EQ eax, 2, "CONSOLE_READ returns the input waiting"
        movzx eax, word [buffer]
        CHECK_EQ eax, 'hi', "... and stores it in guest memory"
        HC HC_CONSOLE_READ, buffer, 16
        CHECK_EQ eax, 0, "CONSOLE_READ with nothing waiting: 0"
        HC HC_CONSOLE_READ, 0x7ffffff0, 16
        CHECK_EQ eax, HC_EFAULT, "CONSOLE_READ into a bad pointer: -EFAULT"

        HC HC_GET_TIME
        mov [t0], eax
        mov [t0 + 4], edx
        mov ecx, 1000
.spin:  loop .spin
        HC HC_GET_TIME
        sub eax, [t0]
        CHECK_TRUE a, "GET_TIME advances with executed instructions"

        ; events: the console input above raised EVENT_CONSOLE_INPUT; take it on our vector.
        HC HC_EVENT_VECTOR, 7
        CHECK_EQ eax, HC_EINVAL, "EVENT_VECTOR below 32: -EINVAL"
        HC HC_EVENT_VECTOR, EVENT_VEC
        CHECK_EQ eax, 0, "EVENT_VECTOR 0x40"
        sti
        nop
        cli
        CHECK_EQ [events_seen], 1, "a pending event arrives as one interrupt once IF = 1"
        mov eax, [event_mask]
        and eax, 1 << EVENT_CONSOLE_INPUT
        CHECK_EQ eax, 1 << EVENT_CONSOLE_INPUT, "... the handler's ACK_EVENT saw the console-input event"
        HC HC_SEND_EVENT, 40
        CHECK_EQ eax, HC_EINVAL, "SEND_EVENT 40: -EINVAL"
        HC HC_SEND_EVENT, EVENT_USER
        sti
        nop
        cli
        CHECK_EQ [events_seen], 2, "SEND_EVENT raises an event on this VM"

        ; the timer: one shot 1 ms from now, then BLOCK until it fires
        HC HC_GET_TIME
        add eax, 1000000
        adc edx, 0
        mov ebx, eax
        mov ecx, edx
        mov [t0], eax
        HC HC_SET_TIMER, ebx, ecx, 0
        CHECK_EQ eax, 0, "SET_TIMER"
        sti
        HC HC_BLOCK
        cli
        CHECK_EQ [events_seen], 3, "BLOCK returns after the timer event was delivered"
        mov eax, [event_mask]
        and eax, 1 << EVENT_TIMER
        CHECK_EQ eax, 1 << EVENT_TIMER, "... and it was the timer"
        HC HC_GET_TIME
        sub eax, [t0]
        CHECK_TRUE ns, "... no earlier than the deadline"
        HC HC_CANCEL_TIMER
        CHECK_EQ eax, 0, "CANCEL_TIMER"

        ; MULTICALL: two console writes and an unknown call in one exit
        HC HC_MULTICALL, batch, 3
        CHECK_EQ eax, 3, "MULTICALL completes every record"
        CHECK_EQ [batch + 20], 3, "record 1's result"
        CHECK_EQ [batch + 24 + 20], 2, "record 2's result"
        CHECK_EQ [batch + 48 + 20], HC_ENOSYS, "record 3's result: -ENOSYS"
        HC HC_MULTICALL, 0x7fffff00, 2
        CHECK_EQ eax, HC_EFAULT, "MULTICALL with a bad pointer: -EFAULT"
        HC HC_MULTICALL, batch, 1000
        CHECK_EQ eax, HC_EINVAL, "MULTICALL longer than MULTICALL_MAX: -EINVAL"
        HC HC_YIELD
        CHECK_EQ eax, 0, "YIELD"

        ; only the kernel may call: from ring 3 every hypercall is -EPERM and does nothing
        call ring3_init
        mov eax, user_shutdown
        call user_call
        CHECK_EQ eax, HC_EPERM, "SHUTDOWN from ring 3: -EPERM, and the VM goes on"

        ; the report, then SHUTDOWN instead of isa-debug-exit
        mov eax, [check_failures]
        test eax, eax
        setnz al
        movzx ebx, al
        push ebx
        PRINT "1..", 0
        mov eax, CHECK_COUNT
        call serial_dec32
        PRINT 10
        pop ebx
        HC HC_SHUTDOWN, ebx
        PRINT "not reached", 10
        hlt

user_shutdown:
        HC HC_SHUTDOWN, 0x40
        USER_EXIT

event_handler:
        pushad
        inc dword [events_seen]
        HC HC_ACK_EVENT, 0              ; clears nothing: returns what is pending
        mov [event_mask], eax
        HC HC_ACK_EVENT, -1             ; now acknowledge them all
        popad
        iretd

text:   db "# console by hypercall", 10
text_end:
batch:  dd HC_CONSOLE_WRITE, batch_a, 3, 0, 0, 0
        dd HC_CONSOLE_WRITE, batch_b, 2, 0, 0, 0
        dd 77, 0, 0, 0, 0, 0
batch_a: db "# M"
batch_b: db "C", 10
events_seen: dd 0
event_mask: dd 0
t0:     dd 0, 0
buffer: times 16 db 0
        MULTIBOOT_END
