/**
 * A small machine for CPU tests: a Cpu in flat 32-bit protected mode (enterFlatProtectedMode) with a
 * real GDT (ring 0 and ring 3 flat segments, a TSS), an IDT whose 32 exception gates each point at
 * their own HLT, and helpers to load code, run it, and read back what happened.
 *
 * An exception shows up as the CPU halted inside the handler area; `run` turns that into
 * { vector, errorCode, eip } read from the frame the CPU pushed.
 *
 * The project's assembler is not available yet, so tests keep raw bytes with their NASM source in a
 * comment next to them.
 */
import { Cpu } from '../../emulator/cpu/cpu.js';
import { enterFlatProtectedMode, SegReg } from '../../emulator/cpu/segments.js';

export const GDT_BASE = 0x500;
export const IDT_BASE = 0x800;
export const HANDLER_BASE = 0x1000;
export const TSS_BASE = 0x1200;
export const PAGE_DIR = 0x2000;
export const PAGE_TABLE = 0x3000;
export const CODE_BASE = 0x10000;
export const DATA_BASE = 0x20000;
export const USER_STACK = 0x70000;
export const STACK_TOP = 0x80000;
export const RING0_STACK = 0x7f000;

/** Selectors of the harness GDT. */
export const SEL = { CODE0: 0x08, DATA0: 0x10, CODE3: 0x1b, DATA3: 0x23, TSS: 0x28, LDT: 0x30 } as const;

const EXCEPTION_VECTORS = 32;

export interface Outcome {
  /** The exception delivered, or null when the code ran to its final HLT (or out of budget). */
  exception: { vector: number; errorCode: number; eip: number } | null;
}

/** A descriptor's two dwords. */
export function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const low = ((base & 0xffff) << 16) | (limit & 0xffff);
  const high = (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [low | 0, high | 0];
}

export class Machine {
  readonly cpu: Cpu;

  constructor(options: { ramSize?: number; engine?: 'blocks' | 'interpret' } = {}) {
    this.cpu = new Cpu({ ramSize: options.ramSize ?? 1 << 20 });
    this.cpu.engine = options.engine ?? 'interpret';
    this.reset();
  }

  /** Flat protected mode at CPL 0 with the GDT, IDT, TSS and handler stubs in place. */
  reset(): void {
    const c = this.cpu;
    c.reset();
    c.mem.u8.fill(0, 0, 0x4000);
    enterFlatProtectedMode(c);
    const gdt: [number, number][] = [
      [0, 0],
      descriptor(0, 0xfffff, 0x9b, 0xc),
      descriptor(0, 0xfffff, 0x93, 0xc),
      descriptor(0, 0xfffff, 0xfb, 0xc),
      descriptor(0, 0xfffff, 0xf3, 0xc),
      descriptor(TSS_BASE, 0x67, 0x89, 0),
      descriptor(0x3800, 0x17, 0x82, 0),
    ];
    gdt.forEach(([lo, hi], i) => { c.mem.write32(GDT_BASE + i * 8, lo); c.mem.write32(GDT_BASE + i * 8 + 4, hi); });
    c.gdtBase = GDT_BASE; c.gdtLimit = gdt.length * 8 - 1;
    for (let v = 0; v < EXCEPTION_VECTORS; v++) {
      const handler = HANDLER_BASE + v * 8;
      c.mem.write8(handler, 0xf4); // hlt
      c.mem.write32(IDT_BASE + v * 8, (SEL.CODE0 << 16) | (handler & 0xffff));
      c.mem.write32(IDT_BASE + v * 8 + 4, (handler & 0xffff0000) | 0x8e00); // 32-bit interrupt gate, DPL 0
    }
    c.idtBase = IDT_BASE; c.idtLimit = EXCEPTION_VECTORS * 8 - 1;
    // TSS: ESP0/SS0 for exceptions from ring 3; I/O bitmap offset beyond the limit (no bitmap).
    c.mem.write32(TSS_BASE + 4, RING0_STACK);
    c.mem.write32(TSS_BASE + 8, SEL.DATA0);
    c.mem.write16(TSS_BASE + 102, 0x68);
    c.segSel[SegReg.TR] = SEL.TSS; c.segBase[SegReg.TR] = TSS_BASE; c.segLimit[SegReg.TR] = 0x67;
    c.segAttr[SegReg.TR] = 0x8b;
    c.updateSegmentBounds(SegReg.TR);
    c.r[4] = STACK_TOP;
    c.eip = CODE_BASE;
    c.eflags = 0x2;
    c.flushDecodeCache();
  }

  /** Copies code to CODE_BASE (or `at`) and points EIP at it. */
  load(bytes: readonly number[], at = CODE_BASE): void {
    this.poke(at, bytes);
    this.cpu.eip = at;
  }

  poke(at: number, bytes: readonly number[]): void {
    for (let i = 0; i < bytes.length; i++) this.cpu.mem.write8(at + i, bytes[i]!);
  }

  peek32(at: number): number {
    return this.cpu.mem.read32(at);
  }

  /** Switches to CPL 3 with the flat ring-3 segments (as an IRET to ring 3 would leave it). */
  enterUserMode(): void {
    const c = this.cpu;
    const set = (s: number, sel: number, attr: number): void => {
      c.segSel[s] = sel; c.segBase[s] = 0; c.segLimit[s] = -1; c.segAttr[s] = attr; c.updateSegmentBounds(s);
    };
    set(SegReg.CS, SEL.CODE3, 0xc0fb);
    for (const s of [SegReg.SS, SegReg.DS, SegReg.ES, SegReg.FS, SegReg.GS]) set(s, SEL.DATA3, 0xc0f3);
    c.cpl = 3;
    c.r[4] = USER_STACK;
  }

  /** Identity-maps the first 4 MiB with 4 KiB user-writable pages and turns paging on. */
  enablePaging(): void {
    const c = this.cpu;
    c.mem.write32(PAGE_DIR, PAGE_TABLE | 0x7);
    for (let i = 0; i < 1024; i++) c.mem.write32(PAGE_TABLE + i * 4, (i << 12) | 0x7);
    c.mmu.cr3 = PAGE_DIR;
    c.mmu.cr0 |= 0x80000000;
    c.mmu.flush(true);
  }

  /** Rewrites the PTE of one identity-mapped page (after enablePaging). */
  setPte(linear: number, flags: number): void {
    this.cpu.mem.write32(PAGE_TABLE + (linear >>> 12) * 4, (linear & ~0xfff) | flags);
    this.cpu.mmu.flush(true);
  }

  /** Runs until HLT (the code's own or an exception stub's) or the budget runs out. */
  run(maxInstructions = 100_000): Outcome {
    const c = this.cpu;
    c.run(maxInstructions);
    const at = (c.eip - 1) >>> 0;
    if (c.halted && at >= HANDLER_BASE && at < HANDLER_BASE + EXCEPTION_VECTORS * 8) {
      const vector = (at - HANDLER_BASE) >> 3;
      const hasCode = vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
      const sp = c.r[4]! >>> 0;
      return {
        exception: {
          vector,
          errorCode: hasCode ? c.mem.read32(sp) : -1,
          eip: c.mem.read32(sp + (hasCode ? 4 : 0)) >>> 0,
        },
      };
    }
    return { exception: null };
  }
}

/** Runs `bytes` followed by HLT in a fresh machine and returns the machine and outcome. */
export function runCode(bytes: readonly number[], setup?: (m: Machine) => void, engine: 'blocks' | 'interpret' = 'interpret'): { m: Machine; out: Outcome } {
  const m = new Machine({ engine });
  setup?.(m);
  m.poke(m.cpu.eip, [...bytes, 0xf4]);
  m.cpu.flushDecodeCache();
  const out = m.run();
  return { m, out };
}

/** Assembles NASM source with the project's assembler (32-bit, org CODE_BASE unless the source says). */
export async function asm(source: string): Promise<number[]> {
  const { assemble } = await import('../../assembler/index.js');
  const r = assemble(`bits 32\norg ${CODE_BASE}\n${source}`, { fileName: 'test.asm' });
  return [...r.binary];
}
