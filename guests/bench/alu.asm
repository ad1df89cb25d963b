; Compute workload "alu": a tight register-only loop.
; Dynamic instruction count: 4 + 6 * ITER + BENCH_DONE_INSTRUCTIONS.
bits 32
%ifndef ITER
%define ITER 1000000
%endif
%ifndef ORG
%define ORG 0x100000
%endif
org ORG
%include "multiboot.inc"
%include "bench.inc"
        MULTIBOOT_HEADER start
start:
        mov ecx, ITER
        xor eax, eax
        mov ebx, 0x12345678
        mov edx, 1
.loop:  add eax, ebx
        xor ebx, eax
        sub edx, eax
        or esi, edx
        dec ecx
        jnz .loop
        BENCH_DONE
        MULTIBOOT_END
