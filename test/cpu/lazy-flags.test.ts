/**
 * The lazy-flags record against an eager reference for every lazy operation and operand size.
 * The reference is written from the SDM's definitions in plain arithmetic (wide sums, signed range
 * checks), not with the bit tricks LazyFlags uses, so the two can disagree.
 */
import { describe, expect, it } from 'vitest';
import { AF, CF, LazyFlags, LazyOp, OF, PF, SF, ZF } from '../../emulator/cpu/flags.js';

const SIZES = [8, 16, 32] as const;
const BOUNDARY = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x0f, 0x10];

function mod(v: number, size: number): number {
  const m = 2 ** size;
  return ((v % m) + m) % m;
}
function signed(v: number, size: number): number {
  const u = mod(v, size);
  return u >= 2 ** (size - 1) ? u - 2 ** size : u;
}
function parityFlag(v: number): number {
  let ones = 0;
  for (let i = 0; i < 8; i++) ones += (v >> i) & 1;
  return ones % 2 === 0 ? PF : 0;
}
function resultFlags(res: number, size: number): number {
  return (res === 0 ? ZF : 0) | (res >= 2 ** (size - 1) ? SF : 0) | parityFlag(res & 0xff);
}

/** Eager reference: returns [result, arithmetic flags] from the SDM's definitions. */
function reference(op: LazyOp, size: number, a: number, b: number, cin: number, oldCf: number): [number, number] {
  const ua = mod(a, size), ub = mod(b, size), max = 2 ** size;
  switch (op) {
    case LazyOp.ADD: case LazyOp.ADC: case LazyOp.INC: {
      const c = op === LazyOp.ADC ? cin : 0;
      const wide = ua + ub + c, res = mod(wide, size);
      const sres = signed(a, size) + signed(b, size) + c;
      let f = resultFlags(res, size) | ((ua % 16) + (ub % 16) + c > 15 ? AF : 0)
        | (sres >= max / 2 || sres < -max / 2 ? OF : 0);
      f |= op === LazyOp.INC ? oldCf : wide >= max ? CF : 0;
      return [res, f];
    }
    case LazyOp.SUB: case LazyOp.SBB: case LazyOp.DEC: case LazyOp.NEG: {
      const c = op === LazyOp.SBB ? cin : 0;
      const wide = ua - ub - c, res = mod(wide, size);
      const sres = signed(a, size) - signed(b, size) - c;
      let f = resultFlags(res, size) | ((ua % 16) - (ub % 16) - c < 0 ? AF : 0)
        | (sres >= max / 2 || sres < -max / 2 ? OF : 0);
      f |= op === LazyOp.DEC ? oldCf : wide < 0 ? CF : 0;
      return [res, f];
    }
    default: throw new Error('no reference for op ' + op);
  }
}

function lazyResult(op: LazyOp, size: number, a: number, b: number, cin: number): number {
  const ua = mod(a, size), ub = mod(b, size);
  const sum = op === LazyOp.ADD || op === LazyOp.ADC || op === LazyOp.INC;
  const wide = sum ? ua + ub + (op === LazyOp.ADC ? cin : 0) : ua - ub - (op === LazyOp.SBB ? cin : 0);
  return mod(wide, size);
}

describe('lazy flags agree with the eager reference', () => {
  let seed = 0x1234567;
  const rnd = (): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; };
  const ops: [string, LazyOp][] = [
    ['ADD', LazyOp.ADD], ['ADC', LazyOp.ADC], ['SUB', LazyOp.SUB], ['SBB', LazyOp.SBB],
    ['INC', LazyOp.INC], ['DEC', LazyOp.DEC], ['NEG', LazyOp.NEG],
  ];
  for (const [name, op] of ops) {
    for (const size of SIZES) {
      it(`${name} ${size}-bit`, () => {
        const values = [...BOUNDARY, ...Array.from({ length: 60 }, rnd)];
        let checked = 0;
        for (const a0 of values) for (const b0 of values) for (const cin of op === LazyOp.ADC || op === LazyOp.SBB ? [0, 1] : [0]) {
          for (const oldCf of op === LazyOp.INC || op === LazyOp.DEC ? [0, CF] : [0]) {
            const a = op === LazyOp.NEG ? 0 : a0;
            const b = op === LazyOp.INC || op === LazyOp.DEC ? 1 : b0;
            const [res, want] = reference(op, size, a, b, cin, oldCf);
            const lf = new LazyFlags();
            lf.load(2 | oldCf);
            const stored = (v: number): number => (size === 32 ? v | 0 : mod(v, size));
            lf.carryIn = cin;
            lf.set(op, size, stored(a), stored(b), stored(lazyResult(op, size, a, b, cin)));
            expect(mod(lf.res, size)).toBe(res);
            // CF alone (what INC/DEC keep and ADC/SBB/JB read) is computed without the rest.
            if (lf.cf() !== (want & CF)) throw new Error(`${name}${size} a=${a.toString(16)} b=${b.toString(16)} cin=${cin}: cf() ${lf.cf()}`);
            const got = lf.materialize() & (CF | PF | AF | ZF | SF | OF);
            if (got !== want) {
              throw new Error(`${name}${size} a=${a.toString(16)} b=${b.toString(16)} cin=${cin}: flags ${got.toString(16)} want ${want.toString(16)}`);
            }
            checked++;
          }
        }
        expect(checked).toBeGreaterThan(5000);
      });
    }
  }

  it('LOGIC: CF and OF clear, ZF SF PF from the result', () => {
    for (const size of SIZES) {
      for (const v of BOUNDARY) {
        const lf = new LazyFlags();
        lf.load(2 | CF | OF);
        const r = size === 32 ? v | 0 : mod(v, size);
        lf.set(LazyOp.LOGIC, size, r, r, r);
        expect(lf.materialize() & (CF | OF | ZF | SF | PF)).toBe(resultFlags(mod(v, size), size));
      }
    }
  });

  it('cond() matches the materialized flags for every condition code', () => {
    for (let i = 0; i < 2000; i++) {
      const lf = new LazyFlags();
      const size = SIZES[i % 3]!;
      const a = rnd(), b = rnd();
      const op = [LazyOp.ADD, LazyOp.SUB, LazyOp.LOGIC, LazyOp.INC, LazyOp.DEC][i % 5]!;
      const stored = (v: number): number => (size === 32 ? v | 0 : mod(v, size));
      lf.set(op, size, stored(a), stored(b), stored(op === LazyOp.LOGIC ? a & b : lazyResult(op, size, a, b, 0)));
      const f = lf.materialize();
      const cf = !!(f & CF), zf = !!(f & ZF), sf = !!(f & SF), of = !!(f & OF), pf = !!(f & PF);
      const expected = [of, cf, zf, cf || zf, sf, pf, sf !== of, zf || sf !== of];
      for (let cc = 0; cc < 16; cc++) expect(lf.cond(cc), `cc ${cc}`).toBe(cc & 1 ? !expected[cc >> 1] : expected[cc >> 1]);
    }
  });
});
