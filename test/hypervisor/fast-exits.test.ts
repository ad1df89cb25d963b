/**
 * The exit fast path (Hypervisor `fastExits`, Vmx.fastExit): exits completed with the guest still
 * on the processor (CPUID, IN/OUT, VMCALL, some RDMSR/WRMSR) must change nothing but the speed. The same guests run with it and
 * without it, and everything is required to be identical: console output, why each VM stopped,
 * exit counts, instruction counts and clocks, and the whole saved VM state (every VMCS field,
 * registers, devices, scheduler) at every point a run with a small budget stops at.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ExitReason } from '../../emulator/vmx/controls.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import { FastExit } from '../../emulator/vmx/vmx.js';
import { Hypervisor } from '../../hypervisor/hypervisor.js';
import { saveVmState } from '../../hypervisor/snapshot.js';
import type { Vm } from '../../hypervisor/vm.js';
import { buildKernel } from '../kernels/run-kernel.js';

const STORM = buildKernel(join(__dirname, 'guests', 'exit-storm.asm')).binary;

interface Setup { fast: boolean; vms: number; slice?: number }

function boot(o: Setup): { hv: Hypervisor; vms: Vm[]; out: string[]; answers: Set<string> } {
  const hv = new Hypervisor({ ramSize: o.vms * (4 << 20) + (8 << 20), fastExits: o.fast, slice: o.slice });
  const out: string[] = [];
  const vms: Vm[] = [];
  for (let i = 0; i < o.vms; i++) {
    out.push('');
    const vm = hv.createVm({ name: `storm${i}`, memory: 4 << 20, weight: i + 1, console: (b) => { out[i] += Buffer.from(b).toString('latin1'); } });
    hv.bootMultiboot(vm, STORM);
    vms.push(vm);
  }
  // What the fast path answered, to show that each of its ways was taken.
  const answers = new Set<string>();
  const inner = hv.cpu.vmx.fastExit;
  if (inner !== null) {
    hv.cpu.vmx.fastExit = (reason, qualification, length) => {
      const a = inner(reason, qualification, length);
      answers.add(a === FastExit.DECLINED ? 'declined' : a === FastExit.EXIT_AFTER ? 'exit-after' : 'resumed');
      return a;
    };
  }
  return { hv, vms, out, answers };
}

/** Everything about a VM: its saved state (VMCS, registers, devices, scheduler) and memory. */
function stateOf(hv: Hypervisor, vm: Vm): string {
  const exits = [...vm.exitStats].map(([reason, s]) => [reason, s.count]).sort((a, b) => a[0]! - b[0]!);
  return JSON.stringify({ state: saveVmState(hv, vm), exits, memory: createHash('sha256').update(vm.ram.view()).digest('hex') });
}

function summary(hv: Hypervisor, vms: Vm[], out: string[]): string {
  return JSON.stringify({
    out, now: hv.now(), guest: hv.guestInstructions, emulated: hv.emulatedInstructions, idle: hv.idleInstructions,
    vms: vms.map((vm) => stateOf(hv, vm)),
  });
}

/** One VM in a hypervisor of its own. */
interface Booted { hv: Hypervisor; vm: Vm }

/**
 * A guest of test/hypervisor/fast-exits/ booted with the fast path on and off (each in a
 * hypervisor of its own), `prepare` done to each VM before it runs.
 */
function bootedBothWays(file: string, prepare?: (vm: Vm) => void): [Booted, Booted] {
  const image = buildKernel(join(__dirname, 'fast-exits', file)).binary;
  const boot = (fastExits: boolean): Booted => {
    const hv = new Hypervisor({ ramSize: 12 << 20, fastExits });
    const vm = hv.createVm({ name: file, memory: 4 << 20 });
    hv.bootMultiboot(vm, image);
    prepare?.(vm);
    return { hv, vm };
  };
  return [boot(true), boot(false)];
}

/** The same, each run to its SHUTDOWN (exit status 1). */
function stoppedBothWays(file: string, budget: number, prepare?: (vm: Vm) => void): [Booted, Booted] {
  const both = bootedBothWays(file, prepare);
  for (const { hv, vm } of both) {
    expect(hv.run(budget).kind).toBe('all-stopped');
    expect(vm.stop).toEqual({ kind: 'exit', status: 1 });
  }
  return both;
}

/**
 * An image run for `budget` instructions in a VM of its own, its console kept, and the guest
 * instruction count (Hypervisor.guestInstructions) as each byte was written.
 */
interface ImageRun { hv: Hypervisor; vm: Vm; out: string[]; writtenAt: number[] }

/** A Multiboot image run with the fast path on and off, each in a hypervisor of its own. */
function imageBothWays(bytes: Uint8Array, budget: number, slice?: number): [ImageRun, ImageRun] {
  const run = (fastExits: boolean): ImageRun => {
    const hv = new Hypervisor({ ramSize: 24 << 20, fastExits, slice });
    const out = [''], writtenAt: number[] = [];
    const console = (b: Uint8Array) => {
      out[0] += Buffer.from(b).toString('latin1');
      for (const _ of b) writtenAt.push(hv.guestInstructions);
    };
    const vm = hv.createVm({ name: 'guest', memory: 16 << 20, console });
    hv.bootMultiboot(vm, bytes);
    hv.run(budget);
    return { hv, vm, out, writtenAt };
  };
  return [run(true), run(false)];
}

/** The guest's general registers, EAX..EDI, as the VM saved them. */
const regsOf = (r: Booted): number[] => [...r.hv.vcpuOf(r.vm).regs];

describe('exit fast path', () => {
  test('one guest: the same run, exit for exit, with and without it', () => {
    const runs = [true, false].map((fast) => {
      const r = boot({ fast, vms: 1 });
      expect(r.hv.run(50_000_000).kind).toBe('all-stopped');
      return r;
    });
    const [fast, slow] = runs as [ReturnType<typeof boot>, ReturnType<typeof boot>];
    expect(fast.out[0]).toMatch(/ticks \d+, checksum [0-9a-f]{8}, interrupted at [0-9a-f]{8}\n/);
    expect(fast.out[0]).toContain('ok 1');
    expect(fast.vms[0]!.stop).toEqual({ kind: 'exit', status: 1 });
    expect(summary(fast.hv, fast.vms, fast.out)).toBe(summary(slow.hv, slow.vms, slow.out));
    // 4 CPUIDs, 2 port I/Os, 3 MSR accesses and a VMCALL a round: most resumed at once, some
    // (an IRQ0 to inject, a yield) through the run loop.
    expect(fast.hv.cpu.vmx.fastExits).toBeGreaterThan(25_000);
    expect(slow.hv.cpu.vmx.fastExits).toBe(0);
    // (HLT is offered too, and declined.)
    expect(fast.answers).toEqual(new Set(['resumed', 'exit-after', 'declined']));
  });

  test('stopped every few thousand instructions, the saved state matches at every stop', () => {
    const fast = boot({ fast: true, vms: 1 }), slow = boot({ fast: false, vms: 1 });
    for (let i = 0; i < 400 && fast.vms[0]!.stop === null; i++) {
      const budget = 1 + ((i * 7919) % 2000);
      expect(fast.hv.run(budget).kind).toBe(slow.hv.run(budget).kind);
      expect(stateOf(fast.hv, fast.vms[0]!)).toBe(stateOf(slow.hv, slow.vms[0]!));
    }
    expect(fast.hv.cpu.vmx.fastExits).toBeGreaterThan(1_000);
  });

  test('every shipped guest image (kernels, hello, the hostile guests) runs the same with and without it', () => {
    const root = join(__dirname, '..', '..', 'guests');
    const images = ['fv', 'pv', 'hello', 'hostile'].flatMap((d) => readdirSync(join(root, d)).filter((f) => f.endsWith('.img')).map((f) => join(root, d, f)));
    expect(images.length).toBeGreaterThan(25);
    let inPlace = 0;
    for (const path of images) {
      const [fast, slow] = imageBothWays(readFileSync(path), 100_000, 50_000); // the hostile ones may never stop
      expect(summary(fast.hv, [fast.vm], fast.out), path).toBe(summary(slow.hv, [slow.vm], slow.out));
      expect(fast.writtenAt, path).toEqual(slow.writtenAt);
      inPlace += fast.hv.cpu.vmx.fastExits;
    }
    expect(inPlace).toBeGreaterThan(1_000);
  });

  test('the FV and PV kernels run to their end the same with and without it, the PV kernel\'s VMCALLs partly inline', () => {
    const root = join(__dirname, '..', '..', 'guests');
    for (const build of ['fv', 'pv']) {
      const [fast, slow] = imageBothWays(readFileSync(join(root, build, 'kernel.img')), 50_000_000);
      expect(fast.vm.stop, build).not.toBeNull();
      expect(fast.out[0], build).toContain('end of report');
      expect(summary(fast.hv, [fast.vm], fast.out), build).toBe(summary(slow.hv, [slow.vm], slow.out));
      // Each byte written when the same instructions had run, exits completed inline or not.
      expect(fast.writtenAt, build).toEqual(slow.writtenAt);
      if (build === 'fv') expect(fast.vm.exitStats.get(ExitReason.IO_INSTRUCTION)!.inline, build).toBeGreaterThan(100);
      if (build === 'pv') expect(fast.vm.exitStats.get(ExitReason.VMCALL)!.inline).toBeGreaterThan(10);
    }
  });

  test('a VM that stops right after exits that skipped the device sync saves the same state', () => {
    const [fast, slow] = stoppedBothWays('quiet-stop.asm', 1_000_000);
    // 2,000 CPUIDs, resumed in place.
    expect(fast.hv.cpu.vmx.fastExits).toBeGreaterThanOrEqual(2_000);
    expect(stateOf(fast.hv, fast.vm)).toBe(stateOf(slow.hv, slow.vm));
  });

  test('in-place port I/O to the PIC finds every device synced (an IRR bit that a falling edge clears)', () => {
    const [fast, slow] = stoppedBothWays('pic-irr.asm', 5_000_000);
    // The guest saw IRR bit 0 rise and fall with the square wave, each time.
    const [falls, rises] = [regsOf(fast)[3]!, regsOf(fast)[6]!];
    expect(falls).toBeGreaterThan(5);
    expect(rises - falls).toBeLessThanOrEqual(1);
    expect(fast.hv.cpu.vmx.fastExits).toBeGreaterThan(20_000);
    expect(regsOf(fast)).toEqual(regsOf(slow));
    expect(stateOf(fast.hv, fast.vm)).toBe(stateOf(slow.hv, slow.vm));
  });

  test('CPUID completed inline leaves the flags as the exit taken does (pending records, dropped ones, carries)', () => {
    const [fast, slow] = stoppedBothWays('cpuid-flags.asm', 5_000_000);
    const cpuid = (r: { vm: Vm }) => r.vm.exitStats.get(ExitReason.CPUID)!;
    // 6 CPUIDs a round for 600 rounds; most inline, none with the fast path off.
    expect(cpuid(fast).count).toBe(3_600);
    expect(cpuid(fast).inline).toBeGreaterThan(3_000);
    expect(cpuid(slow).inline).toBe(0);
    expect(regsOf(fast)).toEqual(regsOf(slow));
    expect(stateOf(fast.hv, fast.vm)).toBe(stateOf(slow.hv, slow.vm));
  });

  test('stopped in the middle of a run of CPUIDs completed inline, the saved state matches at every stop', () => {
    const [fast, slow] = bootedBothWays('cpuid-flags.asm');
    let stops = 0;
    for (let i = 0; fast.vm.stop === null; i++, stops++) {
      const budget = 1 + ((i * 7919) % 2000);
      expect(fast.hv.run(budget).kind).toBe(slow.hv.run(budget).kind);
      // The preemption timer field included: the exit that ended the run saved what was left of it.
      expect(stateOf(fast.hv, fast.vm)).toBe(stateOf(slow.hv, slow.vm));
    }
    expect(stops).toBeGreaterThan(20);
    expect(fast.vm.exitStats.get(ExitReason.CPUID)!.inline).toBeGreaterThan(200);
  });

  test('a compiled block that takes CPUID\'s exit saves the flags as the interpreter does, records dropped after it or not', () => {
    const image = buildKernel(join(__dirname, 'fast-exits', 'cpuid-flags.asm')).binary;
    // With an observer every exit goes the long way, and the VMCS holds the guest's RFLAGS at each.
    const flagsAtExits = (engine: 'blocks' | 'interpret'): number[] => {
      const hv = new Hypervisor({ ramSize: 12 << 20, engine });
      const vm = hv.createVm({ name: engine, memory: 4 << 20 });
      hv.bootMultiboot(vm, image);
      const seen: number[] = [];
      hv.observer = (_vm, exit) => {
        if (exit.reason === ExitReason.CPUID) seen.push(hv.vcpuOf(vm).vmcs.read(F.GUEST_RFLAGS) & 0x8d5);
      };
      expect(hv.run(5_000_000).kind).toBe('all-stopped');
      return seen;
    };
    const blocks = flagsAtExits('blocks');
    expect(blocks).toHaveLength(3_600);
    expect(blocks).toEqual(flagsAtExits('interpret'));
  });

  test('hypercalls completed inline return what the run loop returns, the clock included', () => {
    const [fast, slow] = stoppedBothWays('vmcall-inline.asm', 5_000_000);
    const vmcall = (r: { vm: Vm }) => r.vm.exitStats.get(ExitReason.VMCALL)!;
    expect(vmcall(fast).count).toBe(2_001);
    expect(vmcall(fast).inline).toBeGreaterThan(1_000);
    expect(vmcall(slow).inline).toBe(0);
    expect(regsOf(fast)).toEqual(regsOf(slow));
    expect(stateOf(fast.hv, fast.vm)).toBe(stateOf(slow.hv, slow.vm));
  });

  test('a hypercall completed inline that writes the code after it: the block does not run the old code', () => {
    // The input: INC EAX, two for each of the last 300 rounds.
    const [fast, slow] = stoppedBothWays('console-read-code.asm', 5_000_000, (vm) => vm.input(new Uint8Array(600).fill(0x40)));
    // ESI: the INC EAXs run, two in each of the last 300 rounds.
    expect(fast.hv.vcpuOf(fast.vm).regs[6]).toBe(600);
    expect(fast.vm.exitStats.get(ExitReason.VMCALL)!.inline).toBeGreaterThan(0);
    expect(stateOf(fast.hv, fast.vm)).toBe(stateOf(slow.hv, slow.vm));
  });

  test('an ACK_EVENT completed in place that leaves an event pending takes the exit, for the window to open', () => {
    const [fast, slow] = stoppedBothWays('pv-ack.asm', 5_000_000);
    // ESI: the CPUIDs each round ran until both upcalls came, folded; the same both ways.
    expect(regsOf(fast)[6]).toBe(regsOf(slow)[6]);
    expect(fast.vm.exitStats.get(ExitReason.CPUID)!.inPlace).toBeGreaterThanOrEqual(200);
    expect(stateOf(fast.hv, fast.vm)).toBe(stateOf(slow.hv, slow.vm));
  });

  test('three guests with weights 1:2:3 on short slices: the same schedule and results', () => {
    const runs = [true, false].map((fast) => {
      const r = boot({ fast, vms: 3, slice: 20_000 });
      expect(r.hv.run(100_000_000).kind).toBe('all-stopped');
      return r;
    });
    const [fast, slow] = runs as [ReturnType<typeof boot>, ReturnType<typeof boot>];
    for (const vm of fast.vms) expect(vm.stop).toEqual({ kind: 'exit', status: 1 });
    expect(summary(fast.hv, fast.vms, fast.out)).toBe(summary(slow.hv, slow.vms, slow.out));
    expect(fast.hv.cpu.vmx.fastExits).toBeGreaterThan(30_000);
  });
});
