/**
 * Every VM-exit reason the processor implements, provoked by a real guest instruction (or event)
 * in non-root operation, with the exit information checked field by field against the SDM's
 * formats (Vol. 3C 28.2: exit qualification, instruction length and information, guest-linear
 * and guest-physical address, interruption and IDT-vectoring information).
 */
import { describe, expect, test } from 'vitest';
import { PicPair } from '../../emulator/devices/pic8259.js';
import { ExitReason as R, Pin, Proc, Proc2 } from '../../emulator/vmx/controls.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import { EPT_R, EPT_RWX, EPT_W, EPT_X, GUEST, GUEST_BASE, HOST, VmxHost } from './harness.js';

/** Memory-operand instruction information: scale 0, 32-bit addresses, DS, no index, no base. */
const DISP32_DS_INFO = (1 << 7) | (3 << 15) | (1 << 22) | (1 << 27);

for (const engine of ['interpret', 'blocks'] as const) {
  describe(`instruction exits (${engine})`, () => {
    const host = (o: ConstructorParameters<typeof VmxHost>[0] = {}) => new VmxHost({ engine, ...o });

    test('CPUID, INVD, VMCALL exit unconditionally with their lengths', () => {
      const h = host();
      h.load('mov eax, 1\ncpuid\ninvd\nvmcall\nhlt');
      let e = h.run();
      expect([e.reason, e.instructionLength, e.guestRip]).toEqual([R.CPUID, 2, GUEST.CODE + 5]);
      expect(h.cpu.r[0]).toBe(1); // guest EAX is still in the register file: the handler emulates CPUID
      h.skip(e);
      e = h.run();
      expect([e.reason, e.instructionLength]).toEqual([R.INVD, 2]);
      h.skip(e);
      e = h.run();
      expect([e.reason, e.instructionLength]).toEqual([R.VMCALL, 3]);
      expect(h.vmcs.read(F.VM_EXIT_REASON)).toBe(R.VMCALL);
      expect(h.vmcs.read(F.VM_EXIT_INSTRUCTION_LEN)).toBe(3);
      expect(h.vmcs.read(F.GUEST_RIP)).toBe(GUEST.CODE + 9);
    });

    test('HLT exits only with HLT exiting; without it the guest halts in non-root operation', () => {
      const h = host();
      h.load('hlt');
      expect(h.run().reason).toBe(R.HLT);
      const h2 = host();
      h2.vmcs.write(F.CPU_BASED_VM_EXEC_CONTROL, h2.vmcs.read(F.CPU_BASED_VM_EXEC_CONTROL) & ~Proc.HLT_EXITING);
      h2.load('hlt');
      expect(h2.enter().kind).toBe('halted');
      expect(h2.cpu.vmx.nonRoot).toBe(true);
    });

    test('INVLPG reports the linear address; RDTSC and RDTSCP follow RDTSC exiting', () => {
      const h = host({ proc: Proc.INVLPG_EXITING | Proc.RDTSC_EXITING, proc2: Proc2.ENABLE_RDTSCP });
      h.load('mov ebx, 0x12000\ninvlpg [ebx + 0x345]\nrdtsc\nrdtscp\nhlt');
      let e = h.run();
      expect([e.reason, e.qualification, e.instructionLength]).toEqual([R.INVLPG, 0x12345, 7]);
      h.skip(e);
      e = h.run();
      expect([e.reason, e.instructionLength]).toEqual([R.RDTSC, 2]);
      h.skip(e);
      e = h.run();
      expect([e.reason, e.instructionLength]).toEqual([R.RDTSCP, 3]);
    });

    test('RDTSCP is #UD in non-root operation unless "enable RDTSCP" is set', () => {
      const h = host({ proc2: 0 });
      h.vmcs.write(F.EXCEPTION_BITMAP, 1 << 6);
      h.load('rdtscp');
      const e = h.run();
      expect(e.reason).toBe(R.EXCEPTION_NMI);
      expect(e.interruptionInfo >>> 0).toBe(0x80000306);
    });

    test('TSC offsetting: the guest reads the host TSC plus TSC_OFFSET', () => {
      const h = host({ proc: Proc.USE_TSC_OFFSETTING });
      h.vmcs.write64(F.TSC_OFFSET, 1_000_000_000n);
      h.load('rdtsc\ncpuid');
      h.run();
      const guestTsc = (BigInt(h.cpu.r[2]! >>> 0) << 32n) | BigInt(h.cpu.r[0]! >>> 0);
      const icount = BigInt(h.cpu.icount);
      expect(guestTsc >= 1_000_000_000n && guestTsc <= 1_000_000_000n + icount).toBe(true);
    });

    test('the VMX instructions exit in non-root operation with displacement and instruction information', () => {
      const cases: [string, number, number][] = [
        ['vmclear [0x2000]', R.VMCLEAR, 0x2000],
        ['vmptrld [0x2008]', R.VMPTRLD, 0x2008],
        ['vmptrst [0x2010]', R.VMPTRST, 0x2010],
        ['vmxon [0x2018]', R.VMXON, 0x2018],
        ['vmlaunch', R.VMLAUNCH, 0],
        ['vmresume', R.VMRESUME, 0],
        ['vmxoff', R.VMXOFF, 0],
      ];
      for (const [insn, reason, disp] of cases) {
        const h = host();
        h.load(insn);
        const e = h.run();
        expect([insn, e.reason, e.qualification]).toEqual([insn, reason, disp]);
        if (disp) expect(e.instructionInfo).toBe(DISP32_DS_INFO);
      }
    });

    test('VMREAD/VMWRITE report both registers in the instruction information', () => {
      const h = host();
      h.load('vmread ebx, ecx\nvmwrite edx, [esi + 8]');
      let e = h.run();
      expect(e.reason).toBe(R.VMREAD);
      // reg2 (the encoding, ECX = 1) in 31:28; register operand EBX (3) in 6:3 with bit 10.
      expect(e.instructionInfo >>> 0).toBe(((1 << 28) | (1 << 10) | (3 << 3) | (1 << 7)) >>> 0);
      h.skip(e);
      e = h.run();
      expect(e.reason).toBe(R.VMWRITE);
      expect(e.qualification).toBe(8);
      expect(e.instructionInfo >>> 0).toBe(((2 << 28) | (1 << 7) | (3 << 15) | (1 << 22) | (6 << 23)) >>> 0);
    });

    test('INVEPT and INVVPID exit', () => {
      const h = host();
      h.load('invept eax, [0x3000]\ninvvpid ecx, [0x3010]');
      let e = h.run();
      expect([e.reason, e.qualification]).toEqual([R.INVEPT, 0x3000]);
      expect(e.instructionInfo >>> 0).toBe((DISP32_DS_INFO | (0 << 28)) >>> 0);
      h.skip(e);
      e = h.run();
      expect([e.reason, e.qualification]).toEqual([R.INVVPID, 0x3010]);
      expect(e.instructionInfo >>> 28).toBe(1);
    });

    test('MOV to CR0/CR4 exits when a host-owned bit would differ from the read shadow', () => {
      const h = host();
      h.vmcs.write(F.CR0_GUEST_HOST_MASK, 0x8); // TS owned by the host
      h.vmcs.write(F.CR0_READ_SHADOW, 0x11);
      h.load(`
        mov eax, cr0          ; reads the shadow for TS
        mov edi, eax
        or eax, 2             ; MP: guest-owned, no exit
        mov cr0, eax
        mov eax, cr4          ; VMXE is host-owned, shadow 0
        mov esi, eax
        or eax, 0x2008        ; DE + VMXE: VMXE differs from the shadow -> exit
        mov ebp, eax
        mov cr4, ebp
        hlt`);
      const e = h.run();
      expect(e.reason).toBe(R.CR_ACCESS);
      expect(e.qualification).toBe(4 | (0 << 4) | (5 << 8)); // CR4, MOV to CR, EBP
      expect(h.cpu.r[7]! & 0x8).toBe(0); // TS read from the shadow
      expect(h.cpu.r[6]! & 0x2000).toBe(0); // VMXE hidden
      expect(h.vmcs.read(F.GUEST_CR0) & 2).toBe(2); // the unmasked MP write took effect
    });

    test('MOV to CR0 keeps host-owned bits when they match the shadow', () => {
      const h = host();
      h.vmcs.write(F.CR0_GUEST_HOST_MASK, 0x20); // NE owned by the host, shadow NE = 0
      h.vmcs.write(F.CR0_READ_SHADOW, 0x11);
      h.load('mov eax, 0x13\nmov cr0, eax\nmov ebx, cr0\nhlt');
      const e = h.run();
      expect(e.reason).toBe(R.HLT);
      expect(h.cpu.r[3]).toBe(0x13);
      expect(h.vmcs.read(F.GUEST_CR0) & 0x20).toBe(0x20); // the real NE stayed 1
    });

    test('CR3 load and store exiting, and the CR3-target list', () => {
      const h = host({ proc: Proc.CR3_LOAD_EXITING | Proc.CR3_STORE_EXITING });
      h.vmcs.write(F.CR3_TARGET_COUNT, 1);
      h.vmcs.write(F.CR3_TARGET_VALUE0, 0x5000);
      h.load('mov ecx, 0x5000\nmov cr3, ecx\nmov ecx, 0x6000\nmov cr3, ecx\nmov edx, cr3');
      let e = h.run();
      expect([e.reason, e.qualification, e.guestRip]).toEqual([R.CR_ACCESS, 3 | (1 << 8), GUEST.CODE + 13]);
      h.skip(e);
      e = h.run();
      expect([e.reason, e.qualification]).toEqual([R.CR_ACCESS, 3 | (1 << 4) | (2 << 8)]);
      expect(h.vmcs.read(F.GUEST_CR3)).toBe(0x5000); // the target value loaded without an exit
    });

    test('CLTS and LMSW exit against the CR0 mask and shadow', () => {
      const h = host();
      h.vmcs.write(F.CR0_GUEST_HOST_MASK, 0xe);
      h.vmcs.write(F.CR0_READ_SHADOW, 0x19); // TS = 1 in the shadow
      h.load('clts\nmov ax, 0x3\nlmsw ax');
      let e = h.run();
      expect([e.reason, e.qualification, e.instructionLength]).toEqual([R.CR_ACCESS, 2 << 4, 2]);
      h.skip(e);
      e = h.run();
      expect([e.reason, e.qualification >>> 0]).toEqual([R.CR_ACCESS, ((3 << 4) | (3 << 16)) >>> 0]);
    });

    test('MOV DR exits with MOV-DR exiting', () => {
      const h = host({ proc: Proc.MOV_DR_EXITING });
      h.load('mov dr7, eax\nmov ebx, dr6');
      let e = h.run();
      expect([e.reason, e.qualification]).toEqual([R.DR_ACCESS, 7]);
      h.skip(e);
      e = h.run();
      expect([e.reason, e.qualification]).toEqual([R.DR_ACCESS, 6 | (1 << 4) | (3 << 8)]);
    });

    test('I/O bitmaps: only marked ports exit, with the SDM qualification', () => {
      const h = host({ proc: Proc.USE_IO_BITMAPS });
      const mark = (port: number) => {
        const base = port < 0x8000 ? HOST.IO_A : HOST.IO_B, bit = port & 0x7fff;
        h.cpu.mem.write8(base + (bit >> 3), h.cpu.mem.read8(base + (bit >> 3)) | (1 << (bit & 7)));
      };
      mark(0x3f8); mark(0x71); mark(0x8001);
      h.load(`
        mov dx, 0x80          ; not marked: goes to the (null) bus
        out dx, al
        mov dx, 0x3f8
        out dx, al
        in eax, 0x71
        mov dx, 0x8000        ; a word at 0x8000 covers 0x8001: exits
        in ax, dx
        mov esi, 0x10000
        mov ecx, 3
        mov dx, 0x3f8
        rep outsb`);
      let e = h.run();
      expect([e.reason, e.qualification, e.instructionLength]).toEqual([R.IO_INSTRUCTION, 0x3f8 << 16, 1]);
      h.skip(e);
      e = h.run();
      expect([e.reason, e.qualification >>> 0]).toEqual([R.IO_INSTRUCTION, (3 | 8 | 64 | (0x71 << 16)) >>> 0]);
      h.skip(e);
      e = h.run();
      expect(e.qualification >>> 0).toBe((1 | 8 | (0x8000 << 16)) >>> 0);
      h.skip(e);
      e = h.run();
      expect(e.qualification >>> 0).toBe((0 | 16 | 32 | (0x3f8 << 16)) >>> 0);
      expect(e.guestLinearAddress).toBe(0x10000);
      expect(e.instructionInfo).toBe((1 << 7) | (3 << 15));
    });

    test('I/O and MSR bitmaps moved between entries: the next entry uses the new ones', () => {
      const h = host({ proc: Proc.USE_IO_BITMAPS | Proc.USE_MSR_BITMAPS });
      // Port 0x70 and RDMSR 0x174 exit with the first bitmaps; second ones (zero) pass them.
      h.cpu.mem.write8(HOST.IO_A + (0x70 >> 3), 1 << (0x70 & 7));
      h.cpu.mem.write8(HOST.MSR_BITMAP + (0x174 >> 3), 1 << (0x174 & 7));
      h.load('in al, 0x70\nin al, 0x70\nmov ecx, 0x174\nrdmsr\nrdmsr\nhlt');
      let e = h.run();
      expect(e.reason).toBe(R.IO_INSTRUCTION);
      h.skip(e);
      // The processor keeps the controls between exits; a write of a bitmap's address drops them.
      h.vmcs.write(F.IO_BITMAP_A, 0x8000);
      e = h.run();
      expect([e.reason, e.guestRip]).toEqual([R.RDMSR, GUEST.CODE + 9]);
      h.skip(e);
      h.vmcs.write(F.MSR_BITMAP, 0x9000);
      e = h.run();
      expect([e.reason, e.guestRip]).toEqual([R.HLT, GUEST.CODE + 13]);
    });

    test('unconditional I/O exiting without bitmaps', () => {
      const h = host({ proc: Proc.UNCONDITIONAL_IO_EXITING });
      h.load('in al, 0x60');
      const e = h.run();
      expect([e.reason, e.qualification]).toEqual([R.IO_INSTRUCTION, 8 | 64 | (0x60 << 16)]);
    });

    test('MSR bitmaps: RDMSR and WRMSR exit per index; without bitmaps every access exits', () => {
      const h = host({ proc: Proc.USE_MSR_BITMAPS });
      h.cpu.mem.write8(HOST.MSR_BITMAP + 2048 + (0x174 >> 3), 1 << (0x174 & 7)); // write-exit for SYSENTER_CS
      h.load('mov ecx, 0x174\nrdmsr\nmov eax, 8\nwrmsr');
      const e = h.run();
      expect([e.reason, e.guestRip]).toEqual([R.WRMSR, GUEST.CODE + 12]);
      const h2 = host();
      h2.load('mov ecx, 0x10\nrdmsr');
      expect(h2.run().reason).toBe(R.RDMSR);
    });

    test('PAUSE, WBINVD and descriptor-table exits', () => {
      const h = host({ proc: Proc.PAUSE_EXITING, proc2: Proc2.WBINVD_EXITING | Proc2.DESCRIPTOR_TABLE_EXITING });
      h.load('pause\nwbinvd\nsgdt [0x3000]\nlidt [ebx + 4]\nstr ax\nltr cx');
      const reasons: number[] = [];
      const infos: number[] = [];
      for (let i = 0; i < 6; i++) { const e = h.run(); reasons.push(e.reason); infos.push(e.instructionInfo >>> 0); h.skip(e); }
      expect(reasons).toEqual([R.PAUSE, R.WBINVD, R.GDTR_IDTR_ACCESS, R.GDTR_IDTR_ACCESS, R.LDTR_TR_ACCESS, R.LDTR_TR_ACCESS]);
      expect(infos[2]! >>> 28).toBe(0); // SGDT
      expect((infos[3]! >>> 28) & 3).toBe(3); // LIDT
      expect((infos[3]! >>> 23) & 0xf).toBe(3); // base EBX
      expect((infos[4]! >>> 28) & 3).toBe(1); // STR
      expect(infos[4]! & (1 << 10)).toBe(1 << 10); // register operand
      expect((infos[5]! >>> 28) & 3).toBe(3); // LTR
    });

    test('a task switch exits with the TSS selector and its source', () => {
      const h = host();
      h.writeGuest32(GUEST.GDT + 32, 0x03000067); // TSS at 0x300, DPL 0, available
      h.writeGuest32(GUEST.GDT + 36, 0x00008900);
      h.vmcs.write(F.GUEST_GDTR_LIMIT, 39);
      h.load('jmp 0x20:0');
      const e = h.run();
      expect(e.reason).toBe(R.TASK_SWITCH);
      expect(e.qualification >>> 0).toBe((0x20 | (2 << 30)) >>> 0);
      expect(e.instructionLength).toBe(7);
    });
  });

  describe(`event exits (${engine})`, () => {
    const host = (o: ConstructorParameters<typeof VmxHost>[0] = {}) => new VmxHost({ engine, ...o });

    test('exception bitmap: #UD, #GP with error code, INT3 as a software exception', () => {
      const h = host();
      h.vmcs.write(F.EXCEPTION_BITMAP, (1 << 6) | (1 << 13) | (1 << 3));
      h.load('ud2\nmov ax, 0x13\nmov ds, ax\nint3');
      let e = h.run();
      expect([e.reason, e.interruptionInfo >>> 0, e.guestRip]).toEqual([R.EXCEPTION_NMI, 0x80000306, GUEST.CODE]);
      h.skip({ ...e, instructionLength: 2 });
      e = h.run();
      expect(e.interruptionInfo >>> 0).toBe(0x80000b0d); // #GP, hardware exception, error code valid
      expect(e.interruptionErrorCode).toBe(0x10);
      expect(e.guestRip).toBe(GUEST.CODE + 6);
      h.vmcs.write(F.GUEST_RIP, GUEST.CODE + 8);
      e = h.run();
      expect(e.interruptionInfo >>> 0).toBe(0x80000603); // #BP, software exception
      expect(e.instructionLength).toBe(1);
    });

    test('a single-step #DB exits with the pending debug exceptions (DR6.BS) as qualification', () => {
      const h = host();
      h.vmcs.write(F.EXCEPTION_BITMAP, 1 << 1);
      h.load('pushfd\nor dword [esp], 0x100\npopfd\nnop\nnop');
      const e = h.run();
      expect(e.reason).toBe(R.EXCEPTION_NMI);
      expect(e.interruptionInfo >>> 0).toBe(0x80000301);
      expect(e.qualification & 0x4000).toBe(0x4000);
    });

    test('an unrestricted guest runs real-mode code (CR0.PE = 0) under EPT', () => {
      const h = host();
      h.vmcs.write(F.GUEST_CR0, 0x30); // ET NE, no PE
      h.vmcs.write(F.CR0_READ_SHADOW, 0x10);
      h.vmcs.write(F.GUEST_CS_SELECTOR, 0x100);
      h.vmcs.write(F.GUEST_CS_BASE, 0x1000);
      h.vmcs.write(F.GUEST_CS_LIMIT, 0xffff);
      h.vmcs.write(F.GUEST_CS_AR_BYTES, 0x9b);
      for (const s of ['SS', 'DS', 'ES', 'FS', 'GS'] as const) {
        h.vmcs.write(F[`GUEST_${s}_SELECTOR`], 0x200);
        h.vmcs.write(F[`GUEST_${s}_BASE`], 0x2000);
        h.vmcs.write(F[`GUEST_${s}_LIMIT`], 0xffff);
        h.vmcs.write(F[`GUEST_${s}_AR_BYTES`], 0x93);
      }
      h.vmcs.write(F.GUEST_RIP, 0);
      h.vmcs.write(F.GUEST_RSP, 0x1000);
      const binary = h.load('bits 16\nmov ax, 0x1234\nmov [0x10], ax\nmov bx, ds\npush ax\ncpuid', 0x1000);
      expect(binary.length).toBeGreaterThan(0);
      const e = h.run();
      expect(e.reason).toBe(R.CPUID);
      expect(h.readGuest32(0x2010) & 0xffff).toBe(0x1234); // DS base 0x2000 + 0x10
      expect(h.cpu.r[3]! & 0xffff).toBe(0x200);
      expect(h.readGuest32(0x2ffe) & 0xffff).toBe(0x1234); // pushed at SS:0x0FFE
      expect(e.guestRip).toBe(binary.length - 2);
    });

    test('#PF exits follow the error-code mask and match', () => {
      const h = host();
      // Guest paging: identity map the first 4 MiB with a 4 MiB page, but page 0x200000 not present.
      h.load(`
        mov eax, 0x20000
        mov dword [eax], 0x00000083       ; PDE 0: 4 MiB page, present, writable
        mov cr3, eax
        mov eax, cr4
        or eax, 0x10
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov dword [0x900000], 1           ; PDE 2 not present: #PF, error code 2 (write)
        hlt`);
      h.vmcs.write(F.EXCEPTION_BITMAP, 1 << 14);
      h.vmcs.write(F.PAGE_FAULT_ERROR_CODE_MASK, 2);
      h.vmcs.write(F.PAGE_FAULT_ERROR_CODE_MATCH, 2); // exit only for write faults
      const e = h.run();
      expect(e.reason).toBe(R.EXCEPTION_NMI);
      expect(e.interruptionInfo >>> 0).toBe(0x80000b0e);
      expect(e.interruptionErrorCode).toBe(2);
      expect(e.qualification).toBe(0x900000); // the faulting linear address, CR2 untouched
      expect(h.cpu.mmu.cr2).not.toBe(0x900000);
    });

    test('a triple fault in the guest is a VM exit (reason 2), not a shutdown', () => {
      const h = host();
      h.vmcs.write(F.GUEST_IDTR_LIMIT, 0);
      h.load('ud2');
      const e = h.run();
      expect(e.reason).toBe(R.TRIPLE_FAULT);
      expect(h.cpu.tripleFaulted).toBeNull();
    });

    test('external-interrupt exiting with acknowledge on exit', () => {
      const h = host({ pin: Pin.EXTERNAL_INTERRUPT_EXITING });
      h.vmcs.write(F.VM_EXIT_CONTROLS, h.vmcs.read(F.VM_EXIT_CONTROLS) | (1 << 15));
      const pic = new PicPair();
      pic.initializeLikeBios(0x20, 0x28);
      pic.master.portWrite(1, 1, 0xf9); // unmask IRQ1 (and the cascade)
      h.cpu.intr = pic;
      h.load('mov ecx, 100\n.l: loop .l\nhlt');
      pic.irqLine(1).setLevel(true);
      const e = h.run();
      expect(e.reason).toBe(R.EXTERNAL_INTERRUPT);
      expect(e.interruptionInfo >>> 0).toBe(0x80000021); // vector 0x21, acknowledged
      expect(e.guestRip).toBe(GUEST.CODE); // taken before the first instruction (IF is irrelevant)
    });

    test('external-interrupt exiting: an interrupt raised inside a compiled loop exits at the end of that iteration, IF clear', () => {
      // The guest loops (a block that loops on itself) with IF = 0 and counts in memory; the
      // interrupt line goes up once the count reaches 100. The exit must come right after that
      // iteration, not when the loop or the run's budget ends.
      const h = host({ pin: Pin.EXTERNAL_INTERRUPT_EXITING });
      h.cpu.intr = {
        hasPendingInterrupt: () => h.readGuest32(GUEST.DATA) >= 100,
        acknowledge: () => 0x21,
      };
      h.load(`cli\nxor eax, eax\n.l: inc eax\nmov [${GUEST.DATA}], eax\ncmp eax, 100000\njne .l\nhlt`);
      const e = h.run();
      expect(e.reason).toBe(R.EXTERNAL_INTERRUPT);
      expect(h.readGuest32(GUEST.DATA)).toBe(100);
      // The interpreter takes it after the store that raised it; a compiled block at its end.
      expect(e.guestRip).toBe(engine === 'blocks' ? GUEST.CODE + 3 : GUEST.CODE + 9);
    });

    test('interrupt-window exiting waits for IF = 1 and the STI shadow', () => {
      const h = host({ proc: Proc.INTERRUPT_WINDOW_EXITING });
      h.load('nop\nsti\nnop\nnop\nhlt');
      const e = h.run();
      expect(e.reason).toBe(R.INTERRUPT_WINDOW);
      expect(e.guestRip).toBe(GUEST.CODE + 3); // after STI and the one instruction it shadows
    });

    test('monitor trap flag: an exit after each guest instruction', () => {
      const h = host({ proc: Proc.MONITOR_TRAP_FLAG });
      h.load('mov eax, 1\nadd eax, 2\nhlt');
      let e = h.run();
      expect([e.reason, e.guestRip]).toEqual([R.MONITOR_TRAP_FLAG, GUEST.CODE + 5]);
      e = h.run();
      expect([e.reason, e.guestRip]).toEqual([R.MONITOR_TRAP_FLAG, GUEST.CODE + 8]);
      expect(h.cpu.r[0]).toBe(3);
    });

    /** A host with the preemption timer at `value`, saved on exit (exit control bit 22). */
    const timerHost = (value: number): VmxHost => {
      const h = host({ pin: Pin.PREEMPTION_TIMER });
      h.vmcs.write(F.VM_EXIT_CONTROLS, h.vmcs.read(F.VM_EXIT_CONTROLS) | (1 << 22));
      h.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, value);
      return h;
    };

    test('the preemption timer fires after exactly the programmed count (rate 0: one unit per TSC tick)', () => {
      const h = timerHost(1001);
      h.load('xor eax, eax\n.l: inc eax\njmp .l');
      const before = h.cpu.icount;
      const e = h.run();
      expect(e.reason).toBe(R.PREEMPTION_TIMER);
      const ran = h.cpu.icount - before;
      expect(ran).toBe(1001);
      expect(h.cpu.r[0]).toBe(500); // xor, then 500 x (inc, jmp)
      expect(h.vmcs.read(F.VMX_PREEMPTION_TIMER_VALUE)).toBe(0); // saved on exit
    });

    test('an instruction exit saves the preemption timer less exactly the instructions before it', () => {
      // The CPUID ends a straight run of five instructions (one compiled block): the count the exit
      // sees must include them, as the interpreter's does.
      const h = timerHost(1000);
      h.load('mov eax, 1\nmov ebx, 2\nadd eax, ebx\nshl eax, 2\nxor ecx, ecx\ncpuid\nhlt');
      const before = h.cpu.icount;
      const e = h.run();
      expect(e.reason).toBe(R.CPUID);
      expect(h.cpu.icount - before).toBe(5);
      expect(h.vmcs.read(F.VMX_PREEMPTION_TIMER_VALUE)).toBe(995);
    });

    test('NMI injection reaches vector 2 and software interrupts push the next RIP', () => {
      const h = host();
      h.setGate(2, 0x2000);
      h.setGate(0x40, 0x2100);
      h.load('mov [0x3000], esp\nhlt', 0x2000);
      h.load('mov eax, [esp]\nmov [0x3004], eax\nhlt', 0x2100);
      h.load('nop\nnop');
      h.vmcs.write(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000202);
      expect(h.run().reason).toBe(R.HLT);
      expect(h.readGuest32(0x3000)).toBe(GUEST.STACK - 12);
      const h2 = host();
      h2.setGate(0x40, 0x2100);
      h2.load('mov eax, [esp]\nmov [0x3004], eax\nhlt', 0x2100);
      h2.load('int 0x40\nnop');
      h2.vmcs.write(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000440);
      h2.vmcs.write(F.VM_ENTRY_INSTRUCTION_LEN, 2);
      expect(h2.run().reason).toBe(R.HLT);
      expect(h2.readGuest32(0x3004)).toBe(GUEST.CODE + 2);
    });

    test('an injected #GP reaches the guest handler with its error code; an external interrupt needs IF', () => {
      const h = host();
      h.setGate(13, 0x2000);
      h.load('pop eax\nmov [0x3000], eax\nhlt', 0x2000);
      h.load('hlt');
      h.vmcs.write(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000b0d);
      h.vmcs.write(F.VM_ENTRY_EXCEPTION_ERROR_CODE, 0x1234);
      const e = h.run();
      expect([e.reason, e.guestRip]).toEqual([R.HLT, 0x2006]);
      expect(h.readGuest32(0x3000)).toBe(0x1234);
      expect(h.vmcs.read(F.VM_ENTRY_INTR_INFO_FIELD) >>> 31).toBe(0); // valid bit cleared by entry
      const h2 = host();
      h2.setGate(0x30, 0x2000);
      h2.load('hlt', 0x2000);
      h2.vmcs.write(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000030);
      expect(h2.enter()).toMatchObject({ kind: 'exit', exit: { reason: R.INVALID_GUEST_STATE, entryFailure: true } });
      h2.vmcs.write(F.GUEST_RFLAGS, 0x202);
      expect(h2.run().guestRip).toBe(0x2000);
    });

    test('an exit during event delivery records IDT-vectoring information', () => {
      const h = host();
      h.setGate(13, 0x2000);
      h.setEptPage(0x2000, 0); // the handler's page is not mapped: fetching it is an EPT violation
      h.load('mov ax, 0x13\nmov ds, ax');
      const e = h.run();
      expect(e.reason).toBe(R.EPT_VIOLATION);
      expect(e.guestPhysicalAddress).toBe(0x2000);
      expect(e.qualification & 7).toBe(4);
      expect(e.guestRip).toBe(0x2000); // the guest state is that of the handler's first instruction
    });
  });

  describe(`EPT (${engine})`, () => {
    const host = () => new VmxHost({ engine });

    test('violations for read, write and fetch with the SDM qualification', () => {
      const h = host();
      h.setEptPage(0x10000, 0); // no access
      h.setEptPage(0x11000, EPT_R); // read only
      h.setEptPage(0x12000, EPT_R | EPT_W); // no execute
      h.load('mov eax, [0x10004]');
      let e = h.run();
      expect(e.reason).toBe(R.EPT_VIOLATION);
      expect(e.qualification).toBe(1 | (0 << 3) | (1 << 7) | (1 << 8));
      expect([e.guestPhysicalAddress, e.guestLinearAddress]).toEqual([0x10004, 0x10004]);
      h.load('mov dword [0x11008], 5');
      h.vmcs.write(F.GUEST_RIP, GUEST.CODE);
      e = h.run();
      expect(e.qualification).toBe(2 | (EPT_R << 3) | (1 << 7) | (1 << 8));
      expect(e.guestPhysicalAddress).toBe(0x11008);
      h.load('jmp 0x12000');
      h.vmcs.write(F.GUEST_RIP, GUEST.CODE);
      e = h.run();
      expect(e.qualification).toBe(4 | ((EPT_R | EPT_W) << 3) | (1 << 7) | (1 << 8));
      expect(e.guestRip).toBe(0x12000);
    });

    test('a guest page-table walk through EPT reports the structure access (qualification bit 8 clear)', () => {
      const h = host();
      h.load(`
        mov eax, 0x20000
        mov dword [eax], 0x00000083
        mov dword [eax + 4], 0x00021003 ; PDE 1 -> page table at 0x21000
        mov cr3, eax
        mov eax, cr4
        or eax, 0x10
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov eax, [0x400000]`);
      h.setEptPage(0x21000, 0);
      const e = h.run();
      expect(e.reason).toBe(R.EPT_VIOLATION);
      expect(e.guestPhysicalAddress).toBe(0x21000);
      expect(e.guestLinearAddress).toBe(0x400000);
      expect(e.qualification & (1 << 8)).toBe(0);
    });

    test('misconfiguration: write permission without read', () => {
      const h = host();
      h.setEptPage(0x10000, EPT_W);
      h.load('mov eax, [0x10000]');
      const e = h.run();
      expect([e.reason, e.guestPhysicalAddress]).toEqual([R.EPT_MISCONFIG, 0x10000]);
    });

    test('accessed and dirty flags are set in the leaf entries', () => {
      const h = host();
      h.load('mov eax, [0x10000]\nmov [0x11000], eax\nhlt');
      expect(h.eptEntry(0x10000) & 0x300).toBe(0);
      h.run();
      expect(h.eptEntry(0x10000) & 0x300).toBe(0x100);
      expect(h.eptEntry(0x11000) & 0x300).toBe(0x300);
      expect(h.eptEntry(GUEST.CODE) & 0x100).toBe(0x100);
    });

    test('remapping a guest page: guest-physical addresses go where EPT says', () => {
      const h = host();
      h.setEptPage(0x10000, EPT_RWX, GUEST_BASE + 0x50000);
      h.load('mov dword [0x10000], 0xfeedface\nhlt');
      h.run();
      expect(h.readGuest32(0x50000)).toBe(0xfeedface);
      expect(h.readGuest32(0x10000)).toBe(0);
    });

    test('2 MiB EPT pages', () => {
      const h = host();
      // PD entry 1 maps guest-physical 2 MiB as one large page at host-physical 8 MiB.
      h.cpu.mem.write32(HOST.EPT_PD + 8, 0x800000 | (6 << 3) | 0x80 | EPT_RWX);
      h.load('mov dword [0x200010], 0x600d\nhlt');
      h.run();
      expect(h.cpu.mem.read32(0x800010)).toBe(0x600d);
    });

    test('an INVEPT after an EPT change is what makes it visible', () => {
      const h = host();
      h.load('mov eax, [0x10000]\nhlt');
      h.run();
      // The entry is cached; revoke read and resume: the stale translation may be used until
      // INVEPT, which is exactly what the host must do (as on hardware).
      h.cpu.mem.write32(0x10000 + GUEST_BASE, 0);
      h.cpu.mem.write32(HOST.EPT_PT + 0x10 * 8, (GUEST_BASE + 0x10000) | (6 << 3));
      expect(h.cpu.vmx.invept(2, 0n).ok).toBe(true);
      h.vmcs.write(F.GUEST_RIP, GUEST.CODE);
      expect(h.run().reason).toBe(R.EPT_VIOLATION);
    });
  });
}

describe('VPID-tagged translations', () => {
  function revokeAfterFirstRead(h: VmxHost): void {
    h.load('mov eax, [0x10000]\nhlt\nmov eax, [0x10000]\nhlt');
    h.writeGuest32(0x10000, 0x1111);
    expect(h.run().reason).toBe(R.HLT);
    h.skip(h.cpu.vmx.lastExit!);
    // Revoke the guest's access to the page in EPT, without invalidating anything.
    h.cpu.mem.write32(HOST.EPT_PT + 0x10 * 8, (GUEST_BASE + 0x10000) | (6 << 3));
  }

  test('with a VPID, a guest keeps its cached translation across exits until INVEPT', () => {
    const h = new VmxHost({ proc2: Proc2.ENABLE_VPID });
    h.vmcs.write(F.VIRTUAL_PROCESSOR_ID, 7);
    revokeAfterFirstRead(h);
    const e = h.run();
    expect(e.reason).toBe(R.HLT); // the stale, tagged translation was used
    expect(h.cpu.r[0]).toBe(0x1111);
    h.vmcs.write(F.GUEST_RIP, GUEST.CODE + 6);
    expect(h.cpu.vmx.invept(1, h.vmcs.read64(F.EPT_POINTER)).ok).toBe(true);
    expect(h.run().reason).toBe(R.EPT_VIOLATION);
  });

  test('INVVPID of the guest\'s VPID drops its translations too; without VPID every exit does', () => {
    const h = new VmxHost({ proc2: Proc2.ENABLE_VPID });
    h.vmcs.write(F.VIRTUAL_PROCESSOR_ID, 7);
    revokeAfterFirstRead(h);
    expect(h.cpu.vmx.invvpid(1, 7, 0n).ok).toBe(true);
    expect(h.run().reason).toBe(R.EPT_VIOLATION);
    const h2 = new VmxHost();
    revokeAfterFirstRead(h2);
    expect(h2.run().reason).toBe(R.EPT_VIOLATION);
  });
});

test('EPT violation qualification distinguishes execute-only pages', () => {
  const h = new VmxHost();
  h.setEptPage(0x12000, EPT_X);
  h.load('nop\nmov eax, [0x12000]', 0x12000);
  h.vmcs.write(F.GUEST_RIP, 0x12000);
  const e = h.run();
  expect(e.reason).toBe(R.EPT_VIOLATION);
  expect(e.qualification).toBe(1 | (EPT_X << 3) | (1 << 7) | (1 << 8));
  expect(e.guestRip).toBe(0x12001);
});
