; The preprocessor: %define, %xdefine, %undef, parameters, %macro with %0 %1.. %%local,
; greedy and ranged parameters, defaults, %rotate, %rep/%exitrep, %if family, %assign, %include.
bits 32
%include "inc/consts.inc"
%define BASE 0x1000
%define ADDR(x) (BASE + (x))
%define TWICE(a, b) ((a) * 2 + (b))
        mov eax, ADDR(4)
        mov ebx, TWICE(3, 1)
%define REG ecx
        mov REG, 5
%undef REG
%ifdef REG
        db 'wrong'
%else
        db 'right'
%endif
%xdefine LATE EARLY
%define EARLY 1
        db LATE
%define EARLY 2
        db LATE
%xdefine FIXED EARLY
%define EARLY 3
        db FIXED
%define SELF SELF + 1
%assign i 0
%rep 5
        db i
%assign i i + 1
%endrep
%assign n 0
%rep 100
%if n >= 3
%exitrep
%endif
        dw n * 100
%assign n n + 1
%endrep
%macro SAVE 1-*
%rep %0
        push %1
%rotate 1
%endrep
%endmacro
%macro RESTORE 1-*
%rep %0
%rotate -1
        pop %1
%endrep
%endmacro
        SAVE eax, ebx, ecx
        RESTORE eax, ebx, ecx
%macro OUTB 2
        mov dx, %1
        mov al, %2
        out dx, al
%endmacro
        OUTB COM1, 'x'
        OUTB 0x80, {0x40 + 1}
%macro WAIT_LOOP 1
%%again:
        dec %1
        jnz %%again
%endmacro
        WAIT_LOOP ecx
        WAIT_LOOP edx
%macro PRINT 1+
        db %1, 0
%endmacro
        PRINT 'a', 'b', 'c'
%macro DEF 1-3 7, 8
        db %1, %2, %3, %0
%endmacro
        DEF 1
        DEF 1, 2
        DEF 1, 2, 3
%macro NEST 1
        OUTB %1, 0
%endmacro
        NEST 0x3F8
labelled: SAVE esi
%if BASE > 0x800 && BASE < 0x2000
        db 'in range'
%elif BASE == 0
        db 'zero'
%else
        db 'out'
%endif
%if 0
        bogus instruction here
%elif 1
        db 'elif'
%endif
%ifndef NOT_DEFINED
        db 'ndef'
%endif
%ifdef COM1
%ifdef BASE
        db 'nested'
%endif
%endif
%ifidn REGNAME, eax
        db 'idn'
%endif
%define REGNAME eax
%ifidn REGNAME, eax
        db 'idn2'
%endif
%ifidni REGNAME, EAX
        db 'idni'
%endif
%imacro shout 0
        db 'SHOUT'
%endmacro
        SHOUT
        shout
%idefine LOUD 9
        db loud, LOUD
%define PASTE(a,b) a %+ b
PASTE(lab,el2):
        dd label2
        dd __LINE__
%assign big 1 << 20
        dd big
mov_hex:
        mov eax, 1Fh
        %rep 2
        %rep 2
        nop
        %endrep
        int3
        %endrep
