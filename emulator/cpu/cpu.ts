/**
 * The IA-32 CPU: architectural state, memory access through segmentation and paging, the decode
 * cache, exception and interrupt delivery, and the run loop.
 *
 * State that a later WebAssembly tier must share (general registers, segment caches, TLB, RAM) lives
 * in the one WebAssembly.Memory of PhysicalMemory; see layout below. Instruction semantics live in
 * exec/ (one module per instruction family), keyed by the table row's `op`.
 *
 * Time: `icount` counts retired instructions; the TSC and every timer derive from it. Nothing here
 * reads the wall clock.
 */
import { FORMS, type InsnForm } from '../isa/index.js';
import { decode, isDecodeFailure, type DecodedInsn } from '../isa/decoder.js';
import { CpuFault, isCpuFault, raise, Vector } from './faults.js';
import { AC, DF, IF, LazyFlags, NT, RF, TF, VM } from './flags.js';
import { PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, PhysicalMemory } from './memory.js';
import { Mmu, READ_MASK, WRITE_MASK } from './mmu.js';
import { EXECUTORS } from './exec/index.js';
import { deliverInterrupt, type EventKind } from './interrupts.js';
import { compileBlock, type CompiledBlock, type SharedBlock } from './jit/block-compiler.js';
import { loadSegmentRealMode, SegReg, SEG_ATTR_UNUSABLE, segmentFault } from './segments.js';
import { InstructionExit, Vmx, VMEXIT_VECTOR } from '../vmx/vmx.js';

/** The TLB bits a supervisor read or write needs (implicit system accesses are supervisor ones). */
const SUPERVISOR_READ = READ_MASK[0], SUPERVISOR_WRITE = WRITE_MASK[0];

/** Byte layout of the CPU's shared state area that follows RAM. */
export const STATE_LAYOUT = {
  /** General registers, Int32 x 8 (EAX ECX EDX EBX ESP EBP ESI EDI). */
  GPR: 0,
  /** Segment caches for ES CS SS DS FS GS LDTR TR: selector, base, limit, attributes (Int32 x 8 each). */
  SEG_SELECTOR: 32,
  SEG_BASE: 64,
  SEG_LIMIT: 96,
  SEG_ATTR: 128,
  /** The TLB (Int32 x 2^20), 4 KiB aligned. */
  TLB: 4096,
  SIZE: 4096 + 4 * (1 << 20),
} as const;

/** Port I/O as the CPU sees it (the board or the hypervisor routes it to devices). */
export interface IoBus {
  portRead(port: number, size: 1 | 2 | 4): number;
  portWrite(port: number, size: 1 | 2 | 4, value: number): void;
}

/** The INTR line and interrupt acknowledge (the PIC on a PC). */
export interface InterruptSource {
  hasPendingInterrupt(): boolean;
  acknowledge(): number;
}

/** Kinds of event delivery, with the two VMX adds (see Cpu.deliverEvent). */
export type CpuEventKind = EventKind | 'software-exception' | 'injected-exception';

/** Why `run` returned. */
export type StopReason =
  | { kind: 'budget' }
  | { kind: 'halted' }
  | { kind: 'stopped'; why: string }
  | { kind: 'triple-fault'; vector: number };

const NULL_IO: IoBus = {
  portRead: (_p, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : -1),
  portWrite: () => {},
};

export interface CpuOptions {
  ramSize: number;
}

export class Cpu {
  readonly mem: PhysicalMemory;
  readonly mmu: Mmu;
  /** General registers and their 16- and 8-bit views (AL = r8[0], AH = r8[1], CL = r8[4] ...). */
  readonly r: Int32Array;
  readonly r16: Uint16Array;
  readonly r8: Uint8Array;
  /** Segment caches, indexed by SegReg. */
  readonly segSel: Int32Array;
  readonly segBase: Int32Array;
  readonly segLimit: Int32Array;
  readonly segAttr: Int32Array;
  /** Lowest and highest valid offset of each segment (expand-down aware), precomputed on load. */
  readonly segMin = new Float64Array(8);
  readonly segMax = new Float64Array(8);
  /** Highest offset writable through each segment; -1 when the segment is not writable at all. */
  readonly segMaxWrite = new Float64Array(8);
  /** SS is a flat 32-bit writable segment: pushes and pops may skip segmentation entirely. */
  flatStack = false;
  readonly lf = new LazyFlags();
  eip = 0;
  /** Where execution continues after the current instruction (branches set it). */
  nextEip = 0;
  /** Start of the instruction being executed (for faults and tools). */
  insnStart = 0;
  private cplValue = 0;
  /** TLB masks for reads and writes at the current privilege (see mmu.ts). */
  readMask: number = READ_MASK[0];
  writeMask: number = WRITE_MASK[0];
  /** Current privilege level. Setting it also selects the TLB masks for user or supervisor. */
  get cpl(): number { return this.cplValue; }
  set cpl(v: number) {
    this.cplValue = v;
    this.readMask = READ_MASK[v === 3 ? 1 : 0];
    this.writeMask = WRITE_MASK[v === 3 ? 1 : 0];
  }
  gdtBase = 0; gdtLimit = 0xffff;
  idtBase = 0; idtLimit = 0x3ff;
  readonly dr = new Int32Array(8);
  /**
   * A DR7 breakpoint is enabled. Execution then goes instruction by instruction through `step`
   * (no compiled blocks) and the TLB caches nothing, so every fetch and data access is checked.
   */
  debugActive = false;
  /** Data-breakpoint conditions (DR6 B0-B3) met by the instruction executing now. */
  private dataBreakHits = 0;

  // ---- debugger hooks (hypervisor/debug). None patches memory or changes guest-visible state.
  /** Linear addresses at which `run` asks `onBreak` before executing the instruction there. */
  readonly breakAt = new Set<number>();
  /** Ask `onBreak` at every instruction boundary (stepping by line, `finish`). */
  breakEvery = false;
  /** Decides whether to stop at a boundary in `breakAt` (or any, with `breakEvery`). */
  onBreak: ((linear: number) => boolean) | null = null;
  /** Sees every data access (linear, physical, size, write); makes the TLB cache nothing. */
  onDataAccess: ((linear: number, physical: number, size: number, write: boolean) => void) | null = null;
  /** Set by a hook to stop at the next instruction boundary (a watchpoint after its access). */
  breakPending = false;
  /**
   * Any debugger hook is set (call `updateDebugHooks` after changing them): `run` then goes
   * instruction by instruction. False keeps the hot path at one boolean test per block.
   */
  private debugHooked = false;
  /**
   * Optional ring of recently executed addresses (linear CS:EIP): every instruction when
   * interpreting, every block start with compiled blocks. For crash reports and debuggers.
   */
  history: Int32Array | null = null;
  historyAt = 0;
  readonly msr = new Map<number, bigint>();
  /** Counts writes to the stored MSRs (VM exits save the guest's SYSENTER MSRs only after one). */
  msrWrites = 0;
  /** Retired instruction count: the machine's clock. */
  icount = 0;
  /** TSC = icount + tscOffset (WRMSR to IA32_TIME_STAMP_COUNTER moves the offset; see msr.ts). */
  get tscOffset(): bigint {
    if (this.tscOffsetAdded !== 0) {
      this.tscOffsetBase += BigInt(this.tscOffsetAdded);
      this.tscOffsetAdded = 0;
    }
    return this.tscOffsetBase;
  }
  set tscOffset(v: bigint) {
    this.tscOffsetBase = v;
    this.tscOffsetAdded = 0;
    this.tscOffsetNumber = Number(v);
  }
  /**
   * Moves the TSC by `n` cycles without bigint arithmetic (a hypervisor does it at every exit
   * that emulates an instruction); folded into the bigint when tscOffset is next read.
   */
  addTscOffset(n: number): void {
    this.tscOffsetAdded += n;
    this.tscOffsetNumber += n;
  }
  private tscOffsetBase = 0n;
  private tscOffsetAdded = 0;
  /** tscOffset as a number, for the preemption timer's arithmetic (exact while below 2^53). */
  tscOffsetNumber = 0;
  halted = false;
  /** The instruction after STI / MOV SS / POP SS is not interrupted (SDM 6.8.3). */
  interruptShadow = false;
  io: IoBus = NULL_IO;
  intr: InterruptSource | null = null;
  /** Set to stop `run` at the next instruction boundary (devices, debuggers, exit requests). */
  stopRequest: string | null = null;
  /** Exception being delivered (for double/triple fault classification), or -1. */
  deliveringVector = -1;
  private deliveringError = -1;
  private deliveringKind: CpuEventKind = 'exception';
  /** The interrupt shadow comes from MOV SS / POP SS (not STI): VM entry refuses it (error 26). */
  movSsShadow = false;
  /** VMX operation: root and non-root mode, the current VMCS, VM entry and exit (emulator/vmx). */
  readonly vmx: Vmx;

  /**
   * Execution engine: 'blocks' compiles basic blocks to JavaScript (the fast tier); 'interpret'
   * runs every instruction through its executor (the reference tier). Both give identical results.
   */
  engine: 'blocks' | 'interpret' = 'blocks';
  /** Set when a store hit a page holding decoded code; compiled blocks exit on it. */
  codeChanged = false;
  /** Instructions a faulting compiled block skipped by if-conversion (not retired). */
  blockSkipped = 0;

  /**
   * Decoded instructions by physical page, each page an array by offset (key: page x 2, plus 1 for
   * 32-bit code). An instruction's own key is its address x 2 (+1): `pageDecodeKeys` lists those
   * of each page an instruction's bytes touch, for invalidation.
   */
  private readonly decodePages = new Map<number, (DecodedInsn | undefined)[]>();
  /** The page array fetchDecode used last: code runs on within a page. */
  private lastDecodeKey = -1;
  private lastDecodePage: (DecodedInsn | undefined)[] = [];
  private readonly pageDecodeKeys = new Map<number, number[]>();
  private readonly blockCache = new Map<number, CompiledBlock | null>();
  /** Blocks by what they were compiled from, for other copies of the same code (block-compiler.ts). */
  readonly sharedBlocks = new Map<string, SharedBlock>();
  /** Blocks compiled from their bytes, and blocks made as copies of a shared one (compileBlock). */
  blocksCompiled = 0;
  blocksCopied = 0;
  private readonly pageBlockKeys = new Map<number, number[]>();

  constructor(options: CpuOptions) {
    this.mem = new PhysicalMemory(options.ramSize, STATE_LAYOUT.SIZE);
    const buf = this.mem.wasm.buffer, base = this.mem.stateOffset;
    this.r = new Int32Array(buf, base + STATE_LAYOUT.GPR, 8);
    this.r16 = new Uint16Array(buf, base + STATE_LAYOUT.GPR, 16);
    this.r8 = new Uint8Array(buf, base + STATE_LAYOUT.GPR, 32);
    this.segSel = new Int32Array(buf, base + STATE_LAYOUT.SEG_SELECTOR, 8);
    this.segBase = new Int32Array(buf, base + STATE_LAYOUT.SEG_BASE, 8);
    this.segLimit = new Int32Array(buf, base + STATE_LAYOUT.SEG_LIMIT, 8);
    this.segAttr = new Int32Array(buf, base + STATE_LAYOUT.SEG_ATTR, 8);
    this.mmu = new Mmu(this.mem, base + STATE_LAYOUT.TLB);
    this.mem.onCodeWrite = (page, offset, size) => this.codeWritten(page, offset, size);
    this.vmx = new Vmx(this);
    this.reset();
  }

  /** The processor's power-up state (SDM Vol. 3A 9.1.1): real mode at F000:FFF0. */
  reset(): void {
    this.r.fill(0);
    this.r[2] = 0x000006f1; // EDX: family/model/stepping, as the SDM's reset state has it
    this.lf.load(0x2);
    this.eip = 0xfff0;
    this.mmu.cr0 = 0x60000010;
    this.mmu.cr3 = 0;
    this.mmu.cr4 = 0;
    this.mmu.flush();
    // Power-up segment caches (SDM Vol. 3A table 9-1): forget any protected-mode attributes first,
    // or a reset after protected mode would keep 32-bit (D = 1) segments.
    this.segAttr.fill(0);
    for (let s = 0; s < 6; s++) loadSegmentRealMode(this, s, 0);
    loadSegmentRealMode(this, SegReg.CS, 0xf000);
    this.segBase[SegReg.CS] = 0xffff0000;
    for (const s of [SegReg.LDTR, SegReg.TR]) {
      this.segSel[s] = 0; this.segBase[s] = 0; this.segLimit[s] = 0xffff;
      this.segAttr[s] = s === SegReg.TR ? 0x8b : 0x82;
      this.updateSegmentBounds(s);
    }
    this.gdtBase = 0; this.gdtLimit = 0xffff; this.idtBase = 0; this.idtLimit = 0xffff;
    this.dr.fill(0); this.dr[6] = 0xffff0ff0 | 0; this.dr[7] = 0x400;
    this.updateDebugState();
    this.cpl = 0;
    this.halted = false;
    this.interruptShadow = false;
    this.movSsShadow = false;
    this.vmx?.reset();
  }

  // ---------------------------------------------------------------- modes

  get cr0(): number { return this.mmu.cr0; }
  get protectedMode(): boolean { return (this.mmu.cr0 & 1) !== 0; }
  get v86(): boolean { return (this.lf.flags & VM) !== 0; }
  /** Default operand/address size of the code segment (CS.D). */
  get codeBits(): 16 | 32 { return (this.segAttr[SegReg.CS]! & 0x4000) && !this.v86 ? 32 : 16; }
  get eflags(): number { return this.lf.materialize(); }
  set eflags(v: number) { this.lf.load((v & 0x3f7fd5) | 2); }
  /** EFLAGS.IOPL. */
  get iopl(): number { return (this.lf.flags >> 12) & 3; }
  /**
   * Port I/O needs no look at the TSS's I/O permission bitmap: real mode, or CPL <= IOPL outside
   * virtual-8086 mode (SDM Vol. 1 18.5.1).
   */
  get ioPrivileged(): boolean {
    return (this.mmu.cr0 & 1) === 0 || ((this.lf.flags & VM) === 0 && this.cpl <= this.iopl);
  }
  /** Current privilege level as the paging unit sees it (3 means user accesses). */
  get userMode(): boolean { return this.cpl === 3; }

  /** Counts segment-cache changes (all go through updateSegmentBounds): VM exits save segments only after one. */
  segmentWrites = 0;

  /** Recomputes segMin/segMax after a segment cache changed. */
  updateSegmentBounds(s: number): void {
    this.segmentWrites++;
    const attr = this.segAttr[s]!, limit = this.segLimit[s]! >>> 0;
    if (attr & SEG_ATTR_UNUSABLE) {
      this.segMin[s] = 1; this.segMax[s] = 0; this.segMaxWrite[s] = -1;
    } else {
      const isData = (attr & 0x18) === 0x10;
      const segmented = this.protectedMode && !this.v86;
      const expandDown = isData && (attr & 4) !== 0 && segmented;
      if (expandDown) {
        this.segMin[s] = limit + 1;
        this.segMax[s] = attr & 0x4000 ? 0xffffffff : 0xffff;
      } else {
        this.segMin[s] = 0;
        this.segMax[s] = limit;
      }
      // Protected mode: code segments and read-only data segments are not writable (#GP/#SS).
      const writable = !segmented || (isData && (attr & 2) !== 0);
      this.segMaxWrite[s] = writable ? this.segMax[s]! : -1;
    }
    if (s === SegReg.SS) {
      this.flatStack = this.segBase[s] === 0 && this.segMin[s] === 0 && this.segMaxWrite[s] === 0xffffffff
        && (attr & 0x4000) !== 0;
    }
  }

  // ---------------------------------------------------------------- memory by segment

  /** Linear address of seg:off for an access of `size` bytes, after the limit check. */
  linear(s: number, off: number, size: number): number {
    const o = off >>> 0;
    if (o < this.segMin[s]! || o + size - 1 > this.segMax[s]!) segmentFault(this, s);
    return (this.segBase[s]! + o) | 0;
  }

  /** Linear address of seg:off for a write of `size` bytes (limit and writability checked). */
  linearWrite(s: number, off: number, size: number): number {
    const o = off >>> 0;
    if (o < this.segMin[s]! || o + size - 1 > this.segMaxWrite[s]!) segmentFault(this, s);
    return (this.segBase[s]! + o) | 0;
  }

  read8(s: number, off: number): number { return this.readLin8(this.linear(s, off, 1)); }
  read16(s: number, off: number): number { return this.readLin16(this.linear(s, off, 2)); }
  read32(s: number, off: number): number { return this.readLin32(this.linear(s, off, 4)); }
  write8(s: number, off: number, v: number): void { this.writeLin8(this.linearWrite(s, off, 1), v); }
  write16(s: number, off: number, v: number): void { this.writeLin16(this.linearWrite(s, off, 2), v); }
  write32(s: number, off: number, v: number): void { this.writeLin32(this.linearWrite(s, off, 4), v); }

  // ---------------------------------------------------------------- memory by linear address


  readLin8(lin: number): number {
    const e = this.mmu.tlb[lin >>> 12]!, m = this.readMask;
    if ((e & m) === m) return this.mem.u8[(e & ~0xfff) | (lin & 0xfff)]!;
    return this.mem.read8(this.translateData(lin, 1, false));
  }
  readLin16(lin: number): number {
    if ((lin & 0xfff) === 0xfff) return this.readLin8(lin) | (this.readLin8(lin + 1) << 8);
    const e = this.mmu.tlb[lin >>> 12]!, m = this.readMask;
    if ((e & m) === m) return this.mem.view.getUint16((e & ~0xfff) | (lin & 0xfff), true);
    return this.mem.read16(this.translateData(lin, 2, false));
  }
  readLin32(lin: number): number {
    if ((lin & 0xfff) > 0xffc) return this.readLin16(lin) | (this.readLin16(lin + 2) << 16);
    const e = this.mmu.tlb[lin >>> 12]!, m = this.readMask;
    if ((e & m) === m) return this.mem.view.getInt32((e & ~0xfff) | (lin & 0xfff), true);
    return this.mem.read32(this.translateData(lin, 4, false));
  }
  writeLin8(lin: number, v: number): void {
    const e = this.mmu.tlb[lin >>> 12]!, m = this.writeMask;
    const p = (e & m) === m ? (e & ~0xfff) | (lin & 0xfff) : this.translateData(lin, 1, true);
    this.mem.write8(p, v);
  }
  writeLin16(lin: number, v: number): void {
    if ((lin & 0xfff) === 0xfff) {
      this.probeWriteLin(lin, 2);
      this.writeLin8(lin, v); this.writeLin8(lin + 1, v >> 8);
      return;
    }
    const e = this.mmu.tlb[lin >>> 12]!, m = this.writeMask;
    const p = (e & m) === m ? (e & ~0xfff) | (lin & 0xfff) : this.translateData(lin, 2, true);
    this.mem.write16(p, v);
  }
  writeLin32(lin: number, v: number): void {
    if ((lin & 0xfff) > 0xffc) {
      this.probeWriteLin(lin, 4);
      this.writeLin16(lin, v); this.writeLin16(lin + 2, v >>> 16);
      return;
    }
    const e = this.mmu.tlb[lin >>> 12]!, m = this.writeMask;
    const p = (e & m) === m ? (e & ~0xfff) | (lin & 0xfff) : this.translateData(lin, 4, true);
    this.mem.write32(p, v);
  }

  /**
   * Checks that a store of `size` bytes at `lin` may be done, without doing it: a store that faults
   * writes no byte (SDM Vol. 3A 6.15, #PF: the faulting instruction is not executed). The pages
   * are checked in address order, as the access itself would touch them, so a fault on the first
   * page reports the store's own address in CR2 and one on the second page reports that page's
   * first byte (the first address the access could not reach), not the store's last byte.
   */
  probeWriteLin(lin: number, size: number): void {
    this.mmu.translate(lin, true, this.cpl === 3);
    if ((lin & 0xfff) + size > 0x1000) this.mmu.translate((lin + size - 1) & ~0xfff, true, this.cpl === 3);
  }

  /** The TLB slow path of a data access, where data breakpoints are checked. */
  private translateData(lin: number, size: number, write: boolean): number {
    const p = this.mmu.translate(lin, write, this.cpl === 3);
    if (this.debugActive) this.dataBreakHits |= this.breakpointHits(lin, size, write ? 'write' : 'read');
    if (this.onDataAccess !== null) this.onDataAccess(lin, p, size, write);
    return p;
  }

  // ---------------------------------------------------------------- debug registers

  /** Re-reads DR7 after DR0-DR3 or DR7 changed (MOV DR, task switch, reset, state load). */
  updateDebugState(): void {
    const active = (this.dr[7]! & 0xff) !== 0;
    if (active !== this.debugActive || active) {
      this.debugActive = active;
      this.mmu.uncached = active || this.onDataAccess !== null;
      this.mmu.flush();
    }
  }

  /** Re-reads the debugger hooks (breakAt, breakEvery, onDataAccess) after a debugger changed them. */
  updateDebugHooks(): void {
    this.debugHooked = this.breakAt.size !== 0 || this.breakEvery || this.onDataAccess !== null || this.breakPending;
    const uncached = this.debugActive || this.onDataAccess !== null;
    if (uncached !== this.mmu.uncached) {
      this.mmu.uncached = uncached;
      this.mmu.flush();
      // Tagged (VPID) contexts too: a guest's cached translations would bypass the data hook.
      if (uncached) this.mmu.dropContexts((tag) => tag !== '');
    }
  }

  /**
   * At an instruction boundary with debugger hooks set: true when the debugger stops here. Under a
   * TypeScript hypervisor (non-root, `vmx.enter`) the stop is an immediate preemption-timer exit,
   * which the hypervisor handles as the end of a slice, so nothing guest-visible changes; otherwise
   * `run` returns { kind: 'stopped', why: 'debug' }.
   */
  private debugBoundary(): boolean {
    const lin = (this.segBase[SegReg.CS]! + this.eip) | 0;
    if (!this.breakPending && !((this.breakEvery || this.breakAt.has(lin)) && this.onBreak !== null && this.onBreak(lin))) return false;
    this.breakPending = false;
    if (this.vmx.nonRoot && this.vmx.stopOnExit) this.vmx.timerDeadline = 0;
    else this.stopRequest = 'debug';
    return true;
  }

  /**
   * DR6 B0-B3 bits of the enabled breakpoints an access matches (SDM Vol. 3B 17.2.4-17.2.5).
   * R/W 00 = execution at exactly DRn; 01 = data writes; 11 = data reads and writes; 10 = I/O,
   * which needs CR4.DE (not offered by this CPU) and never matches. LEN rounds DRn down.
   */
  breakpointHits(lin: number, size: number, kind: 'exec' | 'read' | 'write'): number {
    const dr7 = this.dr[7]!;
    const at = lin >>> 0;
    let hits = 0;
    for (let n = 0; n < 4; n++) {
      if (!((dr7 >>> (n * 2)) & 3)) continue;
      const rw = (dr7 >>> (16 + n * 4)) & 3;
      const addr = this.dr[n]! >>> 0;
      if (kind === 'exec') {
        if (rw === 0 && at === addr) hits |= 1 << n;
        continue;
      }
      if (rw !== 3 && !(rw === 1 && kind === 'write')) continue;
      const bytes = [1, 2, 8, 4][(dr7 >>> (18 + n * 4)) & 3]!;
      const start = addr - (addr % bytes);
      if (at < start + bytes && at + size > start) hits |= 1 << n;
    }
    return hits;
  }

  /**
   * Supervisor-mode accesses to system structures (GDT, LDT, IDT, TSS) regardless of CPL. One that
   * crosses a page boundary is split at it, each part through its own page's translation (the
   * structure's pages need not be adjacent in physical memory); a write checks both pages first.
   * They hit the TLB as CPL 0's data accesses do (SUPERVISOR_READ/WRITE), whatever the CPL: an
   * interrupt or a descriptor load would otherwise walk the page tables (and EPT) for every IDT,
   * GDT and TSS access.
   */
  readSystem32(lin: number): number {
    if ((lin & 0xfff) > 0xffc) return this.readSystem16(lin) | (this.readSystem16(lin + 2) << 16);
    return this.mem.read32(this.systemAddress(lin, false));
  }
  readSystem16(lin: number): number {
    if ((lin & 0xfff) === 0xfff) {
      return this.mem.read8(this.mmu.translate(lin, false, false)) | (this.mem.read8(this.mmu.translate(lin + 1, false, false)) << 8);
    }
    return this.mem.read16(this.systemAddress(lin, false));
  }
  writeSystem32(lin: number, v: number): void {
    if ((lin & 0xfff) > 0xffc) { this.writeSystemSplit(lin, 4, v); return; }
    this.mem.write32(this.systemAddress(lin, true), v);
  }
  writeSystem16(lin: number, v: number): void {
    if ((lin & 0xfff) === 0xfff) { this.writeSystemSplit(lin, 2, v); return; }
    this.mem.write16(this.systemAddress(lin, true), v);
  }
  /** The physical address of a supervisor access within one page: from the TLB, else a walk. */
  private systemAddress(lin: number, write: boolean): number {
    const e = this.mmu.tlb[lin >>> 12]!, m = write ? SUPERVISOR_WRITE : SUPERVISOR_READ;
    return (e & m) === m ? (e & ~0xfff) | (lin & 0xfff) : this.mmu.translate(lin, write, false);
  }
  private writeSystemSplit(lin: number, size: number, v: number): void {
    this.mmu.translate(lin, true, false);
    this.mmu.translate((lin + size - 1) & ~0xfff, true, false);
    for (let i = 0; i < size; i++) this.mem.write8(this.mmu.translate((lin + i) | 0, true, false), v >>> (i * 8));
  }

  // ---------------------------------------------------------------- stack

  get stackBits(): 16 | 32 { return this.segAttr[SegReg.SS]! & 0x4000 ? 32 : 16; }

  /** PUSH of a dword; the flat-stack fast path does one TLB compare and one store. */
  push32(v: number): void {
    const sp = (this.r[4]! - 4) | 0;
    if (this.flatStack) {
      const e = this.mmu.tlb[sp >>> 12]!, m = this.writeMask;
      if ((e & m) === m && (sp & 0xfff) <= 0xffc) {
        const p = (e & ~0xfff) | (sp & 0xfff);
        this.mem.view.setInt32(p, v, true);
        if (this.mem.codePages[p >>> PAGE_SHIFT]) this.mem.onCodeWrite(p >>> PAGE_SHIFT, p & PAGE_MASK, 4);
        this.r[4] = sp;
        return;
      }
    }
    this.push(4, v);
  }

  /** POP of a dword, with the same fast path. */
  pop32(): number {
    const sp = this.r[4]!;
    if (this.flatStack) {
      const e = this.mmu.tlb[sp >>> 12]!, m = this.readMask;
      if ((e & m) === m && (sp & 0xfff) <= 0xffc) {
        const v = this.mem.view.getInt32((e & ~0xfff) | (sp & 0xfff), true);
        this.r[4] = (sp + 4) | 0;
        return v;
      }
    }
    return this.pop(4);
  }

  push(size: 2 | 4, v: number): void {
    const esp = this.r[4]!;
    if (this.stackBits === 32) {
      const sp = (esp - size) | 0;
      if (size === 4) this.write32(SegReg.SS, sp, v); else this.write16(SegReg.SS, sp, v);
      this.r[4] = sp;
    } else {
      const sp = (esp - size) & 0xffff;
      if (size === 4) this.write32(SegReg.SS, sp, v); else this.write16(SegReg.SS, sp, v);
      this.r16[8] = sp;
    }
  }
  /** Reads the top of stack at `offset` bytes in, without popping. */
  peek(size: 2 | 4, offset = 0): number {
    const sp = this.stackBits === 32 ? (this.r[4]! + offset) | 0 : (this.r[4]! + offset) & 0xffff;
    return size === 4 ? this.read32(SegReg.SS, sp) : this.read16(SegReg.SS, sp);
  }
  pop(size: 2 | 4): number {
    const v = this.peek(size);
    this.adjustSp(size);
    return v;
  }
  adjustSp(delta: number): void {
    if (this.stackBits === 32) this.r[4] = (this.r[4]! + delta) | 0;
    else this.r16[8] = (this.r16[8]! + delta) & 0xffff;
  }

  // ---------------------------------------------------------------- decoding

  private fetchLinear(lin: number): number {
    const e = this.mmu.tlb[lin >>> 12]!, m = this.readMask;
    if ((e & m) === m) return this.mem.u8[(e & ~0xfff) | (lin & 0xfff)]!;
    return this.mem.read8(this.mmu.translate(lin, false, this.cpl === 3, true));
  }

  /** Decodes the instruction at CS:EIP, from the cache when its bytes have not changed. */
  fetchDecode(): DecodedInsn {
    const eip = this.eip;
    const csBase = this.segBase[SegReg.CS]!;
    const lin = (csBase + eip) | 0;
    // Translate first (it may #PF): the cache is keyed by physical address and code size.
    const e = this.mmu.tlb[lin >>> 12]!, m = this.readMask;
    const phys = (e & m) === m ? (e & ~0xfff) | (lin & 0xfff) : this.mmu.translate(lin, false, this.cpl === 3, true);
    const bits = this.codeBits;
    const pageKey = (phys >>> PAGE_SHIFT) * 2 + (bits === 32 ? 1 : 0);
    let page: (DecodedInsn | undefined)[] | undefined = this.lastDecodePage;
    if (pageKey !== this.lastDecodeKey) {
      page = this.decodePages.get(pageKey);
      if (page !== undefined) { this.lastDecodeKey = pageKey; this.lastDecodePage = page; }
    }
    let d = page === undefined ? undefined : page[phys & PAGE_MASK];
    if (d === undefined || !this.mem.isRam(phys)) {
      const limit = this.segMax[SegReg.CS]!;
      const r = decode((i) => {
        if ((eip >>> 0) + i > limit) segmentFault(this, SegReg.CS);
        return this.fetchLinear((lin + i) | 0);
      }, bits);
      if (isDecodeFailure(r)) {
        if (r.fault === 'UD') this.undefinedOpcode(lin);
        return raise(Vector.GP, 0);
      }
      d = r;
      if (this.mem.isRam(phys) && this.mem.isRam(phys + d.length - 1)) this.rememberDecoded(pageKey, phys, d.length, d);
    } else if ((eip >>> 0) + d.length - 1 > this.segMax[SegReg.CS]!) {
      segmentFault(this, SegReg.CS);
    }
    return d;
  }

  /**
   * An opcode outside the subset: #UD, except that the x87 escapes (D8-DF) raise #NM when CR0.EM
   * or CR0.TS is set and WAIT (9B) raises #NM when CR0.MP and CR0.TS are, as the SDM's x87
   * exception rules order them (this CPU has no FPU: CPUID.1:EDX.FPU = 0, so #UD otherwise).
   */
  private undefinedOpcode(lin: number): never {
    const cr0 = this.mmu.cr0;
    if (cr0 & 0xe) {
      let op = -1;
      for (let i = 0; i < 15; i++) {
        const b = this.fetchLinear((lin + i) | 0);
        if (b === 0x66 || b === 0x67 || b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x26 || b === 0x2e
          || b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65) continue;
        op = b;
        break;
      }
      if (op >= 0xd8 && op <= 0xdf && (cr0 & 0xc)) raise(Vector.NM);
      if (op === 0x9b && (cr0 & 0xa) === 0xa) raise(Vector.NM);
    }
    return raise(Vector.UD);
  }

  private rememberDecoded(pageKey: number, phys: number, length: number, d: DecodedInsn): void {
    let page = this.decodePages.get(pageKey);
    if (page === undefined) { page = new Array<DecodedInsn | undefined>(PAGE_SIZE); this.decodePages.set(pageKey, page); }
    page[phys & PAGE_MASK] = d;
    const key = phys * 2 + (pageKey & 1);
    const first = phys >>> PAGE_SHIFT, last = (phys + length - 1) >>> PAGE_SHIFT;
    for (let p = first; p <= last; p++) {
      let keys = this.pageDecodeKeys.get(p);
      if (!keys) { keys = []; this.pageDecodeKeys.set(p, keys); }
      keys.push(key);
    }
    this.markCode(phys, length);
  }

  /**
   * Per page holding decoded code, one bit per byte that some decoded instruction or compiled
   * block was made from. A write to the page that misses every such byte (data a guest keeps
   * beside its code) leaves what was decoded alone.
   */
  private readonly codeBytes = new Map<number, Uint8Array>();

  /** Marks the bytes [phys, phys + length) as decoded code (they may run into the next page). */
  private markCode(phys: number, length: number): void {
    let page = -1, bits: Uint8Array | undefined;
    for (let a = phys, end = phys + length; a < end; a++) {
      if (a >>> PAGE_SHIFT !== page) {
        page = a >>> PAGE_SHIFT;
        bits = this.codeBytes.get(page);
        if (bits === undefined) { bits = new Uint8Array(PAGE_SIZE >>> 3); this.codeBytes.set(page, bits); }
        this.mem.codePages[page] = 1;
      }
      bits![(a & PAGE_MASK) >>> 3]! |= 1 << (a & 7);
    }
  }

  /** A write hit a page holding decoded code: only one that changed a decoded byte invalidates it. */
  private codeWritten(page: number, offset: number, size: number): void {
    const bits = this.codeBytes.get(page);
    if (bits !== undefined) {
      let hit = false;
      for (let a = offset, end = Math.min(offset + size, PAGE_SIZE); a < end && !hit; a++) hit = (bits[a >>> 3]! & (1 << (a & 7))) !== 0;
      if (!hit) return;
    }
    this.invalidateCodePage(page);
  }

  /**
   * How often each page's compiled blocks were thrown away by a write to their bytes (code that
   * rewrites itself, or data inside a block's bytes). The block compiler keeps blocks short on a
   * page that is rewritten often, where each block is soon compiled again.
   */
  readonly codePageRewrites = new Map<number, number>();

  /** A write changed decoded code on `page` (or a caller drops the page): forget everything decoded from it. */
  invalidateCodePage(page: number): void {
    const keys = this.pageDecodeKeys.get(page);
    if (keys) {
      for (const k of keys) {
        const phys = Math.floor(k / 2), decoded = this.decodePages.get((phys >>> PAGE_SHIFT) * 2 + (k & 1));
        if (decoded !== undefined) decoded[phys & PAGE_MASK] = undefined;
      }
    }
    this.pageDecodeKeys.delete(page);
    const blocks = this.pageBlockKeys.get(page);
    if (blocks) {
      for (const k of blocks) { const b = this.blockCache.get(k); if (b) b.valid = false; this.blockCache.delete(k); }
      this.codePageRewrites.set(page, (this.codePageRewrites.get(page) ?? 0) + 1);
    }
    this.pageBlockKeys.delete(page);
    this.codeBytes.delete(page);
    this.mem.codePages[page] = 0;
    this.codeChanged = true;
  }

  /** Drops every decoded instruction and compiled block (tests, snapshots). */
  flushDecodeCache(): void {
    for (const p of this.pageDecodeKeys.keys()) this.mem.codePages[p] = 0;
    for (const p of this.pageBlockKeys.keys()) this.mem.codePages[p] = 0;
    this.decodePages.clear();
    this.lastDecodeKey = -1;
    this.lastDecodePage = [];
    this.pageDecodeKeys.clear();
    this.blockCache.clear();
    this.pageBlockKeys.clear();
    this.codeBytes.clear();
  }

  /**
   * Runs one compiled block at CS:EIP, or returns false when the instruction there must be
   * single-stepped (no block could be compiled for it).
   */
  private runBlock(): boolean {
    const lin = (this.segBase[SegReg.CS]! + this.eip) | 0;
    let phys: number;
    const e = this.mmu.tlb[lin >>> 12]!, m = this.readMask;
    if ((e & m) === m) phys = (e & ~0xfff) | (lin & 0xfff);
    else {
      try {
        phys = this.mmu.translate(lin, false, this.cpl === 3, true);
      } catch (err) {
        if (!isCpuFault(err)) throw err;
        this.deliverEvent(err.vector, err.errorCode, 'exception');
        return true;
      }
    }
    const key = phys * 2 + (this.codeBits === 32 ? 1 : 0);
    let block = this.blockCache.get(key);
    if (block && (block.starts[0] !== this.eip || block.csBase !== this.segBase[SegReg.CS])) block = undefined;
    if (block === undefined) {
      try {
        block = compileBlock(this, phys);
      } catch (err) {
        if (!isCpuFault(err)) throw err;
        return false; // let the interpreter raise the decode fault with full bookkeeping
      }
      if (block === null || !this.mem.isRam(phys)) return false;
      this.blockCache.set(key, block);
      const page = phys >>> PAGE_SHIFT;
      let keys = this.pageBlockKeys.get(page);
      if (!keys) { keys = []; this.pageBlockKeys.set(page, keys); }
      keys.push(key);
      const pageBase = phys & ~PAGE_MASK;
      for (let i = 0; i < block.count; i++) this.markCode(pageBase | ((block.csBase + block.starts[i]!) & PAGE_MASK), block.lengths[i]!);
    }
    if (block === null) return false;
    // A block runs whole or not at all: with less budget left than it may retire (a deadline is
    // close), the interpreter steps up to the deadline instead.
    if (block.count > this.chainBudget - this.icount) return false;
    this.executeBlock(block);
    return true;
  }

  /**
   * Runs a block, then follows its successors directly while they are known (block chaining):
   * a block remembers the block it last exited to, valid while the translation epoch, the code
   * segment and the successor's own validity are unchanged. Interrupts, stop requests and the
   * budget are checked between blocks exactly as in the dispatcher.
   */
  private executeBlock(first: CompiledBlock): void {
    let block: CompiledBlock | null = first;
    while (block !== null) {
      this.runOneBlock(block);
      if (this.stopRequest !== null || this.halted || this.interruptShadow || (this.lf.flags & TF)
        // A pending interrupt ends the chain when IF lets it in, and in non-root operation even
        // with IF clear (external-interrupt exiting takes it as a VM exit: the dispatcher decides).
        // Without an interrupt source (a hypervisor's host) that is all.
        || (this.intr !== null && (this.lf.flags & IF || this.vmx.nonRoot) && this.intr.hasPendingInterrupt())) return;
      const eip = this.eip, epoch = this.mmu.epoch, csBase = this.segBase[SegReg.CS]!;
      let link: CompiledBlock | null = null;
      if (block.chainEpoch === epoch && block.chainCsBase === csBase) {
        if (block.chainEip === eip) link = block.chainBlock;
        else if (block.chainEip2 === eip) link = block.chainBlock2;
      }
      if (link !== null && link.valid) {
        if (link.count > this.chainBudget - this.icount) return;
        block = link;
        continue;
      }
      const next = this.lookupBlock();
      if (next === null || next.count > this.chainBudget - this.icount) return;
      if (block.chainEpoch !== epoch || block.chainCsBase !== csBase) {
        block.chainEpoch = epoch; block.chainCsBase = csBase;
        block.chainEip = -1; block.chainBlock = null; block.chainEip2 = -1; block.chainBlock2 = null;
      }
      // Two ways: the newest successor goes to slot 1, the previous one moves to slot 2.
      block.chainEip2 = block.chainEip; block.chainBlock2 = block.chainBlock;
      block.chainEip = eip; block.chainBlock = next;
      block = next;
    }
  }

  /** The compiled block at CS:EIP if one is cached and translating EIP cannot fault. */
  private lookupBlock(): CompiledBlock | null {
    const lin = (this.segBase[SegReg.CS]! + this.eip) | 0;
    const e = this.mmu.tlb[lin >>> 12]!, m = this.readMask;
    if ((e & m) !== m) return null;
    const phys = (e & ~0xfff) | (lin & 0xfff);
    const block = this.blockCache.get(phys * 2 + (this.codeBits === 32 ? 1 : 0));
    // The same physical code at another linear address (CS base, alias mapping) needs its own block.
    return block && block.starts[0] === this.eip && block.csBase === this.segBase[SegReg.CS] ? block : null;
  }

  private runOneBlock(block: CompiledBlock): void {
    if (this.history !== null) this.history[this.historyAt++ & (this.history.length - 1)] = (this.segBase[SegReg.CS]! + this.eip) | 0;
    this.codeChanged = false;
    this.blockSkipped = 0;
    try {
      block.run(this);
    } catch (err) {
      if (!isCpuFault(err)) throw err;
      const retired = block.starts.indexOf(this.eip) - this.blockSkipped;
      this.icount += retired < 0 ? 0 : retired;
      this.interruptShadow = false;
      this.deliverEvent(err.vector, err.errorCode, 'exception');
    }
  }

  /**
   * Instruction count at which the current `run` must stop (the preemption timer's deadline too):
   * chaining respects it, and so do blocks that loop back to their own start.
   */
  chainBudget = 0;
  /**
   * Instruction count at which the current `run` returns { kind: 'budget' }. A VM entry the
   * processor performs without returning from `run` (Vmx.fastExit) renews it, as its own
   * `enter` would have.
   */
  runEnd = 0;

  /** Sets chainBudget: the run's end, and in non-root operation the preemption timer's deadline. */
  armChainBudget(): void {
    const deadline = this.vmx.nonRoot ? this.vmx.timerDeadline : Infinity;
    this.chainBudget = deadline === Infinity ? this.runEnd
      : Math.min(this.runEnd, this.icount + Math.max(1, deadline - (this.icount + this.tscOffsetNumber)));
  }

  // ---------------------------------------------------------------- execution

  /**
   * Executes one instruction (or delivers one pending event). After a VM exit whose host state
   * was deferred, the host is loaded first: root operation runs.
   */
  step(): void {
    if (this.vmx.hostPending !== null) this.vmx.loadPendingHostState();
    this.execute();
  }

  /** `step` for `run`, whose loop has already loaded any deferred host state. */
  private execute(): void {
    const start = this.eip;
    this.insnStart = start;
    // Single-step traps follow TF as it was when the instruction began: POPF/IRET that set TF trap
    // after the next instruction, ones that clear it still trap (SDM Vol. 3A 17.3.1.4).
    const tfAtStart = this.lf.flags & TF;
    if (this.history !== null) this.history[this.historyAt++ & (this.history.length - 1)] = (this.segBase[SegReg.CS]! + start) | 0;
    const debug = this.debugActive;
    let rf = 0;
    if (debug) {
      rf = this.lf.flags & RF;
      // Instruction breakpoints are faults taken before the instruction, unless RF is set.
      const hits = rf ? 0 : this.breakpointHits((this.segBase[SegReg.CS]! + start) | 0, 1, 'exec');
      if (hits) {
        this.dr[6] = (this.dr[6]! & ~0xf) | hits;
        this.deliverEvent(Vector.DB, -1, 'exception');
        return;
      }
      this.dataBreakHits = 0;
    }
    try {
      const d = this.fetchDecode();
      const next = (start + d.length) | 0;
      this.nextEip = this.codeBits === 16 ? next & 0xffff : next;
      this.interruptShadow = false;
      this.movSsShadow = false;
      this.softwareEventDelivered = false;
      EXECUTORS[d.form.id]!(this, d);
      if (this.vmx.exitTaken !== InstructionExit.NONE) { // taken or completed in place: it did not retire
        this.vmx.exitTaken = InstructionExit.NONE;
        return;
      }
      this.eip = this.nextEip;
      this.icount++;
      // RF is cleared once an instruction completes (IRET that just loaded it keeps it).
      if (rf) this.lf.flags &= ~RF;
      // Single-step and data breakpoints are traps after the instruction (SDM 17.3.1.2-17.3.1.4).
      // MOV SS/POP SS hold the trap over the next instruction; INT n, INT3 and INTO enter their
      // handler (which runs with TF clear) without one.
      let db = tfAtStart && !this.movSsShadow && !this.softwareEventDelivered ? 0x4000 : 0;
      if (debug && this.dataBreakHits) db |= this.dataBreakHits;
      if (db) {
        this.dr[6] = (this.dr[6]! & ~0xf) | db;
        this.deliverEvent(Vector.DB, -1, 'exception');
      }
    } catch (e) {
      if (!isCpuFault(e)) throw e;
      this.eip = start;
      this.interruptShadow = false;
      this.deliverEvent(e.vector, e.errorCode, 'exception');
    }
  }

  /**
   * Delivers an exception or interrupt, applying the double- and triple-fault rules. In VMX
   * non-root operation an exception may exit instead (exception bitmap), and the pseudo-vector
   * VMEXIT_VECTOR completes a VM exit raised inside the instruction or the delivery.
   * 'software-exception' is INT3/INTO (or an injected one); 'injected-exception' is a hardware
   * exception injected at VM entry (not intercepted, CR2 untouched).
   */
  deliverEvent(vector: number, errorCode: number, kind: CpuEventKind): void {
    if (vector === VMEXIT_VECTOR) {
      const outer = this.deliveringVector;
      this.vmx.completeExit(outer >= 0 ? { vector: outer, errorCode: this.deliveringError, kind: this.deliveringKind } : null);
      return;
    }
    if (this.vmx.nonRoot && (kind === 'exception' || kind === 'software-exception') && this.deliveringVector < 0
      && this.vmx.interceptException(vector, errorCode, kind)) return;
    if (vector === Vector.PF && kind !== 'injected-exception') this.mmu.cr2 = this.mmu.faultAddress;
    const outer = this.deliveringVector;
    if (outer >= 0 && kind === 'exception') {
      if (outer === Vector.DF) { this.tripleFault(vector); return; }
      const contributory = (v: number): boolean => v === 0 || (v >= 10 && v <= 13);
      if ((contributory(outer) && contributory(vector)) || (outer === Vector.PF && (vector === Vector.PF || contributory(vector)))) {
        vector = Vector.DF; errorCode = 0;
      }
    }
    this.deliveringVector = vector;
    this.deliveringError = errorCode;
    this.deliveringKind = kind;
    try {
      deliverInterrupt(this, vector, errorCode, kind === 'software-exception' ? 'software' : kind === 'injected-exception' ? 'exception' : kind);
      this.deliveringVector = -1;
    } catch (e) {
      if (!isCpuFault(e)) throw e;
      this.deliverEvent(e.vector, e.errorCode, 'exception');
    } finally {
      this.deliveringVector = -1;
    }
  }

  /**
   * INT n, INT3, INTO: delivered as software interrupts returning to the next instruction. A fault
   * during delivery is reported at the INT instruction itself (not as a double fault).
   */
  /** Set when the current instruction delivered INT n/INT3/INTO (no single-step trap after it). */
  private softwareEventDelivered = false;

  deliverEventFromInstruction(vector: number, softwareException = false): void {
    this.softwareEventDelivered = true;
    if (softwareException && this.vmx.nonRoot && this.vmx.interceptException(vector, -1, 'software-exception')) return;
    try {
      deliverInterrupt(this, vector, -1, 'software');
    } catch (e) {
      // A VM exit during the delivery reports the interrupt as IDT-vectoring information.
      if (isCpuFault(e) && e.vector === VMEXIT_VECTOR) this.vmx.recordVectoring(vector, -1, softwareException ? 'software-exception' : 'software');
      throw e;
    }
  }

  tripleFaulted: { vector: number } | null = null;
  private tripleFault(vector: number): void {
    if (this.vmx.nonRoot) { this.vmx.tripleFault(); return; }
    this.tripleFaulted = { vector };
    this.stopRequest = 'triple fault';
  }

  /**
   * Runs until `maxInstructions` more have retired, the CPU halts with nothing to wake it, a triple
   * fault, or stopRequest. External interrupts are taken between instructions when IF allows.
   */
  run(maxInstructions: number): StopReason {
    this.runEnd = this.icount + maxInstructions;
    this.chainBudget = this.runEnd;
    this.stopRequest = null;
    while (this.icount < this.runEnd) {
      if (this.stopRequest !== null) {
        if (this.tripleFaulted) return { kind: 'triple-fault', vector: this.tripleFaulted.vector };
        return { kind: 'stopped', why: this.stopRequest };
      }
      if (this.vmx.nonRoot) {
        if (this.vmx.boundaryExit() || this.vmx.externalInterruptExit()) continue;
      } else if (this.vmx.hostPending !== null) this.vmx.loadPendingHostState();
      this.armChainBudget();
      if (!this.interruptShadow && (this.lf.flags & IF) && this.intr?.hasPendingInterrupt()) {
        this.halted = false;
        const vector = this.intr.acknowledge();
        this.deliverEvent(vector, -1, 'external');
        continue;
      }
      if (this.halted) return { kind: 'halted' };
      if (this.debugHooked) {
        if (!this.debugBoundary()) this.execute();
        continue;
      }
      if (this.engine === 'blocks' && !this.interruptShadow && !(this.lf.flags & TF) && !this.debugActive
        && !this.vmx.needsBoundaryChecks && this.runBlock()) continue;
      this.execute();
    }
    if (this.tripleFaulted) return { kind: 'triple-fault', vector: this.tripleFaulted.vector };
    return { kind: 'budget' };
  }

  /** EFLAGS bits an instruction may change at the current privilege (POPF, IRET). */
  writableFlagsMask(size: 2 | 4): number {
    let mask = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | TF | DF | 0x800 | NT;
    if (size === 4) mask |= AC | 0x200000;
    if (this.cpl === 0 || !this.protectedMode) mask |= 0x3000; // IOPL
    if (!this.protectedMode || this.cpl <= this.iopl) mask |= IF;
    if (size === 2) mask &= 0xffff;
    return mask & ~(RF | VM);
  }
}

/** The form of each table row, for tools that enumerate what the CPU executes. */
export const EXECUTED_FORMS: readonly InsnForm[] = FORMS;
export { CpuFault };
