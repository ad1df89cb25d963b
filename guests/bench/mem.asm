; Compute workload "mem": sieve of Eratosthenes over a 1 MiB byte array, ROUNDS times.
; With PAGING defined (workload "paging"), it first turns on 32-bit paging with 4 KiB pages: one
; page table identity-maps 0-4 MiB (3 + 5 * 1024 + 6 = 5,129 more instructions), so every access
; goes through the TLB and, under the hypervisor, the two-level (guest paging, then EPT) walk.
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
%ifdef PAGING
%define PAGING_PD 0x80000
%define PAGING_PT 0x81000
        mov edi, PAGING_PT
        mov eax, 3                      ; present, writable
        mov ecx, 1024
.map:   mov [edi], eax
        add eax, 0x1000
        add edi, 4
        dec ecx
        jnz .map
        mov dword [PAGING_PD], PAGING_PT | 3
        mov eax, PAGING_PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
%endif
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
