/**
 * Live migration between two trapvisor processes over TCP:
 *   destination:  trapvisor migrate --listen PORT
 *   source:       trapvisor boot IMAGE --migrate-to HOST:PORT --after N
 *
 * Frames are a 4-byte big-endian length and a JSON message (hypervisor/migration.ts). The
 * destination answers the final 'done' with an 'ack' once it holds the whole VM, and only then
 * does the source stop its copy; if the connection breaks or the destination refuses, the source
 * keeps running its guest as if nothing happened.
 */
import type { Socket } from 'node:net';
import type { Command } from 'commander';
import { Hypervisor } from '../hypervisor.js';
import { migrateOut, MigrationReceiver, type MigrationChannel, type MigrationMessage, type MigrationOptions, type MigrationReport } from '../migration.js';
import type { Vm } from '../vm.js';
import type { BootIo } from './boot.js';
import { parseEngine, parseMaxInstructions, parseNumber, runAction, exitOnCommanderError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { ackingSocketChannel, connectTo, FrameReader, frame, listenOn, refuse } from './frames.js';

export function formatMigrationReport(r: MigrationReport): string {
  return [
    `migration ${r.ok ? 'done' : `failed: ${r.error}`}`,
    `  rounds ${r.rounds}, pages per round ${r.pagesPerRound.join(' ')}${r.converged ? ' (converged)' : ''}`,
    `  ${(r.bytes / 1024).toFixed(0)} KiB sent in ${r.totalMs.toFixed(1)} ms`,
    `  downtime ${r.downtimeMs.toFixed(2)} ms (${r.downtimeInstructions} guest instructions)`,
  ].join('\n') + '\n';
}

/** Source side: migrate `vm` to host:port; resolves with the report (never rejects). */
export async function migrateOverTcp(hv: Hypervisor, vm: Vm, target: { host: string; port: number }, options: MigrationOptions = {}): Promise<MigrationReport> {
  let socket: Socket;
  try {
    socket = await connectTo(target);
  } catch (e) {
    return { ok: false, error: (e as Error).message, rounds: 0, pagesPerRound: [], bytes: 0, totalMs: 0, downtimeMs: 0, downtimeInstructions: 0, converged: false };
  }
  const channel: MigrationChannel = ackingSocketChannel<MigrationMessage>(socket, (m) => m.type === 'done', 'destination');
  const report = await migrateOut(hv, vm, channel, options);
  socket.end();
  return report;
}

/** The options of a command that waits for a VM to arrive (migrate, replicate). */
export interface ListenOptions {
  engine: string;
  maxInstructions?: string;
}

/**
 * Checks a listening command's options before it listens: a mistake found only once a VM has
 * arrived would lose that VM, whose source has already let it go.
 */
export function parseListenOptions(opts: ListenOptions): { engine: 'blocks' | 'interpret'; budget: number } {
  return {
    engine: parseEngine(opts.engine),
    budget: parseMaxInstructions(opts.maxInstructions),
  };
}

/** Destination side: accept one migration on `port`, then run the VM to its end. */
export async function listenForMigration(port: number, host: string, io: BootIo, opts: ListenOptions): Promise<number> {
  const { engine, budget } = parseListenOptions(opts);
  const server = await listenOn(port, host);
  io.stderr(`trapvisor: waiting for a migration on ${host}:${port}\n`);
  const hv = new Hypervisor({ ramSize: (1 << 30) + (16 << 20), engine });
  const receiver = new MigrationReceiver(hv, (b) => io.stdout(b));
  const outcome = await new Promise<{ ok: boolean; error?: string }>((resolve) => {
    server.once('connection', (socket) => {
      server.close();
      const reader = new FrameReader();
      socket.on('data', (chunk) => {
        try {
          for (const m of reader.push(chunk)) {
            receiver.receive(m);
            if (receiver.done) {
              socket.write(frame({ type: 'ack' }), () => socket.end());
              resolve({ ok: true });
            }
          }
        } catch (e) {
          refuse(socket, (e as Error).message);
          resolve({ ok: false, error: (e as Error).message });
        }
      });
      socket.on('error', (e) => resolve({ ok: false, error: e.message }));
      socket.on('close', () => resolve({ ok: false, error: 'the source closed the connection before the migration was complete' }));
    });
  });
  if (!outcome.ok || !receiver.vm) {
    io.stderr(`trapvisor: migration refused: ${outcome.error}; nothing runs\n`);
    return ExitCode.BAD_INPUT;
  }
  const vm = receiver.vm;
  io.stderr(`trapvisor: VM ${vm.name} arrived; resuming it\n`);
  return runArrivedVm(hv, vm, io, budget);
}

/** Runs a VM that arrived from another process (migrated, or taken over by a backup) to its end, or for `budget` instructions; the exit code. */
export function runArrivedVm(hv: Hypervisor, vm: Vm, io: Pick<BootIo, 'stderr'>, budget: number): number {
  const result = hv.run(budget);
  const s = vm.stop;
  if (result.kind === 'budget' || !s) return ExitCode.BUDGET_EXHAUSTED;
  if (s.kind === 'exit') return s.status & 0xff;
  if (s.kind === 'halted' || s.kind === 'migrated') return ExitCode.OK;
  io.stderr(`trapvisor: VM ${vm.name}: ${s.kind === 'crash' ? s.reason : s.kind}\n`);
  return ExitCode.GUEST_CRASHED;
}

export function registerMigrate(program: Command): void {
  registerListenCommand(program, 'migrate', 'receive a live-migrated VM (from boot IMAGE --migrate-to HOST:PORT --after N) and run it',
    'stop (exit 10) after this many guest instructions', listenForMigration);
}

/** A command that waits on a TCP port for another trapvisor (migrate, replicate) with the usual options. */
export function registerListenCommand(program: Command, name: string, description: string, budgetHelp: string,
  listen: (port: number, host: string, io: BootIo, opts: ListenOptions) => Promise<number>): void {
  program
    .command(name)
    .description(description)
    .requiredOption('--listen <port>', 'TCP port to wait on')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--max-instructions <n>', budgetHelp)
    .option('--engine <name>', 'blocks or interpret', 'blocks')
    .exitOverride(exitOnCommanderError)
    .action(runAction(async (opts: { listen: string; host: string; maxInstructions?: string; engine: string }) => {
      const port = parseNumber(opts.listen, '--listen');
      return listen(port, opts.host, { stdout: (b) => process.stdout.write(b), stderr: (t) => process.stderr.write(t), stdin: null }, opts);
    }));
}
