/**
 * Generates the golden corpus from the instruction table: assembly lines exercising every
 * assemblable row (all but `dec` rows) under `bits 16` and `bits 32`, in both operand sizes, with
 * every addressing form and boundary immediates; then assembles each file with real NASM, drops
 * the lines NASM rejects (repeating until NASM is happy), and writes NASM's binary next to it.
 *
 *   node scripts/run-ts.mjs test/golden/generate-corpus.ts     (or: npm run golden)
 *
 * The .asm and .bin files are committed; the tests read them and never need NASM.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FORMS, MNEMONIC_ALIASES, type InsnForm, type OperandKind } from '../../emulator/isa/index.js';

// Paths are relative to the repository root (the script is bundled elsewhere to run).
const OUT = resolve(process.argv[2] ?? 'test/golden/corpus');

type Bits = 16 | 32;

const REGS: Readonly<Record<8 | 16 | 32, readonly string[]>> = {
  8: ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'],
  16: ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'],
  32: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'],
};

/** Every addressing form: 32-bit (ModRM, SIB with each scale, special bases) and 16-bit. */
const MEMORY_FULL: readonly string[] = [
  '[0x12345678]', '[0x10]', '[eax]', '[ecx]', '[edx]', '[ebx]', '[esp]', '[ebp]', '[esi]', '[edi]',
  '[eax+0x7F]', '[ecx-0x80]', '[edx+0x80]', '[ebx-0x81]', '[esi+0x12345678]', '[edi-1]',
  '[esp+4]', '[esp+0x400]', '[ebp+8]', '[ebp-0x1000]', '[ebx+0]',
  '[eax+ebx]', '[eax+ebx*1]', '[ecx+edx*2]', '[esi+edi*4]', '[edi+esi*8]', '[ebp+eax]', '[eax+ebp]',
  '[esp+eax]', '[ebx+esp]', '[ebp+ecx*4+0x10]', '[eax+ebx*8-0x100]', '[esi+ecx*2+0x12345678]',
  '[ecx*4]', '[edx*8+0x100]', '[eax*2]', '[ebx*3]', '[ecx*5+4]', '[edx*9]', '[ebp*2]', '[esi*1]',
  '[es:edi]', '[cs:ebx]', '[ss:ebp-4]', '[ds:esi+1]', '[fs:eax+4]', '[gs:0x10]', '[fs:ecx*4]',
  '[dword 0x20]', '[byte ebx+4]', '[dword ebx+4]',
  '[bx+si]', '[bx+di]', '[bp+si]', '[bp+di]', '[si]', '[di]', '[bp]', '[bx]', '[word 0x1234]',
  '[bx+si+4]', '[bx+di-0x80]', '[bp+si+0x7F]', '[bp+di+0x80]', '[si-1]', '[di+0x1234]', '[bp+2]',
  '[bx+0xFFFF]', '[es:di]', '[ss:bp+2]', '[fs:bx+si+8]',
];
/** A few representative forms, for rows whose ModRM shape a fuller row already covers. */
const MEMORY_SHORT: readonly string[] = [
  '[ebx]', '[esp+4]', '[ebp-8]', '[eax+ecx*4+0x80]', '[0x1234]', '[es:edi]', '[bx+si+2]', '[bp]',
];

const IMM8 = ['0', '1', '0x7F', '0x80', '0xFF', '-1', '-128', '42'];
const IMM16 = [...IMM8, '0x7FFF', '0x8000', '0xFFFF', '-129', '-0x8000', '0x1234'];
const IMM32 = [...IMM16, '0x7FFFFFFF', '0x80000000', '0xFFFFFFFF', '0x12345678', '-0x80000000', '0x10000', 'strict dword 1'];
const IMM16Z = [...IMM16, 'strict word 1'];
const IBS = ['0', '1', '0x7F', '-1', '-128', 'byte 5', '0x80', '0xFFFF', '0xFFFFFFFF', '-129'];

const sizeWord = (w: number): string => ({ 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' } as Record<number, string>)[w] ?? '';

interface Context {
  readonly bits: Bits;
  readonly osize: 16 | 32;
  readonly fullMemory: boolean;
}

function widthOf(kind: OperandKind, osize: number): number {
  if (/^(Eb|Gb|Zb|AL|CL|Ib|Ob)$/.test(kind)) return 8;
  if (/^(Ew|Gw|Mw|Sw|DX|AX|Iw|ES|CS|SS|DS|FS|GS)$/.test(kind)) return 16;
  if (/^(Ed|Gd|Rd|Zd|Cd|Dd|Md)$/.test(kind)) return 32;
  if (/^(Ev|Gv|Rv|Zv|eAX|Iz|Ibs|Jz|Ov|Ap)$/.test(kind)) return osize;
  return 0;
}

// Registers that imply the size of a memory operand (a count in CL or a port in DX does not).
const isRegisterKind = (k: OperandKind): boolean => /^(G.|Z.|R.|AL|AX|eAX|Sw|Cd|Dd|ES|CS|SS|DS|FS|GS)$/.test(k);

/** Sample operand texts for one operand slot of a row. */
function samples(form: InsnForm, slot: number, ctx: Context): string[] {
  const kind = form.operands[slot]!;
  const width = widthOf(kind, ctx.osize);
  const others = form.operands.filter((_, i) => i !== slot);
  // A size keyword on memory only where no register operand of the same width implies it.
  const implied = others.some((k) => isRegisterKind(k) && widthOf(k, ctx.osize) === width);
  const memory = (ctx.fullMemory ? MEMORY_FULL : MEMORY_SHORT);
  const sized = (m: string): string => (implied || width === 0 ? m : `${sizeWord(width)} ${m}`);
  switch (kind) {
    case 'Eb': case 'Ew': case 'Ed': case 'Ev':
      // Not the accumulator first: the other operand's samples pair with the first one, and with
      // AL/AX/EAX NASM picks the short accumulator rows, leaving the general rows untested.
      return [3, 0, 6, 7].map((i) => REGS[width as 8 | 16 | 32][i]!).concat(memory.map(sized));
    case 'Gb': case 'Gw': case 'Gd': case 'Gv': case 'Zb': case 'Zv': case 'Zd':
      return [...REGS[width as 8 | 16 | 32]];
    case 'Rd': case 'Rv':
      return [...REGS[width as 16 | 32]];
    case 'M': case 'Ms': case 'Ma': case 'Mdq': case 'Mq': case 'Mw': case 'Md':
      return memory.map((m) => m);
    case 'Mp':
      return (form.op === 'JMPF' || form.op === 'CALLF' ? memory.map((m) => `far ${m}`) : memory.map((m) => m));
    case 'Ob': case 'Ov':
      return ['[0x1234]', '[0x12345678]', '[es:0x10]', '[word 0x20]', '[dword 0x30]', '[fs:0]'];
    case 'Ib':
      return IMM8;
    case 'Iw':
      return IMM16;
    case 'Iz': case 'Ibs': {
      // With no other operand to give the size, a size keyword does (push word 5).
      const list = kind === 'Iz' ? (ctx.osize === 16 ? IMM16Z : IMM32) : IBS;
      if (ctx.osize === ctx.bits || others.some((k) => /^(Ev|Gv|Rv|Zv|eAX)$/.test(k))) return list;
      return list.map((v) => (/^(strict|byte)/.test(v) ? v : `${sizeWord(ctx.osize)} ${v}`));
    }
    case 'Ap':
      return ctx.osize === ctx.bits ? ['0x10:0x20', '0x1234:0x5678', '0xFFFF:0xFFFF']
        : [`${sizeWord(ctx.osize)} 0x10:0x20`, `${sizeWord(ctx.osize)} 0x1234:0x5678`];
    case 'Sw':
      return ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
    case 'Cd':
      return ['cr0', 'cr2', 'cr3', 'cr4'];
    case 'Dd':
      return ['dr0', 'dr1', 'dr2', 'dr3', 'dr6', 'dr7'];
    case 'AL': return ['al'];
    case 'CL': return ['cl'];
    case 'DX': return ['dx'];
    case 'AX': return ['ax'];
    case 'eAX': return [ctx.osize === 16 ? 'ax' : 'eax'];
    case 'ES': case 'CS': case 'SS': case 'DS': case 'FS': case 'GS': return [kind.toLowerCase()];
    case '1': return ['1'];
    case 'Jb': case 'Jz': return []; // jumps get their own blocks
  }
}

let labelCounter = 0;

/** Lines for a relative jump row: short back, short forward, and (for rel16/32 rows) far away. */
function jumpLines(form: InsnForm, ctx: Context): string[] {
  const m = form.mnemonic.toLowerCase();
  const n = labelCounter++;
  const kw = ctx.osize !== ctx.bits && form.operands[0] === 'Jz' ? `${sizeWord(ctx.osize)} ` : '';
  if (form.operands[0] === 'Jb') {
    return [`jb${n}a: ${m} jb${n}a`, `${m} jb${n}b`, `${m} short jb${n}b`, `jb${n}b:`];
  }
  return [
    `jz${n}a: ${m} ${kw}jz${n}a`, `${m} near ${kw}jz${n}b`, `${m} ${kw}jz${n}c`, `jz${n}b:`,
    'times 130 nop', `jz${n}c:`, `${m} ${kw}jz${n}a`, `${m} strict ${kw}jz${n}b`,
  ];
}

const hasV = (f: InsnForm): boolean => f.operands.some((k) => /^(Ev|Gv|Rv|Zv|eAX|Iz|Ibs|Jz|Ov|Ap|Mp)$/.test(k));

/** Prefix variants for string instructions, and LOCK for rows that allow it. */
function withPrefixes(form: InsnForm, line: string, ctx: Context, memoryFirst: boolean): string[] {
  const out = [line];
  if (form.rep !== 'none') {
    out.push(`${form.rep === 'repe' ? 'repe' : 'rep'} ${line}`, `${ctx.bits === 32 ? 'a16' : 'a32'} ${line}`, `fs ${line}`);
    if (form.rep === 'repe') out.push(`repne ${line}`);
  }
  if (form.lock && memoryFirst) out.push(`lock ${line}`);
  return out;
}

function linesFor(form: InsnForm, bits: Bits, fullMemory: boolean): string[] {
  const osizes: (16 | 32)[] = form.osize ? [form.osize] : hasV(form) ? [16, 32] : [bits];
  const out: string[] = [];
  const m = form.mnemonic.toLowerCase();
  for (const osize of osizes) {
    const ctx: Context = { bits, osize, fullMemory };
    if (form.operands[0] === 'Jb' || form.operands[0] === 'Jz') {
      out.push(...jumpLines(form, ctx));
      continue;
    }
    const n = form.operands.length;
    if (n === 0) {
      out.push(...withPrefixes(form, m, ctx, false));
      continue;
    }
    // Vary one operand at a time over all its samples, the others at their first sample.
    const lists = form.operands.map((_, i) => samples(form, i, ctx));
    const seen = new Set<string>();
    // Rows whose only non-immediate operand is sizeless still need an o16/o32 to reach the
    // other operand size (PUSH imm, JMP FAR [mem]): NASM takes it from the prefix.
    const needsPrefix = osize !== bits && !form.osize && form.operands.every((k) => !/^(Ev|Gv|Rv|Zv|eAX|Ov|Iz|Ibs)$/.test(k));
    for (let slot = 0; slot < n; slot++) {
      for (const s of lists[slot]!) {
        const ops = lists.map((l, i) => (i === slot ? s : l[0]!));
        let text = `${m} ${ops.join(', ')}`;
        if (needsPrefix) text = `o${osize} ${text}`;
        if (seen.has(text)) continue;
        seen.add(text);
        const memoryFirst = ops[0]!.includes('[');
        out.push(...withPrefixes(form, text, ctx, memoryFirst));
      }
    }
  }
  return out;
}

/** Alias spellings NASM accepts (JE, SETNAE, PUSHA, IRET, SAL, ...), one line each. */
function aliasLines(): string[] {
  const out: string[] = [];
  let n = 0;
  for (const [alias, target] of Object.entries(MNEMONIC_ALIASES)) {
    const name = alias.toLowerCase();
    const t = typeof target === 'string' ? target : target[32];
    const form = FORMS.find((f) => f.mnemonic === t && !f.decodeOnly)!;
    const kinds = form.operands;
    if (kinds[0] === 'Jb' || kinds[0] === 'Jz') out.push(`al${n}: ${name} al${n}`);
    else if (kinds.length === 0) out.push(name);
    else if (form.op === 'SETcc') out.push(`${name} al`, `${name} byte [ebx]`);
    else if (form.op === 'CMOVcc') out.push(`${name} eax, ebx`, `${name} cx, [si]`);
    else if (name === 'sal') out.push('sal eax, 1', 'sal byte [ebx], cl', 'sal cx, 3');
    n++;
  }
  return out;
}

/** The file a row's lines go to: a family of related instructions. */
function family(f: InsnForm): string {
  if (f.op === 'Jcc' || f.op === 'SETcc' || f.op === 'CMOVcc') return 'conditional';
  if (/^(MOVS|CMPS|STOS|LODS|SCAS|INS|OUTS)$/.test(f.op)) return 'string';
  if (/^(ADD|OR|ADC|SBB|AND|SUB|XOR|CMP|TEST|NOT|NEG|MUL|IMUL|DIV|IDIV|INC|DEC|DAA|DAS|AAA|AAS|AAM|AAD)$/.test(f.mnemonic)) return 'arith';
  if (/^(ROL|ROR|RCL|RCR|SHL|SHR|SAL|SAR|SHLD|SHRD|BT|BTS|BTR|BTC|BSF|BSR)$/.test(f.mnemonic)) return 'shift';
  if (/^(JMP|CALL|JCXZ|JECXZ|LOOP|LOOPE|LOOPNE|RET|RETF|INT3|INT|INTO|IRETW|IRETD|BOUND|ENTER|LEAVE)$/.test(f.mnemonic)) return 'control';
  if (f.mnemonic.startsWith('VM') || f.mnemonic.startsWith('INV') || f.cpl0 || f.protectedOnly || /^(SGDT|SIDT|SMSW|RDTSC|RDTSCP|CPUID|SYSENTER|STR|SLDT)$/.test(f.mnemonic)) return 'system';
  return 'move';
}

/** Assembles with NASM; returns the line numbers NASM reports as errors. */
function nasmErrors(asmPath: string, binPath: string): { ok: boolean; lines: Set<number> } {
  try {
    execFileSync('nasm', ['-f', 'bin', '-w-all', asmPath, '-o', binPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { ok: true, lines: new Set() };
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? '');
    const lines = new Set<number>();
    for (const m of stderr.matchAll(/:(\d+): error:/g)) lines.add(Number(m[1]));
    return { ok: false, lines };
  }
}

/** Writes `name.asm` with the lines NASM accepts, and NASM's `name.bin`. Returns the line count. */
export function writeGolden(dir: string, name: string, header: readonly string[], body: readonly string[]): number {
  let lines = [...body];
  const asm = join(dir, `${name}.asm`);
  const bin = join(dir, `${name}.bin`);
  for (let round = 0; round < 20; round++) {
    writeFileSync(asm, [...header, ...lines].join('\n') + '\n');
    const r = nasmErrors(asm, bin);
    if (r.ok) return header.length + lines.length;
    if (r.lines.size === 0) throw new Error(`nasm failed on ${asm} without line numbers`);
    const dropped = lines.filter((_, i) => r.lines.has(i + 1 + header.length));
    if (process.env.SHOW_DROPPED) console.log(`  ${name}: NASM rejects: ${dropped.slice(0, 4).join(' | ')}`);
    lines = lines.filter((_, i) => !r.lines.has(i + 1 + header.length));
  }
  throw new Error(`could not make ${asm} acceptable to nasm`);
}

function main(): void {
  try {
    execFileSync('nasm', ['-v'], { stdio: 'ignore' });
  } catch {
    console.error('generate-corpus: nasm is not installed; the committed golden files stay as they are');
    process.exit(1);
  }
  if (existsSync(OUT)) for (const f of readdirSync(OUT)) if (/\.(asm|bin)$/.test(f)) rmSync(join(OUT, f));
  mkdirSync(OUT, { recursive: true });
  const seenFirst = new Set<string>();
  const groups = new Map<string, string[]>();
  for (const bits of [16, 32] as const) {
    labelCounter = 0;
    seenFirst.clear();
    for (const form of FORMS) {
      if (form.decodeOnly) continue;
      // The first row of each mnemonic with a memory operand gets every addressing form.
      const hasMemory = form.operands.some((k) => k[0] === 'E' || k[0] === 'M');
      const full = hasMemory && !seenFirst.has(form.mnemonic);
      if (full) seenFirst.add(form.mnemonic);
      const key = `bits${bits}-${family(form)}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(`; ${form.source}`, ...linesFor(form, bits, full));
    }
    groups.set(`bits${bits}-aliases`, aliasLines());
  }
  let total = 0;
  for (const [name, body] of groups) {
    const bits = name.startsWith('bits16') ? 16 : 32;
    const header = [`; GENERATED by test/golden/generate-corpus.ts from emulator/isa/table.ts; do not edit.`, `bits ${bits}`];
    const count = writeGolden(OUT, name, header, body);
    total += count;
    console.log(`${name}.asm: ${count} lines (${body.length - (count - header.length)} dropped as NASM errors)`);
  }
  console.log(`corpus: ${total} lines in ${groups.size} files`);
}

if (process.argv[1] && /generate-corpus/.test(process.argv[1])) main();
