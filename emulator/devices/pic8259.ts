/**
 * The 8259A programmable interrupt controller pair of the PC/AT: master at 0x20-0x21, slave at
 * 0xA0-0xA1 cascaded on master IR2, and the ELCR at 0x4D0-0x4D1 that makes single lines
 * level-triggered (PIIX/ICH chipsets). References are to the Intel 8259A datasheet (231468).
 *
 * The CPU sees the pair through `hasPendingInterrupt()` (the INTR pin) and `acknowledge()` (the
 * two INTA cycles, returning the vector). Devices drive `irqLine(n)`.
 */
import type { IrqLine, PortDevice, Snapshottable } from './device.js';
import { StateReader } from './state.js';
import type { PortBus } from './bus.js';

export const PIC_MASTER_BASE = 0x20;
export const PIC_SLAVE_BASE = 0xa0;
export const ELCR_BASE = 0x4d0;
/** The master input the slave's INT output drives on the PC/AT. */
export const CASCADE_IRQ = 2;

/** ICW1 and OCW2/OCW3 bit fields (datasheet figures 7 and 8). */
export const ICW1_IC4 = 0x01, ICW1_SNGL = 0x02, ICW1_LTIM = 0x08, ICW1_INIT = 0x10;
export const ICW4_UPM = 0x01, ICW4_AEOI = 0x02, ICW4_SFNM = 0x10;
export const OCW3_SELECT = 0x08, OCW3_READ_REGISTER = 0x02, OCW3_READ_ISR = 0x01, OCW3_POLL = 0x04,
  OCW3_SET_SPECIAL_MASK = 0x20, OCW3_ESMM = 0x40;
/** OCW2 commands (bits 7-5: R, SL, EOI). */
export const OCW2_NON_SPECIFIC_EOI = 0x20, OCW2_SPECIFIC_EOI = 0x60, OCW2_ROTATE_NON_SPECIFIC_EOI = 0xa0,
  OCW2_SET_ROTATE_AUTO_EOI = 0x80, OCW2_CLEAR_ROTATE_AUTO_EOI = 0x00, OCW2_ROTATE_SPECIFIC_EOI = 0xe0,
  OCW2_SET_PRIORITY = 0xc0, OCW2_NOP = 0x40;

/** Where the chip is in the initialization sequence: which ICW the next data-port write is. */
type InitStep = 'ready' | 'icw2' | 'icw3' | 'icw4';
const INIT_STEPS: readonly InitStep[] = ['ready', 'icw2', 'icw3', 'icw4'];

export interface Pic8259State {
  /** Current level of each IR input (bit n = IRn). */
  inputLevels: number;
  /** Requests latched by a rising edge and not yet acknowledged (edge-triggered inputs). */
  edgeRequests: number;
  imr: number;
  isr: number;
  initStep: InitStep;
  vectorBase: number;
  levelTriggeredAll: boolean;
  singleMode: boolean;
  icw4Expected: boolean;
  /** ICW3: cascade mask on a master, slave ID on a slave. */
  icw3: number;
  mode8086: boolean;
  autoEoi: boolean;
  specialFullyNested: boolean;
  rotateOnAutoEoi: boolean;
  /** The IR with the lowest priority; the one after it has the highest. 7 after initialization. */
  lowestPriority: number;
  readIsr: boolean;
  pollPending: boolean;
  specialMask: boolean;
  /** Per-line level sensitivity from the ELCR (bit n = IRn level-triggered). */
  elcr: number;
}

/** One 8259A. Port offset 0 is the command port (A0 = 0), offset 1 the data port (A0 = 1). */
export class Pic8259 implements PortDevice {
  readonly dataWidth = 1;

  private inputLevels = 0;
  private edgeRequests = 0;
  /** Power-on state is undefined in the datasheet; we start fully masked so an uninitialized
   * controller never presents INTR with a garbage vector. */
  private imr = 0xff;
  private isr = 0;
  private initStep: InitStep = 'ready';
  private vectorBase = 0;
  private levelTriggeredAll = false;
  private singleMode = false;
  private icw4Expected = false;
  private icw3 = 0;
  private mode8086 = true;
  private autoEoi = false;
  private specialFullyNested = false;
  private rotateOnAutoEoi = false;
  private lowestPriority = 7;
  private readIsr = false;
  private pollPending = false;
  private specialMask = false;
  private elcr = 0;

  constructor(
    readonly name: string,
    /** Whether this chip's cascade lines come from slaves (a master) or it answers on one (a slave). */
    private readonly isMaster: boolean,
    /** Called after anything that may change the INT output, so the pair can propagate it. */
    private readonly changed: () => void,
  ) {}

  /** Requests the chip will present: latched edges, or the current level for level-sensed lines. */
  irr(): number {
    const level = this.levelTriggeredAll ? 0xff : this.elcr;
    return ((this.edgeRequests & ~level) | (this.inputLevels & level)) & 0xff;
  }
  inService(): number {
    return this.isr;
  }
  mask(): number {
    return this.imr;
  }
  get vectorOffset(): number {
    return this.vectorBase;
  }

  /** Drives input IRn. A rising edge latches a request; a falling edge withdraws it (datasheet:
   * "the IR input must remain high until the first INTA"), which is how spurious IR7 arises. */
  setInput(irq: number, high: boolean): void {
    const bit = 1 << irq;
    if (high) {
      if (!(this.inputLevels & bit)) this.edgeRequests |= bit;
      this.inputLevels |= bit;
    } else {
      this.inputLevels &= ~bit;
      this.edgeRequests &= ~bit;
    }
  }

  setElcr(levelLines: number): void {
    this.elcr = levelLines & 0xff;
  }
  getElcr(): number {
    return this.elcr;
  }

  /** Whether IRn is a cascade input (a master with a slave on it, ICW3). */
  isCascade(irq: number): boolean {
    return this.isMaster && !this.singleMode && ((this.icw3 >> irq) & 1) === 1;
  }

  private irqAtPriority(p: number): number {
    return (this.lowestPriority + 1 + p) & 7;
  }

  /**
   * The priority resolver: the highest-priority unmasked request not blocked by a level of equal or
   * higher priority in service, or -1. In special mask mode an in-service level that is masked
   * does not block; in special fully nested mode a cascade input may interrupt its own in-service
   * level, so a higher-priority slave request gets through (datasheet "Special Fully Nest Mode").
   */
  highestRequest(): number {
    const pending = this.irr() & ~this.imr;
    if (pending === 0) return -1;
    const blocking = this.specialMask ? this.isr & ~this.imr : this.isr;
    for (let p = 0; p < 8; p++) {
      const irq = this.irqAtPriority(p), bit = 1 << irq;
      const inService = (blocking & bit) !== 0;
      if ((pending & bit) && (!inService || (this.specialFullyNested && this.isCascade(irq)))) return irq;
      if (inService) return -1;
    }
    return -1;
  }

  /** The INT output pin. */
  interruptOutput(): boolean {
    return this.initStep === 'ready' && this.highestRequest() >= 0;
  }

  /**
   * The INTA sequence on this chip: sets the ISR bit (unless auto-EOI) and clears the request.
   * With no request left (it went away after INT was sampled) the chip answers IR7 without touching
   * the ISR: the spurious interrupt of the datasheet's "interrupt sequence", step 4.
   */
  acknowledge(): { irq: number; spurious: boolean } {
    const irq = this.highestRequest();
    if (irq < 0) return { irq: 7, spurious: true };
    const bit = 1 << irq;
    this.edgeRequests &= ~bit;
    if (!this.autoEoi) this.isr |= bit;
    else if (this.rotateOnAutoEoi) this.lowestPriority = irq;
    return { irq, spurious: false };
  }

  portRead(offset: number): number {
    if (offset & 1) return this.imr;
    if (this.pollPending) {
      // Poll command (OCW3 P=1): this read is the acknowledge; bit 7 = request, bits 2-0 = level.
      this.pollPending = false;
      const { irq, spurious } = this.acknowledge();
      this.changed();
      return spurious ? 0 : 0x80 | irq;
    }
    return this.readIsr ? this.isr : this.irr();
  }

  portWrite(offset: number, _size: number, value: number): void {
    value &= 0xff;
    if (offset & 1) this.writeData(value);
    else if (value & ICW1_INIT) this.writeIcw1(value);
    else if (value & OCW3_SELECT) this.writeOcw3(value);
    else this.writeOcw2(value);
    this.changed();
  }

  private writeIcw1(value: number): void {
    // Datasheet "Initialization Command Words": the edge sense is reset (a line already high must
    // fall and rise again), IMR cleared, IR7 lowest priority, special mask cleared, status read =
    // IRR, and ICW4 functions zeroed when IC4 = 0. The datasheet is silent on the ISR; we clear
    // it so a re-initialized controller never carries stale in-service levels.
    this.levelTriggeredAll = (value & ICW1_LTIM) !== 0;
    this.singleMode = (value & ICW1_SNGL) !== 0;
    this.icw4Expected = (value & ICW1_IC4) !== 0;
    this.edgeRequests = 0;
    this.imr = 0;
    this.isr = 0;
    this.lowestPriority = 7;
    this.specialMask = false;
    this.readIsr = false;
    this.pollPending = false;
    this.rotateOnAutoEoi = false;
    if (!this.icw4Expected) {
      this.mode8086 = false;
      this.autoEoi = false;
      this.specialFullyNested = false;
    }
    this.initStep = 'icw2';
  }

  private writeData(value: number): void {
    switch (this.initStep) {
      case 'ready':
        this.imr = value; // OCW1
        return;
      case 'icw2':
        // 8086 mode uses T7-T3; the low three bits of the vector are the IR number.
        this.vectorBase = value & 0xf8;
        this.initStep = !this.singleMode ? 'icw3' : this.icw4Expected ? 'icw4' : 'ready';
        return;
      case 'icw3':
        this.icw3 = value;
        this.initStep = this.icw4Expected ? 'icw4' : 'ready';
        return;
      case 'icw4':
        this.mode8086 = (value & ICW4_UPM) !== 0;
        this.autoEoi = (value & ICW4_AEOI) !== 0;
        this.specialFullyNested = (value & ICW4_SFNM) !== 0;
        this.initStep = 'ready';
        return;
    }
  }

  /** Clears the highest-priority in-service level (non-specific EOI); returns it or -1. */
  private clearHighestInService(): number {
    for (let p = 0; p < 8; p++) {
      const irq = this.irqAtPriority(p);
      if (this.isr & (1 << irq)) {
        this.isr &= ~(1 << irq);
        return irq;
      }
    }
    return -1;
  }

  private writeOcw2(value: number): void {
    const level = value & 7;
    switch (value & 0xe0) {
      case OCW2_NON_SPECIFIC_EOI:
        this.clearHighestInService();
        return;
      case OCW2_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        return;
      case OCW2_ROTATE_NON_SPECIFIC_EOI: {
        const irq = this.clearHighestInService();
        if (irq >= 0) this.lowestPriority = irq;
        return;
      }
      case OCW2_ROTATE_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        this.lowestPriority = level;
        return;
      case OCW2_SET_PRIORITY:
        this.lowestPriority = level;
        return;
      case OCW2_SET_ROTATE_AUTO_EOI:
        this.rotateOnAutoEoi = true;
        return;
      case OCW2_CLEAR_ROTATE_AUTO_EOI:
        this.rotateOnAutoEoi = false;
        return;
      default: // OCW2_NOP
    }
  }

  private writeOcw3(value: number): void {
    if (value & OCW3_ESMM) this.specialMask = (value & OCW3_SET_SPECIAL_MASK) !== 0;
    if (value & OCW3_READ_REGISTER) this.readIsr = (value & OCW3_READ_ISR) !== 0;
    // Poll overrides the register read for the next read only.
    if (value & OCW3_POLL) this.pollPending = true;
  }

  saveState(): Pic8259State {
    return {
      inputLevels: this.inputLevels, edgeRequests: this.edgeRequests, imr: this.imr, isr: this.isr,
      initStep: this.initStep, vectorBase: this.vectorBase, levelTriggeredAll: this.levelTriggeredAll,
      singleMode: this.singleMode, icw4Expected: this.icw4Expected, icw3: this.icw3,
      mode8086: this.mode8086, autoEoi: this.autoEoi, specialFullyNested: this.specialFullyNested,
      rotateOnAutoEoi: this.rotateOnAutoEoi, lowestPriority: this.lowestPriority, readIsr: this.readIsr,
      pollPending: this.pollPending, specialMask: this.specialMask, elcr: this.elcr,
    };
  }

  /** Validates a chip record without applying it, so the pair loads both chips or neither. */
  static readState(r: StateReader): Pic8259State {
    const s: Pic8259State = {
      inputLevels: r.uint('inputLevels', 0xff), edgeRequests: r.uint('edgeRequests', 0xff),
      imr: r.uint('imr', 0xff), isr: r.uint('isr', 0xff), initStep: r.oneOf('initStep', INIT_STEPS),
      vectorBase: r.uint('vectorBase', 0xf8), levelTriggeredAll: r.bool('levelTriggeredAll'),
      singleMode: r.bool('singleMode'), icw4Expected: r.bool('icw4Expected'), icw3: r.uint('icw3', 0xff),
      mode8086: r.bool('mode8086'), autoEoi: r.bool('autoEoi'), specialFullyNested: r.bool('specialFullyNested'),
      rotateOnAutoEoi: r.bool('rotateOnAutoEoi'), lowestPriority: r.uint('lowestPriority', 7),
      readIsr: r.bool('readIsr'), pollPending: r.bool('pollPending'), specialMask: r.bool('specialMask'),
      elcr: r.uint('elcr', 0xff),
    };
    r.end();
    return s;
  }

  applyState(s: Pic8259State): void {
    Object.assign(this, s);
  }
}

/** The ELCR pair at 0x4D0 (IRQ 0-7) and 0x4D1 (IRQ 8-15). */
class EdgeLevelControl implements PortDevice {
  readonly name = 'elcr';
  readonly dataWidth = 1;
  constructor(private readonly pair: PicPair) {}
  portRead(offset: number): number {
    return (offset & 1 ? this.pair.slave : this.pair.master).getElcr();
  }
  portWrite(offset: number, _size: number, value: number): void {
    this.pair.setElcr(offset & 1, value);
  }
}

/** IRQ 0, 1, 2 (timer, keyboard, cascade), 8 (RTC) and 13 (FPU) are always edge-triggered. */
const ELCR_WRITABLE = { master: 0xf8, slave: 0xde } as const;

export interface PicPairState {
  version: 1;
  master: Pic8259State;
  slave: Pic8259State;
  /** The INTR level last reported to listeners. */
  intr: boolean;
}

export class PicPair implements Snapshottable<PicPairState> {
  static readonly STATE_VERSION = 1;
  readonly master: Pic8259;
  readonly slave: Pic8259;
  readonly elcr: PortDevice;
  private readonly lines: IrqLine[] = [];
  private readonly intrListeners: ((asserted: boolean) => void)[] = [];
  private intr = false;

  constructor() {
    this.master = new Pic8259('pic8259 master', true, () => this.update());
    this.slave = new Pic8259('pic8259 slave', false, () => this.update());
    this.elcr = new EdgeLevelControl(this);
    for (let irq = 0; irq < 16; irq++) {
      const chip = irq < 8 ? this.master : this.slave, input = irq & 7;
      this.lines.push({
        setLevel: (high) => {
          chip.setInput(input, high);
          this.update();
        },
      });
    }
  }

  /** Maps the master, the slave and the ELCR at their PC/AT ports. */
  attach(bus: PortBus): void {
    bus.register(PIC_MASTER_BASE, 2, this.master);
    bus.register(PIC_SLAVE_BASE, 2, this.slave);
    bus.register(ELCR_BASE, 2, this.elcr);
  }

  /**
   * Programs the pair as a PC BIOS leaves it for a directly booted kernel: vectors 0x08 and 0x70,
   * edge-triggered, every line masked but the cascade. Uses the same ICW writes a BIOS makes.
   */
  initializeLikeBios(masterBase = 0x08, slaveBase = 0x70): void {
    const icw1 = ICW1_INIT | ICW1_IC4;
    this.master.portWrite(0, 1, icw1);
    this.master.portWrite(1, 1, masterBase);
    this.master.portWrite(1, 1, 1 << CASCADE_IRQ);
    this.master.portWrite(1, 1, ICW4_UPM);
    this.slave.portWrite(0, 1, icw1);
    this.slave.portWrite(1, 1, slaveBase);
    this.slave.portWrite(1, 1, CASCADE_IRQ);
    this.slave.portWrite(1, 1, ICW4_UPM);
    this.master.portWrite(1, 1, 0xff & ~(1 << CASCADE_IRQ));
    this.slave.portWrite(1, 1, 0xff);
  }

  /** The wire for ISA IRQ `irq` (0-15). IRQ 2 is the cascade and has no external wire. */
  irqLine(irq: number): IrqLine {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) throw new RangeError(`no IRQ ${irq} on a PIC pair`);
    if (irq === CASCADE_IRQ) throw new RangeError('IRQ 2 is the cascade input; ISA IRQ 2 devices use IRQ 9');
    return this.lines[irq]!;
  }

  setElcr(chip: 0 | 1 | number, value: number): void {
    if (chip === 0) this.master.setElcr(value & ELCR_WRITABLE.master);
    else this.slave.setElcr(value & ELCR_WRITABLE.slave);
    this.update();
  }

  /** The INTR pin of the CPU. */
  hasPendingInterrupt(): boolean {
    return this.master.interruptOutput();
  }

  /**
   * INTA: returns the vector and moves the request into service. A cascade level makes the slave
   * supply the vector; a request that vanished yields the spurious IR7 vector of whichever chip
   * lost it (IRQ 7, or IRQ 15 with the master's IR2 left in service, as the datasheet implies).
   */
  acknowledge(): number {
    const m = this.master.acknowledge();
    let vector: number;
    if (!m.spurious && this.master.isCascade(m.irq)) {
      const s = this.slave.acknowledge();
      vector = this.slave.vectorOffset | s.irq;
      // The INTA cycles end the slave's request on IR2: whatever is still pending on the slave
      // afterwards is a fresh edge, so a second slave request is not lost to the edge latch.
      this.master.setInput(CASCADE_IRQ, false);
    } else {
      vector = this.master.vectorOffset | m.irq;
    }
    this.update();
    return vector;
  }

  /** Calls `listener` whenever INTR changes (true when it rises). Returns an unsubscribe function. */
  onIntrChange(listener: (asserted: boolean) => void): () => void {
    this.intrListeners.push(listener);
    return () => {
      const at = this.intrListeners.indexOf(listener);
      if (at >= 0) this.intrListeners.splice(at, 1);
    };
  }

  /** Propagates the slave's INT to master IR2, then reports INTR changes. */
  private update(): void {
    this.master.setInput(CASCADE_IRQ, this.slave.interruptOutput());
    const intr = this.master.interruptOutput();
    if (intr !== this.intr) {
      this.intr = intr;
      for (const listener of [...this.intrListeners]) listener(intr);
    }
  }

  saveState(): PicPairState {
    return { version: 1, master: this.master.saveState(), slave: this.slave.saveState(), intr: this.intr };
  }

  loadState(state: unknown): void {
    const r = StateReader.open('pic8259 pair', state, PicPair.STATE_VERSION);
    const master = Pic8259.readState(r.nested('master'));
    const slave = Pic8259.readState(r.nested('slave'));
    const intr = r.bool('intr');
    r.end();
    this.master.applyState(master);
    this.slave.applyState(slave);
    this.intr = intr;
  }
}
