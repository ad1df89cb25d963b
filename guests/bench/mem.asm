; Compute workload "mem": sieve of Eratosthenes over a 1 MiB byte array, ROUNDS times.
bits 32
%ifndef ROUNDS
%define ROUNDS 1
%endif
%ifndef ORG
%define ORG 0x100000
%endif
%define SIZE 0x100000
%define ARRAY 0x200000
org ORG
%include "multiboot.inc"
%include "bench.inc"
        MULTIBOOT_HEADER start
start:
        mov ebp, ROUNDS
.round: mov edi, ARRAY                  ; clear the array: one byte per number
        mov ecx, SIZE / 4
        xor eax, eax
.clear: mov [edi], eax
        add edi, 4
        dec ecx
        jnz .clear
        mov ebx, 2                      ; candidate
        xor esi, esi                    ; primes found
.next:  cmp byte [ARRAY + ebx], 0
        jne .skip
        inc esi
        mov eax, ebx                    ; mark multiples
        add eax, ebx
.mark:  cmp eax, SIZE
        jae .skip
        mov byte [ARRAY + eax], 1
        add eax, ebx
        jmp .mark
.skip:  inc ebx
        cmp ebx, SIZE
        jb .next
        dec ebp
        jnz .round
        BENCH_DONE
        MULTIBOOT_END
