/** Small statistics for the benchmarks: medians over repeats, spread, Jain's fairness index; a CPU clock. */
import { readFileSync } from 'node:fs';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The figures that measured something: finite and positive (a run too short to measure gives NaN). */
export function measured(xs: readonly number[]): number[] {
  return xs.filter((x) => Number.isFinite(x) && x > 0);
}

/** (max - min) / median: how far apart the repeats were, as a fraction. */
export function relativeSpread(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  return (Math.max(...xs) - Math.min(...xs)) / Math.abs(median(xs));
}

/** Jain's fairness index (sum x)^2 / (n * sum x^2): 1 when every share is equal, 1/n at worst. */
export function jainIndex(xs: readonly number[]): number {
  let s = 0, s2 = 0;
  for (const x of xs) { s += x; s2 += x * x; }
  return s2 === 0 ? 1 : (s * s) / (xs.length * s2);
}

/** Wall time of `f` in ns (process.hrtime.bigint). */
export function timeNs<T>(f: () => T): { ns: number; value: T } {
  const t0 = process.hrtime.bigint();
  const value = f();
  return { ns: Number(process.hrtime.bigint() - t0), value };
}

/** A markdown-style table with right-aligned numeric columns. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d,.]+(x|%| ?[a-zµ]+)?$|^-$/.test(r[i]!)));
  const cell = (s: string, i: number) => numeric[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!);
  const line = (r: readonly string[]) => `| ${r.map(cell).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (numeric[i] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n') + '\n';
}

/** A number with thousands separators and `digits` decimals. */
export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return '-';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * CPU time of the main thread so far, ns: the scheduler's count in /proc/thread-self/schedstat
 * where Linux has it, else the whole process's (process.cpuUsage, which also counts V8's compiler
 * and GC threads: 4-6 % on top of a run here, a point more for the hypervisor's runs, which
 * allocate more memory around the guest; that is the benchmark's doing, not virtualization's).
 */
export const mainThreadCpuNs: () => number = (() => {
  try {
    const read = (): number => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    if (Number.isFinite(read())) return read;
  } catch { /* not Linux */ }
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000;
  };
})();
