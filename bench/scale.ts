/**
 * `trapvisor bench scale`: 1, 2, 4, ... 64 guests running the ALU workload (endless: a count too
 * large to finish) under the scheduler for a fixed total of guest instructions. Reports the
 * aggregate MIPS, each guest's share (exact instruction counts, which must add up to the budget),
 * Jain's fairness index over the shares, and the aggregate against one guest's: each run of k
 * guests is paired with a run of one guest just before it, and the ratio is the median over the
 * repeats of the pairs' ratios in the main thread's CPU time of `run()` (construction and
 * loading left out, as for the wall time; the host's speed drifts over a run of all the counts,
 * and other processes take wall time: both would otherwise land in the ratio). And what
 * switching from one guest to another costs: a run of k guests with short slices (so thousands
 * of switches) against one guest with the same slices and budget (slices end there too, but no
 * other VMCS is loaded), paired within each repeat, the extra time divided by the switches,
 * median over the repeats.
 */
import { buildGuest } from './build-guest.js';
import { runUnderHypervisor, type HvRun } from './hv-run.js';
import { jainIndex, median, fmt, formatTable } from './stats.js';
import type { BarChart } from './svg.js';

export interface ScaleRow {
  guests: number;
  instructions: number;
  seconds: number;
  aggregateMips: number;
  /** Aggregate MIPS relative to one guest: the median over the repeats of each k-guest run against the one-guest run paired with it. */
  relative: number;
  /** Each repeat's ratio. */
  relativeByRepeat: number[];
  minShare: number;
  maxShare: number;
  jain: number;
  switches: number;
  overheadNsPerSwitch: number;
}

export interface ScaleResult { kind: 'scale'; node: string; quick: boolean; slice: number; switchSlice: number; rows: ScaleRow[] }

export function measureScale(o: { quick: boolean; maxGuests?: number; progress?: (l: string) => void }): ScaleResult {
  const counts: number[] = [];
  for (let k = 1; k <= (o.maxGuests ?? (o.quick ? 8 : 64)); k *= 2) counts.push(k);
  const budget = o.quick ? 2_000_000 : 400_000_000;
  const slice = o.quick ? 50_000 : 1_000_000;
  const repeats = o.quick ? 1 : 9;
  const image = buildGuest('guests/bench/alu.asm', { ITER: '0xffffffff' });
  const rows: ScaleRow[] = [];
  const configs = counts.map((k) => Array.from({ length: k }, (_, i) => ({ name: `alu${i}`, image, memory: 2 << 20 })));
  for (const [i, guests] of configs.entries()) {
    o.progress?.(`${counts[i]} guest${counts[i]! > 1 ? 's' : ''} (warm-up)...`);
    runUnderHypervisor(guests, { slice, maxInstructions: Math.min(budget, 4 * slice * guests.length), allowBudget: true });
  }
  // Repeats go round the guest counts, so a slow patch of a shared machine hits them all alike;
  // each count's run follows a one-guest run of its own, for the paired ratio.
  const runs = configs.map((): HvRun[] => []);
  const ratios = configs.map((): number[] => []);
  for (let r = 0; r < repeats; r++) {
    for (const [i, guests] of configs.entries()) {
      o.progress?.(`${counts[i]} guest${counts[i]! > 1 ? 's' : ''}, run ${r + 1} of ${repeats}...`);
      const alone = runUnderHypervisor(configs[0]!, { slice, maxInstructions: budget, allowBudget: true });
      const run = i === 0 ? alone : runUnderHypervisor(guests, { slice, maxInstructions: budget, allowBudget: true });
      runs[i]!.push(run);
      if (i > 0) runs[0]!.push(alone);
      ratios[i]!.push(alone.cpuNanoseconds / run.cpuNanoseconds); // the same budget: the MIPS ratio
    }
  }
  for (const [i, k] of counts.entries()) {
    const times = runs[i]!.map((r) => r.nanoseconds);
    const r = runs[i]![times.indexOf([...times].sort((a, b) => a - b)[times.length >> 1]!)]!;
    const executed = r.guests.map((g) => g.instructions);
    const total = executed.reduce((a, b) => a + b, 0);
    if (total !== budget) throw new Error(`${k} guests ran ${total} instructions, the budget was ${budget}`);
    const seconds = median(times) / 1e9;
    const shares = executed.map((x) => x / total);
    rows.push({
      guests: k, instructions: total, seconds, aggregateMips: total / seconds / 1e6, relative: median(ratios[i]!), relativeByRepeat: ratios[i]!,
      minShare: Math.min(...shares), maxShare: Math.max(...shares), jain: jainIndex(executed), switches: r.switches,
      overheadNsPerSwitch: 0,
    });
  }
  // The cost of a switch, measured where there are many of them.
  const shortSlice = 10_000, switchBudget = o.quick ? 200_000 : 20_000_000;
  const perSwitch = configs.map((): number[] => []);
  for (let r = 0; r < repeats; r++) {
    o.progress?.(`switch cost, run ${r + 1} of ${repeats}...`);
    const alone = runUnderHypervisor(configs[0]!, { slice: shortSlice, maxInstructions: switchBudget, allowBudget: true }).nanoseconds;
    for (const [i, guests] of configs.entries()) {
      if (i === 0) continue;
      const run = runUnderHypervisor(guests, { slice: shortSlice, maxInstructions: switchBudget, allowBudget: true });
      perSwitch[i]!.push((run.nanoseconds - alone) / Math.max(1, run.switches));
    }
  }
  for (const [i, row] of rows.entries()) row.overheadNsPerSwitch = i === 0 ? 0 : median(perSwitch[i]!);
  return { kind: 'scale', node: process.version, quick: o.quick, slice, switchSlice: shortSlice, rows };
}

export function formatScale(r: ScaleResult): string {
  const rows = r.rows.map((x) => [
    String(x.guests), fmt(x.aggregateMips, 1), `${fmt(x.relative * 100, 1)}%`, `${fmt(x.minShare * 100, 2)}%`, `${fmt(x.maxShare * 100, 2)}%`,
    fmt(x.jain, 4), fmt(x.switches), x.guests > 1 ? fmt(x.overheadNsPerSwitch, 0) : '-',
  ]);
  return formatTable(['guests', 'aggregate MIPS', 'of 1 guest', 'min share', 'max share', "Jain's index", 'switches', 'ns per switch'], rows)
    + `${fmt(r.rows[0]?.instructions ?? 0)} guest instructions per run, slice ${fmt(r.slice)} instructions; ns per switch from`
    + ` runs with ${fmt(r.switchSlice)}-instruction slices against one guest with the same\n`;
}

export function scaleChart(r: ScaleResult): BarChart {
  return {
    title: 'Guests under the scheduler (ALU workload)', unit: 'aggregate MIPS',
    categories: r.rows.map((x) => `${x.guests} guest${x.guests > 1 ? 's' : ''}`),
    series: [{ name: 'MIPS', values: r.rows.map((x) => x.aggregateMips) }],
  };
}
