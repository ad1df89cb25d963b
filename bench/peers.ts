/**
 * `trapvisor bench peers`: the compute workloads on trapvisor's two CPU tiers (bare), on v86 (the
 * npm package, Multiboot, no BIOS) with its JIT off and on, and on qemu-system-i386 (TCG) where it
 * is installed, in one run; start-up removed by subtracting a minimal run of the same image
 * (bench/mips.ts).
 */
import { qemuAvailable, qemuEngine, QEMU, trapvisorEngine, v86Engine, v86Files, type Engine } from './engines.js';
import { measureMips, type MipsRow } from './mips.js';
import { findWorkloads } from './mips-hv.js';
import { fmt, formatTable } from './stats.js';

export interface PeersResult { kind: 'peers'; node: string; quick: boolean; rows: MipsRow[]; missing: string[] }

export async function measurePeers(o: { quick: boolean; workloads?: string[]; progress?: (l: string) => void }): Promise<PeersResult> {
  const engines: Engine[] = [trapvisorEngine('blocks'), trapvisorEngine('interpret')];
  const missing: string[] = [];
  if (v86Files()) engines.push(v86Engine(false), v86Engine(true));
  else missing.push('v86 (npm install --include=dev)');
  if (qemuAvailable()) engines.push(qemuEngine());
  else missing.push(`${QEMU} (apt-get install qemu-system-x86)`);
  const rows = await measureMips({ quick: o.quick, repeats: o.quick ? 1 : 5, engines, workloads: findWorkloads(o.workloads), progress: o.progress });
  return { kind: 'peers', node: process.version, quick: o.quick, rows, missing };
}

export function formatPeers(r: PeersResult): string {
  const engines = [...new Set(r.rows.map((x) => x.engine))];
  const names = [...new Set(r.rows.map((x) => x.workload))];
  const qemu = engines.includes('qemu-tcg');
  const get = (w: string, e: string): number | undefined => r.rows.find((x) => x.workload === w && x.engine === e)?.mips;
  const ratio = (a?: number, b?: number): string => (a !== undefined && b !== undefined && Number.isFinite(a / b) ? `${fmt(a / b, 2)}x` : '-');
  const rows = names.map((w) => [
    w, ...engines.map((e) => fmt(get(w, e) ?? NaN, 1)),
    ratio(get(w, 'trapvisor-interp'), get(w, 'v86-interp')), ratio(get(w, 'trapvisor'), get(w, 'v86-interp')), ratio(get(w, 'trapvisor'), get(w, 'v86-jit')),
    ...(qemu ? [ratio(get(w, 'trapvisor'), get(w, 'qemu-tcg'))] : []),
  ]);
  return formatTable(['workload', ...engines.map((e) => `${e} MIPS`), 'interp / v86-interp', 'trapvisor / v86-interp', 'trapvisor / v86-jit', ...(qemu ? ['trapvisor / qemu-tcg'] : [])], rows)
    + (r.missing.length ? `not measured: ${r.missing.join(', ')}\n` : '');
}
