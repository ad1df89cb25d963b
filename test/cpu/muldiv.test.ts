/**
 * 32-bit MUL, IMUL (one operand), DIV and IDIV through the real CPU, in both tiers, against a
 * bigint model of the SDM's definitions: random operands and the edges of the number arithmetic
 * the executors use (16-bit pieces of the product; a dividend below 2^52 or not; a dividend that
 * is or is not a sign-extended 32-bit value), with #DE where the quotient does not fit.
 */
import { describe, expect, it } from 'vitest';
import { CF, OF } from '../../emulator/cpu/flags.js';
import { CODE_BASE, Machine } from './harness.js';

type Op = 'mul' | 'imul' | 'div' | 'idiv';
/** F7 /4 /5 /6 /7 with EBX: mul ebx, imul ebx, div ebx, idiv ebx. */
const ENCODING: Record<Op, number[]> = { mul: [0xf7, 0xe3], imul: [0xf7, 0xeb], div: [0xf7, 0xf3], idiv: [0xf7, 0xfb] };

interface Expected { eax: number; edx: number; overflow?: boolean; de?: true }

function model(op: Op, eax: number, edx: number, ebx: number): Expected {
  const u = (v: number): bigint => BigInt(v >>> 0), s = (v: number): bigint => BigInt(v | 0);
  const lo = (v: bigint): number => Number(BigInt.asUintN(32, v));
  const hi = (v: bigint): number => Number(BigInt.asUintN(32, v >> 32n));
  if (op === 'mul' || op === 'imul') {
    const p = op === 'mul' ? u(eax) * u(ebx) : s(eax) * s(ebx);
    const overflow = op === 'mul' ? hi(p) !== 0 : p !== BigInt.asIntN(32, p);
    return { eax: lo(p), edx: hi(p), overflow };
  }
  if ((ebx | 0) === 0) return { eax, edx, de: true };
  const dividend = (u(edx) << 32n) | u(eax);
  const n = op === 'div' ? dividend : BigInt.asIntN(64, dividend);
  const d = op === 'div' ? u(ebx) : s(ebx);
  const q = n / d, r = n % d;
  const fits = op === 'div' ? q <= 0xffffffffn : q >= -0x80000000n && q <= 0x7fffffffn;
  return fits ? { eax: lo(q), edx: lo(r) } : { eax, edx, de: true };
}

/** Operand triples (EAX, EDX, EBX): fixed edges, then a deterministic pseudo-random spread. */
function cases(): [number, number, number][] {
  const edges = [0, 1, 2, 3, 0xffff, 0x10000, 0x10001, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678, 0xdeadbeef];
  const highs = [0, 1, 0xfffff, 0x100000, 0x100001, 0x7fffffff, 0x80000000, 0xffffffff, 0xfff00000];
  const out: [number, number, number][] = [];
  for (const a of edges) for (const b of edges) out.push([a, 0, b]);
  for (const h of highs) for (const b of edges) out.push([0x89abcdef, h, b], [0, h, b]);
  for (const b of edges) out.push([0x76543210, b - 1, b]); // the largest high word that still fits (DIV)
  for (const a of edges) for (const b of edges) out.push([a, (a | 0) < 0 ? 0xffffffff : 0, b]); // sign-extended (IDIV)
  let x = 0x2545f491;
  const next = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
  for (let i = 0; i < 200; i++) {
    const a = next(), b = next() >>> (next() % 32), h = next() % 4 === 0 ? next() : next() >>> (next() % 32);
    out.push([a, h, b], [a, (a | 0) < 0 ? 0xffffffff : 0, b]); // any high word, and a sign extension
  }
  return out;
}

for (const engine of ['interpret', 'blocks'] as const) {
  describe(`32-bit multiply and divide (${engine})`, () => {
    for (const op of ['mul', 'imul', 'div', 'idiv'] as const) {
      it(`${op} ebx agrees with a 64-bit model`, () => {
        const m = new Machine({ engine });
        const all = cases();
        let checked = 0, faults = 0;
        for (const [eax, edx, ebx] of all) {
          m.reset();
          m.poke(CODE_BASE, [...ENCODING[op], 0xf4]);
          m.cpu.flushDecodeCache();
          m.cpu.eip = CODE_BASE;
          m.cpu.r[0] = eax; m.cpu.r[2] = edx; m.cpu.r[3] = ebx;
          const out = m.run(10);
          const want = model(op, eax, edx, ebx);
          const what = `${op} eax=${eax.toString(16)} edx=${edx.toString(16)} ebx=${ebx.toString(16)}`;
          if (want.de) {
            expect(out.exception?.vector, what).toBe(0);
            faults++;
          } else {
            expect(out.exception, what).toBeNull();
            expect([m.cpu.r[0]! >>> 0, m.cpu.r[2]! >>> 0], what).toEqual([want.eax, want.edx]);
            if (want.overflow !== undefined) expect(m.cpu.eflags & (CF | OF), what).toBe(want.overflow ? CF | OF : 0);
          }
          checked++;
        }
        expect(checked).toBe(all.length);
        if (op === 'div' || op === 'idiv') expect(faults).toBeGreaterThan(20);
      });
    }
  });
}
