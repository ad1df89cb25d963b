/**
 * Integer arithmetic and logic: the ALU group, TEST, NOT, NEG, INC, DEC, MUL, IMUL, DIV, IDIV.
 * Flags go through the lazy-flags record except for multiply and divide, computed eagerly.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { ARITH_FLAGS, CF, LazyOp, OF, PARITY, SF, ZF } from '../flags.js';
import type { ExecutorFamily } from './index.js';
import {
  getReg, mask, modifyE, readOperand, setReg, signExtend, widthOf, writeOperand, type Width,
} from './operands.js';

type AluKind = 'ADD' | 'OR' | 'ADC' | 'SBB' | 'AND' | 'SUB' | 'XOR' | 'CMP' | 'TEST';

/** Computes one ALU operation, records its flags, and returns the (masked) result. */
export function alu(c: Cpu, kind: AluKind, w: Width, a: number, b: number): number {
  const m = mask(w);
  const lf = c.lf;
  let res: number;
  switch (kind) {
    case 'ADD': res = (a + b) & m; lf.set(LazyOp.ADD, w, a, b, res); break;
    case 'ADC': { const cin = lf.cf(); res = (a + b + cin) & m; lf.carryIn = cin; lf.set(LazyOp.ADC, w, a, b, res); break; }
    case 'SUB': case 'CMP': res = (a - b) & m; lf.set(LazyOp.SUB, w, a, b, res); break;
    case 'SBB': { const cin = lf.cf(); res = (a - b - cin) & m; lf.carryIn = cin; lf.set(LazyOp.SBB, w, a, b, res); break; }
    case 'AND': case 'TEST': res = a & b & m; lf.set(LazyOp.LOGIC, w, a, b, res); break;
    case 'OR': res = (a | b) & m; lf.set(LazyOp.LOGIC, w, a, b, res); break;
    case 'XOR': res = (a ^ b) & m; lf.set(LazyOp.LOGIC, w, a, b, res); break;
  }
  return res;
}

/** ADD Eb,Gb ... CMP eAX,Iz: destination is operand 0, source operand 1. */
function aluExecutor(kind: AluKind) {
  const writes = kind !== 'CMP' && kind !== 'TEST';
  return (c: Cpu, d: DecodedInsn): void => {
    const [dk, sk] = d.form.operands as [string, string];
    const w = widthOf(d, dk);
    let b = readOperand(c, d, sk, w);
    if (sk === 'Ibs') b = d.imm & mask(w);
    if (dk[0] === 'E' && writes) {
      modifyE(c, d, w, (a) => alu(c, kind, w, a, b));
      return;
    }
    const a = readOperand(c, d, dk, w);
    const res = alu(c, kind, w, a, b);
    if (writes) writeOperand(c, d, dk, w, res);
  };
}

/**
 * Flags for multiply: CF = OF = `overflow`; SF ZF PF from the low result (AF cleared). Without
 * overflow these are a logic op's flags, left as a lazy record; with it, computed now.
 */
function setMultiplyFlags(c: Cpu, low: number, w: Width, overflow: boolean): void {
  const r = low & mask(w);
  if (!overflow) { c.lf.set(LazyOp.LOGIC, w, 0, 0, r); return; }
  const f = (c.lf.materialize() & ~ARITH_FLAGS) | CF | OF | PARITY[r & 0xff]! | (r === 0 ? ZF : 0) | ((r >>> (w - 1)) & 1 ? SF : 0);
  c.lf.load(f);
}

/**
 * The 64-bit product of two 32-bit values into `product` (low, high words as int32), in 16-bit
 * pieces: every partial sum stays below 2^53, so numbers are exact and nothing is allocated (a
 * bigint product costs an order of magnitude more, and MUL is common in guest code).
 */
const product = new Int32Array(2);
function multiply32(a: number, b: number, signed: boolean): void {
  const ua = a >>> 0, ub = b >>> 0;
  const aLo = ua & 0xffff, aHi = ua >>> 16, bLo = ub & 0xffff, bHi = ub >>> 16;
  const ll = aLo * bLo;
  const mid = aHi * bLo + (ll >>> 16);
  const mid2 = aLo * bHi + (mid % 0x10000);
  let hi = aHi * bHi + Math.floor(mid / 0x10000) + Math.floor(mid2 / 0x10000);
  // Signed: subtract each operand's weight 2^32 where the other is negative (mod 2^32).
  if (signed) hi -= ((a | 0) < 0 ? ub : 0) + ((b | 0) < 0 ? ua : 0);
  product[0] = ((mid2 % 0x10000) * 0x10000 + (ll & 0xffff)) | 0;
  product[1] = hi | 0;
}

/**
 * EDX:EAX divided by a 32-bit divisor (not zero) into `quotient` (quotient, remainder), or false
 * when the quotient does not fit (#DE). Numbers while the dividend is below 2^52: there the
 * rounded n / d is below 2^52 / d, so its error is under 1 / (2d), less than the distance from a
 * quotient that is not whole to the next integer, and the floor is exact. A bigint beyond.
 */
const quotient = new Int32Array(2);
function divide64(hiWord: number, loWord: number, divisor: number, signed: boolean): boolean {
  const lo = loWord >>> 0;
  if (signed) {
    const dv = divisor | 0;
    if ((hiWord | 0) === (lo | 0) >> 31) { // the dividend is a sign-extended 32-bit value
      const n = lo | 0, q = Math.trunc(n / dv); // exact: |n| < 2^31
      if (q > 0x7fffffff) return false; // -2^31 / -1
      quotient[0] = q; quotient[1] = n - q * dv;
      return true;
    }
  } else {
    const dv = divisor >>> 0, hi = hiWord >>> 0;
    if (hi >= dv) return false; // the quotient would need more than 32 bits
    if (hi < 0x100000) {
      const n = hi * 0x100000000 + lo;
      const q = Math.floor(n / dv);
      quotient[0] = q | 0; quotient[1] = (n - q * dv) | 0;
      return true;
    }
  }
  const dividend = (BigInt(hiWord >>> 0) << 32n) | BigInt(lo);
  const n = signed ? BigInt.asIntN(64, dividend) : dividend;
  const dv = signed ? BigInt(divisor | 0) : BigInt(divisor >>> 0);
  const q = n / dv, r = n % dv;
  if (signed ? q > 0x7fffffffn || q < -0x80000000n : q > 0xffffffffn) return false;
  quotient[0] = Number(BigInt.asIntN(32, q)); quotient[1] = Number(BigInt.asIntN(32, r));
  return true;
}

/** MUL/IMUL of EAX by a 32-bit `src` into EDX:EAX, with the flags (compiled blocks call it too). */
export function multiplyAccumulator32(c: Cpu, src: number, signed: boolean): void {
  multiply32(c.r[0]!, src, signed);
  const lo = product[0]!, hi = product[1]!;
  c.r[0] = lo; c.r[2] = hi;
  setMultiplyFlags(c, lo, 32, signed ? hi !== lo >> 31 : hi !== 0);
}

/** DIV/IDIV of EDX:EAX by a 32-bit `divisor` (#DE on zero or overflow; compiled blocks call it too). */
export function divideAccumulator32(c: Cpu, divisor: number, signed: boolean): void {
  if (divisor === 0 || !divide64(c.r[2]!, c.r[0]!, divisor, signed)) raise(Vector.DE);
  c.r[0] = quotient[0]!; c.r[2] = quotient[1]!;
}

function mulOneOperand(signed: boolean) {
  return (c: Cpu, d: DecodedInsn): void => {
    const w = widthOf(d, d.form.operands[0]!);
    const src = readOperand(c, d, d.form.operands[0]!, w);
    const acc = getReg(c, 0, w);
    if (w === 8) {
      const p = signed ? signExtend(acc, 8) * signExtend(src, 8) : acc * src;
      c.r16[0] = p & 0xffff;
      setMultiplyFlags(c, p, 8, signed ? p !== signExtend(p & 0xff, 8) : (p & 0xff00) !== 0);
    } else if (w === 16) {
      const p = signed ? signExtend(acc, 16) * signExtend(src, 16) : acc * src;
      c.r16[0] = p & 0xffff; c.r16[4] = (p >> 16) & 0xffff;
      setMultiplyFlags(c, p, 16, signed ? p !== signExtend(p & 0xffff, 16) : (p >>> 16) !== 0);
    } else {
      multiplyAccumulator32(c, src, signed);
    }
  };
}

/** IMUL Gv,Ev and IMUL Gv,Ev,I: truncated signed product into the register. */
function imulToRegister(c: Cpu, d: DecodedInsn): void {
  const w = d.opsize as Width;
  const ops = d.form.operands;
  const a = signExtend(readOperand(c, d, ops[1]!, w), w);
  const b = ops.length === 3 ? signExtend(d.imm & mask(w), w) : signExtend(getReg(c, d.reg, w), w);
  let low: number, overflow: boolean;
  if (w === 16) {
    const p = a * b;
    low = p & 0xffff;
    overflow = p !== signExtend(low, 16);
  } else {
    // The double product is exact up to 2^53; beyond that it cannot equal any int32, so the
    // comparison detects overflow exactly without BigInt.
    low = Math.imul(a, b);
    overflow = a * b !== low;
  }
  setReg(c, d.reg, w, low);
  setMultiplyFlags(c, low, w, overflow);
}

function divide(signed: boolean) {
  return (c: Cpu, d: DecodedInsn): void => {
    const w = widthOf(d, d.form.operands[0]!);
    const divisorRaw = readOperand(c, d, d.form.operands[0]!, w);
    if ((divisorRaw & mask(w)) === 0) raise(Vector.DE);
    if (w === 32) { divideAccumulator32(c, divisorRaw, signed); return; }
    const dividend = w === 8 ? c.r16[0]! : (c.r16[4]! << 16) | c.r16[0]!;
    const n = signed ? signExtend(dividend, (w * 2) as Width) : dividend >>> 0;
    const dv = signed ? signExtend(divisorRaw, w) : divisorRaw;
    const q = Math.trunc(n / dv), r = n - q * dv;
    const limit = 1 << w;
    if (signed ? q >= limit / 2 || q < -limit / 2 : q >= limit) raise(Vector.DE);
    if (w === 8) { c.r8[0] = q; c.r8[1] = r; } else { c.r16[0] = q; c.r16[4] = r; }
  };
}

function incDec(op: LazyOp.INC | LazyOp.DEC) {
  return (c: Cpu, d: DecodedInsn): void => {
    const k = d.form.operands[0]!;
    const w = widthOf(d, k);
    const f = (a: number): number => {
      const res = (op === LazyOp.INC ? a + 1 : a - 1) & mask(w);
      c.lf.set(op, w, a, 1, res);
      return res;
    };
    if (k[0] === 'E') modifyE(c, d, w, f);
    else writeOperand(c, d, k, w, f(readOperand(c, d, k, w)));
  };
}

export const ARITHMETIC: ExecutorFamily = {
  ADD: aluExecutor('ADD'), OR: aluExecutor('OR'), ADC: aluExecutor('ADC'), SBB: aluExecutor('SBB'),
  AND: aluExecutor('AND'), SUB: aluExecutor('SUB'), XOR: aluExecutor('XOR'), CMP: aluExecutor('CMP'),
  TEST: aluExecutor('TEST'),
  NOT: (c, d) => { const w = widthOf(d, d.form.operands[0]!); modifyE(c, d, w, (a) => ~a & mask(w)); },
  NEG: (c, d) => {
    const w = widthOf(d, d.form.operands[0]!);
    modifyE(c, d, w, (a) => { const res = -a & mask(w); c.lf.set(LazyOp.NEG, w, 0, a, res); return res; });
  },
  INC: incDec(LazyOp.INC),
  DEC: incDec(LazyOp.DEC),
  MUL: mulOneOperand(false),
  IMUL: (c, d) => (d.form.operands.length === 1 ? mulOneOperand(true)(c, d) : imulToRegister(c, d)),
  DIV: divide(false),
  IDIV: divide(true),
};
