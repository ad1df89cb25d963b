/**
 * Formats decoded instructions in NASM's Intel syntax, in the style ndisasm prints, chosen so that
 * assembling the text with NASM (or trapvisor's assembler) gives back the same bytes: operand sizes
 * are spelled where NASM could pick another form (`strict dword`, `near`, `byte +0x1`).
 */
import { decodeBytes, NO_REG, type DecodedInsn } from '../../emulator/isa/decoder.js';
import type { OperandKind } from '../../emulator/isa/types.js';

const REG32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const REG16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const REG8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const SREG = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
const PREFIX_NAMES: Record<number, string> = {
  0x66: 'o16', 0x67: 'a16', 0xf2: 'repne', 0xf3: 'rep', 0xf0: 'lock',
  0x26: 'es', 0x2e: 'cs', 0x36: 'ss', 0x3e: 'ds', 0x64: 'fs', 0x65: 'gs',
};

/** Resolves an address to a symbol name, or undefined. */
export type SymbolLookup = (address: number) => string | undefined;

export interface FormatOptions {
  /** Address of the instruction's first byte (branch targets are absolute). */
  address: number;
  /** Default code size: names the 0x66/0x67 prefixes `o16`/`o32` and `a16`/`a32`. */
  bits: 16 | 32;
  symbols?: SymbolLookup;
}

const hex = (n: number): string => '0x' + (n >>> 0).toString(16);

function signedHex(n: number): string {
  return n < 0 ? '-' + hex(-n) : '+' + hex(n);
}

function fitsSignedByte(v: number, size: 16 | 32): boolean {
  const s = size === 16 ? (v << 16) >> 16 : v | 0;
  return s >= -128 && s <= 127;
}

function sizeName(bits: number): string {
  return bits === 8 ? 'byte' : bits === 16 ? 'word' : bits === 32 ? 'dword' : 'qword';
}

/** Operand width in bits of an r/m or register operand kind under the decoded operand size. */
function kindWidth(k: OperandKind, opsize: number): number {
  const t = k.length === 2 ? k[1] : '';
  if (t === 'b') return 8;
  if (t === 'w') return 16;
  if (t === 'd') return 32;
  if (t === 'q') return 64;
  if (t === 'v' || t === 'z') return opsize;
  return 0;
}

function memoryText(d: DecodedInsn): string {
  const regs = d.adsize === 32 ? REG32 : REG16;
  const seg = d.segOverride >= 0 ? SREG[d.segOverride] + ':' : '';
  const parts: string[] = [];
  if (d.base !== NO_REG) parts.push(regs[d.base]!);
  if (d.index !== NO_REG) parts.push(d.scale ? `${regs[d.index]}*${1 << d.scale}` : regs[d.index]!);
  if (parts.length === 0) return `[${seg}${hex(d.adsize === 16 ? d.disp & 0xffff : d.disp)}]`;
  // NASM splits [reg*2] into [reg+reg] and turns [reg*1] into [reg]: `nosplit` keeps the SIB form.
  const nosplit = d.base === NO_REG && d.scale <= 1 ? 'nosplit ' : '';
  // The displacement width NASM would choose, and the one encoded; spell it out when they differ.
  const bpAlone = d.adsize === 32 ? d.base === 5 : d.base === 5 && d.index === NO_REG;
  const encoded = d.base === NO_REG ? 'full' : d.mod === 0 ? 'none' : d.mod === 1 ? 'byte' : 'full';
  const natural = d.base === NO_REG ? 'full' : d.disp === 0 && !bpAlone ? 'none'
    : d.disp >= -128 && d.disp <= 127 ? 'byte' : 'full';
  const forced = encoded === natural ? '' : encoded === 'byte' ? 'byte ' : d.adsize === 32 ? 'dword ' : 'word ';
  let text = parts.join('+');
  if (d.disp !== 0 || forced) text += signedHex(d.disp);
  return `[${forced}${nosplit}${seg}${text}]`;
}

/** Whether a memory operand's size is implied by a register operand of the same instruction. */
function sizeImplied(d: DecodedInsn, memKind: OperandKind): boolean {
  const memWidth = kindWidth(memKind, d.opsize);
  return d.form.operands.some((k) => k !== memKind && /^(G|Z|R)/.test(k) && kindWidth(k, d.opsize) === memWidth)
    || d.form.operands.some((k) => k === 'AL' || k === 'eAX' || k === 'Sw');
}

function operandText(d: DecodedInsn, k: OperandKind, o: FormatOptions, index: number): string {
  const byWidth = (width: number, n: number): string =>
    (width === 8 ? REG8 : width === 16 ? REG16 : REG32)[n]!;
  const next = (o.address + d.length) >>> 0;
  switch (k) {
    case 'Eb': case 'Ew': case 'Ed': case 'Ev': case 'Rd': case 'Rv':
    case 'M': case 'Mp': case 'Ms': case 'Mq': case 'Mdq': case 'Ma': case 'Mw': case 'Md': {
      if (!d.hasMemory) return byWidth(kindWidth(k, d.opsize) || 32, d.rm);
      const mem = memoryText(d);
      if (k === 'M' || k === 'Mp' || k === 'Ms' || k === 'Mq' || k === 'Mdq' || k === 'Ma') {
        return (d.form.op === 'JMPF' || d.form.op === 'CALLF') ? `far ${mem}` : mem;
      }
      return sizeImplied(d, k) ? mem : `${sizeName(kindWidth(k, d.opsize))} ${mem}`;
    }
    case 'Gb': case 'Gw': case 'Gd': case 'Gv': return byWidth(kindWidth(k, d.opsize), d.reg);
    case 'Zb': return REG8[d.opcodeReg]!;
    case 'Zv': return byWidth(d.opsize, d.opcodeReg);
    case 'Zd': return REG32[d.opcodeReg]!;
    case 'Sw': return SREG[d.reg] ?? `sreg${d.reg}`;
    case 'Cd': return `cr${d.reg}`;
    case 'Dd': return `dr${d.reg}`;
    case 'AL': return 'al';
    case 'CL': return 'cl';
    case 'DX': return 'dx';
    case 'AX': return 'ax';
    case 'eAX': return d.opsize === 16 ? 'ax' : 'eax';
    case 'ES': case 'CS': case 'SS': case 'DS': case 'FS': case 'GS': return k.toLowerCase();
    case '1': return '1';
    case 'Ob': case 'Ov': return memoryText(d);
    case 'Ib': case 'Iw': return hex(pickImm(d, index));
    case 'Ibs': {
      const v = signedHex(d.opsize === 16 ? (d.imm << 16) >> 16 : d.imm);
      // PUSH imm8 under an operand-size override: the size word selects the 0x66 form.
      if (d.form.mnemonic === 'PUSH' && d.opsize !== o.bits) return `${sizeName(d.opsize)} ${v}`;
      return `byte ${v}`;
    }
    case 'Iz': {
      const v = d.opsize === 16 ? d.imm & 0xffff : d.imm >>> 0;
      const hasShortForm = d.form.mnemonic !== 'MOV' && d.form.mnemonic !== 'TEST';
      if (hasShortForm && fitsSignedByte(v, d.opsize)) return `strict ${sizeName(d.opsize)} ${hex(v)}`;
      // PUSH imm under an operand-size override: the size word selects the 0x66 form.
      return d.form.mnemonic === 'PUSH' && d.opsize !== o.bits ? `${sizeName(d.opsize)} ${hex(v)}` : hex(v);
    }
    case 'Jb': case 'Jz': {
      let target = (next + d.imm) >>> 0;
      if (d.opsize === 16) target &= 0xffff;
      const name = o.symbols?.(target);
      const where = name ?? hex(target);
      // NASM sizes a branch to a numeric target as near: spell short for JMP and Jcc.
      if (k === 'Jb') return d.form.op === 'JMP' || d.form.op === 'Jcc' ? `short ${where}` : where;
      const sized = d.opsize !== o.bits ? `${sizeName(d.opsize)} ` : '';
      return d.form.mnemonic === 'CALL' ? `${sized}${where}` : `near ${sized}${where}`;
    }
    case 'Ap': return `${d.opsize !== o.bits ? sizeName(d.opsize) + ' ' : ''}${hex(d.imm2)}:${hex(d.imm)}`;
  }
}

/** Which immediate (first or second) an operand at position `index` reads. */
function pickImm(d: DecodedInsn, index: number): number {
  const immKinds = d.form.operands.map((k, i) => ({ k, i })).filter(({ k }) => k[0] === 'I');
  return immKinds.findIndex(({ i }) => i === index) <= 0 ? d.imm : d.imm2;
}

/** NASM text for one decoded instruction. */
export function formatInsn(d: DecodedInsn, o: FormatOptions): string {
  const words: string[] = [];
  for (const p of d.unusedPrefixes) {
    let name = PREFIX_NAMES[p]!;
    if (o.bits === 16 && (p === 0x66 || p === 0x67)) name = name.replace('16', '32');
    words.push(name);
  }
  // Size overrides the operands cannot show: an address size with no address register in sight
  // (strings, moffs, absolute addresses, LOOP), and an operand size on relative branches.
  const other = o.bits === 32 ? 16 : 32;
  const addressRegisterShown = d.hasMemory && (d.base !== NO_REG || d.index !== NO_REG);
  if (d.adsize !== o.bits && d.form.asize === 0 && !addressRegisterShown) words.push(`a${other}`);
  if (d.opsize !== o.bits && (d.form.operands.includes('Jb') || d.form.op === 'JMPF' && d.hasMemory
    || d.form.op === 'CALLF' && d.hasMemory)) words.push(`o${other}`);
  if (d.lock) words.push('lock');
  if (d.repPrefix && d.form.rep !== 'none') {
    words.push(d.repPrefix === 0xf2 ? 'repne' : d.form.rep === 'repe' ? 'repe' : 'rep');
  }
  // String instructions and XLATB carry their segment override as a prefix word.
  const segByte = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65][d.segOverride];
  if (segByte !== undefined && !d.hasMemory && !d.unusedPrefixes.includes(segByte)) words.push(SREG[d.segOverride]!);
  const f = d.form;
  const mnemonic = f.mnemonic.toLowerCase();
  let operands = f.operands.map((k, i) => operandText(d, k, o, i));
  if (f.mnemonic === 'AAM' || f.mnemonic === 'AAD') {
    if (d.imm === 10) operands = [];
  } else if (f.mnemonic === 'NOP' && f.operands.length === 1 && !d.hasMemory) {
    operands = [operandText(d, 'Ev', o, 0)];
  }
  words.push(operands.length ? `${mnemonic} ${operands.join(',')}` : mnemonic);
  return words.join(' ');
}

export interface DisassembledLine {
  address: number;
  bytes: Uint8Array;
  text: string;
  /** Label at this address, when the symbol lookup knows one. */
  label?: string;
}

/**
 * Disassembles a whole buffer. Bytes that decode to nothing (or run past the end) print as
 * `db 0x..`, one byte at a time, and decoding resumes after them.
 */
export function disassemble(bytes: Uint8Array, org: number, bits: 16 | 32, symbols?: SymbolLookup): DisassembledLine[] {
  const lines: DisassembledLine[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const address = (org + offset) >>> 0;
    const r = decodeBytes(bytes, offset, bits);
    let length: number;
    let text: string;
    if ('fault' in r) {
      length = 1;
      text = `db ${hex(bytes[offset]!)}`;
    } else {
      const d = r as DecodedInsn;
      length = d.length;
      text = formatInsn(d, { address, bits, symbols });
    }
    const label = symbols?.(address);
    lines.push({ address, bytes: bytes.subarray(offset, offset + length), text, ...(label ? { label } : {}) });
    offset += length;
  }
  return lines;
}
