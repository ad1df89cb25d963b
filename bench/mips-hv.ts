/**
 * `trapvisor bench mips`: guest MIPS of the compute workloads on the bare CPU and under the
 * hypervisor (non-root mode, EPT, the scheduler's preemption-timer slices), measured in one run
 * so the virtualization overhead is a ratio. Counts are exact (bench/workloads.ts) and are checked
 * against the emulator's counter on both.
 */
import { trapvisorEngine, type Engine } from './engines.js';
import { runUnderHypervisor } from './hv-run.js';
import { measureMips, type MipsRow } from './mips.js';
import { fmt, formatTable } from './stats.js';
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

export interface MipsResult {
  kind: 'mips';
  node: string;
  quick: boolean;
  rows: MipsRow[];
}

export async function measureMipsBareVsHv(o: { quick: boolean; workloads?: string[]; progress?: (l: string) => void }): Promise<MipsResult> {
  const rows = await measureMips({
    quick: o.quick, repeats: o.quick ? 1 : 5, engines: [trapvisorEngine('blocks'), hypervisorEngine('blocks')],
    workloads: findWorkloads(o.workloads), progress: o.progress,
  });
  return { kind: 'mips', node: process.version, quick: o.quick, rows };
}

export function formatMipsBareVsHv(r: MipsResult): string {
  const names = [...new Set(r.rows.map((x) => x.workload))];
  const rows = names.map((w) => {
    const bare = r.rows.find((x) => x.workload === w && x.engine === 'trapvisor')!;
    const hv = r.rows.find((x) => x.workload === w && x.engine === 'trapvisor-hv')!;
    const ratio = hv.mips / bare.mips;
    return [w, fmt(bare.instructions), fmt(bare.mips, 1), fmt(hv.mips, 1), Number.isFinite(ratio) ? `${fmt(ratio, 3)}x` : '-', Number.isFinite(ratio) ? `${fmt((1 / ratio - 1) * 100, 1)}%` : '-'];
  });
  return formatTable(['workload', 'instructions', 'bare MIPS', 'hypervisor MIPS', 'hv / bare', 'overhead'], rows);
}

export function mipsChart(r: MipsResult): BarChart {
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
