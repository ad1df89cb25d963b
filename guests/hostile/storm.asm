; Hostile guest: interrupt storms. It never stops by itself; the hypervisor must keep injecting
; what the guest's own devices raise without letting the storm take the CPU from its neighbours.
; Every vector from 0x20 up counts the interrupt and sends a non-specific EOI to both PICs; the
; main loop prints the count every 4096 interrupts. -D STORM=n picks the storm:
;   0 timer     (default) 8254 counter 0 at its fastest periodic rate (mode 2, count 2: 596 kHz),
;               every IRQ of both PICs unmasked
;   1 screaming every master line level-triggered (ICW1.LTIM), the UART's transmitter-empty
;               interrupt enabled and never serviced: IRQ4 asserted for good, so every EOI lets
;               it in again at once (the guest itself never gets past its IRET)
;   2 pic       the timer storm while the main loop reprograms both PICs with pseudo-random
;               commands: OCW1 masks, OCW2 EOIs/rotations/priorities, OCW3 reads, polls and
;               special mask mode, whole ICW1-ICW4 sequences with random vector bases
;   3 int       the timer storm while the main loop runs INT n through every vector 0x20-0xFF
;   4 pv        paravirtual: a SET_TIMER period of 1 ns, and the event handler SEND_EVENTs to
;               itself before acknowledging, so an event is always pending
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "pit.inc"
%include "hypercalls.inc"
%include "xorshift.inc"
%ifndef STORM
%define STORM 0
%endif
%define PV_VECTOR 0x40

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        mov ecx, 0x20                   ; every vector from 0x20: count, EOI, IRET
.gate:  mov eax, irq_any
        mov [idt + ecx * 8], ax
        shr eax, 16
        mov [idt + ecx * 8 + 6], ax
        inc ecx
        cmp ecx, 256
        jb .gate
%if STORM == 4
        SET_GATE PV_VECTOR, pv_event, 0x8e
        PRINT "hostile storm: PV timer every 1 ns, events re-sent by their own handler", 10
        mov eax, HC_EVENT_VECTOR
        mov ebx, PV_VECTOR
        vmcall
        mov eax, HC_SET_TIMER
        xor ebx, ebx                    ; deadline 0: now
        xor ecx, ecx
        mov edx, 1                      ; period 1 ns
        vmcall
%else
        call pic_init
        PIC_MASK 0
        mov al, 0
        out 0xa1, al                    ; every slave line too
%if STORM == 1
        PRINT "hostile storm: level-triggered IRQ4 from the UART, never serviced", 10
        mov al, 0x19                    ; ICW1 with LTIM: every master line level-triggered
        out 0x20, al
        mov al, PIC_MASTER_VECTOR
        out 0x21, al
        mov al, 4
        out 0x21, al
        mov al, 1
        out 0x21, al
        mov al, 0
        out 0x21, al
        mov dx, COM1 + 1
        mov al, 0x02                    ; IER: transmitter holding register empty
        out dx, al
        mov dx, COM1 + 4
        mov al, 0x0b                    ; MCR: DTR, RTS, OUT2 (the PC's interrupt enable)
        out dx, al
%else
        PRINT "hostile storm: PIT counter 0 at count 2 (596 kHz), every IRQ unmasked"
%if STORM == 2
        PRINT ", PICs reprogrammed at random"
%elif STORM == 3
        PRINT ", INT n through vectors 0x20-0xff"
%endif
        PRINT 10
        PIT_CH0 2, 2
%endif
%endif
        mov ebx, 0x2545f491             ; the generator's state (STORM=2)
        mov ebp, 0x1000                 ; next count to report
        sti
.main:  cmp [interrupts], ebp
        jb .work
        PRINT "hostile storm: "
        mov eax, [interrupts]
        call serial_dec32
        PRINT " interrupts", 10
        add ebp, 0x1000
.work:
%if STORM == 2
        call pic_random
%elif STORM == 3
        call int_sweep
%endif
        jmp .main

irq_any:
        inc dword [interrupts]
        push eax
        mov al, 0x20
        out 0xa0, al
        out 0x20, al
        pop eax
        iretd

%if STORM == 4
pv_event:
        pushad
        inc dword [interrupts]
        mov eax, HC_SEND_EVENT
        mov ebx, 8
        vmcall
        mov eax, HC_ACK_EVENT
        mov ebx, 1                      ; the timer's event; event 8 stays pending
        vmcall
        popad
        iretd
%endif

%if STORM == 2
; One pseudo-random PIC command (xorshift32 in EBX). Vector bases stay at 0x20 and above.
pic_random:
        pushad
        XORSHIFT32 ebx, eax
        mov [rng], ebx
        mov ecx, ebx
        shr ecx, 8
        and ecx, 7
        mov al, bl                      ; the command's byte
        mov dx, 0x20
        test bh, 1
        jz .chip
        mov dx, 0xa0
.chip:  jmp [.kinds + ecx * 4]
.kinds: dd .mask, .ocw2, .ocw3, .mask, .ocw2, .ocw3, .icw, .poll
.mask:  inc dx
        out dx, al
        jmp .done
.ocw2:  and al, 0xe7                    ; bits 4-3 = 00: OCW2
        out dx, al
        jmp .done
.ocw3:  and al, 0x6f                    ; bit 7 = 0, bits 4-3 = 01: OCW3
        or al, 0x08
        out dx, al
        in al, dx
        jmp .done
.poll:  mov al, 0x0c                    ; OCW3 poll: the next read is the acknowledge
        out dx, al
        in al, dx
        jmp .done
.icw:   and al, 0x0b                    ; ICW1: IC4, SNGL, LTIM at random
        or al, 0x11
        out dx, al
        inc dx
        mov al, [rng + 2]
        or al, 0x20                     ; ICW2: a vector base of 0x20 or above
        and al, 0xf8
        out dx, al
        mov al, [rng + 3]
        test byte [rng], 0x02           ; ICW3 only in cascade mode (SNGL = 0)
        jnz .icw4
        out dx, al
.icw4:  test byte [rng], 0x01           ; ICW4 only when IC4
        jz .unmask
        and al, 0x1f                    ; 8086 mode or not, AEOI, buffered, special fully nested
        out dx, al
.unmask:
        mov al, 0
        out dx, al
.done:  popad
        mov ebx, [rng]
        ret
rng:    dd 0
%endif

%if STORM == 3
int_sweep:
%assign v 0x20
%rep 0xe0
        int v
%assign v v + 1
%endrep
        ret
%endif

interrupts: dd 0
        MULTIBOOT_END
