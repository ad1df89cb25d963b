/**
 * One counter of the 8254 (Intel 82C54 datasheet, 23124406), computed in closed form from its input
 * clock tick instead of decremented tick by tick.
 *
 * The counting element (CE) follows a trajectory fixed at its last load: loaded with N at tick L,
 * it is a closed-form function of (tick - L) in each mode. Everything that changes the trajectory
 * (a control word, a count, a gate edge) happens at a known tick and starts a new one, so reading
 * the counter, the OUT level and the next rising edge of OUT are all O(1) at any tick.
 *
 * Ticks: the count is loaded on the first CLK edge after the write ("loaded on the next CLK
 * pulse"), so a count written at tick w is in the CE at tick w + 1.
 */
import type { StateReader } from './state.js';

export type CounterMode = 0 | 1 | 2 | 3 | 4 | 5;
/** RW1 RW0 of the control word: 1 = LSB only, 2 = MSB only, 3 = LSB then MSB. */
export type CounterAccess = 1 | 2 | 3;

export interface PitCounterState {
  /** M2-M0 exactly as programmed (6 and 7 act as modes 2 and 3 but read back as written). */
  modeBits: number;
  access: CounterAccess;
  bcd: boolean;
  /** CR: the count register as last written. */
  countRegister: number;
  /** The LSB of a two-byte count whose MSB has not been written yet. */
  pendingLowByte: number | null;
  readMsbNext: boolean;
  /** Output latch (counter latch command or read-back), until fully read. */
  countLatch: number | null;
  statusLatch: number | null;
  nullCount: boolean;
  /** Tick at which the CR reaches the CE and NULL COUNT drops. */
  nullCountClearsAtTick: number | null;
  /** A count has been written since the control word (modes 1, 2, 3, 5 need one to start). */
  hasCount: boolean;
  gate: boolean;
  /** Whether the CE follows a trajectory; if not it holds `heldCount` and OUT is `outWhenStopped`. */
  running: boolean;
  loadTick: number;
  length: number;
  heldCount: number;
  outWhenStopped: boolean;
  /** OUT between a write and the load on the next CLK. */
  outBeforeLoad: boolean;
  /** Modes 0 and 4: the tick GATE fell; counting is suspended until it rises. */
  suspendedAtTick: number | null;
  /** Modes 2 and 3: a count written while counting takes effect at the next reload. */
  pendingLength: number | null;
  pendingSinceTick: number;
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

function fromBcd(v: number): number {
  return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

function toBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8)
    | ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

export class PitCounter {
  private s: PitCounterState;

  constructor(gate: boolean, resetTick: number) {
    this.s = PitCounter.poweredOn(gate, resetTick);
  }

  /**
   * The state a PC BIOS leaves: mode 3, LSB-then-MSB, count 0 (65536: 18.2 Hz on counter 0),
   * counting from reset when GATE is high. Kernels booted directly rely on this as on a real PC.
   */
  static poweredOn(gate: boolean, tick: number): PitCounterState {
    return {
      modeBits: 3, access: 3, bcd: false, countRegister: 0, pendingLowByte: null, readMsbNext: false,
      countLatch: null, statusLatch: null, nullCount: false, nullCountClearsAtTick: null, hasCount: true,
      gate, running: gate, loadTick: tick, length: 65536, heldCount: 0, outWhenStopped: true,
      outBeforeLoad: true, suspendedAtTick: null, pendingLength: null, pendingSinceTick: 0,
    };
  }

  get mode(): CounterMode {
    return (this.s.modeBits >= 6 ? this.s.modeBits - 4 : this.s.modeBits) as CounterMode;
  }
  private get modulus(): number {
    return this.s.bcd ? 10000 : 65536;
  }
  /** The count N that the CR stands for: 0 means the maximum (2^16, or 10^4 in BCD). */
  private lengthOfRegister(): number {
    const v = this.s.bcd ? fromBcd(this.s.countRegister) : this.s.countRegister;
    return v === 0 ? this.modulus : v;
  }

  /** Ticks counted since the load, stopping while a mode 0/4 counter is suspended by GATE. */
  private elapsed(tick: number): number {
    const s = this.s;
    const end = s.suspendedAtTick === null ? tick : Math.min(tick, Math.max(s.loadTick, s.suspendedAtTick));
    return end - s.loadTick;
  }

  /** The CE at `tick`, in binary. */
  private countAt(tick: number): number {
    const s = this.s;
    if (!s.running || tick < s.loadTick) return s.heldCount;
    const k = this.elapsed(tick), n = s.length;
    switch (this.mode) {
      case 2:
        return mod(n - (k % n), this.modulus);
      case 3: {
        // Even N: down by two from N each half. Odd N: the high half is N, N-1, N-3 ... ((N+1)/2
        // clocks) and the low half N, N-3, N-5 ... ((N-1)/2 clocks): datasheet, mode 3.
        const p = k % n;
        if (n % 2 === 0) return mod(n - 2 * (p % (n / 2)), this.modulus);
        const high = (n + 1) / 2;
        if (p < high) return mod(p === 0 ? n : n + 1 - 2 * p, this.modulus);
        const q = p - high;
        return mod(q === 0 ? n : n - 1 - 2 * q, this.modulus);
      }
      default: // 0, 1, 4, 5 count down once and wrap
        return mod(n - k, this.modulus);
    }
  }

  /** No reload is pending: OUT follows the closed form (outAt) at any later tick without a sync. */
  get settled(): boolean {
    return this.s.pendingLength === null;
  }

  /** The OUT pin at `tick`. */
  outAt(tick: number): boolean {
    const s = this.s;
    if (!s.running) return s.outWhenStopped;
    if (tick < s.loadTick) return s.outBeforeLoad;
    const k = this.elapsed(tick), n = s.length;
    switch (this.mode) {
      case 0: case 1: return k >= n; // high at terminal count, and stays high
      case 4: case 5: return k !== n; // one clock low at terminal count
      case 2: return n > 1 && k % n !== n - 1; // low for the one clock at CE = 1; N = 1 is illegal
      case 3: return k % n < Math.ceil(n / 2);
    }
  }

  /** The first tick after `after` at which OUT rises on the trajectory (L, N), or Infinity. */
  private edgeOn(after: number, load: number, n: number): number {
    switch (this.mode) {
      case 0: case 1: return load + n > after ? load + n : Infinity;
      case 4: case 5: return load + n + 1 > after ? load + n + 1 : Infinity;
      default: { // 2, 3: rising at every reload
        if (n === 1) return Infinity;
        const m = Math.max(1, Math.floor((after - load) / n) + 1);
        return load + m * n;
      }
    }
  }

  /** Modes 2/3: the reload at which a pending count takes effect (mode 3: the next half-cycle end). */
  private pendingBoundary(): number {
    const s = this.s, w = s.pendingSinceTick, n = s.length;
    const periodStart = s.loadTick + Math.floor((w - s.loadTick) / n) * n;
    if (this.mode === 3) {
      const halfEnd = periodStart + Math.ceil(n / 2);
      if (halfEnd > w) return halfEnd;
    }
    return periodStart + n;
  }

  /** The load tick of the trajectory a pending count starts at `boundary`. */
  private pendingLoadTick(boundary: number, n: number): number {
    // Mode 3 reloading at the end of a high half starts the new count in its low half: shift the
    // origin back by the new high half so the closed form lands there.
    const endOfHighHalf = this.mode === 3 && (boundary - this.s.loadTick) % this.s.length !== 0;
    return endOfHighHalf ? boundary - Math.ceil(n / 2) : boundary;
  }

  /** The first tick after `after` at which OUT rises, assuming no further writes or gate changes. */
  nextRisingEdge(after: number): number {
    const s = this.s;
    if (!s.running || s.suspendedAtTick !== null) return Infinity;
    const edge = this.edgeOn(after, s.loadTick, s.length);
    if (s.pendingLength === null) return edge;
    const boundary = this.pendingBoundary();
    if (edge <= boundary) return edge;
    return this.edgeOn(Math.max(after, boundary), this.pendingLoadTick(boundary, s.pendingLength), s.pendingLength);
  }

  /** Applies what happened by `tick` that changes stored state: pending reloads, NULL COUNT. */
  sync(tick: number): void {
    const s = this.s;
    if (s.running && s.pendingLength !== null) {
      const boundary = this.pendingBoundary();
      if (tick >= boundary) {
        s.loadTick = this.pendingLoadTick(boundary, s.pendingLength);
        s.length = s.pendingLength;
        s.pendingLength = null;
        s.nullCount = false;
      }
    }
    if (s.nullCountClearsAtTick !== null && tick >= s.nullCountClearsAtTick) {
      s.nullCount = false;
      s.nullCountClearsAtTick = null;
    }
  }

  private stop(tick: number, out: boolean): void {
    this.s.heldCount = this.countAt(tick);
    this.s.running = false;
    this.s.outWhenStopped = out;
    this.s.suspendedAtTick = null;
    this.s.pendingLength = null;
  }

  /** Starts a trajectory with the CR's count loaded on the next CLK. */
  private loadOnNextClock(tick: number, outBeforeLoad: boolean): void {
    const s = this.s;
    s.heldCount = this.countAt(tick);
    s.running = true;
    s.loadTick = tick + 1;
    s.length = this.lengthOfRegister();
    s.outBeforeLoad = outBeforeLoad;
    s.pendingLength = null;
    // Modes 0 and 4 load even with GATE low, but do not count until it rises.
    s.suspendedAtTick = !s.gate && (this.mode === 0 || this.mode === 4) ? tick : null;
    s.nullCountClearsAtTick = tick + 1;
  }

  /** A control word for this counter (not a latch or read-back command). */
  writeControl(controlWord: number, tick: number): void {
    this.sync(tick);
    const modeBits = (controlWord >> 1) & 7;
    // "When a Control Word is written to a Counter, all Control Logic is immediately reset and OUT
    // goes to a known initial state": low in mode 0, high in every other mode.
    this.stop(tick, modeBits !== 0);
    const s = this.s;
    s.modeBits = modeBits;
    s.access = ((controlWord >> 4) & 3) as CounterAccess;
    s.bcd = (controlWord & 1) !== 0;
    s.pendingLowByte = null;
    s.readMsbNext = false;
    s.countLatch = null;
    s.statusLatch = null;
    s.hasCount = false;
    s.nullCount = true;
    s.nullCountClearsAtTick = null;
  }

  writeCount(byte: number, tick: number): void {
    this.sync(tick);
    const s = this.s;
    switch (s.access) {
      case 1: s.countRegister = byte; break;
      case 2: s.countRegister = byte << 8; break;
      case 3:
        if (s.pendingLowByte === null) {
          s.pendingLowByte = byte;
          // Mode 0: "writing the first byte disables counting; OUT is set low immediately".
          if (this.mode === 0) this.stop(tick, false);
          return;
        }
        s.countRegister = s.pendingLowByte | (byte << 8);
        s.pendingLowByte = null;
        break;
    }
    s.nullCount = true;
    s.hasCount = true;
    switch (this.mode) {
      case 0: this.loadOnNextClock(tick, false); break;
      case 4: this.loadOnNextClock(tick, this.outAt(tick)); break;
      case 1: case 5: s.nullCountClearsAtTick = null; break; // waits for a trigger on GATE
      case 2: case 3:
        if (s.running && tick >= s.loadTick) {
          // A new count does not disturb the current period (mode 3: half-cycle).
          s.pendingLength = this.lengthOfRegister();
          s.pendingSinceTick = tick;
          s.nullCountClearsAtTick = null;
        } else if (s.gate) {
          this.loadOnNextClock(tick, true);
        }
        break;
    }
  }

  setGate(high: boolean, tick: number): void {
    this.sync(tick);
    const s = this.s;
    if (high === s.gate) return;
    s.gate = high;
    switch (this.mode) {
      case 0: case 4: // GATE low suspends counting; high resumes it
        if (!s.running) return;
        if (!high) s.suspendedAtTick = tick;
        else if (s.suspendedAtTick !== null) {
          s.loadTick += Math.max(0, tick - Math.max(s.suspendedAtTick, s.loadTick));
          s.suspendedAtTick = null;
        }
        return;
      case 1: case 5: // a rising edge (re)triggers
        if (high && s.hasCount) this.loadOnNextClock(tick, this.outAt(tick));
        return;
      case 2: case 3: // low: OUT high and stop; rising edge: reload and start
        if (!high) {
          if (s.running) this.stop(tick, true);
        } else if (s.hasCount) {
          this.loadOnNextClock(tick, true);
        }
        return;
    }
  }

  /** The value a read of the counter's port returns now (the count as shown: BCD if so programmed). */
  private shownCount(tick: number): number {
    const ce = this.countAt(tick);
    return this.s.bcd ? toBcd(ce) : ce & 0xffff;
  }

  /** Counter latch command: freezes the count in the output latch until it is read. */
  latchCount(tick: number): void {
    this.sync(tick);
    // "If a Counter is latched and then, some time later, latched again before the count is read,
    // the second Counter Latch Command is ignored."
    if (this.s.countLatch === null) this.s.countLatch = this.shownCount(tick);
  }

  /** Read-back status byte: OUT, NULL COUNT, then RW1 RW0 M2 M1 M0 BCD as programmed. */
  latchStatus(tick: number): void {
    this.sync(tick);
    const s = this.s;
    if (s.statusLatch !== null) return;
    s.statusLatch = (this.outAt(tick) ? 0x80 : 0) | (s.nullCount ? 0x40 : 0) | (s.access << 4)
      | (s.modeBits << 1) | (s.bcd ? 1 : 0);
  }

  read(tick: number): number {
    this.sync(tick);
    const s = this.s;
    // A latched status is read first, whichever was latched first (datasheet, read-back command).
    if (s.statusLatch !== null) {
      const status = s.statusLatch;
      s.statusLatch = null;
      return status;
    }
    const value = s.countLatch ?? this.shownCount(tick);
    if (s.access === 3 && !s.readMsbNext) {
      s.readMsbNext = true;
      return value & 0xff;
    }
    s.readMsbNext = false;
    s.countLatch = null;
    return s.access === 1 ? value & 0xff : (value >> 8) & 0xff;
  }

  saveState(): PitCounterState {
    return { ...this.s };
  }

  static readState(r: StateReader): PitCounterState {
    // Load ticks may be negative: a mode 3 count taking over mid-cycle has its origin shifted back.
    const tick = (field: string) => r.finite(field);
    const s: PitCounterState = {
      modeBits: r.uint('modeBits', 7), access: r.oneOf('access', [1, 2, 3] as const), bcd: r.bool('bcd'),
      countRegister: r.uint('countRegister', 0xffff), pendingLowByte: r.optionalUint('pendingLowByte', 0xff),
      readMsbNext: r.bool('readMsbNext'), countLatch: r.optionalUint('countLatch', 0xffff),
      statusLatch: r.optionalUint('statusLatch', 0xff), nullCount: r.bool('nullCount'),
      nullCountClearsAtTick: r.optionalFinite('nullCountClearsAtTick'), hasCount: r.bool('hasCount'),
      gate: r.bool('gate'), running: r.bool('running'), loadTick: tick('loadTick'),
      length: r.uint('length', 65536, 1), heldCount: r.uint('heldCount', 0xffff),
      outWhenStopped: r.bool('outWhenStopped'), outBeforeLoad: r.bool('outBeforeLoad'),
      suspendedAtTick: r.optionalFinite('suspendedAtTick'), pendingLength: r.optionalUint('pendingLength', 65536, 1),
      pendingSinceTick: tick('pendingSinceTick'),
    };
    r.end();
    return s;
  }

  applyState(s: PitCounterState): void {
    this.s = { ...s };
  }
}
