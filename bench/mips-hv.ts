/**
 * `trapvisor bench mips`: guest MIPS of the compute workloads on the bare CPU and under the
 * hypervisor (non-root mode, EPT, the scheduler's preemption-timer slices), measured in one run
 * so the virtualization overhead is a ratio. Counts are exact (bench/workloads.ts) and are checked
 * against the emulator's counter on both.
 *
 * The ratio is the median over repeats of hv / bare within one repeat (the two engines' runs back to
 * back, in alternating order), each in the main thread's CPU time. A run's speed swings by up to 30 %
 * with the state V8's compiler happens to reach for its freshly compiled blocks, and a
 * wall-clock run also by whatever else the machine runs; pairing keeps a slow patch on both sides
 * of one ratio, and the median keeps one unlucky run out of it.
 */
import { trapvisorEngine, type Engine } from './engines.js';
import { runUnderHypervisor } from './hv-run.js';
import { measureMips, type MipsRow } from './mips.js';
import { fmt, formatTable, measured, median } from './stats.js';
import type { BarChart } from './svg.js';
import { MIPS_WORKLOADS, WORKLOADS, type Workload } from './workloads.js';

/** trapvisor's CPU under the hypervisor: one VM, the image booted by Multiboot, run to its HLT. */
export function hypervisorEngine(tier: 'blocks' | 'interpret' = 'blocks'): Engine {
  return {
    name: tier === 'blocks' ? 'trapvisor-hv' : 'trapvisor-hv-interp',
    async run(bytes) {
      const r = runUnderHypervisor([{ name: 'workload', image: bytes, memory: 16 << 20 }], { engine: tier });
      const g = r.guests[0]!;
      if (g.stop?.kind !== 'halted') throw new Error(`workload stopped with ${JSON.stringify(g.stop)}, not HLT`);
      return { instructions: g.instructions, nanoseconds: r.nanoseconds, eax: r.eax };
    },
  };
}

export function findWorkloads(names?: readonly string[]): Workload[] {
  if (!names) return [...MIPS_WORKLOADS];
  return names.map((n) => {
    const w = MIPS_WORKLOADS.find((x) => x.name === n);
    if (!w) throw new RangeError(`unknown workload '${n}' (known: ${MIPS_WORKLOADS.map((x) => x.name).join(', ')})`);
    return w;
  });
}

/** hv / bare of one workload, from paired repeats. */
export interface MipsRatio {
  workload: string;
  /** Median over repeats of hv MIPS / bare MIPS in the same repeat, by CPU time. */
  hvOverBare: number;
  /** The middle half of those ratios (first and third quartile). */
  low: number;
  high: number;
  byRepeat: number[];
  /** The same median by wall time. */
  wallHvOverBare: number;
  /**
   * The best repeat of each engine, hv over bare, by CPU time: noise on a shared host only ever
   * adds time, so each engine's fastest repeat is the one least disturbed (a second estimate,
   * steadier when a noisy patch spoils whole pairs).
   */
  bestHvOverBare: number;
}

export interface MipsResult {
  kind: 'mips';
  node: string;
  quick: boolean;
  rows: MipsRow[];
  ratios: MipsRatio[];
}

/** Repeats (pairs) per workload: single ratios spread by 5-10 %, the median of 11 by about 3 %. */
const REPEATS = 11;

/** The first and third quartile (the values a quarter in from each end); NaN for no values. */
function middleHalf(xs: readonly number[]): [number, number] {
  const s = [...xs].sort((a, b) => a - b), last = s.length - 1;
  return s.length ? [s[Math.floor(last / 4)]!, s[Math.ceil((3 * last) / 4)]!] : [NaN, NaN];
}

function pairedRatio(workload: string, bare: MipsRow, hv: MipsRow): MipsRatio {
  const pairs = (a: number[], b: number[]) => a.map((x, i) => x / b[i]!).filter(Number.isFinite);
  const byRepeat = pairs(hv.cpuMipsByRepeat, bare.cpuMipsByRepeat);
  const wall = pairs(hv.mipsByRepeat, bare.mipsByRepeat);
  const [low, high] = middleHalf(byRepeat);
  // Each engine's fastest repeat that measured anything (NaN when none did, as a run too short
  // to measure in --quick on a busy host can be).
  const best = (xs: number[]): number => {
    const ok = measured(xs);
    return ok.length ? Math.max(...ok) : NaN;
  };
  const bestHvOverBare = best(hv.cpuMipsByRepeat) / best(bare.cpuMipsByRepeat);
  return { workload, hvOverBare: median(byRepeat), low, high, byRepeat, wallHvOverBare: median(wall), bestHvOverBare };
}

export async function measureMipsBareVsHv(o: { quick: boolean; workloads?: string[]; progress?: (l: string) => void }): Promise<MipsResult> {
  const rows = await measureMips({
    quick: o.quick, repeats: o.quick ? 1 : REPEATS, warmUp: !o.quick, engines: [trapvisorEngine('blocks'), hypervisorEngine('blocks')],
    workloads: findWorkloads(o.workloads), progress: o.progress,
  });
  const ratios = [...new Set(rows.map((x) => x.workload))].map((w) => {
    const [bare, hv] = rows.filter((x) => x.workload === w);
    return pairedRatio(w, bare!, hv!);
  });
  return { kind: 'mips', node: process.version, quick: o.quick, rows, ratios };
}

/**
 * The table: each engine's MIPS as the median of its repeats, and the paired ratio, all by CPU time
 * (the rows' `mips`, by wall time as `bench peers` measures, are in the JSON).
 */
export function formatMipsBareVsHv(r: MipsResult): string {
  const names = [...new Set(r.rows.map((x) => x.workload))];
  const rows = names.map((w) => {
    const bare = r.rows.find((x) => x.workload === w && x.engine === 'trapvisor')!;
    const hv = r.rows.find((x) => x.workload === w && x.engine === 'trapvisor-hv')!;
    const p = r.ratios.find((x) => x.workload === w)!;
    const mips = (row: MipsRow) => fmt(median(row.cpuMipsByRepeat.filter(Number.isFinite)), 1);
    const ok = Number.isFinite(p.hvOverBare);
    const half = r.quick || !ok ? '-' : `${fmt(p.low, 3)}-${fmt(p.high, 3)}`;
    const best = Number.isFinite(p.bestHvOverBare) ? `${fmt(p.bestHvOverBare, 3)}x` : '-';
    return [w, fmt(bare.instructions), mips(bare), mips(hv), ok ? `${fmt(p.hvOverBare, 3)}x` : '-', half, best, ok ? `${fmt((1 / p.hvOverBare - 1) * 100, 1)}%` : '-'];
  });
  return formatTable(['workload', 'instructions', 'bare MIPS', 'hypervisor MIPS', 'hv / bare', 'middle half', 'best / best', 'overhead'], rows);
}

/** The MIPS bars (also drawn for `bench peers`, whose result has no paired ratios). */
export function mipsChart(r: Omit<MipsResult, 'ratios'>): BarChart {
  const names = [...new Set(r.rows.map((x) => x.workload))];
  const engines = [...new Set(r.rows.map((x) => x.engine))];
  return {
    title: 'Guest MIPS', unit: 'million guest instructions per second',
    categories: names,
    series: engines.map((e) => ({ name: e, values: names.map((w) => r.rows.find((x) => x.workload === w && x.engine === e)?.mips ?? null) })),
    log: engines.some((e) => e.startsWith('v86')),
  };
}

/** ns per instruction of the ALU workload on the bare CPU (block compiler), for exit costs. */
export async function aluNsPerInstructionAsync(quick: boolean): Promise<number> {
  const rows = await measureMips({ quick, repeats: quick ? 1 : 5, engines: [trapvisorEngine('blocks')], workloads: [WORKLOADS[0]!] });
  return 1000 / rows[0]!.mips;
}
