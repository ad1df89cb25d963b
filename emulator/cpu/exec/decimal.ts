/**
 * Decimal adjust: DAA DAS AAA AAS AAM AAD, following the SDM Vol. 2A pseudo-code step by step.
 *
 * Models for the flags the SDM leaves undefined (tests mask them):
 * - DAA/DAS: OF is cleared.
 * - AAA/AAS: SF, ZF and PF come from the final AL; OF is cleared.
 * - AAM: OF, AF and CF are cleared.
 * - AAD: OF, AF and CF are those of the 8-bit addition AL + (AH * imm8) that computes the result.
 */
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { AF, CF } from '../flags.js';
import { setArithFlags } from './eager-flags.js';
import type { ExecutorFamily } from './index.js';

function flagsIn(c: Cpu): { cf: number; af: number } {
  const f = c.lf.materialize();
  return { cf: f & CF ? 1 : 0, af: f & AF ? 1 : 0 };
}

function daa(c: Cpu): void {
  const oldAl = c.r8[0]!;
  const { cf: oldCf, af: oldAf } = flagsIn(c);
  let al = oldAl, cf = 0, af = 0;
  if ((al & 0x0f) > 9 || oldAf) {
    cf = oldCf | (al + 6 > 0xff ? 1 : 0);
    al = (al + 6) & 0xff;
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  } else cf = 0;
  c.r8[0] = al;
  setArithFlags(c, al, 8, cf, 0, af);
}

function das(c: Cpu): void {
  const oldAl = c.r8[0]!;
  const { cf: oldCf, af: oldAf } = flagsIn(c);
  let al = oldAl, cf = 0, af = 0;
  if ((al & 0x0f) > 9 || oldAf) {
    cf = oldCf | (al < 6 ? 1 : 0);
    al = (al - 6) & 0xff;
    af = 1;
  }
  // No ELSE here in the SDM: CF keeps the borrow of the first step.
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  c.r8[0] = al;
  setArithFlags(c, al, 8, cf, 0, af);
}

/** AAA/AAS: AX +/- 106H as one 16-bit operation (the P6 behaviour the current SDM describes). */
function asciiAdjust(add: boolean) {
  return (c: Cpu): void => {
    const { af: oldAf } = flagsIn(c);
    let adjust = 0;
    if ((c.r8[0]! & 0x0f) > 9 || oldAf) {
      c.r16[0] = add ? c.r16[0]! + 0x106 : c.r16[0]! - 6 - 0x100;
      adjust = 1;
    }
    c.r8[0] = c.r8[0]! & 0x0f;
    setArithFlags(c, c.r8[0]!, 8, adjust, 0, adjust);
  };
}

function aam(c: Cpu, imm: number): void {
  if (imm === 0) raise(Vector.DE);
  const al = c.r8[0]!;
  c.r8[1] = Math.floor(al / imm);
  c.r8[0] = al % imm;
  setArithFlags(c, c.r8[0]!, 8, 0, 0, 0);
}

function aad(c: Cpu, imm: number): void {
  const a = c.r8[0]!, b = (c.r8[1]! * imm) & 0xff;
  const res = (a + b) & 0xff;
  c.r16[0] = res;
  const cf = a + b > 0xff ? 1 : 0;
  const of = (((a ^ res) & (b ^ res)) >> 7) & 1;
  setArithFlags(c, res, 8, cf, of, ((a ^ b ^ res) >> 4) & 1);
}

export const DECIMAL: ExecutorFamily = {
  DAA: daa,
  DAS: das,
  AAA: asciiAdjust(true),
  AAS: asciiAdjust(false),
  AAM: (c, d) => aam(c, d.imm & 0xff),
  AAD: (c, d) => aad(c, d.imm & 0xff),
};
