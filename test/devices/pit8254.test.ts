import { describe, expect, it } from 'vitest';
import {
  DeviceStateError, ManualClock, Pit8254, PIT_INPUT_HZ, PortBus, ticksAt, timeOfTick,
} from '../../emulator/devices/index.js';
import { PcBoard, RecordingLine, throughJson } from './pc-board.js';

const TICK_NS = 1e9 / PIT_INPUT_HZ;
/** The divisor for 100 Hz, as every PC kernel computes it. */
const HZ100 = Math.round(PIT_INPUT_HZ / 100); // 11932

class Timer {
  readonly clock: ManualClock;
  readonly irq0: RecordingLine;
  readonly pit: Pit8254;
  readonly bus = new PortBus();
  constructor(startNs = 0) {
    this.clock = new ManualClock(startNs);
    this.irq0 = new RecordingLine(this.clock);
    this.pit = new Pit8254({ clock: this.clock, irq0: this.irq0 });
    this.bus.register(0x40, 4, this.pit);
    this.bus.register(0x61, 1, { name: 'gate2', dataWidth: 1, portRead: () => 0, portWrite: (_o, _s, v) => this.pit.setGate(2, (v & 1) === 1) });
  }
  out(port: number, v: number): void { this.bus.portWrite(port, 1, v); }
  in(port: number): number { return this.bus.portRead(port, 1); }
  /** Programs counter `ch` with a control word and a 16-bit count, LSB then MSB. */
  program(ch: number, mode: number, count: number): void {
    this.out(0x43, (ch << 6) | 0x30 | (mode << 1));
    this.out(0x40 + ch, count & 0xff);
    this.out(0x40 + ch, count >> 8);
  }
  /** Runs virtual time to `ns`, stopping at each deadline; returns the times IRQ0 rose. */
  runTo(ns: number): number[] {
    const from = this.irq0.changes.length;
    for (;;) {
      const d = this.pit.nextDeadline();
      if (d > ns) break;
      this.clock.set(d);
      this.pit.advanceTo(d);
    }
    this.clock.set(ns);
    this.pit.advanceTo(ns);
    return this.irq0.changes.slice(from).filter((c) => c.high).map((c) => c.at);
  }
  latchedCount(ch: number): number {
    this.out(0x43, ch << 6);
    return this.in(0x40 + ch) | (this.in(0x40 + ch) << 8);
  }
}

describe('clock-domain conversions', () => {
  it('timeOfTick is the first integer ns at which ticksAt reaches the tick, far into virtual time', () => {
    for (const base of [0, 1e9, 3.6e12, 8.64e13 * 30]) {
      for (let k = 0; k < 2000; k += 37) {
        const tick = ticksAt(base, PIT_INPUT_HZ) + k;
        const t = timeOfTick(tick, PIT_INPUT_HZ);
        expect(ticksAt(t, PIT_INPUT_HZ)).toBe(tick);
        expect(ticksAt(t - 1, PIT_INPUT_HZ)).toBe(tick - 1);
      }
    }
  });
});

describe('8254 periodic modes', () => {
  for (const mode of [2, 3]) {
    it(`mode ${mode} at 100 Hz raises IRQ0 every ${HZ100} input ticks (10 ms within one tick)`, () => {
      const t = new Timer(123_456);
      const writeTick = ticksAt(123_456, PIT_INPUT_HZ);
      t.program(0, mode, HZ100);
      // 11932 ticks is 10.000151 ms, so the 100th edge lands just after 1 s.
      expect(t.runTo(1_000_000_000).length).toBe(99);
      const edges = [...t.irq0.risingEdges().filter((at) => at > 123_456), ...t.runTo(1_001_000_000)];
      expect(edges.length).toBe(100);
      edges.forEach((at, i) => {
        // Loaded on the CLK after the write; OUT rises at each reload.
        expect(at).toBe(timeOfTick(writeTick + 1 + (i + 1) * HZ100, PIT_INPUT_HZ));
        // Exactly N input periods after the load, to the nanosecond...
        const load = (writeTick + 1) * TICK_NS;
        expect(Math.abs(at - load - (i + 1) * HZ100 * TICK_NS)).toBeLessThanOrEqual(1);
        // ...which is 10 ms apart within one input tick (11932 ticks is 10.000151 ms).
        if (i > 0) expect(Math.abs(at - edges[i - 1]! - 10_000_000)).toBeLessThan(TICK_NS);
      });
    });
  }

  it('delivers IRQ0 through the PIC as vector 0x20 at the deadline, and not before', () => {
    const b = new PcBoard();
    b.initPic(0xfe, 0xff);
    b.outb(0x43, 0x34);
    b.outb(0x40, HZ100 & 0xff);
    b.outb(0x40, HZ100 >> 8);
    const deadline = b.pit.nextDeadline();
    expect(deadline).toBe(timeOfTick(1 + HZ100, PIT_INPUT_HZ));
    b.runTo(deadline - 1);
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    b.runTo(deadline);
    expect(b.pic.acknowledge()).toBe(0x20);
    b.outb(0x20, 0x20);
    b.runTo(deadline + 9_000_000);
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    b.runTo(deadline + 10_001_000);
    expect(b.pic.acknowledge()).toBe(0x20);
  });

  it('keeps mode 3 OUT high for the first half period and low for the second', () => {
    const t = new Timer();
    t.program(0, 3, 1000);
    const status = (ns: number) => {
      t.clock.set(ns);
      t.out(0x43, 0xe2); // read-back: status only, counter 0
      return t.in(0x40);
    };
    const load = timeOfTick(1, PIT_INPUT_HZ);
    expect(status(load + 499 * TICK_NS) & 0x80).toBe(0x80);
    expect(status(load + 501 * TICK_NS) & 0x80).toBe(0);
    expect(status(load + 999 * TICK_NS) & 0x80).toBe(0);
    expect(status(load + 1001 * TICK_NS) & 0x80).toBe(0x80);
  });

  it('reads the count the chip holds at clock.now(): mode 2 counts N..1, mode 3 counts down by two', () => {
    const t = new Timer();
    t.program(0, 2, 1000);
    t.clock.set(timeOfTick(1 + 250, PIT_INPUT_HZ));
    expect(t.latchedCount(0)).toBe(750);
    t.clock.set(timeOfTick(1 + 999, PIT_INPUT_HZ));
    expect(t.latchedCount(0)).toBe(1);
    t.clock.set(timeOfTick(1 + 1000, PIT_INPUT_HZ));
    expect(t.latchedCount(0)).toBe(1000);
    t.program(1, 3, 1000);
    const load = ticksAt(t.clock.now(), PIT_INPUT_HZ) + 1;
    t.clock.set(timeOfTick(load + 100, PIT_INPUT_HZ));
    expect(t.latchedCount(1)).toBe(800);
    t.clock.set(timeOfTick(load + 600, PIT_INPUT_HZ)); // second half: reloaded at 500
    expect(t.latchedCount(1)).toBe(800);
  });

  it('mode 3 with an odd count: high (N+1)/2 clocks counting N, N-1, N-3; low (N-1)/2 counting N, N-3', () => {
    const t = new Timer();
    t.program(0, 3, 5);
    const seen: string[] = [];
    for (let k = 0; k < 10; k++) {
      t.clock.set(timeOfTick(1 + k, PIT_INPUT_HZ));
      t.out(0x43, 0xc2); // read-back count and status, counter 0
      const status = t.in(0x40);
      seen.push(`${status & 0x80 ? 'H' : 'L'}${t.in(0x40) | (t.in(0x40) << 8)}`);
    }
    expect(seen).toEqual(['H5', 'H4', 'H2', 'L5', 'L2', 'H5', 'H4', 'H2', 'L5', 'L2']);
  });

  it('applies a new mode 3 count at the end of the current half-cycle', () => {
    const t = new Timer();
    t.program(0, 3, 1000);
    t.clock.set(timeOfTick(1 + 100, PIT_INPUT_HZ));
    t.out(0x40, 400 & 0xff);
    t.out(0x40, 400 >> 8);
    // The high half of 1000 ends at 500; the new count's low half (200) follows, then periods of 400.
    const edges = t.runTo(timeOfTick(1 + 1600, PIT_INPUT_HZ));
    expect(edges).toEqual([700, 1100, 1500].map((k) => timeOfTick(1 + k, PIT_INPUT_HZ)));
  });

  it('treats a reload value of 0 as 65536', () => {
    const t = new Timer();
    t.program(0, 2, 0);
    const edges = t.runTo(200_000_000);
    expect(edges[0]).toBe(timeOfTick(1 + 65536, PIT_INPUT_HZ));
    expect(edges[1]).toBe(timeOfTick(1 + 2 * 65536, PIT_INPUT_HZ));
  });

  it('takes LSB-only and MSB-only counts', () => {
    const t = new Timer();
    t.out(0x43, 0x14); // counter 0, LSB only, mode 2
    t.out(0x40, 100);
    expect(t.pit.nextDeadline()).toBe(timeOfTick(1 + 100, PIT_INPUT_HZ));
    t.out(0x43, 0x24); // MSB only
    t.out(0x40, 0x02);
    const w = ticksAt(t.clock.now(), PIT_INPUT_HZ);
    expect(t.pit.nextDeadline()).toBe(timeOfTick(w + 1 + 0x200, PIT_INPUT_HZ));
  });

  it('applies a new mode 2 count at the end of the current period, not at once', () => {
    const t = new Timer();
    t.program(0, 2, 1000);
    t.clock.set(timeOfTick(1 + 300, PIT_INPUT_HZ));
    t.out(0x40, 500 & 0xff);
    t.out(0x40, 500 >> 8);
    const edges = t.runTo(timeOfTick(1 + 2100, PIT_INPUT_HZ));
    expect(edges).toEqual([1000, 1500, 2000].map((k) => timeOfTick(1 + k, PIT_INPUT_HZ)));
  });

  it('coalesces edges missed by a late advance into one edge, like the single IRR bit', () => {
    const t = new Timer();
    t.program(0, 2, 100);
    t.clock.set(timeOfTick(1 + 1000, PIT_INPUT_HZ));
    const before = t.irq0.risingEdges().length;
    t.pit.advanceTo(t.clock.now());
    expect(t.irq0.risingEdges().length - before).toBe(1);
    expect(t.pit.nextDeadline()).toBe(timeOfTick(1 + 1100, PIT_INPUT_HZ));
  });
});

describe('8254 one-shot modes and counter 2', () => {
  it('mode 0 on counter 2 as Linux calibrates the TSC: OUT2 in port 0x61 rises N+1 ticks after the write', () => {
    const b = new PcBoard();
    b.clock.set(5_000_000);
    b.outb(0x61, (b.inb(0x61) & ~0x02) | 0x01); // gate high, speaker off
    b.outb(0x43, 0xb0); // counter 2, LSB then MSB, mode 0
    b.outb(0x42, 0xff);
    expect(b.inb(0x61) & 0x20).toBe(0); // first byte: OUT low
    b.outb(0x42, 0xff);
    const w = ticksAt(b.clock.now(), PIT_INPUT_HZ);
    b.clock.set(timeOfTick(w + 0xffff, PIT_INPUT_HZ));
    expect(b.inb(0x61) & 0x20).toBe(0);
    b.clock.set(timeOfTick(w + 0xffff + 1, PIT_INPUT_HZ));
    expect(b.inb(0x61) & 0x20).toBe(0x20);
    // The counter keeps counting past terminal count: it wraps to 0xFFFF and stays high.
    b.clock.set(timeOfTick(w + 0xffff + 1 + 5, PIT_INPUT_HZ));
    b.outb(0x43, 0x80);
    expect(b.inb(0x42) | (b.inb(0x42) << 8)).toBe(0x10000 - 5);
    expect(b.inb(0x61) & 0x20).toBe(0x20);
  });

  it('mode 0 on counter 0 raises IRQ0 once, N+1 ticks after the count is written', () => {
    const t = new Timer();
    t.program(0, 0, 5000);
    const edges = t.runTo(1_000_000_000);
    expect(edges).toEqual([timeOfTick(1 + 5000, PIT_INPUT_HZ)]);
  });

  it('suspends mode 0 counting while GATE is low', () => {
    const t = new Timer();
    t.out(0x61, 1);
    t.program(2, 0, 1000);
    t.clock.set(timeOfTick(1 + 400, PIT_INPUT_HZ));
    t.out(0x61, 0);
    t.clock.set(timeOfTick(1 + 900, PIT_INPUT_HZ));
    expect(t.latchedCount(2)).toBe(600);
    t.out(0x61, 1);
    t.clock.set(timeOfTick(1 + 1000, PIT_INPUT_HZ));
    expect(t.latchedCount(2)).toBe(500);
  });

  it('stops mode 2 with OUT high while GATE is low and reloads on the rising edge', () => {
    const t = new Timer();
    t.out(0x61, 1);
    t.program(2, 2, 100);
    t.clock.set(timeOfTick(1 + 30, PIT_INPUT_HZ));
    t.out(0x61, 0);
    t.clock.set(timeOfTick(1 + 60, PIT_INPUT_HZ));
    expect(t.latchedCount(2)).toBe(70);
    t.out(0x61, 1);
    const g = ticksAt(t.clock.now(), PIT_INPUT_HZ);
    t.clock.set(timeOfTick(g + 1 + 10, PIT_INPUT_HZ));
    expect(t.latchedCount(2)).toBe(90);
  });

  it('mode 1 is a one-shot triggered by GATE, and mode 4 a strobe one tick long', () => {
    const t = new Timer();
    t.out(0x61, 0);
    t.program(2, 1, 50);
    expect(t.pit.outputLevel(2)).toBe(true);
    t.out(0x61, 1); // trigger
    const g = ticksAt(t.clock.now(), PIT_INPUT_HZ);
    t.clock.set(timeOfTick(g + 1 + 10, PIT_INPUT_HZ));
    expect(t.pit.outputLevel(2)).toBe(false);
    t.clock.set(timeOfTick(g + 1 + 50, PIT_INPUT_HZ));
    expect(t.pit.outputLevel(2)).toBe(true);
    t.program(0, 4, 20);
    const w = ticksAt(t.clock.now(), PIT_INPUT_HZ);
    const edges = t.runTo(t.clock.now() + 1_000_000);
    expect(edges).toEqual([timeOfTick(w + 1 + 21, PIT_INPUT_HZ)]);
  });
});

describe('8254 latch and read-back', () => {
  it('holds a latched count until both bytes are read, ignoring a second latch', () => {
    const t = new Timer();
    t.program(0, 2, 40000);
    t.clock.set(timeOfTick(1 + 1000, PIT_INPUT_HZ));
    t.out(0x43, 0x00);
    t.clock.set(timeOfTick(1 + 2000, PIT_INPUT_HZ));
    t.out(0x43, 0x00); // ignored: the first latch is unread
    expect(t.in(0x40)).toBe(39000 & 0xff);
    t.clock.set(timeOfTick(1 + 3000, PIT_INPUT_HZ));
    expect(t.in(0x40)).toBe(39000 >> 8);
    // Unlatched, the read is live.
    expect(t.in(0x40) | (t.in(0x40) << 8)).toBe(37000);
  });

  it('returns status first, then the count, after a read-back of both', () => {
    const t = new Timer();
    t.out(0x43, 0x34);
    t.out(0x40, 0x10);
    t.out(0x40, 0x27); // 10000
    t.out(0x43, 0xe2); // status only, right after the write: NULL COUNT still set
    expect(t.in(0x40)).toBe(0x80 | 0x40 | 0x34);
    t.clock.set(timeOfTick(1 + 100, PIT_INPUT_HZ));
    t.out(0x43, 0xc2); // count and status, counter 0
    expect(t.in(0x40)).toBe(0x80 | 0x34);
    t.clock.set(timeOfTick(1 + 200, PIT_INPUT_HZ));
    expect(t.in(0x40) | (t.in(0x40) << 8)).toBe(9900);
  });

  it('reads back several counters at once', () => {
    const t = new Timer();
    t.program(0, 2, 300);
    t.program(1, 2, 400);
    t.clock.set(timeOfTick(1 + 100, PIT_INPUT_HZ));
    t.out(0x43, 0xd6); // read-back: count only, counters 0 and 1
    t.clock.set(timeOfTick(1 + 150, PIT_INPUT_HZ));
    expect(t.in(0x40) | (t.in(0x40) << 8)).toBe(200);
    expect(t.in(0x41) | (t.in(0x41) << 8)).toBe(300);
  });

  it('counts in BCD when asked', () => {
    const t = new Timer();
    t.out(0x43, 0x35); // mode 2, BCD
    t.out(0x40, 0x00);
    t.out(0x40, 0x10); // 1000 decimal
    expect(t.pit.nextDeadline()).toBe(timeOfTick(1 + 1000, PIT_INPUT_HZ));
    t.clock.set(timeOfTick(1 + 1, PIT_INPUT_HZ));
    expect(t.latchedCount(0)).toBe(0x0999);
  });
});

describe('8254 snapshots', () => {
  it('continues identically after save, JSON, load into a fresh chip', () => {
    const a = new Timer();
    a.program(0, 2, 7000);
    a.program(2, 3, 333);
    a.out(0x61, 1);
    a.runTo(12_345_678);
    a.out(0x43, 0x00); // a pending latch, half read
    a.in(0x40);
    a.out(0x40, 0x20); // a pending new count (mode 2, applies at next reload)
    a.out(0x40, 0x03);
    const b = new Timer(a.clock.now());
    b.pit.loadState(throughJson(a.pit.saveState()));
    expect(b.pit.saveState()).toEqual(a.pit.saveState());
    const end = 40_000_000;
    expect(b.pit.nextDeadline()).toBe(a.pit.nextDeadline());
    expect(b.in(0x40)).toBe(a.in(0x40));
    expect(b.runTo(end)).toEqual(a.runTo(end));
    expect(b.latchedCount(2)).toBe(a.latchedCount(2));
  });

  it('restores a mode 3 counter whose new count took over mid-cycle', () => {
    const a = new Timer();
    a.program(0, 3, 1000);
    a.clock.set(timeOfTick(1 + 100, PIT_INPUT_HZ));
    a.out(0x40, 0);
    a.out(0x40, 0); // 65536, from the end of this high half
    a.runTo(timeOfTick(1 + 600, PIT_INPUT_HZ));
    const b = new Timer(a.clock.now());
    b.pit.loadState(throughJson(a.pit.saveState()));
    expect(b.runTo(100_000_000)).toEqual(a.runTo(100_000_000));
    expect(b.pit.nextDeadline()).toBe(timeOfTick(1 + 500 + 32768 + 2 * 65536, PIT_INPUT_HZ));
  });

  it('rejects another version and bad fields', () => {
    const t = new Timer();
    const good = t.pit.saveState();
    expect(() => t.pit.loadState({ ...good, version: 0 })).toThrow(DeviceStateError);
    expect(() => t.pit.loadState({ ...good, counter1: { ...good.counter1, length: 0 } })).toThrow(/counter1\.length/);
    expect(() => t.pit.loadState({ ...good, counter2: { ...good.counter2, access: 0 } })).toThrow(/counter2\.access/);
    expect(() => t.pit.loadState([1, 2, 3])).toThrow(/not a state record/);
    expect(t.pit.saveState()).toEqual(good);
  });
});
