; Compute workload "alu": a tight register-only loop.
; Dynamic instruction count: 5 + 6 * ITER (the loop body is 6 instructions, hlt included in the 5).
bits 32
%ifndef ITER
%define ITER 1000000
%endif
%ifndef ORG
%define ORG 0x100000
%endif
org ORG
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
        hlt
