/**
 * A VMCS region in host-physical memory (Intel SDM Vol. 3C 25.2): the revision identifier at
 * offset 0, the VMX-abort indicator at 4, then this processor's own layout: the launch state at
 * 8 and one 8-byte slot per supported field from offset 16 (fields.ts). VMREAD and VMWRITE, VM
 * entry and VM exit all read and write the region itself, so a debugger or a snapshot sees
 * exactly what the processor uses.
 */
import type { PhysicalMemory } from '../cpu/memory.js';
import { lookupField, type FieldInfo } from './fields.js';

export const VMCS_SIZE = 4096;
const LAUNCH_STATE_OFFSET = 8;
export const LaunchState = { CLEAR: 0, LAUNCHED: 1 } as const;

const mask = (f: FieldInfo, v: number): number => (f.width === 16 ? v & 0xffff : v >>> 0);

/** Typed access to one VMCS region at a host-physical address. */
export class VmcsRegion {
  constructor(private readonly mem: PhysicalMemory, readonly address: number) {}

  get revision(): number {
    return this.mem.read32(this.address) >>> 0;
  }
  get launchState(): number {
    return this.mem.read32(this.address + LAUNCH_STATE_OFFSET);
  }
  set launchState(v: number) {
    this.mem.write32(this.address + LAUNCH_STATE_OFFSET, v);
  }
  set abortIndicator(v: number) {
    this.mem.write32(this.address + 4, v);
  }

  /** A field by encoding (low 32 bits of 64-bit fields), or 0 for an unsupported encoding. */
  read(encoding: number): number {
    const f = lookupField(encoding);
    if (!f) return 0;
    return mask(f.field, this.mem.read32(this.address + f.field.offset + (f.high ? 4 : 0)));
  }

  /** A 64-bit field (or any field, zero-extended) as a bigint. */
  read64(encoding: number): bigint {
    const f = lookupField(encoding);
    if (!f) return 0n;
    const lo = BigInt(this.mem.read32(this.address + f.field.offset) >>> 0);
    const hi = f.field.width === 64 ? BigInt(this.mem.read32(this.address + f.field.offset + 4) >>> 0) : 0n;
    return (hi << 32n) | lo;
  }

  /**
   * Writes a field as VMWRITE does from 32-bit code: the value is truncated to the field's width;
   * writing the full encoding of a 64-bit field clears its upper half.
   */
  write(encoding: number, value: number): void {
    const f = lookupField(encoding);
    if (!f) return;
    const at = this.address + f.field.offset;
    if (f.high) { this.mem.write32(at + 4, value); return; }
    this.mem.write32(at, mask(f.field, value));
    this.mem.write32(at + 4, 0);
  }

  write64(encoding: number, value: bigint): void {
    const f = lookupField(encoding);
    if (!f) return;
    const at = this.address + f.field.offset;
    this.mem.write32(at, Number(value & 0xffffffffn));
    this.mem.write32(at + 4, f.field.width === 64 ? Number((value >> 32n) & 0xffffffffn) : 0);
  }
}
