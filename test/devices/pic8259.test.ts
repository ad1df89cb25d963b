import { describe, expect, it } from 'vitest';
import { DeviceStateError, PicPair, PortBus } from '../../emulator/devices/index.js';
import { PcBoard, throughJson } from './pc-board.js';

const OCW3_READ_IRR = 0x0a, OCW3_READ_ISR = 0x0b, OCW3_POLL = 0x0c, EOI = 0x20;

function board(masterMask = 0x00, slaveMask = 0x00): PcBoard {
  const b = new PcBoard();
  b.initPic(masterMask, slaveMask);
  return b;
}
function isr(b: PcBoard, port = 0x20): number {
  b.outb(port, OCW3_READ_ISR);
  return b.inb(port);
}
function irr(b: PcBoard, port = 0x20): number {
  b.outb(port, OCW3_READ_IRR);
  return b.inb(port);
}
/** A PIC pair alone on a bus, initialized as Linux does, with the PIT not connected. */
function pair(): { pic: PicPair; bus: PortBus; out: (p: number, v: number) => void; inp: (p: number) => number } {
  const pic = new PicPair(), bus = new PortBus();
  pic.attach(bus);
  const out = (p: number, v: number) => bus.portWrite(p, 1, v), inp = (p: number) => bus.portRead(p, 1);
  for (const [p, v] of [[0x20, 0x11], [0xa0, 0x11], [0x21, 0x20], [0xa1, 0x28], [0x21, 4], [0xa1, 2], [0x21, 1], [0xa1, 1],
    [0x21, 0], [0xa1, 0]] as const) out(p, v);
  return { pic, bus, out, inp };
}

describe('8259A initialization', () => {
  it('takes ICW1-ICW4 as Linux sends them, then OCW1 on the data port', () => {
    const { pic, out, inp } = pair();
    expect(inp(0x21)).toBe(0);
    out(0x21, 0xfb);
    out(0xa1, 0xbf);
    expect(inp(0x21)).toBe(0xfb);
    expect(inp(0xa1)).toBe(0xbf);
    expect(pic.master.vectorOffset).toBe(0x20);
    expect(pic.slave.vectorOffset).toBe(0x28);
    expect(pic.master.isCascade(2)).toBe(true);
  });

  it('is fully masked before initialization, so nothing reaches INTR', () => {
    const pic = new PicPair();
    pic.irqLine(1).setLevel(true);
    expect(pic.hasPendingInterrupt()).toBe(false);
  });

  it('can be left as a PC BIOS leaves it for a directly booted kernel', () => {
    const pic = new PicPair(), bus = new PortBus();
    pic.attach(bus);
    pic.initializeLikeBios();
    expect(bus.portRead(0x21, 1)).toBe(0xfb);
    expect(bus.portRead(0xa1, 1)).toBe(0xff);
    pic.irqLine(0).setLevel(true);
    expect(pic.hasPendingInterrupt()).toBe(false);
    bus.portWrite(0x21, 1, 0xfa);
    expect(pic.acknowledge()).toBe(0x08);
    bus.portWrite(0xa1, 1, 0xfe);
    pic.irqLine(8).setLevel(true);
    bus.portWrite(0x20, 1, EOI);
    expect(pic.acknowledge()).toBe(0x70);
  });

  it('resets the edge sense on ICW1: a line already high must rise again', () => {
    const { pic, out } = pair();
    pic.irqLine(1).setLevel(true);
    expect(pic.hasPendingInterrupt()).toBe(true);
    for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 4], [0x21, 1]] as const) out(p, v);
    expect(pic.hasPendingInterrupt()).toBe(false);
    pic.irqLine(1).setLevel(false);
    pic.irqLine(1).setLevel(true);
    expect(pic.acknowledge()).toBe(0x21);
  });
});

describe('8259A requests, masking and priority', () => {
  it('latches a masked request in IRR and delivers it when unmasked', () => {
    const b = board(0xff, 0xff);
    b.pic.irqLine(4).setLevel(true);
    expect(irr(b) & 0x10).toBe(0x10);
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    b.outb(0x21, 0xef);
    expect(b.pic.hasPendingInterrupt()).toBe(true);
    expect(b.pic.acknowledge()).toBe(0x24);
    expect(isr(b)).toBe(0x10);
    expect(irr(b) & 0x10).toBe(0);
  });

  it('serves the lowest IRQ number first and holds lower levels while a higher one is in service', () => {
    const { pic, out, inp } = pair();
    pic.irqLine(3).setLevel(true);
    pic.irqLine(1).setLevel(true);
    expect(pic.acknowledge()).toBe(0x21);
    // IRQ3 is lower priority than in-service IRQ1.
    expect(pic.hasPendingInterrupt()).toBe(false);
    out(0x20, EOI);
    expect(pic.hasPendingInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x23);
    out(0x20, OCW3_READ_ISR);
    expect(inp(0x20)).toBe(0x08);
  });

  it('nests a higher-priority request inside a lower one; non-specific EOI ends the highest first', () => {
    const { pic, out, inp } = pair();
    pic.irqLine(5).setLevel(true);
    expect(pic.acknowledge()).toBe(0x25);
    pic.irqLine(1).setLevel(true);
    expect(pic.hasPendingInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
    out(0x20, OCW3_READ_ISR);
    expect(inp(0x20)).toBe(0x22);
    out(0x20, EOI);
    expect(inp(0x20)).toBe(0x20);
    out(0x20, EOI);
    expect(inp(0x20)).toBe(0);
  });

  it('clears exactly the named level with a specific EOI', () => {
    const { pic, out, inp } = pair();
    pic.irqLine(6).setLevel(true);
    pic.acknowledge();
    pic.irqLine(0).setLevel(true);
    pic.acknowledge();
    out(0x20, 0x60 | 6);
    out(0x20, OCW3_READ_ISR);
    expect(inp(0x20)).toBe(0x01);
  });

  it('does not re-request an edge-triggered line that stays high, but does after it falls and rises', () => {
    const { pic, out } = pair();
    const line = pic.irqLine(1);
    line.setLevel(true);
    pic.acknowledge();
    out(0x20, EOI);
    expect(pic.hasPendingInterrupt()).toBe(false);
    line.setLevel(false);
    line.setLevel(true);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('re-requests a level-triggered (ELCR) line for as long as it stays high', () => {
    const { pic, out, inp } = pair();
    out(0x4d1, 0x04); // IRQ10 level
    expect(inp(0x4d1)).toBe(0x04);
    out(0x4d0, 0xff); // IRQ 0, 1, 2 cannot be level-triggered
    expect(inp(0x4d0)).toBe(0xf8);
    out(0x4d0, 0);
    const line = pic.irqLine(10);
    line.setLevel(true);
    expect(pic.acknowledge()).toBe(0x2a);
    out(0xa0, EOI);
    out(0x20, EOI);
    expect(pic.acknowledge()).toBe(0x2a);
    out(0xa0, EOI);
    out(0x20, EOI);
    line.setLevel(false);
    expect(pic.hasPendingInterrupt()).toBe(false);
  });

  it('rotates priority on rotate-on-non-specific-EOI so equal devices take turns', () => {
    const { pic, out } = pair();
    pic.irqLine(3).setLevel(true);
    pic.irqLine(4).setLevel(true);
    expect(pic.acknowledge()).toBe(0x23);
    out(0x20, 0xa0); // IRQ3 becomes lowest: IRQ4 is now highest
    pic.irqLine(3).setLevel(false);
    pic.irqLine(3).setLevel(true);
    expect(pic.acknowledge()).toBe(0x24);
    out(0x20, 0xc7); // set priority: IRQ7 lowest again
    out(0x20, 0x64);
    pic.irqLine(4).setLevel(false);
    pic.irqLine(4).setLevel(true);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('answers the poll command with the highest request and acknowledges it', () => {
    const { pic, out, inp } = pair();
    pic.irqLine(6).setLevel(true);
    out(0x20, OCW3_POLL);
    expect(inp(0x20)).toBe(0x86);
    out(0x20, OCW3_READ_ISR);
    expect(inp(0x20)).toBe(0x40);
    out(0x20, OCW3_POLL);
    expect(inp(0x20)).toBe(0x00);
  });

  it('lets lower levels through in special mask mode when the in-service level masks itself', () => {
    const { pic, out } = pair();
    pic.irqLine(1).setLevel(true);
    expect(pic.acknowledge()).toBe(0x21);
    pic.irqLine(5).setLevel(true);
    expect(pic.hasPendingInterrupt()).toBe(false);
    out(0x21, 0x02);
    out(0x20, 0x68); // OCW3: set special mask
    expect(pic.acknowledge()).toBe(0x25);
    out(0x20, 0x48); // reset special mask
  });

  it('does not set ISR in auto-EOI mode', () => {
    const { pic, out, inp } = pair();
    for (const [p, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 4], [0x21, 3], [0x21, 0]] as const) out(p, v);
    pic.irqLine(3).setLevel(true);
    expect(pic.acknowledge()).toBe(0x23);
    out(0x20, OCW3_READ_ISR);
    expect(inp(0x20)).toBe(0);
    pic.irqLine(4).setLevel(true);
    expect(pic.acknowledge()).toBe(0x24);
  });
});

describe('8259A cascade', () => {
  it('delivers slave IRQs through master IR2 with the slave vector; both chips need an EOI', () => {
    const b = board();
    b.pic.irqLine(12).setLevel(true);
    expect(b.pic.hasPendingInterrupt()).toBe(true);
    expect(b.pic.acknowledge()).toBe(0x2c);
    expect(isr(b, 0x20)).toBe(0x04);
    expect(isr(b, 0xa0)).toBe(0x10);
    // While IR2 is in service, a lower master IRQ waits; a higher one nests.
    b.pic.irqLine(3).setLevel(true);
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    b.pic.irqLine(1).setLevel(true);
    expect(b.pic.acknowledge()).toBe(0x21);
    b.outb(0x20, EOI);
    b.outb(0xa0, EOI);
    b.outb(0x20, EOI);
    expect(isr(b, 0x20)).toBe(0);
    expect(b.pic.acknowledge()).toBe(0x23);
  });

  it('masks slave IRQs with the slave IMR and all of them with master IMR bit 2', () => {
    const b = board();
    b.outb(0x21, 0x04);
    b.pic.irqLine(9).setLevel(true);
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    b.outb(0x21, 0x00);
    expect(b.pic.acknowledge()).toBe(0x29);
  });

  it('does not lose a second slave request pending when the first is acknowledged', () => {
    const b = board();
    b.pic.irqLine(8 + 1).setLevel(true);
    b.pic.irqLine(8 + 3).setLevel(true);
    expect(b.pic.acknowledge()).toBe(0x29);
    b.outb(0xa0, EOI);
    b.outb(0x20, EOI);
    expect(b.pic.acknowledge()).toBe(0x2b);
  });
  it('treats a request still pending on an auto-EOI slave after INTA as a new edge on IR2', () => {
    const { pic, out } = pair();
    for (const [p, v] of [[0xa0, 0x11], [0xa1, 0x28], [0xa1, 2], [0xa1, 3], [0xa1, 0]] as const) out(p, v);
    pic.irqLine(9).setLevel(true);
    pic.irqLine(11).setLevel(true);
    expect(pic.acknowledge()).toBe(0x29);
    out(0x20, EOI); // the slave needs none
    expect(pic.acknowledge()).toBe(0x2b);
  });
});

describe('8259A spurious interrupts', () => {
  it('answers IRQ7 without setting ISR when the request vanishes before INTA', () => {
    const b = board();
    b.pic.irqLine(5).setLevel(true);
    expect(b.pic.hasPendingInterrupt()).toBe(true);
    b.pic.irqLine(5).setLevel(false);
    expect(b.pic.acknowledge()).toBe(0x27);
    expect(isr(b)).toBe(0);
  });

  it('answers IRQ15 with master IR2 in service when the slave loses the request between the INTA cycles', () => {
    const b = board();
    b.pic.irqLine(11).setLevel(true);
    // First INTA: the master commits to IR2. Then the slave's request goes away.
    const master = b.pic.master.acknowledge();
    expect(master).toEqual({ irq: 2, spurious: false });
    b.pic.irqLine(11).setLevel(false);
    const slave = b.pic.slave.acknowledge();
    expect(slave).toEqual({ irq: 7, spurious: true });
    expect(b.pic.slave.vectorOffset | slave.irq).toBe(0x2f);
    expect(isr(b, 0xa0)).toBe(0);
    expect(isr(b, 0x20)).toBe(0x04); // so the handler must EOI the master only
  });
});

describe('8259A INTR listener', () => {
  it('reports INTR rising and falling', () => {
    const { pic, out } = pair();
    const seen: boolean[] = [];
    const stop = pic.onIntrChange((a) => seen.push(a));
    pic.irqLine(0).setLevel(true);
    pic.irqLine(1).setLevel(true);
    expect(seen).toEqual([true]);
    out(0x21, 0xff);
    expect(seen).toEqual([true, false]);
    out(0x21, 0x00);
    stop();
    out(0x21, 0xff);
    expect(seen).toEqual([true, false, true]);
  });
});

describe('8259A snapshots', () => {
  it('continues identically after save, JSON, load into a fresh pair', () => {
    const a = pair();
    a.pic.irqLine(9).setLevel(true);
    a.pic.irqLine(3).setLevel(true);
    a.pic.irqLine(4).setLevel(true);
    expect(a.pic.acknowledge()).toBe(0x29); // IR2 outranks IR3 and IR4
    a.out(0x4d1, 0x08);
    a.out(0x20, OCW3_READ_ISR);
    const b = pair();
    b.pic.loadState(throughJson(a.pic.saveState()));
    expect(b.pic.saveState()).toEqual(a.pic.saveState());
    for (const x of [a, b]) {
      expect(x.inp(0x20)).toBe(0x04);
      expect(x.pic.hasPendingInterrupt()).toBe(false);
      x.out(0xa0, EOI);
      x.out(0x20, EOI);
      expect(x.pic.acknowledge()).toBe(0x23);
      x.out(0x20, EOI);
      expect(x.pic.acknowledge()).toBe(0x24);
      expect(x.pic.hasPendingInterrupt()).toBe(false);
    }
  });

  it('rejects another version and malformed fields, leaving the pair untouched', () => {
    const { pic } = pair();
    const good = pic.saveState();
    const before = JSON.stringify(good);
    expect(() => pic.loadState({ ...good, version: 2 })).toThrow(DeviceStateError);
    expect(() => pic.loadState({ ...good, version: 2 })).toThrow(/version 2 is not supported/);
    expect(() => pic.loadState({ ...good, slave: { ...good.slave, imr: 256 } })).toThrow(/slave\.imr/);
    expect(() => pic.loadState({ ...good, master: { ...good.master, initStep: 'icw9' } })).toThrow(DeviceStateError);
    const { isr: _omit, ...noIsr } = good.master;
    expect(() => pic.loadState({ ...good, master: noIsr })).toThrow(/master\.isr' *: missing|master\.isr'.*missing/);
    expect(() => pic.loadState({ ...good, extra: 1 })).toThrow(/'extra'.*not part/);
    expect(JSON.stringify(pic.saveState())).toBe(before);
  });
});
