; The TLB (SDM Vol. 3A 4.10): translations stay cached after the paging structures change until
; the SDM's invalidations (INVLPG, MOV CR3, changes of CR4.PGE/PSE and CR0.PG); MOV CR3 keeps
; global translations (CR4.PGE with PTE.G or PDE.G) and INVLPG drops them too. Stale entries keep
; their old frame, permissions, presence and accessed state, for data and instruction fetches.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "paging.inc"

%define WIN      0x800000               ; PDE 2: 4 KiB pages from TEST_PT
%define TEST_PT  PAGING_FREE
%define PD2      0x304000               ; a second address space: only the identity map
%define FRAME_A  0x500000
%define FRAME_B  0x501000
%define FRAME_C  0x502000               ; code: mov eax, 0xc; ret
%define FRAME_D  0x503000               ; code: mov eax, 0xd; ret

%macro SUP_OP 1+
        TRY %%after
        %1
%%after:
        mov dword [exc_recover], 0
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# tlb", 10
        mov dword [FRAME_A], 0xaaaa
        mov dword [FRAME_B], 0xbbbb
        mov dword [FRAME_C], 0x00000cb8 ; mov eax, 0xc
        mov word [FRAME_C + 4], 0xc300  ; ret
        mov dword [FRAME_D], 0x00000db8
        mov word [FRAME_D + 4], 0xc300

        mov eax, PAGE_P | PAGE_W
        call paging_identity
        mov edi, TEST_PT
        mov ecx, 1024
        xor eax, eax
        rep stosd
        SET_PDE 2, TEST_PT | PAGE_P | PAGE_W
        mov esi, PAGING_PD              ; PD2: the identity map only
        mov edi, PD2
        mov ecx, 1024
        rep movsd
        mov dword [PD2 + 8], 0
        call paging_on

        ; ---------------------------------------------------------------- INVLPG
        SET_PTE TEST_PT, 0, FRAME_A | PAGE_P | PAGE_W
        CHECK_EQ [WIN], 0xaaaa, "page 0 maps frame A"
        SET_PTE TEST_PT, 0, FRAME_B | PAGE_P | PAGE_W
        CHECK_EQ [WIN], 0xaaaa, "PTE changed to frame B without INVLPG: the stale translation is used"
        invlpg [WIN + 0x123]
        CHECK_EQ [WIN], 0xbbbb, "after INVLPG (any address in the page) the new frame is used"

        SET_PTE TEST_PT, 0, 0
        TRY .np1
        mov eax, [WIN]
.np1:   CHECK_EQ [exc_vector], -1, "PTE cleared without INVLPG: the access still succeeds"
        CHECK_EQ eax, 0xbbbb, "... through the cached frame"
        mov dword [exc_recover], 0
        invlpg [WIN]
        SUP_OP mov eax, [WIN]
        CHECK_EQ [exc_vector], PF_VECTOR, "after INVLPG it raises #PF"
        CHECK_EQ [exc_cr2], WIN, "... with CR2 = the address"

        ; Permissions are cached too.
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        SET_PTE TEST_PT, 1, FRAME_A | PAGE_P | PAGE_W
        mov dword [WIN + 0x1010], 1     ; cached as writable (and dirty)
        SET_PTE TEST_PT, 1, FRAME_A | PAGE_P | PAGE_A | PAGE_D
        SUP_OP mov dword [WIN + 0x1010], 2
        CHECK_EQ [exc_vector], -1, "PTE made read-only without INVLPG: a write still succeeds"
        CHECK_EQ [FRAME_A + 0x10], 2, "... and stores"
        invlpg [WIN + 0x1000]
        SUP_OP mov dword [WIN + 0x1010], 3
        CHECK_EQ [exc_vector], PF_VECTOR, "after INVLPG the write faults"
        CHECK_EQ [exc_error], PF_P | PF_W, "... with error code P | W"

        ; The accessed bit is set on the walk, not on every access.
        mov eax, [WIN + 0x1000]
        and dword [TEST_PT + 4], ~PAGE_A
        mov eax, [WIN + 0x1000]
        mov eax, [TEST_PT + 4]
        and eax, PAGE_A
        CHECK_EQ eax, 0, "PTE.A cleared while the translation is cached: a hit does not set it again"
        invlpg [WIN + 0x1000]
        mov eax, [WIN + 0x1000]
        mov eax, [TEST_PT + 4]
        and eax, PAGE_A
        CHECK_EQ eax, PAGE_A, "after INVLPG the next access walks and sets PTE.A"

        ; Instruction fetches use the TLB too.
        SET_PTE TEST_PT, 2, FRAME_C | PAGE_P
        call WIN + 0x2000
        CHECK_EQ eax, 0xc, "code page 2 runs frame C"
        SET_PTE TEST_PT, 2, FRAME_D | PAGE_P
        call WIN + 0x2000
        CHECK_EQ eax, 0xc, "code PTE changed without INVLPG: the old frame still runs"
        invlpg [WIN + 0x2000]
        call WIN + 0x2000
        CHECK_EQ eax, 0xd, "after INVLPG the new frame runs"

        ; ---------------------------------------------------------------- MOV CR3 and global pages
        mov eax, cr4
        or eax, CR4_PGE | CR4_PSE
        mov cr4, eax
        SET_PTE TEST_PT, 3, FRAME_A | PAGE_P | PAGE_W               ; not global
        SET_PTE TEST_PT, 4, FRAME_A | PAGE_P | PAGE_W | PAGE_G      ; global
        SET_PDE 3, 0x400000 | PAGE_PS | PAGE_P | PAGE_W | PAGE_G    ; global 4 MiB page
        CHECK_EQ [WIN + 0x3000], 0xaaaa, "non-global page 3 maps frame A"
        CHECK_EQ [WIN + 0x4000], 0xaaaa, "global page 4 maps frame A"
        CHECK_EQ [0xc00000 + 0x100000], 0xaaaa, "global 4 MiB page maps 0x400000"
        SET_PTE TEST_PT, 3, FRAME_B | PAGE_P | PAGE_W
        SET_PTE TEST_PT, 4, FRAME_B | PAGE_P | PAGE_W | PAGE_G
        SET_PDE 3, 0 | PAGE_PS | PAGE_P | PAGE_W | PAGE_G
        mov eax, cr3
        mov cr3, eax
        CHECK_EQ [WIN + 0x3000], 0xbbbb, "MOV CR3 flushes the non-global translation"
        CHECK_EQ [WIN + 0x4000], 0xaaaa, "MOV CR3 keeps the global 4 KiB translation"
        CHECK_EQ [0xc00000 + 0x100000], 0xaaaa, "MOV CR3 keeps the global 4 MiB translation"
        mov eax, PD2
        mov cr3, eax
        TRY .np2
        mov eax, [WIN + 0x4000]
.np2:   CHECK_EQ [exc_vector], -1, "a new address space that does not map the global page still reaches it"
        CHECK_EQ eax, 0xaaaa, "... through the global translation"
        SUP_OP mov eax, [WIN + 0x3000]
        CHECK_EQ [exc_vector], PF_VECTOR, "... while its non-global neighbour faults"
        CHECK_EQ [exc_cr2], WIN + 0x3000, "... with CR2 = its address"
        mov eax, PAGING_PD
        mov cr3, eax
        invlpg [WIN + 0x4000]
        CHECK_EQ [WIN + 0x4000], 0xbbbb, "INVLPG drops a global translation"
        invlpg [0xc00000 + 0x100000]
        CHECK_EQ [0xc00000 + 0x100000], MULTIBOOT_MAGIC, "INVLPG drops a global 4 MiB translation (now onto this image)"

        ; Changing CR4.PGE flushes everything, global entries included.
        SET_PTE TEST_PT, 4, FRAME_A | PAGE_P | PAGE_W | PAGE_G
        invlpg [WIN + 0x4000]
        CHECK_EQ [WIN + 0x4000], 0xaaaa, "global page 4 back on frame A"
        SET_PTE TEST_PT, 4, FRAME_B | PAGE_P | PAGE_W | PAGE_G
        mov eax, cr3
        mov cr3, eax
        CHECK_EQ [WIN + 0x4000], 0xaaaa, "still frame A after MOV CR3"
        mov eax, cr4
        and eax, ~CR4_PGE
        mov cr4, eax
        CHECK_EQ [WIN + 0x4000], 0xbbbb, "clearing CR4.PGE flushes the global translation"
        ; Without CR4.PGE, PTE.G means nothing: MOV CR3 flushes the page.
        SET_PTE TEST_PT, 4, FRAME_A | PAGE_P | PAGE_W | PAGE_G
        mov eax, cr3
        mov cr3, eax
        CHECK_EQ [WIN + 0x4000], 0xaaaa, "with CR4.PGE = 0 MOV CR3 flushes a PTE.G page"
        mov eax, cr4
        or eax, CR4_PGE
        mov cr4, eax
        CHECK_EQ [WIN + 0x4000], 0xaaaa, "CR4.PGE set again; page 4 on frame A, global"
        SET_PTE TEST_PT, 4, FRAME_B | PAGE_P | PAGE_W | PAGE_G
        mov eax, cr4
        and eax, ~CR4_PGE
        mov cr4, eax
        or eax, CR4_PGE
        mov cr4, eax
        CHECK_EQ [WIN + 0x4000], 0xbbbb, "toggling CR4.PGE off and on flushes globals"

        ; Turning paging off and on flushes global translations too.
        SET_PTE TEST_PT, 4, FRAME_A | PAGE_P | PAGE_W | PAGE_G
        invlpg [WIN + 0x4000]
        mov eax, [WIN + 0x4000]
        SET_PTE TEST_PT, 4, FRAME_B | PAGE_P | PAGE_W | PAGE_G
        call paging_off
        call paging_on
        CHECK_EQ [WIN + 0x4000], 0xbbbb, "clearing CR0.PG flushes global translations"
        TEST_DONE
        MULTIBOOT_END
