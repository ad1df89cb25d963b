/**
 * `trapvisor demo` (what `npm start` runs): assembles the compute workloads in guests/bench with
 * trapvisor's own assembler, boots each as a Multiboot image on the bare CPU, checks its result and
 * exact instruction count, and disassembles the start of one. It grows with the project.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { Chalk } from 'chalk';
import { assemble } from '../../assembler/index.js';
import { disassemble } from '../../assembler/disasm/format.js';
import { Cpu } from '../../emulator/cpu/cpu.js';
import { enterFlatProtectedMode } from '../../emulator/cpu/segments.js';
import { MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from '../loader/multiboot.js';
import { crcResult, WORKLOADS } from '../../bench/workloads.js';
import { runAction } from './errors.js';

/** The project root (where guests/ lives), from the bundled CLI or from the sources. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'guests', 'lib')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

const SMALL_SIZES: Record<string, number> = { alu: 100_000, mem: 1, branchy: 2_000, call: 20 };
const EXPECTED_EAX: Record<string, (n: number) => number> = {
  call: (n) => { let a = 0, b = 1; for (let i = 0; i < n; i++) [a, b] = [b, a + b]; return a; },
  branchy: (n) => crcResult(n),
};

export function runDemo(out: (s: string) => void, color: boolean): number {
  const chalk = new Chalk({ level: color ? 1 : 0 });
  const root = projectRoot();
  out(chalk.bold('trapvisor demo: guests assembled by trapvisor, run on its own IA-32 CPU\n\n'));
  let failures = 0;
  for (const w of WORKLOADS) {
    const n = SMALL_SIZES[w.name]!;
    const path = join(root, w.source);
    const result = assemble(readFileSync(path, 'utf8'), { fileName: w.source, includePaths: [join(root, 'guests', 'lib')], defines: w.defines(n) });
    const image = parseMultiboot(result.binary);
    const cpu = new Cpu({ ramSize: 16 << 20 });
    enterFlatProtectedMode(cpu);
    for (const s of image.segments) cpu.mem.load(s.address, s.data);
    cpu.eip = image.entry;
    cpu.r[0] = MULTIBOOT_BOOTLOADER_MAGIC | 0;
    const stop = cpu.run(1e9);
    const eax = cpu.r[0]! >>> 0;
    // BENCH_DONE sends 'D' (0x44) through AL, so the result keeps only its upper 24 bits in EAX.
    const expected = EXPECTED_EAX[w.name]?.(n);
    const want = expected === undefined ? undefined : ((expected & ~0xff) | 0x44) >>> 0;
    const countOk = cpu.icount === w.instructions(n);
    const ok = stop.kind === 'halted' && countOk && (want === undefined || want === eax);
    if (!ok) failures++;
    out(`${ok ? chalk.green('ok  ') : chalk.red('FAIL')} ${w.name.padEnd(8)} ${w.description.padEnd(48)} `
      + `${result.binary.length} bytes, ${cpu.icount.toLocaleString('en-US')} instructions`
      + `${countOk ? '' : ` (model says ${w.instructions(n)})`}, EAX=0x${eax.toString(16)}\n`);
  }
  const alu = assemble(readFileSync(join(root, 'guests/bench/alu.asm'), 'utf8'), { fileName: 'alu.asm', includePaths: [join(root, 'guests', 'lib')] });
  const labels = new Map(alu.symbols.symbols.map((s) => [s.address >>> 0, s.name] as const));
  out(chalk.bold('\ndisassembly of guests/bench/alu.asm after its Multiboot header:\n'));
  for (const line of disassemble(alu.binary.subarray(32), alu.origin + 32, 32, (a) => labels.get(a)).slice(0, 12)) {
    if (line.label) out(chalk.cyan(`${line.label}:\n`));
    out(`  ${line.address.toString(16).padStart(8, '0')}  ${Buffer.from(line.bytes).toString('hex').padEnd(16)} ${line.text}\n`);
  }
  out(`\nnext: trapvisor asm FILE -o OUT, trapvisor disasm FILE; npm test runs the suite.\n`);
  return failures ? 1 : 0;
}

export function registerDemo(program: Command): void {
  program.command('demo').description('assemble the demo guests, run them on the emulated CPU, show a disassembly')
    .option('--no-color', 'plain output')
    .action(runAction((opts: { color: boolean }) => {
      const color = opts.color && process.stdout.isTTY === true && !process.env.NO_COLOR;
      return runDemo((s) => process.stdout.write(s), color);
    }));
}
