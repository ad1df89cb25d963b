; A guest for the migration benchmark: dirties memory at a chosen rate forever. Each step stores
; WRITES dwords at pseudo-random places in a BUFFER_MIB MiB buffer, then runs SPIN loop
; iterations of pure computation; WRITES / (WRITES * 9 + SPIN * 2) is its rate of dirtying stores
; per instruction. -D WRITES=n -D SPIN=n -D BUFFER_MIB=n.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start

%ifndef WRITES
%define WRITES 16
%endif
%ifndef SPIN
%define SPIN 1000
%endif
%ifndef BUFFER_MIB
%define BUFFER_MIB 4
%endif
%define BUFFER 0x400000
%define BUFFER_DWORDS (BUFFER_MIB * 0x40000)

start:
        mov esp, 0x90000
        mov ebx, 12345
.step:  mov ecx, WRITES
.write: imul ebx, ebx, 1103515245
        add ebx, 12345
        mov eax, ebx
        shr eax, 8
        and eax, BUFFER_DWORDS - 1
        mov [BUFFER + eax * 4], ebx
        loop .write
        mov ecx, SPIN
.spin:  add edx, ecx
        loop .spin
        jmp .step
        MULTIBOOT_END
