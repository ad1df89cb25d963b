/**
 * Matches operands against one table row: does the row fit, and with which operand size?
 *
 * NASM's rules, restated for the table's operand kinds:
 * - a `v`/`z` kind takes its size (16 or 32) from a register, a sized memory operand or a sized
 *   immediate in that slot; with none, from an explicit o16/o32 prefix, else from `bits`;
 * - a memory operand without a size keyword is fine when another operand implies its size
 *   (`mov [ebx], al`); otherwise the row reports the size it would need, and the caller accepts
 *   the memory operand only if every candidate row needs the same size ("operation size not
 *   specified" otherwise), as NASM does;
 * - `Ibs` (an imm8 sign-extended to the operand size) takes a plain number whose value,
 *   truncated to the operand size, is within -128..127 (so `add eax, 0xFFFFFFFF` uses 83 /0),
 *   or any immediate written `byte`; never a label, never under `strict` with a bigger size.
 */
import type { InsnForm, OperandKind } from '../../emulator/isa/index.js';
import type { Operand } from './operand.js';

export type MatchResult =
  | { readonly ok: true; readonly osize: 0 | 16 | 32 }
  /** Fits except that an unsized memory operand would have to be `size` bits. */
  | { readonly ok: false; readonly missingSize?: number };

const V_KINDS: ReadonlySet<OperandKind> = new Set(['Ev', 'Gv', 'Rv', 'Zv', 'eAX', 'Iz', 'Ibs', 'Jz', 'Ov', 'Ap', 'Mp']);

/** Fixed width in bits of an operand kind, or 'v' for operand-size kinds, or 0 for sizeless ones. */
function kindWidth(kind: OperandKind): number | 'v' {
  switch (kind) {
    case 'Eb': case 'Gb': case 'Zb': case 'AL': case 'CL': case 'Ib': case 'Ob': case 'Jb':
      return 8;
    case 'Ew': case 'Gw': case 'Mw': case 'Sw': case 'DX': case 'AX': case 'Iw':
    case 'ES': case 'CS': case 'SS': case 'DS': case 'FS': case 'GS':
      return 16;
    case 'Ed': case 'Gd': case 'Rd': case 'Zd': case 'Cd': case 'Dd': case 'Md':
      return 32;
    case 'Mq':
      return 64;
    case 'Ev': case 'Gv': case 'Rv': case 'Zv': case 'eAX': case 'Iz': case 'Ibs': case 'Jz': case 'Ov': case 'Ap':
      return 'v';
    default:
      return 0;
  }
}

const isMemoryKind = (k: OperandKind): boolean => k[0] === 'E' || k[0] === 'M' || k[0] === 'O';

function registerMatches(kind: OperandKind, op: Extract<Operand, { kind: 'reg' }>, osize: number): boolean {
  const r = op.reg;
  switch (kind) {
    case 'Eb': case 'Gb': case 'Zb': return r.cls === 'r8';
    case 'Ew': case 'Gw': return r.cls === 'r16';
    case 'Ed': case 'Gd': case 'Rd': case 'Zd': return r.cls === 'r32';
    case 'Ev': case 'Gv': case 'Rv': case 'Zv': return r.cls === (osize === 16 ? 'r16' : 'r32');
    case 'Sw': return r.cls === 'sreg';
    case 'Cd': return r.cls === 'cr';
    case 'Dd': return r.cls === 'dr';
    case 'AL': return r.name === 'al';
    case 'CL': return r.name === 'cl';
    case 'DX': return r.name === 'dx';
    case 'AX': return r.name === 'ax';
    case 'eAX': return r.name === (osize === 16 ? 'ax' : 'eax');
    case 'ES': case 'CS': case 'SS': case 'DS': case 'FS': case 'GS': return r.name === kind.toLowerCase();
    default: return false;
  }
}

/** The operand size a slot pins down, if any: 16 or 32, or 0 for none, or -1 for a mismatch. */
function sizeFromOperand(kind: OperandKind, op: Operand): number {
  if (!V_KINDS.has(kind)) return 0;
  switch (op.kind) {
    case 'reg':
      return op.reg.cls === 'r16' ? 16 : op.reg.cls === 'r32' ? 32 : -1;
    case 'mem':
      if (kind === 'Mp') return 0;
      return op.syntax.size === 0 ? 0 : op.syntax.size === 16 || op.syntax.size === 32 ? op.syntax.size : -1;
    case 'imm':
      if (op.size === 16 || op.size === 32) return op.size;
      if (op.size === 8) return kind === 'Ibs' ? 0 : -1;
      return op.size === 0 ? 0 : -1;
    case 'farptr':
      return op.size === 16 || op.size === 32 ? op.size : 0;
  }
}

/** Whether a plain number fits the sign-extended imm8 at this operand size (NASM's sbyte test). */
export function fitsSignExtendedByte(n: bigint, osize: number): boolean {
  const mask = osize === 16 ? 0xffffn : 0xffffffffn;
  return ((n + 128n) & mask) <= 255n;
}

export interface MatchContext {
  /** Operand size with no operand saying otherwise: the o16/o32 prefix, else `bits`. */
  readonly defaultOsize: 16 | 32;
  /** The unsized memory operand is taken to be this size (the retry after "size missing"). */
  readonly assumedMemorySize: number;
}

export function matchForm(form: InsnForm, ops: readonly Operand[], ctx: MatchContext): MatchResult {
  const kinds = form.operands;
  if (kinds.length !== ops.length) return { ok: false };

  // 1. Operand size.
  let osize: 0 | 16 | 32 = form.osize;
  let pinned = false;
  if (form.osize === 0 && kinds.some((k) => V_KINDS.has(k))) {
    let found = 0;
    for (let i = 0; i < kinds.length; i++) {
      const s = sizeFromOperand(kinds[i]!, ops[i]!);
      if (s < 0) return { ok: false };
      if (s > 0) {
        if (found && found !== s) return { ok: false };
        found = s;
      }
    }
    pinned = found !== 0;
    osize = (found || ctx.defaultOsize) as 16 | 32;
  }

  // 2. Each operand against its kind.
  let missingSize: number | undefined;
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    const op = ops[i]!;
    const widthSpec = kindWidth(kind);
    const width = widthSpec === 'v' ? osize : widthSpec;
    switch (op.kind) {
      case 'reg':
        if (!registerMatches(kind, op, osize)) return { ok: false };
        break;
      case 'farptr':
        if (kind !== 'Ap') return { ok: false };
        break;
      case 'imm': {
        if (!immediateMatches(kind, op, osize)) return { ok: false };
        break;
      }
      case 'mem': {
        if (!isMemoryKind(kind)) return { ok: false };
        const m = op.syntax;
        if (kind === 'Ob' || kind === 'Ov') {
          if (m.terms.length > 0) return { ok: false };
        }
        if (m.distance === 'far' && kind !== 'Mp') return { ok: false };
        if (m.distance === 'near' && kind[0] !== 'E') return { ok: false };
        if (kind === 'Mp' || kind === 'M' || kind === 'Ms' || kind === 'Ma' || kind === 'Mdq') break;
        const size = m.size || ctx.assumedMemorySize;
        if (size !== 0) {
          if (size !== width) return { ok: false };
          break;
        }
        // Unsized: implied by another operand of the same width, or by the operand size of
        // a `v` row that another operand pinned.
        const implied = widthSpec === 'v' ? pinned : kinds.some((k, j) => j !== i && impliesWidth(k, ops[j]!, width, osize));
        const nearDefault = widthSpec === 'v' && (form.op === 'JMP' || form.op === 'CALL');
        if (!implied && !nearDefault) missingSize = width;
        break;
      }
    }
  }
  if (missingSize !== undefined) return { ok: false, missingSize };
  return { ok: true, osize };
}

/** Whether operand `op` in slot `kind` states the width `width` (a register or a sized operand). */
function impliesWidth(kind: OperandKind, op: Operand, width: number, osize: number): boolean {
  // A shift count in CL or a port in DX says nothing about the size of the memory operand
  // (NASM rejects `shl [ebx], cl`).
  if (kind === 'CL' || kind === 'DX') return false;
  const w = kindWidth(kind);
  const actual = w === 'v' ? osize : w;
  if (actual !== width) return false;
  if (op.kind === 'reg') return true;
  if (op.kind === 'mem') return op.syntax.size === width;
  // `mov [x], byte 5`: a sized immediate states the operation size too.
  if (op.kind === 'imm') return op.size === width;
  return false;
}

function immediateMatches(kind: OperandKind, op: Extract<Operand, { kind: 'imm' }>, osize: number): boolean {
  const v = op.value;
  const plain = !v.unknown && v.section === null;
  switch (kind) {
    case '1':
      return plain && v.n === 1n && (op.size === 0 || op.size === 8) && op.distance === null;
    case 'Ib':
      return (op.size === 0 || op.size === 8) && op.distance === null;
    case 'Iw':
      return (op.size === 0 || op.size === 16) && op.distance === null;
    case 'Iz':
      return (op.size === 0 || op.size === osize) && op.distance === null;
    case 'Ibs':
      if (op.distance !== null) return false;
      if (op.size === 8) return true;
      if (op.strict) return false;
      return plain && fitsSignExtendedByte(v.n, osize);
    case 'Jb':
      return op.distance !== 'near' && op.distance !== 'far' && (op.size === 0 || op.size === 8 || op.size === osize) && (!op.strict || op.distance === 'short');
    case 'Jz':
      return op.distance !== 'short' && op.distance !== 'far' && op.size !== 8;
    default:
      return false;
  }
}
