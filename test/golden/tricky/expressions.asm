; Expressions, number forms, character constants and data directives.
bits 32
org 0x1000
        db 0x1F, 1Fh, 0b101, 101b, 0o17, 17q, 17o, 0q17, 99, 0d99, 99d, 0t12, $0A, 0h1F, 1_000 & 0xFF
        dw 1_000, 0x12_34, -1, -32768, 65535
        dd 'a', 'ab', 'abc', 'abcd', "xy", `\n\t\0`
        dq 0x123456789ABCDEF0, -2, 'abcdefgh'
        db 'hello', 0, "world", 13, 10, `tab\there`, `\x41\101\\\``
        dw 'abc', 'a'
        dd 'hello'
        db 7 + 3 * 2, (7 + 3) * 2, 100 / 7, 100 % 7, -100 // 7, -100 %% 7, 0xFFFFFFFF / 3
        db 1 << 4, 0x80 >> 3, 0xF0 & 0x3C, 0xF0 | 0x0F, 0xFF ^ 0x0F, ~0 & 0xFF, -(-5), +5, !0, !7
        db 3 == 3, 3 != 3, 2 < 3, 3 <= 2, 5 > 4, 5 >= 6, 1 && 0, 1 || 0, 1 ^^ 1, 3 <> 4
        db -1 >> 60, (0 - 1) >>> 60 & 0xFF, 1 ? 5 : 6
        dd 7 - 3 - 2, 2 * 3 + 4 * 5, 1 + 2 << 3, 0x100 | 0x200 & 0x300, 1 - -1
        dd -1, 0xFFFFFFFF, 4294967295, -2147483648
        mov eax, 'ABCD'
        mov ax, 'hi'
        mov al, '!'
        push 'ok'
        cmp al, `\n`
        dd end - start, (end - start) / 2
start:  dd $, $$, $ - $$
end:
        dd start + 4, 4 + start, start - 2, end - start + 0x10
FOUR    equ 4
TWELVE  equ FOUR * 3
        dd FOUR, TWELVE, later, later - FOUR
later   equ TWELVE + 1
        times FOUR db 0xAA
        times TWELVE - 10 dw 0xBEEF
        resb 0
