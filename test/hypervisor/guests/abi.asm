; What a guest sees of the hypervisor, checked from inside: CPUID filtering and the hypervisor
; leaves, MSRs (pass-through, emulated, refused), control-register ownership, VMX instructions,
; port and string I/O (with a page fault in the middle of a REP OUTSB), and the MMIO UART.
; Runs under `trapvisor boot` only (the bare machine has no hypervisor).
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "hypercalls.inc"

%define MMIO_UART 0xfe000000

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# the hypervisor's interface, seen from a guest", 10

        ; --- CPUID
        mov eax, 1
        cpuid
        mov eax, ecx
        and eax, 0x80000020
        CHECK_EQ eax, 0x80000000, "CPUID.1: hypervisor present, VMX hidden"
        mov eax, HV_CPUID_BASE
        cpuid
        CHECK_EQ eax, HV_CPUID_FEATURES, "CPUID 0x40000000: highest hypervisor leaf"
        CHECK_EQ ebx, HV_SIGNATURE_EBX, "signature 'Trap'"
        CHECK_EQ ecx, HV_SIGNATURE_ECX, "signature 'viso'"
        CHECK_EQ edx, HV_SIGNATURE_EDX, "signature 'rHV!'"
        mov eax, HV_CPUID_FEATURES
        cpuid
        and eax, PV_FEATURE_CONSOLE | PV_FEATURE_TIMER | PV_FEATURE_EVENTS
        CHECK_EQ eax, PV_FEATURE_CONSOLE | PV_FEATURE_TIMER | PV_FEATURE_EVENTS, "CPUID 0x40000001: PV features"

        ; --- MSRs
        mov ecx, 0x174
        mov eax, 0x1234
        xor edx, edx
        wrmsr
        xor eax, eax
        rdmsr
        CHECK_EQ eax, 0x1234, "SYSENTER_CS passes through"
        mov ecx, 0x3a
        rdmsr
        CHECK_EQ eax, 1, "IA32_FEATURE_CONTROL reads locked, VMX off"
        TRY .msr_gp
        mov ecx, 0x480
        rdmsr
.msr_gp:
        CHECK_EQ [exc_vector], 13, "RDMSR of IA32_VMX_BASIC raises #GP (no nested VMX)"
        TRY .msr_gp2
        mov ecx, 0x12345678
        wrmsr
.msr_gp2:
        CHECK_EQ [exc_vector], 13, "WRMSR of an unknown MSR raises #GP"
        mov ecx, 0x10
        mov eax, 0x40000000
        mov edx, 5
        wrmsr                           ; the guest's TSC jumps forward
        rdtsc
        CHECK_EQ edx, 5, "a TSC write moves only this guest's TSC (high half)"
        sub eax, 0x40000000
        cmp eax, 100
        CHECK_TRUE b, "... and it keeps counting from the written value"

        ; --- control registers
        mov eax, cr4
        CHECK_EQ eax, 0, "CR4 reads 0: VMXE is the host's, hidden by the read shadow"
        TRY .cr4_gp
        mov eax, 0x2000
        mov cr4, eax
.cr4_gp:
        CHECK_EQ [exc_vector], 13, "setting CR4.VMXE raises #GP"
        mov eax, cr0
        and eax, ~0x20
        mov cr0, eax                    ; clear NE: the guest's choice, kept in the shadow
        mov eax, cr0
        and eax, 0x20
        CHECK_EQ eax, 0, "CR0.NE cleared by the guest reads back as 0"
        mov eax, cr0
        or eax, 0x20 | 0x40             ; NE back (so the write exits) with a reserved bit
        TRY .cr0_gp
        mov cr0, eax
        TRY_END
.cr0_gp:
        CHECK_EQ [exc_vector], 13, "MOV to CR0 with a reserved bit, handled by the hypervisor: #GP as on the CPU"
        mov eax, cr0
        or eax, 0x20
        mov cr0, eax
        TRY .vmx_ud
        vmxoff
.vmx_ud:
        CHECK_EQ [exc_vector], 6, "VMXOFF in the guest raises #UD"

        ; --- port I/O and a string I/O that page-faults in the middle
        mov dx, COM1 + 7
        mov al, 0x5a
        out dx, al
        in al, dx
        movzx eax, al
        CHECK_EQ eax, 0x5a, "the UART's scratch register holds what was written"
        call paging_on
        mov esi, 0x400ffe               ; two bytes before the unmapped page at 0x401000
        mov byte [esi], '<'
        mov byte [esi + 1], '>'
        mov ecx, 4
        mov dx, COM1
        PRINT "# "
        TRY .outs_pf
        rep outsb
.outs_pf:
        push ecx
        PRINT 10
        pop ecx
        CHECK_EQ [exc_vector], 14, "REP OUTSB into an unmapped page: #PF"
        CHECK_EQ [exc_cr2], 0x401000, "... at the first unmapped byte"
        CHECK_EQ [exc_error], 0, "... a supervisor read of a not-present page"
        CHECK_EQ ecx, 2, "... after two bytes went out (ECX counts what is left)"
        CHECK_EQ esi, 0x401000, "... and ESI points at the faulting byte"
        mov edi, 0x400800
        mov ecx, 3
        mov dx, COM1 + 5
        cld
        rep insb                        ; three reads of the line status register
        movzx eax, byte [0x400802]
        and eax, 0x60
        CHECK_EQ eax, 0x60, "REP INSB stores what the port returns"
        mov edi, 0x400fff               ; a word straddling into the unmapped page
        mov ecx, 1
        mov dx, COM1 + 7
        TRY .ins_pf
        rep insw
        TRY_END
.ins_pf:
        CHECK_EQ [exc_vector], 14, "REP INSW of a word straddling into an unmapped page: #PF"
        CHECK_EQ [exc_cr2], 0x401000, "... at the unmapped page's first byte"
        CHECK_EQ [exc_error], 2, "... a supervisor write to a not-present page"
        call paging_off
        movzx eax, byte [0x401000]
        CHECK_EQ eax, 0, "... and no byte went to the physical page after the mapped one"

        ; --- MMIO: a second 16550, reachable only through memory accesses
        mov byte [MMIO_UART + 7], 0xa5  ; scratch register, MOV with an immediate
        movzx eax, byte [MMIO_UART + 7]
        CHECK_EQ eax, 0xa5, "MMIO UART scratch register: a MOV store then a MOVZX load"
        mov al, [MMIO_UART + 5]
        and eax, 0x60
        CHECK_EQ eax, 0x60, "MMIO UART line status: transmitter empty"
        mov esi, mmio_text
.mmio:  lodsb
        test al, al
        jz .mmio_done
        mov [MMIO_UART], al
        jmp .mmio
.mmio_done:
        ; The same MMIO store twice from one place whose immediate is patched in between: the
        ; hypervisor must emulate the bytes there now, not the instruction it decoded there before.
        mov ecx, 2
.mmio_patched:
        mov byte [MMIO_UART + 7], 0x11  ; C6 05 disp32 imm8: the immediate is byte 6
        mov byte [.mmio_patched + 6], 0x22
        dec ecx
        jnz .mmio_patched
        movzx eax, byte [MMIO_UART + 7]
        CHECK_EQ eax, 0x22, "MMIO: a store from code patched since its last exit"
        TEST_DONE

; Identity-maps 4 MiB with a 4 MiB page, and the next 4 KiB through a page table, leaving
; 0x401000 unmapped.
paging_on:
        mov dword [0x200000], 0x00000083
        mov dword [0x200004], 0x00201003
        mov dword [0x201000], 0x00400003
        mov dword [0x201004], 0
        mov eax, 0x200000
        mov cr3, eax
        mov eax, cr4
        or eax, 0x10
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        ret
paging_off:
        mov eax, cr0
        and eax, 0x7fffffff
        mov cr0, eax
        ret

mmio_text: db "# hello through the MMIO UART", 10, 0
        MULTIBOOT_END
