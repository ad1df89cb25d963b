; Idioms: prologue macros with defaults, argument defines, %elifdef, strings with quotes and semicolons.
bits 32
%macro PROLOGUE 0-1 0
        push ebp
        mov ebp, esp
%if %1 > 0
        sub esp, %1
%endif
%endmacro
%define ARG(n) [ebp + 8 + 4*(n)]
f:      PROLOGUE 16
        mov eax, ARG(0)
        mov ebx, ARG(1)
        PROLOGUE
%ifdef UNDEFINED
%elifdef ARG
        db 1
%endif
%if 0
%elifndef UNDEFINED
        db 2
%endif
.loop:
%rep 3
        dec ecx
%endrep
        jnz .loop
str:    db "it's", 0
        db "a;b", 0 ; comment with ' quote
        mov al, ';'
        dd (str - f) * 2
        times ($ - $$) % 4 db 0
        align 4
        dw $-str
