/**
 * Fault tolerance between two trapvisor processes over TCP (hypervisor/replication.ts):
 *   backup:   trapvisor replicate --listen PORT
 *   primary:  trapvisor boot IMAGE --replicate-to HOST:PORT [--epoch N] [--fail-at N]
 *
 * The primary sends a checkpoint after every epoch and releases the guest's console output of the
 * epoch only when the backup acknowledges it. The backup commits each checkpoint whole or not at
 * all; when the primary's connection closes or fails without 'done', it fails over: creates the
 * VM from the last committed checkpoint, runs it, and exits with the guest's status. `--fail-at N`
 * makes the primary die at guest instruction N as a crashed host would (connection reset, held
 * output lost, exit code 12).
 *
 * Frames are those of migration (cli/frames.ts); the backup answers each checkpoint with
 * { type: 'ack', epoch } and refuses anything malformed with { type: 'refused', error }.
 */
import type { Socket } from 'node:net';
import type { Command } from 'commander';
import { Hypervisor } from '../hypervisor.js';
import {
  replicate, ReplicationBackup, type OutputCommit, type ReplicationChannel, type ReplicationMessage, type ReplicationReport,
} from '../replication.js';
import type { Vm } from '../vm.js';
import type { BootIo } from './boot.js';
import { parseNumber, UserError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { ackingSocketChannel, connectTo, frame, FrameReader, listenOn, parseHostPort, refuse } from './frames.js';
import { parseListenOptions, registerListenCommand, runArrivedVm, type ListenOptions } from './migrate.js';

export interface ReplicationCliOptions {
  replicateTo?: string;
  epoch?: string;
  failAt?: string;
}

/** The primary's replication settings, from its command line. */
export interface ReplicationSettings {
  target: { host: string; port: number };
  epoch?: number;
  failAt?: number;
}

/** The primary's replication settings, checked before anything boots (null without --replicate-to). */
export function parseReplicationOptions(opts: ReplicationCliOptions): ReplicationSettings | null {
  if (opts.replicateTo === undefined) {
    for (const [flag, set] of [['--epoch', opts.epoch], ['--fail-at', opts.failAt]] as const) {
      if (set !== undefined) throw new UserError(`${flag} goes with --replicate-to`, ExitCode.USAGE);
    }
    return null;
  }
  const epoch = opts.epoch === undefined ? undefined : parseNumber(opts.epoch, '--epoch');
  if (epoch !== undefined && epoch < 1000) throw new UserError('--epoch must be at least 1000 instructions', ExitCode.USAGE);
  const failAt = opts.failAt === undefined ? undefined : parseNumber(opts.failAt, '--fail-at');
  return { target: parseHostPort(opts.replicateTo, '--replicate-to'), epoch, failAt };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KiB`;
const count = (n: number) => Math.round(n).toLocaleString('en-US');

export function formatReplicationReport(r: ReplicationReport): string {
  const lines: string[] = [];
  const f = r.failure;
  const last = r.epochs[r.epochs.length - 1];
  if (f) lines.push(`replication: the primary host fails (--fail-at) at guest instruction ${f.at}`);
  else if (r.ok) lines.push(`replication ended cleanly after ${r.epochs.length} checkpoints: the backup has nothing to take over`);
  else lines.push(`replication failed${last ? ` after checkpoint ${last.epoch}` : ''}: ${r.error}`);
  const first = r.epochs[0];
  if (first) lines.push(`  checkpoint 0: ${first.pages} pages (every non-zero page), ${kib(first.bytes)}, ${first.pauseMs.toFixed(1)} ms`);
  const epochs = r.epochs.slice(1);
  if (epochs.length) {
    const pages = epochs.map((e) => e.pages), bytes = epochs.reduce((n, e) => n + e.bytes, 0);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const pauses = epochs.map((e) => e.pauseMs), pauseInsn = epochs.flatMap((e) => (e.pauseInstructions === null ? [] : [e.pauseInstructions]));
    lines.push(`  ${epochs.length} epochs of ${count(r.epochLength)} guest instructions: pages per epoch ${Math.min(...pages)} / ${mean(pages).toFixed(1)} / ${Math.max(...pages)} (min / mean / max), ${kib(bytes / epochs.length)} per epoch, ${kib(bytes)} in all`);
    lines.push(`  pause per epoch ${mean(pauses).toFixed(2)} ms mean, ${Math.max(...pauses).toFixed(2)} ms max${pauseInsn.length ? ` (${count(mean(pauseInsn))} guest instructions' time at the guest's rate)` : ''}`);
  }
  const o = r.output;
  if (o.bytes) lines.push(`  output: ${o.bytes} bytes, released ${count(o.meanInstructions)} guest instructions (${o.meanMs.toFixed(1)} ms) after being written on average, ${count(o.maxInstructions)} (${o.maxMs.toFixed(1)} ms) at most`);
  if (f) {
    lines.push(`  the backup resumes from checkpoint ${f.committedEpoch} (guest instruction ${f.committedAt}) and re-executes ${f.reexecuted} instructions`);
    lines.push(`  ${f.unreleased.length} bytes of output held back since that checkpoint are lost with this host (the backup writes them again)`);
  }
  return lines.join('\n') + '\n';
}

/** The primary over TCP: replicates `vm` to the backup at `target`; resolves with the report (never rejects). */
export async function replicateOverTcp(hv: Hypervisor, vm: Vm, output: OutputCommit, target: { host: string; port: number },
  options: { epoch?: number; failAt?: number; budget?: number }): Promise<ReplicationReport> {
  let socket: Socket;
  try {
    socket = await connectTo(target);
  } catch (e) {
    return { ok: false, error: (e as Error).message, epochLength: options.epoch ?? 0, epochs: [], failure: null, output: output.latency, totalMs: 0 };
  }
  const channel: ReplicationChannel = {
    ...ackingSocketChannel<ReplicationMessage>(socket, (m) => m.type !== 'begin', 'backup'),
    // A crashed host sends no FIN, let alone 'done': the connection is reset.
    sever: () => { socket.resetAndDestroy(); },
  };
  const report = await replicate(hv, vm, channel, output, options);
  if (!report.failure) socket.end();
  return report;
}

/**
 * `boot --replicate-to`: runs the VM replicated. Returns the exit code when the run ends here
 * (the simulated host failure), or null to go on running the VM (it stopped, the budget ran out,
 * or the backup was lost and it runs on unprotected).
 */
export async function runReplicated(hv: Hypervisor, vm: Vm, output: OutputCommit,
  settings: ReplicationSettings, budget: number, io: Pick<BootIo, 'stderr'>): Promise<number | null> {
  const report = await replicateOverTcp(hv, vm, output, settings.target, { epoch: settings.epoch, failAt: settings.failAt, budget });
  io.stderr(formatReplicationReport(report));
  if (report.failure) return ExitCode.PRIMARY_FAILED;
  if (!report.ok) io.stderr('trapvisor: the guest runs on unprotected\n');
  return null;
}

type Outcome = { kind: 'done' } | { kind: 'lost'; reason: string; partial: number } | { kind: 'refused'; error: string };

/**
 * The backup: waits on `port` for a primary, commits its checkpoints, and when the primary is
 * lost, runs the VM from the last committed checkpoint; the exit code. Connections that send
 * anything but a primary's 'begin' are refused and the backup keeps waiting.
 */
export async function listenForReplication(port: number, host: string, io: BootIo, opts: ListenOptions): Promise<number> {
  const { engine, budget } = parseListenOptions(opts);
  const server = await listenOn(port, host);
  io.stderr(`trapvisor: backup waiting for a primary on ${host}:${port}\n`);
  const backup = new ReplicationBackup();
  const sockets = new Set<Socket>();
  let received = () => 0;
  const outcome = await new Promise<Outcome>((resolve) => {
    let primary: Socket | null = null;
    server.on('connection', (socket) => {
      sockets.add(socket);
      const reader = new FrameReader();
      let bytes = 0;
      socket.on('data', (chunk) => {
        if (primary !== null && socket !== primary) { refuse(socket, 'a primary is already replicating to this backup'); return; }
        bytes += chunk.length;
        try {
          for (const m of reader.push(chunk)) {
            const reply = backup.receive(m);
            if (primary === null) {
              primary = socket;
              received = () => bytes;
              io.stderr(`trapvisor: primary connected; replicating VM ${backup.vmName}\n`);
            }
            if (reply) socket.write(frame(reply));
            if (backup.done) { socket.end(); resolve({ kind: 'done' }); return; }
          }
        } catch (e) {
          const error = (e as Error).message;
          refuse(socket, error);
          if (socket === primary) resolve({ kind: 'refused', error });
          else io.stderr(`trapvisor: refused a connection: ${error}; still waiting for a primary\n`);
        }
      });
      const lost = (reason: string) => { if (socket === primary) resolve({ kind: 'lost', reason, partial: reader.partial }); };
      socket.on('error', (e) => lost(e.message));
      socket.on('close', () => { sockets.delete(socket); lost('the connection closed'); });
    });
  });
  server.close();
  for (const s of sockets) s.destroy();
  const c = backup.committed;
  const held = c ? `${c.epoch + 1} checkpoints committed (${kib(received())} received), the last at guest instruction ${c.at}` : 'no checkpoint committed';
  switch (outcome.kind) {
    case 'done':
      io.stderr(`trapvisor: the primary ended cleanly after ${held}; nothing to take over\n`);
      return ExitCode.OK;
    case 'refused':
      io.stderr(`trapvisor: refused the primary's message: ${outcome.error}; ${held}, but the primary was told and runs on unprotected, so nothing runs here\n`);
      return ExitCode.BAD_INPUT;
    case 'lost': {
      const partial = outcome.partial ? `; a partial checkpoint (${outcome.partial} bytes) was discarded` : '';
      if (!c) {
        io.stderr(`trapvisor: the primary was lost (${outcome.reason}) before its first checkpoint was committed${partial}; nothing to take over\n`);
        return ExitCode.BAD_INPUT;
      }
      io.stderr(`trapvisor: failover: the primary was lost (${outcome.reason}) without 'done'${partial}; ${held}; resuming VM ${backup.vmName} from checkpoint ${c.epoch}\n`);
      const hv = new Hypervisor({ ramSize: c.state.memorySize + (16 << 20), engine });
      const vm = backup.failover(hv, (b) => io.stdout(b));
      return runArrivedVm(hv, vm, io, budget);
    }
  }
}

export function registerReplicate(program: Command): void {
  registerListenCommand(program, 'replicate',
    'be the backup of a replicated VM (from boot IMAGE --replicate-to HOST:PORT): commit its checkpoints, and run it from the last one if the primary fails',
    'after a failover, stop (exit 10) after this many guest instructions', listenForReplication);
}
