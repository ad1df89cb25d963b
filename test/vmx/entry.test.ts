/**
 * VM entry: every check the processor makes, broken one at a time, with the failure the SDM
 * prescribes (Vol. 3C chapter 27): VMfailValid(7) for controls, VMfailValid(8) for host state,
 * a VM-entry failure exit (reason 33, bit 31 set) for guest state, reason 34 for MSR loading.
 * Also the VMX instructions' own VMfail cases, through the TypeScript API and as x86 code.
 */
import { describe, expect, test } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { CAPABILITY, ExitReason as R, Pin, Proc, Proc2, VmInstructionError as E } from '../../emulator/vmx/controls.js';
import { EntryCheck, VmcsField as F } from '../../emulator/vmx/fields.js';
import type { EnterResult } from '../../emulator/vmx/vmx.js';
import { HOST, hostException, VmxHost } from './harness.js';

type Expect = { fail: number } | { exit: number; qualification?: number };

const OR = (field: number, bits: number) => (h: VmxHost) => h.vmcs.write(field, h.vmcs.read(field) | bits);
const SET = (field: number, value: number) => (h: VmxHost) => h.vmcs.write(field, value);
const AND = (field: number, bits: number) => (h: VmxHost) => h.vmcs.write(field, h.vmcs.read(field) & bits);

const CHECKS: [string, (h: VmxHost) => void, Expect][] = [
  // --- controls (SDM 27.2.1): VMfailValid(7)
  ['pin-based control outside the allowed-1 settings', OR(F.PIN_BASED_VM_EXEC_CONTROL, 1 << 1 << 30), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['pin-based default-1 bit cleared', AND(F.PIN_BASED_VM_EXEC_CONTROL, ~CAPABILITY.pin.must1), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['primary control default-1 bit cleared', AND(F.CPU_BASED_VM_EXEC_CONTROL, ~(1 << 1)), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['secondary control not supported', OR(F.SECONDARY_VM_EXEC_CONTROL, 1 << 20), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['VM-exit control not supported (host address-space size)', OR(F.VM_EXIT_CONTROLS, 1 << 9), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['VM-entry control not supported (IA-32e mode guest)', OR(F.VM_ENTRY_CONTROLS, 1 << 9), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['CR3-target count above 4', SET(F.CR3_TARGET_COUNT, 5), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['I/O bitmap A not page aligned', (h) => { OR(F.CPU_BASED_VM_EXEC_CONTROL, Proc.USE_IO_BITMAPS)(h); SET(F.IO_BITMAP_A, HOST.IO_A + 8)(h); }, { fail: E.ENTRY_INVALID_CONTROLS }],
  ['MSR bitmap not page aligned', (h) => { OR(F.CPU_BASED_VM_EXEC_CONTROL, Proc.USE_MSR_BITMAPS)(h); SET(F.MSR_BITMAP, HOST.MSR_BITMAP + 4)(h); }, { fail: E.ENTRY_INVALID_CONTROLS }],
  ['virtual NMIs without NMI exiting', OR(F.PIN_BASED_VM_EXEC_CONTROL, Pin.VIRTUAL_NMIS), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['NMI-window exiting without virtual NMIs', OR(F.CPU_BASED_VM_EXEC_CONTROL, Proc.NMI_WINDOW_EXITING), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['EPT pointer with page-walk length 3', SET(F.EPT_POINTER, HOST.EPT_PML4 | 6 | (2 << 3)), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['EPT pointer with memory type 1', SET(F.EPT_POINTER, HOST.EPT_PML4 | 1 | (3 << 3)), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['unrestricted guest without EPT', AND(F.SECONDARY_VM_EXEC_CONTROL, ~Proc2.ENABLE_EPT), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['VPID enabled with VPID 0', OR(F.SECONDARY_VM_EXEC_CONTROL, Proc2.ENABLE_VPID), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['save preemption timer without the timer', OR(F.VM_EXIT_CONTROLS, 1 << 22), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['MSR-load list not 16-byte aligned', (h) => { SET(F.VM_ENTRY_MSR_LOAD_COUNT, 1)(h); SET(F.VM_ENTRY_MSR_LOAD_ADDR, 0x7008)(h); }, { fail: E.ENTRY_INVALID_CONTROLS }],
  ['injection of reserved event type 1', SET(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000100), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['NMI injection with vector 3', SET(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000203), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['hardware exception with vector 32', SET(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000320), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['error code for #UD', SET(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000b06), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['software interrupt with instruction length 0', SET(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000480), { fail: E.ENTRY_INVALID_CONTROLS }],
  ['reserved bits in the injection field', SET(F.VM_ENTRY_INTR_INFO_FIELD, 0x80010030), { fail: E.ENTRY_INVALID_CONTROLS }],
  // --- host state (SDM 27.2.2): VMfailValid(8)
  ['HOST_CR0 without PG', AND(F.HOST_CR0, 0x7fffffff), { fail: E.ENTRY_INVALID_HOST_STATE }],
  ['HOST_CR0 without NE', AND(F.HOST_CR0, ~0x20), { fail: E.ENTRY_INVALID_HOST_STATE }],
  ['HOST_CR4 without VMXE', AND(F.HOST_CR4, ~0x2000), { fail: E.ENTRY_INVALID_HOST_STATE }],
  ['HOST_CR4 with an unsupported bit (PAE)', OR(F.HOST_CR4, 0x20), { fail: E.ENTRY_INVALID_HOST_STATE }],
  ['host CS selector null', SET(F.HOST_CS_SELECTOR, 0), { fail: E.ENTRY_INVALID_HOST_STATE }],
  ['host TR selector null', SET(F.HOST_TR_SELECTOR, 0), { fail: E.ENTRY_INVALID_HOST_STATE }],
  ['host SS selector null', SET(F.HOST_SS_SELECTOR, 0), { fail: E.ENTRY_INVALID_HOST_STATE }],
  ['host DS selector with RPL 3', SET(F.HOST_DS_SELECTOR, 0x13), { fail: E.ENTRY_INVALID_HOST_STATE }],
  ['host ES selector with TI set', SET(F.HOST_ES_SELECTOR, 0x14), { fail: E.ENTRY_INVALID_HOST_STATE }],
  // --- guest state (SDM 27.3.1): VM-entry failure, exit reason 33
  ['GUEST_CR0 without NE', AND(F.GUEST_CR0, ~0x20), { exit: R.INVALID_GUEST_STATE }],
  ['GUEST_CR0 with PG but not PE', SET(F.GUEST_CR0, 0x80000030), { exit: R.INVALID_GUEST_STATE }],
  ['GUEST_CR0 without PE and no unrestricted guest', (h) => { AND(F.SECONDARY_VM_EXEC_CONTROL, ~Proc2.UNRESTRICTED_GUEST)(h); SET(F.GUEST_CR0, 0x80000031)(h); AND(F.GUEST_CR0, ~1)(h); }, { exit: R.INVALID_GUEST_STATE }],
  ['GUEST_CR4 without VMXE', SET(F.GUEST_CR4, 0), { exit: R.INVALID_GUEST_STATE }],
  ['GUEST_RFLAGS bit 1 clear', SET(F.GUEST_RFLAGS, 0), { exit: R.INVALID_GUEST_STATE }],
  ['GUEST_RFLAGS reserved bit 3 set', SET(F.GUEST_RFLAGS, 0xa), { exit: R.INVALID_GUEST_STATE }],
  ['external-interrupt injection with IF = 0', SET(F.VM_ENTRY_INTR_INFO_FIELD, 0x80000030), { exit: R.INVALID_GUEST_STATE }],
  ['CS type is a read-only data segment', SET(F.GUEST_CS_AR_BYTES, 0xc091), { exit: R.INVALID_GUEST_STATE }],
  ['CS not present', SET(F.GUEST_CS_AR_BYTES, 0xc01b), { exit: R.INVALID_GUEST_STATE }],
  ['CS limit with G = 1 and low bits not all ones', SET(F.GUEST_CS_LIMIT, 0xfffff000), { exit: R.INVALID_GUEST_STATE }],
  ['CS limit above 1 MiB with G = 0', SET(F.GUEST_CS_AR_BYTES, 0x409b), { exit: R.INVALID_GUEST_STATE }],
  ['non-conforming CS DPL differs from SS DPL', SET(F.GUEST_CS_AR_BYTES, 0xc0fb), { exit: R.INVALID_GUEST_STATE }],
  ['SS is a read-only data segment', SET(F.GUEST_SS_AR_BYTES, 0xc091), { exit: R.INVALID_GUEST_STATE }],
  ['DS not accessed', SET(F.GUEST_DS_AR_BYTES, 0xc092), { exit: R.INVALID_GUEST_STATE }],
  ['ES execute-only code', SET(F.GUEST_ES_AR_BYTES, 0xc099), { exit: R.INVALID_GUEST_STATE }],
  ['FS reserved access-rights bits', SET(F.GUEST_FS_AR_BYTES, 0xc193), { exit: R.INVALID_GUEST_STATE }],
  ['TR not a busy TSS', SET(F.GUEST_TR_AR_BYTES, 0x89), { exit: R.INVALID_GUEST_STATE }],
  ['TR unusable', SET(F.GUEST_TR_AR_BYTES, 0x1008b), { exit: R.INVALID_GUEST_STATE }],
  ['TR selector with TI set', SET(F.GUEST_TR_SELECTOR, 0x1c), { exit: R.INVALID_GUEST_STATE }],
  ['LDTR usable with a wrong type', SET(F.GUEST_LDTR_AR_BYTES, 0x83), { exit: R.INVALID_GUEST_STATE }],
  ['GDTR limit above 0xFFFF', SET(F.GUEST_GDTR_LIMIT, 0x10000), { exit: R.INVALID_GUEST_STATE }],
  ['activity state 2 (shutdown) not supported', SET(F.GUEST_ACTIVITY_STATE, 2), { exit: R.INVALID_GUEST_STATE }],
  ['blocking by STI and MOV SS at once', (h) => { SET(F.GUEST_RFLAGS, 0x202)(h); SET(F.GUEST_INTERRUPTIBILITY_INFO, 3)(h); }, { exit: R.INVALID_GUEST_STATE }],
  ['blocking by STI with IF = 0', SET(F.GUEST_INTERRUPTIBILITY_INFO, 1), { exit: R.INVALID_GUEST_STATE }],
  ['VMCS link pointer not all ones', SET(F.VMCS_LINK_POINTER, 0), { exit: R.INVALID_GUEST_STATE }],
  ['reserved bits in pending debug exceptions', SET(F.GUEST_PENDING_DBG_EXCEPTIONS, 0x10), { exit: R.INVALID_GUEST_STATE }],
  // --- MSR loading (SDM 27.4): exit reason 34, qualification = the failing entry (1-based)
  ['VM-entry MSR-load list with an unknown MSR', (h) => {
    h.cpu.mem.write32(0x7100, 0x174); h.cpu.mem.write32(0x7108, 0x8);
    h.cpu.mem.write32(0x7110, 0xdeadbeef); h.cpu.mem.write32(0x7118, 1);
    SET(F.VM_ENTRY_MSR_LOAD_COUNT, 2)(h); SET(F.VM_ENTRY_MSR_LOAD_ADDR, 0x7100)(h);
  }, { exit: R.MSR_LOADING, qualification: 2 }],
];

describe('VM-entry checks, each broken once', () => {
  test('the unbroken state enters', () => {
    const h = new VmxHost();
    h.load('hlt');
    expect(h.run().reason).toBe(R.HLT);
  });
  const expectFailure = (h: VmxHost, r: EnterResult, expected: Expect, launchState: number): void => {
    if ('fail' in expected) {
      expect(r).toEqual({ kind: 'fail', status: { ok: false, invalid: false, error: expected.fail } });
      expect(h.vmcs.read(F.VM_INSTRUCTION_ERROR)).toBe(expected.fail);
      expect(h.cpu.vmx.nonRoot).toBe(false);
      expect(h.vmcs.launchState).toBe(launchState); // a failed VMLAUNCH launches nothing
    } else {
      expect(r.kind).toBe('exit');
      if (r.kind !== 'exit') return;
      expect(r.exit.reason).toBe(expected.exit);
      expect(r.exit.entryFailure).toBe(true);
      expect(h.vmcs.read(F.VM_EXIT_REASON) >>> 0).toBe((0x80000000 | expected.exit) >>> 0);
      if (expected.qualification !== undefined) expect(r.exit.qualification).toBe(expected.qualification);
      expect(h.cpu.eip).toBe(HOST.CODE); // host state loaded: execution continues at HOST_RIP
      expect(h.cpu.vmx.nonRoot).toBe(false);
    }
    expect(h.cpu.vmx.lastFailureDetail).not.toBe('');
  };
  for (const [what, breakIt, expected] of CHECKS) {
    test(what, () => {
      const h = new VmxHost();
      h.load('hlt');
      breakIt(h);
      expectFailure(h, h.enter(), expected, 0);
    });
  }
  // Checks that passed are not repeated while nothing they read changes (fields.ts, EntryCheck):
  // breaking one with a VMWRITE after a successful entry must make the next entry fail the same way.
  test.each(CHECKS)('%s, after a successful entry (cached checks)', (_what, breakIt, expected) => {
    const h = new VmxHost();
    h.load('cpuid\nhlt');
    const first = h.run();
    expect(first.reason).toBe(R.CPUID);
    // All three groups verified, so each broken check below is found only through the write
    // that invalidated its group, not because its group was being checked anyway.
    const all = EntryCheck.CONTROLS | EntryCheck.HOST | EntryCheck.GUEST;
    expect(h.vmcs.verifiedChecks & all).toBe(all);
    h.skip(first);
    breakIt(h);
    expectFailure(h, h.enter(), expected, 1);
  });
  test('a VM exit that changes checked guest state has it checked again', () => {
    const h = new VmxHost();
    // CR4.PSE is the guest's (not in the CR4 guest/host mask): the exit saves the new CR4.
    h.load('cpuid\ncpuid\nmov eax, cr4\nor eax, 0x10\nmov cr4, eax\ncpuid\nhlt');
    h.skip(h.run()); // the first exit may normalize what the harness wrote (access rights...)
    h.skip(h.run());
    expect(h.vmcs.verifiedChecks & EntryCheck.GUEST).toBe(EntryCheck.GUEST); // nothing checked changed
    const again = h.run();
    expect(again.reason).toBe(R.CPUID);
    expect(h.vmcs.read(F.GUEST_CR4) & 0x10).toBe(0x10);
    expect(h.vmcs.verifiedChecks & EntryCheck.GUEST).toBe(0);
    h.skip(again);
    expect(h.run().reason).toBe(R.HLT);
    expect(h.vmcs.verifiedChecks & EntryCheck.GUEST).toBe(EntryCheck.GUEST);
  });
  test('VMWRITE of the value a field already holds keeps the checks reading it verified', () => {
    const h = new VmxHost();
    h.load('cpuid\nhlt');
    h.skip(h.run());
    const all = EntryCheck.CONTROLS | EntryCheck.HOST | EntryCheck.GUEST;
    expect(h.vmcs.verifiedChecks & all).toBe(all);
    const proc = h.vmcs.read(F.CPU_BASED_VM_EXEC_CONTROL);
    expect(h.cpu.vmx.vmwrite(F.CPU_BASED_VM_EXEC_CONTROL, proc)).toEqual({ ok: true });
    h.vmcs.write64(F.VMCS_LINK_POINTER, 0xffffffffffffffffn);
    expect(h.vmcs.verifiedChecks & all).toBe(all);
    expect(h.cpu.vmx.vmwrite(F.CPU_BASED_VM_EXEC_CONTROL, proc ^ Proc.HLT_EXITING)).toEqual({ ok: true });
    expect(h.vmcs.verifiedChecks & all).toBe(EntryCheck.HOST); // the primary controls are read by both other groups
  });
});

describe('VMX instructions through the TypeScript API', () => {
  test('VMLAUNCH of a launched VMCS fails with 4; VMRESUME of a clear one with 5', () => {
    const h = new VmxHost();
    h.load('hlt\nhlt');
    expect(h.run().reason).toBe(R.HLT);
    expect(h.cpu.vmx.enter(true)).toEqual({ kind: 'fail', status: { ok: false, invalid: false, error: E.VMLAUNCH_NON_CLEAR } });
    expect(h.cpu.vmx.vmclear(BigInt(HOST.VMCS)).ok).toBe(true);
    expect(h.cpu.vmx.currentVmcs).toBe(-1); // VMCLEAR of the current VMCS makes it invalid
    expect(h.cpu.vmx.enter(false)).toEqual({ kind: 'fail', status: { ok: false, invalid: true } });
    h.cpu.vmx.vmptrld(BigInt(HOST.VMCS));
    expect(h.cpu.vmx.enter(false)).toEqual({ kind: 'fail', status: { ok: false, invalid: false, error: E.VMRESUME_NON_LAUNCHED } });
  });

  test('VMWRITE: unsupported component (12), read-only field (13); VMREAD widths', () => {
    const h = new VmxHost();
    const vmx = h.cpu.vmx;
    expect(vmx.vmwrite(0x7777, 1)).toEqual({ ok: false, invalid: false, error: E.UNSUPPORTED_COMPONENT });
    expect(vmx.vmwrite(F.VM_EXIT_REASON, 1)).toEqual({ ok: false, invalid: false, error: E.VMWRITE_READ_ONLY });
    expect(vmx.vmwrite(F.GUEST_CS_SELECTOR, 0x12345)).toEqual({ ok: true });
    expect(vmx.vmread(F.GUEST_CS_SELECTOR)).toBe(0x2345); // 16-bit field truncates
    expect(vmx.vmwrite(F.TSC_OFFSET + 1, 0xabc)).toEqual({ ok: true }); // the high half of a 64-bit field
    expect(h.vmcs.read64(F.TSC_OFFSET)).toBe(0xabc_0000_0000n);
    expect(vmx.vmread(F.GUEST_CS_SELECTOR + 1)).toBeNull(); // "high" access to a 16-bit field
    expect(h.vmcs.read(F.VM_INSTRUCTION_ERROR)).toBe(E.UNSUPPORTED_COMPONENT);
  });

  test('VMXON in root operation (15), VMPTRLD of the VMXON region (10), bad revision (11), VMCLEAR unaligned (2)', () => {
    const h = new VmxHost();
    const vmx = h.cpu.vmx;
    expect(vmx.vmxon(BigInt(HOST.VMXON))).toEqual({ ok: false, invalid: false, error: E.VMXON_IN_ROOT });
    expect(vmx.vmptrld(BigInt(HOST.VMXON))).toEqual({ ok: false, invalid: false, error: E.VMPTRLD_VMXON_POINTER });
    expect(vmx.vmptrld(0x9000n)).toEqual({ ok: false, invalid: false, error: E.VMPTRLD_WRONG_REVISION });
    expect(vmx.vmclear(0x9008n)).toEqual({ ok: false, invalid: false, error: E.VMCLEAR_INVALID_ADDRESS });
    expect(vmx.vmclear(BigInt(HOST.VMXON))).toEqual({ ok: false, invalid: false, error: E.VMCLEAR_VMXON_POINTER });
  });

  test('VM entry right after MOV SS fails with 26', () => {
    const h = new VmxHost();
    h.load('hlt');
    h.cpu.interruptShadow = true;
    h.cpu.movSsShadow = true;
    expect(h.enter()).toEqual({ kind: 'fail', status: { ok: false, invalid: false, error: E.ENTRY_EVENTS_BLOCKED_BY_MOV_SS } });
  });

  test('INVEPT and INVVPID reject unsupported types (28)', () => {
    const h = new VmxHost();
    expect(h.cpu.vmx.invept(3, 0n)).toEqual({ ok: false, invalid: false, error: E.INVALID_INVEPT_INVVPID_OPERAND });
    expect(h.cpu.vmx.invvpid(1, 0, 0n)).toEqual({ ok: false, invalid: false, error: E.INVALID_INVEPT_INVVPID_OPERAND });
    expect(h.cpu.vmx.invvpid(2, 0, 0n)).toEqual({ ok: true });
  });

  test('the capability MSRs are readable and read-only', () => {
    const h = new VmxHost();
    const c = h.cpu;
    h.cpu.mem.u8.set(assemble(`bits 32\norg ${HOST.CODE}\nmov ecx, 0x480\nrdmsr\nmov esi, eax\nmov edi, edx\nmov ecx, 0x48b\nrdmsr\nhlt`, { fileName: 't.asm' }).binary, HOST.CODE);
    c.flushDecodeCache();
    c.run(100);
    expect(c.r[6]! >>> 0).toBe(0x54565831 & 0x7fffffff); // IA32_VMX_BASIC revision
    expect(c.r[7]! & 0x1fff).toBe(4096); // VMCS size
    expect(c.r[2]! & (Proc2.ENABLE_EPT | Proc2.UNRESTRICTED_GUEST)).toBe(Proc2.ENABLE_EPT | Proc2.UNRESTRICTED_GUEST);
  });
});

describe('VMX instructions as x86 code in root mode', () => {
  /** Runs host code at HOST.CODE + 0x100 until HLT; returns EFLAGS and the registers. */
  function host(source: string, setup?: (h: VmxHost) => void) {
    const h = new VmxHost();
    setup?.(h);
    const at = HOST.CODE + 0x100;
    h.cpu.mem.u8.set(assemble(`bits 32\norg ${at}\n${source}\nhlt`, { fileName: 'host.asm' }).binary, at);
    h.cpu.flushDecodeCache();
    h.cpu.eip = at;
    const stop = h.cpu.run(10_000);
    return { h, stop, flags: h.cpu.eflags, r: h.cpu.r };
  }

  test('VMREAD/VMWRITE with register and memory operands, VMsucceed clears CF and ZF', () => {
    const { h, flags, r } = host(`
      stc
      mov eax, 0x681e            ; GUEST_RIP
      mov ebx, 0x4321
      vmwrite eax, ebx
      vmread ecx, eax
      mov dword [0x9000], 0x5000
      mov edx, 0x681c            ; GUEST_RSP
      vmwrite edx, [0x9000]
      vmread [0x9004], edx`);
    expect(flags & 0x41).toBe(0);
    expect(r[1]).toBe(0x4321);
    expect(h.vmcs.read(F.GUEST_RSP)).toBe(0x5000);
    expect(h.cpu.mem.read32(0x9004)).toBe(0x5000);
  });

  test('VMfailValid sets ZF and the error field; VMfailInvalid sets CF', () => {
    const r1 = host('mov eax, 0x4402\nvmwrite eax, ebx');
    expect(r1.flags & 0x41).toBe(0x40);
    expect(r1.h.vmcs.read(F.VM_INSTRUCTION_ERROR)).toBe(E.VMWRITE_READ_ONLY);
    const r2 = host('mov dword [0x9000], 0x4000\nmov dword [0x9004], 0\nvmclear [0x9000]\nvmread eax, ebx');
    expect(r2.flags & 0x41).toBe(0x01); // no current VMCS after VMCLEAR
    const r3 = host('vmcall');
    expect(r3.flags & 0x41).toBe(0x40);
    expect(r3.h.vmcs.read(F.VM_INSTRUCTION_ERROR)).toBe(E.VMCALL_IN_ROOT);
  });

  test('VMPTRST stores the current-VMCS pointer', () => {
    const { h } = host('vmptrst [0x9000]');
    expect(h.cpu.mem.read32(0x9000)).toBe(HOST.VMCS);
    expect(h.cpu.mem.read32(0x9004)).toBe(0);
  });

  test('VMLAUNCH from x86 code enters the guest; its exit resumes the host at HOST_RIP', () => {
    const { h } = host('vmlaunch\nmov eax, 0xbad', (h) => {
      h.load('mov ebx, 0x600d\ncpuid');
      h.vmcs.write(F.HOST_RIP, HOST.CODE + 0x80);
      h.cpu.mem.u8.set([0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4], HOST.CODE + 0x80); // mov eax, 1; hlt
    });
    expect(h.cpu.vmx.lastExit?.reason).toBe(R.CPUID);
    expect(h.cpu.r[3]).toBe(0x600d); // the guest's EBX survives the exit
    expect(h.cpu.r[0]).toBe(1); // and the host continued at HOST_RIP
    expect(h.cpu.eip).toBe(HOST.CODE + 0x86);
  });

  test('#UD for VMREAD outside VMX operation and for VMXON without CR4.VMXE', () => {
    const r1 = host('vmxoff\nvmread eax, ebx');
    expect(r1.h.cpu.vmx.inVmxOperation).toBe(false);
    expect(hostException(r1.h)).toBe(6);
    const r2 = host('vmxoff\nmov eax, cr4\nand eax, ~0x2000\nmov cr4, eax\nvmxon [0x9000]');
    expect(hostException(r2.h)).toBe(6);
  });

  test('#GP(0) for VMXON with CR0.NE clear, for VMREAD at CPL 3, and for clearing CR4.VMXE in VMX operation', () => {
    const r1 = host('vmxoff\nmov eax, cr0\nand eax, ~0x20\nmov cr0, eax\nvmxon [0x9000]');
    expect(hostException(r1.h)).toBe(13);
    const r2 = host('mov eax, cr4\nand eax, ~0x2000\nmov cr4, eax');
    expect(hostException(r2.h)).toBe(13);
    const r3 = host('mov eax, cr0\nand eax, ~0x80000000\nmov cr0, eax');
    expect(hostException(r3.h)).toBe(13); // PG is fixed to 1 in VMX operation
    const r4 = host('vmread eax, ebx', (h) => { h.cpu.cpl = 3; });
    expect(hostException(r4.h)).toBe(13);
  });

  test('VMXON from x86 code: VMfailInvalid for a bad revision, then VMsucceed', () => {
    const { h, flags } = host(`
      vmxoff
      mov dword [0x9000], 0x3000
      mov dword [0x9004], 0
      mov dword [0x3000], 0x1234
      vmxon [0x9000]
      pushfd
      pop esi
      mov dword [0x3000], 0x${(0x54565831 & 0x7fffffff).toString(16)}
      vmxon [0x9000]`);
    expect(h.cpu.r[6]! & 0x41).toBe(0x01);
    expect(flags & 0x41).toBe(0);
    expect(h.cpu.vmx.inVmxOperation).toBe(true);
    expect(hostException(h)).toBeNull();
  });
});
