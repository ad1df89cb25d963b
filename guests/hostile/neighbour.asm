; The well-behaved guest every hostile guest runs beside: it computes (a sieve of Eratosthenes
; over 16384 numbers), then sleeps through TICKS interrupts of a 20 kHz PIT timer (HLT between
; them), prints both results and powers off with status 0 (exit code 1). Its output and, at the
; end, every byte of its memory are the same whatever runs beside it: the timer handler stops
; counting at TICKS, and the stack the interrupts wrote on is cleared before the exit, so a test
; can compare the memory of a run beside a hostile guest with a run alone.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "pit.inc"

%define SIEVE   0x200000                ; one byte per number: 1 = composite
%define LIMIT   16384
%define TICKS   3
%define STACK_BOTTOM (KERNEL_STACK_TOP - 0x1000)

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        ; The sieve.
        mov edi, SIEVE
        mov ecx, LIMIT / 4
        xor eax, eax
        cld
        rep stosd
        mov ebx, 2
.outer: mov eax, ebx
        mul ebx
        cmp eax, LIMIT
        jae .count
        cmp byte [SIEVE + ebx], 0
        jne .skip
.cross: mov byte [SIEVE + eax], 1
        add eax, ebx
        cmp eax, LIMIT
        jb .cross
.skip:  inc ebx
        jmp .outer
.count: xor edx, edx
        mov ecx, 2
.each:  cmp byte [SIEVE + ecx], 0
        jne .composite
        inc edx
.composite:
        inc ecx
        cmp ecx, LIMIT
        jb .each
        PRINT "neighbour: "
        mov eax, edx
        call serial_dec32
        PRINT " primes below 16384", 10

        ; The timer: 20 kHz on IRQ0 through the PIC, HLT between ticks.
        SET_GATE PIC_MASTER_VECTOR, timer, 0x8e
        call pic_init
        PIC_MASK 0xfe
        PIT_CH0 2, PIT_HZ / 20000
.wait:  sti
        hlt
        cli
        cmp dword [ticks], TICKS
        jb .wait
        PIC_MASK 0xff
        PRINT "neighbour: "
        mov eax, [ticks]
        call serial_dec32
        PRINT " timer ticks, done", 10
        ; Interrupt frames landed on the stack at moments that depend on what ran beside: clear it.
        mov esp, KERNEL_STACK_TOP
        mov edi, STACK_BOTTOM
        mov ecx, (KERNEL_STACK_TOP - STACK_BOTTOM) / 4
        xor eax, eax
        rep stosd
        out DEBUG_EXIT_PORT, al
.stop:  hlt
        jmp .stop

timer:  cmp dword [ticks], TICKS
        jae .eoi
        inc dword [ticks]
.eoi:   PIC_EOI
        iretd

ticks:  dd 0
        MULTIBOOT_END
