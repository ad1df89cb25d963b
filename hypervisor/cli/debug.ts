/**
 * `trapvisor debug IMAGE...`: the debugger on guests under the hypervisor (one VM per IMAGE), or on
 * the bare machine (--bare). Three front ends over one command language:
 * - interactive: a prompt with GDB's commands and abbreviations, history, an empty line repeating
 *   the last command, colour on a TTY, Ctrl-C stopping a `continue`;
 * - batch: `-ex CMD` (repeatable) and `--batch FILE`, with `--json` giving one object per command;
 * - `--gdb [HOST:]PORT`: GDB's remote protocol (loopback unless a host is given), after any -ex.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { Chalk } from 'chalk';
import type { Command } from 'commander';
import { BareMachine } from '../../emulator/machine/bare-machine.js';
import { CommandError, CommandInterpreter, type CommandResult } from '../debug/commands.js';
import { Debugger } from '../debug/debugger.js';
import { ExpressionError } from '../debug/expression.js';
import { closeGdbServer, startGdbServer } from '../debug/gdb-server.js';
import { TimeTravelReverse } from '../debug/reverse.js';
import { Symbols } from '../debug/symbols.js';
import { Hypervisor } from '../hypervisor.js';
import { buildBootInfo, ImageError, MULTIBOOT_BOOTLOADER_MAGIC, parseMultiboot } from '../loader/multiboot.js';
import { loadImage, pvImagePath } from './boot.js';
import { readSymbolFile } from './disasm.js';
import { ExitCode } from './exit-codes.js';
import { parseNumber, parseVmMemory, runAction, UserError } from './errors.js';

export interface DebugOptions {
  pv?: boolean;
  bare?: boolean;
  symbols?: string;
  ex: string[];
  batch?: string;
  json?: boolean;
  gdb?: string;
  mem: string;
  include: string[];
  /** Record for reverse execution (on unless --no-record). */
  record?: boolean;
  /** Guest instructions between checkpoints (default 1,000,000). */
  recordInterval?: string;
}

export interface DebugIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Guest console bytes (VM name, bytes). */
  console: (vm: string, bytes: Uint8Array) => void;
  /** Commands for the interactive prompt. */
  stdin: Readable;
  /** The prompt's echo and line editing (process.stdout on a terminal). */
  prompt: Writable;
  /** Colour and line editing: stdout is a terminal. */
  tty: boolean;
  /** Calls `handler` on SIGINT until the returned function is called. */
  onInterrupt: (handler: () => void) => () => void;
}

/** Lines of a failed command go through here; everything else is a bug (exit 70). */
function isCommandError(e: unknown): e is Error {
  return e instanceof CommandError || e instanceof ExpressionError;
}

/** Builds the machine, boots the images and attaches the debugger. */
function attach(images: string[], opts: DebugOptions, io: DebugIo, console: (vm: number, bytes: Uint8Array) => void): Debugger {
  if (images.length === 0) throw new UserError('debug: give an IMAGE', ExitCode.USAGE);
  const memory = parseVmMemory(opts.mem);
  if (opts.symbols && images.length > 1) throw new UserError('--symbols: only with one IMAGE (each image\'s own .sym is read beside it)', ExitCode.USAGE);
  const paths = images.map((p) => (opts.pv && !p.endsWith('.asm') ? pvImagePath(p) : p));
  const loaded = paths.map((p) => loadImage(p, opts.include, io, opts.pv ? { PV: '1' } : {}));
  const symbols = loaded.map((l) => new Symbols(l.symbols));
  if (opts.symbols) symbols[0] = new Symbols(readSymbolFile(opts.symbols));
  const names = images.map((p, i) => `${basename(p).replace(/\.(asm|img|bin|elf)$/, '')}${images.indexOf(p) !== i ? `-${i}` : ''}`);
  const bootError = (i: number, e: unknown): never => {
    if (e instanceof ImageError) throw new UserError(`${paths[i]}: ${e.message}`, ExitCode.BAD_INPUT);
    throw e;
  };
  if (opts.bare) {
    if (opts.pv) throw new UserError('debug: --pv needs the hypervisor (a PV guest talks to it); drop --bare', ExitCode.USAGE);
    if (images.length > 1) throw new UserError('debug --bare: one IMAGE (the bare machine has one CPU and no VMs)', ExitCode.USAGE);
    const machine = new BareMachine({ ramSize: memory, engine: 'blocks', serialOut: (b) => console(0, Uint8Array.of(b)) });
    try {
      const mb = parseMultiboot(loaded[0]!.binary);
      const info = buildBootInfo(mb, memory, '');
      machine.bootProtected(mb.segments, mb.entry, MULTIBOOT_BOOTLOADER_MAGIC, info.address, info.writes);
    } catch (e) { bootError(0, e); }
    return new Debugger({ bare: machine }, symbols);
  }
  const hv = new Hypervisor({ ramSize: images.length * (memory + (2 << 20)) + (16 << 20) });
  loaded.forEach((l, i) => {
    const vm = hv.createVm({ name: names[i]!, memory, console: (b) => console(i, b) });
    try { hv.bootMultiboot(vm, l.binary); } catch (e) { bootError(i, e); }
  });
  return new Debugger({ hv }, symbols);
}

export async function runDebug(images: string[], opts: DebugOptions, io: DebugIo): Promise<number> {
  // The guest's console: on stdout with the debugger's answers, or into each --json record.
  let consoleText = '', consoleMidLine = false;
  const dbg = attach(images, opts, io, (i, bytes) => {
    if (opts.json) { consoleText += Buffer.from(bytes).toString('latin1'); return; }
    io.console(dbg.targets[i]?.name ?? '', bytes);
    if (bytes.length > 0) consoleMidLine = bytes[bytes.length - 1] !== 10;
  });
  // Reverse execution (reverse-stepi, reverse-continue, GDB's bs/bc) for a VM alone under the hypervisor.
  if (opts.record !== false && dbg.hv !== null && dbg.hv.vms.length === 1) {
    const interval = parseNumber(opts.recordInterval ?? '1000000', '--record-interval');
    if (interval < 1) throw new UserError('--record-interval: at least 1 instruction', ExitCode.USAGE);
    new TimeTravelReverse(dbg, { interval });
  }
  const cli = new CommandInterpreter(dbg);
  const chalk = new Chalk({ level: io.tty && !opts.json ? 1 : 0 });
  let failed = false;

  const show = (line: string, r: CommandResult): boolean => {
    cli.flushTrace();
    if (opts.json) {
      io.stdout(JSON.stringify({ command: line, ok: true, output: r.lines, result: r.json, ...(consoleText ? { console: consoleText } : {}) }) + '\n');
      consoleText = '';
    } else {
      // A line the guest has not finished yet ends before the debugger speaks.
      if (consoleMidLine && r.lines.length > 0) { io.stdout('\n'); consoleMidLine = false; }
      for (const l of r.lines) {
        const coloured = l.startsWith('=> ') ? chalk.green(l) : /^(Breakpoint|Temporary breakpoint|Catchpoint|Hardware|Program received)/.test(l) ? chalk.yellow(l)
          : /^\S+:\d+\t/.test(l) ? chalk.cyan(l) : l;
        io.stdout(coloured + '\n');
      }
    }
    return r.quit === true;
  };
  const showError = (line: string, e: Error): void => {
    failed = true;
    if (opts.json) {
      io.stdout(JSON.stringify({ command: line, ok: false, error: e.message, ...(consoleText ? { console: consoleText } : {}) }) + '\n');
      consoleText = '';
    } else io.stderr(chalk.red(e.message) + '\n');
  };
  const runOne = (line: string): boolean => {
    try {
      return show(line, cli.execute(line));
    } catch (e) {
      if (!isCommandError(e)) throw e;
      showError(line, e);
      return false;
    }
  };

  const batch = [...(opts.batch ? readBatch(opts.batch) : []), ...opts.ex];
  for (const line of batch) if (runOne(line)) return failed ? ExitCode.USAGE : ExitCode.OK;

  if (opts.gdb !== undefined) {
    const m = /^(?:(.+):)?(\d+)$/.exec(opts.gdb);
    if (!m) throw new UserError(`--gdb: expected PORT or HOST:PORT, not '${opts.gdb}'`, ExitCode.USAGE);
    const port = Number(m[2]);
    if (port > 0xffff) throw new UserError(`--gdb: port ${port} is beyond 65535`, ExitCode.USAGE);
    let server: Server;
    try {
      server = await startGdbServer(dbg, cli, port, (s) => io.stderr(s + '\n'), m[1]);
    } catch (e) {
      throw new UserError(`--gdb ${opts.gdb}: ${(e as Error).message}`, ExitCode.USAGE);
    }
    const closed = once(server, 'close');
    const stopListening = io.onInterrupt(() => { io.stderr('gdb: interrupted; closing\n'); closeGdbServer(server); });
    await closed;
    stopListening();
    return ExitCode.OK;
  }
  if (batch.length > 0) return failed ? ExitCode.USAGE : ExitCode.OK;
  await interactive(dbg, cli, io, chalk, show, showError);
  return ExitCode.OK;
}

function readBatch(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n');
  } catch (e) {
    throw new UserError(`${path}: cannot read batch file: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, ExitCode.BAD_INPUT);
  }
}

/**
 * The prompt. An empty line repeats the last command (as in GDB); `continue` runs in slices so
 * Ctrl-C stops the guest (and at the prompt only clears the line).
 */
async function interactive(dbg: Debugger, cli: CommandInterpreter, io: DebugIo, chalk: InstanceType<typeof Chalk>,
  show: (line: string, r: CommandResult) => boolean, showError: (line: string, e: Error) => void): Promise<void> {
  show('', cli.describeStop({ reason: { kind: 'step' }, target: dbg.current }));
  io.stdout('Type "help" for the commands.\n');
  const rl = createInterface({ input: io.stdin, output: io.prompt, terminal: io.tty, prompt: chalk.bold('(trapvisor) '), historySize: 1000 });
  let running = false, interrupted = false;
  const onInterrupt = (): void => {
    if (running) { interrupted = true; return; }
    io.stdout('^C\n');
    rl.prompt();
  };
  rl.on('SIGINT', onInterrupt);
  const stopListening = io.onInterrupt(onInterrupt);
  let last = '';
  rl.prompt();
  try {
    for await (const input of rl) {
      const line = input.trim() === '' ? last : input;
      last = line;
      let quit = false;
      try {
        if (cli.isContinue(line)) {
          running = true;
          interrupted = false;
          try { quit = show(line, cli.describeStop(await dbg.contInterruptible(() => interrupted))); } finally { running = false; }
        } else quit = show(line, cli.execute(line));
      } catch (e) {
        if (!isCommandError(e)) throw e;
        showError(line, e);
      }
      if (quit) break;
      rl.prompt();
    }
  } finally {
    stopListening();
    rl.close();
  }
}

export function registerDebug(program: Command): void {
  program
    .command('debug')
    .description('debug guests: breakpoints, stepping, the VMX view; GDB\'s commands at a prompt, in batch, or a GDB server')
    .argument('<image...>', 'Multiboot images or .asm sources (assembled, with symbols); several make several VMs')
    .option('--pv', 'the paravirtualized build')
    .option('--bare', 'the bare machine instead of the hypervisor')
    .option('--symbols <file>', 'symbol file (trapvisor asm --symbols); default: IMAGE.sym beside an image')
    .option('--ex <command>', 'run a debugger command (repeatable; GDB\'s -ex works too); batch mode', (v: string, a: string[]) => [...a, v], [] as string[])
    .option('--batch <file>', 'run the commands in FILE (one per line); batch mode')
    .option('--json', 'one JSON object per command on stdout (the guest console in its "console" field)')
    .option('--gdb <[host:]port>', 'serve GDB\'s remote protocol (127.0.0.1 unless a host is given), after any -ex commands')
    .option('--mem <size>', 'memory of each VM', '32M')
    .option('--no-record', 'no checkpoints, so no reverse execution (it needs one VM under the hypervisor)')
    .option('--record-interval <n>', 'guest instructions between the checkpoints reverse execution restarts from (default 1000000)')
    .option('-I, --include <dir>', 'include directory for .asm images (repeatable)', (v: string, a: string[]) => [...a, v], [] as string[])
    .action(runAction(async (images: string[], opts: DebugOptions) => runDebug(images, opts, {
      stdout: (s) => process.stdout.write(s),
      stderr: (s) => process.stderr.write(s),
      console: (_vm, b) => process.stdout.write(b),
      stdin: process.stdin,
      prompt: process.stdout,
      tty: process.stdout.isTTY === true && process.stdin.isTTY === true,
      onInterrupt: (handler) => { process.on('SIGINT', handler); return () => process.off('SIGINT', handler); },
    })));
}
