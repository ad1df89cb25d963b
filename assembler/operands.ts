/**
 * Parses instruction operands: registers, memory references `[seg:base+index*scale+disp]` with
 * their size keywords, immediates (with `strict`, `short`, `near`, `far`) and `seg:offset`.
 */
import { LineError } from './diagnostics.js';
import { ExpressionParser, isConstantExpr, type Expr, type NameScope, type TokenCursor } from './expression.js';
import { evaluate } from './evaluate.js';
import { lookupRegister, type Register } from './registers.js';
import type { AddressTerm, MemorySyntax, OperandSyntax, SizeKeyword } from './statement.js';

const SIZE_KEYWORDS: Readonly<Record<string, SizeKeyword>> = { byte: 8, word: 16, dword: 32, qword: 64, tword: 80 };

export function sizeKeyword(word: string): SizeKeyword | undefined {
  return SIZE_KEYWORDS[word.toLowerCase()];
}

export function parseOperand(cur: TokenCursor, scope: NameScope): OperandSyntax {
  const col = cur.col();
  let size: SizeKeyword | 0 = 0;
  let strict = false;
  let distance: 'short' | 'near' | 'far' | null = null;
  for (;;) {
    const t = cur.peek();
    if (!t || t.t !== 'id') break;
    const w = t.text.toLowerCase();
    const s = sizeKeyword(w);
    if (s !== undefined) size = s;
    else if (w === 'strict') strict = true;
    else if (w === 'short' || w === 'near' || w === 'far') distance = w;
    else break;
    cur.pos++;
  }
  if (cur.isOp('[')) {
    cur.pos++;
    if (distance === 'short') throw new LineError("'short' does not apply to a memory operand", col);
    const mem = parseMemory(cur, scope, size, distance, strict, col);
    cur.expectOp(']');
    return mem;
  }
  const t = cur.peek();
  if (t && t.t === 'id' && !t.text.startsWith('$')) {
    const reg = lookupRegister(t.text);
    const after = cur.peek(1);
    if (reg && (after === undefined || (after.t === 'op' && after.text === ','))) {
      cur.pos++;
      if (size && reg.cls !== 'sreg' && size !== { r8: 8, r16: 16, r32: 32 }[reg.cls as 'r8']) {
        throw new LineError(`size keyword does not match register '${reg.name}'`, col);
      }
      return { kind: 'reg', reg, col };
    }
  }
  if (cur.atEnd() || cur.isOp(',')) throw new LineError('operand expected', cur.col());
  const expr = new ExpressionParser(cur, scope).parse();
  if (cur.takeOp(':')) {
    const offset = new ExpressionParser(cur, scope).parse();
    return { kind: 'farptr', seg: expr, offset, size, col };
  }
  return { kind: 'imm', expr, size, strict, distance, col };
}

function parseMemory(
  cur: TokenCursor, scope: NameScope, size: SizeKeyword | 0, distance: 'short' | 'near' | 'far' | null,
  strict: boolean, col: number,
): MemorySyntax {
  let dispSize: 0 | 8 | 16 | 32 = 0;
  let nosplit = false;
  let segment: Register | null = null;
  for (;;) {
    const t = cur.peek();
    if (!t || t.t !== 'id') break;
    const w = t.text.toLowerCase();
    const s = sizeKeyword(w);
    if (s === 8 || s === 16 || s === 32) dispSize = s;
    else if (w === 'nosplit') nosplit = true;
    else if (w === 'rel' || w === 'abs') { /* 64-bit only; meaningless in 16/32-bit code */ }
    else if (cur.isOp(':', 1) && lookupRegister(w)?.cls === 'sreg') {
      segment = lookupRegister(w)!;
      cur.pos += 2;
      continue;
    } else break;
    cur.pos++;
  }
  if (cur.isOp(']')) throw new LineError('empty memory reference', cur.col());
  const e = new ExpressionParser(cur, scope, true).parse();
  const terms: AddressTerm[] = [];
  const disps: { e: Expr; negative: boolean }[] = [];
  splitAddress(e, false, terms, disps);
  let disp: Expr | null = null;
  for (const d of disps) {
    if (disp === null) disp = d.negative ? { k: 'un', op: '-', a: d.e } : d.e;
    else disp = { k: 'bin', op: d.negative ? '-' : '+', a: disp, b: d.e, col };
  }
  // Merge repeated registers: [eax+eax] is [eax*2].
  const merged: AddressTerm[] = [];
  for (const t of terms) {
    const prev = merged.find((m) => m.reg === t.reg);
    if (prev) merged[merged.indexOf(prev)] = { reg: t.reg, scale: prev.scale + t.scale };
    else merged.push(t);
  }
  return {
    kind: 'mem', size, distance: distance === 'short' ? null : distance, strict, segment,
    terms: merged.filter((t) => t.scale !== 0), disp, dispSize, nosplit, col,
  };
}

const hasRegister = (e: Expr): boolean =>
  e.k === 'reg' || (e.k === 'un' && hasRegister(e.a)) || (e.k === 'bin' && (hasRegister(e.a) || hasRegister(e.b)))
  || (e.k === 'cond' && (hasRegister(e.c) || hasRegister(e.a) || hasRegister(e.b)));

function constant(e: Expr, col: number): number {
  if (!isConstantExpr(e)) throw new LineError('scale must be a constant', col);
  const v = evaluate(e, { symbol: () => undefined, here: () => { throw new LineError('bad scale'); }, base: () => { throw new LineError('bad scale'); } });
  return Number(v.n);
}

/** Splits an address expression into register terms and the displacement terms around them. */
function splitAddress(e: Expr, negative: boolean, terms: AddressTerm[], disps: { e: Expr; negative: boolean }[]): void {
  if (!hasRegister(e)) {
    disps.push({ e, negative });
    return;
  }
  const sign = negative ? -1 : 1;
  switch (e.k) {
    case 'reg':
      terms.push({ reg: e.reg, scale: sign });
      return;
    case 'un':
      if (e.op === '-') return splitAddress(e.a, !negative, terms, disps);
      break;
    case 'bin':
      if (e.op === '+') {
        splitAddress(e.a, negative, terms, disps);
        splitAddress(e.b, negative, terms, disps);
        return;
      }
      if (e.op === '-') {
        splitAddress(e.a, negative, terms, disps);
        splitAddress(e.b, !negative, terms, disps);
        return;
      }
      if (e.op === '*') {
        if (e.a.k === 'reg' && !hasRegister(e.b)) { terms.push({ reg: e.a.reg, scale: sign * constant(e.b, e.col) }); return; }
        if (e.b.k === 'reg' && !hasRegister(e.a)) { terms.push({ reg: e.b.reg, scale: sign * constant(e.a, e.col) }); return; }
      }
      break;
    default:
      break;
  }
  throw new LineError('invalid effective address', 'col' in e ? (e as { col: number }).col : 0);
}
