/**
 * A PC/AT device set wired as the machine will wire it, for tests that drive devices through the
 * port bus exactly as a guest driver does (outb/inb), with a hand-set virtual clock.
 */
import {
  COM1_BASE, COM1_IRQ, DEBUG_EXIT_BASE, DEBUG_EXIT_SIZE, DEBUGCON_PORT, DebugExit, Debugcon, ManualClock,
  PicPair, Pit8254, PIT_BASE, PIT_IRQ, PortBus, POST_CODE_PORT, PostCodePort, SYSTEM_CONTROL_PORT_B,
  SystemControlPort, Uart16550, type IrqLine,
} from '../../emulator/devices/index.js';

export class PcBoard {
  readonly clock = new ManualClock();
  readonly bus = new PortBus();
  readonly pic = new PicPair();
  readonly pit: Pit8254;
  readonly uart: Uart16550;
  readonly portB: SystemControlPort;
  readonly debugExit: DebugExit;
  readonly debugcon: Debugcon;
  readonly post = new PostCodePort();
  readonly serialOut: number[] = [];
  readonly debugconOut: number[] = [];
  readonly exitStatuses: number[] = [];

  constructor() {
    this.pic.attach(this.bus);
    this.pit = new Pit8254({ clock: this.clock, irq0: this.pic.irqLine(PIT_IRQ) });
    this.uart = new Uart16550({ clock: this.clock, irq: this.pic.irqLine(COM1_IRQ), transmit: (b) => this.serialOut.push(b) });
    this.portB = new SystemControlPort(this.pit, this.clock);
    this.debugExit = new DebugExit((s) => this.exitStatuses.push(s));
    this.debugcon = new Debugcon((b) => this.debugconOut.push(b));
    this.bus.register(PIT_BASE, 4, this.pit);
    this.bus.register(COM1_BASE, 8, this.uart);
    this.bus.register(SYSTEM_CONTROL_PORT_B, 1, this.portB);
    this.bus.register(DEBUG_EXIT_BASE, DEBUG_EXIT_SIZE, this.debugExit);
    this.bus.register(DEBUGCON_PORT, 1, this.debugcon);
    this.bus.register(POST_CODE_PORT, 1, this.post);
  }

  outb(port: number, value: number): void { this.bus.portWrite(port, 1, value); }
  outw(port: number, value: number): void { this.bus.portWrite(port, 2, value); }
  outd(port: number, value: number): void { this.bus.portWrite(port, 4, value); }
  inb(port: number): number { return this.bus.portRead(port, 1); }
  inw(port: number): number { return this.bus.portRead(port, 2); }

  /** The Linux/BIOS PIC initialization: ICW1=0x11, ICW2=0x20/0x28, ICW3=4/2, ICW4=1. */
  initPic(masterMask = 0xff, slaveMask = 0xff): void {
    this.outb(0x20, 0x11); this.outb(0xa0, 0x11);
    this.outb(0x21, 0x20); this.outb(0xa1, 0x28);
    this.outb(0x21, 0x04); this.outb(0xa1, 0x02);
    this.outb(0x21, 0x01); this.outb(0xa1, 0x01);
    this.outb(0x21, masterMask); this.outb(0xa1, slaveMask);
  }

  /** The earliest deadline over the timed devices. */
  nextDeadline(): number {
    return Math.min(this.pit.nextDeadline(), this.uart.nextDeadline());
  }

  /** Moves virtual time to `ns`, stopping at every deadline on the way, as the machine's loop does. */
  runTo(ns: number): void {
    for (;;) {
      const d = this.nextDeadline();
      if (d > ns) break;
      this.clock.set(Math.max(this.clock.now(), d));
      this.pit.advanceTo(this.clock.now());
      this.uart.advanceTo(this.clock.now());
    }
    this.clock.set(ns);
    this.pit.advanceTo(ns);
    this.uart.advanceTo(ns);
  }
}

/** An IrqLine that records every level it is driven to. */
export class RecordingLine implements IrqLine {
  level = false;
  readonly changes: { high: boolean; at: number }[] = [];
  constructor(private readonly clock?: ManualClock) {}
  setLevel(high: boolean): void {
    this.level = high;
    this.changes.push({ high, at: this.clock?.now() ?? 0 });
  }
  /** Times of low-to-high transitions. */
  risingEdges(): number[] {
    return this.changes.filter((c) => c.high).map((c) => c.at);
  }
}

/** JSON round trip: what a snapshot file or a migration stream does to a state object. */
export function throughJson<T>(state: T): unknown {
  return JSON.parse(JSON.stringify(state));
}
