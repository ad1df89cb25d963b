/**
 * The 8254 programmable interval timer at 0x40-0x43 (Intel 82C54 datasheet). Counter 0's OUT
 * drives IRQ0; counter 2's GATE and OUT are reached through port 0x61 (system-control-port.ts).
 *
 * The input clock is 1,193,182 Hz of virtual time. The counters are closed-form functions of the
 * input tick (pit8254-counter.ts), so a read returns what the chip would hold at clock.now(), and
 * `nextDeadline()` is the exact virtual time of the next rising edge of OUT0, which an
 * edge-triggered PIC latches as IRQ0.
 */
import { ticksAt, timeOfTick } from './clock.js';
import type { IrqLine, PortDevice, Snapshottable, TimedDevice, VirtualClock } from './device.js';
import { PitCounter, type PitCounterState } from './pit8254-counter.js';
import { StateReader } from './state.js';

export const PIT_BASE = 0x40;
export const PIT_IRQ = 0;
/** The PC's 14.31818 MHz crystal divided by 12. */
export const PIT_INPUT_HZ = 1_193_182;

/** Port offsets: counters 0-2, then the control word register. */
export const PIT_COUNTER0 = 0, PIT_COUNTER1 = 1, PIT_COUNTER2 = 2, PIT_CONTROL = 3;
/** Control word SC1 SC0 = 3: the read-back command; its COUNT and STATUS bits are active low. */
const SELECT_READ_BACK = 3;
const READ_BACK_NO_COUNT = 0x20, READ_BACK_NO_STATUS = 0x10;

export interface Pit8254State {
  version: 1;
  counter0: PitCounterState;
  counter1: PitCounterState;
  counter2: PitCounterState;
  /** Input tick up to which OUT0 edges have been delivered to IRQ0. */
  deliveredTick: number;
  /** The level last driven on IRQ0. */
  irq0Level: boolean;
}

export interface Pit8254Options {
  clock: VirtualClock;
  irq0: IrqLine;
}

export class Pit8254 implements PortDevice, TimedDevice, Snapshottable<Pit8254State> {
  static readonly STATE_VERSION = 1;
  readonly name = 'pit8254';
  readonly dataWidth = 1;
  private readonly clock: VirtualClock;
  private readonly irq0: IrqLine;
  private counters: readonly [PitCounter, PitCounter, PitCounter];
  private deliveredTick: number;
  private irq0Level = false;
  /**
   * nextDeadline() as of the last advanceTo, while nothing has changed the counters since (NaN:
   * something did). Exits call advanceTo and nextDeadline thousands of times per PIT tick.
   */
  private settledDeadline = NaN;
  /** When the tick after deliveredTick happens (valid with settledDeadline). */
  private nextTickAt = 0;

  constructor(options: Pit8254Options) {
    this.clock = options.clock;
    this.irq0 = options.irq0;
    const tick = this.tickNow();
    // GATE 0 and 1 are tied high on the PC; GATE 2 is port 0x61 bit 0, low at power-on.
    this.counters = [new PitCounter(true, tick), new PitCounter(true, tick), new PitCounter(false, tick)];
    this.deliveredTick = tick;
    this.drive(this.counters[0].outAt(tick));
  }

  private tickNow(): number {
    return ticksAt(this.clock.now(), PIT_INPUT_HZ);
  }

  private drive(level: boolean): void {
    if (level !== this.irq0Level) {
      this.irq0Level = level;
      this.irq0.setLevel(level);
    }
  }

  nextDeadline(): number {
    const settled = this.settledDeadline;
    return settled === settled ? settled : timeOfTick(this.counters[0].nextRisingEdge(this.deliveredTick), PIT_INPUT_HZ);
  }

  /**
   * Delivers the rising edges of OUT0 up to `now`. Several edges missed by a late call coalesce
   * into one, as they would in the PIC's single IRR bit.
   */
  advanceTo(now: number): void {
    // Done already for this tick, and nothing touched the counters since: it would change nothing.
    if (now < this.nextTickAt && this.settledDeadline === this.settledDeadline) return;
    const tick = ticksAt(now, PIT_INPUT_HZ);
    if (tick < this.deliveredTick) return;
    const edge = this.counters[0].nextRisingEdge(this.deliveredTick);
    for (const c of this.counters) c.sync(tick);
    this.deliveredTick = tick;
    if (edge <= tick) {
      this.drive(false);
      this.drive(true);
    }
    this.drive(this.counters[0].outAt(tick));
    this.settledDeadline = timeOfTick(this.counters[0].nextRisingEdge(tick), PIT_INPUT_HZ);
    this.nextTickAt = timeOfTick(tick + 1, PIT_INPUT_HZ);
  }

  /** Brings the chip to clock.now() before a register access, and returns the tick. */
  private catchUp(): number {
    this.advanceTo(this.clock.now());
    this.settledDeadline = NaN; // the caller may change the counters
    return this.deliveredTick;
  }

  portRead(offset: number): number {
    const tick = this.catchUp();
    // The control word register cannot be read: the data bus floats.
    if (offset === PIT_CONTROL) return 0xff;
    return this.counters[offset]!.read(tick);
  }

  portWrite(offset: number, _size: number, value: number): void {
    const tick = this.catchUp();
    value &= 0xff;
    if (offset !== PIT_CONTROL) {
      this.counters[offset]!.writeCount(value, tick);
    } else {
      const select = value >> 6;
      if (select === SELECT_READ_BACK) {
        for (let i = 0; i < 3; i++) {
          if (!(value & (2 << i))) continue;
          if (!(value & READ_BACK_NO_STATUS)) this.counters[i]!.latchStatus(tick);
          if (!(value & READ_BACK_NO_COUNT)) this.counters[i]!.latchCount(tick);
        }
      } else if ((value & 0x30) === 0) {
        this.counters[select]!.latchCount(tick);
      } else {
        this.counters[select]!.writeControl(value, tick);
      }
    }
    // A control word or count can move OUT0 at once (mode 0 drops it, the others raise it).
    this.drive(this.counters[0].outAt(tick));
  }

  /** GATE input of a counter (only counter 2's is wired to anything on a PC). */
  setGate(counter: 0 | 1 | 2, high: boolean): void {
    const tick = this.catchUp();
    this.counters[counter].setGate(high, tick);
    this.drive(this.counters[0].outAt(tick));
  }

  /**
   * OUT of counter 1 or 2 at `now` without bringing the chip up to it (a quiet read, see
   * PortDevice.quietRead): 1 or 0, or -1 when the counter has a reload pending, which only a sync
   * applies. Counter 0 declines too: its edges are the chip's events, delivered by advanceTo.
   */
  quietOutputLevel(counter: 1 | 2, now: number): number {
    const c = this.counters[counter];
    if (!c.settled) return -1;
    return c.outAt(ticksAt(now, PIT_INPUT_HZ)) ? 1 : 0;
  }

  /**
   * OUT of a counter at `now`, clock.now() unless the caller has it (port 0x61 bit 5 shows
   * OUT2). Brought up to now like an access, but a read moves no event: the next deadline stays
   * worked out (catchUp forgets it).
   */
  outputLevel(counter: 0 | 1 | 2, now = this.clock.now()): boolean {
    this.advanceTo(now);
    return this.counters[counter].outAt(this.deliveredTick);
  }

  /** Power-on state, as the BIOS leaves it (every counter in mode 3 with count 65536). */
  reset(): void {
    const tick = this.tickNow();
    this.counters = [new PitCounter(true, tick), new PitCounter(true, tick), new PitCounter(false, tick)];
    this.deliveredTick = tick;
    this.settledDeadline = NaN;
    this.drive(this.counters[0].outAt(tick));
  }

  saveState(): Pit8254State {
    return {
      version: 1, counter0: this.counters[0].saveState(), counter1: this.counters[1].saveState(),
      counter2: this.counters[2].saveState(), deliveredTick: this.deliveredTick, irq0Level: this.irq0Level,
    };
  }

  loadState(state: unknown): void {
    const r = StateReader.open(this.name, state, Pit8254.STATE_VERSION);
    const counters = [
      PitCounter.readState(r.nested('counter0')), PitCounter.readState(r.nested('counter1')),
      PitCounter.readState(r.nested('counter2')),
    ];
    const deliveredTick = r.finite('deliveredTick', 0);
    const irq0Level = r.bool('irq0Level');
    r.end();
    counters.forEach((s, i) => this.counters[i]!.applyState(s));
    this.deliveredTick = deliveredTick;
    this.irq0Level = irq0Level;
    this.settledDeadline = NaN;
  }
}
