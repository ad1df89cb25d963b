/**
 * Host-physical memory as the hypervisor manages it: a frame allocator over the emulated
 * machine's RAM, the EPT tables each VM gets, and guest-physical access for the exit handlers.
 *
 * Everything the processor reads (VMCSs, EPT tables, MSR bitmaps) lives in host-physical memory
 * the hypervisor allocated, exactly as KVM allocates pages for VT-x; nothing is a side table the
 * emulated hardware would not see.
 */
import type { PhysicalMemory } from '../emulator/cpu/memory.js';

export const PAGE = 4096;

/** Is this page (or any 4-byte-aligned block) all zeros? Compared a word at a time. */
export function isZeroPage(page: Uint8Array): boolean {
  const words = new Int32Array(page.buffer, page.byteOffset, page.byteLength >> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

export class OutOfHostMemory extends Error {
  constructor(wanted: number, left: number) {
    super(`host memory exhausted: wanted ${wanted} bytes, ${left} left`);
    this.name = 'OutOfHostMemory';
  }
}

/**
 * A bump allocator of page-aligned host-physical ranges (VMs live as long as the hypervisor).
 * Host memory starts zeroed and nothing writes above what was handed out (a guest reaches only
 * its own frames through EPT; test/hypervisor/hostile.test.ts checks this after every hostile
 * guest), so each range is handed out zeroed without being written. Filling it would commit
 * every page of a VM's memory at once, used or not: about 45 ms and 64 MiB of RSS per 64 MiB VM.
 */
export class FrameAllocator {
  private next: number;
  constructor(private readonly mem: PhysicalMemory, start: number, private readonly end: number) {
    this.next = start;
  }

  /** `bytes` rounded up to pages, aligned to `align` (a power of two >= 4 KiB), zeroed. */
  allocate(bytes: number, align = PAGE): number {
    const size = Math.ceil(bytes / PAGE) * PAGE;
    const at = Math.ceil(this.next / align) * align;
    if (at + size > this.end) throw new OutOfHostMemory(size, this.end - this.next);
    this.next = at + size;
    return at;
  }

  /** Whether the host memory not yet handed out is all zero (the invariant `allocate` rests on). */
  unusedIsZero(): boolean {
    const words = this.mem.i32;
    for (let w = this.next >>> 2, end = this.end >>> 2; w < end; w++) if (words[w] !== 0) return false;
    return true;
  }

  get used(): number {
    return this.next;
  }
}

/** EPT entry bits (SDM 29.3.2). */
export const EPT_READ = 1, EPT_WRITE = 2, EPT_EXEC = 4, EPT_RWX = 7;
const EPT_MEMTYPE_WB = 6 << 3;
const EPT_ACCESSED = 0x100, EPT_DIRTY = 0x200;

/**
 * One VM's extended page tables, built in host-physical memory: 4 levels, 4 KiB leaves (so any
 * page can be unmapped for MMIO or tracked dirty for migration).
 */
export class EptTables {
  readonly pml4: number;
  private readonly pdpt: number;
  /** Host-physical address of each page table, by PD index (allocated on demand). */
  private readonly pageTables = new Map<number, number>();
  private readonly pds = new Map<number, number>();

  constructor(private readonly mem: PhysicalMemory, private readonly frames: FrameAllocator) {
    this.pml4 = frames.allocate(PAGE);
    this.pdpt = frames.allocate(PAGE);
    mem.write32(this.pml4, this.pdpt | EPT_RWX);
  }

  /** The EPT pointer for the VMCS: write-back, 4-level walk, accessed/dirty flags on. */
  get pointer(): bigint {
    return BigInt(this.pml4 | 6 | (3 << 3) | (1 << 6));
  }

  private leafAddress(gpa: number, create: boolean): number | null {
    const pdptIndex = gpa >>> 30, pdIndex = (gpa >>> 21) & 0x1ff, ptIndex = (gpa >>> 12) & 0x1ff;
    let pd = this.pds.get(pdptIndex);
    if (pd === undefined) {
      if (!create) return null;
      pd = this.frames.allocate(PAGE);
      this.pds.set(pdptIndex, pd);
      this.mem.write32(this.pdpt + pdptIndex * 8, pd | EPT_RWX);
    }
    const key = (pdptIndex << 9) | pdIndex;
    let pt = this.pageTables.get(key);
    if (pt === undefined) {
      if (!create) return null;
      pt = this.frames.allocate(PAGE);
      this.pageTables.set(key, pt);
      this.mem.write32(pd + pdIndex * 8, pt | EPT_RWX);
    }
    return pt + ptIndex * 8;
  }

  /** Maps [gpa, gpa + size) to [hpa, hpa + size) with `perms`. */
  map(gpa: number, hpa: number, size: number, perms = EPT_RWX): void {
    for (let off = 0; off < size; off += PAGE) {
      const at = this.leafAddress(gpa + off, true)!;
      this.mem.write32(at, ((hpa + off) | EPT_MEMTYPE_WB | perms) >>> 0);
      this.mem.write32(at + 4, 0);
    }
  }

  /** Removes the mapping of one page (its accesses become EPT violations). */
  unmap(gpa: number): void {
    const at = this.leafAddress(gpa, false);
    if (at !== null) this.mem.write32(at, 0);
  }

  /** Reads and clears the dirty flags of [gpa, gpa + size): the guest-physical pages written since. */
  collectDirty(gpa: number, size: number): number[] {
    const dirty: number[] = [];
    for (let off = 0; off < size; off += PAGE) {
      const at = this.leafAddress(gpa + off, false);
      if (at === null) continue;
      const e = this.mem.read32(at);
      if (e & EPT_DIRTY) {
        dirty.push(gpa + off);
        this.mem.write32(at, e & ~(EPT_DIRTY | EPT_ACCESSED));
      }
    }
    return dirty;
  }
}

/**
 * A VM's guest-physical memory: one contiguous host-physical block mapped at guest-physical 0.
 * Handlers reach guest memory only through here, and every access is checked against the map,
 * so a guest's pointer can never name host memory.
 */
export class GuestRam {
  /**
   * Pages the hypervisor itself wrote (hypercall buffers, emulated string input, A/D bits of the
   * guest's page tables) while dirty logging is on: EPT dirty flags only see the guest's writes.
   */
  dirtyLog: Set<number> | null = null;

  /**
   * True while this memory is still all zero as FrameAllocator handed it out: nothing wrote it
   * through here, no view of it was handed out, and the guest never ran (`markWritten`).
   */
  private pristine = true;

  constructor(private readonly mem: PhysicalMemory, readonly hostBase: number, readonly size: number) {}

  /** Zeroes all of guest memory (a boot, a restore); free while it was never written. */
  clear(): void {
    if (!this.pristine) this.mem.u8.fill(0, this.hostBase, this.hostBase + this.size);
    this.pristine = true;
  }

  /** The guest is about to run: it may write any of its memory. */
  markWritten(): void {
    this.pristine = false;
  }

  /** Is [gpa, gpa + length) inside guest RAM? */
  contains(gpa: number, length: number): boolean {
    return Number.isInteger(gpa) && Number.isInteger(length) && gpa >= 0 && length >= 0 && gpa + length <= this.size;
  }

  /** Host-physical address of a checked guest range, or null. */
  host(gpa: number, length: number): number | null {
    return this.contains(gpa, length) ? this.hostBase + gpa : null;
  }

  read8(gpa: number): number { return this.mem.read8(this.check(gpa, 1)); }
  read16(gpa: number): number { return this.mem.read16(this.check(gpa, 2)); }
  read32(gpa: number): number { return this.mem.read32(this.check(gpa, 4)); }
  write8(gpa: number, v: number): void { this.mem.write8(this.check(gpa, 1), v); this.written(gpa, 1); }
  write16(gpa: number, v: number): void { this.mem.write16(this.check(gpa, 2), v); this.written(gpa, 2); }
  write32(gpa: number, v: number): void { this.mem.write32(this.check(gpa, 4), v); this.written(gpa, 4); }

  /** A copy of guest bytes (throws GuestMemoryFault outside RAM). */
  bytes(gpa: number, length: number): Uint8Array {
    const at = this.check(gpa, length);
    return this.mem.u8.slice(at, at + length);
  }

  load(gpa: number, data: Uint8Array): void {
    const at = this.check(gpa, data.length);
    this.mem.load(at, data);
    this.written(gpa, data.length);
  }

  /** The whole of guest memory, as a view (snapshots, hashing); whoever has it may write it. */
  view(): Uint8Array {
    this.pristine = false;
    return this.mem.u8.subarray(this.hostBase, this.hostBase + this.size);
  }

  private check(gpa: number, length: number): number {
    if (!this.contains(gpa, length)) throw new GuestMemoryFault(gpa, length);
    return this.hostBase + gpa;
  }

  private written(gpa: number, length: number): void {
    this.pristine = false;
    if (this.dirtyLog === null || length === 0) return;
    for (let p = Math.floor(gpa / PAGE); p <= Math.floor((gpa + length - 1) / PAGE); p++) this.dirtyLog.add(p);
  }
}

/** A handler touched guest-physical memory outside the guest's RAM. */
export class GuestMemoryFault extends Error {
  constructor(readonly gpa: number, readonly length: number) {
    super(`guest-physical access at 0x${(gpa >>> 0).toString(16)} (+${length}) outside guest memory`);
    this.name = 'GuestMemoryFault';
  }
}
