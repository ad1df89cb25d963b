/**
 * Parses the instruction table (table.ts) once into frozen InsnForm records and the indexes the
 * decoder and assembler search. Any malformed row throws at module load; test/isa checks it loads.
 */
import { CONDITION_CODES, MNEMONIC_ALIASES, TABLE_ROWS } from './table.js';
import {
  FLAG_BITS, type FlagLetter, type InsnForm, type InstructionExitReason, type ModrmSpec,
  type OperandKind, type VmxExitControl,
} from './types.js';

export * from './types.js';
export { CONDITION_CODES, CONDITION_ALIASES, MNEMONIC_ALIASES } from './table.js';

const OPERAND_KINDS: ReadonlySet<string> = new Set<OperandKind>([
  'Eb', 'Ew', 'Ed', 'Ev', 'Gb', 'Gw', 'Gd', 'Gv', 'Rd', 'Rv', 'M', 'Mp', 'Ms', 'Mq', 'Mdq', 'Ma',
  'Mw', 'Md', 'Ib', 'Iw', 'Iz', 'Ibs', 'Jb', 'Jz', 'Ob', 'Ov', 'Ap', 'Sw', 'Cd', 'Dd', 'Zb', 'Zv',
  'Zd', 'AL', 'CL', 'DX', 'AX', 'eAX', 'ES', 'CS', 'SS', 'DS', 'FS', 'GS', '1',
]);

function parseFlags(letters: string, row: string): number {
  let mask = 0;
  for (const ch of letters) {
    if (!(ch in FLAG_BITS)) throw new Error(`isa table: unknown flag '${ch}' in: ${row}`);
    mask |= FLAG_BITS[ch as FlagLetter];
  }
  return mask;
}

function parseRow(source: string, id: number): InsnForm {
  const parts = source.split('|').map((p) => p.trim());
  if (parts.length !== 3) throw new Error(`isa table: expected 'insn | encoding | attrs': ${source}`);
  const [insn, encoding, attrText] = parts as [string, string, string];
  const [mnemonic, operandText] = insn.split(/\s+/, 2) as [string, string | undefined];
  const operands = operandText ? operandText.split(',') : [];
  for (const k of operands) {
    if (!OPERAND_KINDS.has(k)) throw new Error(`isa table: unknown operand kind '${k}' in: ${source}`);
  }

  // Encoding: [prefix] opcode... [+r] [/r | /digit | fixed-modrm]
  const tokens = encoding.split(/\s+/);
  let prefix = 0;
  if (tokens.length > 1 && /^(66|F2|F3)$/.test(tokens[0]!)) {
    prefix = parseInt(tokens.shift()!, 16);
  }
  const opcode: number[] = [];
  let plusReg = false;
  let modrm: ModrmSpec = { kind: 'none' };
  for (const t of tokens) {
    if (t === '/r') modrm = { kind: 'r' };
    else if (/^\/[0-7]$/.test(t)) modrm = { kind: 'digit', digit: Number(t[1]) };
    else if (/^[0-9A-F]{2}\+r$/.test(t)) { opcode.push(parseInt(t, 16)); plusReg = true; }
    else if (/^[0-9A-F]{2}$/.test(t)) {
      const b = parseInt(t, 16);
      // After a complete opcode (one byte, 0F xx, or 0F 38 xx), another byte is a fixed ModRM.
      const complete = opcode.length > 0 && !(opcode.length === 1 && opcode[0] === 0x0f)
        && !(opcode.length === 2 && opcode[0] === 0x0f && (opcode[1] === 0x38 || opcode[1] === 0x3a));
      if (complete) modrm = { kind: 'fixed', byte: b };
      else opcode.push(b);
    } else throw new Error(`isa table: bad encoding token '${t}' in: ${source}`);
  }
  if (opcode.length === 0) throw new Error(`isa table: no opcode in: ${source}`);

  let op = mnemonic;
  let osize: 0 | 16 | 32 = 0;
  let asize: 0 | 16 | 32 = 0;
  let lock = false;
  let rep: 'none' | 'rep' | 'repe' = 'none';
  let flagsRead = 0, flagsWritten = 0, flagsUndefined = 0;
  let cpl0 = false, iopl = false, protectedOnly = false, asmOnly = false, decodeOnly = false;
  let vmexit: InsnForm['vmexit'] = null;
  for (const a of attrText.split(/\s+/).filter(Boolean)) {
    if (a === 'lock') lock = true;
    else if (a === 'rep' || a === 'repe') rep = a;
    else if (a === 'o16') osize = 16;
    else if (a === 'o32') osize = 32;
    else if (a === 'a16') asize = 16;
    else if (a === 'a32') asize = 32;
    else if (a === 'cpl0') cpl0 = true;
    else if (a === 'iopl') iopl = true;
    else if (a === 'pm') protectedOnly = true;
    else if (a === 'asm') asmOnly = true;
    else if (a === 'dec') decodeOnly = true;
    else if (a.startsWith('r:')) flagsRead = parseFlags(a.slice(2), source);
    else if (a.startsWith('w:')) flagsWritten = parseFlags(a.slice(2), source);
    else if (a.startsWith('u:')) flagsUndefined = parseFlags(a.slice(2), source);
    else if (a.startsWith('op:')) op = a.slice(3);
    else if (a.startsWith('exit:')) {
      const [reason, when] = a.slice(5).split('/') as [InstructionExitReason, VmxExitControl | undefined];
      vmexit = Object.freeze({ reason, when: when ?? 'always' });
    } else throw new Error(`isa table: unknown attribute '${a}' in: ${source}`);
  }
  let cc = -1;
  if (op === 'Jcc' || op === 'SETcc' || op === 'CMOVcc') {
    const suffix = mnemonic.replace(/^(J|SET|CMOV)/, '');
    cc = (CONDITION_CODES as readonly string[]).indexOf(suffix);
    if (cc < 0) throw new Error(`isa table: bad condition in: ${source}`);
  }
  // Undefined flags are also "written" (their value changes), so a reader never trusts them.
  flagsWritten |= flagsUndefined;
  // The form is frozen; its arrays are readonly by type only: V8 (Node 20) reads the elements of
  // a frozen array some ten times slower in optimized code, and executors read `operands`.
  return Object.freeze({
    id, mnemonic, op, cc, operands: operands as OperandKind[], prefix,
    opcode, plusReg, modrm, osize, asize, lock, rep,
    flagsRead, flagsWritten, flagsUndefined, cpl0, iopl, protectedOnly, vmexit, asmOnly,
    decodeOnly, source,
  });
}

/** Every form, in table order. `FORMS[f.id] === f`. */
export const FORMS: readonly InsnForm[] = TABLE_ROWS.map((row, i) => parseRow(row, i));

/**
 * Decoder index: for each opcode map (0: one-byte, 1: 0F xx, 2: 0F 38 xx) and final opcode byte,
 * the forms the decoder may yield, most specific first (mandatory prefix, fixed ModRM, then size).
 * `+r` forms are listed under all eight bytes they cover.
 */
export const DECODE_MAP: readonly (readonly (readonly InsnForm[])[])[] = (() => {
  const maps: InsnForm[][][] = [0, 1, 2].map(() => Array.from({ length: 256 }, () => []));
  for (const f of FORMS) {
    if (f.asmOnly) continue;
    const o = f.opcode;
    const map = o[0] !== 0x0f ? 0 : o[1] === 0x38 ? 2 : 1;
    const last = o[o.length - 1]!;
    for (let r = 0; r < (f.plusReg ? 8 : 1); r++) maps[map]![last + r]!.push(f);
  }
  const specificity = (f: InsnForm): number =>
    (f.prefix ? 8 : 0) + (f.modrm.kind === 'fixed' ? 4 : 0) + (f.plusReg ? 0 : 2) + (f.osize || f.asize ? 1 : 0);
  for (const m of maps) for (const list of m) list.sort((a, b) => specificity(b) - specificity(a));
  return maps;
})();

/** Assembler index: forms by mnemonic, in table (preference) order, without decode-only rows. */
export const FORMS_BY_MNEMONIC: ReadonlyMap<string, readonly InsnForm[]> = (() => {
  const m = new Map<string, InsnForm[]>();
  for (const f of FORMS) {
    if (f.decodeOnly) continue;
    let list = m.get(f.mnemonic);
    if (!list) m.set(f.mnemonic, (list = []));
    list.push(f);
  }
  return m;
})();

/**
 * Resolves an assembler mnemonic (any case, any NASM alias) to the table's spelling for the given
 * default operand size, or undefined when the subset has no such instruction.
 */
export function canonicalMnemonic(name: string, bits: 16 | 32): string | undefined {
  const upper = name.toUpperCase();
  if (FORMS_BY_MNEMONIC.has(upper)) return upper;
  const alias = MNEMONIC_ALIASES[upper];
  if (alias === undefined) return undefined;
  return typeof alias === 'string' ? alias : alias[bits];
}
