import { describe, expect, it } from 'vitest';
import {
  DeviceStateError, ManualClock, MmioBus, Uart16550, UNCONNECTED_IRQ,
} from '../../emulator/devices/index.js';
import { PcBoard, RecordingLine, throughJson } from './pc-board.js';

const COM1 = 0x3f8;
const THR = COM1, RBR = COM1, DLL = COM1, DLM = COM1 + 1, IER = COM1 + 1, IIR = COM1 + 2, FCR = COM1 + 2,
  LCR = COM1 + 3, MCR = COM1 + 4, LSR = COM1 + 5, MSR = COM1 + 6, SCR = COM1 + 7;
/** 115200 baud, 8N1: ten bits of 16 x 1 reference clocks each. */
const CHAR_NS = Math.ceil((10 * 16 * 1e9) / 1_843_200);

/** The Linux-style bring-up: 115200 8N1, FIFOs with the given trigger, DTR RTS OUT2, then IER. */
function bringUp(b: PcBoard, fcr = 0xc7, ier = 0x01): void {
  b.outb(LCR, 0x80);
  b.outb(DLL, 0x01);
  b.outb(DLM, 0x00);
  b.outb(LCR, 0x03);
  b.outb(FCR, fcr);
  b.outb(MCR, 0x0b);
  b.outb(IER, ier);
}
function boardWithCom1(fcr = 0xc7, ier = 0x01): PcBoard {
  const b = new PcBoard();
  b.initPic(0xef, 0xff); // only IRQ4
  bringUp(b, fcr, ier);
  return b;
}
function ack(b: PcBoard): number {
  const v = b.pic.acknowledge();
  b.outb(0x20, 0x20);
  return v;
}

describe('16550A programming', () => {
  it('takes the Linux init sequence and reads back as a 16550A with FIFOs', () => {
    const b = boardWithCom1(0xc7, 0x00);
    expect(b.inb(LCR)).toBe(0x03);
    expect(b.inb(MCR)).toBe(0x0b);
    expect(b.inb(IIR)).toBe(0xc1); // FIFOs enabled (bits 7-6), no interrupt
    expect(b.inb(LSR)).toBe(0x60); // THRE | TEMT
    expect(b.inb(IER)).toBe(0x00);
    b.outb(LCR, 0x83);
    expect(b.inb(DLL)).toBe(0x01);
    expect(b.inb(DLM)).toBe(0x00);
    b.outb(LCR, 0x03);
    expect(b.uart.characterTime()).toBe(CHAR_NS);
    b.outb(SCR, 0x5a);
    expect(b.inb(SCR)).toBe(0x5a);
  });

  it('reports the 8250-style IIR (bits 7-6 clear) with FIFOs off', () => {
    const b = boardWithCom1(0x00, 0x00);
    expect(b.inb(IIR)).toBe(0x01);
  });

  it('works at any base: COM2-style port base and a 32-bit-stride MMIO window', () => {
    const clock = new ManualClock(), out: number[] = [], irq = new RecordingLine();
    const uart = new Uart16550({ clock, irq, transmit: (x) => out.push(x), registerShift: 2, pcIrqWiring: false, name: 'uart-mmio' });
    const mmio = new MmioBus();
    mmio.register(0xfe001000, 0x20, uart);
    mmio.mmioWrite(0xfe001000 + 3 * 4, 4, 0x03);
    expect(mmio.mmioRead(0xfe001000 + 3 * 4, 4)).toBe(0x03);
    mmio.mmioWrite(0xfe001000 + 1 * 4, 4, 0x02); // ETBEI
    expect(irq.level).toBe(true); // wired directly: no OUT2 needed
    mmio.mmioWrite(0xfe001000, 4, 0x41);
    expect(out).toEqual([0x41]);
    expect(mmio.mmioRead(0xfe001000 + 5 * 4, 4)).toBe(0x60);
  });
});

describe('16550A transmit', () => {
  it('sends THR bytes to the sink at once with THRE and TEMT staying set', () => {
    const b = boardWithCom1(0xc7, 0x00);
    for (const c of 'ok\n') b.outb(THR, c.charCodeAt(0));
    expect(String.fromCharCode(...b.serialOut)).toBe('ok\n');
    expect(b.inb(LSR) & 0x60).toBe(0x60);
  });

  it('raises THRE when ETBEI is enabled, clears it on an IIR read, and raises it again after each THR write', () => {
    const b = boardWithCom1(0xc7, 0x00);
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    b.outb(IER, 0x02);
    expect(b.pic.hasPendingInterrupt()).toBe(true);
    expect(ack(b)).toBe(0x24);
    expect(b.inb(IIR)).toBe(0xc2);
    expect(b.inb(IIR)).toBe(0xc1); // the read cleared it
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    b.outb(THR, 0x41); // the handler's next byte: THR empties again, a new edge
    expect(b.pic.hasPendingInterrupt()).toBe(true);
    expect(ack(b)).toBe(0x24);
    b.outb(IER, 0x00);
    expect(b.inb(IIR)).toBe(0xc1);
  });

  it('gives a fresh edge to the PIC when THR is written while THRE is still pending', () => {
    const b = boardWithCom1(0xc7, 0x02);
    expect(ack(b)).toBe(0x24);
    // Handler writes THR without reading IIR: the line drops and rises, so IRQ4 is latched again.
    b.outb(THR, 0x42);
    expect(b.pic.hasPendingInterrupt()).toBe(true);
  });

  it('keeps IRQ4 off the PIC unless OUT2 is set, as on a PC', () => {
    const b = boardWithCom1(0xc7, 0x02);
    expect(b.pic.hasPendingInterrupt()).toBe(true);
    b.outb(MCR, 0x03); // DTR RTS, no OUT2
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    expect(b.inb(IIR)).toBe(0xc2); // the UART itself still has it pending
    b.outb(IER, 0x00);
    b.outb(MCR, 0x0b);
    b.outb(IER, 0x02);
    expect(b.pic.hasPendingInterrupt()).toBe(true);
  });
});

describe('16550A receive', () => {
  it('paces input at the line rate and raises RDA when the trigger level (1) is reached', () => {
    const b = boardWithCom1(0x07); // FIFOs, trigger 1
    b.uart.pushInput([0x68, 0x69]);
    expect(b.uart.nextDeadline()).toBe(CHAR_NS);
    b.runTo(CHAR_NS - 1);
    expect(b.inb(LSR) & 0x01).toBe(0);
    b.runTo(CHAR_NS);
    expect(b.inb(LSR) & 0x01).toBe(1);
    expect(ack(b)).toBe(0x24);
    expect(b.inb(IIR)).toBe(0xc4);
    expect(b.inb(RBR)).toBe(0x68);
    expect(b.inb(IIR)).toBe(0xc1);
    b.runTo(2 * CHAR_NS);
    expect(b.inb(IIR)).toBe(0xc4);
    expect(b.inb(RBR)).toBe(0x69);
    expect(b.inb(LSR)).toBe(0x60);
    expect(b.uart.nextDeadline()).toBe(Infinity);
  });

  it('with trigger 14 signals RDA at 14 characters and a character timeout for a short burst', () => {
    const b = boardWithCom1(0xc7);
    b.uart.pushInput(new TextEncoder().encode('abc'));
    b.runTo(3 * CHAR_NS);
    expect(b.inb(LSR) & 0x01).toBe(1);
    expect(b.inb(IIR)).toBe(0xc1); // below the trigger, not yet timed out
    expect(b.uart.nextDeadline()).toBe(3 * CHAR_NS + 4 * CHAR_NS);
    b.runTo(7 * CHAR_NS);
    expect(b.pic.hasPendingInterrupt()).toBe(true);
    expect(b.inb(IIR)).toBe(0xcc);
    expect(b.inb(RBR)).toBe(0x61); // reading restarts the timeout
    expect(b.inb(IIR)).toBe(0xc1);
    expect(b.inb(RBR)).toBe(0x62);
    expect(b.inb(RBR)).toBe(0x63);
    b.runTo(20 * CHAR_NS);
    expect(b.inb(IIR)).toBe(0xc1);

    b.uart.pushInput(new Uint8Array(20).fill(0x7a));
    b.runTo(b.clock.now() + 13 * CHAR_NS);
    expect(b.inb(IIR)).toBe(0xc1);
    b.runTo(b.clock.now() + CHAR_NS);
    expect(b.inb(IIR)).toBe(0xc4);
  });

  it('overruns when the FIFO is full: OE, the extra characters lost, a line status interrupt first', () => {
    const b = boardWithCom1(0x07, 0x05); // ERBFI | ELSI
    b.uart.pushInput(Array.from({ length: 20 }, (_, i) => i));
    b.runTo(16 * CHAR_NS);
    expect(b.inb(LSR)).toBe(0x61);
    b.runTo(20 * CHAR_NS);
    expect(b.inb(IIR)).toBe(0xc6); // receiver line status outranks received data
    expect(b.inb(LSR)).toBe(0x63); // DR | OE ... and the read clears OE
    expect(b.inb(LSR)).toBe(0x61);
    expect(b.inb(IIR)).toBe(0xc4);
    const got: number[] = [];
    while (b.inb(LSR) & 1) got.push(b.inb(RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it('overwrites RBR on overrun with the FIFOs off', () => {
    const b = boardWithCom1(0x00, 0x00);
    b.uart.pushInput([1, 2, 3]);
    b.runTo(3 * CHAR_NS);
    expect(b.inb(LSR)).toBe(0x63);
    expect(b.inb(RBR)).toBe(3);
    expect(b.inb(LSR)).toBe(0x60);
  });

  it('clears the receive FIFO on FCR RCVR reset and when FIFO mode changes', () => {
    const b = boardWithCom1(0x07, 0x00);
    b.uart.pushInput([1, 2]);
    b.runTo(2 * CHAR_NS);
    b.outb(FCR, 0x07);
    expect(b.inb(LSR) & 1).toBe(0);
    b.uart.pushInput([3]);
    b.runTo(4 * CHAR_NS);
    b.outb(FCR, 0x00);
    expect(b.inb(LSR) & 1).toBe(0);
  });
});

describe('16550A loopback and modem status', () => {
  it('passes the Linux loopback probe: MCR=0x1A reads MSR bits 7-4 as DCD|CTS', () => {
    const b = boardWithCom1(0xc7, 0x00);
    b.outb(MCR, 0x1a);
    expect(b.inb(MSR) & 0xf0).toBe(0x90);
    b.outb(MCR, 0x1f);
    expect(b.inb(MSR) & 0xf0).toBe(0xf0);
  });

  it('loops THR back to RBR without touching the sink, and silences IRQ4 while in loopback', () => {
    const b = boardWithCom1(0xc7, 0x01);
    b.outb(MCR, 0x1b);
    b.outb(FCR, 0x07); // trigger 1
    b.outb(THR, 0x55);
    expect(b.serialOut).toEqual([]);
    expect(b.inb(IIR)).toBe(0xc4);
    expect(b.pic.hasPendingInterrupt()).toBe(false);
    expect(b.inb(RBR)).toBe(0x55);
    b.outb(MCR, 0x0b);
    b.outb(THR, 0x56);
    expect(b.serialOut).toEqual([0x56]);
  });

  it('holds wire input during loopback and resumes after it', () => {
    const b = boardWithCom1(0x07, 0x00);
    b.outb(MCR, 0x1b);
    b.uart.pushInput([9]);
    expect(b.uart.nextDeadline()).toBe(Infinity);
    b.runTo(10 * CHAR_NS);
    expect(b.inb(LSR) & 1).toBe(0);
    b.outb(MCR, 0x0b);
    b.runTo(11 * CHAR_NS);
    expect(b.inb(RBR)).toBe(9);
  });

  it('sets delta bits on modem line changes, clears them on an MSR read, and interrupts when EDSSI', () => {
    const b = boardWithCom1(0xc7, 0x08);
    b.outb(MCR, 0x18); // loopback, OUT2 only: DCD up
    b.inb(MSR);
    b.outb(MCR, 0x1d); // DTR and OUT1 up: DSR, RI
    expect(b.inb(IIR)).toBe(0xc0); // modem status interrupt
    expect(b.inb(MSR)).toBe(0xe0 | 0x02); // DDSR (RI rising is not TERI)
    expect(b.inb(IIR)).toBe(0xc1);
    b.outb(MCR, 0x19); // OUT1 down: trailing edge of RI
    expect(b.inb(MSR)).toBe(0xa0 | 0x04);
    b.outb(MCR, 0x08); // out of loopback: the external lines (CTS DSR DCD) are back
    expect(b.inb(MSR)).toBe(0xb0 | 0x01);
    b.uart.setModemInputs(0x30); // the peer drops DCD
    expect(b.inb(MSR) & 0x0f).toBe(0x08);
  });
});

describe('16550A snapshots', () => {
  it('continues identically after save, JSON, load mid-reception', () => {
    const a = boardWithCom1(0xc7, 0x07);
    a.uart.pushInput(Array.from({ length: 30 }, (_, i) => 0x30 + i));
    a.runTo(5 * CHAR_NS + 1234);
    a.inb(RBR);
    a.outb(SCR, 0x77);
    const b = new PcBoard();
    b.clock.set(a.clock.now());
    b.pic.loadState(throughJson(a.pic.saveState()));
    b.pit.loadState(throughJson(a.pit.saveState()));
    b.uart.loadState(throughJson(a.uart.saveState()));
    expect(b.uart.saveState()).toEqual(a.uart.saveState());
    const trace = (x: PcBoard) => {
      const seen: string[] = [];
      for (let t = a.clock.now(); t < 60 * CHAR_NS; t += CHAR_NS / 3) {
        x.runTo(Math.round(t));
        const iir = x.inb(IIR), lsr = x.inb(LSR);
        seen.push(`${x.uart.nextDeadline()} ${iir} ${lsr} ${lsr & 1 ? x.inb(RBR) : '-'} ${x.pic.hasPendingInterrupt()}`);
      }
      return seen;
    };
    expect(trace(b)).toEqual(trace(a));
  });

  it('rejects another version and bad fields without changing the device', () => {
    const uart = new Uart16550({ clock: new ManualClock(), irq: UNCONNECTED_IRQ, transmit: () => {} });
    const good = uart.saveState();
    expect(() => uart.loadState({ ...good, version: 2 })).toThrow(DeviceStateError);
    expect(() => uart.loadState({ ...good, ier: 0x10 })).toThrow(/'ier'/);
    expect(() => uart.loadState({ ...good, receiveFifo: [1, 2, 300] })).toThrow(/receiveFifo/);
    expect(() => uart.loadState({ ...good, receiveFifo: [1, 2] })).toThrow(/FIFOs disabled/);
    expect(() => uart.loadState({ ...good, rcvrTriggerLevel: 5 })).toThrow(/rcvrTriggerLevel/);
    expect(uart.saveState()).toEqual(good);
  });
});
