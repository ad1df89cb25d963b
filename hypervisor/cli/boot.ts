/**
 * `trapvisor boot --bare IMAGE`: boots a kernel on the bare emulated PC (no hypervisor), the way
 * `qemu-system-i386 -kernel IMAGE -serial stdio -device isa-debug-exit` boots it.
 *
 * IMAGE is a Multiboot kernel (a.out kludge or ELF32), a raw flat binary with `--load ADDR`, or a
 * `.asm` source assembled first. `--rom ROM` starts from the reset vector in real mode instead.
 * COM1 goes to stdout and reads stdin; a write of n to port 0xF4 ends the run with exit status
 * (n << 1) | 1. A triple fault (GUEST_CRASHED) or a spent budget (BUDGET_EXHAUSTED) prints a state
 * report on stderr.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { assemble, AssemblyError, formatDiagnostic } from '../../assembler/index.js';
import type { SymbolFile } from '../../assembler/symbol-file.js';
import { readSymbolFile } from './disasm.js';
import { BareMachine, type IoEvent, type MachineStop } from '../../emulator/machine/bare-machine.js';
import { buildBootInfo, ImageError, MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot, rawImage } from '../loader/multiboot.js';
import { projectRoot } from './demo.js';
import { ExitCode } from './exit-codes.js';
import { parseEngine, parseMaxInstructions, parseNumber, runAction, UserError, exitOnCommanderError } from './errors.js';
import { formatCpuReport } from './report.js';
import { runVms } from './run.js';

export interface BootOptions {
  bare?: boolean;
  mem: string;
  cmdline: string;
  maxInstructions?: string;
  load?: string;
  entry?: string;
  rom?: string;
  debugcon?: string | boolean;
  debugconFile?: string;
  postPort?: string | boolean;
  traceIo?: boolean;
  engine: string;
  include: string[];
  traceExits?: boolean;
  stats?: boolean;
  /** false (--no-fast-exits): every exit takes the full round trip. */
  fastExits?: boolean;
  pv?: boolean;
  snapshotAt?: string;
  snapshotFile?: string;
  migrateTo?: string;
  after?: string;
  replicateTo?: string;
  epoch?: string;
  failAt?: string;
}

/** Where a boot writes; tests pass their own. `stdin` is all the serial input, or null for none. */
export interface BootIo {
  stdout: (bytes: Uint8Array) => void;
  stderr: (text: string) => void;
  stdin: Uint8Array | null;
  /** Interactive input: called once with a push function when the CLI's stdin is a terminal. */
  interactive?: (push: (bytes: Uint8Array) => void) => void;
}

const SLICE = 50_000_000;

function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read ${what}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, ExitCode.BAD_INPUT);
  }
}

/** The image's bytes; a .asm source is assembled with guests/lib on the include path. */
export function loadImageBytes(path: string, include: readonly string[], io: Pick<BootIo, 'stderr'>, defines: Record<string, string> = {}): Uint8Array {
  return loadImage(path, include, io, defines).binary;
}

/** The image and its symbols: a .asm source's from the assembler, an image's from the .sym file beside it (if any). */
export function loadImage(path: string, include: readonly string[], io: Pick<BootIo, 'stderr'>, defines: Record<string, string> = {}): { binary: Uint8Array; symbols: SymbolFile | null } {
  if (!path.endsWith('.asm')) {
    const binary = readInput(path, 'image');
    const sym = path.replace(/\.[^./\\]+$/, '') + '.sym';
    if (!existsSync(sym)) return { binary, symbols: null };
    return { binary, symbols: readSymbolFile(sym) };
  }
  const source = new TextDecoder().decode(readInput(path, 'source'));
  try {
    const r = assemble(source, { fileName: path, includePaths: [dirname(path), ...include, join(projectRoot(), 'guests', 'lib')], defines });
    return { binary: r.binary, symbols: r.symbols };
  } catch (e) {
    if (!(e instanceof AssemblyError)) throw e;
    for (const d of e.diagnostics) io.stderr(formatDiagnostic(d) + '\n');
    throw new UserError(`${path}: assembly failed; nothing booted`, ExitCode.ASSEMBLY_ERROR);
  }
}

function portOption(value: string | boolean | undefined, fallback: number, what: string): number | undefined {
  if (value === undefined || value === false) return undefined;
  const port = value === true ? fallback : parseNumber(value, what);
  if (port > 0xffff) throw new UserError(`${what}: port ${port} is beyond 0xFFFF`, ExitCode.USAGE);
  return port;
}

function formatIo(e: IoEvent): string {
  const w = e.size * 2;
  const v = e.value.toString(16).padStart(w, '0');
  const dir = e.kind === 'in' ? `in  ${e.port.toString(16).padStart(4, '0')} -> ${v}` : `out ${e.port.toString(16).padStart(4, '0')} <- ${v}`;
  return `io ${String(e.icount).padStart(12)}  ${dir.padEnd(22)} ${e.device ?? '(unmapped)'}\n`;
}

/** The PV build of a prebuilt FV image: guests/fv/X.img -> guests/pv/X.img, hello/fv.img -> hello/pv.img. */
export function pvImagePath(image: string): string {
  const swapped = image.replace(/([\\/])fv([\\/])/, '$1pv$2').replace(/([\\/])fv(\.\w+)$/, '$1pv$2');
  if (swapped === image) throw new UserError(`--pv: ${image} is not an FV build (guests/fv/... or .../fv.img) or a .asm source`, ExitCode.USAGE);
  return swapped;
}

/** Boots and runs to the end; returns the process exit code. */
export async function runBoot(image: string | undefined, opts: BootOptions, io: BootIo): Promise<number> {
  if (!opts.bare) {
    for (const [flag, set] of [['--rom', opts.rom], ['--load', opts.load], ['--debugcon', opts.debugcon], ['--post-port', opts.postPort], ['--trace-io', opts.traceIo]] as const) {
      if (set) throw new UserError(`boot: ${flag} is for the bare machine; add --bare`, ExitCode.USAGE);
    }
    if (!image) throw new UserError('boot: give an IMAGE', ExitCode.USAGE);
    if (opts.pv && !image.endsWith('.asm')) image = pvImagePath(image);
    return runVms([image], {
      mem: opts.mem, cmdline: opts.cmdline, maxInstructions: opts.maxInstructions, engine: opts.engine,
      include: opts.include, traceExits: opts.traceExits, stats: opts.stats, pv: opts.pv, fastExits: opts.fastExits,
      snapshotAt: opts.snapshotAt, snapshotFile: opts.snapshotFile, migrateTo: opts.migrateTo, after: opts.after,
      replicateTo: opts.replicateTo, epoch: opts.epoch, failAt: opts.failAt,
    }, io);
  }
  if (opts.pv) throw new UserError('boot: --pv needs the hypervisor (a PV guest talks to it); drop --bare', ExitCode.USAGE);
  const vmOnly = [['--snapshot-at', opts.snapshotAt], ['--snapshot-file', opts.snapshotFile], ['--migrate-to', opts.migrateTo], ['--after', opts.after],
    ['--replicate-to', opts.replicateTo], ['--epoch', opts.epoch], ['--fail-at', opts.failAt], ['--trace-exits', opts.traceExits], ['--stats', opts.stats],
    ['--no-fast-exits', opts.fastExits === false ? true : undefined]] as const;
  for (const [flag, set] of vmOnly) {
    if (set !== undefined && set !== false) throw new UserError(`boot: ${flag} is for a VM under the hypervisor; drop --bare`, ExitCode.USAGE);
  }
  if (!image && !opts.rom) throw new UserError('boot: give an IMAGE, or --rom ROM', ExitCode.USAGE);
  if (image && opts.rom) throw new UserError('boot: give either an IMAGE or --rom, not both', ExitCode.USAGE);
  const ramSize = parseNumber(opts.mem, '--mem');
  if (ramSize % 4096 !== 0 || ramSize < 0x100000 || ramSize > 0xc0000000) {
    throw new UserError(`--mem ${opts.mem}: must be a multiple of 4 KiB between 1M and 3G`, ExitCode.USAGE);
  }
  const budget = parseMaxInstructions(opts.maxInstructions);
  const engine = parseEngine(opts.engine);
  const debugconPort = portOption(opts.debugcon ?? (opts.debugconFile ? true : undefined), 0xe9, '--debugcon');
  const postPort = portOption(opts.postPort, 0x80, '--post-port');

  let serial: number[] = [];
  const flushSerial = (): void => {
    if (serial.length) { io.stdout(Uint8Array.from(serial)); serial = []; }
  };
  const debugconBytes: number[] = [];
  const unmapped = new Map<string, number>();
  const machine = new BareMachine({
    ramSize,
    engine,
    serialOut: (b) => { serial.push(b); if (serial.length >= 4096) flushSerial(); },
    debugcon: debugconPort === undefined ? undefined : {
      port: debugconPort,
      out: opts.debugconFile ? (b) => debugconBytes.push(b) : (b) => { serial.push(b); },
    },
    postPort,
    onIo: opts.traceIo ? (e) => {
      io.stderr(formatIo(e));
      if (e.device === null) unmapped.set(`${e.kind} ${e.port.toString(16)}`, (unmapped.get(`${e.kind} ${e.port.toString(16)}`) ?? 0) + 1);
    } : undefined,
  });
  machine.cpu.history = new Int32Array(64);

  try {
    if (opts.rom) {
      machine.bootRom(readInput(opts.rom, 'ROM'));
    } else {
      const bytes = loadImageBytes(image!, opts.include, io);
      const img = opts.load !== undefined
        ? rawImage(bytes, parseNumber(opts.load, '--load'), parseNumber(opts.entry ?? opts.load, '--entry'))
        : parseMultiboot(bytes);
      const info = buildBootInfo(img, ramSize, opts.cmdline);
      machine.bootProtected(img.segments, img.entry, MULTIBOOT_BOOTLOADER_MAGIC, info.address, info.writes);
    }
  } catch (e) {
    if (e instanceof ImageError) throw new UserError(`${opts.rom ?? image}: ${e.message}`, ExitCode.BAD_INPUT);
    if (e instanceof RangeError && opts.rom) throw new UserError(`${opts.rom}: ${e.message}`, ExitCode.BAD_INPUT);
    throw e;
  }
  if (io.stdin && io.stdin.length) machine.serialInput(io.stdin);
  let wakeInput: (() => void) | null = null;
  if (io.interactive) {
    io.interactive((bytes) => { machine.serialInput(bytes); wakeInput?.(); });
  }

  let stop: MachineStop;
  let left = budget;
  for (;;) {
    stop = machine.run(Math.min(left, SLICE));
    flushSerial();
    if (stop.kind === 'budget') {
      left -= Math.min(left, SLICE);
      if (left > 0) {
        if (io.interactive) await new Promise((r) => setImmediate(r));
        continue;
      }
    }
    if (stop.kind === 'halted' && stop.interruptsEnabled && io.interactive) {
      // Waiting for the keyboard: sleep until input arrives.
      await new Promise<void>((resolve) => { wakeInput = resolve; });
      wakeInput = null;
      continue;
    }
    break;
  }

  if (opts.debugconFile) {
    try {
      writeFileSync(opts.debugconFile, Uint8Array.from(debugconBytes));
    } catch (e) {
      io.stderr(`trapvisor: cannot write ${opts.debugconFile}: ${(e as Error).message}\n`);
    }
  }
  if (opts.traceIo && unmapped.size) {
    io.stderr(`unmapped port accesses (read 0xFF / ignored): ${[...unmapped].map(([k, n]) => `${k}x${n}`).join(', ')}\n`);
  }
  if (machine.post) {
    const codes = machine.post.history();
    io.stderr(`last POST code: ${codes.length ? '0x' + codes[codes.length - 1]!.toString(16).padStart(2, '0') : 'none'}\n`);
  }
  const cpu = machine.cpu;
  switch (stop.kind) {
    case 'exit':
      return stop.status & 0xff;
    case 'halted':
      if (!stop.interruptsEnabled) {
        io.stderr(`trapvisor: the CPU halted with interrupts disabled after ${cpu.icount} instructions; stopping\n`);
        return ExitCode.OK;
      }
      io.stderr(`trapvisor: the CPU halted waiting for an interrupt no device will raise, after ${cpu.icount} instructions; stopping\n`);
      return ExitCode.OK;
    case 'triple-fault':
      io.stderr(`trapvisor: triple fault (exception ${stop.vector} while delivering a double fault) after ${cpu.icount} instructions; a PC would reset\n`);
      io.stderr(formatCpuReport(cpu).map((l) => `  ${l}\n`).join(''));
      return ExitCode.GUEST_CRASHED;
    case 'budget':
      io.stderr(`trapvisor: instruction budget of ${budget} exhausted before the guest stopped\n`);
      io.stderr(formatCpuReport(cpu).map((l) => `  ${l}\n`).join(''));
      return ExitCode.BUDGET_EXHAUSTED;
    case 'debug':
      throw new Error('a debugger stop without a debugger attached');
  }
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** All of stdin when it is a file or pipe; a terminal is read interactively instead. */
function readStdin(): Uint8Array | null {
  if (process.stdin.isTTY) return null;
  try {
    return new Uint8Array(readFileSync(0));
  } catch {
    return null;
  }
}

export function registerBoot(program: Command): void {
  program
    .command('boot')
    .description('boot a Multiboot kernel (or .asm source) as a VM under the hypervisor, or with --bare on the bare PC (also raw binaries and ROMs)')
    .argument('[image]', 'Multiboot image, raw binary (with --load) or .asm source')
    .option('--bare', 'run on the bare machine, without the hypervisor')
    .option('--mem <size>', 'RAM size (e.g. 64M; the VM\'s memory under the hypervisor)', '64M')
    .option('--cmdline <text>', 'kernel command line passed in the Multiboot information', '')
    .option('--max-instructions <n>', 'stop (exit 10) after this many instructions')
    .option('--load <addr>', 'load IMAGE as a raw flat binary at this physical address')
    .option('--entry <addr>', 'entry point of a raw binary (default: the load address)')
    .option('--rom <file>', 'boot a 64/128 KiB firmware ROM from the reset vector instead of a kernel')
    .option('--debugcon [port]', 'bytes written to this port (default 0xE9) go to stdout')
    .option('--debugcon-file <file>', 'write the debug console to a file instead')
    .option('--post-port [port]', 'record POST codes written to this port (default 0x80); print the last at exit')
    .option('--trace-io', 'print every port access on stderr')
    .option('--engine <name>', 'blocks (compiled, fast) or interpret (one instruction at a time)', 'blocks')
    .option('-I, --include <dir>', 'include directory for a .asm IMAGE (repeatable)', collect, [])
    .option('--pv', 'the paravirtualized build: a .asm IMAGE is assembled with -D PV=1, a guests/fv/ image is taken from guests/pv/')
    .option('--trace-exits', 'under the hypervisor: print every VM exit on stderr')
    .option('--snapshot-at <n>', 'under the hypervisor: after N guest instructions save the VM to --snapshot-file and stop')
    .option('--snapshot-file <file>', 'where --snapshot-at writes the snapshot')
    .option('--migrate-to <host:port>', 'under the hypervisor: live-migrate the VM to `trapvisor migrate --listen PORT` there')
    .option('--after <n>', 'with --migrate-to: migrate after N guest instructions (default 0)')
    .option('--replicate-to <host:port>', 'under the hypervisor: replicate the VM to `trapvisor replicate --listen PORT` there (a checkpoint per epoch; output released when the backup has it)')
    .option('--epoch <n>', 'with --replicate-to: guest instructions per epoch (default 1000000)')
    .option('--fail-at <n>', 'with --replicate-to: the primary dies at guest instruction N, as a crashed host would (exit 12); the backup takes over')
    .option('--stats', 'under the hypervisor: print VM exits per reason at the end (like perf kvm stat)')
    .option('--no-fast-exits', 'under the hypervisor: every VM exit takes the full round trip (no exit fast path)')
    .exitOverride(exitOnCommanderError)
    .action(runAction(async (image: string | undefined, opts: BootOptions) => {
      const stdin = readStdin();
      const code = await runBoot(image, opts, {
        stdout: (b) => process.stdout.write(b),
        stderr: (t) => process.stderr.write(t),
        stdin,
        interactive: process.stdin.isTTY ? (push) => {
          process.stdin.on('data', (d: Buffer) => push(new Uint8Array(d)));
        } : undefined,
      });
      if (process.stdin.isTTY) process.stdin.destroy();
      return code;
    }));
}
