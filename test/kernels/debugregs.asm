; Debug registers (SDM Vol. 3B 17.2-17.3): DR0-DR3 instruction breakpoints (faults before the
; instruction; EFLAGS.RF set by the handler lets it run once), data write and read/write
; breakpoints (traps after the access, DR6.Bn, LEN alignment), single-step with TF (DR6.BS,
; POPF's delayed trap), DR7.GD (#DB on MOV DR with DR6.BD, GD cleared), DR4/DR5 aliases.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

%define DR6_B0 1
%define DR6_B1 2
%define DR6_B2 4
%define DR6_BD 0x2000
%define DR6_BS 0x4000
%define RF     0x10000
%define TF     0x100

; DB_RESET: forget the last #DB
%macro DB_RESET 0
        mov dword [db_count], 0
        mov dword [db_dr6], 0
        mov dword [db_eip], 0
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        SET_GATE 1, db_handler, 0x8e
        PRINT "# debugregs", 10

        ; ---------------------------------------------------------------- instruction breakpoint
        mov eax, bp_insn
        mov dr0, eax
        mov eax, 0x401                  ; L0, R/W0 = 00 (execute), LEN0 = 00
        mov dr7, eax
        DB_RESET
        mov ebx, 0
        call bp_sub
        CHECK_EQ [db_count], 1, "DR0 execute breakpoint: one #DB, before the instruction"
        CHECK_EQ [db_eip], bp_insn, "... reported at the breakpoint address (a fault)"
        mov eax, [db_dr6]
        and eax, 0xe00f
        CHECK_EQ eax, DR6_B0, "... DR6.B0"
        CHECK_EQ ebx, 0x55, "EFLAGS.RF from the handler: the instruction then runs once"
        mov eax, [db_flags]
        and eax, RF
        CHECK_EQ eax, 0, "the #DB frame's EFLAGS has RF clear"
        pushfd
        pop eax
        and eax, RF
        CHECK_EQ eax, 0, "RF is cleared after the instruction completes"
        call bp_sub
        CHECK_EQ [db_count], 2, "the breakpoint fires on every execution"
        mov eax, 0x400
        mov dr7, eax
        DB_RESET
        call bp_insn_disabled
        CHECK_EQ [db_count], 0, "L0 clear: no breakpoint"

        ; ---------------------------------------------------------------- data breakpoints
        mov eax, watched
        mov dr1, eax
        mov eax, 0x00d00404             ; L1, R/W1 = 01 (write), LEN1 = 11 (4 bytes)
        mov dr7, eax
        DB_RESET
        mov eax, [watched]
        CHECK_EQ [db_count], 0, "write breakpoint: a read does not trigger it"
        mov dword [watched], 0x1234
after_write:
        CHECK_EQ [db_count], 1, "write breakpoint: a write triggers #DB"
        CHECK_EQ [db_eip], after_write, "... as a trap, after the instruction"
        CHECK_EQ [watched], 0x1234, "... with the write done"
        mov eax, [db_dr6]
        and eax, 0xe00f
        CHECK_EQ eax, DR6_B1, "... DR6.B1"
        DB_RESET
        mov byte [watched + 3], 1
        CHECK_EQ [db_count], 1, "a byte write inside the 4-byte range triggers it"
        DB_RESET
        mov word [watched - 1], 0
        CHECK_EQ [db_count], 1, "a write overlapping the range's first byte triggers it"
        DB_RESET
        mov dword [watched + 4], 0
        CHECK_EQ [db_count], 0, "a write just past the range does not"
        DB_RESET
        push dword [watched]
        pop eax
        CHECK_EQ [db_count], 0, "PUSH of the watched dword (a read) does not"

        mov eax, watched + 8
        mov dr2, eax
        mov eax, 0x07000410             ; L2, R/W2 = 11 (read or write), LEN2 = 01 (2 bytes)
        mov dr7, eax
        DB_RESET
        mov eax, [watched + 6]          ; bytes 6-9 overlap 8-9
after_read:
        CHECK_EQ [db_count], 1, "read/write breakpoint: a read triggers #DB"
        CHECK_EQ [db_eip], after_read, "... as a trap"
        mov eax, [db_dr6]
        and eax, 0xe00f
        CHECK_EQ eax, DR6_B2, "... DR6.B2"
        DB_RESET
        mov eax, [watched + 10]
        CHECK_EQ [db_count], 0, "an access after the 2-byte range does not"
        DB_RESET
        inc word [watched + 8]
        CHECK_EQ [db_count], 1, "a read-modify-write raises one #DB"
        mov eax, 0x400
        mov dr7, eax

        ; ---------------------------------------------------------------- single step
        DB_RESET
        pushfd
        or dword [esp], TF
        popfd                           ; TF set by POPF: the trap comes after the next one
        mov eax, 1
after_step:
        nop
        CHECK_EQ [db_count], 1, "TF: one single-step #DB (the handler clears TF)"
        CHECK_EQ [db_eip], after_step, "... after the instruction following POPF (TF at its start)"
        mov eax, [db_dr6]
        and eax, 0xe00f
        CHECK_EQ eax, DR6_BS, "... DR6.BS"

        ; ---------------------------------------------------------------- general detect
        mov eax, 0x2400                 ; GD
        mov dr7, eax
        DB_RESET
        mov eax, 0x1111
gd_mov:
        mov eax, dr0
        CHECK_EQ [db_count], 1, "DR7.GD: MOV from a debug register raises #DB"
        CHECK_EQ [db_eip], gd_mov, "... as a fault on the MOV"
        mov ebx, [db_dr6]
        and ebx, 0xe00f
        CHECK_EQ ebx, DR6_BD, "... DR6.BD"
        CHECK_EQ eax, bp_insn, "the MOV then completes (GD was cleared on the #DB)"
        mov eax, dr7
        and eax, 0x2000
        CHECK_EQ eax, 0, "DR7.GD reads back clear"

        ; ---------------------------------------------------------------- DR4/DR5, DR6/DR7 fixed bits
        mov eax, 0
        mov dr6, eax
        mov eax, dr6
        CHECK_EQ eax, 0xffff0ff0, "DR6 cleared reads 0xffff0ff0 (reserved ones)"
        mov eax, 0x00d00004
        mov dr7, eax
        mov eax, dr7
        CHECK_EQ eax, 0x00d00404, "DR7 bit 10 reads as 1"
        mov eax, dr5
        CHECK_EQ eax, 0x00d00404, "CR4.DE = 0: DR5 is DR7"
        mov eax, dr4
        CHECK_EQ eax, 0xffff0ff0, "CR4.DE = 0: DR4 is DR6"
        mov eax, 0x400
        mov dr7, eax
        mov eax, cr4
        or eax, 8
        mov cr4, eax
        TRY .ud
        mov eax, dr5
.ud:    CHECK_EQ [exc_vector], 6, "CR4.DE = 1: MOV from DR5 raises #UD"
        mov eax, cr4
        and eax, ~8
        mov cr4, eax
        TEST_DONE

bp_sub:
bp_insn:
        mov ebx, 0x55                   ; DR0 points here
        ret

bp_insn_disabled:
        mov ebx, 0x66
        ret

db_handler:
        push eax
        mov eax, dr6
        mov [db_dr6], eax
        mov eax, [esp + 4]
        mov [db_eip], eax
        mov eax, [esp + 12]
        mov [db_flags], eax
        inc dword [db_count]
        or dword [esp + 12], RF
        and dword [esp + 12], ~TF
        xor eax, eax
        mov dr6, eax
        pop eax
        iretd

db_count: dd 0
db_dr6:   dd 0
db_eip:   dd 0
db_flags: dd 0
        align 16
        dd 0
watched:  dd 0, 0, 0, 0
        MULTIBOOT_END
