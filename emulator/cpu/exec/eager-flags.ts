/**
 * Eager flag updates for the instructions whose flags do not fit the lazy record (rotates, double
 * shifts, bit tests, decimal adjust, descriptor checks). Each helper settles the lazy record first,
 * so the bits it does not name keep their current values.
 */
import type { Cpu } from '../cpu.js';
import { AF, ARITH_FLAGS, CF, OF, PARITY, SF, ZF } from '../flags.js';
import type { Width } from './operands.js';

/** SF, ZF and PF of a `w`-bit result. */
export function resultFlags(res: number, w: Width): number {
  const r = w === 32 ? res >>> 0 : res & ((1 << w) - 1);
  return PARITY[r & 0xff]! | (r === 0 ? ZF : 0) | ((r >>> (w - 1)) & 1 ? SF : 0);
}

/** Replaces all six arithmetic flags: SF ZF PF from `res`, and the given CF, OF, AF (0 or 1). */
export function setArithFlags(c: Cpu, res: number, w: Width, cf: number, of: number, af: number): void {
  const f = c.lf.materialize() & ~ARITH_FLAGS;
  c.lf.load(f | resultFlags(res, w) | (cf ? CF : 0) | (of ? OF : 0) | (af ? AF : 0));
}

/** Replaces only the flags in `which` with the bits of `values` (others unchanged). */
export function setFlagBits(c: Cpu, which: number, values: number): void {
  c.lf.load((c.lf.materialize() & ~which) | (values & which));
}

/** Sets or clears ZF alone (LAR, LSL, VERR, VERW, ARPL). */
export function setZeroFlag(c: Cpu, on: boolean): void {
  setFlagBits(c, ZF, on ? ZF : 0);
}
