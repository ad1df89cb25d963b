/**
 * Live migration against the guest's dirtying rate: for each rate, a guest that dirties memory
 * forever (guests/bench/migration/dirtier.asm) runs a while, then is migrated in one process
 * between two hypervisors by pre-copy (hypervisor/migration.ts). Reports rounds, pages sent per
 * round, total bytes and time, and downtime (the stop-and-copy window) in ms and in guest
 * instructions, and whether pre-copy converged; shows where it stops converging.
 *   node scripts/run-ts.mjs bench/migration.ts [--quick]
 * Prints a table, writes bench/results/migration-DATE.json and migration-DATE.svg.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble } from '../assembler/index.js';
import { Hypervisor } from '../hypervisor/hypervisor.js';
import { localChannel, migrateOut, MigrationReceiver } from '../hypervisor/migration.js';

const ROOT = process.cwd(); // run from the repository root (npm run bench does)
const SOURCE = join(ROOT, 'guests', 'bench', 'migration', 'dirtier.asm');
const MEMORY = 16 << 20;
const quick = process.argv.includes('--quick');

interface Row {
  writesPerStep: number;
  dirtyStoresPerKiloInstruction: number;
  rounds: number;
  pagesPerRound: number[];
  kib: number;
  totalMs: number;
  downtimeMs: number;
  downtimeInstructions: number;
  finalPages: number;
  converged: boolean;
}

function build(writes: number): Uint8Array {
  return assemble(readFileSync(SOURCE, 'utf8'), { fileName: SOURCE, includePaths: [join(ROOT, 'guests', 'lib')], defines: { WRITES: String(writes), SPIN: '2000', BUFFER_MIB: '4' } }).binary;
}

async function measure(writes: number): Promise<Row> {
  const src = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
  const dst = new Hypervisor({ ramSize: MEMORY + (8 << 20) });
  const vm = src.createVm({ name: 'dirtier', memory: MEMORY });
  src.bootMultiboot(vm, build(writes));
  src.run(quick ? 200_000 : 2_000_000);
  const receiver = new MigrationReceiver(dst);
  const r = await migrateOut(src, vm, localChannel(receiver), { instructionsPerPage: 3_200, threshold: 16, maxRounds: quick ? 5 : 30 });
  if (!r.ok || !receiver.done) throw new Error(`migration failed: ${r.error}`);
  dst.run(100_000); // the guest goes on at the destination
  const perStep = writes * 9 + 2000 * 2 + 2;
  return {
    writesPerStep: writes, dirtyStoresPerKiloInstruction: (1000 * writes) / perStep,
    rounds: r.rounds, pagesPerRound: r.pagesPerRound, kib: r.bytes / 1024, totalMs: r.totalMs,
    downtimeMs: r.downtimeMs, downtimeInstructions: r.downtimeInstructions,
    finalPages: r.pagesPerRound[r.pagesPerRound.length - 1]!, converged: r.converged,
  };
}

function chart(rows: Row[]): string {
  const w = 640, h = 320, left = 60, bottom = 40, top = 20;
  const maxDown = Math.max(...rows.map((r) => r.downtimeMs), 1);
  const x = (i: number) => left + (i + 0.5) * ((w - left - 20) / rows.length);
  const y = (v: number) => h - bottom - (v / maxDown) * (h - bottom - top);
  const bars = rows.map((r, i) => {
    const bw = ((w - left - 20) / rows.length) * 0.6;
    return `<rect x="${x(i) - bw / 2}" y="${y(r.downtimeMs)}" width="${bw}" height="${h - bottom - y(r.downtimeMs)}" fill="${r.converged ? '#4a8' : '#d54'}"/>`
      + `<text x="${x(i)}" y="${h - bottom + 15}" font-size="11" text-anchor="middle">${r.dirtyStoresPerKiloInstruction.toFixed(1)}</text>`
      + `<text x="${x(i)}" y="${y(r.downtimeMs) - 4}" font-size="10" text-anchor="middle">${r.downtimeMs.toFixed(1)} ms</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">`
    + `<text x="${w / 2}" y="14" font-size="13" text-anchor="middle">migration downtime vs dirtying rate (green: pre-copy converged, red: stopped converging)</text>`
    + `<line x1="${left}" y1="${h - bottom}" x2="${w - 10}" y2="${h - bottom}" stroke="#000"/>`
    + `<text x="${w / 2}" y="${h - 5}" font-size="11" text-anchor="middle">dirtying stores per 1,000 guest instructions</text>`
    + `${bars}</svg>\n`;
}

const rates = quick ? [1, 64] : [1, 2, 3, 4, 16, 64, 256, 1024, 4096];
const rows: Row[] = [];
for (const writes of rates) {
  process.stderr.write(`migration: ${writes} writes per step...\n`);
  rows.push(await measure(writes));
}
const header = ['stores/1k insn', 'rounds', 'pages per round', 'KiB', 'total ms', 'downtime ms', 'downtime insn', 'converged'];
console.log(header.join(' | '));
for (const r of rows) {
  console.log([r.dirtyStoresPerKiloInstruction.toFixed(2), r.rounds, r.pagesPerRound.join(' '), r.kib.toFixed(0), r.totalMs.toFixed(1), r.downtimeMs.toFixed(2), r.downtimeInstructions, r.converged ? 'yes' : 'no'].join(' | '));
}
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = join(ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `migration-${stamp}.json`), JSON.stringify({ kind: 'migration', quick, rows }, null, 2));
writeFileSync(join(dir, `migration-${stamp}.svg`), chart(rows));
console.log(`wrote bench/results/migration-${stamp}.json and .svg`);
