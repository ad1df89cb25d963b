; Paging (SDM Vol. 3A 4.3, 4.6, 4.7, 4.8): two-level 4 KiB paging and 4 MiB pages (CR4.PSE),
; accessed and dirty bits as the processor sets them, and a #PF with the right error code and CR2
; for every combination of present, write, user and the U/S and R/W bits of PDE and PTE, with
; CR0.WP on and off. Ring-3 accesses go through user_call (ring3.inc).
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "paging.inc"
%include "ring3.inc"

%define WIN      0x800000               ; PDE 2: the test window, 4 KiB pages from TEST_PT
%define TEST_PT  PAGING_FREE            ; 0x303000
%define PT_NOUSER 0x305000              ; PDE 4 (0x1000000): PDE without U
%define PT_NOWRITE 0x306000             ; PDE 6 (0x1800000): PDE without W
%define PSE_PT   0x400000               ; page table seen also as a 4 MiB page (PDE 3)
%define FRAME_A  0x500000
%define FRAME_B  0x501000
%define FRAME_C  0x502000
%define FRAME_D  0x503000

; USER_OP function, address: runs `function` at CPL 3 with EBX = address; a fault resumes at u_fault.
%macro USER_OP 2
        TRY u_fault
        mov ebx, %2
        mov eax, %1
        call user_call
        mov dword [exc_recover], 0
%endmacro

; SUP_OP instruction: runs it at CPL 0; a fault resumes after it.
%macro SUP_OP 1+
        TRY %%after
        mov dword [exc_cr2], 0
        %1
%%after:
        mov dword [exc_recover], 0
%endmacro

; PF_IS error, cr2, "what"
%macro PF_IS 3
        CHECK_EQ [exc_vector], PF_VECTOR, {%3, ": #PF"}
        CHECK_EQ [exc_error], %1, {%3, ": error code"}
        CHECK_EQ [exc_cr2], %2, {%3, ": CR2"}
%endmacro

%macro NO_FAULT 1
        CHECK_EQ [exc_vector], -1, {%1, ": no fault"}
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        call ring3_init
        PRINT "# paging", 10

        ; Physical contents before paging.
        mov dword [FRAME_A], 0x11111111
        mov dword [FRAME_B], 0x22222222
        mov dword [FRAME_C], 0x33333333
        mov word [FRAME_D], 0x80cd      ; int 0x80 (USER_EXIT) for a ring-3 fetch

        mov eax, PAGE_P | PAGE_W | PAGE_U
        call paging_identity
        ; The test window: a page table with every entry not present.
        mov edi, TEST_PT
        mov ecx, 1024 * 4
        xor eax, eax
        rep stosd                       ; TEST_PT and TEST_PT + 0x1000 .. (up to 0x307000)
        SET_PDE 2, TEST_PT | PAGE_P | PAGE_W | PAGE_U
        SET_PTE TEST_PT, 0, FRAME_B | PAGE_P | PAGE_W | PAGE_U
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        call paging_on
        mov eax, cr0
        and eax, CR0_PG | CR0_WP
        CHECK_EQ eax, CR0_PG | CR0_WP, "CR0.PG and CR0.WP read back set"
        mov eax, cr3
        CHECK_EQ eax, PAGING_PD, "CR3 holds the page directory"

        ; ---------------------------------------------------------------- translation
        CHECK_EQ [WIN], 0x22222222, "4 KiB page: linear 0x800000 reads physical 0x501000"
        CHECK_EQ [FRAME_A], 0x11111111, "identity-mapped 0x500000 reads physical 0x500000"
        mov dword [WIN + 0xffc], 0xabcdef01
        CHECK_EQ [FRAME_B + 0xffc], 0xabcdef01, "a store through the alias lands in physical 0x501ffc"
        mov byte [WIN + 0x123], 0x5a
        movzx eax, byte [FRAME_B + 0x123]
        CHECK_EQ eax, 0x5a, "the page offset passes through unchanged"

        ; ---------------------------------------------------------------- accessed and dirty, 4 KiB
        SET_PDE 2, TEST_PT | PAGE_P | PAGE_W | PAGE_U       ; A clear
        SET_PTE TEST_PT, 1, FRAME_A | PAGE_P | PAGE_W       ; A and D clear
        invlpg [WIN + 0x1000]
        mov eax, [WIN + 0x1000]
        CHECK_EQ eax, 0x11111111, "read through a fresh PTE"
        mov eax, [TEST_PT + 4]
        and eax, PAGE_A | PAGE_D
        CHECK_EQ eax, PAGE_A, "a read sets PTE.A and leaves PTE.D clear"
        mov eax, [PAGING_PD + 8]
        and eax, PAGE_A | PAGE_D
        CHECK_EQ eax, PAGE_A, "a read sets PDE.A (PDE bit 6 stays clear)"
        mov dword [WIN + 0x1004], 1
        mov eax, [TEST_PT + 4]
        and eax, PAGE_A | PAGE_D
        CHECK_EQ eax, PAGE_A | PAGE_D, "the first write after a read sets PTE.D"
        mov eax, [PAGING_PD + 8]
        and eax, PAGE_D
        CHECK_EQ eax, 0, "a write through a 4 KiB mapping never sets the PDE's bit 6"
        SET_PTE TEST_PT, 2, FRAME_A | PAGE_P | PAGE_W
        invlpg [WIN + 0x2000]
        mov dword [WIN + 0x2008], 2
        mov eax, [TEST_PT + 8]
        and eax, PAGE_A | PAGE_D
        CHECK_EQ eax, PAGE_A | PAGE_D, "a write to a fresh PTE sets A and D together"

        ; ---------------------------------------------------------------- 4 MiB pages
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        SET_PDE 3, 0x400000 | PAGE_PS | PAGE_P | PAGE_W
        CHECK_EQ [0xc00000 + 0x101000], 0x22222222, "4 MiB page: linear 0xd01000 reads physical 0x501000"
        CHECK_EQ [0xc00000 + 0x100000], 0x11111111, "4 MiB page: linear 0xd00000 reads physical 0x500000"
        mov eax, [PAGING_PD + 12]
        and eax, PAGE_A | PAGE_D
        CHECK_EQ eax, PAGE_A, "a read through a 4 MiB page sets PDE.A only"
        mov dword [0xc00000 + 0x102010], 0x4444
        CHECK_EQ [FRAME_C + 0x10], 0x4444, "a store through the 4 MiB page lands in physical 0x502010"
        mov eax, [PAGING_PD + 12]
        and eax, PAGE_A | PAGE_D
        CHECK_EQ eax, PAGE_A | PAGE_D, "a write through a 4 MiB page sets PDE.D"

        ; PDE.PS means a 4 MiB page only with CR4.PSE = 1; otherwise the PDE points to a page table.
        mov edi, PSE_PT
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword [PSE_PT], FRAME_A | PAGE_P | PAGE_W
        SET_PDE 3, PSE_PT | PAGE_PS | PAGE_P | PAGE_W
        invlpg [0xc00000]
        CHECK_EQ [0xc00000], FRAME_A | PAGE_P | PAGE_W, "PSE = 1: PS maps a 4 MiB page (here the page table itself)"
        mov eax, cr4
        and eax, ~CR4_PSE
        mov cr4, eax
        CHECK_EQ [0xc00000], 0x11111111, "PSE = 0: the same PDE points to a page table"
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        CHECK_EQ [0xc00000], FRAME_A | PAGE_P | PAGE_W | PAGE_A, "setting CR4.PSE again flushes the 4 KiB translation"

        ; ---------------------------------------------------------------- #PF at CPL 0
        mov eax, 0x1234
        SUP_OP mov eax, [WIN + 0x4010]
.np_read:
        PF_IS 0, WIN + 0x4010, "supervisor read, PTE not present"
        CHECK_EQ eax, 0x1234, "the faulting load left its destination unchanged"
        SUP_OP mov dword [WIN + 0x4ffc], 1
        PF_IS PF_W, WIN + 0x4ffc, "supervisor write, PTE not present"
        SUP_OP mov eax, [0x1400abc]
        PF_IS 0, 0x1400abc, "supervisor read, PDE not present"
        SUP_OP mov dword [0x1400ff0], 0
        PF_IS PF_W, 0x1400ff0, "supervisor write, PDE not present"
        TRY .faulted
.faulting:
        mov eax, [WIN + 0x4000]
.faulted:
        CHECK_EQ [exc_eip], .faulting, "#PF reports the faulting instruction's address"
        mov dword [exc_recover], 0

        SET_PTE TEST_PT, 5, FRAME_C | PAGE_P                ; read-only, supervisor
        invlpg [WIN + 0x5000]
        mov eax, [WIN + 0x5000]
        CHECK_EQ eax, 0x33333333, "supervisor read of a read-only page"
        SUP_OP mov dword [WIN + 0x5008], 0x77
        PF_IS PF_P | PF_W, WIN + 0x5008, "supervisor write to a read-only page with CR0.WP = 1"
        CHECK_EQ [FRAME_C + 8], 0, "... and memory is unchanged"
        SUP_OP inc dword [WIN + 0x5010]
        PF_IS PF_P | PF_W, WIN + 0x5010, "read-modify-write of a read-only page"
        mov eax, [TEST_PT + 20]
        and eax, PAGE_D
        CHECK_EQ eax, 0, "... and PTE.D stays clear"
        mov eax, cr0
        and eax, ~CR0_WP
        mov cr0, eax
        SUP_OP mov dword [WIN + 0x5008], 0x77
        NO_FAULT "supervisor write to a read-only page with CR0.WP = 0"
        CHECK_EQ [FRAME_C + 8], 0x77, "... stores"
        mov eax, [TEST_PT + 20]
        and eax, PAGE_D
        CHECK_EQ eax, PAGE_D, "... and sets PTE.D"
        mov eax, 0x5555
        push eax
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        pop eax
        SUP_OP mov dword [WIN + 0x500c], 0x78
        PF_IS PF_P | PF_W, WIN + 0x500c, "setting CR0.WP again: the write faults (no stale permission)"

        ; ---------------------------------------------------------------- #PF at CPL 3
        SET_PTE TEST_PT, 6, FRAME_C | PAGE_P | PAGE_W                ; supervisor page
        SET_PTE TEST_PT, 7, FRAME_C | PAGE_P | PAGE_U                ; user, read-only
        SET_PTE TEST_PT, 8, FRAME_C | PAGE_P | PAGE_W | PAGE_U       ; user, writable
        SET_PTE TEST_PT, 9, FRAME_D | PAGE_P | PAGE_U                ; user code
        USER_OP u_read, WIN + 0x4100
        PF_IS PF_U, WIN + 0x4100, "user read, not present"
        USER_OP u_write, WIN + 0x4200
        PF_IS PF_U | PF_W, WIN + 0x4200, "user write, not present"
        USER_OP u_fetch, WIN + 0x4300
        PF_IS PF_U, WIN + 0x4300, "user fetch, not present"
        CHECK_EQ [exc_eip], WIN + 0x4300, "... at EIP = the target"
        USER_OP u_read, 0x1400100
        PF_IS PF_U, 0x1400100, "user read, PDE not present"
        USER_OP u_read, WIN + 0x6010
        PF_IS PF_U | PF_P, WIN + 0x6010, "user read of a supervisor page"
        USER_OP u_write, WIN + 0x6020
        PF_IS PF_U | PF_W | PF_P, WIN + 0x6020, "user write to a supervisor page"
        USER_OP u_fetch, WIN + 0x6030
        PF_IS PF_U | PF_P, WIN + 0x6030, "user fetch from a supervisor page"
        CHECK_EQ [exc_cs], USER_CS, "... reported at CPL 3"
        USER_OP u_read, WIN + 0x7000
        NO_FAULT "user read of a read-only user page"
        CHECK_EQ eax, 0x33333333, "... reads the frame"
        USER_OP u_write, WIN + 0x7040
        PF_IS PF_U | PF_W | PF_P, WIN + 0x7040, "user write to a read-only user page"
        mov eax, cr0
        and eax, ~CR0_WP
        mov cr0, eax
        USER_OP u_write, WIN + 0x7044
        PF_IS PF_U | PF_W | PF_P, WIN + 0x7044, "user write to a read-only user page with CR0.WP = 0"
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        USER_OP u_write, WIN + 0x8048
        NO_FAULT "user write to a writable user page"
        CHECK_EQ [FRAME_C + 0x48], 0x600d, "... stores"
        USER_OP u_fetch, WIN + 0x9000
        NO_FAULT "user fetch from a user page"

        ; The PDE's U/S and R/W bits combine with the PTE's: the stricter wins.
        mov edi, PT_NOUSER
        mov ecx, 2048
        xor eax, eax
        rep stosd
        SET_PDE 4, PT_NOUSER | PAGE_P | PAGE_W
        SET_PTE PT_NOUSER, 0, FRAME_C | PAGE_P | PAGE_W | PAGE_U
        SET_PDE 6, PT_NOWRITE | PAGE_P | PAGE_U
        SET_PTE PT_NOWRITE, 0, FRAME_C | PAGE_P | PAGE_W | PAGE_U
        USER_OP u_read, 0x1000000
        PF_IS PF_U | PF_P, 0x1000000, "user read: PTE user, PDE supervisor"
        mov eax, [0x1000000]
        CHECK_EQ eax, 0x33333333, "supervisor read through the same PDE"
        USER_OP u_read, 0x1800010
        NO_FAULT "user read: PDE read-only, PTE writable"
        USER_OP u_write, 0x1800010
        PF_IS PF_U | PF_W | PF_P, 0x1800010, "user write: PDE read-only, PTE writable"
        SUP_OP mov dword [0x1800014], 5
        PF_IS PF_W | PF_P, 0x1800014, "supervisor write with CR0.WP = 1: PDE read-only"
        mov eax, [0x1800000]
        CHECK_EQ eax, 0x33333333, "supervisor read through the read-only PDE"

        TEST_DONE

; Ring-3 snippets: EBX = address.
u_read: mov eax, [ebx]
        USER_EXIT
u_write:
        mov dword [ebx], 0x600d
        USER_EXIT
u_fetch:
        jmp ebx
u_fault:
        USER_EXIT

        MULTIBOOT_END
