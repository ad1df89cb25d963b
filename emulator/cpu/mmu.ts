/**
 * Linear-to-physical translation: 32-bit two-level paging with 4 KiB and 4 MiB pages (SDM Vol. 3A
 * 4.3), and the software TLB that caches it.
 *
 * The TLB is one flat Int32Array indexed by linear page number (v86's layout): an entry is the
 * physical page address with permission bits in the low 12 bits, so the fast path of every access
 * is one load and one compare against a mask that depends only on the kind of access and the CPL.
 * A write permission bit is only ever cached for pages whose dirty bit is already set, so the first
 * write to a clean page takes the slow path and sets D as hardware does.
 */
import { raise, Vector } from './faults.js';
import type { PhysicalMemory } from './memory.js';

export const TLB_VALID = 1;
export const TLB_SUPERVISOR_WRITE = 2;
export const TLB_USER = 4;
export const TLB_USER_WRITE = 8;
/** The physical page is RAM (not MMIO/ROM), so the fast path may access it directly. */
export const TLB_RAM = 16;
export const TLB_GLOBAL = 32;

/** Masks an entry must satisfy, by access kind: [supervisor, user]. */
export const READ_MASK = [TLB_VALID | TLB_RAM, TLB_VALID | TLB_RAM | TLB_USER] as const;
export const WRITE_MASK = [TLB_VALID | TLB_RAM | TLB_SUPERVISOR_WRITE, TLB_VALID | TLB_RAM | TLB_USER | TLB_USER_WRITE] as const;

const PTE_P = 1, PTE_W = 2, PTE_U = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;
const CR0_WP = 1 << 16, CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4, CR4_PGE = 1 << 7;

/** Second-level translation (EPT in VMX non-root mode): guest-physical to host-physical. */
export interface PhysicalTranslator {
  /** Returns the host-physical address, or throws (an EPT violation exit). */
  translate(gpa: number, access: 'read' | 'write' | 'fetch', linear: number, isPagingStructure: boolean): number;
  /**
   * Read (1), write (2) and execute (4) permissions of the last successful translation. The TLB
   * caches a translation for reads and fetches only when both are allowed, so an access the second
   * level forbids always walks and faults.
   */
  readonly permissions: number;
}

/** One tagged set of cached translations (see Mmu.selectContext). */
interface TlbContext {
  tlb: Int32Array;
  filled: Int32Array;
  filledCount: number;
  /** When it was last selected (least recently used is evicted). */
  used: number;
}

/** Tagged TLB contexts kept besides the root one; the least recently used is dropped beyond this. */
const MAX_TAGGED_CONTEXTS = 8;

export class Mmu {
  /** The current context's entries, indexed by linear page number (one compare on the fast path). */
  tlb: Int32Array;
  /** Linear page numbers with a filled entry, so a flush clears only those. */
  private filled: Int32Array;
  private filledCount = 0;
  /**
   * Tagged contexts (VMX: VPID and EPTP). Translations cached under one tag survive while another
   * runs, as a VPID-tagged TLB keeps a guest's entries across VM exits and entries. Tag '' is the
   * root context, which lives in the shared WebAssembly memory.
   */
  private readonly contexts = new Map<string, TlbContext>();
  private tag = '';
  private current: TlbContext;
  private selections = 0;
  cr0 = 0x60000010;
  cr3 = 0;
  cr4 = 0;
  /** Cache nothing: every access walks (debug registers armed, so each access is checked). */
  uncached = false;
  /** Set by the CPU when EPT is active; null on the bare machine and in root mode. */
  second: PhysicalTranslator | null = null;
  cr2 = 0;
  /** Linear address of the last page fault, written by the walk (copied to CR2 on delivery). */
  faultAddress = 0;

  constructor(readonly mem: PhysicalMemory, tlbOffset: number) {
    this.tlb = new Int32Array(mem.wasm.buffer, tlbOffset, 1 << 20);
    this.filled = new Int32Array(1 << 16);
    this.current = { tlb: this.tlb, filled: this.filled, filledCount: 0, used: 0 };
    this.contexts.set('', this.current);
  }

  /** The tag whose translations are in use ('' for root operation and the bare machine). */
  get contextTag(): string {
    return this.tag;
  }

  /** Switches to the translations cached under `tag` (created empty the first time). */
  selectContext(tag: string): void {
    if (tag === this.tag) return;
    this.current.filledCount = this.filledCount;
    let next = this.contexts.get(tag), reused = false;
    if (!next) {
      if (this.contexts.size > MAX_TAGGED_CONTEXTS) {
        // The least recently used context gives its arrays to the new one (emptied by flush()
        // below): many VMs taking turns must not allocate 4 MiB at every switch.
        let oldest = '', victim: TlbContext | null = null;
        for (const [k, c] of this.contexts) if (k !== '' && k !== this.tag && (victim === null || c.used < victim.used)) { oldest = k; victim = c; }
        this.contexts.delete(oldest);
        next = victim!;
        reused = true;
      } else next = { tlb: new Int32Array(1 << 20), filled: new Int32Array(1 << 16), filledCount: 0, used: 0 };
      this.contexts.set(tag, next);
    }
    next.used = ++this.selections;
    this.current = next;
    this.tlb = next.tlb;
    this.filled = next.filled;
    this.filledCount = next.filledCount;
    this.tag = tag;
    this.epoch++;
    if (reused) this.flush();
  }

  /** Drops the tagged contexts `match` selects (INVEPT, INVVPID); the current one is flushed. */
  dropContexts(match: (tag: string) => boolean): void {
    for (const tag of [...this.contexts.keys()]) {
      if (tag === '' || !match(tag)) continue;
      if (tag === this.tag) this.flush();
      else this.contexts.delete(tag);
    }
    this.epoch++;
  }

  /** Invalidates one linear page in a tagged context (INVVPID individual-address). */
  invalidatePageIn(tag: string, linear: number): void {
    if (tag === this.tag) { this.invalidatePage(linear); return; }
    const c = this.contexts.get(tag);
    if (c) c.tlb[linear >>> 12] = 0;
    this.epoch++;
  }

  get pagingEnabled(): boolean {
    return (this.cr0 & CR0_PG) !== 0;
  }

  /** Incremented whenever cached translations are dropped (compiled-block chains check it). */
  epoch = 0;

  /** Drops every entry (MOV CR3 without PGE keeps globals: `keepGlobal`). */
  flush(keepGlobal = false): void {
    this.epoch++;
    const tlb = this.tlb;
    if (this.filledCount >= this.filled.length) {
      if (keepGlobal) {
        for (let i = 0; i < tlb.length; i++) if (!(tlb[i]! & TLB_GLOBAL)) tlb[i] = 0;
      } else tlb.fill(0);
      this.filledCount = 0;
      if (keepGlobal) this.rebuildFilled();
      return;
    }
    let kept = 0;
    for (let i = 0; i < this.filledCount; i++) {
      const page = this.filled[i]!;
      if (keepGlobal && tlb[page]! & TLB_GLOBAL) this.filled[kept++] = page;
      else tlb[page] = 0;
    }
    this.filledCount = kept;
  }

  private rebuildFilled(): void {
    const tlb = this.tlb;
    for (let i = 0; i < tlb.length && this.filledCount < this.filled.length; i++) {
      if (tlb[i]) this.filled[this.filledCount++] = i;
    }
  }

  invalidatePage(linear: number): void {
    this.epoch++;
    this.tlb[linear >>> 12] = 0;
  }

  private remember(page: number, entry: number): void {
    if (this.uncached) return;
    if (this.tlb[page] === 0 && this.filledCount < this.filled.length) this.filled[this.filledCount++] = page;
    else if (this.tlb[page] === 0) this.filledCount = this.filled.length; // overflow: flush will clear all
    this.tlb[page] = entry;
  }

  private physical(addr: number, access: 'read' | 'write' | 'fetch', linear: number, structure: boolean): number {
    return this.second ? this.second.translate(addr, access, linear, structure) : addr;
  }

  /** May this translation be cached? Not when the second level forbids reads or fetches. */
  private cacheable(): boolean {
    return !this.second || (this.second.permissions & 5) === 5;
  }

  /**
   * Translates a linear address for an access, walking the page tables on a TLB miss and filling
   * the TLB. Raises #PF (with CR2 and the SDM's error code) when the access is not allowed.
   */
  translate(linear: number, write: boolean, user: boolean, fetch = false): number {
    linear |= 0;
    const page = linear >>> 12;
    const access = write ? 'write' : fetch ? 'fetch' : 'read';
    if (!(this.cr0 & CR0_PG)) {
      const phys = this.physical(linear, access, linear, false) >>> 0;
      if (!this.cacheable()) return phys;
      const ram = this.mem.isRam(phys) ? TLB_RAM : 0;
      // Without paging every access is allowed; under EPT the write bit is cached only after a
      // write was allowed, so EPT dirty tracking sees the first write.
      const w = (!this.second || write) && this.mem.isWritableRam(phys) ? TLB_SUPERVISOR_WRITE | TLB_USER_WRITE : 0;
      this.remember(page, (phys & ~0xfff) | TLB_VALID | TLB_USER | w | ram);
      return (phys & ~0xfff) | (linear & 0xfff);
    }
    const mem = this.mem;
    const pdeAddr = this.physical((this.cr3 & ~0xfff) + ((linear >>> 22) << 2), 'read', linear, true);
    let pde = mem.read32(pdeAddr);
    const errorBits = (write ? 2 : 0) | (user ? 4 : 0);
    if (!(pde & PTE_P)) return this.pageFault(linear, errorBits);
    const wp = (this.cr0 & CR0_WP) !== 0;
    let frame: number, userOk: boolean, writable: boolean, dirty: boolean, global: boolean;
    if ((pde & PTE_PS) && (this.cr4 & CR4_PSE)) {
      userOk = (pde & PTE_U) !== 0;
      writable = (pde & PTE_W) !== 0;
      if ((user && !userOk) || (write && !writable && (user || wp))) return this.pageFault(linear, errorBits | 1);
      const newPde = pde | PTE_A | (write ? PTE_D : 0);
      if (newPde !== pde) { mem.write32(pdeAddr, newPde); pde = newPde; }
      frame = (pde & 0xffc00000) | (linear & 0x003ff000);
      dirty = (pde & PTE_D) !== 0;
      global = (pde & PTE_G) !== 0 && (this.cr4 & CR4_PGE) !== 0;
    } else {
      const pteAddr = this.physical((pde & ~0xfff) + (((linear >>> 12) & 0x3ff) << 2), 'read', linear, true);
      let pte = mem.read32(pteAddr);
      if (!(pte & PTE_P)) return this.pageFault(linear, errorBits);
      userOk = (pde & PTE_U) !== 0 && (pte & PTE_U) !== 0;
      writable = (pde & PTE_W) !== 0 && (pte & PTE_W) !== 0;
      if ((user && !userOk) || (write && !writable && (user || wp))) return this.pageFault(linear, errorBits | 1);
      if (!(pde & PTE_A)) mem.write32(pdeAddr, pde | PTE_A);
      const newPte = pte | PTE_A | (write ? PTE_D : 0);
      if (newPte !== pte) { mem.write32(pteAddr, newPte); pte = newPte; }
      frame = pte & ~0xfff;
      dirty = (pte & PTE_D) !== 0;
      global = (pte & PTE_G) !== 0 && (this.cr4 & CR4_PGE) !== 0;
    }
    const phys = this.physical(frame | (linear & 0xfff), access, linear, false) >>> 0;
    if (!this.cacheable()) return phys;
    let entry = (phys & ~0xfff) | TLB_VALID | (this.mem.isRam(phys) ? TLB_RAM : 0) | (global ? TLB_GLOBAL : 0);
    if (userOk) entry |= TLB_USER;
    if (dirty && (!this.second || write) && this.mem.isWritableRam(phys)) {
      if (writable || !wp) entry |= TLB_SUPERVISOR_WRITE;
      if (writable && userOk) entry |= TLB_USER_WRITE;
    }
    this.remember(page, entry);
    return (phys & ~0xfff) | (linear & 0xfff);
  }

  private pageFault(linear: number, errorCode: number): never {
    this.faultAddress = linear >>> 0;
    return raise(Vector.PF, errorCode);
  }
}
