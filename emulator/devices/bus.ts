/**
 * The port I/O bus and the MMIO bus: devices registered on address ranges (Firecracker's Bus).
 *
 * - Overlapping ranges are refused with a BusOverlapError naming both devices.
 * - An access wider than the device's dataWidth, or running past the end of its range, is split in
 *   halves, low address first, and each half is routed again: a 16-bit IN from an 8-bit device is
 *   two byte cycles, as the AT bus controller performs them.
 * - Unmapped reads return all ones for the access size (nothing drives the ISA data bus, whose
 *   pull-ups read 0xFF); unmapped writes are ignored. Both are counted per address for --trace-io.
 */
import { QUIET_DECLINED, type AccessSize, type MmioDevice, type PortDevice } from './device.js';

/** One registered range [base, base + length). */
export interface BusMapping<D> {
  readonly base: number;
  readonly length: number;
  readonly device: D;
}

interface Named {
  readonly name: string;
  readonly dataWidth: AccessSize;
}

export class BusOverlapError extends Error {
  constructor(
    readonly bus: string,
    readonly wanted: BusMapping<Named>,
    readonly existing: BusMapping<Named>,
  ) {
    super(`${bus}: cannot map ${wanted.device.name} at ${describeRange(wanted)}: `
      + `overlaps ${existing.device.name} at ${describeRange(existing)}`);
    this.name = 'BusOverlapError';
  }
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function describeRange(m: BusMapping<unknown>): string {
  return `${hex(m.base)}-${hex(m.base + m.length - 1)}`;
}

const ALL_ONES: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

function mask(value: number, size: AccessSize): number {
  return size === 4 ? value >>> 0 : value & ALL_ONES[size];
}

/** The range bookkeeping and access routing shared by the port and MMIO buses. */
abstract class RangeBus<D extends Named> {
  /** Sorted by base; ranges never overlap. */
  private readonly mappings: BusMapping<D>[] = [];
  private readonly unmappedReadCounts = new Map<number, number>();
  private readonly unmappedWriteCounts = new Map<number, number>();

  protected constructor(
    private readonly busName: string,
    /** Size of the address space: accesses wrap around at this boundary. */
    private readonly space: number,
  ) {}

  protected abstract deviceRead(device: D, offset: number, size: AccessSize): number;
  protected abstract deviceWrite(device: D, offset: number, size: AccessSize, value: number): void;

  /** Maps `device` at [base, base + length). Throws BusOverlapError if any address is taken. */
  register(base: number, length: number, device: D): void {
    if (!Number.isInteger(base) || !Number.isInteger(length) || length <= 0 || base < 0
      || base + length > this.space) {
      throw new RangeError(`${this.busName}: invalid range for ${device.name}: base ${hex(base)}, length ${length}`);
    }
    const wanted: BusMapping<D> = { base, length, device };
    const clash = this.mappings.find((m) => m.base < base + length && base < m.base + m.length);
    if (clash) throw new BusOverlapError(this.busName, wanted, clash);
    const at = this.mappings.findIndex((m) => m.base > base);
    this.mappings.splice(at < 0 ? this.mappings.length : at, 0, wanted);
    this.lastFound = null;
  }

  /** Removes the mapping that starts at `base` (hot-unplug, tests). Returns whether there was one. */
  unregister(base: number): boolean {
    const at = this.mappings.findIndex((m) => m.base === base);
    if (at >= 0) this.mappings.splice(at, 1);
    this.lastFound = null;
    return at >= 0;
  }

  /** The mapping containing `address`, if any. */
  find(address: number): BusMapping<D> | undefined {
    let lo = 0, hi = this.mappings.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = this.mappings[mid]!;
      if (address < m.base) hi = mid - 1;
      else if (address >= m.base + m.length) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /** The mapping `findWhole` found last (null after the map changes). */
  private lastFound: BusMapping<D> | null = null;

  /**
   * The mapping an access of `size` at `address` goes to whole, in one cycle of its device (within
   * its range and dataWidth), or null. Asks the mapping it found last first: a driver accesses
   * one device's registers again and again.
   */
  protected findWhole(address: number, size: AccessSize): BusMapping<D> | null {
    let m = this.lastFound;
    if (m === null || address < m.base || address >= m.base + m.length) {
      m = this.find(address) ?? null;
      if (m === null) return null;
      this.lastFound = m;
    }
    return size <= m.device.dataWidth && address + size <= m.base + m.length ? m : null;
  }

  /** Every mapping, lowest base first. */
  list(): readonly BusMapping<D>[] {
    return this.mappings;
  }

  /** Unmapped reads and writes, per starting address (for --trace-io). */
  unmappedReads(): ReadonlyMap<number, number> {
    return this.unmappedReadCounts;
  }
  unmappedWrites(): ReadonlyMap<number, number> {
    return this.unmappedWriteCounts;
  }

  private touchesAnyDevice(address: number, size: number): boolean {
    for (let i = 0; i < size; i++) if (this.find((address + i) % this.space)) return true;
    return false;
  }

  protected read(address: number, size: AccessSize): number {
    const m = this.findWhole(address, size);
    if (m !== null) return mask(this.deviceRead(m.device, address - m.base, size), size);
    if (size === 1 || !this.touchesAnyDevice(address, size)) {
      this.unmappedReadCounts.set(address, (this.unmappedReadCounts.get(address) ?? 0) + 1);
      return ALL_ONES[size];
    }
    const half = (size >> 1) as AccessSize;
    const low = this.read(address, half);
    const high = this.read((address + half) % this.space, half);
    return (low + high * 2 ** (8 * half)) >>> 0;
  }

  protected write(address: number, size: AccessSize, value: number): void {
    const m = this.findWhole(address, size);
    if (m !== null) {
      this.deviceWrite(m.device, address - m.base, size, mask(value, size));
      return;
    }
    if (size === 1 || !this.touchesAnyDevice(address, size)) {
      this.unmappedWriteCounts.set(address, (this.unmappedWriteCounts.get(address) ?? 0) + 1);
      return;
    }
    const half = (size >> 1) as AccessSize;
    const v = mask(value, size);
    this.write(address, half, v & ALL_ONES[half]);
    this.write((address + half) % this.space, half, Math.floor(v / 2 ** (8 * half)));
  }
}

/** The 64 KiB I/O port space. Implements the CPU's IoBus (portRead/portWrite by absolute port). */
export class PortBus extends RangeBus<PortDevice> {
  constructor(name = 'port bus') {
    super(name, 0x10000);
  }
  protected deviceRead(device: PortDevice, offset: number, size: AccessSize): number {
    return device.portRead(offset, size);
  }
  protected deviceWrite(device: PortDevice, offset: number, size: AccessSize, value: number): void {
    device.portWrite(offset, size, value);
  }
  portRead(port: number, size: AccessSize): number {
    return this.read(port & 0xffff, size);
  }
  portWrite(port: number, size: AccessSize, value: number): void {
    this.write(port & 0xffff, size, value);
  }
  /**
   * A quiet read (PortDevice.quietRead) at a port, 0-0xFFFF, at virtual time `now`: the value, or
   * QUIET_DECLINED when the device declines, has no quiet accesses, or the access is not one cycle
   * of one device.
   */
  quietRead(port: number, size: AccessSize, now: number): number {
    const m = this.findWhole(port, size);
    return m === null || m.device.quietRead === undefined ? QUIET_DECLINED : m.device.quietRead(port - m.base, size, now);
  }
  /** A quiet write (PortDevice.quietWrite) at a port, 0-0xFFFF: false, with nothing done, as quietRead declines. */
  quietWrite(port: number, size: AccessSize, value: number): boolean {
    const m = this.findWhole(port, size);
    return m !== null && m.device.quietWrite !== undefined && m.device.quietWrite(port - m.base, size, mask(value, size));
  }
}

/** Memory-mapped device windows in a 32-bit physical (or guest-physical) address space. */
export class MmioBus extends RangeBus<MmioDevice> {
  constructor(name = 'mmio bus') {
    super(name, 2 ** 32);
  }
  protected deviceRead(device: MmioDevice, offset: number, size: AccessSize): number {
    return device.mmioRead(offset, size);
  }
  protected deviceWrite(device: MmioDevice, offset: number, size: AccessSize, value: number): void {
    device.mmioWrite(offset, size, value);
  }
  mmioRead(address: number, size: AccessSize): number {
    return this.read(address >>> 0, size);
  }
  mmioWrite(address: number, size: AccessSize, value: number): void {
    this.write(address >>> 0, size, value);
  }
}
