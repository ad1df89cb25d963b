; Compute workload "branchy": bitwise CRC-32 (reflected, polynomial 0xEDB88320) over LEN bytes of
; generated data, with a data-dependent branch per bit.
bits 32
%ifndef LEN
%define LEN 65536
%endif
%ifndef ORG
%define ORG 0x100000
%endif
org ORG
%include "multiboot.inc"
%include "bench.inc"
        MULTIBOOT_HEADER start
start:
        mov esi, 0                      ; byte counter, also the data (low byte of a mix)
        mov eax, 0xffffffff             ; crc
.byte:  mov edx, esi
        imul edx, edx, 0x9e3779b1
        xor al, dl
        mov ecx, 8
.bit:   shr eax, 1                      ; the bit shifted out decides
        jnc .even
        xor eax, 0xedb88320
.even:  dec ecx
        jnz .bit
        inc esi
        cmp esi, LEN
        jb .byte
        not eax
        BENCH_DONE
        MULTIBOOT_END
