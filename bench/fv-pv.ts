/**
 * `trapvisor bench fv-pv`: the multitasking kernel (guests/kernel/kernel.asm) built full-
 * virtualized and paravirtualized, each run under the hypervisor: exits per reason, how many of
 * them the exit fast path completed in place (and of those inline), wall time spent handling
 * them, total run time, instructions and virtual time, side by side.
 */
import { buildGuest } from './build-guest.js';
import { runUnderHypervisor } from './hv-run.js';
import { median, fmt, formatTable } from './stats.js';
import type { BarChart } from './svg.js';

export interface FvPvRow {
  build: 'FV' | 'PV';
  instructions: number;
  exits: number;
  exitsByReason: Record<string, number>;
  /** Exits completed in place by the exit fast path (the guest resumed without the round trip). */
  inPlace: number;
  /** Of those, the ones completed inline, in the compiled block (InlineExits). */
  inline: number;
  /** Handler time (vm.exitStats), median run. */
  handlerNs: number;
  totalNs: number;
  totalNsRepeats: number[];
  status: number;
}

export interface FvPvResult { kind: 'fv-pv'; node: string; quick: boolean; rows: FvPvRow[] }

export function measureFvPv(o: { quick: boolean; progress?: (l: string) => void }): FvPvResult {
  const repeats = o.quick ? 1 : 5;
  const rows: FvPvRow[] = [];
  for (const build of ['FV', 'PV'] as const) {
    o.progress?.(`kernel, ${build} build...`);
    const image = buildGuest('guests/kernel/kernel.asm', build === 'PV' ? { PV: '1' } : {}, ['guests/lib', 'guests/kernel']);
    const runs = [];
    for (let i = 0; i < repeats; i++) {
      const r = runUnderHypervisor([{ name: `kernel-${build.toLowerCase()}`, image, memory: 64 << 20 }]);
      const s = r.guests[0]!;
      if (s.stop?.kind !== 'exit') throw new Error(`kernel (${build}) stopped with ${JSON.stringify(s.stop)}`);
      runs.push(r);
    }
    const times = runs.map((r) => r.nanoseconds);
    const mid = runs[times.indexOf([...times].sort((a, b) => a - b)[times.length >> 1]!)]!;
    const s = mid.guests[0]!;
    const exitsByReason: Record<string, number> = {};
    let exits = 0, handlerNs = 0, inPlace = 0, inline = 0;
    for (const [name, e] of Object.entries(s.exits)) { exitsByReason[name] = e.count; exits += e.count; handlerNs += e.handlerNs; inPlace += e.inPlace; inline += e.inline; }
    rows.push({
      build, instructions: s.instructions, exits, exitsByReason, inPlace, inline, handlerNs, totalNs: median(times), totalNsRepeats: times,
      status: s.stop?.kind === 'exit' ? s.stop.status : -1,
    });
  }
  return { kind: 'fv-pv', node: process.version, quick: o.quick, rows };
}

export function formatFvPv(r: FvPvResult): string {
  const reasons = [...new Set(r.rows.flatMap((x) => Object.keys(x.exitsByReason)))].sort();
  const header = ['build', 'instructions', 'exits', ...reasons, 'in place', 'of those inline', 'time in handlers ms', 'total ms'];
  const rows = r.rows.map((x) => [
    x.build, fmt(x.instructions), fmt(x.exits), ...reasons.map((k) => fmt(x.exitsByReason[k] ?? 0)), fmt(x.inPlace ?? 0), fmt(x.inline ?? 0),
    fmt(x.handlerNs / 1e6, 2), fmt(x.totalNs / 1e6, 1),
  ]);
  return formatTable(header, rows);
}

export function fvPvChart(r: FvPvResult): BarChart {
  return {
    title: 'Kernel: full virtualization vs paravirtualization', unit: 'exits, and total run time in ms',
    categories: r.rows.map((x) => x.build),
    series: [{ name: 'exits', values: r.rows.map((x) => x.exits) }, { name: 'ms', values: r.rows.map((x) => x.totalNs / 1e6) }],
  };
}
