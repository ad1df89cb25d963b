/**
 * `trapvisor boot IMAGE` (one VM) and `trapvisor run A B C` (several): boot Multiboot images (or
 * `.asm` sources) as VMs under the hypervisor and run them to the end.
 *
 * One VM: its console is stdout, stdin is its input, and the exit code is its isa-debug-exit or
 * SHUTDOWN status, as on the bare machine. Several: each console line is prefixed with the VM's
 * name (or goes to DIR/NAME.log with --console-dir), a summary table follows, and the exit code
 * is 0 when every VM stopped by itself, 8 when one crashed, 10 when the budget ran out.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { EXIT_REASON_NAMES } from '../../emulator/vmx/controls.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import { Hypervisor } from '../hypervisor.js';
import { ImageError } from '../loader/multiboot.js';
import { parseSnapshot, restoreVm, snapshotVm, SnapshotError } from '../snapshot.js';
import { formatMigrationReport, migrateOverTcp } from './migrate.js';
import { parseHostPort } from './frames.js';
import { parseReplicationOptions, runReplicated } from './replicate.js';
import { OutputCommit } from '../replication.js';
import type { Vm } from '../vm.js';
import { loadImageBytes, type BootIo } from './boot.js';
import { parseEngine, parseMaxInstructions, parseNumber, parseVmMemory, runAction, UserError, exitOnCommanderError } from './errors.js';
import { ExitCode } from './exit-codes.js';

export interface RunOptions {
  mem: string;
  cmdline: string;
  maxInstructions?: string;
  engine: string;
  include: string[];
  weights?: string;
  slice?: string;
  consoleDir?: string;
  traceExits?: boolean;
  stats?: boolean;
  /** false (--no-fast-exits): every exit takes the full round trip through the run loop. */
  fastExits?: boolean;
  /** Assemble .asm images with -D PV=1 (the paravirtualized build). */
  pv?: boolean;
  /** Checkpoint the (single) VM after this many guest instructions into snapshotFile, and stop. */
  snapshotAt?: string;
  snapshotFile?: string;
  /** Live-migrate the (single) VM to HOST:PORT after `after` guest instructions. */
  migrateTo?: string;
  after?: string;
  /** Replicate the (single) VM to a backup at HOST:PORT (Remus-style), in epochs of `epoch` instructions. */
  replicateTo?: string;
  epoch?: string;
  /** With replicateTo: the primary dies at this guest instruction (a simulated host failure). */
  failAt?: string;
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/**
 * `perf kvm stat`-style table of one VM's exits. Handler time is sampled (hypervisor.ts,
 * EXIT_TIMING_SAMPLE) and covers the exits the hypervisor saw, not those completed inline.
 */
export function formatExitStats(vm: Vm): string {
  const rows = [...vm.exitStats].sort((a, b) => b[1].count - a[1].count);
  const total = vm.totalExits;
  const lines = [`VM exits of ${vm.name}: ${total}`, `  ${'reason'.padEnd(20)} ${'count'.padStart(9)} ${'share'.padStart(7)} ${'total us'.padStart(10)} ${'mean ns'.padStart(9)} ${'in place'.padStart(9)} ${'inline'.padStart(9)}`];
  for (const [reason, s] of rows) {
    const name = EXIT_REASON_NAMES.get(reason) ?? String(reason);
    // Exits completed inline are counted but not timed (hypervisor.ts, EXIT_TIMING_SAMPLE).
    const timed = s.count - s.inline;
    const mean = timed > 0 ? (s.handlerNs / timed).toFixed(0) : '-';
    lines.push(`  ${name.padEnd(20)} ${String(s.count).padStart(9)} ${((100 * s.count) / total).toFixed(1).padStart(6)}% ${(s.handlerNs / 1000).toFixed(0).padStart(10)} ${mean.padStart(9)} ${String(s.inPlace).padStart(9)} ${String(s.inline).padStart(9)}`);
  }
  if (rows.some(([, s]) => s.inline > 0)) lines.push('  (total us and mean ns: the exits not completed inline; those take 15-35 ns each, see `trapvisor bench exits`)');
  return lines.join('\n') + '\n';
}

export function describeStop(vm: Vm): string {
  const s = vm.stop;
  if (!s) return 'still running';
  switch (s.kind) {
    case 'exit': return `exited with status ${s.status}`;
    case 'triple-fault': return 'triple fault';
    case 'halted': return 'halted for good';
    case 'crash': return `stopped: ${s.reason}`;
    case 'migrated': return 'migrated to another hypervisor';
  }
}

/**
 * --max-instructions: one allowance of guest instructions for a whole run, counted from when it is
 * made, however the run is split (up to a snapshot or a migration, in replication's epochs, to the
 * end); each part runs only what is left.
 */
interface InstructionBudget {
  /** The --max-instructions given (Infinity without one). */
  readonly limit: number;
  /** Guest instructions still allowed. */
  left(): number;
}

function instructionBudget(hv: Hypervisor, limit: number): InstructionBudget {
  const end = hv.guestInstructions + limit;
  return { limit, left: () => Math.max(0, end - hv.guestInstructions) };
}

export async function runVms(images: string[], opts: RunOptions, io: BootIo): Promise<number> {
  if (images.length === 0) throw new UserError('run: give at least one IMAGE', ExitCode.USAGE);
  const memory = parseVmMemory(opts.mem);
  const engine = parseEngine(opts.engine);
  const maxInstructions = parseMaxInstructions(opts.maxInstructions);
  const slice = opts.slice === undefined ? undefined : parseNumber(opts.slice, '--slice');
  if (slice !== undefined && slice < 1000) throw new UserError('--slice must be at least 1000 instructions', ExitCode.USAGE);
  const weights = opts.weights === undefined ? images.map(() => 1) : opts.weights.split(',').map((w) => parseNumber(w.trim(), '--weights'));
  if (weights.length !== images.length || weights.some((w) => w < 1)) {
    throw new UserError(`--weights needs one positive weight per image (${images.length})`, ExitCode.USAGE);
  }
  const single = images.length === 1;
  const replication = parseReplicationOptions(opts);
  if (replication && !single) throw new UserError('--replicate-to: one VM at a time', ExitCode.USAGE);
  if (replication && (opts.snapshotAt !== undefined || opts.migrateTo !== undefined)) throw new UserError('--replicate-to goes with neither --snapshot-at nor --migrate-to', ExitCode.USAGE);
  if (opts.after !== undefined && opts.migrateTo === undefined) throw new UserError('--after goes with --migrate-to', ExitCode.USAGE);
  // Every option is checked before any image is read or assembled.
  if ((opts.snapshotAt === undefined) !== (opts.snapshotFile === undefined)) {
    throw new UserError('--snapshot-at and --snapshot-file go together', ExitCode.USAGE);
  }
  if (opts.snapshotAt !== undefined && !single) throw new UserError('--snapshot-at: one VM at a time', ExitCode.USAGE);
  const snapshotAt = opts.snapshotAt === undefined ? undefined : parseNumber(opts.snapshotAt, '--snapshot-at');
  const after = opts.after === undefined ? 0 : parseNumber(opts.after, '--after');
  if (opts.migrateTo !== undefined && !single) throw new UserError('--migrate-to: one VM at a time', ExitCode.USAGE);
  const migrationTarget = opts.migrateTo === undefined ? undefined : parseHostPort(opts.migrateTo, '--migrate-to');
  // Output commit: with a backup, the console is released only as the backup acknowledges checkpoints.
  const stdout = io.stdout;
  const output = replication ? new OutputCommit(stdout) : null;
  if (output) io = { ...io, stdout: output.write };
  const names = images.map((p, i) => `${basename(p).replace(/\.(asm|img|bin|elf)$/, '')}${images.indexOf(p) !== i ? `-${i}` : ''}`);
  const bytes = images.map((p) => loadImageBytes(p, opts.include, io, opts.pv ? { PV: '1' } : {}));

  const hostRam = images.length * (memory + (2 << 20)) + (16 << 20);
  const hv = new Hypervisor({ ramSize: hostRam, engine, slice, fastExits: opts.fastExits !== false });
  const budget = instructionBudget(hv, maxInstructions);
  const logs = names.map(() => [] as number[]);
  const pending = names.map(() => [] as number[]);
  const emit = (i: number, b: Uint8Array): void => {
    if (opts.consoleDir) { for (const x of b) logs[i]!.push(x); return; }
    if (single) { io.stdout(b); return; }
    for (const x of b) {
      pending[i]!.push(x);
      if (x === 10) { io.stdout(Uint8Array.from([...Buffer.from(`[${names[i]}] `), ...pending[i]!])); pending[i] = []; }
    }
  };
  const vms = images.map((_, i) => hv.createVm({ name: names[i]!, memory, weight: weights[i], console: (b) => emit(i, b) }));
  vms.forEach((vm, i) => {
    try {
      hv.bootMultiboot(vm, bytes[i]!, opts.cmdline);
    } catch (e) {
      if (e instanceof ImageError) throw new UserError(`${images[i]}: ${e.message}`, ExitCode.BAD_INPUT);
      throw e;
    }
  });
  if (io.stdin && io.stdin.length) vms[0]!.input(io.stdin);
  if (opts.traceExits) {
    hv.observer = (vm, exit, decoded, action) => {
      io.stderr(`[${vm.name}] exit ${EXIT_REASON_NAMES.get(exit.reason) ?? exit.reason} rip=${hex(exit.guestRip)} qual=${hex(exit.qualification)} ${decoded.kind}${'port' in decoded ? ` port=${hex(decoded.port)}` : ''} -> ${action}\n`);
    };
  }
  if (snapshotAt !== undefined) {
    const at = snapshotAt;
    const reached = at <= budget.left();
    hv.run(Math.min(at, budget.left()));
    const vm = vms[0]!;
    if (vm.stop !== null) {
      io.stderr(`trapvisor: VM ${vm.name} stopped before ${at} instructions; no snapshot written\n`);
    } else if (!reached) {
      io.stderr(`trapvisor: the instruction budget of ${budget.limit} ran out before --snapshot-at ${at}; no snapshot written\n`);
    } else {
      try {
        writeFileSync(opts.snapshotFile!, snapshotVm(hv, vm));
      } catch (e) {
        throw new UserError(`cannot write ${opts.snapshotFile}: ${(e as Error).message}`, ExitCode.BAD_INPUT);
      }
      io.stderr(`trapvisor: VM ${vm.name} saved to ${opts.snapshotFile} after ${hv.guestInstructions} instructions; it stops here (continue with: trapvisor restore ${opts.snapshotFile})\n`);
      return ExitCode.OK;
    }
  }
  if (migrationTarget !== undefined) {
    const reached = after <= budget.left();
    hv.run(Math.min(after, budget.left()));
    const vm = vms[0]!;
    if (vm.stop === null && !reached) {
      io.stderr(`trapvisor: the instruction budget of ${budget.limit} ran out before --after ${after}; no migration\n`);
    } else if (vm.stop === null) {
      // The pre-copy rounds run the guest too: within what is left of the budget.
      const report = await migrateOverTcp(hv, vm, migrationTarget, { maxInstructions: budget.left() });
      io.stderr(formatMigrationReport(report));
      if (report.ok) return ExitCode.OK;
      io.stderr(`trapvisor: the guest keeps running here\n`);
    }
  }
  if (replication) {
    const code = await runReplicated(hv, vms[0]!, output!, replication, budget.left(), io);
    if (code !== null) return code;
  }
  return finish(hv, vms, names, io, opts, budget, emit, pending, logs);
}

/** Runs the VMs to the end (or what is left of the budget) and reports; shared by boot, run and restore. */
function finish(hv: Hypervisor, vms: Vm[], names: string[], io: BootIo, opts: Pick<RunOptions, 'consoleDir' | 'stats'>, budget: InstructionBudget,
  emit: (i: number, b: Uint8Array) => void, pending: number[][], logs: number[][]): number {
  const single = vms.length === 1;
  const result = hv.run(budget.left());
  for (let i = 0; i < vms.length; i++) {
    if (pending[i]!.length) emit(i, Uint8Array.of(10));
  }
  if (opts.consoleDir) {
    mkdirSync(opts.consoleDir, { recursive: true });
    names.forEach((n, i) => writeFileSync(join(opts.consoleDir!, `${n}.log`), Uint8Array.from(logs[i]!)));
  }
  if (opts.stats) for (const vm of vms) io.stderr(formatExitStats(vm));

  if (single) {
    const vm = vms[0]!;
    const vcpu = hv.vcpuOf(vm);
    const s = vm.stop;
    if (result.kind === 'budget' || !s) {
      io.stderr(`trapvisor: instruction budget of ${budget.limit} exhausted before the guest stopped (guest RIP ${hex(vcpu.rip)})\n`);
      return ExitCode.BUDGET_EXHAUSTED;
    }
    switch (s.kind) {
      case 'exit': return s.status & 0xff;
      case 'migrated':
        io.stderr(`trapvisor: VM ${vm.name} migrated after ${vcpu.executed + vcpu.emulated} instructions; it runs at the destination now\n`);
        return ExitCode.OK;
      case 'halted':
        io.stderr(`trapvisor: the guest halted for good after ${vcpu.executed + vcpu.emulated} instructions; stopping\n`);
        return ExitCode.OK;
      case 'triple-fault':
      case 'crash':
        io.stderr(`trapvisor: VM ${vm.name}: ${describeStop(vm)} at guest RIP ${hex(vcpu.rip)} after ${vcpu.executed + vcpu.emulated} instructions\n`);
        io.stderr(`  CR0=${hex(vcpu.vmcs.read(F.GUEST_CR0))} CR3=${hex(vcpu.vmcs.read(F.GUEST_CR3))} CR4=${hex(vcpu.vmcs.read(F.GUEST_CR4))} RFLAGS=${hex(vcpu.rflags)} ESP=${hex(vcpu.regs[4]!)}\n`);
        return ExitCode.GUEST_CRASHED;
    }
  }
  const total = hv.guestInstructions || 1;
  io.stderr(`${'VM'.padEnd(16)} ${'weight'.padStart(6)} ${'instructions'.padStart(14)} ${'share'.padStart(7)} ${'exits'.padStart(9)}  outcome\n`);
  for (const vm of vms) {
    const v = hv.vcpuOf(vm);
    const n = v.executed + v.emulated;
    io.stderr(`${vm.name.padEnd(16)} ${String(vm.weight).padStart(6)} ${String(n).padStart(14)} ${((100 * n) / total).toFixed(1).padStart(6)}% ${String(vm.totalExits).padStart(9)}  ${describeStop(vm)}\n`);
  }
  if (result.kind === 'budget') return ExitCode.BUDGET_EXHAUSTED;
  return vms.some((vm) => vm.stop?.kind === 'crash' || vm.stop?.kind === 'triple-fault') ? ExitCode.GUEST_CRASHED : ExitCode.OK;
}

/** `trapvisor restore FILE`: a VM from a snapshot, continued to its end. */
export async function restoreFromFile(path: string, opts: { maxInstructions?: string; stats?: boolean; engine: string }, io: BootIo): Promise<number> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read the snapshot: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, ExitCode.BAD_INPUT);
  }
  const engine = parseEngine(opts.engine);
  let file;
  try {
    file = parseSnapshot(text);
  } catch (e) {
    if (e instanceof SnapshotError) throw new UserError(`${path}: ${e.message}; nothing restored`, ExitCode.BAD_INPUT);
    throw e;
  }
  const maxInstructions = parseMaxInstructions(opts.maxInstructions);
  const hv = new Hypervisor({ ramSize: file.body.vm.memorySize + (16 << 20), engine });
  let vm: Vm;
  try {
    vm = restoreVm(hv, file, (b) => io.stdout(b));
  } catch (e) {
    if (e instanceof SnapshotError) throw new UserError(`${path}: ${e.message}; nothing restored`, ExitCode.BAD_INPUT);
    throw e;
  }
  if (io.stdin && io.stdin.length) vm.input(io.stdin);
  // Counted from the restored position: --max-instructions more.
  return finish(hv, [vm], [vm.name], io, { stats: opts.stats }, instructionBudget(hv, maxInstructions), () => {}, [[]], [[]]);
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('continue a VM from a snapshot file (written by boot --snapshot-at N --snapshot-file F)')
    .argument('<file>', 'snapshot file')
    .option('--max-instructions <n>', 'stop (exit 10) after this many more guest instructions')
    .option('--stats', 'print the VM\'s exits per reason at the end')
    .option('--engine <name>', 'blocks or interpret', 'blocks')
    .exitOverride(exitOnCommanderError)
    .action(runAction(async (file: string, opts: { maxInstructions?: string; stats?: boolean; engine: string }) => restoreFromFile(file, opts, {
      stdout: (b) => process.stdout.write(b),
      stderr: (t) => process.stderr.write(t),
      stdin: null,
    })));
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('boot several guests at once under the hypervisor, sharing the one CPU')
    .argument('<images...>', 'Multiboot images or .asm sources, one VM each')
    .option('--mem <size>', 'memory of each VM', '32M')
    .option('--cmdline <text>', 'kernel command line for every VM', '')
    .option('--weights <list>', 'scheduler weights, one per image (e.g. 2,1,1)')
    .option('--slice <n>', 'time slice in guest instructions (default 1000000)')
    .option('--console-dir <dir>', 'write each VM\'s console to DIR/NAME.log instead of stdout')
    .option('--max-instructions <n>', 'stop (exit 10) after this many guest instructions in all')
    .option('--trace-exits', 'print every VM exit on stderr')
    .option('--stats', 'print each VM\'s exits per reason at the end')
    .option('--no-fast-exits', 'every VM exit takes the full round trip (no exit fast path)')
    .option('--pv', 'assemble .asm images with -D PV=1 (their paravirtualized build)')
    .option('--engine <name>', 'blocks or interpret', 'blocks')
    .option('-I, --include <dir>', 'include directory for .asm images (repeatable)', collect, [])
    .exitOverride(exitOnCommanderError)
    .action(runAction(async (images: string[], opts: RunOptions) => runVms(images, opts, {
      stdout: (b) => process.stdout.write(b),
      stderr: (t) => process.stderr.write(t),
      stdin: null,
    })));
}
