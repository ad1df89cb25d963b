/**
 * QEMU's isa-debug-exit (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`): a write of n asks the
 * machine to stop with exit status (n << 1) | 1, so a guest's status is always odd and cannot be
 * mistaken for the emulator's own 0. The whole access is one value (dataWidth 4): `out dx, ax`
 * with AX = 0x1234 reports 0x1234, not its low byte.
 */
import type { AccessSize, PortDevice, Snapshottable } from './device.js';
import { StateReader } from './state.js';

export const DEBUG_EXIT_BASE = 0xf4;
export const DEBUG_EXIT_SIZE = 4;

export interface DebugExitState {
  version: 1;
  /** The status requested by the last write, or null if the guest has not asked to exit. */
  requestedStatus: number | null;
}

export class DebugExit implements PortDevice, Snapshottable<DebugExitState> {
  static readonly STATE_VERSION = 1;
  readonly name = 'isa-debug-exit';
  readonly dataWidth = 4;
  private requestedStatus: number | null = null;

  /** `requestExit` is the machine's: it stops the run loop and reports the status. */
  constructor(private readonly requestExit: (status: number) => void) {}

  /** The status of the last exit request, or null. */
  get status(): number | null {
    return this.requestedStatus;
  }

  portRead(): number {
    return 0;
  }

  portWrite(_offset: number, _size: AccessSize, value: number): void {
    // 32 bits of status, as the value QEMU passes to exit(); the OS keeps the low 8 bits.
    const status = ((value << 1) | 1) >>> 0;
    this.requestedStatus = status;
    this.requestExit(status);
  }

  saveState(): DebugExitState {
    return { version: 1, requestedStatus: this.requestedStatus };
  }

  loadState(state: unknown): void {
    const r = StateReader.open(this.name, state, DebugExit.STATE_VERSION);
    const requestedStatus = r.optionalUint('requestedStatus', 0xffffffff);
    r.end();
    this.requestedStatus = requestedStatus;
  }
}
