; Reads the PIC's IRR in a loop while the PIT runs a square wave on IRQ0 (masked, so it is never
; taken). In edge-triggered mode a request lasts while the line stays high: IRR bit 0 rises with
; OUT0 and falls with it half a period later. The falling edge is no device deadline, so the
; fast path's in-place I/O must sync the devices before a PIC access to show it. EBX counts the
; falls seen, ESI the rises, EBP sums the loop counts at which each was seen; the guest stops
; through isa-debug-exit.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
start:
        mov al, 0x11                    ; ICW1: edge-triggered, cascade, ICW4
        out 0x20, al
        mov al, 0x20                    ; ICW2: vectors 0x20-0x27
        out 0x21, al
        mov al, 0x04                    ; ICW3: slave on IR2
        out 0x21, al
        mov al, 0x01                    ; ICW4: 8086 mode
        out 0x21, al
        mov al, 0xff                    ; OCW1: every line masked
        out 0x21, al
        mov al, 0x36                    ; PIT channel 0, lobyte/hibyte, mode 3 (square wave)
        out 0x43, al
        mov al, 200                     ; 200 ticks: 168 us a period
        out 0x40, al
        xor al, al
        out 0x40, al
        xor ebx, ebx
        xor esi, esi
        xor edi, edi                    ; the last IRR bit 0
        xor ebp, ebp
        mov ecx, 20000
again:  mov al, 0x0a                    ; OCW3: read IRR
        out 0x20, al
        in al, 0x20
        movzx eax, al
        and eax, 1
        cmp eax, edi
        je same
        jb fell
        inc esi
        jmp changed
fell:   inc ebx
changed: mov edi, eax
        add ebp, ecx                    ; when it was seen
same:   dec ecx
        jnz again
        mov al, 0
        out 0xf4, al                    ; isa-debug-exit: status 1
        MULTIBOOT_END
