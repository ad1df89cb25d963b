; A boot sector: 16-bit code, org 0x7C00, mode switch to 32-bit code, far jump, times padding.
[bits 16]
[org 0x7C00]
boot:   cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov si, message
.print: lodsb
        or al, al
        jz .done
        mov ah, 0x0E
        int 0x10
        jmp .print
.done:  lgdt [gdt_descriptor]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp 0x08:protected
        jmp dword 0x08:protected
        mov eax, [ebx+ecx*4]
        mov [bp+di+4], al
        push word [es:bx]
        pushf
        pushad
        iret
        retf
        ret 4
        rep movsb
        rep stosw
        repne scasb
        a32 lodsb
        les bx, [si]
        lds si, [bx+4]
        call far [bx]
        jmp far [si]
        in al, 0x60
        out 0x64, al
        aam
        aad
        aam 16
        enter 16, 0
        leave
        xlat
        sal byte [bx], 1
        shl ax, cl
        imul ax, bx, 300
        imul ax, 5
        test byte [bx], 0x80
        xchg ax, bx
        xchg bx, ax
        xchg cx, dx
message: db 'Booting', 13, 10, 0
[bits 32]
protected:
        mov ax, 0x10
        mov ds, ax
        mov ds, eax
        mov ax, ds
        mov eax, ds
        mov [ebx], ds
        mov esp, 0x90000
        imul eax, 5
        imul eax, 300
        xchg ebx, ecx
        xchg eax, ebx
        xchg ebx, eax
        mov eax, [ebx*2]
        mov eax, [nosplit ebx*2]
        mov eax, [0x1234]
        mov [0x1234], al
        add eax, 1
        add eax, 0x1000
        add ebx, 0x1000
        push es
        pop es
        push 1
        push 0x1000
        inc eax
        dec ebx
        es lodsb
        lock add [ebx], eax
        lock inc dword [ecx]
        hlt
gdt:    dq 0
        dq 0x00CF9A000000FFFF
        dq 0x00CF92000000FFFF
gdt_descriptor:
        dw gdt_descriptor - gdt - 1
        dd gdt
        times 510 - ($ - $$) db 0
        dw 0xAA55
