/**
 * System instructions (SDM Vol. 2 and Vol. 3A chapter 2): the descriptor-table registers (LGDT
 * LIDT SGDT SIDT LLDT SLDT LTR STR), the machine status word (LMSW SMSW CLTS), TLB and cache
 * maintenance (INVLPG INVD WBINVD), the time-stamp counter (RDTSC RDTSCP), MSRs (RDMSR WRMSR) and
 * fast system calls (SYSENTER SYSEXIT).
 *
 * The table's `cpl0` (#GP(0) at CPL > 0) and `pm` (#UD in real and virtual-8086 mode) rules are
 * enforced for every row by exec/index.ts before these bodies run.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { IF, RF, VM } from '../flags.js';
import { Msr, readMsr, readMsr32, readTsc, writeMsr } from '../msr.js';
import { descriptorAttr, readDescriptor, SegReg, SEG_ATTR_UNUSABLE, setSegmentCache } from '../segments.js';
import type { ExecutorFamily } from './index.js';
import { writeControlRegister } from './system-registers.js';
import { effectiveAddress, readE, setReg, writeE, type Width } from './operands.js';

const CR4_TSD = 1 << 2;

/** LGDT/LIDT: limit (16 bits) then base; a 16-bit operand size keeps 24 bits of the base. */
function loadTableRegister(which: 'gdt' | 'idt') {
  return (c: Cpu, d: DecodedInsn): void => {
    const ea = effectiveAddress(c, d);
    const limit = c.read16(d.segment, ea);
    let base = c.read32(d.segment, (ea + 2) | 0);
    if (d.opsize === 16) base &= 0xffffff;
    if (which === 'gdt') { c.gdtBase = base; c.gdtLimit = limit; } else { c.idtBase = base; c.idtLimit = limit; }
  };
}

/** SGDT/SIDT: 16-bit operand size stores a 24-bit base with the top byte 0 (SDM SGDT). */
function storeTableRegister(which: 'gdt' | 'idt') {
  return (c: Cpu, d: DecodedInsn): void => {
    const ea = effectiveAddress(c, d);
    const limit = which === 'gdt' ? c.gdtLimit : c.idtLimit;
    let base = which === 'gdt' ? c.gdtBase : c.idtBase;
    if (d.opsize === 16) base &= 0xffffff;
    // Check the whole 6-byte destination before storing any of it.
    c.linearWrite(d.segment, ea, 6);
    c.write16(d.segment, ea, limit);
    c.write32(d.segment, (ea + 2) | 0, base);
  };
}

/** SLDT, STR, SMSW: a register destination takes the operand size (zero-extended); memory 16 bits. */
function storeWord(c: Cpu, d: DecodedInsn, v: number): void {
  if (d.hasMemory) writeE(c, d, 16, v);
  else setReg(c, d.rm, d.opsize as Width, d.opsize === 16 ? v & 0xffff : v);
}

/** LLDT (SDM LLDT): a null selector marks LDTR unusable; otherwise an LDT descriptor in the GDT. */
function lldt(c: Cpu, d: DecodedInsn): void {
  const sel = readE(c, d, 16);
  if ((sel & ~3) === 0) {
    c.segSel[SegReg.LDTR] = sel;
    c.segBase[SegReg.LDTR] = 0; c.segLimit[SegReg.LDTR] = 0;
    c.segAttr[SegReg.LDTR] = SEG_ATTR_UNUSABLE;
    c.updateSegmentBounds(SegReg.LDTR);
    return;
  }
  if (sel & 4) raise(Vector.GP, sel & 0xfffc);
  const desc = readDescriptor(c, sel);
  const attr = descriptorAttr(desc);
  if ((attr & 0x1f) !== 0x02) raise(Vector.GP, sel & 0xfffc);
  if (!(attr & 0x80)) raise(Vector.NP, sel & 0xfffc);
  setSegmentCache(c, SegReg.LDTR, sel, desc);
}

/** LTR (SDM LTR): an available TSS in the GDT, which becomes busy. */
function ltr(c: Cpu, d: DecodedInsn): void {
  const sel = readE(c, d, 16);
  if ((sel & ~3) === 0) raise(Vector.GP, 0);
  if (sel & 4) raise(Vector.GP, sel & 0xfffc);
  const desc = readDescriptor(c, sel);
  const type = descriptorAttr(desc) & 0x1f;
  if (type !== 0x01 && type !== 0x09) raise(Vector.GP, sel & 0xfffc);
  if (!(descriptorAttr(desc) & 0x80)) raise(Vector.NP, sel & 0xfffc);
  desc.high |= 0x200;
  c.writeSystem32(desc.address + 4, desc.high);
  setSegmentCache(c, SegReg.TR, sel, desc);
}

/** LMSW: loads CR0 bits 0-3 (PE MP EM TS); PE can be set but not cleared. */
function lmsw(c: Cpu, d: DecodedInsn): void {
  const msw = readE(c, d, 16);
  const cr0 = c.mmu.cr0;
  writeControlRegister(c, 0, (cr0 & ~0xe) | (msw & 0xf) | (cr0 & 1));
}

/** RDTSC is CPL 0 only when CR4.TSD is set (in protected mode). */
function checkTscAccess(c: Cpu): void {
  if ((c.mmu.cr4 & CR4_TSD) && c.protectedMode && c.cpl !== 0) raise(Vector.GP, 0);
}

function setEdxEax(c: Cpu, v: bigint): void {
  c.r[0] = Number(BigInt.asIntN(32, v));
  c.r[2] = Number(BigInt.asIntN(32, v >> 32n));
}

function rdtsc(c: Cpu): void {
  checkTscAccess(c);
  setEdxEax(c, readTsc(c));
}

/** Loads a flat 4 GiB segment cache with the given selector and access rights (SYSENTER/SYSEXIT). */
function loadFlat(c: Cpu, s: number, selector: number, attr: number): void {
  c.segSel[s] = selector & 0xffff;
  c.segBase[s] = 0;
  c.segLimit[s] = -1;
  c.segAttr[s] = attr;
  c.updateSegmentBounds(s);
}

/**
 * SYSENTER (SDM SYSENTER): to CPL 0 with flat segments built from IA32_SYSENTER_CS. #GP(0) in
 * real-address mode or with a null IA32_SYSENTER_CS; allowed from virtual-8086 mode (VM is cleared).
 */
function sysenter(c: Cpu): void {
  const cs = readMsr32(c, Msr.IA32_SYSENTER_CS) & 0xffff;
  if (!c.protectedMode || (cs & 0xfffc) === 0) raise(Vector.GP, 0);
  c.lf.flags &= ~(VM | IF | RF);
  c.cpl = 0;
  loadFlat(c, SegReg.CS, cs & 0xfffc, 0xc09b); // execute/read, accessed, DPL 0, 32-bit, 4 KiB granular
  loadFlat(c, SegReg.SS, (cs & 0xfffc) + 8, 0xc093); // read/write, accessed, DPL 0, 32-bit
  c.r[4] = readMsr32(c, Msr.IA32_SYSENTER_ESP);
  c.nextEip = readMsr32(c, Msr.IA32_SYSENTER_EIP);
}

/** SYSEXIT (SDM SYSEXIT): to CPL 3 at EDX with stack ECX. #GP(0) in real mode, at CPL > 0 (table), or with a null IA32_SYSENTER_CS. */
function sysexit(c: Cpu): void {
  const cs = readMsr32(c, Msr.IA32_SYSENTER_CS) & 0xffff;
  if (!c.protectedMode || (cs & 0xfffc) === 0) raise(Vector.GP, 0);
  c.cpl = 3;
  loadFlat(c, SegReg.CS, ((cs + 16) | 3) & 0xffff, 0xc0fb); // DPL 3 code
  loadFlat(c, SegReg.SS, ((cs + 24) | 3) & 0xffff, 0xc0f3); // DPL 3 data
  c.r[4] = c.r[1]!;
  c.nextEip = c.r[2]!;
}

export const SYSTEM: ExecutorFamily = {
  LGDT: loadTableRegister('gdt'),
  LIDT: loadTableRegister('idt'),
  SGDT: storeTableRegister('gdt'),
  SIDT: storeTableRegister('idt'),
  LLDT: lldt,
  SLDT: (c, d) => storeWord(c, d, c.segSel[SegReg.LDTR]! & 0xffff),
  LTR: ltr,
  STR: (c, d) => storeWord(c, d, c.segSel[SegReg.TR]! & 0xffff),
  LMSW: lmsw,
  // SMSW to a 32-bit register stores all of CR0 (P6 and later; SDM SMSW).
  SMSW: (c, d) => storeWord(c, d, c.vmx.shadowedCr(0, c.mmu.cr0)),
  CLTS: (c) => writeControlRegister(c, 0, c.mmu.cr0 & ~8),
  INVLPG: (c, d) => c.mmu.invalidatePage((c.segBase[d.segment]! + effectiveAddress(c, d)) | 0),
  // There are no caches to invalidate or write back.
  INVD: () => {},
  WBINVD: () => {},
  RDTSC: rdtsc,
  RDTSCP: (c) => {
    rdtsc(c);
    c.r[1] = readMsr32(c, Msr.IA32_TSC_AUX);
  },
  RDMSR: (c) => setEdxEax(c, readMsr(c, c.r[1]!)),
  WRMSR: (c) => writeMsr(c, c.r[1]!, (BigInt(c.r[2]! >>> 0) << 32n) | BigInt(c.r[0]! >>> 0)),
  SYSENTER: sysenter,
  SYSEXIT: sysexit,
};
