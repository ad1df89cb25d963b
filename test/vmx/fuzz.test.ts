/**
 * Bad input for VMX: a VMCS full of random values. 10,000 rounds, each starting from a valid VMCS
 * and replacing fields with random values (every field, a random subset, or single bit flips, so
 * the rounds reach past the first checks), then a VM entry with a small budget. Each round must
 * end in one of the SDM's outcomes (VMfailInvalid, VMfailValid with an entry error number, a VM
 * exit with a defined reason), never a JavaScript error; and host memory outside the VMCS, the
 * EPT tables and the guest's EPT map is byte-for-byte what it was before the first round.
 *
 * Fields that are host-physical pointers (I/O and MSR bitmaps, MSR lists, the EPT pointer) are
 * chosen by a hypervisor, not a guest: they keep values inside the host's VMX scratch pages, or
 * get random values that VM entry must reject or that point into the guest's own map.
 */
import { createHash } from 'node:crypto';
import { expect, test } from 'vitest';
import { EXIT_REASON_NAMES, Pin, Proc, Proc2, VmInstructionError } from '../../emulator/vmx/controls.js';
import { FIELDS, VmcsField as F } from '../../emulator/vmx/fields.js';
import { VMCS_SIZE } from '../../emulator/vmx/vmcs.js';
import { GUEST_BASE, GUEST_SIZE, HOST, RAM, VmxHost } from './harness.js';

/** xorshift32: deterministic random numbers (the same rounds every run). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

const POINTER_FIELDS = new Set<number>([
  F.IO_BITMAP_A, F.IO_BITMAP_B, F.MSR_BITMAP, F.VM_EXIT_MSR_STORE_ADDR, F.VM_EXIT_MSR_LOAD_ADDR,
  F.VM_ENTRY_MSR_LOAD_ADDR, F.EPT_POINTER,
]);
/** Host pages VM entry and exit may legitimately write (A/D flags, the VMCS, the MSR-store list). */
const WRITABLE_HOST = [
  [HOST.VMCS, HOST.VMCS + VMCS_SIZE], [HOST.EPT_PML4, HOST.EPT_PT2 + 0x1000], [HOST.MSR_BITMAP + 0x800, HOST.MSR_BITMAP + 0x1000],
] as const;

function hashHostMemory(h: VmxHost): string {
  const u8 = h.cpu.mem.u8;
  const hash = createHash('sha256');
  let at = 0;
  const excluded = [...WRITABLE_HOST, [GUEST_BASE, GUEST_BASE + GUEST_SIZE]].sort((a, b) => a[0] - b[0]);
  for (const [from, to] of excluded) { hash.update(u8.subarray(at, from)); at = to; }
  hash.update(u8.subarray(at, RAM));
  return hash.digest('hex');
}

test('10,000 random VMCSs: SDM outcomes only, host memory untouched', () => {
  const h = new VmxHost({ engine: 'blocks' });
  // Guest memory: random bytes, so whatever RIP a round picks executes something.
  const random = rng(0x7e57);
  const guest = h.cpu.mem.u8.subarray(GUEST_BASE, GUEST_BASE + GUEST_SIZE);
  for (let i = 0; i < guest.length; i += 4) {
    const v = random();
    guest[i] = v; guest[i + 1] = v >>> 8; guest[i + 2] = v >>> 16; guest[i + 3] = v >>> 24;
  }
  h.load('cpuid\nhlt');
  const template = h.cpu.mem.u8.slice(HOST.VMCS, HOST.VMCS + VMCS_SIZE);
  const eptTemplate = h.cpu.mem.u8.slice(HOST.EPT_PML4, HOST.EPT_PT2 + 0x1000);
  const before = hashHostMemory(h);
  const outcomes = new Map<string, number>();
  const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  const validErrors = new Set<number>(Object.values(VmInstructionError));

  for (let round = 0; round < 10_000; round++) {
    h.cpu.mem.u8.set(template, HOST.VMCS);
    h.cpu.mem.u8.set(eptTemplate, HOST.EPT_PML4);
    h.enterRootState();
    h.cpu.vmx.vmptrld(BigInt(HOST.VMCS));
    const mode = round % 4; // 0: every field random, 1: a few fields, 2-3: bit flips
    for (const f of FIELDS) {
      if (f.type === 'exit-info') continue;
      const pick = mode === 0 ? true : mode === 1 ? random() % 8 === 0 : random() % 24 === 0;
      if (!pick) continue;
      let v = random();
      if (mode >= 2) v = h.vmcs.read(f.encoding) ^ (1 << (random() % (f.width === 16 ? 16 : 32)));
      if (POINTER_FIELDS.has(f.encoding)) {
        // A pointer is either a random (mostly invalid) value or somewhere inside the guest map.
        v = random() % 2 ? v : GUEST_BASE + (v % GUEST_SIZE);
        // The EPT pointer is the hypervisor's root of trust: our tables (random low bits), or a
        // value VM entry must reject (reserved bit 7 set).
        if (f.encoding === F.EPT_POINTER) v = random() % 2 ? (HOST.EPT_PML4 | (v & 0xfff)) >>> 0 : (v | 0x80) >>> 0;
      }
      if (f.encoding === F.VM_EXIT_MSR_STORE_COUNT) v %= 128;
      h.vmcs.write(f.encoding, v);
      if (f.width === 64) h.vmcs.write(f.encoding + 1, random() % 4 === 0 ? random() : 0);
    }
    // Bound every round: the preemption timer ends a guest that loops. And keep EPT on: without
    // it guest-physical is host-physical, and isolation is not the processor's to give.
    h.vmcs.write(F.PIN_BASED_VM_EXEC_CONTROL, h.vmcs.read(F.PIN_BASED_VM_EXEC_CONTROL) | Pin.PREEMPTION_TIMER);
    h.vmcs.write(F.CPU_BASED_VM_EXEC_CONTROL, h.vmcs.read(F.CPU_BASED_VM_EXEC_CONTROL) | Proc.ACTIVATE_SECONDARY_CONTROLS);
    h.vmcs.write(F.SECONDARY_VM_EXEC_CONTROL, h.vmcs.read(F.SECONDARY_VM_EXEC_CONTROL) | Proc2.ENABLE_EPT);
    h.vmcs.write(F.VMX_PREEMPTION_TIMER_VALUE, random() % 64);
    h.vmcs.write(F.VM_EXIT_MSR_STORE_ADDR, HOST.MSR_BITMAP + 0x800); // the one list exits write
    const launch = random() % 8 !== 0;
    let r = h.cpu.vmx.enter(launch, 20_000);
    if ((r.kind === 'halted' || r.kind === 'budget') && h.cpu.vmx.nonRoot) {
      // Halted in non-root operation: time passes until the preemption timer fires.
      h.cpu.tscOffset += BigInt(Math.max(0, h.cpu.vmx.timerDeadline - h.cpu.icount - Number(h.cpu.tscOffset)) + 1);
      h.cpu.vmx.stopOnExit = true;
      h.cpu.run(10);
      h.cpu.vmx.stopOnExit = false;
      if (!h.cpu.vmx.nonRoot) r = { kind: 'exit', exit: h.cpu.vmx.lastExit! };
    }
    if (r.kind === 'fail') {
      if (r.status.ok) throw new Error('fail with ok status');
      if (!r.status.invalid) expect(validErrors.has(r.status.error)).toBe(true);
      count(r.status.invalid ? 'VMfailInvalid' : `VMfailValid(${r.status.error})`);
    } else if (r.kind === 'exit') {
      expect(EXIT_REASON_NAMES.has(r.exit.reason)).toBe(true);
      count(`exit ${EXIT_REASON_NAMES.get(r.exit.reason)}${r.exit.entryFailure ? ' (entry failure)' : ''}`);
    } else {
      count(r.kind);
    }
    expect(h.cpu.vmx.nonRoot).toBe(false);
  }
  expect(hashHostMemory(h)).toBe(before);
  // The rounds must reach every stage: control and host-state failures, guest-state failures and
  // real guest execution ending in exits.
  const keys = [...outcomes.keys()].join(' | ');
  expect(keys).toContain('VMfailValid(7)');
  expect(keys).toContain('VMfailValid(8)');
  expect(keys).toContain('INVALID_GUEST_STATE (entry failure)');
  expect(keys).toMatch(/exit (CPUID|EXCEPTION_NMI|PREEMPTION_TIMER|EPT_VIOLATION|TRIPLE_FAULT)\b/);
  expect(outcomes.get('budget') ?? 0).toBe(0);
});
