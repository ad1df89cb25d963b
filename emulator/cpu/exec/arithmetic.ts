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

/** Eager flags for multiply: CF = OF = `overflow`; SF ZF PF from the low result (AF cleared). */
function setMultiplyFlags(c: Cpu, low: number, w: Width, overflow: boolean): void {
  const m = mask(w), r = low & m;
  let f = c.lf.materialize() & ~ARITH_FLAGS;
  if (overflow) f |= CF | OF;
  f |= PARITY[r & 0xff]! | (r === 0 ? ZF : 0) | ((r >>> (w - 1)) & 1 ? SF : 0);
  c.lf.load(f);
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
      const p = signed ? BigInt(acc | 0) * BigInt(src | 0) : BigInt(acc >>> 0) * BigInt(src >>> 0);
      const lo = Number(BigInt.asIntN(32, p)), hi = Number(BigInt.asIntN(32, p >> 32n));
      c.r[0] = lo; c.r[2] = hi;
      setMultiplyFlags(c, lo, 32, signed ? BigInt(lo) !== p : hi !== 0);
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
    if (w === 32) {
      const dividend = (BigInt(c.r[2]! >>> 0) << 32n) | BigInt(c.r[0]! >>> 0);
      const n = signed ? BigInt.asIntN(64, dividend) : dividend;
      const dv = signed ? BigInt(divisorRaw | 0) : BigInt(divisorRaw >>> 0);
      const q = n / dv, r = n % dv;
      if (signed ? q > 0x7fffffffn || q < -0x80000000n : q > 0xffffffffn) raise(Vector.DE);
      c.r[0] = Number(BigInt.asIntN(32, q)); c.r[2] = Number(BigInt.asIntN(32, r));
      return;
    }
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
