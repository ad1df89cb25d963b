; Accesses that cross a page boundary (SDM Vol. 3A 4.7, 6.15 #PF): the pages are checked in
; address order, so a split access whose first page faults reports the address of its first byte
; in CR2, and one whose first page translates but whose second does not reports the start of the
; second page. A faulting store writes nothing, not even the bytes that belong to the good page.
; Loads and stores of words and dwords at every offset that splits them, string stores, and a
; read-only second (and first) page with CR0.WP = 1.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "paging.inc"

; The window: PDE 2, 4 KiB pages from TEST_PT.
;   WIN + 0x0000  FRAME_A  present, writable
;   WIN + 0x1000           not present
;   WIN + 0x2000           not present
;   WIN + 0x3000  FRAME_B  present, writable
;   WIN + 0x4000  FRAME_C  present, read-only
;   WIN + 0x5000           not present
%define WIN      0x800000
%define TEST_PT  PAGING_FREE
%define FRAME_A  0x500000
%define FRAME_B  0x501000
%define FRAME_C  0x502000
%define FRAME_D  0x503000
%define GUARD    0x5a5a5a5a

; SUP_OP instruction: runs it at CPL 0 and records its exception; execution goes on after it.
%macro SUP_OP 1+
        TRY %%after
        mov dword [exc_cr2], 0
        %1
%%after:
        TRY_END
%endmacro

; PF_IS error, cr2, "what"
%macro PF_IS 3
        CHECK_EQ [exc_vector], PF_VECTOR, {%3, ": #PF"}
        CHECK_EQ [exc_error], %1, {%3, ": error code"}
        CHECK_EQ [exc_cr2], %2, {%3, ": CR2"}
%endmacro

; STORE_FAULTS error, cr2, "what", instruction: a store that must fault and write no byte.
%macro STORE_FAULTS 4+
        call guards_set
        SUP_OP %4
        PF_IS %1, %2, %3
        call guards_intact
        CHECK_EQ eax, 1, {%3, ": no byte stored on either page"}
%endmacro

; LOAD_FAULTS error, cr2, "what", instruction (loading EAX): must fault and leave EAX alone.
%macro LOAD_FAULTS 4+
        mov eax, 0x1234
        SUP_OP %4
        PF_IS %1, %2, %3
        CHECK_EQ eax, 0x1234, {%3, ": destination unchanged"}
%endmacro

; SPLIT_GDT base, "what": a GDT at base (the kernel's code and data at 0x08 and 0x10, a data
; segment at 0x123400 not yet accessed at 0x18), loaded and used through FS, then the kernel's GDT.
%macro SPLIT_GDT 2
        mov edi, %1
        mov dword [edi], 0
        mov dword [edi + 4], 0
        mov dword [edi + 0x08], 0x0000ffff
        mov dword [edi + 0x0c], 0x00cf9a00
        mov dword [edi + 0x10], 0x0000ffff
        mov dword [edi + 0x14], 0x00cf9200
        mov dword [edi + 0x18], 0x3400ffff      ; base 15:0 0x3400, limit 15:0
        mov dword [edi + 0x1c], 0x00cf9212      ; base 23:16 0x12, data RW not accessed, G, D/B
        mov word [split_gdtr], 0x1f
        mov dword [split_gdtr + 2], %1
        lgdt [split_gdtr]
        mov ax, 0x18
        mov fs, ax
        mov eax, [fs:0]
        CHECK_EQ eax, 0x600dda7a, {%2, ": base and limit read from both pages"}
        mov eax, [%1 + 0x1c]
        CHECK_EQ eax, 0x00cf9312, {%2, ": the accessed bit set in place"}
        CHECK_EQ [%1 + 0x18], 0x3400ffff, {%2, ": the low dword unchanged"}
        lgdt [gdtr]
        mov ax, KERNEL_DS
        mov fs, ax
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# split", 10

        mov eax, PAGE_P | PAGE_W | PAGE_U
        call paging_identity
        mov edi, TEST_PT
        mov ecx, 1024
        xor eax, eax
        rep stosd
        SET_PDE 2, TEST_PT | PAGE_P | PAGE_W
        SET_PTE TEST_PT, 0, FRAME_A | PAGE_P | PAGE_W
        SET_PTE TEST_PT, 3, FRAME_B | PAGE_P | PAGE_W
        SET_PTE TEST_PT, 4, FRAME_C | PAGE_P
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        call paging_on

        ; ---------------------------------------------------------------- loads
        LOAD_FAULTS 0, WIN + 0x1000, "dword load at 0xffe, second page not present", mov eax, [WIN + 0x0ffe]
        LOAD_FAULTS 0, WIN + 0x1000, "dword load at 0xffd, second page not present", mov eax, [WIN + 0x0ffd]
        LOAD_FAULTS 0, WIN + 0x1000, "dword load at 0xfff, second page not present", mov eax, [WIN + 0x0fff]
        LOAD_FAULTS 0, WIN + 0x1000, "word load at 0xfff, second page not present", movzx eax, word [WIN + 0x0fff]
        LOAD_FAULTS 0, WIN + 0x2ffe, "dword load at 0xffe, first page not present", mov eax, [WIN + 0x2ffe]
        LOAD_FAULTS 0, WIN + 0x2fff, "word load at 0xfff, first page not present", movzx eax, word [WIN + 0x2fff]
        LOAD_FAULTS 0, WIN + 0x1ffd, "dword load at 0xffd, both pages not present", mov eax, [WIN + 0x1ffd]
        mov dword [FRAME_B + 0xffc], 0x44332211
        mov dword [FRAME_C], 0x88776655
        mov eax, [WIN + 0x3ffe]
        CHECK_EQ eax, 0x66554433, "dword load across a writable and a read-only page"

        ; ---------------------------------------------------------------- stores
        STORE_FAULTS PF_W, WIN + 0x1000, "dword store at 0xffe, second page not present", mov dword [WIN + 0x0ffe], 0xdeadbeef
        STORE_FAULTS PF_W, WIN + 0x1000, "dword store at 0xffd, second page not present", mov dword [WIN + 0x0ffd], 0xdeadbeef
        STORE_FAULTS PF_W, WIN + 0x1000, "dword store at 0xfff, second page not present", mov dword [WIN + 0x0fff], 0xdeadbeef
        STORE_FAULTS PF_W, WIN + 0x1000, "word store at 0xfff, second page not present", mov word [WIN + 0x0fff], 0xbeef
        STORE_FAULTS PF_W, WIN + 0x2ffe, "dword store at 0xffe, first page not present", mov dword [WIN + 0x2ffe], 0xdeadbeef
        STORE_FAULTS PF_W, WIN + 0x2fff, "word store at 0xfff, first page not present", mov word [WIN + 0x2fff], 0xbeef
        STORE_FAULTS PF_W, WIN + 0x1ffe, "dword store at 0xffe, both pages not present", mov dword [WIN + 0x1ffe], 0xdeadbeef
        STORE_FAULTS PF_W | PF_P, WIN + 0x4000, "dword store at 0xffe, second page read-only", mov dword [WIN + 0x3ffe], 0xdeadbeef
        STORE_FAULTS PF_W | PF_P, WIN + 0x4000, "word store at 0xfff, second page read-only", mov word [WIN + 0x3fff], 0xbeef
        STORE_FAULTS PF_W | PF_P, WIN + 0x4ffd, "dword store at 0xffd, first page read-only, second not present", mov dword [WIN + 0x4ffd], 0xdeadbeef
        mov edi, WIN + 0x0ffe
        mov eax, 0xdeadbeef
        STORE_FAULTS PF_W, WIN + 0x1000, "STOSD at 0xffe, second page not present", stosd
        CHECK_EQ edi, WIN + 0x0ffe, "... EDI unchanged"
        mov esi, FRAME_D
        mov edi, WIN + 0x3ffd
        STORE_FAULTS PF_W | PF_P, WIN + 0x4000, "MOVSD to 0xffd, second page read-only", movsd
        mov ebx, WIN + 0x3ffe
        STORE_FAULTS PF_W | PF_P, WIN + 0x4000, "XCHG at 0xffe, second page read-only", xchg [ebx], eax

        ; ---------------------------------------------------------------- a split store that succeeds
        SET_PTE TEST_PT, 1, FRAME_D | PAGE_P | PAGE_W
        invlpg [WIN + 0x1000]
        call guards_set
        mov dword [WIN + 0x0ffd], 0x44332211
        CHECK_EQ [FRAME_A + 0xffc], 0x3322115a, "a split dword store puts three bytes at the end of the first page"
        movzx eax, byte [FRAME_D]
        CHECK_EQ eax, 0x44, "... and one at the start of the second"
        CHECK_EQ [WIN + 0x0ffd], 0x44332211, "... and reads back whole"

        ; ---------------------------------------------------------------- system structures
        ; The processor reads descriptors through the page tables too: a GDT whose descriptor
        ; straddles two pages (frames FRAME_A and FRAME_D, not adjacent) reads each part from its
        ; own frame, and setting the accessed bit writes the right frame.
        mov dword [0x123400], 0x600dda7a
        SPLIT_GDT WIN + 0xfe2, "a descriptor whose high dword crosses a page boundary"
        SPLIT_GDT WIN + 0xfe6, "a descriptor whose low dword crosses a page boundary"

        TEST_DONE

; Fills the dwords on either side of each boundary the stores above cross.
guards_set:
        mov dword [FRAME_A + 0xffc], GUARD
        mov dword [FRAME_B], GUARD
        mov dword [FRAME_B + 0xffc], GUARD
        mov dword [FRAME_C], GUARD      ; read-only through the window, writable identity-mapped
        mov dword [FRAME_C + 0xffc], GUARD
        ret

; EAX = 1 when every guard still holds GUARD, else 0.
guards_intact:
        xor eax, eax
        cmp dword [FRAME_A + 0xffc], GUARD
        jne .out
        cmp dword [FRAME_B], GUARD
        jne .out
        cmp dword [FRAME_B + 0xffc], GUARD
        jne .out
        cmp dword [FRAME_C], GUARD
        jne .out
        cmp dword [FRAME_C + 0xffc], GUARD
        jne .out
        inc eax
.out:   ret

split_gdtr: dw 0
        dd 0

        MULTIBOOT_END
