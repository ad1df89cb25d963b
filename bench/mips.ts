/**
 * Guest instructions per second of the compute workloads on trapvisor's CPU tiers and on v86,
 * measured side by side in one run. For each workload and engine: a small run (start-up) and a
 * full run are both repeated; MIPS = (instructions(full) - instructions(small)) /
 * (median time(full) - median time(small)). The full size starts at the workload's own and is
 * doubled, per engine, until the full run outlasts the small one by MIN_MEASURED_NS. Instruction
 * counts are exact (bench/workloads.ts) and are checked against trapvisor's own counter.
 *
 * Each repeat also gives every engine a figure of its own (its full run against the median small
 * run), in wall time and in the main thread's CPU time, so that two engines can be compared repeat by
 * repeat (bench/mips-hv.ts takes the median of those paired ratios).
 */
import { buildGuest } from './build-guest.js';
import type { Engine } from './engines.js';
import { mainThreadCpuNs, median } from './stats.js';
import type { Workload } from './workloads.js';

export interface MipsRow {
  workload: string;
  engine: string;
  instructions: number;
  seconds: number;
  mips: number;
  /**
   * MIPS of each repeat's full run against the median minimal run: by wall time, and by the main
   * thread's CPU time around the whole engine run (another process taking the core does not
   * count). NaN where a run measured nothing.
   */
  mipsByRepeat: number[];
  cpuMipsByRepeat: number[];
}

export interface MipsOptions {
  quick: boolean;
  repeats: number;
  engines: Engine[];
  workloads: readonly Workload[];
  /** Run each engine's minimal and full image once more, untimed, before the repeats. */
  warmUp?: boolean;
  progress?: (line: string) => void;
}

/**
 * A full run must outlast the minimal one by this much (wall ns) to be measured: an engine much
 * faster than trapvisor (v86's JIT, QEMU) runs a workload at its usual size in less time than its
 * start-up varies by, so its size is doubled until it does.
 */
const MIN_MEASURED_NS = 400e6;
/** The largest size each workload's loop counter allows. */
const MAX_SIZE: Record<Workload['name'], number> = { alu: 0x7fffffff, mem: 1 << 16, paging: 1 << 16, branchy: 1 << 26, call: 40 };

/** The next size up: about twice the instructions. */
const grow = (w: Workload, n: number): number => (w.name === 'call' ? n + 2 : n * 2);

/** Instructions per second in millions; NaN when the time is not positive (nothing measured). */
const mipsOf = (instructions: number, ns: number): number => (ns > 0 ? (instructions / ns) * 1e3 : NaN);

export async function measureMips(o: MipsOptions): Promise<MipsRow[]> {
  const rows: MipsRow[] = [];
  for (const w of o.workloads) {
    const size = o.quick ? Math.max(w.baselineSize + 1, Math.ceil(w.size / (w.name === 'call' ? 1 : 20))) : w.size;
    const images = new Map<number, Uint8Array>();
    const image = (n: number): Uint8Array => {
      if (!images.has(n)) images.set(n, buildGuest(w.source, w.defines(n)));
      return images.get(n)!;
    };
    const base = image(w.baselineSize);
    const sizes: number[] = [];
    for (const engine of o.engines) {
      let n = w.name === 'call' && o.quick ? 22 : size;
      if (!o.quick) {
        o.progress?.(`${w.name} on ${engine.name}: size...`);
        const b = (await engine.run(base, w.instructions(w.baselineSize))).nanoseconds;
        while (n < MAX_SIZE[w.name] && (await engine.run(image(n), w.instructions(n))).nanoseconds - b < MIN_MEASURED_NS) n = grow(w, n);
      }
      sizes.push(n);
    }
    if (o.warmUp) {
      // The size search ran one engine's runs after the other's: one more untimed run of both
      // images on each engine, so the first timed repeat does not pay for warming up what the
      // other engine's runs left cold.
      for (const [k, engine] of o.engines.entries()) {
        await engine.run(base, w.instructions(w.baselineSize));
        await engine.run(image(sizes[k]!), w.instructions(sizes[k]!));
      }
    }
    // Repeats go round the engines, in turn forwards and backwards (A B, B A, A B ...), so a slow
    // patch of a shared machine, or a run that suffers for the one before it, falls on all of them
    // alike and the ratios between engines stay fair.
    const fullTimes = o.engines.map((): number[] => []), baseTimes = o.engines.map((): number[] => []);
    const fullCpu = o.engines.map((): number[] => []), baseCpu = o.engines.map((): number[] => []);
    const eaxes = o.engines.map(() => -1);
    for (let i = 0; i < o.repeats; i++) {
      const order = [...o.engines.keys()];
      if (i % 2) order.reverse();
      for (const k of order) {
        const engine = o.engines[k]!;
        if (i === 0) o.progress?.(`${w.name} on ${engine.name}...`);
        // The models' counts are worked out before the clocks start (branchy's walks every bit).
        const fullImage = image(sizes[k]!), fullModel = w.instructions(sizes[k]!), baseModel = w.instructions(w.baselineSize);
        const c0 = mainThreadCpuNs();
        const b = await engine.run(base, baseModel);
        const c1 = mainThreadCpuNs();
        const f = await engine.run(fullImage, fullModel);
        const c2 = mainThreadCpuNs();
        if (engine.name.startsWith('trapvisor') && (f.instructions !== fullModel || b.instructions !== baseModel)) {
          throw new Error(`${w.name}: ${engine.name} executed ${f.instructions} instructions, the model says ${fullModel}`);
        }
        if (eaxes[k]! >= 0 && f.eax !== eaxes[k]) throw new Error(`${w.name}: ${engine.name} is not deterministic (EAX ${f.eax} then ${eaxes[k]})`);
        eaxes[k] = f.eax;
        fullTimes[k]!.push(f.nanoseconds);
        baseTimes[k]!.push(b.nanoseconds);
        fullCpu[k]!.push(c2 - c1);
        baseCpu[k]!.push(c1 - c0);
      }
    }
    for (const [k, engine] of o.engines.entries()) {
      // A full run no slower than the minimal one (a --quick run on a noisy machine) measures nothing: NaN.
      const baseNs = median(baseTimes[k]!), baseCpuNs = median(baseCpu[k]!);
      const seconds = (median(fullTimes[k]!) - baseNs) / 1e9;
      const instructions = w.instructions(sizes[k]!) - w.instructions(w.baselineSize);
      rows.push({
        workload: w.name, engine: engine.name, instructions, seconds, mips: seconds > 0 ? instructions / seconds / 1e6 : NaN,
        mipsByRepeat: fullTimes[k]!.map((t) => mipsOf(instructions, t - baseNs)),
        cpuMipsByRepeat: fullCpu[k]!.map((t) => mipsOf(instructions, t - baseCpuNs)),
      });
    }
  }
  return rows;
}
