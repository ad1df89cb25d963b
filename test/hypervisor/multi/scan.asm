; Fills its guest-physical memory above 2 MiB with PATTERN (-D PATTERN=...), reads all of its
; memory back counting words equal to OTHER (another VM's pattern: it must never appear), prints
; the count, then reads the first byte past its memory (MEMORY, -D MEMORY=...), which must stop
; this VM and nothing else.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"

start:
        mov esp, 0x90000
        call serial_init
        mov edi, 0x200000
        mov ecx, (MEMORY - 0x200000) / 4
        mov eax, PATTERN
        cld
        rep stosd
        xor esi, esi
        xor ebx, ebx                    ; foreign words seen
        xor edx, edx                    ; own words seen
.scan:  mov eax, [esi]
        cmp eax, OTHER
        jne .not_other
        inc ebx
.not_other:
        cmp eax, PATTERN
        jne .next
        inc edx
.next:  add esi, 4
        cmp esi, MEMORY
        jb .scan
        PRINT "foreign="
        mov eax, ebx
        call serial_dec32
        PRINT " own="
        mov eax, edx
        call serial_dec32
        PRINT 10
        mov eax, [MEMORY]               ; beyond the map: an EPT violation, the VM is stopped
        PRINT "read past the end of memory and lived", 10
        mov al, 1
        out 0xf4, al
        MULTIBOOT_END
