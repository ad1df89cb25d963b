/**
 * Decoder and disassembler throughput: decodes (and, separately, disassembles to text) two kinds
 * of code: the golden corpus (test/golden/corpus/*.bin: every instruction form of the table, in
 * 16- and 32-bit code) and the kernel-like code the assembler benchmark generates (the common
 * shapes). Warm-up, then the median of several runs.
 *
 *   node scripts/run-ts.mjs bench/decoder.ts
 *
 * Prints a small table and writes bench/results/decoder-<timestamp>.json.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assemble } from '../assembler/index.js';
import { disassemble } from '../assembler/disasm/format.js';
import { decodeBytes } from '../emulator/isa/decoder.js';
import { benchmarkSource } from './assembler.js';
import { formatTable, fmt, median } from './stats.js';

export interface DecoderRow {
  code: string; bytes: number; instructions: number; disassembledLines: number;
  decodeMs: number; decodePerSecond: number; disassembleMs: number; disassemblePerSecond: number;
}

interface Code { name: string; bits: 16 | 32; bytes: Uint8Array }

/**
 * Decodes `code` from start to end as the disassembler walks it (an undecodable byte is one
 * `db`); returns how many instructions and bytes-as-data it went through.
 */
function decodeAll(code: Code): number {
  let n = 0;
  for (let at = 0; at < code.bytes.length; n++) {
    const r = decodeBytes(code.bytes, at, code.bits);
    at += 'fault' in r ? 1 : r.length;
  }
  return n;
}

function timeRuns(f: () => number, runs: number, warmup: number): { ms: number; count: number } {
  let count = f();
  for (let k = 1; k < warmup; k++) count = f();
  const times: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = process.hrtime.bigint();
    f();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: median(times), count };
}

/** Decode and disassembly throughput over the golden corpus and kernel-like code. */
export function measureDecoder(runs = 9, warmup = 3): DecoderRow[] {
  const dir = join('test', 'golden', 'corpus');
  const corpus: Code[] = readdirSync(dir).filter((f) => f.endsWith('.bin')).sort()
    .map((f) => ({ name: f, bits: f.startsWith('bits16') ? 16 as const : 32 as const, bytes: new Uint8Array(readFileSync(join(dir, f))) }));
  const kernelLike: Code = { name: 'assembler benchmark source', bits: 32, bytes: assemble(benchmarkSource(5000), { fileName: 'bench.asm' }).binary };
  const sets: { name: string; codes: Code[] }[] = [
    { name: `golden corpus (${corpus.length} files, every form)`, codes: corpus },
    { name: 'kernel-like code (5,000-line source)', codes: [kernelLike] },
  ];
  return sets.map((set) => {
    const bytes = set.codes.reduce((a, c) => a + c.bytes.length, 0);
    const dec = timeRuns(() => set.codes.reduce((a, c) => a + decodeAll(c), 0), runs, warmup);
    const dis = timeRuns(() => set.codes.reduce((a, c) => a + disassemble(c.bytes, 0, c.bits).length, 0), runs, warmup);
    return {
      code: set.name, bytes, instructions: dec.count, disassembledLines: dis.count,
      decodeMs: dec.ms, decodePerSecond: dec.count / (dec.ms / 1000),
      disassembleMs: dis.ms, disassemblePerSecond: dis.count / (dis.ms / 1000),
    };
  });
}

const RUNS = 9, WARMUP = 3;

function main(): void {
  const rows = measureDecoder(RUNS, WARMUP);
  console.log('decoder benchmark');
  console.log(formatTable(['code', 'bytes', 'instructions', 'decode ms', 'decoded/s', 'disassemble ms', 'disassembled/s'],
    rows.map((r) => [r.code, fmt(r.bytes), fmt(r.instructions), fmt(r.decodeMs, 2), fmt(r.decodePerSecond), fmt(r.disassembleMs, 2), fmt(r.disassemblePerSecond)])).trimEnd());
  const result = { benchmark: 'decoder', runs: RUNS, warmup: WARMUP, rows, node: process.version, date: new Date().toISOString() };
  mkdirSync('bench/results', { recursive: true });
  const path = `bench/results/decoder-${result.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
  console.log(`  wrote ${path}`);
}

if (process.argv[1]?.endsWith('decoder.ts')) main();
