/**
 * `trapvisor bench compare A.json B.json`: two results of the same benchmark side by side, figure
 * by figure, with the change from A to B (positive: B is larger).
 */
import { fmt, formatTable } from './stats.js';

interface Figure { key: string; metric: string; value: number; better: 'higher' | 'lower' }

type AnyResult = { kind?: string; rows?: Record<string, unknown>[]; ratios?: Record<string, unknown>[] };

/** The comparable figures of one result file. */
export function figuresOf(r: AnyResult): Figure[] {
  const rows = r.rows ?? [];
  const n = (x: unknown): number => (typeof x === 'number' ? x : NaN);
  switch (r.kind) {
    case 'exits':
      return rows.map((x) => ({ key: String(x.reason), metric: 'round trip ns', value: n(x.exitNs), better: 'lower' as const }));
    case 'fv-pv':
      return rows.flatMap((x) => [
        { key: String(x.build), metric: 'exits', value: n(x.exits), better: 'lower' as const },
        { key: String(x.build), metric: 'total ms', value: n(x.totalNs) / 1e6, better: 'lower' as const },
      ]);
    case 'scale':
      return rows.flatMap((x) => [
        { key: `${x.guests} guests`, metric: 'aggregate MIPS', value: n(x.aggregateMips), better: 'higher' as const },
        { key: `${x.guests} guests`, metric: "Jain's index", value: n(x.jain), better: 'higher' as const },
      ]);
    default: // mips, peers and the older bench/mips.ts files (no kind)
      return [
        ...rows.map((x) => ({ key: `${x.workload} ${x.engine}`, metric: 'MIPS', value: n(x.mips), better: 'higher' as const })),
        // bench mips: the paired hypervisor / bare ratio (files from before it have none).
        ...(r.ratios ?? []).map((x) => ({ key: String(x.workload), metric: 'hv / bare', value: n(x.hvOverBare), better: 'higher' as const })),
      ];
  }
}

export function compareResults(a: AnyResult, b: AnyResult): string {
  if ((a.kind ?? 'mips') !== (b.kind ?? 'mips')) throw new RangeError(`cannot compare a '${a.kind ?? 'mips'}' result with a '${b.kind ?? 'mips'}' result`);
  const fa = figuresOf(a), fb = figuresOf(b);
  const rows = fa.flatMap((x) => {
    const y = fb.find((f) => f.key === x.key && f.metric === x.metric);
    if (!y) return [];
    const change = (y.value / x.value - 1) * 100;
    const verdict = !Number.isFinite(change) || Math.abs(change) < 5 ? 'same' : (change > 0) === (x.better === 'higher') ? 'better' : 'worse';
    const digits = Math.abs(x.value) < 10 ? 3 : 1; // ratios need their decimals
    return [[x.key, x.metric, fmt(x.value, digits), fmt(y.value, digits), `${change >= 0 ? '+' : ''}${fmt(change, 1)}%`, verdict]];
  });
  return formatTable(['what', 'figure', 'A', 'B', 'change', 'B vs A (5% noise band)'], rows);
}
