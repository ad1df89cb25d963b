/**
 * `trapvisor bench exits`: the cost of each kind of VM exit, in the manner of kvm-unit-tests'
 * vmexit. Each guest (guests/bench/exits/) runs a loop of one exiting instruction n times; n is
 * doubled until one round takes long enough to measure, then rounds of n and of 0 iterations
 * (start-up) are repeated, and
 *   iteration = (median T(n) - median T(0)) / n           (wall ns per loop iteration)
 *   exit      = iteration - loop instructions x ALU ns    (the loop's DEC/JNZ etc. taken out)
 * with the ALU ns per instruction measured in the same run, after the exits (the alu workload on
 * the bare CPU, in a process as warm as it was for them).
 * The split of an exit that takes the full round trip, from the hypervisor's own clocks
 * (performance.now around each part):
 *   exit+entry = the time inside vmx.enter (VM entry with its checks and guest-state load, VM exit
 *                with guest-state save and host-state load) minus the loop's instructions
 *   handler    = decoding and handling the exit (vm.exitStats)
 *   run loop   = the rest: device sync, interrupt injection, scheduling, the clocks themselves.
 *   in place   = the share of exits completed on the fast path (the guest resumed without the
 *                VMCS round trip, Hypervisor.fastExit).
 * An exit completed in place is too short for clocks around its parts (a clock read costs about
 * as much), so its split is measured by difference. The round trip is measured again with the
 * hypervisor's fast-exit handler replaced by one that only skips the instruction (no emulation,
 * counting, timer or device work; `floorHandler`): that is the processor's side, exit+entry, and
 * the rest of the round trip is the handler's, its decisions for the next entry included. These
 * reasons are also measured with the fast path off (`full round trip`): what the same exit costs
 * through the run loop.
 */
import { DEBUG_EXIT_BASE } from '../emulator/devices/index.js';
import { ExitReason } from '../emulator/vmx/controls.js';
import { FastExit } from '../emulator/vmx/vmx.js';
import { ioPort } from '../hypervisor/exits/decode.js';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import { buildGuest } from './build-guest.js';
import { EXIT_GUESTS, eventInstructions, exitGuestCmdline, exitGuestInstructions, type ExitGuest } from './exit-guests.js';
import { exitsOf, expectExit, runUnderHypervisor, type HvRun } from './hv-run.js';
import { median, measured, relativeSpread, fmt, formatTable } from './stats.js';
import { aluNsPerInstructionAsync } from './mips-hv.js';
import type { BarChart } from './svg.js';

export interface ExitRow {
  reason: string;
  description: string;
  iterations: number;
  /** Exits of the guest's reason per iteration (0 for pf). */
  exitsPerIteration: number;
  /** Wall ns per loop iteration, median over repeats, and each repeat's value. */
  iterationNs: number;
  iterationNsRepeats: number[];
  spread: number;
  /** The event alone: the iteration minus its loop instructions at ALU speed. */
  exitNs: number;
  exitsPerSecond: number;
  /** exitNs / ALU ns per instruction. */
  aluEquivalents: number;
  /** Per iteration: VM exit + entry in the processor, the handler (vm.exitStats), the run loop. */
  transitionNs: number;
  handlerNs: number;
  runLoopNs: number;
  /** The share of the exits completed on the fast path. */
  inPlace: number;
  /** The share completed inline by compiled code (Hypervisor.inlineCpuid; a part of inPlace). */
  inline?: number;
  /** For reasons completed in place: the round trip with the fast path off (null otherwise). */
  fullRoundTripNs: number | null;
  /**
   * For reasons completed in place: the round trip with a fast-exit handler that only skips the
   * instruction (the processor's side, reported as exit+entry; null otherwise).
   */
  floorNs: number | null;
  /** Guest instructions per iteration, counted by the emulator (and the model, where it has one). */
  instructionsPerIteration: number;
  instructions: number;
  modelInstructions: number | null;
}

export interface ExitsResult {
  kind: 'exits';
  node: string;
  quick: boolean;
  /** The faster of the two ALU measurements (aluNsSamples): what the rows are reckoned in. */
  aluNsPerInstruction: number;
  /** The ALU workload's ns per instruction measured before the reasons and after them (absent in runs before 2026-12-03T18:40). */
  aluNsSamples?: number[];
  rows: ExitRow[];
}

export interface ExitsOptions {
  reasons?: string[];
  quick: boolean;
  progress?: (line: string) => void;
}

/** How a measured run completes its exits: on the fast path, with it off, or with `floorHandler`. */
type ExitPath = 'fast' | 'full' | 'floor';

/**
 * The least fast-exit handler, for the processor's side of an exit completed in place: each of
 * the guest's exits of `reason` is resumed at once, the instruction skipped and not emulated (the
 * bench loops do not read what it returns); every other exit (the final isa-debug-exit write, the
 * preemption timer) goes to the hypervisor as usual. Inline exits (CPUID, VMCALL, IN, OUT) are replaced
 * the same way, so that their floor is what a compiled block's inline exit costs without the
 * handler.
 */
export function floorHandler(reason: number): (hv: Hypervisor) => void {
  return (hv) => {
    const inner = hv.cpu.vmx.fastExit;
    hv.cpu.vmx.fastExit = (why, qualification, length) => {
      if (why === reason && !(why === ExitReason.IO_INSTRUCTION && ioPort(qualification) === DEBUG_EXIT_BASE)) return 1 << 30;
      return inner === null ? FastExit.DECLINED : inner(why, qualification, length);
    };
    // Exits completed inline (Vmx.inlineExits) get the same: skipped, the budget renewed.
    const vmx = hv.cpu.vmx, inline = vmx.inlineExits;
    if (inline !== null) {
      const skip = (): boolean => {
        vmx.resumeHeld(1 << 30, 1 << 30);
        return true;
      };
      vmx.inlineExits = {
        inlineCpuid: reason === ExitReason.CPUID ? skip : () => inline.inlineCpuid(),
        inlineVmcall: reason === ExitReason.VMCALL ? skip : () => inline.inlineVmcall(),
        inlineIn: (port, size) => reason === ExitReason.IO_INSTRUCTION ? skip() : inline.inlineIn(port, size),
        inlineOut: (port, size) => reason === ExitReason.IO_INSTRUCTION && port !== DEBUG_EXIT_BASE ? skip() : inline.inlineOut(port, size),
      };
    }
  };
}

function runGuest(g: ExitGuest, image: Uint8Array, n: number, path: ExitPath = 'fast'): HvRun {
  const run = runUnderHypervisor([{ name: g.name, image, cmdline: exitGuestCmdline(n), memory: 8 << 20 }], {
    fastExits: path !== 'full', prepare: path === 'floor' ? floorHandler(g.exitReason!) : undefined,
  });
  const s = run.guests[0]!;
  expectExit(s);
  const model = exitGuestInstructions(g, n);
  // The floor's skipped instructions are neither retired nor emulated: they count nowhere.
  if (model !== null && path !== 'floor' && s.instructions !== model) {
    throw new Error(`${g.name}: the emulator counted ${s.instructions} instructions for ${n} iterations, the model says ${model}`);
  }
  return run;
}

export function findExitGuests(names?: readonly string[]): ExitGuest[] {
  if (!names) return [...EXIT_GUESTS];
  return names.map((n) => {
    const g = EXIT_GUESTS.find((x) => x.name === n);
    if (!g) throw new RangeError(`unknown exit reason '${n}' (known: ${EXIT_GUESTS.map((x) => x.name).join(', ')})`);
    return g;
  });
}

export async function measureExits(o: ExitsOptions): Promise<ExitsResult> {
  const guests = findExitGuests(o.reasons);
  const roundNs = o.quick ? 2e6 : 100e6;
  const repeats = o.quick ? 1 : 11;
  const maxIterations = o.quick ? 4096 : 1 << 22;
  // Each row is finished once the ALU speed is known (measured before the reasons and after them).
  const rows: ((aluNs: number) => ExitRow)[] = [];
  const images = guests.map((g) => buildGuest(g.source, {}, ['guests/lib', 'guests/bench/exits']));
  // Warm-up, 2 s: V8 compiles the paths of every exit before any is measured, so the first reasons
  // measured do not pay for compiling the common path, nor the later ones for its deoptimizing.
  const warmUntil = process.hrtime.bigint() + BigInt(o.quick ? 0 : 2e9);
  do {
    for (const [i, g] of guests.entries()) runGuest(g, images[i]!, o.quick ? 64 : 4096);
  } while (process.hrtime.bigint() < warmUntil);
  o.progress?.('alu workload (ns per instruction), before the exits...');
  const aluBefore = await aluNsPerInstructionAsync(o.quick);
  /**
   * Rounds of n iterations (n doubled until a round takes roundNs) and of 0, `repeats` times:
   * each repeat's ns per iteration, and the runs' figures per iteration.
   */
  const measure = (g: ExitGuest, image: Uint8Array, path: ExitPath) => {
    let n = o.quick ? 256 : 1024;
    // The faster of two runs decides, so one run slowed by a collection does not end the doubling early.
    const roundTime = (k: number): number => Math.min(runGuest(g, image, k, path).nanoseconds, o.quick ? Infinity : runGuest(g, image, k, path).nanoseconds);
    while (n < maxIterations && roundTime(n) < roundNs) n *= 2;
    const times: number[] = [], baseTimes: number[] = [], handlerTimes: number[] = [], enterTimes: number[] = [];
    let last: HvRun | null = null, base: HvRun | null = null;
    const handlerTotal = (r: HvRun): number => (g.exitReason === null ? 0 : exitsOf(r.guests[0]!, g.exitReason).handlerNs);
    const inEnter = (r: HvRun): number => r.guests[0]!.enterNs - r.guests[0]!.fastHandlerNs;
    for (let i = 0; i < repeats; i++) {
      base = runGuest(g, image, 0, path);
      baseTimes.push(base.nanoseconds);
      last = runGuest(g, image, n, path);
      times.push(last.nanoseconds);
      handlerTimes.push((handlerTotal(last) - handlerTotal(base)) / n);
      enterTimes.push((inEnter(last) - inEnter(base)) / n);
    }
    const t0 = median(baseTimes);
    const perRepeat = times.map((t) => Math.max(0, t - t0) / n);
    return { n, perRepeat, iterationNs: median(perRepeat), handlerTimes, enterTimes, s: last!.guests[0]!, s0: base!.guests[0]! };
  };
  for (const [i, g] of guests.entries()) {
    o.progress?.(`${g.name}: ${g.description}...`);
    const image = images[i]!;
    const { n, perRepeat, iterationNs, handlerTimes, enterTimes, s, s0 } = measure(g, image, 'fast');
    // The command line "n" has more digits than "0": 8 parsing instructions each (exits.inc).
    const instructionsPerIteration = (s.instructions - s0.instructions - 8 * (exitGuestCmdline(n).length - 1)) / n;
    const loop = g.name === 'irq' ? instructionsPerIteration - eventInstructions(g) : g.loopInstructions;
    const exits = g.exitReason === null ? 0 : exitsOf(s, g.exitReason).count - exitsOf(s0, g.exitReason).count;
    const exitsPerIteration = exits / n;
    const inPlace = exits > 0 ? (exitsOf(s, g.exitReason!).inPlace - exitsOf(s0, g.exitReason!).inPlace) / exits : 0;
    const inline = exits > 0 ? (exitsOf(s, g.exitReason!).inline - exitsOf(s0, g.exitReason!).inline) / exits : 0;
    // The parts, like the total, are medians over the repeats (per iteration).
    const handlerClockNs = exits > 0 ? median(handlerTimes) : 0;
    let fullIterationNs: number | null = null, floorIterationNs: number | null = null;
    if (inPlace > 0) {
      o.progress?.(`${g.name}: the same with the exit fast path off...`);
      const full = measure(g, image, 'full');
      if (exitsOf(full.s, g.exitReason!).inPlace !== 0) throw new Error(`${g.name}: exits completed in place with the fast path off`);
      fullIterationNs = full.iterationNs;
      o.progress?.(`${g.name}: the processor's side alone (a handler that only skips)...`);
      const floor = measure(g, image, 'floor');
      // None of the guest's exits of this reason reached the hypervisor: all were skipped.
      if (exitsOf(floor.s, g.exitReason!).count > exitsOf(s0, g.exitReason!).count) throw new Error(`${g.name}: the floor handler let exits through`);
      floorIterationNs = floor.iterationNs;
    }
    rows.push((aluNs) => {
      const exitNs = Math.max(0, iterationNs - loop * aluNs);
      const floorNs = floorIterationNs === null ? null : Math.max(0, floorIterationNs - loop * aluNs);
      // In place: by difference from the floor (see the top). Otherwise: the clocks.
      const transitionNs = floorNs !== null ? Math.min(floorNs, exitNs) : exits > 0 ? Math.max(0, median(enterTimes) - loop * aluNs) : 0;
      const handlerNs = floorNs !== null ? exitNs - transitionNs : handlerClockNs;
      return {
        reason: g.name, description: g.description, iterations: n, exitsPerIteration,
        iterationNs, iterationNsRepeats: perRepeat, spread: relativeSpread(perRepeat),
        exitNs, exitsPerSecond: exitsPerIteration > 0 ? exitsPerIteration * 1e9 / iterationNs : 0,
        aluEquivalents: exitNs / aluNs,
        transitionNs, handlerNs, runLoopNs: exits > 0 ? Math.max(0, exitNs - transitionNs - handlerNs) : 0, inPlace, inline,
        fullRoundTripNs: fullIterationNs === null ? null : Math.max(0, fullIterationNs - loop * aluNs), floorNs,
        instructionsPerIteration, instructions: s.instructions, modelInstructions: exitGuestInstructions(g, n),
      };
    });
  }
  o.progress?.('alu workload (ns per instruction), after the exits...');
  const aluAfter = await aluNsPerInstructionAsync(o.quick);
  // Noise on a shared host only adds time: a slow patch during one ALU measurement would make
  // every exit look cheaper in instruction equivalents. The faster of the two is the least
  // disturbed, and reckons every exit at its dearest (more equivalents, less loop subtracted).
  // (A --quick measurement can be too short to measure: NaN. Then the other one decides.)
  const alu = measured([aluBefore, aluAfter]);
  const aluNs = alu.length ? Math.min(...alu) : NaN;
  return {
    kind: 'exits', node: process.version, quick: o.quick, aluNsPerInstruction: aluNs, aluNsSamples: [aluBefore, aluAfter],
    rows: rows.map((finish) => finish(aluNs)),
  };
}

export function formatExits(r: ExitsResult): string {
  const header = ['reason', 'exits/iter', 'round trip ns', 'spread', 'exits/s', 'ALU-instr equiv', 'exit+entry ns', 'handler ns', 'run loop ns', 'in place', 'inline', 'full round trip ns', 'what'];
  const rows = r.rows.map((x) => [
    x.reason, fmt(x.exitsPerIteration, 2), fmt(x.exitNs, 0), `${fmt(x.spread * 100, 1)}%`,
    x.exitsPerSecond ? fmt(x.exitsPerSecond, 0) : '-', fmt(x.aluEquivalents, 1),
    ...(x.exitsPerIteration ? [fmt(x.transitionNs, 0), fmt(x.handlerNs, 0), fmt(x.runLoopNs, 0), `${fmt((x.inPlace ?? 0) * 100, 0)}%`, `${fmt((x.inline ?? 0) * 100, 0)}%`] : ['-', '-', '-', '-', '-']),
    x.fullRoundTripNs == null ? '-' : fmt(x.fullRoundTripNs, 0), x.description,
  ]);
  const samples = r.aluNsSamples === undefined ? '' : `; the faster of ${r.aluNsSamples.map((x) => fmt(x, 2)).join(' before and ')} after the exits`;
  return formatTable(header, rows) + `ALU workload: ${fmt(r.aluNsPerInstruction, 2)} ns per instruction (${fmt(1000 / r.aluNsPerInstruction, 0)} MIPS, bare CPU, block compiler${samples})\n`;
}

export function exitsChart(r: ExitsResult): BarChart {
  return {
    title: 'VM-exit round trip', unit: 'ns per exit (median); split: exit+entry, handler, run loop; and with the fast path off',
    categories: r.rows.map((x) => x.reason),
    series: [
      { name: 'total', values: r.rows.map((x) => x.exitNs) },
      { name: 'exit+entry', values: r.rows.map((x) => (x.exitsPerIteration ? x.transitionNs : null)) },
      { name: 'handler', values: r.rows.map((x) => (x.exitsPerIteration ? x.handlerNs : null)) },
      { name: 'run loop', values: r.rows.map((x) => (x.exitsPerIteration ? x.runLoopNs : null)) },
      { name: 'full round trip (fast path off)', values: r.rows.map((x) => x.fullRoundTripNs ?? null) },
    ],
  };
}
