/**
 * Going backwards in a deterministic machine: periodic in-memory checkpoints of a VM plus
 * re-execution. To reach an earlier instruction, restore the last checkpoint at or before it and
 * run forward exactly the missing number of guest instructions. The emulator is deterministic
 * (guest time is the instruction count, the devices' state is in the checkpoint), and the one
 * input from outside, console input, is recorded with the instruction count at which it arrived
 * and delivered again at that count on every re-execution, so the VM arrives in exactly the state
 * it had the first time. The debugger builds reverse-stepi and reverse-continue on `goTo`
 * (hypervisor/debug/reverse.ts).
 *
 * Cost: a checkpoint keeps its own copy only of the pages that changed since the previous one
 * (unchanged pages are shared), and when there are more than `maxCheckpoints` every other one of
 * the older half is dropped, so memory stays bounded while recent history stays dense.
 * Console output is muted while re-executing history already lived through: what the guest
 * printed stays printed, once; input given in the past starts a new history from there. Works
 * for a VM alone on its hypervisor (with neighbours, its share of time would differ on replay).
 */
import type { Hypervisor, RunResult } from './hypervisor.js';
import { isZeroPage, PAGE } from './memory.js';
import { loadVmState, saveVmState, type VmState } from './snapshot.js';
import type { ExitStat, Vm } from './vm.js';

interface Checkpoint {
  /** The VM's position: guest instructions executed and emulated. */
  at: number;
  state: VmState;
  /** Guest memory by page; null for a page of zeros. Shared with the previous checkpoint where unchanged. */
  pages: (Uint8Array | null)[];
  /** How many recorded inputs had been delivered. */
  inputsDelivered: number;
  exitStats: [number, ExitStat][];
}

/** Console input that arrived from outside, and when. */
export interface RecordedInput {
  at: number;
  bytes: Uint8Array;
}

export interface TimeTravelOptions {
  /** Guest instructions between checkpoints (a re-execution is at most about this long). */
  interval?: number;
  /** Checkpoints kept before older ones are thinned out. */
  maxCheckpoints?: number;
}

export class TimeTravel {
  readonly interval: number;
  readonly maxCheckpoints: number;
  private readonly checkpoints: Checkpoint[] = [];
  /** Every input from outside, in order of arrival. */
  readonly inputs: RecordedInput[] = [];
  private delivered = 0;
  /** The furthest position reached in this history (replays up to it are muted). */
  private frontier = 0;
  /** Re-executions done and the instructions they took (for `info record`). */
  replays = 0;
  replayedInstructions = 0;

  constructor(private readonly hv: Hypervisor, readonly vm: Vm, options: TimeTravelOptions = {}) {
    if (hv.vms.length !== 1) throw new Error('time travel needs the VM alone on its hypervisor');
    this.interval = options.interval ?? 100_000;
    if (!Number.isInteger(this.interval) || this.interval < 1) throw new RangeError(`checkpoint interval ${this.interval}: a whole number of instructions, at least 1`);
    this.maxCheckpoints = Math.max(4, options.maxCheckpoints ?? 256);
    this.checkpoint();
  }

  /** Guest instructions the VM has executed (and had emulated) so far. */
  get position(): number {
    const v = this.hv.vcpuOf(this.vm);
    return v.executed + v.emulated;
  }

  /** The earliest position reachable backwards. */
  get earliest(): number {
    return this.checkpoints[0]!.at;
  }

  /** Positions of the checkpoints held now. */
  get checkpointPositions(): number[] {
    return this.checkpoints.map((c) => c.at);
  }

  /** Bytes of guest memory the checkpoints hold (shared pages counted once). */
  get checkpointBytes(): number {
    const seen = new Set<Uint8Array>();
    for (const c of this.checkpoints) for (const p of c.pages) if (p) seen.add(p);
    return seen.size * PAGE;
  }

  /** Console input from outside: delivered now, and again at this position on every replay. */
  input(bytes: Uint8Array): void {
    const at = this.position;
    // Input given in the past makes a new future: the inputs recorded after it never happened.
    this.inputs.length = this.delivered;
    this.frontier = at;
    this.inputs.push({ at, bytes: bytes.slice() });
    this.delivered++;
    this.vm.input(bytes);
  }

  private checkpoint(): void {
    const at = this.position;
    const last = this.checkpoints[this.checkpoints.length - 1];
    if (last && last.at >= at) return;
    const view = this.vm.ram.view();
    const buf = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    const pages: (Uint8Array | null)[] = [];
    for (let p = 0; p < view.length / PAGE; p++) {
      const page = buf.subarray(p * PAGE, (p + 1) * PAGE);
      const prev = last?.pages[p];
      const unchanged = prev === undefined || prev === null ? isZeroPage(page) : page.equals(prev);
      pages.push(unchanged ? prev ?? null : isZeroPage(page) ? null : new Uint8Array(page));
    }
    this.checkpoints.push({
      at, state: saveVmState(this.hv, this.vm), pages, inputsDelivered: this.delivered,
      exitStats: [...this.vm.exitStats].map(([r, s]) => [r, { ...s }]),
    });
    if (this.checkpoints.length > this.maxCheckpoints) this.thin();
  }

  /** Drops every other checkpoint of the older half (the first is always kept). */
  private thin(): void {
    const half = this.checkpoints.length >> 1;
    const kept = this.checkpoints.filter((_c, i) => i >= half || i % 2 === 0);
    this.checkpoints.splice(0, this.checkpoints.length, ...kept);
  }

  /**
   * Runs the hypervisor for up to `budget` guest instructions as `hv.run` does, stopping at each
   * checkpoint boundary to take one and at each recorded input to deliver it. Ends early when the
   * run does (a debugger pause, every VM stopped).
   */
  run(budget: number): RunResult {
    const end = this.position + budget;
    let result: RunResult = { kind: 'budget' };
    try {
      while (this.position < end && this.vm.stop === null) {
        const before = this.position;
        this.deliverDue();
        const nextCheckpoint = (Math.floor(before / this.interval) + 1) * this.interval;
        const nextInput = this.delivered < this.inputs.length ? this.inputs[this.delivered]!.at : Infinity;
        // History already lived through prints nothing the second time; new history does.
        const replaying = before < this.frontier;
        this.vm.consoleMuted = replaying;
        result = this.hv.run(Math.min(end, nextCheckpoint, nextInput, replaying ? this.frontier : Infinity) - before);
        this.frontier = Math.max(this.frontier, this.position);
        if (this.position >= nextCheckpoint) this.checkpoint();
        if (result.kind !== 'budget' || this.position === before) break;
      }
    } finally {
      this.vm.consoleMuted = false;
    }
    this.deliverDue();
    if (this.vm.stop !== null) result = { kind: 'all-stopped' };
    return result;
  }

  private deliverDue(): void {
    while (this.delivered < this.inputs.length && this.inputs[this.delivered]!.at <= this.position) {
      this.vm.input(this.inputs[this.delivered]!.bytes);
      this.delivered++;
    }
  }

  /** Puts the VM back in exactly the state it had at guest instruction `target` (forward too). */
  goTo(target: number): void {
    if (target < this.earliest) throw new RangeError(`instruction ${target} is before the first checkpoint (${this.earliest})`);
    if (target >= this.position) { this.run(target - this.position); return; }
    let i = this.checkpoints.length - 1;
    while (this.checkpoints[i]!.at > target) i--;
    const c = this.checkpoints[i]!;
    this.checkpoints.length = i + 1; // later ones are taken again on the way
    const view = this.vm.ram.view();
    c.pages.forEach((data, p) => {
      if (data) view.set(data, p * PAGE); else view.fill(0, p * PAGE, (p + 1) * PAGE);
    });
    loadVmState(this.hv, this.vm, c.state);
    this.vm.exitStats.clear();
    for (const [r, s] of c.exitStats) this.vm.exitStats.set(r, { ...s });
    this.delivered = c.inputsDelivered;
    this.replays++;
    this.replayedInstructions += target - c.at;
    this.run(target - c.at);
  }

  /** Back `n` instructions (not before the earliest checkpoint). */
  reverseStep(n = 1): void {
    this.goTo(Math.max(this.earliest, this.position - n));
  }

  /** The positions of the checkpoints before `position`, latest first (for searching backwards window by window). */
  checkpointsBefore(position: number): number[] {
    return this.checkpoints.filter((c) => c.at < position).map((c) => c.at).reverse();
  }
}
