/**
 * The small interfaces every device model is written against. The bare-metal board and the
 * hypervisor (one set of devices per VM) both build devices from these, so a device holds all of
 * its state itself and touches the outside world only through what it is given: an IrqLine, a
 * VirtualClock, and callbacks (output sinks, exit requests).
 *
 * Time is virtual: nanoseconds derived from executed instructions. No device reads Date or
 * performance; a timed device reports its next event with `nextDeadline()` and is brought up to a
 * time with `advanceTo(now)`, so the machine can run the CPU exactly up to the next event.
 */

/** Width in bytes of one I/O or MMIO access (IN/OUT AL, AX, EAX; MOV byte, word, dword). */
export type AccessSize = 1 | 2 | 4;

/**
 * A device on the I/O port bus. Offsets are relative to the base the device was registered at, so
 * one model serves any base (COM1 at 0x3F8, COM2 at 0x2F8).
 */
export interface PortDevice {
  /** Shown in bus errors and traces. */
  readonly name: string;
  /**
   * Widest access the device decodes in one cycle. The bus splits wider accesses into pieces of
   * this width, low address first, as the AT bus controller splits a 16-bit cycle to an 8-bit card.
   */
  readonly dataWidth: AccessSize;
  portRead(offset: number, size: AccessSize): number;
  portWrite(offset: number, size: AccessSize, value: number): void;
  /**
   * Quiet accesses (optional): the accesses that, in the device's present state, change no
   * interrupt line, bring no event forward or back (nextDeadline stays) and stop nothing, called
   * while none of the device's events is due. A hypervisor may complete those without bringing
   * the device up to the present first, and without looking again at its interrupt lines and
   * deadlines after (Hypervisor.inlineIn, inlineOut): the polling loop's status read, the
   * scratch register. `quietRead` returns what `portRead` would at virtual time `now` (what the
   * device's clock reads then; a device whose registers follow the clock computes from it), or
   * QUIET_DECLINED when the read is not quiet now, and changes nothing in the device either
   * way. `quietWrite` does what `portWrite` would and returns true, or returns false with nothing
   * done. Within the device's range and dataWidth only (the bus checks both).
   */
  quietRead?(offset: number, size: AccessSize, now: number): number;
  quietWrite?(offset: number, size: AccessSize, value: number): boolean;
}

/** What `quietRead` answers when the read is not quiet (no value read is negative). */
export const QUIET_DECLINED = -1;

/** A device on the memory-mapped bus; offsets are relative to the start of its window. */
export interface MmioDevice {
  readonly name: string;
  readonly dataWidth: AccessSize;
  mmioRead(offset: number, size: AccessSize): number;
  mmioWrite(offset: number, size: AccessSize, value: number): void;
}

/**
 * One interrupt request wire, driven by a device and sensed by an interrupt controller. The device
 * only drives a level; whether the controller latches edges or senses levels is the controller's
 * business (8259A: ICW1.LTIM and the ELCR).
 */
export interface IrqLine {
  setLevel(high: boolean): void;
}

/** A wire connected to nothing (a device whose interrupt output is not routed anywhere). */
export const UNCONNECTED_IRQ: IrqLine = { setLevel: () => {} };

/** The machine's virtual time, in nanoseconds. Monotonic; never the wall clock. */
export interface VirtualClock {
  now(): number;
}

/** Marks "no event scheduled" in `nextDeadline()`. */
export const NO_DEADLINE = Infinity;

/**
 * A device with events in time (timer edges, received characters). The machine runs the CPU up to
 * min(nextDeadline()) over its devices, then calls advanceTo(now) on each. Any port or MMIO access
 * and any input may change the deadline, so the machine asks again before each run slice.
 */
export interface TimedDevice {
  /** Virtual ns of the next event that may change an output line, or NO_DEADLINE. */
  nextDeadline(): number;
  /** Performs every event due at or before `now` (virtual ns). Calls with an earlier time are ignored. */
  advanceTo(now: number): void;
}

/** Named, versioned device state (Firecracker's Persist): plain JSON-safe data, never positional arrays. */
export interface DeviceState {
  readonly version: number;
}

/**
 * Snapshots and live migration. `saveState` returns a fresh plain object; `loadState` validates the
 * version and every field first (throwing DeviceStateError and leaving the device untouched on any
 * mismatch), then replaces the device's state. Wiring (lines, clock, sinks) is not state: the
 * destination device is built with its own. A device's state records the level it last drove on
 * its lines and the PIC's records its inputs, so a machine restores all its devices together and
 * loadState does not drive the lines again.
 */
export interface Snapshottable<S extends DeviceState> {
  saveState(): S;
  loadState(state: unknown): void;
}
