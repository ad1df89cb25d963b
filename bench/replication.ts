/**
 * The cost of fault tolerance (hypervisor/replication.ts) against the epoch length: a guest that
 * dirties memory forever (guests/bench/migration/dirtier.asm, at a light and a heavy rate) runs
 * unreplicated, then replicated to a backup in the same process (two hypervisors, messages
 * through JSON as over the wire, no socket) for each epoch length. Reports guest MIPS with and without replication (in steady state: the first checkpoint,
 * every non-zero page once, is shown on its own), the overhead, pages and KiB per epoch, and the
 * pause per epoch (the guest waits while its checkpoint is collected, sent and acknowledged), also
 * in guest instructions (the pause at the guest's own rate). Times are the process's CPU time (this
 * machine is shared; everything runs on the one thread). Each figure is the median of 3 runs.
 *   node scripts/run-ts.mjs bench/replication.ts [--quick]
 * Prints a table, writes bench/results/replication-DATE.json and replication-DATE.svg.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble } from '../assembler/index.js';
import { Hypervisor } from '../hypervisor/hypervisor.js';
import { localReplicationChannel, OutputCommit, replicate, ReplicationBackup } from '../hypervisor/replication.js';
import { formatTable, median } from './stats.js';
import { barChartSvg } from './svg.js';

const ROOT = process.cwd(); // run from the repository root (npm run bench does)
const SOURCE = join(ROOT, 'guests', 'bench', 'migration', 'dirtier.asm');
const MEMORY = 16 << 20;
const quick = process.argv.includes('--quick');
const REPEATS = quick ? 1 : 3;
/** Guest instructions of the unreplicated runs. */
const INSTRUCTIONS = quick ? 4_000_000 : 20_000_000;
const EPOCHS = quick ? [100_000, 1_000_000] : [10_000, 100_000, 1_000_000, 10_000_000];
/** Guest instructions of a replicated run: 300 short epochs, at least 20 long ones. */
const replicatedInstructions = (epoch: number) => (quick ? INSTRUCTIONS : Math.min(Math.max(20 * epoch, INSTRUCTIONS), 300 * epoch));

interface Workload { name: string; writes: number; spin: number }
const WORKLOADS: Workload[] = [
  { name: 'light', writes: 4, spin: 4000 },
  { name: 'heavy', writes: 64, spin: 250 },
];
/** Dirtying stores per 1,000 guest instructions (the guest's loop: 9 per store, 2 per spin, 2 more per step). */
const storesPerKilo = (w: Workload) => (1000 * w.writes) / (w.writes * 9 + w.spin * 2 + 2);

interface Row {
  workload: string;
  storesPerKiloInstruction: number;
  epoch: number | null;
  mips: number;
  /** Guest MIPS between pauses (what dirty tracking costs the running guest: its translations are dropped every epoch). */
  runMips: number | null;
  overheadPercent: number | null;
  epochs: number | null;
  pagesPerEpoch: number | null;
  kibPerEpoch: number | null;
  pauseMs: number | null;
  pauseInstructions: number | null;
  /** The first checkpoint (every non-zero page): its pages and pause, outside the steady-state MIPS. */
  firstPages: number | null;
  firstMs: number | null;
}

function build(w: Workload): Uint8Array {
  return assemble(readFileSync(SOURCE, 'utf8'), { fileName: SOURCE, includePaths: [join(ROOT, 'guests', 'lib')], defines: { WRITES: String(w.writes), SPIN: String(w.spin), BUFFER_MIB: '4' } }).binary;
}

function boot(image: Uint8Array, console?: (b: Uint8Array) => void) {
  const hv = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
  const vm = hv.createVm({ name: 'dirtier', memory: MEMORY, console });
  hv.bootMultiboot(vm, image);
  return { hv, vm };
}

/** Milliseconds of CPU time this process has used: the machine is shared, and the work is all on this thread. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function plain(image: Uint8Array): number {
  const { hv } = boot(image);
  const t0 = cpuMs();
  hv.run(INSTRUCTIONS);
  return hv.guestInstructions / ((cpuMs() - t0) * 1000);
}

async function replicated(image: Uint8Array, epoch: number) {
  const output = new OutputCommit(() => {});
  const { hv, vm } = boot(image, output.write);
  const r = await replicate(hv, vm, localReplicationChannel(new ReplicationBackup()), output, { epoch, budget: replicatedInstructions(epoch), clock: cpuMs });
  if (!r.ok) throw new Error(`replication failed: ${r.error}`);
  const epochs = r.epochs.slice(1);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // Steady state: the first checkpoint (every non-zero page, once) is reported on its own.
  const first = r.epochs[0]!;
  return {
    mips: (hv.guestInstructions - first.at) / ((r.totalMs - first.pauseMs) * 1000),
    runMips: epochs.reduce((n, e) => n + e.instructions, 0) / (epochs.reduce((n, e) => n + e.runMs, 0) * 1000), epochs: epochs.length, firstMs: first.pauseMs, firstPages: first.pages,
    pages: mean(epochs.map((e) => e.pages)), kib: mean(epochs.map((e) => e.bytes)) / 1024,
    pauseMs: mean(epochs.map((e) => e.pauseMs)), pauseInstructions: mean(epochs.map((e) => e.pauseInstructions ?? 0)),
  };
}

const rows: Row[] = [];
for (const w of WORKLOADS) {
  const image = build(w);
  plain(image); plain(image); // warm the compiler's caches for this guest
  // Repeats go round all the settings (A B C, A B C, ...) so a slow patch of this shared machine
  // hits each of them alike.
  const bases: number[] = [];
  const runs = new Map<number, Awaited<ReturnType<typeof replicated>>[]>(EPOCHS.map((e) => [e, []]));
  for (let i = 0; i < REPEATS; i++) {
    bases.push(plain(image));
    for (const epoch of EPOCHS) {
      process.stderr.write(`replication: ${w.name}, epochs of ${epoch} instructions (run ${i + 1} of ${REPEATS})...\n`);
      runs.get(epoch)!.push(await replicated(image, epoch));
    }
  }
  const base = median(bases);
  rows.push({ workload: w.name, storesPerKiloInstruction: storesPerKilo(w), epoch: null, mips: base, runMips: null, overheadPercent: null, epochs: null, pagesPerEpoch: null, kibPerEpoch: null, pauseMs: null, pauseInstructions: null, firstPages: null, firstMs: null });
  for (const epoch of EPOCHS) {
    const pick = (f: (r: Awaited<ReturnType<typeof replicated>>) => number) => median(runs.get(epoch)!.map(f));
    const mips = pick((r) => r.mips);
    rows.push({
      workload: w.name, storesPerKiloInstruction: storesPerKilo(w), epoch, mips, runMips: pick((r) => r.runMips), overheadPercent: 100 * (1 - mips / base),
      epochs: pick((r) => r.epochs), pagesPerEpoch: pick((r) => r.pages), kibPerEpoch: pick((r) => r.kib),
      pauseMs: pick((r) => r.pauseMs), pauseInstructions: pick((r) => r.pauseInstructions),
      firstPages: pick((r) => r.firstPages), firstMs: pick((r) => r.firstMs),
    });
  }
}

const f = (x: number | null, d = 0) => (x === null ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
console.log(formatTable(
  ['workload', 'stores/1k insn', 'epoch (insn)', 'guest MIPS', 'overhead', 'MIPS between pauses', 'epochs', 'pages/epoch', 'KiB/epoch', 'pause ms', 'pause (insn)', 'first checkpoint'],
  rows.map((r) => [r.workload, f(r.storesPerKiloInstruction, 2), r.epoch === null ? 'unreplicated' : f(r.epoch), f(r.mips, 1), r.overheadPercent === null ? '-' : `${r.overheadPercent.toFixed(0)} %`, f(r.runMips, 1),
    f(r.epochs), f(r.pagesPerEpoch, 1), f(r.kibPerEpoch, 1), f(r.pauseMs, 2), f(r.pauseInstructions), r.firstMs === null ? '-' : `${f(r.firstPages)} pages, ${f(r.firstMs, 1)} ms`]),
));
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = join(ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `replication-${stamp}.json`), JSON.stringify({ kind: 'replication', quick, instructions: INSTRUCTIONS, replicatedInstructions: Object.fromEntries(EPOCHS.map((e) => [e, replicatedInstructions(e)])), repeats: REPEATS, rows }, null, 2));
writeFileSync(join(dir, `replication-${stamp}.svg`), barChartSvg({
  title: 'Guest MIPS replicated (Remus-style) against the epoch length',
  unit: 'million guest instructions per second; "unreplicated" is the same guest alone',
  categories: ['unreplicated', ...EPOCHS.map((e) => `epoch ${f(e)}`)],
  series: WORKLOADS.map((w) => ({ name: w.name, values: rows.filter((r) => r.workload === w.name).map((r) => r.mips) })),
}));
console.log(`wrote bench/results/replication-${stamp}.json and .svg`);
