/**
 * Evaluates expressions to values. Arithmetic is 64-bit two's complement as in NASM. A value may
 * be an address in a section (a label, `$`, `$$`): NASM calls these relocatable, and treats them
 * differently from plain numbers when choosing encodings (a label never fits a sign-extended
 * byte; a displacement naming one is always full size). A value is unknown when it depends on
 * a symbol not (yet) defined: the first pass of a forward reference.
 */
import { LineError } from './diagnostics.js';
import type { Expr } from './expression.js';

export interface Value {
  /** The number, as a signed 64-bit integer. For a section address, the absolute address. */
  readonly n: bigint;
  /** The section a relocatable value points into, or null for a plain number. */
  readonly section: number | null;
  /** Depends on a symbol whose value is not known yet. */
  readonly unknown: boolean;
}

export const absolute = (n: bigint): Value => ({ n: BigInt.asIntN(64, n), section: null, unknown: false });

export interface EvalContext {
  /** The value of a symbol, or undefined when it is not defined (yet). */
  symbol(name: string): Value | undefined;
  /** `$` and `$$`. */
  here(): Value;
  base(): Value;
  /** Called for each undefined symbol met (the final pass turns these into errors). */
  undefinedSymbol?(name: string, col: number): void;
}

const wrap = (n: bigint): bigint => BigInt.asIntN(64, n);
const u64 = (n: bigint): bigint => BigInt.asUintN(64, n);
const bool = (b: boolean): bigint => (b ? 1n : 0n);

function shiftCount(b: bigint): number {
  const u = u64(b);
  return u > 63n ? 64 : Number(u);
}

export function evaluate(e: Expr, ctx: EvalContext): Value {
  switch (e.k) {
    case 'num':
      return absolute(e.v);
    case 'here':
      return ctx.here();
    case 'base':
      return ctx.base();
    case 'sym': {
      const v = ctx.symbol(e.name);
      if (v) return v;
      ctx.undefinedSymbol?.(e.name, e.col);
      return { n: 0n, section: null, unknown: true };
    }
    case 'reg':
      throw new LineError(`register '${e.reg.name}' not allowed here`, e.col);
    case 'un': {
      const a = evaluate(e.a, ctx);
      const n = e.op === '-' ? -a.n : e.op === '~' ? ~a.n : bool(a.n === 0n);
      return { n: wrap(n), section: null, unknown: a.unknown };
    }
    case 'cond': {
      const c = evaluate(e.c, ctx);
      const a = evaluate(e.a, ctx);
      const b = evaluate(e.b, ctx);
      const pick = c.n !== 0n ? a : b;
      return { ...pick, unknown: pick.unknown || c.unknown };
    }
    case 'bin':
      return binary(e.op, evaluate(e.a, ctx), evaluate(e.b, ctx), e.col);
  }
}

function binary(op: string, a: Value, b: Value, col: number): Value {
  const unknown = a.unknown || b.unknown;
  if (op === '+') {
    if (a.section !== null && b.section !== null && !unknown) throw new LineError('cannot add two addresses', col);
    return { n: wrap(a.n + b.n), section: a.section ?? b.section, unknown };
  }
  if (op === '-') {
    if (b.section !== null && a.section === null && !unknown) throw new LineError('cannot subtract an address from a number', col);
    // The difference of two addresses is a plain number (a size or a distance).
    return { n: wrap(a.n - b.n), section: b.section !== null ? null : a.section, unknown };
  }
  const x = a.n;
  const y = b.n;
  let n: bigint;
  switch (op) {
    case '*': n = x * y; break;
    case '/': case '//': case '%': case '%%': {
      if (y === 0n) {
        if (unknown) return { n: 0n, section: null, unknown };
        throw new LineError('division by zero', col);
      }
      const signed = op === '//' || op === '%%';
      const [p, q] = signed ? [x, y] : [u64(x), u64(y)];
      n = op === '/' || op === '//' ? p / q : p % q;
      break;
    }
    case '<<': case '<<<': n = shiftCount(y) >= 64 ? 0n : x << BigInt(shiftCount(y)); break;
    case '>>': n = shiftCount(y) >= 64 ? 0n : u64(x) >> BigInt(shiftCount(y)); break;
    case '>>>': n = x >> BigInt(Math.min(shiftCount(y), 63)); break;
    case '&': n = x & y; break;
    case '|': n = x | y; break;
    case '^': n = x ^ y; break;
    case '&&': n = bool(x !== 0n && y !== 0n); break;
    case '||': n = bool(x !== 0n || y !== 0n); break;
    case '^^': n = bool((x !== 0n) !== (y !== 0n)); break;
    case '=': case '==': n = bool(x === y); break;
    case '!=': case '<>': n = bool(x !== y); break;
    case '<': n = bool(x < y); break;
    case '<=': n = bool(x <= y); break;
    case '>': n = bool(x > y); break;
    case '>=': n = bool(x >= y); break;
    case '<=>': n = x < y ? -1n : x > y ? 1n : 0n; break;
    default: throw new LineError(`unknown operator '${op}'`, col);
  }
  return { n: wrap(n), section: null, unknown };
}
