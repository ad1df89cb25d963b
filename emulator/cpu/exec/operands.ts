/**
 * Operand access shared by every instruction family: the r/m operand (register or memory), the
 * ModRM reg operand, opcode-register operands, and effective addresses. Per-instruction code in
 * the other exec/ modules is semantics only (STYLE.md: "small bodies, shared plumbing").
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';

/** Operand width in bits from the form and the effective operand size. */
export type Width = 8 | 16 | 32;

/** Index of byte register n (AL CL DL BL AH CH DH BH) in the r8 view. */
export const BYTE_REG_INDEX = [0, 4, 8, 12, 1, 5, 9, 13] as const;

export function mask(w: Width): number {
  return w === 32 ? -1 : (1 << w) - 1;
}
/** Sign-extends a `w`-bit value to int32. */
export function signExtend(v: number, w: Width): number {
  return w === 32 ? v | 0 : (v << (32 - w)) >> (32 - w);
}

export function getReg(c: Cpu, n: number, w: Width): number {
  return w === 32 ? c.r[n]! : w === 16 ? c.r16[n * 2]! : c.r8[BYTE_REG_INDEX[n]!]!;
}
export function setReg(c: Cpu, n: number, w: Width, v: number): void {
  if (w === 32) c.r[n] = v;
  else if (w === 16) c.r16[n * 2] = v;
  else c.r8[BYTE_REG_INDEX[n]!] = v;
}

/** Effective address (offset within the segment) of the memory operand. */
export function effectiveAddress(c: Cpu, d: DecodedInsn): number {
  let ea = d.disp;
  if (d.base >= 0) ea += c.r[d.base]!;
  if (d.index >= 0) ea += c.r[d.index]! << d.scale;
  return d.adsize === 16 ? ea & 0xffff : ea | 0;
}

export function readMem(c: Cpu, seg: number, ea: number, w: Width): number {
  return w === 32 ? c.read32(seg, ea) : w === 16 ? c.read16(seg, ea) : c.read8(seg, ea);
}
export function writeMem(c: Cpu, seg: number, ea: number, w: Width, v: number): void {
  if (w === 32) c.write32(seg, ea, v);
  else if (w === 16) c.write16(seg, ea, v);
  else c.write8(seg, ea, v);
}

/** Reads the r/m operand (E). For memory, returns the value; `lastEa` keeps the address for RMW. */
export function readE(c: Cpu, d: DecodedInsn, w: Width): number {
  if (!d.hasMemory) return getReg(c, d.rm, w);
  return readMem(c, d.segment, effectiveAddress(c, d), w);
}
export function writeE(c: Cpu, d: DecodedInsn, w: Width, v: number): void {
  if (!d.hasMemory) setReg(c, d.rm, w, v);
  else writeMem(c, d.segment, effectiveAddress(c, d), w, v);
}

/**
 * Read-modify-write of the r/m operand. The address is computed once; if the final store faults,
 * the flag update made by `f` is rolled back so the restarted instruction reads the flags it read
 * the first time (ADC, SBB, RCL and RCR consume CF).
 */
export function modifyE(c: Cpu, d: DecodedInsn, w: Width, f: (old: number) => number): void {
  if (!d.hasMemory) {
    setReg(c, d.rm, w, f(getReg(c, d.rm, w)));
    return;
  }
  const ea = effectiveAddress(c, d);
  const old = readMem(c, d.segment, ea, w);
  c.lf.checkpoint();
  const v = f(old);
  try {
    writeMem(c, d.segment, ea, w, v);
  } catch (e) {
    c.lf.rollback();
    throw e;
  }
}

export function readG(c: Cpu, d: DecodedInsn, w: Width): number {
  return getReg(c, d.reg, w);
}
export function writeG(c: Cpu, d: DecodedInsn, w: Width, v: number): void {
  setReg(c, d.reg, w, v);
}

/** Width of an operand kind for this decoded instruction (v/z follow the operand size). */
export function widthOf(d: DecodedInsn, kind: string): Width {
  // The fixed registers first: 'AL' is two letters long but is not an addressing method + type.
  const t = kind === 'AL' || kind === 'CL' ? 'b' : kind === 'DX' || kind === 'AX' ? 'w' : kind.length === 2 ? kind[1] : 'v';
  if (t === 'b') return 8;
  if (t === 'w') return 16;
  if (t === 'd') return 32;
  return d.opsize;
}

/** A branch target: EIP-relative, truncated to 16 bits under a 16-bit operand size. */
export function relativeTarget(c: Cpu, d: DecodedInsn): number {
  const t = (c.nextEip + d.imm) | 0;
  return d.opsize === 16 ? t & 0xffff : t;
}

/** Operand size in bytes for pushes and pops. */
export function stackOperandSize(d: DecodedInsn): 2 | 4 {
  return d.opsize === 32 ? 4 : 2;
}

/** Reads any operand kind except segment/control/debug registers and far pointers. */
export function readOperand(c: Cpu, d: DecodedInsn, kind: string, w: Width): number {
  switch (kind[0]) {
    case 'E': case 'M': return readE(c, d, w);
    case 'G': return getReg(c, d.reg, w);
    case 'R': return getReg(c, d.rm, w);
    case 'Z': return getReg(c, d.opcodeReg, w);
    case 'I': return d.imm & mask(w);
    case 'O': return readMem(c, d.segment, d.disp, w);
  }
  switch (kind) {
    case 'AL': return c.r8[0]!;
    case 'CL': return c.r8[4]!;
    case 'DX': return c.r16[4]!;
    case 'AX': return c.r16[0]!;
    case 'eAX': return getReg(c, 0, w);
    case '1': return 1;
  }
  throw new Error(`readOperand: kind ${kind} is not a value operand`);
}

export function writeOperand(c: Cpu, d: DecodedInsn, kind: string, w: Width, v: number): void {
  switch (kind[0]) {
    case 'E': case 'M': writeE(c, d, w, v); return;
    case 'G': setReg(c, d.reg, w, v); return;
    case 'R': setReg(c, d.rm, w, v); return;
    case 'Z': setReg(c, d.opcodeReg, w, v); return;
    case 'O': writeMem(c, d.segment, d.disp, w, v); return;
  }
  switch (kind) {
    case 'AL': c.r8[0] = v; return;
    case 'AX': c.r16[0] = v; return;
    case 'eAX': setReg(c, 0, w, v); return;
  }
  throw new Error(`writeOperand: kind ${kind} is not a writable operand`);
}
