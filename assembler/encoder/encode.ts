/**
 * Encodes one instruction: picks the table row NASM would pick (the first that fits, in table
 * order, with NASM's size rules and jump sizing) and derives its bytes from the row's fields:
 * prefixes, opcode bytes, `+r`, ModRM `/r` or `/digit` or fixed, then immediates in operand order.
 *
 * Prefix order is NASM's: LOCK/REP, segment override, 66 (operand size), 67 (address size),
 * then the row's mandatory prefix right before the opcode.
 */
import { FORMS_BY_MNEMONIC, canonicalMnemonic, type InsnForm, type OperandKind } from '../../emulator/isa/index.js';
import { LineError } from '../diagnostics.js';
import type { Value } from '../evaluate.js';
import { addressSizeOf, encodeAddress, pushLE } from './effective-address.js';
import { matchForm, type MatchResult } from './match.js';
import type { Operand } from './operand.js';

export interface InstructionContext {
  readonly bits: 16 | 32;
  /** Absolute address of the instruction's first byte. */
  readonly address: bigint;
  /** Index of the section being assembled (a short jump only reaches into its own section). */
  readonly section: number;
  /** Never pick an automatically sized short jump (once a jump grew late in the passes, it stays near). */
  readonly pessimisticJumps: boolean;
  readonly warn: (message: string, column: number) => void;
}

export interface EncodedInstruction {
  readonly bytes: number[];
  /** The row used, or null for a line of prefixes only. */
  readonly form: InsnForm | null;
}

const SEGMENT_PREFIX: Readonly<Record<string, number>> = { es: 0x26, cs: 0x2e, ss: 0x36, ds: 0x3e, fs: 0x64, gs: 0x65 };
const GROUP1_PREFIX: Readonly<Record<string, number>> = { lock: 0xf0, rep: 0xf3, repe: 0xf3, repz: 0xf3, repne: 0xf2, repnz: 0xf2 };

interface Prefixes {
  group1: number[];
  segment: number;
  osize: 0 | 16 | 32;
  asize: 0 | 16 | 32;
}

function readPrefixes(list: readonly { name: string; col: number }[]): Prefixes {
  const p: Prefixes = { group1: [], segment: 0, osize: 0, asize: 0 };
  for (const { name, col } of list) {
    if (name in GROUP1_PREFIX) p.group1.push(GROUP1_PREFIX[name]!);
    else if (name in SEGMENT_PREFIX) {
      if (p.segment) throw new LineError('more than one segment override', col);
      p.segment = SEGMENT_PREFIX[name]!;
    } else if (name === 'o16' || name === 'o32') p.osize = name === 'o16' ? 16 : 32;
    else if (name === 'a16' || name === 'a32') p.asize = name === 'a16' ? 16 : 32;
  }
  return p;
}

const isRegField = (k: OperandKind): boolean => k[0] === 'G' || k === 'Sw' || k === 'Cd' || k === 'Dd';
const isRmField = (k: OperandKind): boolean => k[0] === 'E' || k[0] === 'R' || k[0] === 'M';

/** A short jump that does not reach: the caller tries the next row. */
class DoesNotReach {}

export function encodeInstruction(
  mnemonicText: string, prefixList: readonly { name: string; col: number }[], operands: readonly Operand[],
  ctx: InstructionContext, col: number,
): EncodedInstruction {
  const prefixes = readPrefixes(prefixList);
  const bits = ctx.bits;
  if (mnemonicText === '') {
    const bytes = [...prefixes.group1];
    if (prefixes.segment) bytes.push(prefixes.segment);
    if (prefixes.osize && prefixes.osize !== bits) bytes.push(0x66);
    if (prefixes.asize && prefixes.asize !== bits) bytes.push(0x67);
    return { bytes, form: null };
  }
  // An explicit o16/o32 is a raw prefix in NASM: the instruction is still assembled for `bits`
  // (so `o32 push 0x80` in 16-bit code is 66 68 80 00), and the prefix only adds a 66.
  const defaultOsize = bits;
  const mnemonic = canonicalMnemonic(mnemonicText, defaultOsize);
  const forms = mnemonic ? FORMS_BY_MNEMONIC.get(mnemonic) : undefined;
  if (!forms) throw new LineError(`unknown instruction '${mnemonicText.toLowerCase()}'`, col);

  let ops = operands;
  // NASM's two-operand immediate IMUL is the three-operand form with the destination repeated.
  if (mnemonic === 'IMUL' && ops.length === 2 && ops[1]!.kind === 'imm') ops = [ops[0]!, ops[0]!, ops[1]!];

  let shortOutOfRange = false;
  const attempt = (assumedMemorySize: number): { result?: EncodedInstruction; missing: Set<number> } => {
    const missing = new Set<number>();
    for (const form of forms) {
      const m: MatchResult = matchForm(form, ops, { defaultOsize, assumedMemorySize });
      if (!m.ok) {
        if (m.missingSize !== undefined) missing.add(m.missingSize);
        continue;
      }
      const bytes = encodeForm(form, m.osize, ops, prefixes, ctx);
      if (bytes instanceof DoesNotReach) {
        shortOutOfRange = true;
        continue;
      }
      return { result: { bytes, form }, missing };
    }
    return { missing };
  };
  const first = attempt(0);
  if (first.result) return first.result;
  if (first.missing.size === 1) {
    const retry = attempt([...first.missing][0]!);
    if (retry.result) return retry.result;
  }
  if (first.missing.size > 1) throw new LineError('operation size not specified', col);
  if (shortOutOfRange) throw new LineError('short jump is out of range', col);
  throw new LineError(`invalid combination of opcode and operands`, col);
}

function immediateValue(op: Operand): Value {
  if (op.kind === 'imm') return op.value;
  throw new LineError('immediate expected', op.col);
}

function warnRange(n: bigint, bytes: number, ctx: InstructionContext, col: number, value: Value): void {
  if (value.unknown || value.section !== null) return;
  const bitsN = BigInt(bytes * 8);
  // NASM's overflow_general(): anything in [-2^bits, 2^bits - 1] fits, whether meant signed or not.
  if (n < -(1n << bitsN) || n >= 1n << bitsN) {
    ctx.warn(bytes === 1 ? 'byte data exceeds bounds' : bytes === 2 ? 'word data exceeds bounds' : 'dword data exceeds bounds', col);
  }
}

function encodeForm(
  form: InsnForm, osize: 0 | 16 | 32, ops: readonly Operand[], prefixes: Prefixes, ctx: InstructionContext,
): number[] | DoesNotReach {
  const bits = ctx.bits;
  const kinds = form.operands;
  const defaultAsize = prefixes.asize || bits;
  let segment = prefixes.segment;
  let addressSize: number = prefixes.asize || form.asize || 0;

  // ModRM and its memory operand.
  let modrm: number[] = [];
  if (form.modrm.kind !== 'none') {
    if (form.modrm.kind === 'fixed') modrm = [form.modrm.byte];
    else {
      let regField = form.modrm.kind === 'digit' ? form.modrm.digit : 0;
      if (form.modrm.kind === 'r') {
        const i = kinds.findIndex(isRegField);
        const op = ops[i];
        if (!op || op.kind !== 'reg') throw new LineError('register operand expected', op?.col ?? 0);
        regField = op.reg.num;
      }
      const i = kinds.findIndex(isRmField);
      const op = ops[i];
      if (!op) throw new LineError('operand expected', 0);
      if (op.kind === 'reg') modrm = [0xc0 | (regField << 3) | op.reg.num];
      else if (op.kind === 'mem') {
        const ea = encodeAddress(op.syntax, op.disp, defaultAsize, (msg) => ctx.warn(msg, op.col));
        ea.bytes[0]! |= regField << 3;
        modrm = ea.bytes;
        addressSize = ea.addressSize;
        if (op.syntax.segment) segment = SEGMENT_PREFIX[op.syntax.segment.name]!;
      } else throw new LineError('register or memory operand expected', op.col);
    }
  }

  // Opcode, with the register of a `+r` row.
  const opcode = [...form.opcode];
  if (form.plusReg) {
    const i = kinds.findIndex((k) => k[0] === 'Z');
    const op = ops[i];
    if (!op || op.kind !== 'reg') throw new LineError('register operand expected', 0);
    opcode[opcode.length - 1]! += op.reg.num;
  }

  // Immediates, offsets and relative targets, in operand order; the relative one last because it
  // depends on the total length.
  const tail: number[] = [];
  let relative: { kind: 'Jb' | 'Jz'; value: Value; op: Operand; at: number } | null = null;
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    const op = ops[i]!;
    switch (kind) {
      case 'Ib': case 'Ibs': {
        const v = immediateValue(op);
        if (kind === 'Ib') warnRange(v.n, 1, ctx, op.col, v);
        pushLE(tail, v.n, 1);
        break;
      }
      case 'Iw': {
        const v = immediateValue(op);
        warnRange(v.n, 2, ctx, op.col, v);
        pushLE(tail, v.n, 2);
        break;
      }
      case 'Iz': {
        const v = immediateValue(op);
        warnRange(v.n, osize / 8, ctx, op.col, v);
        pushLE(tail, v.n, osize / 8);
        break;
      }
      case 'Jb': case 'Jz':
        relative = { kind, value: immediateValue(op), op, at: tail.length };
        tail.push(...new Array<number>(kind === 'Jb' ? 1 : osize / 8).fill(0));
        break;
      case 'Ob': case 'Ov': {
        if (op.kind !== 'mem') throw new LineError('memory operand expected', op.col);
        addressSize = addressSizeOf(op.syntax, defaultAsize);
        if (op.syntax.segment) segment = SEGMENT_PREFIX[op.syntax.segment.name]!;
        pushLE(tail, op.disp?.n ?? 0n, addressSize / 8);
        break;
      }
      case 'Ap': {
        if (op.kind !== 'farptr') throw new LineError('seg:offset expected', op.col);
        pushLE(tail, op.offset.n, osize / 8);
        pushLE(tail, op.seg.n, 2);
        break;
      }
      default:
        break;
    }
  }

  const bytes: number[] = [...prefixes.group1];
  if (segment) bytes.push(segment);
  if ((osize && osize !== bits) || (prefixes.osize && prefixes.osize !== bits)) bytes.push(0x66);
  if (addressSize && addressSize !== bits) bytes.push(0x67);
  if (form.prefix) bytes.push(form.prefix);
  bytes.push(...opcode, ...modrm);
  const tailStart = bytes.length;
  bytes.push(...tail);

  if (relative) {
    const target = relative.value;
    const next = ctx.address + BigInt(bytes.length);
    const rel = target.n - next;
    const slot = tailStart + relative.at;
    if (relative.kind === 'Jb') {
      const explicitShort = relative.op.kind === 'imm' && relative.op.distance === 'short';
      const onlyShort = !form.mnemonic.startsWith('J') || form.mnemonic === 'JCXZ' || form.mnemonic === 'JECXZ';
      if (ctx.pessimisticJumps && !explicitShort && !onlyShort) return new DoesNotReach();
      if (!target.unknown) {
        const reaches = target.section === ctx.section && rel >= -128n && rel <= 127n;
        const sameSpace = target.section === ctx.section || explicitShort || onlyShort;
        if (!reaches && !(explicitShort || onlyShort)) return new DoesNotReach();
        if (!(rel >= -128n && rel <= 127n) || !sameSpace) {
          if (explicitShort || onlyShort) throw new LineError('short jump is out of range', relative.op.col);
        }
      }
      bytes[slot] = Number(BigInt.asUintN(8, rel));
    } else {
      const size = osize / 8;
      for (let k = 0; k < size; k++) bytes[slot + k] = Number((BigInt.asUintN(64, rel) >> BigInt(8 * k)) & 0xffn);
    }
  }
  return bytes;
}
