; trapvisor's guest kernel: a small preemptive multitasking kernel, one source for two builds.
;
;   FV (default):  believes it owns a PC: 16550 UART, 8254 PIT and 8259 PIC, HLT when idle,
;                  isa-debug-exit to power off.            -> guests/fv/kernel.img
;   PV (-D PV=1):  knows it is a guest of trapvisor's hypervisor (found through CPUID): console,
;                  timer, events, idling and power-off by hypercall. -> guests/pv/kernel.img
;
; It boots from Multiboot at 1 MiB, maps itself at KERNEL_VMA (higher half), installs its own
; GDT, IDT and TSS, and runs USER_TASKS programs (user.inc) in ring 3, each in its own address
; space, preempted by a 100 Hz timer. System calls by INT 0x80 (syscalls.inc). User stacks and
; heaps are demand-zero; a task that writes to a read-only page or touches the kernel is killed.
; When every task has ended it prints a report (identical in both builds but for the mode line),
; then a timing line, and powers off with status 0 if every task ended as expected, 1 if not.
bits 32
%ifndef PV
%define PV 0
%endif
%define KERNEL_VMA       0xC0000000
%define KERNEL_LOAD      0x00100000
%define KERNEL_MAP_BYTES 0x00800000     ; physical 0-8 MiB at KERNEL_VMA
%define FRAME_FIRST      0x00400000     ; page frames for page tables and user pages
%define FRAME_LIMIT      0x00800000
%define USER_STACK_LOW   0x003f0000     ; user stack: demand-zero, 64 KiB below USER_CODE
%define USER_STACK_TOP   0x00400000
%define USER_CODE        0x00400000     ; the user programs, read-only
%define USER_HEAP        0x00800000     ; user heap: demand-zero, 4 MiB
%define USER_HEAP_END    0x00c00000
%define USER_LIMIT       KERNEL_VMA
%define TICK_HZ          100
%define PV_NEEDS (PV_FEATURE_CONSOLE | PV_FEATURE_TIMER | PV_FEATURE_EVENTS | PV_FEATURE_TIME)

        org KERNEL_VMA + KERNEL_LOAD
%include "multiboot.inc"

        align 4
multiboot_header:                       ; Multiboot 0.6.96 3.1, with the a.out kludge: physical addresses
        dd MULTIBOOT_MAGIC
        dd MULTIBOOT_FLAGS
        dd -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)
        dd multiboot_header - KERNEL_VMA
        dd $$ - KERNEL_VMA
        dd image_end - KERNEL_VMA
        dd bss_end - KERNEL_VMA
        dd boot - KERNEL_VMA

%include "kernel/descriptors.inc"
%include "kernel/paging.inc"
%include "kernel/print.inc"
%include "kernel/format.inc"
%include "kernel/exceptions.inc"
%if PV
%include "kernel/hypercall.inc"
%else
%include "kernel/pic.inc"
%include "kernel/pit.inc"
%endif
%include "kernel/console.inc"
%include "kernel/timer.inc"
%include "syscalls.inc"
%include "user.inc"
%include "tasks.inc"
%include "faults.inc"
%include "syscall.inc"

; Entered at the physical address with paging off: only relative jumps and PHYS() until paging.
boot:
        cli
        mov esp, PHYS(boot_stack_top)
        mov [PHYS(boot_magic)], eax
        mov [PHYS(boot_info)], ebx
        PAGING_ENABLE_HIGHER_HALF
        mov eax, kernel_main
        jmp eax

kernel_main:
        mov esp, boot_stack_top
        call paging_drop_identity
        call descriptors_init
%if PV
        call hv_detect                  ; the PV build touches no device when the hypervisor is there
        jc no_hypervisor
        mov eax, [hv_features]
        and eax, PV_NEEDS
        cmp eax, PV_NEEDS
        jne missing_features
        mov dword [console_pv], 1
%else
        call console_init
%endif
        PRINTF `trapvisor kernel: %s\n`, mode_line
        cmp dword [boot_magic], MULTIBOOT_BOOT_MAGIC
        je .magic_ok
        PRINTF `[kernel] warning: not booted by a Multiboot loader (EAX 0x%08x)\n`, dword [boot_magic]
        jmp .memory_ok
.magic_ok:
        mov ebx, [boot_info]            ; Multiboot information (physical, inside the kernel's map)
        cmp ebx, KERNEL_MAP_BYTES - 16
        jae .memory_ok
        test dword [VIRT(ebx)], 1       ; flags bit 0: mem_lower and mem_upper are valid
        jz .memory_ok
        mov eax, [VIRT(ebx) + 8]        ; mem_upper: KiB above 1 MiB
        cmp eax, (FRAME_LIMIT - 0x100000) / 1024
        jae .memory_ok
        add eax, 1024
        PRINTF `[kernel] this kernel needs %u KiB of memory; the machine has %u KiB\n`, FRAME_LIMIT / 1024, eax
        mov eax, 1
        jmp machine_exit
.memory_ok:
        xor ecx, ecx
.exc:   mov dword [isr_table + ecx * 4], exception_isr
        inc ecx
        cmp ecx, 32
        jb .exc
        SET_ISR 14, page_fault_isr
        SET_ISR TIMER_VECTOR, timer_isr
        SET_ISR SYSCALL_VECTOR, syscall_isr, 3
        call sysenter_init
        mov eax, [sysenter_enabled]
        mov [fast_syscall_ok], eax      ; the user programs' page, through the kernel's mapping
        mov ebx, TASK_AT(1)
        mov ecx, USER_TASKS
.task:  call task_create
        add ebx, TASK_SIZE
        loop .task
        PRINTF `[kernel] %u tasks in ring 3, own page directories, %u Hz preemption\n`, USER_TASKS, TICK_HZ
        mov eax, TICK_HZ
        call timer_start

; The idle task: runs the others, sleeps when none is runnable, reports when all have ended.
idle:
        cmp dword [live_tasks], 0
        je report
        call schedule
        cmp dword [live_tasks], 0
        je report
        call idle_wait
        jmp idle

%if PV
no_hypervisor:
        call console_init               ; say why on the UART, the one console bare hardware has
        PRINTF `trapvisor kernel (paravirtualized build): no hypervisor found.\nCPUID does not report trapvisor's hypervisor (leaf 0x40000000 signature "TrapvisorHV!"), and this build\nneeds its hypercalls. Run it under the hypervisor (trapvisor boot guests/pv/kernel.img),\nor boot the full-virtualized build (guests/fv/kernel.img) on bare hardware.\n`
        mov eax, 2
        jmp machine_exit
missing_features:
        call console_init
        PRINTF `trapvisor kernel (paravirtualized build): the hypervisor lacks features 0x%x (has 0x%x)\n`, PV_NEEDS, dword [hv_features]
        mov eax, 2
        jmp machine_exit
mode_line: db 'paravirtualized (hypercalls: console, timer, events, block, shutdown)', 0
%else
mode_line: db 'full virtualization (16550 UART, 8254 PIT, 8259 PIC, HLT, isa-debug-exit)', 0
%endif

; The final report: the same lines in both builds but the mode; then the timing, which is not.
report:
        cli
        PRINTF `\n== report ==\nmode: %s\n`, mode_line
        xor edi, edi                    ; tasks that did not end as expected
        xor ecx, ecx                    ; exited
        xor edx, edx                    ; killed
        mov ebx, TASK_AT(1)
.task:  PRINTF `task %u %s: `, dword [ebx + T_ID], dword [ebx + T_NAME]
        mov eax, [ebx + T_STATE]
        cmp eax, [ebx + T_EXPECT]
        je .fate
        inc edi
.fate:  cmp eax, TS_KILLED
        je .killed
        inc ecx
        cmp dword [ebx + T_EXIT], 0
        je .code
        inc edi
.code:  PRINTF `exited %d, `, dword [ebx + T_EXIT]
        push dword [ebx + T_RESULT]
        push dword [ebx + T_REPORT]
        call kprintf
        add esp, 8
        jmp .eol
.killed:
        inc edx
        PRINTF `killed (%s at 0x%08x)`, dword [ebx + T_KILLED], dword [ebx + T_KILLADDR]
.eol:   PRINTF `\n`
        add ebx, TASK_SIZE
        cmp ebx, tasks_end
        jb .task
        PRINTF `tasks: %u, exited %u, killed %u; demand-zero pages %u\n`, USER_TASKS, ecx, edx, dword [demand_pages]
        PRINTF `system calls: %u by int 0x80, %u by sysenter\n`, dword [syscalls_int80], dword [syscalls_sysenter]
        mov eax, str_ok
        test edi, edi
        jz .verdict
        mov eax, str_failed
.verdict:
        PRINTF `verdict: %s\n== end of report ==\n`, eax
        call clock_ns
        mov ecx, 1000000
        div ecx                         ; ms (the run is far shorter than 49 days)
        PRINTF `timing: %u ticks (idle %u), %u ms, %u context switches, %u preemptions, ticks by task:`, dword [timer_ticks], dword [TASK_AT(0) + T_TICKS], eax, dword [switches], dword [preemptions]
        mov ebx, TASK_AT(1)
.ticks: PRINTF ` %s %u`, dword [ebx + T_NAME], dword [ebx + T_TICKS]
        add ebx, TASK_SIZE
        cmp ebx, tasks_end
        jb .ticks
        PRINTF `\n`
        xor eax, eax
        test edi, edi
        setnz al
        jmp machine_exit
str_ok:     db 'every task ended as expected', 0
str_failed: db 'FAILED: a task did not end as expected', 0

boot_magic: dd 0
boot_info:  dd 0

image_end:

        section .bss align=4096
boot_pd:        resb PAGE_SIZE
boot_pts:       resb KERNEL_MAP_BYTES / 1024
kernel_stacks:  resb PAGE_SIZE * USER_TASKS
                resb PAGE_SIZE
boot_stack_top:
                resb 64
sysenter_stack_top:
bss_end:
