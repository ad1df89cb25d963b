/**
 * The POST diagnostic port (0x80): firmware and self-checking guests (test386.asm) write progress
 * codes here, which a POST card shows on its display. We keep the latest code and a bounded
 * history; a read returns the latest code, as latching POST cards do.
 */
import type { AccessSize, PortDevice, Snapshottable } from './device.js';
import { StateReader } from './state.js';

export const POST_CODE_PORT = 0x80;
/** Codes kept in the history; older ones are dropped. */
export const POST_CODE_HISTORY = 256;

export interface PostCodeState {
  version: 1;
  lastCode: number | null;
  history: number[];
}

export class PostCodePort implements PortDevice, Snapshottable<PostCodeState> {
  static readonly STATE_VERSION = 1;
  readonly name = 'post-code';
  readonly dataWidth = 1;
  private lastCode: number | null = null;
  private codes: number[] = [];

  /** `onCode` lets a tracer print codes as they arrive. */
  constructor(private readonly onCode: (code: number) => void = () => {}) {}

  get latest(): number | null {
    return this.lastCode;
  }
  /** The most recent codes, oldest first. */
  history(): readonly number[] {
    return this.codes;
  }

  portRead(): number {
    return this.lastCode ?? 0xff;
  }

  portWrite(_offset: number, _size: AccessSize, value: number): void {
    const code = value & 0xff;
    this.lastCode = code;
    this.codes.push(code);
    if (this.codes.length > POST_CODE_HISTORY) this.codes.shift();
    this.onCode(code);
  }

  saveState(): PostCodeState {
    return { version: 1, lastCode: this.lastCode, history: [...this.codes] };
  }

  loadState(state: unknown): void {
    const r = StateReader.open(this.name, state, PostCodePort.STATE_VERSION);
    const lastCode = r.optionalUint('lastCode', 0xff);
    const history = r.bytes('history', POST_CODE_HISTORY);
    r.end();
    this.lastCode = lastCode;
    this.codes = history;
  }
}
