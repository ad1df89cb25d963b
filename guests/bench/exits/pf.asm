; VM-exit microbenchmark "pf": a page fault handled in the guest: no VM exit (EPT leaves the guest's own #PF alone), the baseline the exits compare with.
; Per iteration: MOV from a not-present page (faults: not retired), the handler's MOV, ADD and IRET, the MOV again, MOV (unmap), INVLPG, DEC, JNZ: 8 instructions, no exit. Setup: EXIT_BENCH_GATE (5) and paging on (10).
bits 32
org 0x100000
%include "multiboot.inc"
%include "exits.inc"
        MULTIBOOT_HEADER start
start:  EXIT_BENCH_BEGIN
%define PD 0x81000
%define PT 0x82000
%define PAGE 0x400000                   ; the page that faults: PT's first entry
        EXIT_BENCH_GATE 14, pf_handler
        mov eax, cr4
        or eax, 0x10                    ; CR4.PSE: 0-4 MiB by one 4 MiB page
        mov cr4, eax
        mov dword [PD], 0x83
        mov dword [PD + 4], PT | 3      ; 4-8 MiB by a page table, its first entry not present
        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        EXIT_BENCH_LOOP
        mov eax, [PAGE]
        mov dword [PT], 0               ; unmap it again
        invlpg [PAGE]
        EXIT_BENCH_NEXT
        EXIT_BENCH_END
pf_handler:
        mov dword [PT], PAGE | 3        ; map the page; the MOV restarts
        add esp, 4                      ; the error code
        iret
        EXIT_BENCH_DATA
        MULTIBOOT_END
