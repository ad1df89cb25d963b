; Compute workload "call": recursive Fibonacci, call/ret heavy.
; fib(n) executes 11 instructions per call that recurses and 5 per leaf (n < 2).
bits 32
%ifndef N
%define N 20
%endif
%ifndef ORG
%define ORG 0x100000
%endif
org ORG
%include "multiboot.inc"
%include "bench.inc"
        MULTIBOOT_HEADER start
start:
        mov esp, 0x90000
        mov eax, N
        call fib
        BENCH_DONE
; fib(eax) -> eax, clobbers ecx, edx
fib:    cmp eax, 2
        jb .leaf
        push eax
        dec eax
        call fib
        pop ecx
        push eax
        lea eax, [ecx-2]
        call fib
        pop edx
        add eax, edx
        ret
.leaf:  ret
        MULTIBOOT_END
