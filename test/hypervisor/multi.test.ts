/**
 * Several VMs on the one CPU: fair shares charged in exact instructions (equal weights within
 * 1 %, weights within 2 %), a guest that spins with interrupts off cannot starve the others, nor
 * can one whose interrupt storm makes it exit every few instructions, memory isolation between
 * VMs and from the host, and a crashing or hostile VM stopping alone.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { assemble } from '../../assembler/index.js';
import { ExitReason } from '../../emulator/vmx/controls.js';
import { EXIT_COST, Hypervisor } from '../../hypervisor/hypervisor.js';
import type { Vm } from '../../hypervisor/vm.js';
import { KERNEL_DIR } from '../kernels/run-kernel.js';

const LIB = join(__dirname, '..', '..', 'guests', 'lib');
const MULTI = join(__dirname, 'multi');

function build(path: string, defines: Record<string, string> = {}): Uint8Array {
  return assemble(readFileSync(path, 'utf8'), { fileName: path, includePaths: [LIB, KERNEL_DIR], defines }).binary;
}

function machine(count: number, memory: number, slice: number, weights?: number[]) {
  const hv = new Hypervisor({ ramSize: count * (memory + (1 << 20)) + (8 << 20), slice });
  const out: string[] = [];
  const vms: Vm[] = [];
  for (let i = 0; i < count; i++) {
    out.push('');
    vms.push(hv.createVm({ name: `vm${i}`, memory, weight: weights?.[i], console: (b) => { out[i] += Buffer.from(b).toString('latin1'); } }));
  }
  return { hv, vms, out };
}

const executed = (hv: Hypervisor, vm: Vm) => { const v = hv.vcpuOf(vm); return v.executed + v.emulated; };

describe('scheduler', () => {
  test('four CPU-bound guests of equal weight each get a quarter, within 1 %', () => {
    const { hv, vms } = machine(4, 4 << 20, 50_000);
    const spin = build(join(MULTI, 'spin.asm'));
    for (const vm of vms) hv.bootMultiboot(vm, spin);
    expect(hv.run(20_000_000).kind).toBe('budget');
    const total = vms.reduce((n, vm) => n + executed(hv, vm), 0);
    expect(total).toBe(20_000_000);
    for (const vm of vms) expect(Math.abs(executed(hv, vm) / total - 0.25)).toBeLessThan(0.01);
    expect(hv.scheduler.switches).toBeGreaterThan(100);
  });

  test('weights 2:1:1 give shares of 50/25/25 %, within 2 %', () => {
    const { hv, vms } = machine(3, 4 << 20, 50_000, [2, 1, 1]);
    const spin = build(join(MULTI, 'spin.asm'));
    for (const vm of vms) hv.bootMultiboot(vm, spin);
    hv.run(16_000_000);
    const total = vms.reduce((n, vm) => n + executed(hv, vm), 0);
    expect(Math.abs(executed(hv, vms[0]!) / total - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(executed(hv, vms[1]!) / total - 0.25)).toBeLessThan(0.02);
    expect(Math.abs(executed(hv, vms[2]!) / total - 0.25)).toBeLessThan(0.02);
  });

  test('a guest spinning with interrupts off does not stop its neighbours; a triple fault stops only its VM', () => {
    const { hv, vms, out } = machine(3, 32 << 20, 200_000);
    hv.bootMultiboot(vms[0]!, build(join(MULTI, 'spin.asm')));
    hv.bootMultiboot(vms[1]!, build(join(KERNEL_DIR, 'triple.asm')));
    hv.bootMultiboot(vms[2]!, build(join(KERNEL_DIR, 'paging.asm')));
    hv.run(60_000_000);
    expect(vms[1]!.stop).toEqual({ kind: 'triple-fault' });
    expect(vms[2]!.stop).toEqual({ kind: 'exit', status: 1 });
    expect(out[2]).not.toContain('not ok');
    expect(out[2]).toMatch(/^1\.\.\d+$/m);
    expect(vms[0]!.stop).toBeNull(); // still spinning, and it got its share meanwhile
    expect(executed(hv, vms[0]!)).toBeGreaterThan(1_000_000);
  });

  test('a guest exiting on every few instructions (an interrupt storm) is charged for its exits: it cannot take the host from a CPU-bound neighbour', () => {
    const { hv, vms } = machine(2, 4 << 20, 20_000);
    hv.bootMultiboot(vms[0]!, build(join(__dirname, '..', '..', 'guests', 'hostile', 'storm.asm'), { STORM: '1' }));
    hv.bootMultiboot(vms[1]!, build(join(MULTI, 'spin.asm')));
    hv.run(1_000_000);
    const storm = vms[0]!, exits = storm.totalExits;
    expect(storm.exitStats.get(ExitReason.INTERRUPT_WINDOW)!.count).toBeGreaterThan(100);
    // Each exit costs EXIT_COST instructions of its slice: both VMs are charged the same, within a slice.
    const charged = (vm: Vm) => executed(hv, vm) + EXIT_COST * vm.totalExits;
    expect(Math.abs(charged(storm) - charged(vms[1]!))).toBeLessThanOrEqual(20_000 + EXIT_COST);
    expect(exits).toBeLessThan(executed(hv, vms[1]!) / EXIT_COST * 1.05);
    expect(executed(hv, vms[1]!)).toBeGreaterThan(900_000);
  });

  test('a sleeping guest\'s timer cuts a busy neighbour\'s slice short: with 10 ms slices its 20 kHz ticks still come within 1 ms', () => {
    const neighbour = build(join(__dirname, '..', '..', 'guests', 'hostile', 'neighbour.asm'));
    const alone = machine(1, 4 << 20, 1_000_000);
    alone.hv.bootMultiboot(alone.vms[0]!, neighbour);
    alone.hv.run(10_000_000);
    const { hv, vms, out } = machine(2, 4 << 20, 1_000_000);
    hv.bootMultiboot(vms[0]!, build(join(MULTI, 'spin.asm')));
    hv.bootMultiboot(vms[1]!, neighbour);
    let doneNs = NaN;
    hv.observer = (vm) => { if (vm === vms[1] && vm.stop !== null && Number.isNaN(doneNs)) doneNs = vm.now(); };
    while (vms[1]!.stop === null && hv.guestInstructions < 20_000_000) hv.run(1_000_000);
    expect(out[1]).toBe(alone.out[0]);
    // The spin's first slice (10 ms), then the neighbour's run alone, its three ticks each at most
    // 1 ms (a tenth of a slice) late.
    expect(doneNs).toBeLessThan(10e6 + alone.vms[0]!.now() + 3 * 1e6);
  });

  test('a halted guest costs nothing: the busy guest gets the CPU while it sleeps, and its timer still wakes it', () => {
    const { hv, vms, out } = machine(2, 32 << 20, 100_000);
    hv.bootMultiboot(vms[0]!, build(join(MULTI, 'sleeper.asm')));
    hv.bootMultiboot(vms[1]!, build(join(MULTI, 'spin.asm')));
    hv.run(30_000_000);
    expect(out[0]).toBe('ticks=20\n');
    expect(vms[0]!.stop).toEqual({ kind: 'exit', status: 1 });
    expect(vms[0]!.now()).toBeGreaterThanOrEqual(200e6); // 20 ticks of 10 ms of virtual time
    expect(executed(hv, vms[0]!)).toBeLessThan(100_000);
    expect(executed(hv, vms[1]!)).toBeGreaterThan(10_000_000);
  });

  test('alone, the sleeper skips its idle time: the run takes its own instructions, not 200 ms of them', () => {
    const { hv, vms } = machine(1, 32 << 20, 100_000);
    hv.bootMultiboot(vms[0]!, build(join(MULTI, 'sleeper.asm')));
    hv.run(5_000_000);
    expect(vms[0]!.stop).toEqual({ kind: 'exit', status: 1 });
    expect(hv.idleInstructions).toBeGreaterThan(19_000_000);
    expect(hv.cpu.icount).toBeLessThan(100_000);
  });
});

describe('isolation', () => {
  test('two guests writing and scanning all of their memory never see each other; reading past the end stops only that VM', () => {
    const memory = 4 << 20;
    const { hv, vms, out } = machine(2, memory, 20_000);
    const mem = hv.cpu.mem;
    const lowHash = () => createHash('sha256').update(mem.u8.subarray(0, 0x100000)).update(mem.u8.subarray(hv.frames.used, mem.ramSize)).digest('hex');
    const patterns = ['0xAAAA5555', '0x5555AAAA'];
    vms.forEach((vm, i) => hv.bootMultiboot(vm, build(join(MULTI, 'scan.asm'), {
      PATTERN: patterns[i]!, OTHER: patterns[1 - i]!, MEMORY: String(memory),
    })));
    const before = lowHash();
    hv.run(50_000_000);
    for (let i = 0; i < 2; i++) {
      expect(out[i]).toBe(`foreign=0 own=${(memory - 0x200000) / 4}\n`);
      expect(vms[i]!.stop?.kind).toBe('crash');
      expect(vms[i]!.stop).toMatchObject({ reason: expect.stringMatching(/read of guest-physical 0x400000 .*outside the VM's memory/) });
    }
    expect(lowHash()).toBe(before);
  });
});
