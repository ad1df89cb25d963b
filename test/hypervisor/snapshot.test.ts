/**
 * Snapshots: a guest snapshotted mid-run and restored into a fresh hypervisor finishes exactly as
 * an uninterrupted run does (console, final registers, a hash of guest memory, instruction count),
 * for the FV and the PV kernel (PIT, PIC, UART, HLT and idle time; PV timer and events). Bad
 * snapshot files are refused with the reason.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { parseSnapshot, restoreVm, rollbackVm, snapshotVm, SnapshotError } from '../../hypervisor/snapshot.js';
import type { Vm } from '../../hypervisor/vm.js';

const ROOT = join(__dirname, '..', '..');
const KERNEL = join(ROOT, 'guests', 'kernel', 'kernel.asm');
const MEMORY = 16 << 20;

function image(pv: boolean): Uint8Array {
  return assemble(readFileSync(KERNEL, 'utf8'), { fileName: KERNEL, includePaths: [join(ROOT, 'guests', 'lib')], defines: pv ? { PV: '1' } : {} }).binary;
}

function fresh() {
  const hv = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
  const out = { text: '' };
  return { hv, out, console: (b: Uint8Array) => { out.text += Buffer.from(b).toString('latin1'); } };
}

function finalState(hv: Hypervisor, vm: Vm) {
  const v = hv.vcpuOf(vm);
  return {
    stop: vm.stop,
    regs: [...v.regs],
    rip: v.vmcs.read(F.GUEST_RIP), rflags: v.vmcs.read(F.GUEST_RFLAGS), cr3: v.vmcs.read(F.GUEST_CR3),
    instructions: v.executed + v.emulated,
    memory: createHash('sha256').update(vm.ram.view()).digest('hex'),
  };
}

describe('snapshot and restore', () => {
  for (const pv of [false, true]) {
    test(`the ${pv ? 'PV' : 'FV'} kernel, snapshotted mid-run and restored elsewhere, ends exactly as an uninterrupted run`, () => {
      const bytes = image(pv);
      const a = fresh();
      const vmA = a.hv.createVm({ name: 'kernel', memory: MEMORY, console: a.console });
      a.hv.bootMultiboot(vmA, bytes);
      a.hv.run(50_000_000);
      expect(vmA.stop).toEqual({ kind: 'exit', status: 1 });
      const whole = finalState(a.hv, vmA);

      const b = fresh();
      const vmB = b.hv.createVm({ name: 'kernel', memory: MEMORY, console: b.console });
      b.hv.bootMultiboot(vmB, bytes);
      b.hv.run(3_000_000);
      expect(vmB.stop).toBeNull();
      const file = snapshotVm(b.hv, vmB);
      expect(file.length).toBeLessThan(MEMORY / 8); // zero pages cost nothing

      const c = fresh();
      c.hv.idleInstructions = 12_345; // another host, at another time
      const vmC = restoreVm(c.hv, parseSnapshot(file), c.console);
      c.hv.run(50_000_000);
      expect(b.out.text + c.out.text).toBe(a.out.text);
      expect(finalState(c.hv, vmC)).toEqual(whole);
    });
  }

  test('a running VM rolled back in place to its own snapshot lives the same history again', () => {
    // Regression: translations the TLB cached under the VM's VPID after the snapshot described
    // page tables the rolled-back guest no longer had, and the second history diverged.
    const a = fresh();
    const vm = a.hv.createVm({ name: 'kernel', memory: MEMORY, console: a.console });
    a.hv.bootMultiboot(vm, image(false));
    a.hv.run(1_000_000);
    const file = parseSnapshot(snapshotVm(a.hv, vm));
    a.hv.run(100_000);
    const first = finalState(a.hv, vm), printed = a.out.text;
    rollbackVm(a.hv, vm, file);
    expect(finalState(a.hv, vm).instructions).toBe(1_000_000);
    a.hv.run(100_000);
    expect(finalState(a.hv, vm)).toEqual(first);
    expect(a.out.text.length).toBeGreaterThanOrEqual(printed.length);
  });

  test('corrupted, truncated and version-mismatched snapshots are refused with the reason', () => {
    const b = fresh();
    const vm = b.hv.createVm({ name: 'kernel', memory: MEMORY });
    b.hv.bootMultiboot(vm, image(false));
    b.hv.run(100_000);
    const file = snapshotVm(b.hv, vm);
    const refuse = (text: string, why: RegExp) => {
      expect(() => parseSnapshot(text)).toThrow(SnapshotError);
      expect(() => parseSnapshot(text)).toThrow(why);
    };
    refuse(file.slice(0, file.length / 2), /not JSON: truncated/);
    refuse('{"format":"something-else"}', /format/);
    refuse(file.replace('"version":1', '"version":2'), /version 2 is not supported/);
    const j = JSON.parse(file);
    j.body.vm.vcpu.registers.eax ^= 1;
    refuse(JSON.stringify(j), /checksum mismatch/);
    const k = JSON.parse(file);
    delete k.body.vm.vcpu.vmcs.GUEST_RIP;
    k.checksum = createHash('sha256').update(JSON.stringify(k.body)).digest('hex');
    refuse(JSON.stringify(k), /VMCS field GUEST_RIP missing/);
    // Memory that does not fit the VM: refused before any VM is created.
    const m = JSON.parse(file);
    m.body.memory.pages[0] = 1 << 30;
    m.checksum = createHash('sha256').update(JSON.stringify(m.body)).digest('hex');
    const c = fresh();
    expect(() => restoreVm(c.hv, parseSnapshot(JSON.stringify(m)))).toThrow(/outside/);
    expect(c.hv.vms.length).toBe(0);
  });
});
