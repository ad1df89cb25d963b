/**
 * Shifts and rotates (SDM Vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
 *
 * The count is masked to 5 bits; a masked count of 0 changes nothing, not even flags. SHL, SHR and
 * SAR record their flags lazily (LazyOp.SHL/SHR/SAR, `b` = count); rotates and double shifts set
 * them eagerly.
 *
 * Models for what the SDM leaves undefined (tests mask these flags):
 * - ROL/ROR/RCL/RCR with a count above 1: OF is computed with the 1-bit formula on the result.
 * - SHLD/SHRD: AF is cleared; OF is MSB(result) XOR MSB(original destination) for every count.
 * - 16-bit SHLD/SHRD with a count of 17-31: the operands are treated as the 48-bit value
 *   DEST:SRC:DEST, shifted by the count, as P6-family processors do; CF is the last bit shifted out
 *   of that value.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { CF, LazyOp, OF } from '../flags.js';
import { setArithFlags, setFlagBits } from './eager-flags.js';
import type { ExecutorFamily } from './index.js';
import { getReg, mask, modifyE, readE, signExtend, widthOf, type Width } from './operands.js';

/** The shift count operand ('1', 'CL' or 'Ib') masked to 5 bits. */
function countOf(c: Cpu, d: DecodedInsn, kind: string): number {
  const raw = kind === '1' ? 1 : kind === 'CL' ? c.r8[4]! : d.imm;
  return raw & 31;
}

type ShiftFn = (c: Cpu, w: Width, a: number, n: number) => number;

/**
 * Shared body: reads the count, and with a nonzero count applies `f` to the destination in place.
 * With a zero count the memory operand is still read (its faults apply) but not written.
 */
function shiftExecutor(f: ShiftFn) {
  return (c: Cpu, d: DecodedInsn): void => {
    const [dk, ck] = d.form.operands as [string, string];
    const w = widthOf(d, dk);
    const n = countOf(c, d, ck);
    if (n === 0) {
      readE(c, d, w);
      return;
    }
    modifyE(c, d, w, (a) => f(c, w, a & mask(w), n));
  };
}

const shl: ShiftFn = (c, w, a, n) => {
  const res = (a << n) & mask(w);
  c.lf.set(LazyOp.SHL, w, a, n, res);
  return res;
};
const shr: ShiftFn = (c, w, a, n) => {
  const res = ((w === 32 ? a >>> 0 : a) >>> n) & mask(w);
  c.lf.set(LazyOp.SHR, w, a, n, res);
  return res;
};
const sar: ShiftFn = (c, w, a, n) => {
  const res = (signExtend(a, w) >> n) & mask(w);
  c.lf.set(LazyOp.SAR, w, a, n, res);
  return res;
};

const msb = (v: number, w: Width): number => (v >>> (w - 1)) & 1;

/** ROL: rotation by count MOD size, but CF = LSB(result) whenever the masked count is nonzero. */
const rol: ShiftFn = (c, w, a, n) => {
  const r = n % w;
  const res = r === 0 ? a : ((a << r) | ((w === 32 ? a >>> 0 : a) >>> (w - r))) & mask(w);
  const cf = res & 1;
  setFlagBits(c, CF | OF, (cf ? CF : 0) | (msb(res, w) ^ cf ? OF : 0));
  return res;
};
/** ROR: CF = MSB(result); OF = MSB(result) XOR the bit below it. */
const ror: ShiftFn = (c, w, a, n) => {
  const r = n % w;
  const ua = w === 32 ? a >>> 0 : a;
  const res = r === 0 ? a : ((ua >>> r) | (a << (w - r))) & mask(w);
  const cf = msb(res, w);
  setFlagBits(c, CF | OF, (cf ? CF : 0) | (cf ^ ((res >>> (w - 2)) & 1) ? OF : 0));
  return res;
};

/** RCL/RCR rotate through CF: modulo 9 and 17 on 8 and 16 bits (SDM "tempCOUNT"). */
function rotateCount(w: Width, n: number): number {
  return w === 8 ? n % 9 : w === 16 ? n % 17 : n;
}
const rcl: ShiftFn = (c, w, a, n) => {
  let cf = c.lf.cf(), res = a;
  for (let t = rotateCount(w, n); t > 0; t--) {
    const out = msb(res, w);
    res = ((res << 1) | cf) & mask(w);
    cf = out;
  }
  setFlagBits(c, CF | OF, (cf ? CF : 0) | (msb(res, w) ^ cf ? OF : 0));
  return res;
};
const rcr: ShiftFn = (c, w, a, n) => {
  let cf = c.lf.cf(), res = a;
  // OF is computed from the operand before the rotation (SDM RCR: "OF ← MSB(DEST) XOR CF").
  const of = msb(a, w) ^ cf;
  for (let t = rotateCount(w, n); t > 0; t--) {
    const out = res & 1;
    res = (((w === 32 ? res >>> 0 : res) >>> 1) | (cf << (w - 1))) & mask(w);
    cf = out;
  }
  setFlagBits(c, CF | OF, (cf ? CF : 0) | (of ? OF : 0));
  return res;
};

/** SHLD/SHRD Ev,Gv,Ib|CL. */
function doubleShift(left: boolean) {
  return (c: Cpu, d: DecodedInsn): void => {
    const w = d.opsize as Width;
    const n = countOf(c, d, d.form.operands[2]!);
    if (n === 0) {
      readE(c, d, w);
      return;
    }
    const src = getReg(c, d.reg, w) & mask(w);
    modifyE(c, d, w, (dest) => {
      let res: number, cf: number;
      if (w === 32) {
        const ud = dest >>> 0, us = src >>> 0;
        if (left) { res = (ud << n) | (us >>> (32 - n)); cf = (ud >>> (32 - n)) & 1; }
        else { res = (ud >>> n) | (us << (32 - n)); cf = (ud >>> (n - 1)) & 1; }
      } else {
        // 48-bit DEST:SRC:DEST (exact for counts up to 16; the documented model above it).
        const t = (dest & 0xffff) * 2 ** 32 + (src & 0xffff) * 2 ** 16 + (dest & 0xffff);
        if (left) { res = Math.floor(t / 2 ** (32 - n)) & 0xffff; cf = Math.floor(t / 2 ** (48 - n)) & 1; }
        else { res = Math.floor(t / 2 ** n) & 0xffff; cf = Math.floor(t / 2 ** (n - 1)) & 1; }
      }
      res &= mask(w);
      setArithFlags(c, res, w, cf, msb(res, w) ^ msb(dest, w), 0);
      return res;
    });
  };
}

export const SHIFTS: ExecutorFamily = {
  ROL: shiftExecutor(rol),
  ROR: shiftExecutor(ror),
  RCL: shiftExecutor(rcl),
  RCR: shiftExecutor(rcr),
  SHL: shiftExecutor(shl),
  SHR: shiftExecutor(shr),
  SAR: shiftExecutor(sar),
  SHLD: doubleShift(true),
  SHRD: doubleShift(false),
};
