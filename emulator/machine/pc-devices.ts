/**
 * The devices of a PC, wired together on one port bus: 8259 PIC pair (0x20, 0xA0), 8254 PIT
 * (0x40, IRQ0), port B (0x61), 16550 UART on COM1 (0x3F8, IRQ4) and QEMU's isa-debug-exit
 * (0xF4). The bare machine has one set; under the hypervisor every VM has its own, on its own
 * clock, so both run the same device code.
 */
import {
  COM1_BASE, COM1_IRQ, DEBUG_EXIT_BASE, DEBUG_EXIT_SIZE, DebugExit, ELCR_BASE, PIC_MASTER_BASE, PIC_SLAVE_BASE, PicPair,
  Pit8254, PIT_BASE, PIT_IRQ, PortBus, SYSTEM_CONTROL_PORT_B, SystemControlPort, Uart16550, type VirtualClock,
} from '../devices/index.js';

export interface PcDevicesOptions {
  clock: VirtualClock;
  /** Bytes the guest transmits on COM1. */
  serialOut?: (byte: number) => void;
  /** The guest wrote to isa-debug-exit: status is (n << 1) | 1. */
  onExit: (status: number) => void;
}

export class PcDevices {
  readonly ports = new PortBus();
  readonly pic = new PicPair();
  readonly pit: Pit8254;
  readonly uart: Uart16550;
  readonly portB: SystemControlPort;
  readonly debugExit: DebugExit;
  readonly clock: VirtualClock;

  constructor(options: PcDevicesOptions) {
    this.clock = options.clock;
    this.pic.attach(this.ports);
    this.pit = new Pit8254({ clock: this.clock, irq0: this.pic.irqLine(PIT_IRQ) });
    this.uart = new Uart16550({ clock: this.clock, irq: this.pic.irqLine(COM1_IRQ), transmit: options.serialOut ?? (() => {}) });
    this.portB = new SystemControlPort(this.pit, this.clock);
    this.debugExit = new DebugExit(options.onExit);
    this.ports.register(PIT_BASE, 4, this.pit);
    this.ports.register(COM1_BASE, 8, this.uart);
    this.ports.register(SYSTEM_CONTROL_PORT_B, 1, this.portB);
    this.ports.register(DEBUG_EXIT_BASE, DEBUG_EXIT_SIZE, this.debugExit);
  }

  /** The earliest pending device event (virtual ns), or Infinity. */
  nextDeadline(): number {
    return Math.min(this.pit.nextDeadline(), this.uart.nextDeadline());
  }

  /**
   * Whether an access to ports [port, port + size) must find every device synced. The PIT, the
   * UART and port B (through the PIT) bring themselves up to the clock before each access; the
   * PIC has no clock, and what it reports comes from the others' interrupt lines.
   */
  accessNeedsSync(port: number, size: number): boolean {
    for (let p = port; p < port + size; p++) {
      const pair = p & ~1;
      if (pair === PIC_MASTER_BASE || pair === PIC_SLAVE_BASE || pair === ELCR_BASE) return true;
    }
    return false;
  }

  /** Performs every device event due by the clock's now (`now`: what the clock reads now, when the caller has it). */
  sync(now = this.clock.now()): void {
    this.pit.advanceTo(now);
    this.uart.advanceTo(now);
  }
}
