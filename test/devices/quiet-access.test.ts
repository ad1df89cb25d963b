/**
 * Quiet port accesses (PortDevice.quietRead / quietWrite), the ones a hypervisor may complete
 * inline without syncing the device or looking at its interrupt line and deadline after: the
 * 16550's, in each state a driver leaves it in, against the ordinary access on a twin board; and
 * the port bus's routing of them.
 */
import { describe, expect, it } from 'vitest';
import { PortBus, QUIET_DECLINED, type AccessSize, type PortDevice } from '../../emulator/devices/index.js';
import { PcBoard } from './pc-board.js';

const COM1 = 0x3f8;
const RBR = 0, IER = 1, IIR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;
const CHAR_NS = Math.ceil((10 * 16 * 1e9) / 1_843_200);

/** 115200 8N1, FIFO control `fcr`, DTR RTS OUT2, then IER. */
function bringUp(b: PcBoard, fcr: number, ier: number): void {
  b.initPic(0xef, 0xff);
  for (const [reg, value] of [[LCR, 0x80], [0, 1], [1, 0], [LCR, 3], [IIR, fcr], [MCR, 0x0b], [IER, ier]] as const) b.outb(COM1 + reg, value);
}

/** The states, each with the registers whose read and write are not quiet in it. */
const STATES: { name: string; setUp: (b: PcBoard) => void; loudReads: number[]; loudWrites: number[] }[] = [
  { name: 'polled (no interrupts)', setUp: (b) => bringUp(b, 0xc7, 0x00), loudReads: [IIR], loudWrites: [] },
  { name: 'THRE and receive interrupts on', setUp: (b) => bringUp(b, 0xc7, 0x03), loudReads: [IIR], loudWrites: [RBR] },
  {
    name: 'a character waiting in the FIFO',
    setUp: (b) => { bringUp(b, 0xc7, 0x01); b.uart.pushInput([0x41]); b.runTo(2 * CHAR_NS); },
    loudReads: [RBR, IIR], loudWrites: [],
  },
  {
    name: 'an overrun (FIFOs off)',
    setUp: (b) => { bringUp(b, 0x00, 0x05); b.uart.pushInput([1, 2, 3]); b.runTo(4 * CHAR_NS); },
    loudReads: [RBR, IIR, LSR], loudWrites: [],
  },
  { name: 'a modem status delta', setUp: (b) => { bringUp(b, 0xc7, 0x08); b.uart.setModemInputs(0x30); }, loudReads: [IIR, MSR], loudWrites: [] },
  { name: 'the divisor latch selected', setUp: (b) => { bringUp(b, 0xc7, 0x00); b.outb(COM1 + LCR, 0x83); }, loudReads: [IIR], loudWrites: [RBR] },
  { name: 'loopback', setUp: (b) => { bringUp(b, 0xc7, 0x00); b.outb(COM1 + MCR, 0x1b); }, loudReads: [IIR], loudWrites: [RBR] },
];

/** Everything an access could change on the board: the UART, the PIC (its interrupt line), the output. */
function boardState(b: PcBoard): string {
  return JSON.stringify({ uart: b.uart.saveState(), pic: b.pic.saveState(), out: b.serialOut, deadline: b.uart.nextDeadline() });
}

function board(setUp: (b: PcBoard) => void): PcBoard {
  const b = new PcBoard();
  setUp(b);
  return b;
}

describe('16550 quiet accesses', () => {
  for (const s of STATES) {
    it(`${s.name}: a quiet read changes nothing and reads what the ordinary read reads, which changes nothing either`, () => {
      const loud: number[] = [];
      for (let reg = 0; reg < 8; reg++) {
        const b = board(s.setUp);
        const before = boardState(b);
        const value = b.uart.quietRead(reg, 1, b.clock.now());
        expect(boardState(b), `register ${reg}`).toBe(before); // quiet or declined, nothing changed
        if (value === QUIET_DECLINED) { loud.push(reg); continue; }
        expect(b.inb(COM1 + reg), `register ${reg}`).toBe(value);
        expect(boardState(b), `register ${reg}`).toBe(before);
      }
      expect(loud).toEqual(s.loudReads);
    });

    it(`${s.name}: a quiet write leaves the board as the ordinary write does; a declined one does nothing`, () => {
      const loud: number[] = [];
      for (const reg of [RBR, SCR]) {
        const a = board(s.setUp), b = board(s.setUp);
        const before = boardState(a);
        const pic = JSON.stringify(a.pic.saveState());
        if (!a.uart.quietWrite(reg, 1, 0x5a)) {
          expect(boardState(a), `register ${reg}`).toBe(before);
          loud.push(reg);
          continue;
        }
        b.outb(COM1 + reg, 0x5a);
        expect(boardState(a), `register ${reg}`).toBe(boardState(b));
        expect(JSON.stringify(a.pic.saveState()), `register ${reg}`).toBe(pic); // the interrupt line did not move
      }
      expect(loud).toEqual(s.loudWrites);
    });
  }

  it('a polling driver\'s output goes out by quiet writes, each byte once', () => {
    const b = board((x) => bringUp(x, 0xc7, 0x00));
    for (const ch of 'hi\n') {
      expect(b.uart.quietRead(LSR, 1, b.clock.now()) & 0x20).toBe(0x20); // THRE
      expect(b.uart.quietWrite(RBR, 1, ch.charCodeAt(0))).toBe(true);
    }
    expect(String.fromCharCode(...b.serialOut)).toBe('hi\n');
  });
});

describe('port B quiet reads (they follow the clock)', () => {
  const PORT_B = 0x61;
  const pitState = (b: PcBoard) => JSON.stringify({ pit: b.pit.saveState(), portB: b.portB.saveState(), pic: b.pic.saveState() });

  /** Quiet reads at times `at` (ns, increasing), each against the ordinary read at that time. */
  function sample(b: PcBoard, at: number[]): { quiet: number; declined: number; out2: Set<number>; refresh: Set<number> } {
    const seen = { quiet: 0, declined: 0, out2: new Set<number>(), refresh: new Set<number>() };
    for (const t of at) {
      expect(t).toBeLessThan(b.pit.nextDeadline()); // no event of the chip's is due: the caller's promise
      const before = pitState(b);
      const value = b.portB.quietRead(0, 1, t);
      expect(pitState(b)).toBe(before); // nothing changed, quiet or declined
      b.clock.set(t);
      const ordinary = b.inb(PORT_B);
      if (value === QUIET_DECLINED) { seen.declined++; continue; }
      expect(value, `at ${t} ns`).toBe(ordinary);
      seen.quiet++;
      seen.out2.add(value & 0x20);
      seen.refresh.add(value & 0x10);
    }
    return seen;
  }

  it('read what the ordinary read reads at the same time, OUT2 and the refresh bit both moving', () => {
    const b = new PcBoard();
    b.outb(PORT_B, 0x01); // GATE2 on
    b.outb(0x43, 0xb6); // counter 2, lobyte/hibyte, mode 3
    b.outb(0x42, 100);
    b.outb(0x42, 0); // a square wave of 100 ticks (84 us)
    const t0 = b.clock.now() + 1000;
    const seen = sample(b, Array.from({ length: 200 }, (_, i) => t0 + i * 1_337));
    expect(seen.declined).toBe(0);
    expect(seen.out2).toEqual(new Set([0, 0x20]));
    expect(seen.refresh).toEqual(new Set([0, 0x10]));
  });

  it('decline while counter 2 has a reload pending, which only a sync applies', () => {
    const b = new PcBoard();
    b.outb(PORT_B, 0x01);
    b.outb(0x43, 0xb6);
    b.outb(0x42, 100);
    b.outb(0x42, 0);
    b.clock.set(b.clock.now() + 10_000);
    b.outb(0x42, 200);
    b.outb(0x42, 0); // mode 3 takes a new count at the end of the half-cycle: pending till then
    const now = b.clock.now();
    expect(b.portB.quietRead(0, 1, now)).toBe(QUIET_DECLINED);
    b.clock.set(now + 200_000); // well past the boundary: the next access syncs it
    b.inb(0x61);
    const seen = sample(b, [now + 200_500, now + 201_000]);
    expect(seen.quiet).toBe(2);
  });
});

/** A byte-wide scratch register file whose accesses are all quiet, logging them. */
class Quiet implements PortDevice {
  readonly log: string[] = [];
  readonly bytes = new Uint8Array(8);
  constructor(readonly name: string, readonly dataWidth: AccessSize = 1) {}
  portRead(o: number): number { return this.bytes[o]!; }
  portWrite(o: number, _s: AccessSize, v: number): void { this.bytes[o] = v; }
  quietRead(o: number, s: AccessSize, _now: number): number { this.log.push(`r${s}@${o}`); return this.bytes[o]!; }
  quietWrite(o: number, s: AccessSize, v: number): boolean { this.log.push(`w${s}@${o}=${v}`); this.bytes[o] = v; return true; }
}

describe('PortBus quiet accesses', () => {
  it('go to the device at the port, at its offset, the value masked to the size', () => {
    const bus = new PortBus(), a = new Quiet('a'), b = new Quiet('b');
    bus.register(0x100, 8, a);
    bus.register(0x200, 8, b);
    expect(bus.quietWrite(0x103, 1, 0x1ff)).toBe(true);
    expect(bus.quietWrite(0x205, 1, 7)).toBe(true);
    expect([bus.quietRead(0x103, 1, 0), bus.quietRead(0x205, 1, 0), bus.quietRead(0x103, 1, 0)]).toEqual([0xff, 7, 0xff]);
    expect(a.log).toEqual(['w1@3=255', 'r1@3', 'r1@3']);
    expect(b.log).toEqual(['w1@5=7', 'r1@5']);
  });

  it('decline what is not one cycle of one device with quiet accesses, asking no device', () => {
    const bus = new PortBus(), a = new Quiet('a');
    bus.register(0x100, 8, a);
    bus.register(0x108, 8, { name: 'plain', dataWidth: 1, portRead: () => 0, portWrite: () => {} });
    expect(bus.quietRead(0x100, 2, 0)).toBe(QUIET_DECLINED); // wider than its data width
    expect(bus.quietRead(0x50, 1, 0)).toBe(QUIET_DECLINED); // nothing there
    expect(bus.quietRead(0x10a, 1, 0)).toBe(QUIET_DECLINED); // no quiet accesses
    expect(bus.quietWrite(0x10a, 1, 0)).toBe(false);
    const wide = new Quiet('wide', 4);
    bus.register(0x300, 4, wide);
    expect(bus.quietRead(0x302, 4, 0)).toBe(QUIET_DECLINED); // runs past its range
    expect(bus.quietRead(0x300, 4, 0)).toBe(0);
    expect(a.log).toEqual([]);
    expect(wide.log).toEqual(['r4@0']);
  });

  it('follow the map as it changes: a device unplugged and another put at its base', () => {
    const bus = new PortBus(), a = new Quiet('a'), b = new Quiet('b');
    bus.register(0x100, 8, a);
    expect(bus.quietRead(0x101, 1, 0)).toBe(0);
    bus.unregister(0x100);
    expect(bus.quietRead(0x101, 1, 0)).toBe(QUIET_DECLINED);
    bus.register(0x100, 8, b);
    b.bytes[1] = 9;
    expect(bus.quietRead(0x101, 1, 0)).toBe(9);
    expect(a.log).toEqual(['r1@1']);
  });
});
