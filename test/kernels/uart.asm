; The 16550 UART as drivers use it (PC16550D datasheet): receive by polling LSR.DR and by IRQ4
; (IER.ERBFI, MCR.OUT2, the PIC), echoing what arrives; then the registers drivers rely on: LCR
; and the divisor latch behind DLAB, SCR, IIR with and without FIFOs, the THRE interrupt and its
; clearing by an IIR read, and in loopback (no bytes leave) the modem lines, the RCVR trigger
; level, the character timeout and FIFO overrun.
; @input ping\nIRQ!
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "pit.inc"

%macro OUTB 2
        mov dx, %1
        mov al, %2
        out dx, al
%endmacro
%macro INB 1
        mov dx, %1
        in al, dx
        movzx eax, al
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        call pic_init
        SET_GATE PIC_MASTER_VECTOR + 4, irq4, 0x8e
        PRINT "# uart", 10

        ; ---------------------------------------------------------------- polled receive and echo
        PRINT "# echo: "
        xor edi, edi
.poll:  INB COM1 + 5
        test al, 1                      ; LSR.DR
        jz .poll
        INB COM1
        mov [rx_buf + edi], al
        call serial_putc
        inc edi
        cmp edi, 5
        jb .poll
        CHECK_EQ [rx_buf], 'ping', "polled: received 'ping'"
        movzx eax, byte [rx_buf + 4]
        CHECK_EQ eax, 10, "polled: then the newline"

        ; ---------------------------------------------------------------- interrupt-driven receive
        mov dword [rx_count], 0
        OUTB COM1 + 2, 0x01             ; FCR: FIFOs on, trigger level 1 (nothing cleared)
        OUTB COM1 + 4, 0x0b             ; MCR: DTR, RTS, OUT2 (the IRQ buffer on a PC)
        OUTB COM1 + 1, 0x01             ; IER: received data available
        PIC_MASK 0xeb                   ; IRQ4 and the cascade
.wait:  cli
        cmp dword [rx_count], 4
        jae .got
        sti
        hlt
        jmp .wait
.got:   OUTB COM1 + 1, 0
        PIC_MASK 0xff
        PRINT "# echo: "
        mov esi, rx_buf + 8
        call serial_puts
        mov al, 10
        call serial_putc
        CHECK_EQ [rx_count], 4, "IRQ4: four bytes received by the handler"
        CHECK_EQ [rx_buf + 8], 'IRQ!', "IRQ4: received 'IRQ!'"
        mov eax, [irq_count]
        test eax, eax
        CHECK_TRUE nz, "IRQ4 interrupts arrived"
        mov eax, [first_iir]
        and eax, 0xc7
        CHECK_EQ eax, 0xc4, "the handler's IIR: FIFOs on, received data (or its timeout)"
        CHECK_EQ [last_iir_after], 0xc1, "IIR after the FIFO is drained: no interrupt pending"
        CHECK_EQ [eoi_isr], 0, "the handler's EOI leaves nothing in service"

        ; ---------------------------------------------------------------- registers
        INB COM1 + 3
        CHECK_EQ eax, 0x03, "LCR reads back 8N1"
        OUTB COM1 + 3, 0x83             ; DLAB on (no printing until it is off again)
        OUTB COM1, 0x0c                 ; DLL: 9600 baud
        OUTB COM1 + 1, 0x12             ; DLM
        INB COM1 + 3
        mov ebx, eax
        INB COM1
        mov ecx, eax
        INB COM1 + 1
        mov esi, eax
        OUTB COM1 + 1, 0x00
        OUTB COM1, 0x01                 ; back to 115200
        OUTB COM1 + 3, 0x03
        CHECK_EQ ebx, 0x83, "LCR reads back with DLAB"
        CHECK_EQ ecx, 0x0c, "DLAB = 1: offset 0 is DLL"
        CHECK_EQ esi, 0x12, "DLAB = 1: offset 1 is DLM"
        INB COM1 + 1
        CHECK_EQ eax, 0, "DLAB = 0: offset 1 is IER again (untouched by the DLM writes)"
        OUTB COM1 + 7, 0x5a
        INB COM1 + 7
        CHECK_EQ eax, 0x5a, "SCR holds a byte"
        INB COM1 + 4
        CHECK_EQ eax, 0x0b, "MCR reads back"
        INB COM1 + 5
        and eax, 0x61
        CHECK_EQ eax, 0x60, "LSR: THR and transmitter empty, no data"
        INB COM1 + 2
        CHECK_EQ eax, 0xc1, "IIR: FIFOs enabled, no interrupt pending"
        OUTB COM1 + 2, 0x00
        INB COM1 + 2
        CHECK_EQ eax, 0x01, "IIR with FIFOs off: bits 7-6 clear"
        OUTB COM1 + 2, 0x07
        OUTB COM1 + 1, 0x02             ; IER: THR empty
        INB COM1 + 2
        mov ebx, eax
        INB COM1 + 2                    ; (printing would write THR and raise THRE again)
        mov ecx, eax
        OUTB COM1 + 1, 0x00
        CHECK_EQ ebx, 0xc2, "enabling ETBEI with THR empty: IIR reports THRE at once"
        CHECK_EQ ecx, 0xc1, "reading IIR cleared the THRE interrupt"

        ; ---------------------------------------------------------------- loopback (no output here)
        OUTB COM1 + 4, 0x1f             ; LOOP, OUT2, OUT1, RTS, DTR
        INB COM1 + 6
        mov [msr_all], eax
        OUTB COM1 + 4, 0x10             ; LOOP only
        INB COM1 + 6
        mov [msr_none], eax
        OUTB COM1 + 2, 0x47             ; FIFOs on, reset, trigger level 4
        OUTB COM1, 'a'
        OUTB COM1, 'b'
        OUTB COM1, 'c'
        INB COM1 + 5
        mov [lsr_3], eax
        OUTB COM1 + 1, 0x01             ; ERBFI (the IRQ stays silent: loopback disconnects OUT2)
        INB COM1 + 2
        mov [iir_3], eax
        OUTB COM1, 'd'
        INB COM1 + 2
        mov [iir_4], eax
        mov ecx, 4
        mov edi, loop_buf
.rd4:   INB COM1
        stosb
        loop .rd4
        INB COM1 + 2
        mov [iir_0], eax
        OUTB COM1, 'e'
        OUTB COM1, 'f'
        INB COM1 + 2
        mov [iir_2], eax
        PIT_CH2_ONESHOT 2 * 1193        ; 2 ms > 4 character times at 115200 baud
.t:     PIT_CH2_DONE
        jz .t
        INB COM1 + 2
        mov [iir_timeout], eax
        INB COM1
        stosb
        INB COM1
        stosb
        INB COM1 + 2
        mov [iir_after_timeout], eax
        OUTB COM1 + 1, 0x00
        OUTB COM1 + 2, 0x07             ; trigger 1, FIFOs cleared
        mov ecx, 17
.ovr:   OUTB COM1, cl
        loop .ovr
        INB COM1 + 5
        mov [lsr_overrun], eax
        INB COM1 + 5
        mov [lsr_again], eax
        xor ecx, ecx
.drain: INB COM1 + 5
        test al, 1
        jz .drained
        INB COM1
        inc ecx
        jmp .drain
.drained:
        mov [drained], ecx
        OUTB COM1 + 4, 0x0b             ; loopback off: output works again
        CHECK_EQ [msr_all], 0xf0, "loopback: DTR, RTS, OUT1, OUT2 appear as DSR, CTS, RI, DCD (deltas read as 0)"
        mov eax, [msr_none]
        and eax, 0xf0
        CHECK_EQ eax, 0, "loopback with every output off: MSR lines low"
        mov eax, [lsr_3]
        and eax, 1
        CHECK_EQ eax, 1, "loopback: a byte written to THR arrives in RBR"
        CHECK_EQ [iir_3], 0xc1, "trigger level 4: three bytes raise no interrupt"
        CHECK_EQ [iir_4], 0xc4, "the fourth byte raises received data available"
        CHECK_EQ [loop_buf], 'abcd', "the FIFO returns the bytes in order"
        CHECK_EQ [iir_0], 0xc1, "drained: no interrupt"
        CHECK_EQ [iir_2], 0xc1, "two bytes below the trigger: no interrupt yet"
        CHECK_EQ [iir_timeout], 0xcc, "after four character times: character timeout"
        movzx eax, word [loop_buf + 4]
        CHECK_EQ eax, 'ef', "the bytes below the trigger level are there"
        CHECK_EQ [iir_after_timeout], 0xc1, "reading them clears the timeout"
        mov eax, [lsr_overrun]
        and eax, 0x03
        CHECK_EQ eax, 0x03, "17 bytes into a 16-byte FIFO: LSR.OE and DR"
        mov eax, [lsr_again]
        and eax, 0x02
        CHECK_EQ eax, 0, "reading LSR clears OE"
        CHECK_EQ [drained], 16, "the FIFO kept 16 bytes"
        TEST_DONE

irq4:   pushad
        inc dword [irq_count]
        INB COM1 + 2
        cmp dword [first_iir], -1
        jne .read
        mov [first_iir], eax
.read:  INB COM1 + 5
        test al, 1
        jz .done
        INB COM1
        mov ecx, [rx_count]
        cmp ecx, 16
        jae .read
        mov [rx_buf + 8 + ecx], al
        inc dword [rx_count]
        jmp .read
.done:  INB COM1 + 2
        mov [last_iir_after], eax
        PIC_EOI
        call pic_read_isr
        movzx eax, al
        mov [eoi_isr], eax
        popad
        iretd

rx_count:       dd 0
irq_count:      dd 0
first_iir:      dd -1
last_iir_after: dd 0
eoi_isr:        dd 0
rx_buf:         times 32 db 0
loop_buf:       times 8 db 0
msr_all:        dd 0
msr_none:       dd 0
lsr_3:          dd 0
iir_3:          dd 0
iir_4:          dd 0
iir_0:          dd 0
iir_2:          dd 0
iir_timeout:    dd 0
iir_after_timeout: dd 0
lsr_overrun:    dd 0
lsr_again:      dd 0
drained:        dd 0
        MULTIBOOT_END
