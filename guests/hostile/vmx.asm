; Hostile guest: every VMX instruction, as if to start a nested hypervisor or to reach the host's
; VMCS: VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMLAUNCH, VMRESUME, INVEPT,
; INVVPID; then setting CR4.VMXE and reading the VMX capability MSRs. Under the hypervisor (no
; nested VMX) each VMX instruction is #UD, CR4.VMXE is #GP, the VMX MSRs are #GP and
; IA32_FEATURE_CONTROL reads locked with VMX off. TAP on COM1, exit status 1 when all pass.
bits 32
org 0x100000
%include "multiboot.inc"
        MULTIBOOT_HEADER start
%include "serial.inc"
%include "check.inc"
%include "system.inc"

; EXPECT_FAULT vector, "what", instruction...: runs the instruction, which must raise `vector`.
%macro EXPECT_FAULT 3+
        TRY %%after
        %3
        TRY_END
%%after:
        CHECK_EQ [exc_vector], %1, %2
%endmacro

start:
        mov esp, KERNEL_STACK_TOP
        call serial_init
        call system_init
        PRINT "# hostile vmx: every VMX instruction, CR4.VMXE and the VMX MSRs from the guest", 10
        mov dword [region], 0x00000001  ; a plausible VMCS revision in the would-be VMXON region
        mov ebx, 0x4400                 ; VM-instruction error field
        EXPECT_FAULT 6, "VMXON: #UD", vmxon [region_ptr]
        EXPECT_FAULT 6, "VMCLEAR: #UD", vmclear [region_ptr]
        EXPECT_FAULT 6, "VMPTRLD: #UD", vmptrld [region_ptr]
        EXPECT_FAULT 6, "VMPTRST: #UD", vmptrst [region_ptr]
        EXPECT_FAULT 6, "VMREAD: #UD", vmread eax, ebx
        EXPECT_FAULT 6, "VMWRITE: #UD", vmwrite ebx, eax
        EXPECT_FAULT 6, "VMLAUNCH: #UD", vmlaunch
        EXPECT_FAULT 6, "VMRESUME: #UD", vmresume
        mov eax, 1
        EXPECT_FAULT 6, "INVEPT: #UD", invept eax, [descriptor]
        EXPECT_FAULT 6, "INVVPID: #UD", invvpid eax, [descriptor]
        EXPECT_FAULT 6, "VMXOFF: #UD", vmxoff
        mov eax, cr4
        or eax, 0x2000
        EXPECT_FAULT 13, "MOV CR4 with VMXE: #GP", mov cr4, eax
        mov eax, cr4
        and eax, 0x2000
        CHECK_EQ eax, 0, "CR4.VMXE reads 0"
        mov ecx, 0x480
        EXPECT_FAULT 13, "RDMSR IA32_VMX_BASIC: #GP", rdmsr
        mov ecx, 0x48d
        EXPECT_FAULT 13, "RDMSR IA32_VMX_TRUE_PINBASED_CTLS: #GP", rdmsr
        mov ecx, 0x3a
        EXPECT_FAULT -1, "RDMSR IA32_FEATURE_CONTROL: no fault", rdmsr
        CHECK_EQ eax, 1, "IA32_FEATURE_CONTROL: locked, VMX off"
        mov ecx, 0x3a
        mov eax, 5
        xor edx, edx
        EXPECT_FAULT 13, "WRMSR IA32_FEATURE_CONTROL (VMX on): #GP", wrmsr
        mov eax, 1
        cpuid
        and ecx, 0x20
        CHECK_EQ ecx, 0, "CPUID.1:ECX.VMX is 0"
        TEST_DONE

        align 8
region_ptr: dq region
descriptor: dq 0, 0
        align 4096
region: times 4096 db 0
        MULTIBOOT_END
