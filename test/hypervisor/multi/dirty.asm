; Keeps dirtying memory while printing a running checksum: STEPS steps, each storing WRITES
; pseudo-random dwords (a linear congruential sequence) at pseudo-random places in a 2 MiB buffer,
; printing the step number and a running hash every 16 steps; at the end a checksum over the whole
; buffer. Migrated mid-run, the destination must continue the sequence with no gap or repeat and
; reach the same final checksum.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"

%ifndef STEPS
%define STEPS 256
%endif
%ifndef WRITES
%define WRITES 64
%endif
%define BUFFER 0x200000
%define BUFFER_DWORDS (0x200000 / 4)

start:
        mov esp, 0x90000
        call serial_init
        mov ebx, 12345                  ; the generator's state
        xor ebp, ebp                    ; running hash
        mov dword [step], 0
.step:  mov ecx, WRITES
.write: imul ebx, ebx, 1103515245
        add ebx, 12345
        mov eax, ebx
        shr eax, 11
        and eax, BUFFER_DWORDS - 1
        mov [BUFFER + eax * 4], ebx
        imul ebp, ebp, 31
        add ebp, ebx
        loop .write
        inc dword [step]
        test dword [step], 15
        jnz .next
        PRINT "step "
        mov eax, [step]
        call serial_dec32
        PRINT " hash "
        mov eax, ebp
        call serial_hex32
        PRINT 10
.next:  cmp dword [step], STEPS
        jb .step
        xor eax, eax
        mov esi, BUFFER
        mov ecx, BUFFER_DWORDS
.sum:   rol eax, 1
        add eax, [esi]
        add esi, 4
        loop .sum
        PRINT "final "
        call serial_hex32
        PRINT 10
        mov al, 0
        out 0xf4, al

step:   dd 0
        MULTIBOOT_END
