; The 8254 timer and 8259 interrupt controller as a kernel uses them: counter 0 in modes 2 and 3
; interrupting on IRQ0 at the programmed rate (measured against counter 2 and against the TSC),
; the counter latch and read-back commands, PIC masking (IRR still records the request), EOI
; (non-specific and specific; without one the level stays in service and blocks itself), and HLT
; waking on the interrupt. Informational lines start with '#'.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "pit.inc"

%define DIV_1MS 1193                    ; 999.85 us
%define DIV_2MS 2386
%define WINDOW  11932                   ; 10.000 ms of counter 2

; IN_RANGE value, low, high, "description"
%macro IN_RANGE 4
        push eax
        mov eax, %1
        sub eax, %2
        cmp eax, (%3) - (%2)
        pop eax
        CHECK_TRUE be, %4
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# pit", 10
        call pic_init
        SET_GATE PIC_MASTER_VECTOR, irq0, 0x8e
        SET_GATE PIC_MASTER_VECTOR + 7, irq7, 0x8e

        ; ---------------------------------------------------------------- mode 2, counted in a window
        PIT_CH0 2, DIV_1MS
        mov byte [eoi_cmd], 0x20
        call count_window
        PRINT "# mode 2, divisor 1193: IRQ0s in 10 ms: "
        mov eax, [window_irqs]
        call serial_dec32
        PRINT 10
        IN_RANGE [window_irqs], 9, 11, "mode 2, divisor 1193: 10 +- 1 IRQ0s in a 10 ms counter-2 window"

        ; ---------------------------------------------------------------- mode 3
        PIT_CH0 3, DIV_2MS
        call count_window
        IN_RANGE [window_irqs], 4, 6, "mode 3, divisor 2386: 5 +- 1 IRQ0s in the window"
        PIT_CH0 3, 0                    ; count 0 = 65536: 54.9 ms
        call count_window
        IN_RANGE [window_irqs], 0, 2, "mode 3, count 0 (65536): at most two IRQ0s in 10 ms (one may be pending)"

        ; ---------------------------------------------------------------- rate against the TSC
        PIT_CH0 2, DIV_1MS
        call tsc_per_irq
        mov [tsc_1ms], eax
        PIT_CH0 2, DIV_2MS
        call tsc_per_irq
        mov [tsc_2ms], eax
        PRINT "# TSC ticks per IRQ0 at divisors 1193 and 2386: "
        mov eax, [tsc_1ms]
        call serial_dec32
        PRINT " "
        mov eax, [tsc_2ms]
        call serial_dec32
        PRINT 10
        ; 2 x tsc_1ms within 3 %: |tsc_2ms - 2 tsc_1ms| * 32 < tsc_2ms
        mov eax, [tsc_1ms]
        add eax, eax
        sub eax, [tsc_2ms]
        jns .abs
        neg eax
.abs:   shl eax, 5
        cmp eax, [tsc_2ms]
        CHECK_TRUE b, "twice the divisor: twice the TSC time between IRQ0s (within 3 %)"
        mov eax, [tsc_1ms]
        test eax, eax
        CHECK_TRUE nz, "the TSC advances between timer interrupts"

        ; ---------------------------------------------------------------- latch and read-back
        PIT_CH0 2, 60000
        call delay_short
        call pit_latch0
        mov ebx, eax
        call delay_short
        call pit_latch0
        cmp eax, ebx
        CHECK_TRUE b, "counter 0 counts down between two latched reads"
        IN_RANGE ebx, 1, 60000, "a latched count lies within the programmed count"
        xor eax, eax
        out 0x43, al                    ; latch now ...
        call delay_long                 ; ... read much later
        in al, 0x40
        mov ah, al
        in al, 0x40
        xchg al, ah
        movzx ebx, ax
        call pit_latch0                 ; the count now
        sub ebx, eax
        PRINT "# PIT ticks between latch and fresh latch: "
        xchg eax, ebx
        call serial_dec32
        xchg eax, ebx
        PRINT 10
        cmp ebx, 20
        CHECK_TRUE g, "a latched count holds its value until read (not the count at read time)"
        mov al, 0xe2                    ; read-back: status of counter 0 only
        out 0x43, al
        in al, 0x40
        and eax, 0x7f
        CHECK_EQ eax, 0x34, "read-back status: lobyte/hibyte, mode 2, binary, count loaded"
        PIT_CH0 3, DIV_2MS
        mov al, 0xe2
        out 0x43, al
        in al, 0x40
        and eax, 0x3f
        CHECK_EQ eax, 0x36, "read-back status after programming mode 3"

        ; ---------------------------------------------------------------- masks and EOI
        PIT_CH0 2, DIV_1MS
        mov byte [eoi_cmd], 0x20
        PIC_MASK 0xff
        mov dword [irq_count], 0
        PIT_CH2_ONESHOT 3 * DIV_1MS
        sti
.masked:
        PIT_CH2_DONE
        jz .masked
        cli
        CHECK_EQ [irq_count], 0, "IRQ0 masked in the IMR: no interrupt for 3 ms"
        call pic_read_irr
        and eax, 1
        CHECK_EQ eax, 1, "... while IRR bit 0 records the request"
        in al, 0x21
        and eax, 0xff
        CHECK_EQ eax, 0xff, "OCW1 reads back from the data port"
        PIC_MASK 0xfa
        sti
        nop
        cli
        CHECK_EQ [irq_count], 1, "unmasking delivers the pending request at once"

        ; Without EOI the in-service bit blocks IRQ0 itself.
        mov byte [eoi_cmd], 0
        mov dword [irq_count], 0
        PIT_CH2_ONESHOT WINDOW          ; polled: HLT would never wake
        sti
.noeoi: PIT_CH2_DONE
        jz .noeoi
        cli
        CHECK_EQ [irq_count], 1, "no EOI: exactly one IRQ0 in 10 ms"
        call pic_read_isr
        and eax, 0xff
        CHECK_EQ eax, 1, "... and ISR bit 0 stays set"
        mov al, 0x61                    ; specific EOI for IR1: not in service
        out 0x20, al
        call pic_read_isr
        and eax, 0xff
        CHECK_EQ eax, 1, "a specific EOI for another level leaves IR0 in service"
        mov al, 0x60                    ; specific EOI for IR0
        out 0x20, al
        call pic_read_isr
        and eax, 0xff
        CHECK_EQ eax, 0, "specific EOI for IR0 clears it"
        sti
        nop
        cli
        CHECK_EQ [irq_count], 2, "... and the request pending meanwhile is delivered"
        PIC_EOI
        mov byte [eoi_cmd], 0x60        ; the handler now ends with a specific EOI
        call count_window
        PRINT "# specific EOI in the handler: IRQ0s in 10 ms: "
        mov eax, [window_irqs]
        call serial_dec32
        PRINT 10
        IN_RANGE [window_irqs], 9, 11, "specific EOI in the handler: the rate is back"
        mov byte [eoi_cmd], 0x20

        ; ---------------------------------------------------------------- HLT
        mov dword [irq_count], 0
        sti
        hlt
        cli
        CHECK_EQ [irq_count], 1, "HLT waits for IRQ0 and resumes after it"
        mov dword [irq_count], 0
        sti
        hlt
        hlt
        hlt
        cli
        CHECK_EQ [irq_count], 3, "three HLTs, three timer interrupts"
        CHECK_EQ [spurious], 0, "no spurious IRQ7"
        PIC_MASK 0xff
        TEST_DONE

; Counts IRQ0s during one 10 ms counter-2 window, halting in between -> window_irqs.
count_window:
        mov dword [irq_count], 0
        call count_window_raw
        push eax
        mov eax, [irq_count]
        mov [window_irqs], eax
        pop eax
        ret
count_window_raw:
        PIC_MASK 0xfa                   ; IRQ0 and the cascade
        PIT_CH2_ONESHOT WINDOW
        sti
.wait:  hlt
        PIT_CH2_DONE
        jz .wait
        cli
        ret

; EAX = TSC ticks per IRQ0, averaged over 8 periods (the first interrupt only starts the clock).
tsc_per_irq:
        PIC_MASK 0xfa
        sti
        hlt                             ; align to an interrupt
        mov dword [irq_count], 0
.wait:  hlt
        cmp dword [irq_count], 9
        jb .wait
        cli
        mov eax, [irq_tsc + 8 * 4]
        sub eax, [irq_tsc]
        shr eax, 3
        ret

delay_short:
        push ecx
        mov ecx, 2000
.l:     loop .l
        pop ecx
        ret

; About 2 ms: long enough for the count to move by far more than 20 ticks on any machine.
delay_long:
        push eax
        PIT_CH2_ONESHOT 2 * DIV_1MS
.w:     PIT_CH2_DONE
        jz .w
        pop eax
        ret

irq0:   push eax
        push edx
        push ebx
        rdtsc
        mov ebx, [irq_count]
        cmp ebx, 16
        jae .full
        mov [irq_tsc + ebx * 4], eax
.full:  inc dword [irq_count]
        mov al, [eoi_cmd]
        test al, al
        jz .done
        out 0x20, al
.done:  pop ebx
        pop edx
        pop eax
        iretd

irq7:   inc dword [spurious]
        iretd

irq_count:   dd 0
irq_tsc:     times 16 dd 0
window_irqs: dd 0
eoi_cmd:     db 0x20
        align 4
tsc_1ms:     dd 0
tsc_2ms:     dd 0
spurious:    dd 0
        MULTIBOOT_END
