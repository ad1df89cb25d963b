/**
 * A VMCS region in host-physical memory (Intel SDM Vol. 3C 25.2): the revision identifier at
 * offset 0, the VMX-abort indicator at 4, then this processor's own layout: the launch state at
 * 8, at 12 the entry checks verified and the processor's copies still good since the fields
 * they read were last changed (fields.ts, EntryCheck and HeldByProcessor), and one 8-byte slot
 * per supported field from offset 16 (fields.ts). VMREAD and VMWRITE, VM entry and VM exit all
 * read and write the region itself (an exit saves the whole guest state before it returns), so a
 * debugger or a snapshot sees exactly what the processor uses.
 */
import type { PhysicalMemory } from '../cpu/memory.js';
import { PAGE_MASK, PAGE_SHIFT } from '../cpu/memory.js';
import { FIELD_16_BIT, FIELD_64_BIT, FIELD_CHECKS, FIELD_WORDS, lookupField } from './fields.js';

export const VMCS_SIZE = 4096;
const LAUNCH_STATE_OFFSET = 8;
const VERIFIED_OFFSET = 12;
export const LaunchState = { CLEAR: 0, LAUNCHED: 1 } as const;

/**
 * Typed access to one VMCS region at a host-physical address. VM entry and exit touch about a
 * hundred fields each, so a region in writable RAM (every one a hypervisor sets up) is read and
 * written as 32-bit words of the shared memory directly, without the general physical-memory path.
 */
export class VmcsRegion {
  private readonly i32: Int32Array | null;
  /** Index of the region's first word in `i32`. */
  private readonly word: number;

  constructor(private readonly mem: PhysicalMemory, readonly address: number) {
    const direct = address % 4 === 0 && mem.isWritableRam(address) && mem.isWritableRam(address + VMCS_SIZE - 1);
    this.i32 = direct ? mem.i32 : null;
    this.word = address >>> 2;
  }

  private load32(offset: number): number {
    return this.i32 !== null ? this.i32[this.word + (offset >>> 2)]! : this.mem.read32(this.address + offset);
  }

  private store32(offset: number, value: number): void {
    if (this.i32 === null) { this.mem.write32(this.address + offset, value); return; }
    this.i32[this.word + (offset >>> 2)] = value;
    // Like any store: code decoded from the page is stale now.
    const at = this.address + offset, page = at >>> PAGE_SHIFT;
    if (this.mem.codePages[page]) this.mem.onCodeWrite(page, at & PAGE_MASK, 4);
  }

  /**
   * The region's words when it lies in writable RAM (else null), and the index there of its first
   * word: VM exits compare the saved state with the fields in place (fields.ts, slotWord).
   */
  get words(): Int32Array | null {
    return this.i32;
  }
  get firstWord(): number {
    return this.word;
  }

  get revision(): number {
    return this.load32(0) >>> 0;
  }
  get launchState(): number {
    return this.load32(LAUNCH_STATE_OFFSET);
  }
  set launchState(v: number) {
    this.store32(LAUNCH_STATE_OFFSET, v);
  }
  set abortIndicator(v: number) {
    this.store32(4, v);
  }

  /**
   * EntryCheck groups that passed at a VM entry and whose fields have not been written since
   * (VMCLEAR and VMPTRLD forget them all).
   */
  get verifiedChecks(): number {
    return this.load32(VERIFIED_OFFSET);
  }
  set verifiedChecks(v: number) {
    this.store32(VERIFIED_OFFSET, v);
  }

  /** A field by encoding (low 32 bits of 64-bit fields), or 0 for an unsupported encoding. */
  read(encoding: number): number {
    const w = encoding >>> 0 > 0x7fff ? -1 : FIELD_WORDS[encoding]!;
    if (w < 0) return 0;
    const v = this.load32(w >> 2);
    return w & FIELD_16_BIT ? v & 0xffff : v >>> 0;
  }

  /** A 64-bit field (or any field, zero-extended) as a bigint. */
  read64(encoding: number): bigint {
    const f = lookupField(encoding);
    if (!f) return 0n;
    const lo = BigInt(this.load32(f.field.offset) >>> 0);
    const hi = f.field.width === 64 ? BigInt(this.load32(f.field.offset + 4) >>> 0) : 0n;
    return (hi << 32n) | lo;
  }

  /**
   * Writes a field as VMWRITE does from 32-bit code: the value is truncated to the field's width;
   * writing the full encoding of a 64-bit field clears its upper half. The entry checks that read
   * the field are forgotten only when its value changes.
   */
  write(encoding: number, value: number): void {
    const w = encoding >>> 0 > 0x7fff ? -1 : FIELD_WORDS[encoding]!;
    if (w < 0) return;
    const at = w >> 2, checks = FIELD_CHECKS[encoding]!;
    if (encoding & 1) { // the high half of a 64-bit field
      if (checks !== 0 && this.load32(at) !== (value | 0)) this.unverify(checks);
      this.store32(at, value);
      return;
    }
    const v = w & FIELD_16_BIT ? value & 0xffff : value;
    if (checks !== 0 && (this.load32(at) !== (v | 0) || this.load32(at + 4) !== 0)) this.unverify(checks);
    this.store32(at, v);
    this.store32(at + 4, 0); // the upper half of the slot, which only a 64-bit field uses
  }

  /**
   * Writes a field only when its value changes (VM exits save the whole guest state, most of it
   * unchanged, and exit information, most of it 0 again). Not for the high half of a 64-bit field.
   */
  update(encoding: number, value: number): void {
    const w = encoding >>> 0 > 0x7fff ? -1 : FIELD_WORDS[encoding]!;
    if (w < 0 || encoding & 1) return;
    const v = w & FIELD_16_BIT ? value & 0xffff : value | 0, at = w >> 2;
    if (this.load32(at) === v && (!(w & FIELD_64_BIT) || this.load32(at + 4) === 0)) return;
    this.write(encoding, value);
  }

  write64(encoding: number, value: bigint): void {
    const f = lookupField(encoding);
    if (!f) return;
    const at = f.field.offset;
    const lo = Number(value & 0xffffffffn), hi = f.field.width === 64 ? Number((value >> 32n) & 0xffffffffn) : 0;
    if (f.field.checks !== 0 && (this.load32(at) !== (lo | 0) || this.load32(at + 4) !== (hi | 0))) this.unverify(f.field.checks);
    this.store32(at, lo);
    this.store32(at + 4, hi);
  }

  /** Forgets the entry checks that read a field whose value changes (EntryCheck bits). */
  private unverify(checks: number): void {
    if (checks === 0) return;
    const verified = this.load32(VERIFIED_OFFSET);
    if (verified & checks) this.store32(VERIFIED_OFFSET, verified & ~checks);
  }
}
