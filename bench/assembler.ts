/**
 * Assembler throughput: assembles a generated 5,000-line source (instructions of every common
 * shape, data, macros, local labels and forward jumps), warm-up then the median of several runs.
 *
 *   node scripts/run-ts.mjs bench/assembler.ts
 *
 * Prints a small table and writes bench/results/assembler-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { assemble } from '../assembler/index.js';

const LINES = 5000;
const WARMUP = 3;
const RUNS = 9;

/** A source of about `lines` lines that looks like kernel code. */
export function benchmarkSource(lines: number): string {
  const out = ['bits 32', 'org 0x100000', '%macro OUTB 2', '        mov dx, %1', '        mov al, %2', '        out dx, al', '%endmacro', '%define SCRATCH 0x2000'];
  const body = [
    'mov eax, [ebx+ecx*4+8]', 'add eax, 1', 'add ebx, 0x1000', 'sub ecx, edx', 'xor esi, esi', 'lea edi, [esi+eax*2+SCRATCH]',
    'push ebp', 'mov ebp, esp', 'cmp eax, 0x7F', 'jz .skip', 'imul eax, ebx, 12', 'shl edx, 3', 'test al, 0x80',
    'mov byte [edi], 5', 'movzx eax, byte [esi]', 'jnz .loop', 'pop ebp', 'OUTB 0x3F8, 65', 'db "text", 0', 'dd .loop, SCRATCH',
  ];
  let n = 0;
  while (out.length < lines) {
    out.push(`func${n}:`, '.loop:');
    for (const line of body) out.push(`        ${line}`);
    out.push('.skip:  ret', `        jmp func${n + 1}`);
    n++;
  }
  out.push(`func${n}: ret`);
  return out.join('\n') + '\n';
}

function main(): void {
  const source = benchmarkSource(LINES);
  const lineCount = source.split('\n').length - 1;
  let bytes = 0;
  for (let k = 0; k < WARMUP; k++) bytes = assemble(source, { fileName: 'bench.asm' }).binary.length;
  const times: number[] = [];
  let passes = 0;
  for (let k = 0; k < RUNS; k++) {
    const t0 = process.hrtime.bigint();
    passes = assemble(source, { fileName: 'bench.asm' }).passes;
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  const result = {
    benchmark: 'assembler', lines: lineCount, bytes, passes, runs: RUNS, warmup: WARMUP,
    medianMs: Number(median.toFixed(2)), minMs: Number(times[0]!.toFixed(2)), maxMs: Number(times[times.length - 1]!.toFixed(2)),
    linesPerSecond: Math.round(lineCount / (median / 1000)), node: process.version, date: new Date().toISOString(),
  };
  console.log('assembler benchmark');
  console.log(`  source        ${result.lines} lines -> ${result.bytes} bytes (${result.passes} passes)`);
  console.log(`  median        ${result.medianMs} ms   (min ${result.minMs}, max ${result.maxMs}, ${RUNS} runs)`);
  console.log(`  throughput    ${result.linesPerSecond.toLocaleString('en-US')} lines/s`);
  mkdirSync('bench/results', { recursive: true });
  const path = `bench/results/assembler-${result.date.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
  console.log(`  wrote         ${path}`);
}

// Also imported (bench/decoder.ts uses benchmarkSource): run only as the script itself.
if (process.argv[1]?.endsWith('assembler.ts')) main();
