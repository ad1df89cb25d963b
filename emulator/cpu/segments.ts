/**
 * Segment registers: loads in real, virtual-8086 and protected mode with the SDM's checks
 * (Vol. 3A 5.4-5.10 and the MOV/POP Sreg pages), and descriptor access.
 *
 * Segment attributes are kept in the VMCS access-rights layout (SDM Vol. 3C 24.4.1): bits 3:0 type,
 * 4 S, 6:5 DPL, 7 P, 12 AVL, 14 D/B, 15 G, 16 unusable. The VMX code reads and writes them as is.
 */
import type { Cpu } from './cpu.js';
import { raise, Vector } from './faults.js';

export const enum SegReg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7 }
export const SEG_ATTR_UNUSABLE = 1 << 16;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'] as const;

/** #SS(0) for the stack segment, #GP(0) for the others. */
export function segmentFault(_cpu: Cpu, s: number): never {
  return raise(s === SegReg.SS ? Vector.SS : Vector.GP, 0);
}

/** Real mode and V86: base = selector * 16; limit and attributes are kept (SDM 20.1.1), made usable. */
export function loadSegmentRealMode(cpu: Cpu, s: number, selector: number): void {
  selector &= 0xffff;
  cpu.segSel[s] = selector;
  cpu.segBase[s] = selector << 4;
  if (cpu.v86) {
    cpu.segLimit[s] = 0xffff;
    // Every segment of a virtual-8086 task, CS included, is a present DPL-3 read/write accessed
    // data segment: the access rights VM entry requires of a virtual-8086 guest (SDM 26.3.1.2).
    cpu.segAttr[s] = 0xf3;
  } else {
    const old = cpu.segAttr[s]!;
    if (old & SEG_ATTR_UNUSABLE || old === 0) {
      cpu.segLimit[s] = 0xffff;
      cpu.segAttr[s] = s === SegReg.CS ? 0x9b : 0x93;
    } else {
      cpu.segAttr[s] = (old | 0x80) & ~SEG_ATTR_UNUSABLE;
    }
  }
  cpu.updateSegmentBounds(s);
}

/** A descriptor as read from the GDT or LDT. */
export interface Descriptor {
  low: number;
  high: number;
  /** Linear address of the descriptor (to set the accessed/busy bits). */
  address: number;
}

export function descriptorBase(d: Descriptor): number {
  return ((d.low >>> 16) | ((d.high & 0xff) << 16) | (d.high & 0xff000000)) | 0;
}
export function descriptorLimit(d: Descriptor): number {
  const raw = (d.low & 0xffff) | (d.high & 0xf0000);
  return d.high & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
}
/** Access rights in VMCS layout from descriptor bits 40-55. */
export function descriptorAttr(d: Descriptor): number {
  return (d.high >>> 8) & 0xf0ff;
}

/**
 * Reads the descriptor a selector names, or raises `vector`(selector) when it lies outside the
 * GDT/LDT limit.
 */
export function readDescriptor(cpu: Cpu, selector: number, vector: number = Vector.GP, ext = 0): Descriptor {
  const index = selector & ~7;
  let base: number, limit: number;
  if (selector & 4) {
    if (cpu.segAttr[SegReg.LDTR]! & SEG_ATTR_UNUSABLE || (cpu.segSel[SegReg.LDTR]! & ~3) === 0) raise(vector, (selector & 0xfffc) | ext);
    base = cpu.segBase[SegReg.LDTR]!; limit = cpu.segLimit[SegReg.LDTR]! >>> 0;
  } else {
    base = cpu.gdtBase; limit = cpu.gdtLimit;
  }
  if (index + 7 > limit) raise(vector, (selector & 0xfffc) | ext);
  const address = (base + index) | 0;
  return { low: cpu.readSystem32(address), high: cpu.readSystem32(address + 4), address };
}

/** Sets the accessed bit of a code/data descriptor, as hardware does on a load. */
export function markAccessed(cpu: Cpu, d: Descriptor): void {
  if (!(d.high & 0x100)) {
    d.high |= 0x100;
    cpu.writeSystem32(d.address + 4, d.high);
  }
}

/** Fills a segment cache from a descriptor. */
export function setSegmentCache(cpu: Cpu, s: number, selector: number, d: Descriptor): void {
  cpu.segSel[s] = selector & 0xffff;
  cpu.segBase[s] = descriptorBase(d);
  cpu.segLimit[s] = descriptorLimit(d) | 0;
  cpu.segAttr[s] = descriptorAttr(d);
  cpu.updateSegmentBounds(s);
}

/**
 * MOV/POP/LxS to a data or stack segment register (not CS) in any mode, with the protected-mode
 * checks of SDM Vol. 2 "MOV—Move" (#GP, #SS, #NP with the selector as error code).
 */
export function loadDataSegment(cpu: Cpu, s: number, selector: number): void {
  selector &= 0xffff;
  if (!cpu.protectedMode || cpu.v86) { loadSegmentRealMode(cpu, s, selector); return; }
  const rpl = selector & 3, cpl = cpu.cpl;
  if ((selector & ~3) === 0) {
    if (s === SegReg.SS) raise(Vector.GP, 0);
    cpu.segSel[s] = selector;
    cpu.segBase[s] = 0; cpu.segLimit[s] = 0;
    cpu.segAttr[s] = SEG_ATTR_UNUSABLE;
    cpu.updateSegmentBounds(s);
    return;
  }
  const d = readDescriptor(cpu, selector);
  const attr = descriptorAttr(d), dpl = (attr >> 5) & 3;
  const isCodeOrData = (attr & 0x10) !== 0, isCode = (attr & 8) !== 0, readable = (attr & 2) !== 0;
  const err = selector & 0xfffc;
  if (s === SegReg.SS) {
    if (rpl !== cpl || !isCodeOrData || isCode || !(attr & 2) || dpl !== cpl) raise(Vector.GP, err);
    if (!(attr & 0x80)) raise(Vector.SS, err);
  } else {
    if (!isCodeOrData || (isCode && !readable)) raise(Vector.GP, err);
    const conforming = isCode && (attr & 4) !== 0;
    if (!conforming && (rpl > dpl || cpl > dpl)) raise(Vector.GP, err);
    if (!(attr & 0x80)) raise(Vector.NP, err);
  }
  markAccessed(cpu, d);
  setSegmentCache(cpu, s, selector, d);
}

/** Loads CS for a far transfer to a code segment at the given privilege (checks done by caller). */
export function loadCodeSegment(cpu: Cpu, selector: number, d: Descriptor, cpl: number): void {
  markAccessed(cpu, d);
  setSegmentCache(cpu, SegReg.CS, (selector & ~3) | cpl, d);
  cpu.cpl = cpl;
}

/**
 * After a return to an outer privilege level, data segments the new CPL may not use become null
 * (SDM RET/IRET: "for each of ES, FS, GS, DS: if DPL < CPL and not conforming code, load null").
 */
export function nullifyInaccessibleSegments(cpu: Cpu): void {
  for (const s of [SegReg.ES, SegReg.DS, SegReg.FS, SegReg.GS]) {
    const attr = cpu.segAttr[s]!;
    if (attr & SEG_ATTR_UNUSABLE) continue;
    const dpl = (attr >> 5) & 3;
    const conformingCode = (attr & 0x1c) === 0x1c;
    if (!conformingCode && dpl < cpu.cpl) {
      cpu.segSel[s] = 0; cpu.segAttr[s] = SEG_ATTR_UNUSABLE;
      cpu.updateSegmentBounds(s);
    }
  }
}

/**
 * The state a Multiboot loader leaves (Multiboot spec 3.2): protected mode, paging off, CS a 32-bit
 * execute/read code segment and the data segments 32-bit read/write, all flat (base 0, limit 4 GiB).
 */
export function enterFlatProtectedMode(cpu: Cpu): void {
  cpu.mmu.cr0 = (cpu.mmu.cr0 | 1) & ~(1 << 31);
  cpu.mmu.flush();
  const flat = (s: number, sel: number, attr: number): void => {
    cpu.segSel[s] = sel; cpu.segBase[s] = 0; cpu.segLimit[s] = -1; cpu.segAttr[s] = attr;
  };
  flat(SegReg.CS, 0x08, 0xc09b);
  for (const s of [SegReg.SS, SegReg.DS, SegReg.ES, SegReg.FS, SegReg.GS]) flat(s, 0x10, 0xc093);
  cpu.cpl = 0;
  for (let s = 0; s < 8; s++) cpu.updateSegmentBounds(s);
}
