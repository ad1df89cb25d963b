; Hostile guest: self-modifying code, in every way that could leave a decoded-block cache stale.
; Each case runs code until it is decoded (and compiled, and chained), changes it, and runs it
; again: the new bytes must execute. Changed by an ordinary store into an immediate, by a store
; into the very next instruction of the same block, into a block reached by a chained jump from
; another page, by REP MOVSB over a whole routine, through a second (aliasing) linear mapping, by
; the hypervisor itself (REP INSB that it emulates, and a MULTICALL result written over an
; immediate), in the second half of an instruction that straddles a page boundary, and in a loop
; that rewrites its next iteration 1000 times. TAP on COM1; exit status 1 when all pass.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "paging.inc"
%include "hypercalls.inc"
%define ALIAS 0x800000                  ; PDE 2: a writable alias of the code pages
%define ALIAS_PT PAGING_FREE
%define COM1_SCRATCH (COM1 + 7)

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# hostile smc: code changed after it ran, by the guest and by the hypervisor", 10

        ; 1. A hot routine's immediate, changed 100 times.
        xor ebx, ebx
        xor ecx, ecx
.imm:   mov [get_imm + 1], ecx
        call get_imm
        add ebx, eax
        inc ecx
        cmp ecx, 100
        jb .imm
        CHECK_EQ ebx, 4950, "a routine's immediate changed before each of 100 calls"

        ; 2. The next instruction of the same block, changed by the instruction before it.
        xor ebx, ebx
        mov ecx, 1
.next:  mov [.target + 1], cl
.target:
        mov al, 0
        movzx eax, al
        add ebx, eax
        inc ecx
        cmp ecx, 4
        jb .next
        CHECK_EQ ebx, 6, "a store into the next instruction of its own block"

        ; 3. A block in another page, entered by a jump that gets chained.
        mov ecx, 20
.warm:  call via_jump
        loop .warm
        CHECK_EQ eax, 0x11111111, "a block on another page, entered by a jump, before the change"
        mov dword [far_imm + 1], 0x22222222
        call via_jump
        CHECK_EQ eax, 0x22222222, "... and after its immediate changed"

        ; 4. A whole routine replaced by REP MOVSB.
        call routine
        mov ebx, eax
        mov esi, replacement
        mov edi, routine
        mov ecx, replacement_end - replacement
        cld
        rep movsb
        call routine
        CHECK_EQ ebx, 1, "a routine before REP MOVSB over it"
        CHECK_EQ eax, 2, "... and the routine REP MOVSB copied over it"

        ; 5. Changed through a second linear mapping of the same physical page.
        mov eax, PAGE_P | PAGE_W
        call paging_identity
        mov edi, ALIAS_PT
        mov eax, ((get_imm - $$) & ~0xfff) + 0x100000 | PAGE_P | PAGE_W
        mov ecx, 1024
.alias: stosd
        add eax, 0x1000
        loop .alias
        SET_PDE 2, ALIAS_PT | PAGE_P | PAGE_W
        call paging_on
        mov dword [get_imm + 1], 0x33333333
        call get_imm
        mov ebx, eax
        mov dword [ALIAS + ((get_imm - $$) & 0xfff) + 1], 0x44444444
        call get_imm
        CHECK_EQ ebx, 0x33333333, "paging on: a routine, before the change through an alias"
        CHECK_EQ eax, 0x44444444, "... and after a store through another linear address"
        call paging_off

        ; 6. The hypervisor writes code: REP INSB (emulated by it) from the UART's scratch
        ;    register, NOPs over a MOV.
        call ins_target
        mov ebx, eax
        mov dx, COM1_SCRATCH
        mov al, 0x90
        out dx, al
        mov edi, ins_target
        mov ecx, 5
        rep insb
        mov eax, 7
        call ins_target
        CHECK_EQ ebx, 1, "a MOV before REP INSB wrote over it"
        CHECK_EQ eax, 7, "... and the NOPs REP INSB wrote"

        ; 7. The hypervisor writes code: a MULTICALL record whose result slot is a MOV's immediate.
        call mc_record + 19
        mov edi, eax
        mov eax, HC_MULTICALL
        mov ebx, mc_record
        mov ecx, 1
        vmcall
        mov esi, eax
        call mc_record + 19
        CHECK_EQ edi, 0x11111111, "a MOV whose immediate is a MULTICALL record's result slot"
        CHECK_EQ esi, 1, "MULTICALL of that record: one call completed"
        CHECK_EQ eax, HC_ENOSYS, "... and the MOV returns the result the hypervisor wrote into it"

        ; 8. The second half of an instruction straddling a page boundary.
        call straddle
        mov ebx, eax
        mov byte [straddle + 3], 0x66
        call straddle
        CHECK_EQ ebx, 0x55555555, "an instruction straddling a page boundary"
        CHECK_EQ eax, 0x55665555, "... after its bytes on the second page changed"

        ; 9. A loop that rewrites the immediate of its own next iteration.
        xor eax, eax
        xor ecx, ecx
.self:  add eax, strict dword 0
.self_imm equ $ - 4
        inc ecx
        mov [.self_imm], ecx
        cmp ecx, 1000
        jb .self
        CHECK_EQ eax, 499500, "a loop adding an immediate it rewrites for the next of 1000 iterations"
        TEST_DONE

get_imm:
        mov eax, 0
        ret

via_jump:
        jmp far_code

routine:
        mov eax, 1
        ret
        nop
replacement:
        mov eax, 2
        ret
replacement_end:

ins_target:
        mov eax, 1
        ret

; A MULTICALL record: number (unknown: ENOSYS), four arguments, the result. Its last argument's
; top byte is a MOV EAX opcode whose immediate is the result slot, and a RET follows.
        align 4
mc_record:
        dd 0x7777, 0, 0, 0, 0xb8000000
        dd 0x11111111
        ret

        align 4096
far_code:
far_imm:
        mov eax, 0x11111111
        ret

        times 4096 - 2 - ($ - far_code) db 0xcc
straddle:                               ; B8 55 | 55 55 55 on the next page
        mov eax, 0x55555555
        ret
        MULTIBOOT_END
