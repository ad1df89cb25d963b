; minivisor: the smallest hypervisor in assembly, running in VMX root mode on the bare machine.
;
; It does what KVM does on VT-x, with nothing hidden: turns on paging and VMX, reads the
; capability MSRs to pick controls the processor allows, builds a VMCS and an EPT that gives the
; guest 2 MiB of its own memory, launches a tiny guest in VMX non-root mode, and handles the exits
; the guest causes (CPUID, port I/O, HLT), printing each one on COM1 before it resumes the guest.
;
;   trapvisor boot --bare guests/vmx/minivisor.asm
;
; Host memory map (physical): kernel at 1 MiB; VMXON region 0x300000, VMCS 0x301000, EPT PML4
; 0x302000, PDPT 0x303000, PD 0x304000, host page directory 0x305000, host stack below 0x310000;
; guest-physical 0 - 2 MiB is host-physical 0x800000 - 0x9FFFFF (one 2 MiB EPT page).
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"
%include "vmx.inc"

%define VMXON_REGION  0x300000
%define VMCS_REGION   0x301000
%define EPT_PML4      0x302000
%define EPT_PDPT      0x303000
%define EPT_PD        0x304000
%define HOST_PD       0x305000
%define HOST_STACK    0x310000
%define GUEST_MEMORY  0x800000          ; host-physical base of guest-physical 0
%define GUEST_ENTRY   0x1000            ; guest-physical address the guest starts at
%define GUEST_STACK   0x8000

; VMWRITE field, value: stops with a report when the write fails (CF or ZF set).
%macro VMW 2
        push dword %2                   ; the value may be in EAX: take it before EAX is reused
        mov eax, %1
        pop ebx
        vmwrite eax, ebx
        jbe vmwrite_failed
%endmacro

; VMREAD into EAX.
%macro VMR 1
        mov ebx, %1
        vmread eax, ebx
%endmacro

start:
        mov esp, HOST_STACK
        call serial_init
        call system_init
        PRINT "minivisor: a hypervisor in assembly, in VMX root mode", 10

        ; --- VMX must be there (CPUID.1:ECX.VMX[bit 5]); under a hypervisor without nested
        ; virtualization it is not.
        mov eax, 1
        cpuid
        test ecx, 1 << 5
        jnz .have_vmx
        PRINT "minivisor: this CPU has no VMX (CPUID.1:ECX bit 5 is clear); nothing to do", 10
        mov al, 5
        jmp shutdown
.have_vmx:

        ; --- paging: VMXON needs CR0.PG (and NE). Identity-map 16 MiB with 4 MiB pages.
        mov edi, HOST_PD
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov eax, 0x83                   ; present, writable, 4 MiB
        mov edi, HOST_PD
        mov ecx, 4
.pde:   stosd
        add eax, 0x400000
        loop .pde
        mov eax, HOST_PD
        mov cr3, eax
        mov eax, cr4
        or eax, 0x10 | 0x2000           ; PSE, VMXE
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000020              ; PG, NE
        mov cr0, eax

        ; --- VMX on: IA32_FEATURE_CONTROL must be locked with VMX enabled.
        mov ecx, 0x3a
        rdmsr
        test eax, 1
        jnz .locked
        or eax, 5                       ; lock + VMX outside SMX
        wrmsr
.locked:
        mov ecx, IA32_VMX_BASIC
        rdmsr
        mov [revision], eax
        PRINT "minivisor: VMCS revision "
        call serial_hex32
        PRINT 10
        mov [VMXON_REGION], eax
        mov [VMCS_REGION], eax
        vmxon [vmxon_ptr]
        jbe vmx_failed
        vmclear [vmcs_ptr]
        jbe vmx_failed
        vmptrld [vmcs_ptr]
        jbe vmx_failed
        PRINT "minivisor: VMX root mode on, VMCS loaded", 10

        call build_ept
        call copy_guest
        call setup_vmcs
        PRINT "minivisor: launching the guest", 10
        vmlaunch
        ; Only a failed VMLAUNCH falls through.
        jmp vmx_failed

; EPT: PML4[0] -> PDPT[0] -> PD[0], a 2 MiB page at GUEST_MEMORY, read/write/execute, write-back.
build_ept:
        mov edi, EPT_PML4
        xor eax, eax
        mov ecx, 3 * 1024
        rep stosd
        mov dword [EPT_PML4], EPT_PDPT | 7
        mov dword [EPT_PDPT], EPT_PD | 7
        mov dword [EPT_PD], GUEST_MEMORY | 0x80 | (6 << 3) | 7
        ret

copy_guest:
        mov esi, guest_code
        mov edi, GUEST_MEMORY + GUEST_ENTRY
        mov ecx, guest_code_end - guest_code
        rep movsb
        ret

; Picks a control value: the bits we want, plus what the capability MSR forces to 1 (its low
; dword), minus what it does not allow (its high dword). ECX = MSR, EBX = wanted -> EAX.
adjust_controls:
        rdmsr
        or eax, ebx
        and eax, edx
        ret

setup_vmcs:
        ; controls
        mov ecx, IA32_VMX_TRUE_PINBASED_CTLS
        xor ebx, ebx
        call adjust_controls
        VMW PIN_BASED_VM_EXEC_CONTROL, eax
        mov ecx, IA32_VMX_TRUE_PROCBASED_CTLS
        mov ebx, PROC_HLT_EXITING | PROC_UNCONDITIONAL_IO_EXITING | PROC_ACTIVATE_SECONDARY_CONTROLS
        call adjust_controls
        VMW CPU_BASED_VM_EXEC_CONTROL, eax
        mov ecx, IA32_VMX_PROCBASED_CTLS2
        mov ebx, PROC2_ENABLE_EPT | PROC2_UNRESTRICTED_GUEST
        call adjust_controls
        VMW SECONDARY_VM_EXEC_CONTROL, eax
        mov ecx, IA32_VMX_TRUE_EXIT_CTLS
        xor ebx, ebx
        call adjust_controls
        VMW VM_EXIT_CONTROLS, eax
        mov ecx, IA32_VMX_TRUE_ENTRY_CTLS
        xor ebx, ebx
        call adjust_controls
        VMW VM_ENTRY_CONTROLS, eax
        VMW EPT_POINTER, EPT_PML4 | (3 << 3) | 6
        VMW EPT_POINTER + 1, 0          ; the high half of a 64-bit field
        VMW EXCEPTION_BITMAP, 0
        VMW CR0_GUEST_HOST_MASK, 0
        VMW CR4_GUEST_HOST_MASK, 0x2000 ; the guest does not see CR4.VMXE
        VMW CR4_READ_SHADOW, 0
        VMW VMCS_LINK_POINTER, -1
        VMW VMCS_LINK_POINTER + 1, -1

        ; host state: where the processor comes back to on every VM exit
        mov eax, cr0
        VMW HOST_CR0, eax
        mov eax, cr3
        VMW HOST_CR3, eax
        mov eax, cr4
        VMW HOST_CR4, eax
        VMW HOST_CS_SELECTOR, KERNEL_CS
        VMW HOST_SS_SELECTOR, KERNEL_DS
        VMW HOST_DS_SELECTOR, KERNEL_DS
        VMW HOST_ES_SELECTOR, KERNEL_DS
        VMW HOST_FS_SELECTOR, KERNEL_DS
        VMW HOST_GS_SELECTOR, KERNEL_DS
        VMW HOST_TR_SELECTOR, TSS_SEL
        VMW HOST_TR_BASE, tss
        VMW HOST_GDTR_BASE, gdt
        VMW HOST_IDTR_BASE, idt
        VMW HOST_RSP, HOST_STACK
        VMW HOST_RIP, vm_exit

        ; guest state: flat 32-bit protected mode, paging off (an unrestricted guest under EPT)
        VMW GUEST_CR0, 0x31             ; PE, ET, NE
        VMW GUEST_CR3, 0
        VMW GUEST_CR4, 0x2000           ; VMXE must stay 1 in VMX operation (the guest reads 0)
        VMW GUEST_CS_SELECTOR, 0x08
        VMW GUEST_CS_BASE, 0
        VMW GUEST_CS_LIMIT, 0xffffffff
        VMW GUEST_CS_AR_BYTES, 0xc09b
%macro GUEST_DATA_SEG 1
        VMW GUEST_%1_SELECTOR, 0x10
        VMW GUEST_%1_BASE, 0
        VMW GUEST_%1_LIMIT, 0xffffffff
        VMW GUEST_%1_AR_BYTES, 0xc093
%endmacro
        GUEST_DATA_SEG SS
        GUEST_DATA_SEG DS
        GUEST_DATA_SEG ES
        GUEST_DATA_SEG FS
        GUEST_DATA_SEG GS
        VMW GUEST_TR_SELECTOR, 0
        VMW GUEST_TR_BASE, 0
        VMW GUEST_TR_LIMIT, 0xff
        VMW GUEST_TR_AR_BYTES, 0x8b     ; busy 32-bit TSS
        VMW GUEST_LDTR_AR_BYTES, 0x10000 ; unusable
        VMW GUEST_GDTR_BASE, 0
        VMW GUEST_GDTR_LIMIT, 0
        VMW GUEST_IDTR_BASE, 0
        VMW GUEST_IDTR_LIMIT, 0
        VMW GUEST_RFLAGS, 2
        VMW GUEST_RSP, GUEST_STACK
        VMW GUEST_RIP, GUEST_ENTRY
        VMW GUEST_ACTIVITY_STATE, 0
        VMW GUEST_INTERRUPTIBILITY_INFO, 0
        ret

; ------------------------------------------------------------------ the VM-exit handler
; The processor arrives here (HOST_RIP) with host state loaded; the guest's general registers
; are still in the registers, so save them first and give them back on VMRESUME.
vm_exit:
        pushad
        inc dword [exit_count]
        VMR VM_EXIT_REASON
        mov [exit_reason], eax
        VMR GUEST_RIP
        mov [exit_rip], eax
        VMR VM_EXIT_INSTRUCTION_LEN
        mov [exit_length], eax
        PRINT "exit #"
        mov eax, [exit_count]
        call serial_dec32
        PRINT ": reason "
        mov eax, [exit_reason]
        call serial_dec32
        mov eax, [exit_reason]
        cmp eax, EXIT_CPUID
        je handle_cpuid
        cmp eax, EXIT_IO_INSTRUCTION
        je handle_io
        cmp eax, EXIT_HLT
        je handle_hlt
        PRINT " (not handled) at guest RIP "
        mov eax, [exit_rip]
        call serial_hex32
        PRINT 10, "minivisor: stopping", 10
        mov al, 2
        jmp shutdown

; CPUID: leaf 0x40000000 answers with the hypervisor's signature; other leaves as the hardware.
handle_cpuid:
        PRINT " CPUID leaf 0x"
        mov eax, [esp + 28]             ; guest EAX in the PUSHAD frame
        call serial_hex32
        cmp eax, 0x40000000
        jne .passthrough
        mov dword [esp + 28], 0x40000000
        mov dword [esp + 16], 'Mini'    ; EBX
        mov dword [esp + 24], 'viso'    ; ECX
        mov dword [esp + 20], 'r!  '    ; EDX
        PRINT " -> signature", 10
        jmp resume_after_instruction
.passthrough:
        mov ecx, [esp + 24]
        cpuid
        mov [esp + 28], eax
        mov [esp + 16], ebx
        mov [esp + 24], ecx
        mov [esp + 20], edx
        PRINT " -> host values", 10
        jmp resume_after_instruction

; Port I/O: the exit qualification says port, size and direction. OUT to the guest's COM1 is
; forwarded to the real UART; IN returns 0xFF (nothing there).
handle_io:
        VMR EXIT_QUALIFICATION
        mov [exit_qual], eax
        PRINT " I/O port 0x"
        mov eax, [exit_qual]
        shr eax, 16
        call serial_hex32
        test dword [exit_qual], 8
        jnz .in
        PRINT " OUT '"
        mov al, [esp + 28]
        call serial_putc
        PRINT "'", 10
        jmp resume_after_instruction
.in:
        PRINT " IN -> 0xff", 10
        mov byte [esp + 28], 0xff
        jmp resume_after_instruction

handle_hlt:
        PRINT " HLT: the guest is done", 10
        PRINT "minivisor: "
        mov eax, [exit_count]
        call serial_dec32
        PRINT " exits handled, guest left the string at guest-physical 0x2000: "
        mov esi, GUEST_MEMORY + 0x2000
        call serial_puts
        PRINT 10
        xor al, al
        jmp shutdown

resume_after_instruction:
        mov eax, [exit_rip]
        add eax, [exit_length]
        VMW GUEST_RIP, eax
        popad
        vmresume
        ; falls through only when VMRESUME fails
vmx_failed:
        PRINT "minivisor: VMX instruction failed, error "
        mov ebx, VM_INSTRUCTION_ERROR
        vmread eax, ebx
        call serial_dec32
        PRINT 10
        mov al, 3
        jmp shutdown
vmwrite_failed:
        PRINT "minivisor: VMWRITE of field 0x"
        call serial_hex32
        PRINT " failed", 10
        mov al, 4
shutdown:
        out 0xf4, al                    ; isa-debug-exit: status (AL << 1) | 1
        hlt

; ------------------------------------------------------------------ the guest
; Position-independent: it runs at guest-physical GUEST_ENTRY. It asks CPUID who is there,
; writes the answer at 0x2000 and prints it on its "COM1", then halts.
guest_code:
        mov eax, 0x40000000
        cpuid
        mov edi, 0x2000
        mov [edi], ebx
        mov [edi + 4], ecx
        mov [edi + 8], edx
        mov byte [edi + 12], 0
        mov esi, edi
        mov dx, 0x3f8
.next:  lodsb
        cmp al, ' '
        jbe .done
        out dx, al
        jmp .next
.done:  in al, dx
        hlt
guest_code_end:

        align 8
vmxon_ptr:   dq VMXON_REGION
vmcs_ptr:    dq VMCS_REGION
revision:    dd 0
exit_count:  dd 0
exit_reason: dd 0
exit_rip:    dd 0
exit_length: dd 0
exit_qual:   dd 0
        MULTIBOOT_END
