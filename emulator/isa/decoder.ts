/**
 * The instruction decoder: bytes to a table row plus its operands. Used by the CPU (which decodes
 * each instruction once into cached blocks), the disassembler and the hypervisor's MMIO emulation.
 *
 * Decoding follows SDM Vol. 2A chapter 2: legacy prefixes in any order (the last segment override
 * wins), then a one-, two- (0F) or three-byte (0F 38) opcode, ModRM, SIB, displacement and
 * immediates. The table's DECODE_MAP lists the candidate rows per opcode byte, most specific first.
 */
import { DECODE_MAP } from './index.js';
import type { InsnForm, OperandKind } from './types.js';

/** Segment register numbers, in ModRM/Sreg encoding order. */
export const enum Seg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5 }

/** General-purpose register numbers, in ModRM encoding order. */
export const enum Reg { EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7 }

/** No register in this slot of an effective address. */
export const NO_REG = -1;

/** The architectural limit on instruction length (SDM 2.3.11): longer raises #GP(0). */
export const MAX_INSTRUCTION_LENGTH = 15;

/** A decoded instruction. One class so that V8 sees one object shape. */
export class DecodedInsn {
  /** Table row. */
  form: InsnForm;
  /** Total length in bytes, prefixes included. */
  length = 0;
  /** Effective operand and address size. */
  opsize: 16 | 32 = 32;
  adsize: 16 | 32 = 32;
  /** Segment override (Seg) or -1. */
  segOverride = -1;
  /** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE), unless consumed as a mandatory prefix. */
  repPrefix = 0;
  lock = false;
  /** Prefix bytes that this form does not use (printed by the disassembler as `o16`, `rep`...). */
  unusedPrefixes: number[] = [];
  /** ModRM fields (mod = -1 without ModRM). */
  mod = -1;
  reg = 0;
  rm = 0;
  /** Register from the opcode's low bits (+r forms). */
  opcodeReg = 0;
  /** Memory operand: base and index registers (NO_REG when absent), scale as a shift, disp. */
  hasMemory = false;
  base: number = NO_REG;
  index: number = NO_REG;
  scale = 0;
  disp = 0;
  /** Segment the memory operand uses: the override, else SS for BP/ESP/EBP bases, else DS. */
  segment: number = Seg.DS;
  /** First and second immediate (ENTER's Ib, a far pointer's selector), sign-extended per kind. */
  imm = 0;
  imm2 = 0;
  /** Offset of the displacement and immediate bytes within the instruction (for tools). */
  dispOffset = -1;
  immOffset = -1;

  constructor(form: InsnForm) {
    this.form = form;
  }
}

/** Why a byte sequence is not an instruction. */
export type DecodeFailure =
  /** #UD: no row matches, or LOCK where it is not allowed. */
  | { readonly fault: 'UD'; readonly length: number }
  /** #GP(0): more than 15 bytes. */
  | { readonly fault: 'GP'; readonly length: number };

/** Reads the byte at `offset` from the start of the instruction; may throw (a page fault). */
export type ByteFetcher = (offset: number) => number;

const PREFIX_SEG: Record<number, number> = { 0x26: 0, 0x2e: 1, 0x36: 2, 0x3e: 3, 0x64: 4, 0x65: 5 };

/** Registers of the 16-bit ModRM forms (SDM table 2-1): rm -> [base, index]. */
const EA16: readonly (readonly [number, number])[] = [
  [Reg.EBX, Reg.ESI], [Reg.EBX, Reg.EDI], [Reg.EBP, Reg.ESI], [Reg.EBP, Reg.EDI],
  [Reg.ESI, NO_REG], [Reg.EDI, NO_REG], [Reg.EBP, NO_REG], [Reg.EBX, NO_REG],
];

function isMemoryOnly(k: OperandKind): boolean {
  return k[0] === 'M';
}

/** Whether a candidate row fits the ModRM byte and effective sizes. */
function fits(f: InsnForm, modrm: number, opsize: number, adsize: number): boolean {
  const m = f.modrm;
  if (m.kind === 'digit' && ((modrm >> 3) & 7) !== m.digit) return false;
  if (m.kind === 'fixed' && modrm !== m.byte) return false;
  if (f.osize !== 0 && f.osize !== opsize) return false;
  if (f.asize !== 0 && f.asize !== adsize) return false;
  if (m.kind === 'digit' || m.kind === 'r') {
    const isReg = modrm >= 0xc0;
    for (const k of f.operands) {
      if (isMemoryOnly(k) && isReg) return false;
      if ((k === 'Rd' || k === 'Rv') && !isReg) return false;
    }
  }
  return true;
}

function immediateSize(k: OperandKind, opsize: number, adsize: number): number {
  switch (k) {
    case 'Ib': case 'Ibs': case 'Jb': return 1;
    case 'Iw': return 2;
    case 'Iz': case 'Jz': return opsize >> 3;
    case 'Ob': case 'Ov': return adsize >> 3;
    default: return 0;
  }
}

/**
 * Decodes one instruction in a code segment of the given default size (16 or 32).
 * Returns the decoded instruction, or the fault the CPU must raise.
 */
export function decode(fetch: ByteFetcher, bits: 16 | 32): DecodedInsn | DecodeFailure {
  let pos = 0;
  let opsizePrefix = false, adsizePrefix = false, lock = false;
  let rep = 0, seg = -1;
  const prefixes: number[] = [];
  // --- legacy prefixes ---
  for (;;) {
    if (pos >= MAX_INSTRUCTION_LENGTH) return { fault: 'GP', length: pos };
    const b = fetch(pos);
    if (b === 0x66) opsizePrefix = true;
    else if (b === 0x67) adsizePrefix = true;
    else if (b === 0xf0) lock = true;
    else if (b === 0xf2 || b === 0xf3) rep = b;
    else if (b in PREFIX_SEG) seg = PREFIX_SEG[b]!;
    else break;
    prefixes.push(b);
    pos++;
  }
  // --- opcode ---
  let map = 0;
  let op = fetch(pos++);
  if (op === 0x0f) {
    map = 1;
    op = fetch(pos++);
    if (op === 0x38) { map = 2; op = fetch(pos++); }
  }
  const candidates = DECODE_MAP[map]![op]!;
  if (candidates.length === 0) return { fault: 'UD', length: pos };
  const needsModrm = candidates[0]!.modrm.kind !== 'none';
  let modrm = -1;
  if (needsModrm) {
    if (pos >= MAX_INSTRUCTION_LENGTH) return { fault: 'GP', length: pos };
    modrm = fetch(pos++);
  }

  // --- pick the row ---
  const other = bits === 32 ? 16 : 32;
  let form: InsnForm | undefined;
  let opsize: 16 | 32 = bits, adsize: 16 | 32 = adsizePrefix ? other : bits;
  for (const f of candidates) {
    let os: 16 | 32 = opsizePrefix ? other : bits;
    if (f.prefix === 0x66) {
      if (!opsizePrefix) continue;
      os = bits;
    } else if (f.prefix === 0xf3 || f.prefix === 0xf2) {
      if (rep !== f.prefix) continue;
    }
    if (!fits(f, modrm, os, adsize)) continue;
    form = f;
    opsize = os;
    break;
  }
  if (!form) return { fault: 'UD', length: pos };

  const d = new DecodedInsn(form);
  d.opsize = opsize;
  d.adsize = adsize;
  d.segOverride = seg;
  d.lock = lock;
  d.repPrefix = form.prefix === rep ? 0 : rep;
  if (form.plusReg) d.opcodeReg = op & 7;

  // --- ModRM, SIB, displacement ---
  if (modrm >= 0) {
    const mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    d.mod = mod; d.reg = reg; d.rm = rm;
    if (mod !== 3 && form.modrm.kind !== 'fixed') {
      d.hasMemory = true;
      let dispSize = 0;
      if (adsize === 32) {
        let base = rm;
        if (rm === 4) {
          if (pos >= MAX_INSTRUCTION_LENGTH) return { fault: 'GP', length: pos };
          const sib = fetch(pos++);
          d.scale = sib >> 6;
          const index = (sib >> 3) & 7;
          d.index = index === 4 ? NO_REG : index;
          base = sib & 7;
          if (base === 5 && mod === 0) { base = NO_REG; dispSize = 4; }
        } else if (rm === 5 && mod === 0) {
          base = NO_REG;
          dispSize = 4;
        }
        d.base = base;
        if (mod === 1) dispSize = 1;
        else if (mod === 2) dispSize = 4;
        d.segment = base === Reg.ESP || base === Reg.EBP ? Seg.SS : Seg.DS;
      } else {
        if (mod === 0 && rm === 6) {
          dispSize = 2;
        } else {
          d.base = EA16[rm]![0];
          d.index = EA16[rm]![1];
        }
        if (mod === 1) dispSize = 1;
        else if (mod === 2) dispSize = 2;
        d.segment = d.base === Reg.EBP ? Seg.SS : Seg.DS;
      }
      if (dispSize) {
        if (pos + dispSize > MAX_INSTRUCTION_LENGTH) return { fault: 'GP', length: MAX_INSTRUCTION_LENGTH + 1 };
        d.dispOffset = pos;
        let v = 0;
        for (let i = 0; i < dispSize; i++) v |= fetch(pos + i) << (8 * i);
        pos += dispSize;
        d.disp = dispSize === 1 ? (v << 24) >> 24 : dispSize === 2 ? (v << 16) >> 16 : v | 0;
      }
      if (seg >= 0) d.segment = seg;
    }
  }

  // --- immediates, offsets and far pointers, in operand order ---
  let immIndex = 0;
  for (const k of form.operands) {
    let size = immediateSize(k, opsize, adsize);
    if (k === 'Ap') size = (opsize >> 3) + 2;
    if (size === 0) continue;
    if (pos + size > MAX_INSTRUCTION_LENGTH) return { fault: 'GP', length: MAX_INSTRUCTION_LENGTH + 1 };
    if (immIndex === 0) d.immOffset = pos;
    if (k === 'Ap') {
      const offSize = opsize >> 3;
      let off = 0;
      for (let i = 0; i < offSize; i++) off |= fetch(pos + i) << (8 * i);
      d.imm = offSize === 2 ? off & 0xffff : off >>> 0;
      d.imm2 = fetch(pos + offSize) | (fetch(pos + offSize + 1) << 8);
      pos += size;
      immIndex = 2;
      continue;
    }
    let v = 0;
    for (let i = 0; i < size; i++) v |= fetch(pos + i) << (8 * i);
    pos += size;
    if (k === 'Ob' || k === 'Ov') {
      d.hasMemory = true;
      d.disp = size === 2 ? v & 0xffff : v | 0;
      d.segment = seg >= 0 ? seg : Seg.DS;
      continue;
    }
    // Sign-extend displacements and sign-extended immediates; zero-extend plain immediates.
    const signed = k === 'Jb' || k === 'Jz' || k === 'Ibs';
    if (size === 1) v = signed ? (v << 24) >> 24 : v & 0xff;
    else if (size === 2) v = signed ? (v << 16) >> 16 : v & 0xffff;
    else v = signed ? v | 0 : v >>> 0;
    if (immIndex === 0) d.imm = v; else d.imm2 = v;
    immIndex++;
  }
  if (pos > MAX_INSTRUCTION_LENGTH) return { fault: 'GP', length: pos };
  d.length = pos;

  // --- LOCK: only on lockable forms with a memory destination (SDM LOCK, "#UD") ---
  if (lock && (!form.lock || !d.hasMemory)) return { fault: 'UD', length: pos };

  // --- prefixes this form did not use, for the disassembler ---
  const usesOpsize = form.osize !== 0
    || form.operands.some((k) => /v|z|Ap|Mp|Ma/.test(k) || k === 'eAX' || k === 'Ibs');
  const usesMemory = d.hasMemory || form.rep !== 'none' || form.op === 'XLATB';
  const usesAdsize = usesMemory || form.asize !== 0 || form.op === 'LOOP' || form.op === 'LOOPE' || form.op === 'LOOPNE';
  for (const p of prefixes) {
    if (p === 0x66 && (form.prefix === 0x66 || usesOpsize)) continue;
    if (p === 0x67 && usesAdsize) continue;
    if ((p === 0xf2 || p === 0xf3) && (form.prefix === p || form.rep !== 'none')) continue;
    if (p === 0xf0) continue;
    if (p in PREFIX_SEG && usesMemory) continue;
    d.unusedPrefixes.push(p);
  }
  return d;
}

/** Type guard for a decode result. */
export function isDecodeFailure(r: DecodedInsn | DecodeFailure): r is DecodeFailure {
  return (r as DecodeFailure).fault !== undefined;
}

/** Decodes from a byte array (for tools); bytes past the end decode as a failure. */
export function decodeBytes(bytes: Uint8Array, offset: number, bits: 16 | 32): DecodedInsn | DecodeFailure | { fault: 'END'; length: number } {
  try {
    return decode((i) => {
      const p = offset + i;
      if (p >= bytes.length) throw new RangeError('end of buffer');
      return bytes[p]!;
    }, bits);
  } catch (e) {
    if (e instanceof RangeError) return { fault: 'END', length: bytes.length - offset };
    throw e;
  }
}
