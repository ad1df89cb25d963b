/**
 * Runs a self-checking test kernel (test/kernels/*.asm) on the bare machine and parses its TAP
 * report. Directives in the source's comment lines say how to boot it:
 *   ; @boot rom                the binary is a 64/128 KiB firmware ROM started from the reset vector
 *   ; @input TEXT              bytes arriving on COM1 (JSON string escapes allowed: \n, \u0041)
 *   ; @cmdline TEXT            the Multiboot command line
 *   ; @expect-stop KIND        exit (default), triple-fault or halted
 *   ; @expect-status N         the isa-debug-exit status for KIND exit (default 1: all checks passed)
 *   ; @max-instructions N      budget (default 50,000,000)
 *   ; @post-port PORT          record POST codes written to PORT
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble } from '../../assembler/index.js';
import { BareMachine, type MachineStop } from '../../emulator/machine/bare-machine.js';
import { buildBootInfo, MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from '../../hypervisor/loader/multiboot.js';

export const KERNEL_DIR = dirname(fileURLToPath(import.meta.url));
const LIB_DIR = join(KERNEL_DIR, '..', '..', 'guests', 'lib');

export interface KernelDirectives {
  boot: 'multiboot' | 'rom';
  input: string;
  cmdline: string;
  expectStop: MachineStop['kind'];
  expectStatus: number;
  maxInstructions: number;
  postPort?: number;
}

export function readDirectives(source: string): KernelDirectives {
  const d: KernelDirectives = { boot: 'multiboot', input: '', cmdline: '', expectStop: 'exit', expectStatus: 1, maxInstructions: 50_000_000 };
  for (const m of source.matchAll(/^;\s*@([a-z-]+)\s*(.*)$/gm)) {
    const value = m[2]!.trim();
    switch (m[1]) {
      case 'boot': d.boot = value as 'rom'; break;
      case 'input': d.input = JSON.parse(`"${value}"`) as string; break;
      case 'cmdline': d.cmdline = value; break;
      case 'expect-stop': d.expectStop = value as MachineStop['kind']; break;
      case 'expect-status': d.expectStatus = Number(value); break;
      case 'max-instructions': d.maxInstructions = Number(value.replace(/_/g, '')); break;
      case 'post-port': d.postPort = Number(value); break;
      default: throw new Error(`unknown directive @${m[1]}`);
    }
  }
  return d;
}

export interface KernelRun {
  name: string;
  directives: KernelDirectives;
  stop: MachineStop;
  serial: string;
  machine: BareMachine;
  binary: Uint8Array;
}

/** Assembles a kernel (its own directory and guests/lib on the include path). */
export function buildKernel(path: string): { binary: Uint8Array; directives: KernelDirectives } {
  const source = readFileSync(path, 'utf8');
  const r = assemble(source, { fileName: path, includePaths: [dirname(path), LIB_DIR] });
  return { binary: r.binary, directives: readDirectives(source) };
}

export function runKernel(path: string, engine: 'blocks' | 'interpret' = 'blocks'): KernelRun {
  const { binary, directives } = buildKernel(path);
  let serial = '';
  const ramSize = 32 << 20;
  const machine = new BareMachine({ ramSize, engine, serialOut: (b) => { serial += String.fromCharCode(b); }, postPort: directives.postPort });
  machine.cpu.history = new Int32Array(64);
  if (directives.boot === 'rom') machine.bootRom(binary);
  else {
    const image = parseMultiboot(binary);
    const info = buildBootInfo(image, ramSize, directives.cmdline);
    machine.bootProtected(image.segments, image.entry, MULTIBOOT_BOOTLOADER_MAGIC, info.address, info.writes);
  }
  if (directives.input) machine.serialInput(new TextEncoder().encode(directives.input));
  const stop = machine.run(directives.maxInstructions);
  return { name: basename(path, '.asm'), directives, stop, serial, machine, binary };
}

export interface TapReport {
  plan: number | null;
  passed: string[];
  failed: string[];
  bailOut: string | null;
}

export function parseTap(text: string): TapReport {
  const r: TapReport = { plan: null, passed: [], failed: [], bailOut: null };
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^1\.\.(\d+)$/.exec(line))) r.plan = Number(m[1]);
    else if ((m = /^not ok \d+ - (.*)$/.exec(line))) r.failed.push(m[1]!);
    else if ((m = /^ok \d+ - (.*)$/.exec(line))) r.passed.push(m[1]!);
    else if ((m = /^Bail out! (.*)$/.exec(line))) r.bailOut = m[1]!;
  }
  return r;
}
