/**
 * System control port B at 0x61 (PC/AT; "NMI status and control" on later chipsets): bit 0 drives
 * GATE of PIT counter 2, bit 1 enables the speaker, bits 2-3 disable parity/channel-check NMIs.
 * Reads add bit 4, the DRAM refresh request toggling every 15.085 us (BIOS delay loops count its
 * flips), and bit 5, OUT of counter 2 (Linux polls it to calibrate the TSC against the PIT).
 */
import { QUIET_DECLINED, type AccessSize, type PortDevice, type Snapshottable, type VirtualClock } from './device.js';
import type { Pit8254 } from './pit8254.js';
import { StateReader } from './state.js';

export const SYSTEM_CONTROL_PORT_B = 0x61;
export const PORTB_TIMER2_GATE = 0x01, PORTB_SPEAKER_DATA = 0x02, PORTB_REFRESH_TOGGLE = 0x10,
  PORTB_TIMER2_OUT = 0x20;
/** Refresh requests come from PIT counter 1 in mode 2 with count 18: 18 / 1.193182 MHz. */
const REFRESH_PERIOD_NS = 15_085;
const WRITABLE = 0x0f;

export interface SystemControlPortState {
  version: 1;
  control: number;
}

export class SystemControlPort implements PortDevice, Snapshottable<SystemControlPortState> {
  static readonly STATE_VERSION = 1;
  readonly name = 'system-control-port-b';
  readonly dataWidth = 1;
  private control = 0;

  constructor(private readonly pit: Pit8254, private readonly clock: VirtualClock) {}

  portRead(): number {
    const now = this.clock.now(); // read once: a clock read is not free
    const refresh = Math.floor(now / REFRESH_PERIOD_NS) & 1 ? PORTB_REFRESH_TOGGLE : 0;
    return this.control | refresh | (this.pit.outputLevel(2, now) ? PORTB_TIMER2_OUT : 0);
  }

  /**
   * A quiet read (PortDevice.quietRead): the same bits at `now`, unless the PIT's counter 2 has a
   * reload pending (it needs a sync). A delay or calibration loop's poll.
   */
  quietRead(_offset: number, _size: AccessSize, now: number): number {
    const out2 = this.pit.quietOutputLevel(2, now);
    if (out2 < 0) return QUIET_DECLINED;
    const refresh = Math.floor(now / REFRESH_PERIOD_NS) & 1 ? PORTB_REFRESH_TOGGLE : 0;
    return this.control | refresh | (out2 ? PORTB_TIMER2_OUT : 0);
  }

  portWrite(_offset: number, _size: AccessSize, value: number): void {
    this.control = value & WRITABLE;
    this.pit.setGate(2, (value & PORTB_TIMER2_GATE) !== 0);
  }

  saveState(): SystemControlPortState {
    return { version: 1, control: this.control };
  }

  /** The PIT's own state carries GATE 2; this restores only the latch. */
  loadState(state: unknown): void {
    const r = StateReader.open(this.name, state, SystemControlPort.STATE_VERSION);
    const control = r.uint('control', WRITABLE);
    r.end();
    this.control = control;
  }
}
