; Hostile guest: page tables pointing outside its memory. Paging on (identity map of 8 MiB), then:
; a PTE aliasing the MMIO UART's page (a store through it must reach the UART); a PDE whose page
; table lies outside guest memory, read by the hypervisor's own page walk (a REP OUTSB from that
; window: the hypervisor must not follow it; the guest sees #PF or is stopped); then one access
; that must stop the VM, chosen by -D FINAL=n: 0 a store through a PTE pointing past the end of
; memory (default), 1 a load through a PDE whose page table lies past the end, 2 CR3 pointing
; outside memory, 3 a 4 MiB page at 3 GiB, 4 REP INSB into a page past the end of memory.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "paging.inc"
%ifndef FINAL
%define FINAL 0
%endif
%define WIN       0x800000              ; PDE 2: a window of 4 KiB pages from WIN_PT
%define WIN_PT    PAGING_FREE
%define FAR_PDE   3                     ; PDE 3 (0xC00000): its page table is outside memory
%define FAR       (FAR_PDE << 22)
%define OUTSIDE   0xf0000000            ; a guest-physical address far outside memory
%define MMIO_UART 0xfe000000

start:
        mov esp, KERNEL_STACK_TOP
        MULTIBOOT_MEMORY_END eax
        mov [memsize], eax
        call serial_init
        call system_init
        PRINT "hostile pagetables: paging on, identity map of 8 MiB", 10
        mov eax, PAGE_P | PAGE_W
        call paging_identity
        mov edi, WIN_PT
        mov ecx, 1024
        xor eax, eax
        rep stosd
        SET_PDE 2, WIN_PT | PAGE_P | PAGE_W
        call paging_on

        PRINT "hostile pagetables: a PTE aliasing the MMIO UART; storing '!' and a newline through it", 10
        SET_PTE WIN_PT, 0, MMIO_UART | PAGE_P | PAGE_W
        invlpg [WIN]
        mov byte [WIN], '!'
        mov byte [WIN], 10

        PRINT "hostile pagetables: a PDE whose page table is at 0xf0000000; REP OUTSB from it", 10
        SET_PDE FAR_PDE, OUTSIDE | PAGE_P | PAGE_W
        invlpg [FAR]
        TRY .outs_done
        mov esi, FAR
        mov ecx, 4
        mov dx, 0x80
        rep outsb
        TRY_END
.outs_done:
        PRINT "hostile pagetables: ... the guest saw vector "
        mov eax, [exc_vector]
        call serial_dec32
        PRINT ", CR2 0x"
        mov eax, [exc_cr2]
        call serial_hex32
        PRINT 10
        TRY .unexpected                 ; from here on every fault is a failure to stop the VM

%if FINAL == 0
        PRINT "hostile pagetables: storing through a PTE that points past the end of memory", 10
        mov eax, [memsize]
        or eax, PAGE_P | PAGE_W
        mov [WIN_PT + 4], eax
        invlpg [WIN + 0x1000]
        mov dword [WIN + 0x1000], 0xbad
%elif FINAL == 1
        PRINT "hostile pagetables: loading through a PDE whose page table is past the end of memory", 10
        mov eax, [memsize]
        or eax, PAGE_P | PAGE_W
        mov [PAGING_PD + FAR_PDE * 4], eax
        invlpg [FAR]
        mov eax, [FAR]
%elif FINAL == 2
        PRINT "hostile pagetables: CR3 pointing at 0xf0000000", 10
        mov eax, OUTSIDE
        mov cr3, eax
        nop
%elif FINAL == 3
        PRINT "hostile pagetables: a 4 MiB page at 0xc0000000 (PSE), loading from it", 10
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov dword [PAGING_PD + FAR_PDE * 4], 0xc0000000 | PAGE_P | PAGE_W | PAGE_PS
        invlpg [FAR]
        mov eax, [FAR]
%else
        PRINT "hostile pagetables: REP INSB into a page past the end of memory", 10
        mov eax, [memsize]
        or eax, PAGE_P | PAGE_W
        mov [WIN_PT + 4], eax
        invlpg [WIN + 0x1000]
        mov edi, WIN + 0x1000
        mov ecx, 16
        mov dx, 0x3f8
        rep insb
%endif
        PRINT "hostile pagetables: reached memory outside the VM and lived", 10
        jmp .exit
.unexpected:
        PRINT "hostile pagetables: fault "
        mov eax, [exc_vector]
        call serial_dec32
        PRINT " instead of a stop", 10
.exit:  mov al, 1
        out 0xf4, al
        cli
.stop:  hlt
        jmp .stop

memsize: dd 0
        MULTIBOOT_END
