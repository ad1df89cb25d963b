/**
 * The 16550A UART (National PC16550D datasheet), as COM1 at 0x3F8 / IRQ4 or at any other port or
 * MMIO base: the model sees only register offsets.
 *
 * Transmit is instantaneous: a byte written to THR goes to the output sink at once, so THR and the
 * transmitter are always empty (THRE = TEMT = 1) and only the THRE *interrupt* has state.
 * Receive is paced at the programmed line rate in virtual time: bytes given to pushInput wait on
 * the "wire" and enter the receiver one character time apart, so the RCVR FIFO fills, overruns and
 * times out as on hardware. This makes the UART a TimedDevice.
 *
 * On a PC the chip's INTR pin reaches the PIC through a buffer enabled by the OUT2 pin (MCR bit
 * 3), and loopback forces OUT2 inactive, so loopback also silences the IRQ; `pcIrqWiring: false`
 * connects INTR directly instead, as boards with memory-mapped 16550s do.
 */
import type { AccessSize, IrqLine, MmioDevice, PortDevice, Snapshottable, TimedDevice, VirtualClock } from './device.js';
import { NO_DEADLINE, QUIET_DECLINED } from './device.js';
import { DeviceStateError, StateReader } from './state.js';

export const COM1_BASE = 0x3f8, COM1_IRQ = 4;
export const COM2_BASE = 0x2f8, COM2_IRQ = 3;
/** The PC's UART reference clock (1.8432 MHz), divided by 16 x the divisor latch for the baud rate. */
export const UART_CLOCK_HZ = 1_843_200;

/** Register offsets (before `registerShift`); DLAB selects DLL/DLM at 0 and 1. */
export const UART_RBR = 0, UART_THR = 0, UART_DLL = 0, UART_IER = 1, UART_DLM = 1, UART_IIR = 2, UART_FCR = 2,
  UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7;

export const IER_ERBFI = 0x01, IER_ETBEI = 0x02, IER_ELSI = 0x04, IER_EDSSI = 0x08;
/** IIR bit 0 is 0 when an interrupt is pending; bits 3-1 identify it; bits 7-6 mirror FCR0. */
export const IIR_NO_INTERRUPT = 0x01, IIR_RECEIVER_LINE_STATUS = 0x06, IIR_RECEIVED_DATA = 0x04,
  IIR_CHARACTER_TIMEOUT = 0x0c, IIR_THR_EMPTY = 0x02, IIR_MODEM_STATUS = 0x00, IIR_FIFOS_ENABLED = 0xc0;
export const FCR_FIFO_ENABLE = 0x01, FCR_RCVR_RESET = 0x02, FCR_XMIT_RESET = 0x04, FCR_DMA_MODE = 0x08;
export const LCR_DLAB = 0x80, LCR_PARITY_ENABLE = 0x08, LCR_STOP_BITS = 0x04;
export const MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
export const LSR_DR = 0x01, LSR_OE = 0x02, LSR_PE = 0x04, LSR_FE = 0x08, LSR_BI = 0x10, LSR_THRE = 0x20,
  LSR_TEMT = 0x40, LSR_RCVR_FIFO_ERROR = 0x80;
export const MSR_DCTS = 0x01, MSR_DDSR = 0x02, MSR_TERI = 0x04, MSR_DDCD = 0x08, MSR_CTS = 0x10, MSR_DSR = 0x20,
  MSR_RI = 0x40, MSR_DCD = 0x80;

const FIFO_DEPTH = 16;
/** RCVR trigger levels selected by FCR bits 7-6. */
const RCVR_TRIGGER_LEVELS = [1, 4, 8, 14] as const;
/** The character timeout fires after four character times without FIFO activity. */
const TIMEOUT_CHARACTERS = 4;

export interface Uart16550Options {
  clock: VirtualClock;
  irq: IrqLine;
  /** Receives each transmitted byte (outside loopback). */
  transmit: (byte: number) => void;
  /** log2 of the register stride: 0 for PC ports, 2 for 32-bit-spaced MMIO UARTs ("reg-shift"). */
  registerShift?: number;
  /** INTR gated by OUT2 and silenced in loopback, as on a PC (default true). */
  pcIrqWiring?: boolean;
  name?: string;
}

export interface Uart16550State {
  version: 1;
  ier: number;
  lcr: number;
  mcr: number;
  scr: number;
  divisor: number;
  fifoEnabled: boolean;
  rcvrTriggerLevel: number;
  /** The RCVR FIFO (or, with FIFOs off, the RBR as a one-entry queue), oldest first. */
  receiveFifo: number[];
  /** The last byte read from RBR (an empty RBR reads it again). */
  lastReceived: number;
  overrun: boolean;
  /** THRE interrupt source: set when THR empties or ETBEI is enabled, cleared by THR write or IIR read. */
  thrEmptyInterrupt: boolean;
  /** Last time a character entered or left the RCVR FIFO (for the character timeout). */
  lastReceiverActivityAt: number;
  /** MSR bits 3-0 (delta bits) and the modem input levels last seen (bits 7-4). */
  modemStatusDeltas: number;
  modemLines: number;
  /** The external modem inputs outside loopback (MSR bits 7-4). */
  externalModemInputs: number;
  /** Bytes on the wire not yet received, and the time the first of them completes. */
  wire: number[];
  nextArrivalAt: number;
  syncedTo: number;
  irqLevel: boolean;
}

const WIRE_LIMIT = 1 << 20;

export class Uart16550 implements PortDevice, MmioDevice, TimedDevice, Snapshottable<Uart16550State> {
  static readonly STATE_VERSION = 1;
  readonly name: string;
  readonly dataWidth: AccessSize;
  private readonly clock: VirtualClock;
  private readonly irq: IrqLine;
  private readonly transmit: (byte: number) => void;
  private readonly registerShift: number;
  private readonly pcIrqWiring: boolean;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private divisor = 12;
  private fifoEnabled = false;
  private rcvrTriggerLevel = 1;
  private receiveFifo: number[] = [];
  private lastReceived = 0;
  private overrun = false;
  private thrEmptyInterrupt = false;
  private lastReceiverActivityAt = 0;
  private modemStatusDeltas = 0;
  private modemLines = 0;
  /** A terminal is attached: CTS, DSR and DCD asserted. */
  private externalModemInputs = MSR_CTS | MSR_DSR | MSR_DCD;
  private wire: number[] = [];
  private nextArrivalAt = 0;
  private syncedTo = 0;
  private irqLevel = false;

  constructor(options: Uart16550Options) {
    this.clock = options.clock;
    this.irq = options.irq;
    this.transmit = options.transmit;
    this.registerShift = options.registerShift ?? 0;
    this.pcIrqWiring = options.pcIrqWiring ?? true;
    this.name = options.name ?? 'uart16550';
    this.dataWidth = this.registerShift >= 2 ? 4 : this.registerShift === 1 ? 2 : 1;
    this.reset();
  }

  /** Master reset (datasheet table "UART reset configuration"); the divisor latch is not reset. */
  reset(): void {
    this.ier = 0; this.lcr = 0; this.mcr = 0;
    this.fifoEnabled = false; this.rcvrTriggerLevel = 1; this.receiveFifo = [];
    this.overrun = false; this.thrEmptyInterrupt = false; this.modemStatusDeltas = 0;
    this.syncedTo = this.clock.now();
    this.lastReceiverActivityAt = this.syncedTo;
    this.modemLines = this.currentModemLines();
    this.updateIrq();
  }

  // ---- timing ----

  /** Virtual ns per character: start bit, 5-8 data bits, parity, 1 / 1.5 / 2 stop bits. */
  characterTime(): number {
    const dataBits = 5 + (this.lcr & 3);
    const stopBits = this.lcr & LCR_STOP_BITS ? (dataBits === 5 ? 1.5 : 2) : 1;
    const bits = 1 + dataBits + (this.lcr & LCR_PARITY_ENABLE ? 1 : 0) + stopBits;
    // A zero divisor is undefined in the datasheet; treat it as 65536 like the other latches here.
    const divisor = this.divisor === 0 ? 65536 : this.divisor;
    return Math.ceil((bits * 16 * divisor * 1e9) / UART_CLOCK_HZ);
  }

  private get loopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  private timeoutDeadline(): number {
    if (!this.fifoEnabled || this.receiveFifo.length === 0) return NO_DEADLINE;
    return this.lastReceiverActivityAt + TIMEOUT_CHARACTERS * this.characterTime();
  }

  nextDeadline(): number {
    let deadline = NO_DEADLINE;
    if (this.wire.length > 0 && !this.loopback) deadline = this.nextArrivalAt;
    const timeout = this.timeoutDeadline();
    if (timeout > this.syncedTo) deadline = Math.min(deadline, timeout);
    return deadline;
  }

  advanceTo(now: number): void {
    if (now < this.syncedTo) return;
    // In loopback the SIN pin is disconnected: bytes wait on the wire until loopback ends.
    while (this.wire.length > 0 && !this.loopback && this.nextArrivalAt <= now) {
      this.receive(this.wire.shift()!, this.nextArrivalAt);
      this.nextArrivalAt += this.characterTime();
    }
    this.syncedTo = now;
    this.updateIrq();
  }

  /** Queues bytes on the wire to the receiver (the CLI's stdin). */
  pushInput(bytes: Iterable<number>): void {
    this.advanceTo(this.clock.now());
    const wasIdle = this.wire.length === 0;
    for (const b of bytes) {
      if (this.wire.length >= WIRE_LIMIT) break;
      this.wire.push(b & 0xff);
    }
    if (wasIdle && this.wire.length > 0) this.nextArrivalAt = this.syncedTo + this.characterTime();
  }

  /** Bytes still on the wire (not yet in the receiver). */
  pendingInput(): number {
    return this.wire.length;
  }

  /** A character completes in the receiver shift register at time `at`. */
  private receive(byte: number, at: number): void {
    const capacity = this.fifoEnabled ? FIFO_DEPTH : 1;
    if (this.receiveFifo.length < capacity) {
      this.receiveFifo.push(byte);
    } else {
      // Overrun. FIFO mode: "the character in the shift register is overwritten, but it is not
      // transferred to the FIFO". Character mode: the new character overwrites RBR.
      this.overrun = true;
      if (!this.fifoEnabled) this.receiveFifo[0] = byte;
    }
    this.lastReceiverActivityAt = at;
  }

  // ---- interrupts ----

  /** The IIR identification (bits 3-0) of the highest-priority pending interrupt. */
  private interruptIdentification(): number {
    if ((this.ier & IER_ELSI) && this.overrun) return IIR_RECEIVER_LINE_STATUS;
    if (this.ier & IER_ERBFI) {
      const n = this.receiveFifo.length;
      if (n > 0 && n >= (this.fifoEnabled ? this.rcvrTriggerLevel : 1)) return IIR_RECEIVED_DATA;
      if (this.timeoutDeadline() <= this.syncedTo) return IIR_CHARACTER_TIMEOUT;
    }
    if ((this.ier & IER_ETBEI) && this.thrEmptyInterrupt) return IIR_THR_EMPTY;
    if ((this.ier & IER_EDSSI) && this.modemStatusDeltas) return IIR_MODEM_STATUS;
    return IIR_NO_INTERRUPT;
  }

  private updateIrq(): void {
    const pending = this.interruptIdentification() !== IIR_NO_INTERRUPT;
    const gated = this.pcIrqWiring && (!(this.mcr & MCR_OUT2) || this.loopback);
    const level = pending && !gated;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.setLevel(level);
    }
  }

  // ---- modem lines ----

  private currentModemLines(): number {
    if (!this.loopback) return this.externalModemInputs;
    // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (datasheet, MCR bit 4).
    const m = this.mcr;
    return (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) | (m & MCR_OUT1 ? MSR_RI : 0)
      | (m & MCR_OUT2 ? MSR_DCD : 0);
  }

  private updateModemLines(): void {
    const now = this.currentModemLines(), changed = now ^ this.modemLines;
    if (changed & MSR_CTS) this.modemStatusDeltas |= MSR_DCTS;
    if (changed & MSR_DSR) this.modemStatusDeltas |= MSR_DDSR;
    if (changed & MSR_DCD) this.modemStatusDeltas |= MSR_DDCD;
    // TERI is the trailing edge of RI only.
    if (changed & MSR_RI && !(now & MSR_RI)) this.modemStatusDeltas |= MSR_TERI;
    this.modemLines = now;
  }

  /** Sets the modem inputs a peer presents (MSR_CTS | MSR_DSR | MSR_RI | MSR_DCD). */
  setModemInputs(lines: number): void {
    this.advanceTo(this.clock.now());
    this.externalModemInputs = lines & 0xf0;
    this.updateModemLines();
    this.updateIrq();
  }

  // ---- registers ----

  private registerIndex(offset: number): number {
    // A mask, not `%`: V8 compiles an integer remainder to a division, a third of a port access.
    return (offset & ((1 << this.registerShift) - 1)) === 0 ? (offset >> this.registerShift) & 7 : -1;
  }

  readRegister(reg: number): number {
    this.advanceTo(this.clock.now());
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    let value: number;
    switch (reg) {
      case UART_RBR:
        if (dlab) return this.divisor & 0xff;
        if (this.receiveFifo.length > 0) {
          this.lastReceived = this.receiveFifo.shift()!;
          // Reading resets the character timeout (datasheet: "the timer is reset when the CPU
          // reads one character from the RCVR FIFO").
          this.lastReceiverActivityAt = this.syncedTo;
        }
        value = this.lastReceived;
        break;
      case UART_IER:
        return dlab ? this.divisor >> 8 : this.ier;
      case UART_IIR: {
        const id = this.interruptIdentification();
        // Reading IIR while THRE is the reported source clears it (datasheet table IV).
        if (id === IIR_THR_EMPTY) this.thrEmptyInterrupt = false;
        value = id | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
        break;
      }
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        value = (this.receiveFifo.length > 0 ? LSR_DR : 0) | (this.overrun ? LSR_OE : 0) | LSR_THRE | LSR_TEMT;
        this.overrun = false; // OE (and the other error bits) clear when LSR is read
        break;
      case UART_MSR:
        value = this.modemLines | this.modemStatusDeltas;
        this.modemStatusDeltas = 0;
        break;
      default: // UART_SCR
        return this.scr;
    }
    this.updateIrq();
    return value;
  }

  writeRegister(reg: number, value: number): void {
    this.advanceTo(this.clock.now());
    value &= 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (reg) {
      case UART_THR:
        if (dlab) {
          this.divisor = (this.divisor & 0xff00) | value;
          return;
        }
        this.transmitByte(value);
        break;
      case UART_IER: {
        if (dlab) {
          this.divisor = (this.divisor & 0xff) | (value << 8);
          return;
        }
        const enabledNow = value & 0x0f & ~this.ier;
        // Enabling ETBEI while THR is empty raises THRE at once; drivers start transmission so.
        if (enabledNow & IER_ETBEI) this.thrEmptyInterrupt = true;
        this.ier = value & 0x0f;
        break;
      }
      case UART_FCR:
        this.writeFcr(value);
        break;
      case UART_LCR:
        this.lcr = value;
        break;
      case UART_MCR: {
        const wasLoopback = this.loopback;
        this.mcr = value & 0x1f;
        if (wasLoopback && !this.loopback && this.wire.length > 0) {
          this.nextArrivalAt = Math.max(this.nextArrivalAt, this.syncedTo + this.characterTime());
        }
        this.updateModemLines();
        break;
      }
      case UART_LSR: case UART_MSR:
        return; // factory test / read-only
      default: // UART_SCR
        this.scr = value;
        return;
    }
    this.updateIrq();
  }

  private transmitByte(byte: number): void {
    // Writing THR clears the THRE interrupt; the byte leaves at once and THR is empty again. Drive
    // the line low in between so an edge-triggered PIC sees a fresh edge, as the real INTR pin does.
    this.thrEmptyInterrupt = false;
    this.updateIrq();
    if (this.loopback) this.receive(byte, this.syncedTo);
    else this.transmit(byte);
    this.thrEmptyInterrupt = true;
  }

  private writeFcr(value: number): void {
    const enable = (value & FCR_FIFO_ENABLE) !== 0;
    // Changing FCR0 clears both FIFOs; the other bits are only written while FCR0 is 1.
    if (enable !== this.fifoEnabled) {
      this.fifoEnabled = enable;
      this.receiveFifo = [];
    }
    if (!enable) return;
    if (value & FCR_RCVR_RESET) this.receiveFifo = [];
    this.rcvrTriggerLevel = RCVR_TRIGGER_LEVELS[value >> 6]!;
  }

  /**
   * Quiet reads (PortDevice.quietRead): the registers whose read changes nothing, in a state
   * that needs no time, given that no event of the UART's is due (its state is then what bringing
   * it up to now would make it). LSR while no error bit is set to clear (a polling driver's
   * loop), MSR while no delta is, RBR while the FIFO is empty, the divisor latch, IER, LCR, MCR,
   * SCR. IIR's read may clear the THRE interrupt: never quiet.
   */
  quietRead(offset: number, _size: AccessSize, _now: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (this.registerIndex(offset)) {
      case UART_RBR:
        return dlab ? this.divisor & 0xff : this.receiveFifo.length === 0 ? this.lastReceived : QUIET_DECLINED;
      case UART_IER:
        return dlab ? this.divisor >> 8 : this.ier;
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        return this.overrun ? QUIET_DECLINED : (this.receiveFifo.length > 0 ? LSR_DR : 0) | LSR_THRE | LSR_TEMT;
      case UART_MSR:
        return this.modemStatusDeltas !== 0 ? QUIET_DECLINED : this.modemLines;
      case UART_SCR:
        return this.scr;
      default: // IIR, and offsets between registers (registerShift)
        return QUIET_DECLINED;
    }
  }

  /**
   * Quiet writes (PortDevice.quietWrite): SCR, and THR while its byte only goes out: the THRE
   * interrupt disabled (its line stays as it is), not in loopback (the byte would arrive in the
   * receiver), the divisor latch not selected. A polling driver's output.
   */
  quietWrite(offset: number, _size: AccessSize, value: number): boolean {
    const reg = this.registerIndex(offset);
    if (reg === UART_SCR) {
      this.scr = value & 0xff;
      return true;
    }
    if (reg !== UART_THR || (this.ier & IER_ETBEI) !== 0 || (this.mcr & MCR_LOOP) !== 0 || (this.lcr & LCR_DLAB) !== 0) return false;
    this.transmit(value & 0xff);
    this.thrEmptyInterrupt = true; // as transmitByte leaves it: THR empty again
    return true;
  }

  portRead(offset: number, _size: AccessSize): number {
    const reg = this.registerIndex(offset);
    return reg < 0 ? 0 : this.readRegister(reg);
  }
  portWrite(offset: number, _size: AccessSize, value: number): void {
    const reg = this.registerIndex(offset);
    if (reg >= 0) this.writeRegister(reg, value);
  }
  mmioRead(offset: number, size: AccessSize): number {
    return this.portRead(offset, size);
  }
  mmioWrite(offset: number, size: AccessSize, value: number): void {
    this.portWrite(offset, size, value);
  }

  // ---- snapshots ----

  saveState(): Uart16550State {
    return {
      version: 1, ier: this.ier, lcr: this.lcr, mcr: this.mcr, scr: this.scr, divisor: this.divisor,
      fifoEnabled: this.fifoEnabled, rcvrTriggerLevel: this.rcvrTriggerLevel, receiveFifo: [...this.receiveFifo],
      lastReceived: this.lastReceived, overrun: this.overrun, thrEmptyInterrupt: this.thrEmptyInterrupt,
      lastReceiverActivityAt: this.lastReceiverActivityAt, modemStatusDeltas: this.modemStatusDeltas,
      modemLines: this.modemLines, externalModemInputs: this.externalModemInputs, wire: [...this.wire],
      nextArrivalAt: this.nextArrivalAt, syncedTo: this.syncedTo, irqLevel: this.irqLevel,
    };
  }

  loadState(state: unknown): void {
    const r = StateReader.open(this.name, state, Uart16550.STATE_VERSION);
    const s: Omit<Uart16550State, 'version'> = {
      ier: r.uint('ier', 0x0f), lcr: r.uint('lcr', 0xff), mcr: r.uint('mcr', 0x1f),
      scr: r.uint('scr', 0xff), divisor: r.uint('divisor', 0xffff), fifoEnabled: r.bool('fifoEnabled'),
      rcvrTriggerLevel: r.oneOf('rcvrTriggerLevel', RCVR_TRIGGER_LEVELS), receiveFifo: r.bytes('receiveFifo', FIFO_DEPTH),
      lastReceived: r.uint('lastReceived', 0xff), overrun: r.bool('overrun'), thrEmptyInterrupt: r.bool('thrEmptyInterrupt'),
      lastReceiverActivityAt: r.finite('lastReceiverActivityAt'), modemStatusDeltas: r.uint('modemStatusDeltas', 0x0f),
      modemLines: r.uint('modemLines', 0xf0), externalModemInputs: r.uint('externalModemInputs', 0xf0),
      wire: r.bytes('wire', WIRE_LIMIT), nextArrivalAt: r.finite('nextArrivalAt'), syncedTo: r.finite('syncedTo'),
      irqLevel: r.bool('irqLevel'),
    };
    r.end();
    if (!s.fifoEnabled && s.receiveFifo.length > 1) {
      throw new DeviceStateError(this.name, 'receiveFifo', 'holds more than one byte with the FIFOs disabled');
    }
    Object.assign(this, s);
  }
}
