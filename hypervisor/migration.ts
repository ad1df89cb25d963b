/**
 * Live migration by pre-copy (as KVM/QEMU do it): copy all of guest memory while the guest keeps
 * running, then in rounds copy again the pages it dirtied meanwhile, found through EPT dirty flags
 * (plus the pages the hypervisor itself wrote), until the dirty set is small or stops shrinking;
 * then stop the guest, copy the last dirty pages with the vCPU and device state, and resume it on
 * the destination. The source keeps running, untouched, if the channel fails before the end.
 *
 * The protocol is a sequence of JSON messages over a channel: in one process (tests, two
 * Hypervisor objects) or length-prefixed frames over TCP (cli/migrate.ts). The destination checks
 * every message and refuses anything malformed or out of order.
 */
import type { Hypervisor } from './hypervisor.js';
import { PAGE } from './memory.js';
import {
  encodePages, inflatePages, loadVmState, saveVmState, SnapshotError, validateState, writePages, type EncodedPages, type VmState,
} from './snapshot.js';
import type { Vm } from './vm.js';

export const MIGRATION_PROTOCOL = 'trapvisor-migration/1';

/** The first message of a migration or a replication: the VM that follows (checked by checkBegin). */
export interface BeginMessage { type: 'begin'; protocol: string; name: string; memorySize: number; weight: number }

export function beginMessage(vm: Vm, protocol: string): BeginMessage {
  return { type: 'begin', protocol, name: vm.name, memorySize: vm.ram.size, weight: vm.weight };
}

export type MigrationMessage =
  | BeginMessage
  | { type: 'pages'; round: number; memory: EncodedPages }
  | { type: 'state'; state: VmState; memory: EncodedPages }
  | { type: 'done' };

/** Where the source's messages go. `send` rejects when the channel breaks. */
export interface MigrationChannel {
  send(message: MigrationMessage): Promise<void>;
}

export interface MigrationOptions {
  /**
   * The link, in guest time: guest instructions that retire while one page crosses it (default
   * 3,200: a 4 KiB page over 1 Gbit/s takes 32 us, 3,200 instructions at 100 MIPS). Each round
   * the guest runs for as long as the previous round's pages take to send, so rounds shrink when
   * the guest dirties memory slower than the link copies it, as in real pre-copy.
   */
  instructionsPerPage?: number;
  /** Stop copying when at most this many pages are dirty (default 16). */
  threshold?: number;
  /** At most this many rounds after the first full copy (default 30). */
  maxRounds?: number;
  /**
   * Guest instructions the pre-copy rounds may run in all (default: no limit), such as what is
   * left of an instruction budget. Once they are spent, the stop-and-copy starts at once.
   */
  maxInstructions?: number;
}

export interface MigrationReport {
  ok: boolean;
  error?: string;
  rounds: number;
  pagesPerRound: number[];
  bytes: number;
  totalMs: number;
  /** The stop-and-copy window: the guest runs nowhere meanwhile. */
  downtimeMs: number;
  /** The same window in guest time: the last pages and the state crossing the link. */
  downtimeInstructions: number;
  converged: boolean;
}

/**
 * Clears the dirty state (EPT flags and the hypervisor's own log) and returns the pages dirtied
 * since the last call; the first call starts the hypervisor's log. `vm.ram.dirtyLog = null` ends it.
 */
export function takeDirty(hv: Hypervisor, vm: Vm): Set<number> {
  const dirty = new Set<number>(vm.ept.collectDirty(0, vm.ram.size).map((gpa) => gpa / PAGE));
  // Cached translations still carry write permission: drop them so the next write sets D again.
  hv.cpu.vmx.invept(2, 0n);
  for (const p of vm.ram.dirtyLog ?? []) dirty.add(p);
  vm.ram.dirtyLog = new Set();
  return dirty;
}

/**
 * Migrates `vm` out through `channel`. On success the source VM is stopped (it lives on at the
 * destination); on failure it keeps running as if nothing happened.
 */
export async function migrateOut(hv: Hypervisor, vm: Vm, channel: MigrationChannel, options: MigrationOptions = {}): Promise<MigrationReport> {
  const perPage = options.instructionsPerPage ?? 3_200;
  const threshold = options.threshold ?? 16;
  const maxRounds = options.maxRounds ?? 30;
  const runUntil = hv.guestInstructions + (options.maxInstructions ?? Infinity);
  const report: MigrationReport = { ok: false, rounds: 0, pagesPerRound: [], bytes: 0, totalMs: 0, downtimeMs: 0, downtimeInstructions: 0, converged: false };
  const start = performance.now();
  const send = async (m: MigrationMessage) => {
    report.bytes += JSON.stringify(m).length;
    await channel.send(m);
  };
  try {
    takeDirty(hv, vm); // dirty logging starts: everything from here on is tracked
    await send(beginMessage(vm, MIGRATION_PROTOCOL));
    const first = encodePages(vm);
    await send({ type: 'pages', round: 0, memory: first });
    report.pagesPerRound.push(first.pages.length);
    let previous = Infinity;
    let sent = first.pages.length;
    let dirty = new Set<number>();
    for (let round = 1; round <= maxRounds; round++) {
      const left = runUntil - hv.guestInstructions;
      if (left <= 0) break; // the budget is spent: the guest runs no more here
      hv.run(Math.min(left, Math.max(1_000, sent * perPage))); // the guest runs while the last round crosses the link
      dirty = takeDirty(hv, vm);
      if (vm.stop !== null) break; // the guest finished meanwhile: send what is left and its end state
      if (dirty.size <= threshold) { report.converged = true; break; }
      if (dirty.size >= previous) break; // not shrinking: more rounds will not help
      previous = dirty.size;
      const pages = encodePages(vm, [...dirty].sort((a, b) => a - b));
      await send({ type: 'pages', round, memory: pages });
      report.pagesPerRound.push(pages.pages.length);
      sent = pages.pages.length;
      dirty = new Set();
    }
    // Stop and copy: the guest does not run from here until the destination resumes it.
    const stopStart = performance.now();
    for (const p of takeDirty(hv, vm)) dirty.add(p);
    const last = encodePages(vm, [...dirty].sort((a, b) => a - b));
    report.pagesPerRound.push(last.pages.length);
    await send({ type: 'state', state: saveVmState(hv, vm), memory: last });
    await send({ type: 'done' });
    report.downtimeMs = performance.now() - stopStart;
    report.downtimeInstructions = (last.pages.length + 1) * perPage; // the last pages and the state on the link
    report.rounds = report.pagesPerRound.length;
    report.ok = true;
    vm.halt({ kind: 'migrated' });
  } catch (e) {
    report.error = (e as Error).message;
    report.rounds = report.pagesPerRound.length;
  } finally {
    vm.ram.dirtyLog = null;
    report.totalMs = performance.now() - start;
  }
  return report;
}

/** A received message (parsed JSON) with a type, refused after 'done'; shared with replication. */
export function checkMessage<M extends { type: string }>(message: unknown, done: boolean, what: string): M {
  const m = message as M;
  if (!m || typeof m !== 'object' || typeof m.type !== 'string') throw new SnapshotError(`${what}: not a message`);
  if (done) throw new SnapshotError(`${what}: message after done`);
  return m;
}

/** The VM a 'begin' message announces, checked (the first begin, its protocol, a memory size this side can hold). */
export function checkBegin(m: { protocol: unknown; name: unknown; memorySize: unknown; weight: unknown }, begun: boolean, protocol: string, what: string): { name: string; memorySize: number; weight: number } {
  if (begun) throw new SnapshotError(`${what}: begin twice`);
  if (m.protocol !== protocol) throw new SnapshotError(`${what}: protocol ${String(m.protocol)} is not ${protocol}`);
  const size = m.memorySize as number;
  if (!Number.isInteger(size) || size < 0x200000 || size % PAGE !== 0 || size > 1 << 30) throw new SnapshotError(`${what}: bad memory size ${String(m.memorySize)}`);
  return { name: String(m.name), memorySize: size, weight: Number.isInteger(m.weight) && (m.weight as number) > 0 ? m.weight as number : 1 };
}

/** The destination side: checks each message and builds the VM; `vm` is ready after 'done'. */
export class MigrationReceiver {
  vm: Vm | null = null;
  done = false;
  private begun: { name: string; memorySize: number; weight: number } | null = null;
  private readonly pending: { pages: number[]; data: Uint8Array }[] = [];

  constructor(private readonly hv: Hypervisor, private readonly console?: (bytes: Uint8Array) => void) {}

  /** Takes one message (already parsed JSON); throws SnapshotError for anything wrong. */
  receive(message: unknown): void {
    const m = checkMessage<MigrationMessage>(message, this.done, 'migration');
    switch (m.type) {
      case 'begin':
        this.begun = checkBegin(m, this.begun !== null, MIGRATION_PROTOCOL, 'migration');
        return;
      case 'pages':
        if (!this.begun) throw new SnapshotError('migration: pages before begin');
        this.pending.push(inflatePages(m.memory, this.begun.memorySize));
        return;
      case 'state': {
        if (!this.begun) throw new SnapshotError('migration: state before begin');
        this.pending.push(inflatePages(m.memory, this.begun.memorySize));
        validateState(m.state);
        if (m.state.memorySize !== this.begun.memorySize) throw new SnapshotError('migration: state and begin disagree on the memory size');
        const vm = this.hv.createVm({ name: this.begun.name, memory: this.begun.memorySize, weight: this.begun.weight, console: this.console });
        for (const p of this.pending) writePages(vm.ram.view(), p);
        loadVmState(this.hv, vm, m.state);
        this.vm = vm;
        return;
      }
      case 'done':
        if (!this.vm) throw new SnapshotError('migration: done before state');
        this.done = true;
        return;
      default:
        throw new SnapshotError(`migration: unknown message type ${String((m as { type: unknown }).type)}`);
    }
  }
}

/** A channel into a receiver in this process (messages go through JSON, as over the wire). */
export function localChannel(receiver: MigrationReceiver): MigrationChannel {
  return { send: async (m) => { receiver.receive(JSON.parse(JSON.stringify(m))); } };
}
