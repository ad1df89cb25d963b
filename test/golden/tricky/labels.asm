; Labels: with and without colon, local labels, jumps sized by the optimizer with forward
; references, jmp short/near/strict, $ and $$.
bits 32
org 0x100000
start:
        jmp .fwd
.back:  nop
        jmp .back
        jz .fwd
        jnz start.fwd
.fwd:   mov eax, .back
        mov ebx, start.back
second:
.back:  dec ecx
        jnz .back
        jmp start.back
        loop .back
        jecxz .back
        jmp .far
        jz .far
        jmp short .near
        jmp near .near
.near:  times 120 nop
        jmp .near
        jmp .near2
        times 121 nop
.near2: jmp strict .near2
        jmp strict short .near2
        call .far
        call start
        times 130 db 0
.far:   ret
noColon nop
..@special: jmp .fwd3
.fwd3:  ret
third:  jmp fourth
        jz fourth
        times 125 nop
fourth: jmp third
        jmp $
        jmp $ + 2
        jz $ - 2
        jmp $$
; A chain where growing one jump pushes the next out of reach.
chain:  jz c3
        jz c3
        times 120 nop
        jz c2
c2:     nop
c3:     nop
        jmp 0x100000
        call 0x100010
        dd start, second, third, fourth, start.fwd, second.back
