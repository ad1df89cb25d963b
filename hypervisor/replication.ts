/**
 * Fault tolerance by continuous checkpointing to a backup, as Remus does it (Cully et al., "Remus:
 * High Availability via Asynchronous Virtual Machine Replication", NSDI 2008).
 *
 * The primary runs its VM in epochs of a fixed number of guest instructions. After each epoch it
 * pauses the guest, collects the pages dirtied in the epoch (EPT dirty flags plus the pages the
 * hypervisor itself wrote, as live migration does) and the vCPU and device state, and sends them
 * to the backup as one checkpoint. The first checkpoint carries every non-zero page.
 *
 * Output commit, the point of Remus: console output the guest writes in an epoch is held back,
 * and released to the outside world only once the backup has acknowledged the checkpoint taken
 * after it. So nothing outside ever sees output the backup could not reproduce: if the primary
 * dies, the backup resumes from the last checkpoint it committed, and since the emulator is
 * deterministic it re-executes the lost epoch and writes exactly the output that was held back
 * and lost. Released primary output plus backup output is the output of an unreplicated run.
 *
 * The backup keeps a shadow copy of guest memory and the last committed state. It applies a
 * checkpoint atomically: everything is checked (checksum, order, page numbers, state) before any
 * of it is written, so a checkpoint that arrives half or malformed is discarded and the previous
 * one stays committed. On failover (the primary's channel closes or fails without a clean 'done')
 * it creates the VM from the last committed checkpoint and runs it.
 *
 * Unlike Remus, the guest stays paused until the backup's acknowledgement arrives (Remus resumes
 * it at once and lets it run speculatively while the checkpoint crosses the link). The pause is
 * longer, but the moment output is released is exactly the moment the backup holds the state that
 * produced it, so a crash while the guest runs never loses or repeats output.
 */
import type { Hypervisor } from './hypervisor.js';
import { beginMessage, checkBegin, checkMessage, takeDirty, type BeginMessage } from './migration.js';
import {
  checksumOf, encodePages, inflatePages, loadVmState, saveVmState, SnapshotError, validateState, writePages,
  type EncodedPages, type VmState,
} from './snapshot.js';
import type { Vm } from './vm.js';

export const REPLICATION_PROTOCOL = 'trapvisor-replication/1';

/** Checkpoints are compressed for speed: the guest waits for them (zlib's fastest level). */
const CHECKPOINT_DEFLATE_LEVEL = 1;

export interface CheckpointBody {
  /** 0 for the first (every non-zero page), then one per epoch. */
  epoch: number;
  /** The VM's position when it was taken: guest instructions executed and emulated. */
  at: number;
  state: VmState;
  /** The pages dirtied in the epoch (all non-zero pages in checkpoint 0). */
  memory: EncodedPages;
}

export type ReplicationMessage =
  | BeginMessage
  | { type: 'checkpoint'; checksum: string; body: CheckpointBody }
  | { type: 'done' };

/** The backup's answers: a checkpoint (or 'done') taken, or a message refused. */
export type ReplicationReply = { type: 'ack'; epoch: number } | { type: 'refused'; error: string };

/** Where the primary's messages go. */
export interface ReplicationChannel {
  /**
   * Sends one message. For a checkpoint or 'done' the promise resolves when the backup has
   * acknowledged it (a checkpoint: committed it); it rejects when the channel breaks or the
   * backup refuses.
   */
  send(message: ReplicationMessage): Promise<void>;
  /** The primary's host dies: the channel drops at once, without 'done' (a simulated failure). */
  sever(): void;
}

// ------------------------------------------------------------------ output commit

/** How long released output was held back: in guest instructions and in ms. */
export interface OutputLatency {
  bytes: number;
  meanInstructions: number;
  maxInstructions: number;
  meanMs: number;
  maxMs: number;
}

/**
 * The guest's console on the primary (pass `write` as the VM's console). While replication runs,
 * output is held until `commit` (the backup acknowledged the checkpoint after it); otherwise it
 * goes straight out.
 */
export class OutputCommit {
  private held: { at: number; ms: number; bytes: Uint8Array }[] = [];
  private position: (() => number) | null = null;
  private released = 0;
  private latencySum = { instructions: 0, ms: 0 };
  private latencyMax = { instructions: 0, ms: 0 };

  constructor(private readonly release: (bytes: Uint8Array) => void) {}

  readonly write = (bytes: Uint8Array): void => {
    if (this.position === null) { this.release(bytes); return; }
    this.held.push({ at: this.position(), ms: performance.now(), bytes: bytes.slice() });
  };

  /** From now on output is held; `position` is the VM's guest-instruction count. */
  hold(position: () => number): void {
    this.position = position;
  }

  /** The checkpoint taken at guest instruction `at` is committed: what was written before it goes out. */
  commit(at: number): void {
    if (this.held.length === 0) return;
    const now = performance.now();
    for (const h of this.held) {
      const instructions = at - h.at, ms = now - h.ms;
      this.latencySum.instructions += instructions * h.bytes.length;
      this.latencySum.ms += ms * h.bytes.length;
      this.latencyMax.instructions = Math.max(this.latencyMax.instructions, instructions);
      this.latencyMax.ms = Math.max(this.latencyMax.ms, ms);
    }
    const bytes = this.heldBytes;
    this.held = [];
    this.released += bytes.length;
    this.release(bytes);
  }

  /** Output written and not yet released. */
  get heldBytes(): Uint8Array {
    return concat(this.held.map((h) => h.bytes));
  }

  /** No backup to stay consistent with any more: release what is held and stop holding. */
  passThrough(): void {
    this.commit(this.position?.() ?? 0);
    this.position = null;
  }

  /** The host failed: what was held is lost with it. Returns it (tests compare it with the backup's). */
  discard(): Uint8Array {
    const lost = this.heldBytes;
    this.held = [];
    this.position = null;
    return lost;
  }

  get latency(): OutputLatency {
    const n = this.released || 1;
    return {
      bytes: this.released, meanInstructions: this.latencySum.instructions / n, maxInstructions: this.latencyMax.instructions,
      meanMs: this.latencySum.ms / n, maxMs: this.latencyMax.ms,
    };
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

// ------------------------------------------------------------------ the primary

export interface ReplicationOptions {
  /** Guest instructions per epoch (default 1,000,000). */
  epoch?: number;
  /** Stop replicating (cleanly, with 'done') after this many more guest instructions. */
  budget?: number;
  /**
   * Simulate the primary host dying when the VM reaches this guest instruction (its count of
   * instructions executed and emulated): the channel is severed without 'done' and the held
   * output is lost.
   */
  failAt?: number;
  /**
   * Where the report's run, pause and total times come from, in ms (default performance.now: wall
   * time; a benchmark on a shared machine passes the process's CPU time).
   */
  clock?: () => number;
}

export interface EpochRecord {
  epoch: number;
  /** The VM's position at the checkpoint. */
  at: number;
  /** Guest instructions run in the epoch (0 for checkpoint 0). */
  instructions: number;
  /** Wall time the guest ran in the epoch. */
  runMs: number;
  pages: number;
  /** The checkpoint message's size. */
  bytes: number;
  /** The guest was paused this long: collecting, sending and waiting for the acknowledgement. */
  pauseMs: number;
  /** The pause in the guest's own time: the instructions it would have run meanwhile at its rate in the epoch (null for checkpoint 0). */
  pauseInstructions: number | null;
  /** Output bytes released by this checkpoint's acknowledgement. */
  released: number;
}

export interface ReplicationFailure {
  /** The VM's position when its host died. */
  at: number;
  /** The last checkpoint the backup acknowledged: the backup resumes from it. */
  committedEpoch: number;
  committedAt: number;
  /** Guest instructions the backup runs again to get back to where the primary died. */
  reexecuted: number;
  /** Output written after the last committed checkpoint, held and never released. */
  unreleased: Uint8Array;
}

export interface ReplicationReport {
  /** Replication ended cleanly ('done' acknowledged): the guest stopped or the budget ran out. */
  ok: boolean;
  /** Why replication stopped early (the backup was lost or refused): the guest runs on unprotected. */
  error?: string;
  epochLength: number;
  epochs: EpochRecord[];
  /** Set when the primary was made to fail (`failAt`). */
  failure: ReplicationFailure | null;
  output: OutputLatency;
  totalMs: number;
}

/**
 * Runs `vm` (alone on `hv`) replicated through `channel` until it stops, the budget runs out, the
 * backup is lost, or the simulated failure point. `output` must be the VM's console. Never
 * rejects: a lost backup is reported and the guest can go on unprotected.
 */
export async function replicate(hv: Hypervisor, vm: Vm, channel: ReplicationChannel, output: OutputCommit, options: ReplicationOptions = {}): Promise<ReplicationReport> {
  if (hv.vms.length !== 1) throw new Error('replication needs the VM alone on its hypervisor');
  const epochLength = options.epoch ?? 1_000_000;
  if (!Number.isInteger(epochLength) || epochLength < 1) throw new RangeError(`epoch ${epochLength}: a whole number of instructions, at least 1`);
  const vcpu = hv.vcpuOf(vm);
  const position = () => vcpu.executed + vcpu.emulated;
  const end = position() + (options.budget ?? Infinity);
  const failAt = options.failAt ?? Infinity;
  const report: ReplicationReport = { ok: false, epochLength, epochs: [], failure: null, output: output.latency, totalMs: 0 };
  const clock = options.clock ?? (() => performance.now());
  const start = clock();
  let committed = { epoch: -1, at: position() };

  /** Checkpoint `epoch` of the pages `dirty` (or all non-zero pages); resolves once the backup committed it. */
  const checkpoint = async (epoch: number, dirty: number[] | null, instructions: number, runMs: number) => {
    const pauseStart = clock();
    const body: CheckpointBody = { epoch, at: position(), state: saveVmState(hv, vm), memory: encodePages(vm, dirty ?? undefined, CHECKPOINT_DEFLATE_LEVEL) };
    const message: ReplicationMessage = { type: 'checkpoint', checksum: checksumOf(body), body };
    const bytes = JSON.stringify(message).length;
    await channel.send(message);
    const before = output.latency.bytes;
    committed = { epoch, at: body.at };
    output.commit(body.at);
    const pauseMs = clock() - pauseStart;
    report.epochs.push({
      epoch, at: body.at, instructions, runMs, pages: body.memory.pages.length, bytes, pauseMs,
      pauseInstructions: instructions > 0 && runMs > 0 ? (pauseMs * instructions) / runMs : null,
      released: output.latency.bytes - before,
    });
  };

  output.hold(position);
  try {
    takeDirty(hv, vm); // dirty logging starts: from here on every write is seen
    await channel.send(beginMessage(vm, REPLICATION_PROTOCOL));
    await checkpoint(0, null, 0, 0);
    for (let epoch = 1; vm.stop === null && position() < end; epoch++) {
      const from = position();
      const target = Math.min(from + epochLength, end, Math.max(failAt, from));
      const runStart = clock();
      while (vm.stop === null && position() < target) {
        const before = position();
        hv.run(target - before);
        if (position() === before) break; // nothing can run (every vCPU blocked for good)
      }
      const runMs = clock() - runStart;
      if (position() >= failAt && vm.stop === null) {
        // The host dies here: no checkpoint, no 'done', and the held output goes down with it.
        channel.sever();
        const at = position();
        report.failure = { at, committedEpoch: committed.epoch, committedAt: committed.at, reexecuted: at - committed.at, unreleased: output.discard() };
        return report;
      }
      await checkpoint(epoch, [...takeDirty(hv, vm)].sort((a, b) => a - b), position() - from, runMs);
    }
    await channel.send({ type: 'done' });
    report.ok = true;
  } catch (e) {
    report.error = (e as Error).message;
  } finally {
    vm.ram.dirtyLog = null;
    if (report.failure === null) output.passThrough();
    report.output = output.latency;
    report.totalMs = clock() - start;
  }
  return report;
}

// ------------------------------------------------------------------ the backup

export interface Committed {
  epoch: number;
  at: number;
  state: VmState;
}

/** The backup: checks and commits checkpoints; after a failure, creates the VM from the last one. */
export class ReplicationBackup {
  /** The last committed checkpoint (null before the first). */
  committed: Committed | null = null;
  /** The primary said 'done': it ended cleanly and there is nothing to take over. */
  done = false;
  private vmShape: { name: string; memorySize: number; weight: number } | null = null;
  /** Guest memory as of the committed checkpoint. */
  private shadow: Uint8Array | null = null;

  /** A primary has announced its VM. */
  get begun(): boolean {
    return this.vmShape !== null;
  }

  get vmName(): string | null {
    return this.vmShape?.name ?? null;
  }

  /**
   * Takes one message (parsed JSON). Returns the reply to send (null for 'begin'); throws
   * SnapshotError for anything malformed, out of order or that does not fit, having changed nothing.
   */
  receive(message: unknown): ReplicationReply | null {
    const m = checkMessage<ReplicationMessage>(message, this.done, 'replication');
    switch (m.type) {
      case 'begin':
        this.vmShape = checkBegin(m, this.vmShape !== null, REPLICATION_PROTOCOL, 'replication');
        return null;
      case 'checkpoint':
        return this.apply(m);
      case 'done':
        if (!this.committed) throw new SnapshotError('replication: done before any checkpoint');
        this.done = true;
        return { type: 'ack', epoch: this.committed.epoch };
      default:
        throw new SnapshotError(`replication: unknown message type ${String((m as { type: unknown }).type)}`);
    }
  }

  private apply(m: { checksum: unknown; body: CheckpointBody }): ReplicationReply {
    const shape = this.vmShape;
    if (!shape) throw new SnapshotError('replication: checkpoint before begin');
    const body = m.body;
    if (!body || typeof body !== 'object') throw new SnapshotError('replication: checkpoint body missing');
    const expected = this.committed ? this.committed.epoch + 1 : 0;
    if (body.epoch !== expected) throw new SnapshotError(`replication: checkpoint ${String(body.epoch)} out of order (expected ${expected})`);
    if (m.checksum !== checksumOf(body)) throw new SnapshotError(`replication: checkpoint ${expected} checksum mismatch: it arrived damaged`);
    if (!Number.isInteger(body.at) || body.at < (this.committed?.at ?? 0)) throw new SnapshotError(`replication: checkpoint ${expected} position ${String(body.at)} is before the last one's`);
    validateState(body.state);
    if (body.state.memorySize !== shape.memorySize) throw new SnapshotError(`replication: checkpoint ${expected} is of a VM with ${body.state.memorySize} bytes of memory, not ${shape.memorySize}`);
    const pages = inflatePages(body.memory, shape.memorySize);
    // Everything is checked; nothing below can fail, so the checkpoint is committed whole or not at all.
    this.shadow ??= new Uint8Array(shape.memorySize);
    writePages(this.shadow, pages);
    this.committed = { epoch: body.epoch, at: body.at, state: body.state };
    return { type: 'ack', epoch: body.epoch };
  }

  /**
   * Failover: the VM, created in `hv` from the last committed checkpoint, ready to run. Throws
   * SnapshotError when there is nothing to take over.
   */
  failover(hv: Hypervisor, console?: (bytes: Uint8Array) => void): Vm {
    if (this.done) throw new SnapshotError('replication: the primary ended cleanly; there is nothing to take over');
    if (!this.vmShape || !this.committed || !this.shadow) throw new SnapshotError('replication: no checkpoint was committed; there is nothing to take over');
    const vm = hv.createVm({ name: this.vmShape.name, memory: this.vmShape.memorySize, weight: this.vmShape.weight, console });
    vm.ram.view().set(this.shadow);
    loadVmState(hv, vm, this.committed.state);
    return vm;
  }
}

/**
 * A channel into a backup in this process (messages go through JSON, as over the wire). A refusal
 * rejects the send, as the backup's 'refused' does over TCP.
 */
export function localReplicationChannel(backup: ReplicationBackup): ReplicationChannel & { severed: boolean } {
  const channel = {
    severed: false,
    send: async (m: ReplicationMessage) => {
      if (channel.severed) throw new Error('the channel is down');
      backup.receive(JSON.parse(JSON.stringify(m)));
    },
    sever: () => { channel.severed = true; },
  };
  return channel;
}
