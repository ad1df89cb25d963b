; Hostile guest: port I/O to every port, 0 to 0xFFFF, with interrupts off. Two sweeps touch every
; port: one reads with IN of sizes 1, 2, 4 in turn, one writes with OUT of sizes 1, 2, 4 in turn,
; each access starting where the last ended (so words and dwords sit at every alignment and
; straddle device ranges; the last ones wrap around to port 0), the value made from the port
; number. Every 64th port also gets a REP INS and a REP OUTS of three elements of size 1, 2 or 4 in
; turn. Under the hypervisor every access exits and reaches only this VM's own devices, or nothing
; (unmapped ports read all ones). By default the writes leave out COM1 (0x3F8-0x3FF: the report
; goes there) and isa-debug-exit (0xF4-0xF7); it then reports and stops with status 0 (exit code
; 1). With -D EVERY=1 only the write sweep runs, COM1 included, then 0x5A goes to isa-debug-exit
; last: its own power-off, status 0xB5.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%define DEBUG_EXIT 0xf4
%define COM1_END (COM1 + 8)

; SKIP_WRITE size, label: jumps to label when `size` bytes of port I/O at port EDX would touch a
; port the write sweep leaves alone. Clobbers EAX.
%macro SKIP_WRITE 2
        lea eax, [edx + %1]
        cmp edx, DEBUG_EXIT + 4
        jae %%not_exit
        cmp eax, DEBUG_EXIT
        ja %2
%%not_exit:
%ifndef EVERY
        cmp edx, COM1_END
        jae %%not_com1
        cmp eax, COM1
        ja %2
%%not_com1:
%endif
%endmacro

start:
        mov esp, 0x90000
        call serial_init
%ifdef EVERY
        PRINT "hostile ports: OUT on every port, COM1 included, isa-debug-exit last", 10
%else
        PRINT "hostile ports: IN and OUT on every port but COM1 and isa-debug-exit", 10
%endif
        cli
        cld
%ifndef EVERY
        ; Reads: sizes 1, 2, 4, 1, 2, 4, ... from port 0 up.
        xor edx, edx                    ; the port (the high half stays 0)
        xor ebx, ebx                    ; which size
.read:  cmp ebx, 1
        je .in16
        ja .in32
        in al, dx
        inc edx
        jmp .read_next
.in16:  in ax, dx
        add edx, 2
        jmp .read_next
.in32:  in eax, dx
        add edx, 4
.read_next:
        inc dword [reads]
        inc ebx
        cmp ebx, 3
        jb .read_more
        xor ebx, ebx
.read_more:
        cmp edx, 0x10000
        jb .read
%endif

        ; Writes: the same walk; the value is the port number, swapped and inverted.
        xor edx, edx
        xor ebx, ebx
.write: lea ecx, [ebx + ebx]            ; the size: 1, 2, 4
        cmp ebx, 0
        jne .sized
        mov ecx, 1
.sized: cmp ebx, 1
        je .out16
        ja .out32
        SKIP_WRITE 1, .written
        mov eax, edx
        not eax
        out dx, al
        jmp .count
.out16: SKIP_WRITE 2, .written
        mov eax, edx
        xchg al, ah
        out dx, ax
        jmp .count
.out32: SKIP_WRITE 4, .written
        mov eax, edx
        bswap eax
        not eax
        out dx, eax
.count: inc dword [writes]
.written:
        add edx, ecx
        inc ebx
        cmp ebx, 3
        jb .write_more
        xor ebx, ebx
.write_more:
        cmp edx, 0x10000
        jb .write

%ifndef EVERY
        ; String I/O: REP INS then REP OUTS of three elements at every 64th port.
        xor edx, edx
.string:
        SKIP_WRITE 4, .string_next
        mov eax, edx
        shr eax, 6
        and eax, 3                      ; 0, 1, 2: sizes 1, 2, 4; 3: size 1 again
        mov edi, buffer
        mov esi, buffer
        mov ecx, 3
        jmp [.strings + eax * 4]
.strings: dd .s8, .s16, .s32, .s8
.s8:    rep insb
        mov ecx, 3
        rep outsb
        jmp .counted
.s16:   rep insw
        mov ecx, 3
        rep outsw
        jmp .counted
.s32:   rep insd
        mov ecx, 3
        rep outsd
.counted:
        inc dword [strings]
.string_next:
        add edx, 64
        cmp edx, 0x10000
        jb .string
%endif

%ifdef EVERY
        mov al, 0x5a
        out DEBUG_EXIT, al
        PRINT "hostile ports: isa-debug-exit did not stop the VM", 10
%else
        PRINT "hostile ports: "
        mov eax, [reads]
        call serial_dec32
        PRINT " INs and "
        mov eax, [writes]
        call serial_dec32
        PRINT " OUTs covered every port; REP INS and REP OUTS on "
        mov eax, [strings]
        call serial_dec32
        PRINT " ports", 10
        mov al, 0
        out DEBUG_EXIT, al
%endif
.stop:  hlt
        jmp .stop

        align 4096                      ; data off the code's page: stores there would drop its decoded blocks
reads:   dd 0
writes:  dd 0
strings: dd 0
buffer:  times 12 db 0
        MULTIBOOT_END
