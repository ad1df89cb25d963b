/**
 * Running a guest image under the hypervisor for the benchmarks: a fresh Hypervisor per run (so
 * no state leaks between rounds), wall time of `run()` only (construction and loading excluded),
 * and what the emulator counted: instructions executed and emulated, exits per reason with their
 * handler time, time inside VM entry/exit, scheduler switches.
 */
import { Hypervisor } from '../hypervisor/hypervisor.js';
import type { ExitStat, VmStop } from '../hypervisor/vm.js';
import { reasonName } from '../hypervisor/exits/decode.js';
import { mainThreadCpuNs } from './stats.js';

export interface GuestRunStats {
  name: string;
  instructions: number;
  executed: number;
  emulated: number;
  /** Per reason: the VM's statistics (count, handler time, in place, inline) and the reason's number. */
  exits: Record<string, ExitStat & { reason: number }>;
  /**
   * Wall ns inside `vmx.enter`: VM entries, the guest's own instructions and VM exits, and the
   * exits completed on the fast path, handlers included (`fastHandlerNs` of it).
   */
  enterNs: number;
  fastHandlerNs: number;
  stop: VmStop | null;
}

export interface HvRun {
  nanoseconds: number;
  /** The main thread's CPU time in `run()` (other processes and V8's helper threads left out). */
  cpuNanoseconds: number;
  guests: GuestRunStats[];
  switches: number;
  /** EAX of the first guest when it stopped (the workloads' result). */
  eax: number;
}

export interface HvGuest {
  name: string;
  image: Uint8Array;
  cmdline?: string;
  memory?: number;
  weight?: number;
}

export interface HvRunOptions {
  slice?: number;
  engine?: 'blocks' | 'interpret';
  maxInstructions?: number;
  allowBudget?: boolean;
  fastExits?: boolean;
  /** Called with the booted hypervisor before the timed run (bench exits' floorHandler). */
  prepare?: (hv: Hypervisor) => void;
}

export function runUnderHypervisor(guests: readonly HvGuest[], o: HvRunOptions = {}): HvRun {
  const memory = guests.map((g) => g.memory ?? 8 << 20);
  const ramSize = memory.reduce((a, b) => a + b, 0) + (4 << 20) + guests.length * (2 << 20);
  const hv = new Hypervisor({ ramSize: Math.ceil(ramSize / (1 << 20)) << 20, engine: o.engine ?? 'blocks', slice: o.slice, fastExits: o.fastExits });
  const vms = guests.map((g, i) => {
    const vm = hv.createVm({ name: g.name, memory: memory[i]!, weight: g.weight });
    hv.bootMultiboot(vm, g.image, g.cmdline ?? '');
    return vm;
  });
  o.prepare?.(hv);
  const t0 = process.hrtime.bigint(), c0 = mainThreadCpuNs();
  const result = hv.run(o.maxInstructions ?? Infinity);
  const cpuNanoseconds = mainThreadCpuNs() - c0;
  const nanoseconds = Number(process.hrtime.bigint() - t0);
  if (result.kind === 'budget' && !o.allowBudget) throw new Error(`guests did not stop within ${o.maxInstructions} instructions`);
  const first = hv.vcpuOf(vms[0]!);
  return {
    nanoseconds,
    cpuNanoseconds,
    switches: hv.scheduler.switches,
    eax: first.regs[0]! >>> 0,
    guests: vms.map((vm) => {
      const v = hv.vcpuOf(vm);
      const exits: GuestRunStats['exits'] = {};
      for (const [reason, s] of vm.exitStats) exits[reasonName(reason)] = { reason, ...s };
      return { name: vm.name, instructions: v.executed + v.emulated, executed: v.executed, emulated: v.emulated, exits, enterNs: v.enterNs, fastHandlerNs: v.fastHandlerNs, stop: vm.stop };
    }),
  };
}

/** Throws unless the guest stopped through isa-debug-exit with `status`. */
export function expectExit(g: GuestRunStats, status = 1): void {
  const s = g.stop;
  if (!s || s.kind !== 'exit' || s.status !== status) throw new Error(`guest ${g.name} stopped with ${JSON.stringify(s)}, not isa-debug-exit status ${status}`);
}

export function exitsOf(g: GuestRunStats, reason: number): ExitStat {
  for (const e of Object.values(g.exits)) if (e.reason === reason) return e;
  return { count: 0, handlerNs: 0, inPlace: 0, inline: 0 };
}
