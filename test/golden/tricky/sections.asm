; Sections of a flat binary: .text first, progbits in order, .bss last; alignment padding.
bits 32
org 0x7C00
section .data
msg:    db 'hi', 0
section .text
entry:  mov esi, msg
        mov edi, buf
        mov ecx, buf_end - buf
        mov eax, [counter]
        jmp code2
align 8
        nop
align 16, db 0xCC
        nop
alignb 4
        db 1
section .bss
buf:    resb 13
buf_end:
align 16
counter: resd 1
        resw 3
        resq 2
section .data
align 8
table:  dd entry, msg, buf, counter, table
section .rodata
ro:     db 'read only'
section .text
code2:  mov eax, ro
        mov ebx, table
        dd $$, $
        times 510 - ($ - $$) db 0
        dw 0xAA55
section .data
        align 32
        dw $ - $$
