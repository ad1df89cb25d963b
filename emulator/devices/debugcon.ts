/**
 * The Bochs/QEMU debug console ("port E9 hack"): each byte written to port 0xE9 goes to a sink;
 * a read returns 0xE9, which is how a guest detects that the port is there.
 */
import type { AccessSize, PortDevice, Snapshottable } from './device.js';
import { StateReader } from './state.js';

export const DEBUGCON_PORT = 0xe9;
const PRESENCE_VALUE = 0xe9;

export interface DebugconState {
  version: 1;
  bytesWritten: number;
}

export class Debugcon implements PortDevice, Snapshottable<DebugconState> {
  static readonly STATE_VERSION = 1;
  readonly name = 'debugcon';
  readonly dataWidth = 1;
  private bytesWritten = 0;

  constructor(private readonly output: (byte: number) => void) {}

  /** How many bytes the guest has written (for traces and tests). */
  get written(): number {
    return this.bytesWritten;
  }

  portRead(): number {
    return PRESENCE_VALUE;
  }

  portWrite(_offset: number, _size: AccessSize, value: number): void {
    this.bytesWritten++;
    this.output(value & 0xff);
  }

  saveState(): DebugconState {
    return { version: 1, bytesWritten: this.bytesWritten };
  }

  loadState(state: unknown): void {
    const r = StateReader.open(this.name, state, Debugcon.STATE_VERSION);
    const bytesWritten = r.uint('bytesWritten', Number.MAX_SAFE_INTEGER);
    r.end();
    this.bytesWritten = bytesWritten;
  }
}
