; Hostile guest: writes across all of its guest-physical memory, then beyond it. It fills every
; byte of its RAM but its own image (the size from the Multiboot memory fields) with a pattern,
; reads a word of every page back, then stores past the end of its memory. Any store outside the
; VM's memory must stop this VM with a report and change nothing else. -D BEYOND=n picks the last
; store: 0 the first dword past the end (default), 1 a dword straddling the end, 2 the last dword
; below 4 GiB, 3 a dword straddling the end of the MMIO UART's page, 4 a read-modify-write (ADD)
; on the MMIO UART, 5 REP STOSD over the MMIO UART page and on past it.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%ifndef BEYOND
%define BEYOND 0
%endif
%define PATTERN 0x5a17c0de
%define MMIO_UART 0xfe000000

start:
        mov esp, 0x90000
        MULTIBOOT_MEMORY_END eax
        mov [memsize], eax
        call serial_init
        PRINT "hostile memory: guest-physical memory is 0x"
        mov eax, [memsize]
        call serial_hex32
        PRINT " bytes; filling all of it but this image", 10
        cld
        xor edi, edi                    ; below the image: IVT, the stack, the boot information
        mov ecx, 0x100000 / 4
        mov eax, PATTERN
        rep stosd
        mov edi, image_end
        mov ecx, [memsize]
        sub ecx, edi
        shr ecx, 2
        rep stosd
        mov esp, 0x90000                ; the stack was overwritten: start it afresh
        xor edx, edx                    ; pages that read back the pattern
        mov esi, image_end
.scan:  cmp dword [esi], PATTERN
        jne .next
        inc edx
.next:  add esi, 4096
        cmp esi, [memsize]
        jb .scan
        PRINT "hostile memory: filled, pages reading back the pattern: "
        mov eax, edx
        call serial_dec32
        PRINT 10
%if BEYOND == 0
        PRINT "hostile memory: storing the first dword past the end", 10
        mov esi, [memsize]
        mov dword [esi], PATTERN
%elif BEYOND == 1
        PRINT "hostile memory: storing a dword straddling the end", 10
        mov esi, [memsize]
        mov dword [esi - 2], PATTERN
%elif BEYOND == 2
        PRINT "hostile memory: storing the last dword below 4 GiB", 10
        mov dword [0xfffffffc], PATTERN
%elif BEYOND == 3
        PRINT "hostile memory: storing a dword straddling the end of the MMIO UART's page", 10
        mov dword [MMIO_UART + 0xffe], PATTERN
%elif BEYOND == 4
        PRINT "hostile memory: ADD to the MMIO UART (not a plain load or store)", 10
        add dword [MMIO_UART], PATTERN
%else
        PRINT "hostile memory: REP STOSD over the MMIO UART page and past it", 10
        mov edi, MMIO_UART
        mov ecx, 0x2000 / 4
        rep stosd
%endif
        PRINT "hostile memory: stored outside guest memory and lived", 10
        mov al, 1
        out 0xf4, al
        cli
.stop:  hlt
        jmp .stop

memsize: dd 0
        align 16
image_end:
        MULTIBOOT_END
