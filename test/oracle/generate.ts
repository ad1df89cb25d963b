/**
 * Generates the real-CPU oracle fixtures (test/oracle/fixtures/*.bin.gz) from the instruction table.
 *
 *   npm run oracle        (= node scripts/run-ts.mjs test/oracle/generate.ts)
 *
 * Needs gcc (with -m32 code generation; no 32-bit libc is used) and qemu-i386. Every row of the one
 * table (emulator/isa) that a user-mode process can run gets cases: its register form and its
 * memory form, every operand size (8/16/32), boundary values (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF,
 * 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF) in every pairing, and random values, in
 * random register assignments and addressing forms. Two oracles run them:
 *
 *  - native: this machine's x86-64 CPU in 64-bit mode, for instructions whose 32-bit meaning is
 *    the same there (32-bit operand size by default, 0x66 for 16-bit, byte forms; a 0x67 prefix
 *    makes memory operands use 32-bit addresses);
 *  - qemu-i386: for what 64-bit mode lacks or changes (INC/DEC 40-4F, BCD adjusts, PUSHA/POPA,
 *    BOUND, INTO, LDS/LES, segment loads and pushes, stack operations, far transfers, 16-bit
 *    addressing).
 *
 * Privileged rows run too (at CPL 3 they raise #GP(0)), except SYSENTER/SYSEXIT and the VMX
 * instructions (#UD on an AMD host in 64-bit mode) and the rows whose results depend on the host
 * (CPUID, RDTSC, RDTSCP, SGDT and friends).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FORMS, type InsnForm, type OperandKind } from '../../emulator/isa/index.js';
import { decodeBytes } from '../../emulator/isa/decoder.js';
import {
  DATA_BASE, DATA_SIZE, INSN_ADDRESS, SLED_BASE, SLED_SIZE, USER_CS, USER_DS, decodeResultFile, encodeCaseFile,
  encodeFixture, type Case, type Chunk, type OracleName,
} from './format.js';

// run-ts bundles this file elsewhere; it sets argv[1] to the script's own path.
const HERE = dirname(process.argv[1] ?? fileURLToPath(import.meta.url));
const BOUNDARY = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

// ---------------------------------------------------------------- deterministic randomness
let seed = 0x2545f491;
function rand32(): number {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return seed >>> 0;
}
const randInt = (n: number): number => rand32() % n;
const pick = <T>(a: readonly T[]): T => a[randInt(a.length)]!;
const chance = (p: number): boolean => rand32() / 2 ** 32 < p;
/** Values of the registers a case does not use: few and fixed, so fixtures compress. */
const BACKGROUND = Array.from({ length: 16 }, () => rand32());

// ---------------------------------------------------------------- which oracle runs a row
const QEMU_OPS = new Set([
  'DAA', 'DAS', 'AAA', 'AAS', 'AAM', 'AAD', 'PUSHA', 'POPA', 'BOUND', 'INTO', 'LES', 'LDS', 'LSS', 'LFS',
  'LGS', 'PUSH', 'POP', 'PUSHF', 'POPF', 'ENTER', 'LEAVE', 'CALL', 'RET', 'RETF', 'JMPF', 'CALLF', 'IRET', 'JCXZ',
]);
/** Rows whose results depend on the host or that an AMD CPU in 64-bit mode does not have. */
const SKIPPED_OPS = new Set([
  'CPUID', 'RDTSC', 'RDTSCP', 'SGDT', 'SIDT', 'SMSW', 'SLDT', 'STR', 'SYSENTER', 'SYSEXIT', 'VMCALL',
  'VMLAUNCH', 'VMRESUME', 'VMXOFF', 'VMXON', 'VMCLEAR', 'VMPTRLD', 'VMPTRST', 'VMREAD', 'VMWRITE', 'INVEPT',
  'INVVPID', 'LAR', 'LSL', 'VERR', 'VERW', 'ARPL', 'HLT',
]);

function oracleFor(f: InsnForm): OracleName | null {
  if (f.asmOnly || SKIPPED_OPS.has(f.op)) return null;
  if (QEMU_OPS.has(f.op)) return 'qemu-i386';
  if ((f.op === 'INC' || f.op === 'DEC') && f.plusReg) return 'qemu-i386';
  if (f.op === 'MOV' && f.operands.some((k) => k === 'Sw')) return 'qemu-i386';
  if (f.opcode[0] === 0x82) return 'qemu-i386'; // 82 /n is invalid in 64-bit mode
  return 'native';
}

// ---------------------------------------------------------------- operand helpers
const isModrmOperand = (k: OperandKind): boolean => k[0] === 'E' || k[0] === 'M' || k[0] === 'R';
const sizeOf = (k: OperandKind, osize: 16 | 32): number => {
  if (k === 'Ibs') return osize;
  if (k === 'AL' || k === 'CL' || k.endsWith('b')) return 8;
  if (k === 'DX' || k === 'AX' || k.endsWith('w') || k === 'Sw') return 16;
  if (k.endsWith('d') || k === 'Cd' || k === 'Dd') return 32;
  return osize;
};
const le = (v: number, n: number): number[] => Array.from({ length: n }, (_, i) => (v >>> (8 * i)) & 0xff);

/** Registers an operation reads or writes without naming them in ModRM (kept off address registers). */
function implicitRegs(f: InsnForm): number[] {
  switch (f.op) {
    case 'MUL': case 'DIV': case 'IDIV': case 'CWD': return [0, 2];
    case 'IMUL': return f.operands.length === 1 ? [0, 2] : [];
    case 'CMPXCHG': case 'CBW': case 'LAHF': case 'SAHF': case 'DAA': case 'DAS': case 'AAA': case 'AAS':
    case 'AAM': case 'AAD': return [0];
    case 'CMPXCHG8B': return [0, 1, 2, 3];
    case 'XLATB': return [0, 3];
    case 'MOVS': case 'CMPS': case 'STOS': case 'LODS': case 'SCAS': case 'INS': case 'OUTS': return [0, 1, 6, 7];
    case 'LOOP': case 'LOOPE': case 'LOOPNE': case 'JCXZ': return [1];
    case 'PUSHA': case 'POPA': return [0, 1, 2, 3, 4, 5, 6, 7];
    case 'ENTER': case 'LEAVE': return [4, 5];
    case 'IN': case 'OUT': return [0, 2];
    default: break;
  }
  if (f.operands.includes('CL')) return [1];
  if (f.operands.includes('DX')) return [2];
  return [];
}

const usesStack = (f: InsnForm): boolean =>
  ['PUSH', 'POP', 'PUSHA', 'POPA', 'PUSHF', 'POPF', 'CALL', 'RET', 'RETF', 'CALLF', 'IRET', 'ENTER', 'LEAVE'].includes(f.op);

/** A sled address a branch may land on (not the instruction itself). */
function sledTarget(): number {
  for (;;) {
    const t = SLED_BASE + 0x100 + randInt(SLED_SIZE - 0x200);
    if (t < INSN_ADDRESS - 0x20 || t > INSN_ADDRESS + 0x20) return t;
  }
}

/** Selectors worth loading: the user ones, null, other GDT entries, the LDT, RPL variants, random. */
function selectorValue(forStack = false): number {
  const r = randInt(12);
  if (r < 4) return forStack ? USER_DS : pick([USER_DS, USER_CS]);
  if (r === 4) return USER_DS & ~3 | randInt(4);
  if (r === 5) return randInt(4); // null selectors
  if (r === 6) return pick([0x0b, 0x13, 0x1b, 0x33, 0x3b, 0x43]); // unused GDT entries (null descriptors)
  if (r === 7) return 0x4 | randInt(4) | randInt(8) << 3; // LDT (empty)
  if (r === 8) return USER_CS & ~3 | randInt(4);
  return rand32() & 0xffff;
}

// ---------------------------------------------------------------- one case
interface Spec {
  f: InsnForm;
  oracle: OracleName;
  osize: 16 | 32;
  /** Memory form (ModRM operand in memory) rather than register form. */
  mem: boolean;
  /** 16-bit addressing (0x67 in 32-bit code; qemu-i386 only). */
  a16: boolean;
  /** Values for the value-carrying operands, in operand order (missing ones are random). */
  values: number[];
  rep?: number;
}

/** Builds the case, or returns null when the combination makes no sense. */
function buildCase(s: Spec): Case | null {
  const { f } = s;
  const regs = Array.from({ length: 8 }, () => pick(BACKGROUND));
  let eflags = rand32() & 0x08d5;
  const chunks: Chunk[] = [];
  const used = new Set<number>(implicitRegs(f));
  const stringOp = ['MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS', 'INS', 'OUTS'].includes(f.op);
  if (stringOp && chance(0.3)) eflags |= 0x400;
  const values = [...s.values];
  const nextValue = (): number => (values.length ? values.shift()! : rand32());

  const setReg = (n: number, bits: number, v: number): void => {
    if (bits === 8) {
      const r = n & 3, shift = n & 4 ? 8 : 0;
      regs[r] = ((regs[r]! & ~(0xff << shift)) | ((v & 0xff) << shift)) >>> 0;
      used.add(r);
    } else if (bits === 16) {
      regs[n] = ((regs[n]! & 0xffff0000) | (v & 0xffff)) >>> 0;
      used.add(n);
    } else {
      regs[n] = v >>> 0;
      used.add(n);
    }
  };
  const memory = new Map<number, number>();
  const poke = (off: number, bytes: number[]): void => bytes.forEach((b, i) => memory.set(off + i, b));

  // ModRM fields.
  let regField = f.modrm.kind === 'digit' ? f.modrm.digit : 0;
  let rmReg = -1;
  let memOffset = -1;
  const hasModrm = f.modrm.kind === 'r' || f.modrm.kind === 'digit';
  const opcode = [...f.opcode];
  const imms: number[] = [];
  let memSize = 0;
  let branch = false;

  for (const k of f.operands) {
    const bits = sizeOf(k, s.osize);
    if (isModrmOperand(k)) {
      if (s.mem) {
        // The memory operand: its bytes go to a place in the data window chosen below.
        memSize = k === 'Mp' ? (s.osize === 16 ? 4 : 6) : k === 'Ma' ? (s.osize === 16 ? 4 : 8) : k === 'Mq' ? 8
          : k === 'M' ? 0 : bits / 8;
        memOffset = f.op.startsWith('BT') ? 0x700 + randInt(0x200) : 0x200 + randInt(DATA_SIZE - 0x400);
        if (k === 'Mp') {
          poke(memOffset, [...le(f.op === 'JMPF' || f.op === 'CALLF' ? sledTarget() : nextValue(), s.osize / 8), ...le(selectorValue(f.op === 'LSS'), 2)]);
        } else if (k === 'Ma') {
          poke(memOffset, [...le(nextValue(), s.osize / 8), ...le(nextValue(), s.osize / 8)]);
        } else if (memSize) {
          let v = nextValue();
          if (f.op === 'JMP' || f.op === 'CALL') v = sledTarget();
          if (k === 'Ew' && f.op === 'MOV') v = selectorValue();
          poke(memOffset, le(v, memSize === 8 ? 4 : memSize));
          if (memSize === 8) poke(memOffset + 4, le(nextValue(), 4));
        }
      } else {
        if (k[0] === 'M') return null; // memory-only operand: the register form is #UD, made separately
        rmReg = randInt(8);
        // CALL/JMP through ESP would land in the stack in the data window.
        if ((f.op === 'JMP' || f.op === 'CALL') && rmReg === 4) rmReg = 5;
        let v = nextValue();
        if (f.op === 'JMP' || f.op === 'CALL') v = sledTarget();
        if (f.op === 'MOV' && k === 'Ew') v = selectorValue();
        setReg(rmReg, bits, v);
      }
    } else if (k[0] === 'G') {
      regField = randInt(8);
      if (rmReg >= 0 && chance(0.75)) while (regField === rmReg) regField = randInt(8);
      let v = nextValue();
      if (f.op.startsWith('BT') && s.mem) v = (rand32() % 0x3000) - 0x1800; // bit offset within the window
      setReg(regField, bits, v);
    } else if (k === 'Sw') {
      regField = f.op === 'MOV' && f.operands[0] === 'Sw' ? pick([0, 2, 3, 4, 5]) : randInt(6);
    } else if (k === 'Cd' || k === 'Dd') {
      regField = k === 'Cd' ? pick([0, 2, 3, 4]) : pick([0, 1, 2, 3, 6, 7]);
    } else if (k[0] === 'Z') {
      const r = randInt(8);
      opcode[opcode.length - 1]! += r;
      setReg(r, bits, nextValue());
    } else if (k === 'AL' || k === 'eAX' || k === 'AX') {
      setReg(0, k === 'AL' ? 8 : bits, nextValue());
    } else if (k === 'CL') {
      setReg(1, 8, nextValue());
    } else if (k === 'DX') {
      setReg(2, 16, nextValue());
    } else if (k === 'Ib' || k === 'Ibs') {
      let v = nextValue();
      if (f.op === 'INT' && (v & 0xff) === 0x80) v = 0x81; // INT 0x80 is a system call
      imms.push(...le(v, 1));
    } else if (k === 'Iw') {
      let v = nextValue();
      // qemu-i386 7.2 sign-extends the imm16 of RET/RETF (x86_ldsw_code); the SDM's count is
      // unsigned. Values from 0x8000 up would test qemu, not us.
      if (f.op === 'RET' || f.op === 'RETF') v &= 0x7fff;
      imms.push(...le(v, 2));
    } else if (k === 'Iz') {
      imms.push(...le(nextValue(), s.osize / 8));
    } else if (k === 'Jb' || k === 'Jz') {
      branch = true;
      imms.push(-1); // placeholder: the displacement depends on the final length
    } else if (k === 'Ob' || k === 'Ov') {
      memOffset = 0x200 + randInt(DATA_SIZE - 0x400);
      poke(memOffset, le(nextValue(), k === 'Ob' ? 1 : s.osize / 8));
      imms.push(...le(DATA_BASE + memOffset, s.a16 ? 2 : 4));
    } else if (k === 'Ap') {
      const sel = chance(0.6) ? USER_CS : selectorValue();
      imms.push(...le(sledTarget(), s.osize / 8), ...le(sel, 2));
    }
  }

  // Addressing.
  let modrm = -1;
  const addr: number[] = [];
  if (hasModrm) {
    if (!s.mem) {
      if (rmReg < 0) rmReg = randInt(8);
      modrm = 0xc0 | (regField << 3) | rmReg;
    } else if (s.a16) {
      // 16-bit forms: [bx+si] [bx+di] [bp+si] [bp+di] [si] [di] [bp]/disp16 [bx]
      const regsOf = [[3, 6], [3, 7], [5, 6], [5, 7], [6], [7], [5], [3]];
      const free = [0, 1, 2, 3, 4, 5, 6, 7].filter((rm) => regsOf[rm]!.every((r) => !used.has(r)));
      if (free.length === 0) return null;
      const rm = pick(free);
      let mod = randInt(3);
      if (rm === 6 && mod === 0 && chance(0.5)) mod = 1;
      const disp = mod === 0 ? (rm === 6 ? (DATA_BASE + memOffset) & 0xffff : 0) : mod === 1 ? rand32() & 0xff : rand32() & 0xffff;
      const dispValue = mod === 1 ? (disp << 24) >> 24 : disp;
      if (mod === 0 && rm === 6) { /* absolute */ } else {
        const rs = regsOf[rm]!;
        let sum = (DATA_BASE + memOffset - dispValue) & 0xffff;
        if (rs.length === 2) {
          const a = rand32() & 0xffff;
          setReg(rs[1]!, 16, a);
          sum = (sum - a) & 0xffff;
        }
        setReg(rs[0]!, 16, sum);
        for (const r of rs) regs[r] = ((rand32() & 0xffff0000) | (regs[r]! & 0xffff)) >>> 0;
      }
      modrm = (mod << 6) | (regField << 3) | rm;
      addr.push(...(mod === 1 ? le(disp, 1) : mod === 2 || (mod === 0 && rm === 6) ? le(disp, 2) : []));
    } else {
      const target = (DATA_BASE + memOffset) >>> 0;
      const free = [0, 1, 2, 3, 5, 6, 7].filter((r) => !used.has(r));
      const stackBase = !usesStack(f) && !used.has(4);
      const form = randInt(7);
      const disp8 = (): number => (rand32() & 0xff) << 24 >> 24;
      const dispAny = (): number => (chance(0.5) ? disp8() : rand32() | 0);
      if (form === 0 || free.length === 0) {
        // [disp32] as SIB with no base and no index (mod 00 r/m 101 is RIP-relative in 64-bit mode).
        modrm = (regField << 3) | 4;
        addr.push(0x25, ...le(target, 4));
        if (s.oracle === 'qemu-i386' && chance(0.5)) { modrm = (regField << 3) | 5; addr.splice(0, addr.length, ...le(target, 4)); }
      } else if (form === 6 && stackBase) {
        const d = disp8();
        setReg(4, 32, target - d);
        modrm = 0x40 | (regField << 3) | 4;
        addr.push(0x24, ...le(d, 1));
      } else if (form >= 4 && free.length >= 2) {
        const base = pick(free);
        const index = pick(free.filter((r) => r !== base));
        const scale = randInt(4);
        const iv = form === 5 ? rand32() : (rand32() % 0x400) - 0x200;
        setReg(index, 32, iv);
        const noBase = form === 5 && chance(0.5);
        const d = noBase ? rand32() | 0 : dispAny();
        const mod = noBase ? 0 : d >= -128 && d < 128 ? 1 : 2;
        if (!noBase) setReg(base, 32, (target - d - (iv << scale)) | 0);
        const dAdj = noBase ? (target - (iv << scale)) | 0 : d;
        modrm = (mod << 6) | (regField << 3) | 4;
        addr.push((scale << 6) | (index << 3) | (noBase ? 5 : base), ...(mod === 1 ? le(dAdj, 1) : le(dAdj, 4)));
      } else {
        const base = pick(free);
        const mod = base === 5 ? 1 + randInt(2) : randInt(3);
        const d = mod === 0 ? 0 : mod === 1 ? disp8() : rand32() | 0;
        setReg(base, 32, (target - d) | 0);
        modrm = (mod << 6) | (regField << 3) | base;
        addr.push(...(mod === 1 ? le(d, 1) : mod === 2 ? le(d, 4) : []));
      }
    }
  } else if (f.modrm.kind === 'fixed') {
    modrm = f.modrm.byte;
  }

  // Implicit memory and registers.
  const window = (lo: number, hi: number): number => DATA_BASE + lo + randInt(hi - lo);
  if (stringOp) {
    // REP INS/OUTS with ECX = 0 at CPL 3: the AMD oracle raises #GP(0) (it checks I/O permission
    // before the count); the SDM's REP pseudocode tests the count first. Not generated.
    const io = f.op === 'INS' || f.op === 'OUTS';
    const count = s.rep !== undefined ? pick(io ? [1, 2, 3, 5] : [0, 1, 2, 3, 5]) : 0;
    setReg(6, 32, window(0x600, 0xa00));
    setReg(7, 32, window(0x600, 0xa00));
    if (s.rep !== undefined) setReg(1, 32, count);
    for (let i = 0; i < 64; i++) if (chance(0.5)) memory.set(0x5e0 + randInt(0x440), randInt(4) === 0 ? 0 : rand32() & 0xff);
  }
  if (f.op === 'XLATB') {
    setReg(3, 32, window(0x200, 0x800));
    for (let i = 0; i < 256; i++) memory.set(regs[3]! - DATA_BASE + i, rand32() & 0xff);
  }
  if (f.op === 'LOOP' || f.op === 'LOOPE' || f.op === 'LOOPNE' || f.op === 'JCXZ' || f.op === 'JECXZ') {
    if (chance(0.5)) setReg(1, 32, pick([0, 1, 2, 0x10000, 0x10001, 0xffffffff, 0xffff]));
  }
  if (usesStack(f)) {
    // The stack is in the data window, filled with words a pop may want.
    const sp = window(0x700, 0x900) & ~(chance(0.8) ? 3 : 0);
    regs[4] = sp;
    if (f.op === 'ENTER' || f.op === 'LEAVE') regs[5] = window(0x900, 0xb00) & ~3;
    const base = sp - DATA_BASE;
    // Random words around the stack, where the memory operand has not already put its bytes.
    for (let i = -0x40; i < 0x40; i++) if (!memory.has(base + i)) memory.set(base + i, rand32() & 0xff);
    if (f.op === 'RET' || f.op === 'RETF' || f.op === 'IRET') {
      const wide = s.osize / 8;
      poke(base, le(sledTarget(), wide));
      poke(base + wide, le(chance(0.75) ? USER_CS : selectorValue(), wide));
      if (f.op === 'IRET') poke(base + 2 * wide, le((rand32() & 0x2c0cd5 & ~0x100) | 0x202, wide));
    }
    if (f.op === 'POPF') poke(base, le(rand32() & ~0x100, 4)); // TF would trap after the next instruction
    if (f.op === 'POP' && ['ES', 'SS', 'DS', 'FS', 'GS'].includes(f.operands[0]!)) poke(base, le(selectorValue(f.operands[0] === 'SS'), 4));
    if (f.op === 'LEAVE') poke(regs[5]! - DATA_BASE, le(rand32(), 4));
    // PUSH Sreg with a 32-bit operand size: the SDM (Vol. 2B, PUSH) lets a processor either write
    // the zero-extended selector or make a 16-bit write leaving the slot's upper half (qemu does the
    // first, recent Intel processors and trapvisor the second). A zero slot makes both agree.
    if (f.op === 'PUSH' && ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'].includes(f.operands[0]!)) poke(base - 4, [0, 0, 0, 0]);
  }

  // Assemble: prefixes, opcode, ModRM/SIB/displacement, immediates.
  const prefixes: number[] = [];
  if (f.prefix) prefixes.push(f.prefix);
  if (s.rep !== undefined) prefixes.push(s.rep);
  if (s.osize === 16) prefixes.push(0x66);
  const needs67 = s.mem || stringOp || f.op === 'XLATB' || f.operands.some((k) => k === 'Ob' || k === 'Ov')
    || ['LOOP', 'LOOPE', 'LOOPNE', 'JCXZ'].includes(f.op);
  const code32 = (a67: boolean): number[] => [...prefixes, ...(a67 ? [0x67] : []), ...opcode, ...(modrm >= 0 ? [modrm] : []), ...addr];
  const trapvisorHead = code32(s.a16 || f.asize === 16);
  const oracleHead = s.oracle === 'native' ? code32(needs67) : trapvisorHead;
  let immBytes = imms;
  if (branch) {
    const wide = f.operands[0] === 'Jz' ? s.osize / 8 : 1;
    const len = trapvisorHead.length + imms.length - 1 + wide;
    const rest = imms.slice(1);
    const target = f.operands[0] === 'Jb' ? INSN_ADDRESS + len + ((nextValue() & 0xff) << 24 >> 24) : sledTarget();
    let disp = target - (INSN_ADDRESS + len);
    if (target === INSN_ADDRESS) disp += 2;
    // Natively one byte longer (0x67): a branch to the native fall-through address would be
    // indistinguishable from falling through (whose address main() maps back).
    if (oracleHead.length !== trapvisorHead.length && disp === oracleHead.length - trapvisorHead.length) return null;
    immBytes = [...le(disp, wide), ...rest];
    // The native bytes may be one longer (0x67): keep the same target.
    const nativeDisp = disp - (oracleHead.length - trapvisorHead.length);
    if (wide === 1 && (nativeDisp < -128 || nativeDisp > 127)) return null;
    const oracleImm = [...le(nativeDisp, wide), ...rest];
    return finish([...trapvisorHead, ...immBytes], [...oracleHead, ...oracleImm]);
  }
  return finish([...trapvisorHead, ...immBytes], [...oracleHead, ...immBytes]);

  function finish(code: number[], oracleCode: number[]): Case | null {
    for (const [at, v] of memory) if (at >= 0 && at < DATA_SIZE) chunks.push({ at, bytes: [v] });
    const merged = mergeChunks(chunks);
    return { form: f.source, code, oracleCode, regs, eflags, chunks: merged };
  }
}

function mergeChunks(chunks: Chunk[]): Chunk[] {
  const sorted = chunks.sort((a, b) => a.at - b.at);
  const out: Chunk[] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && last.at + last.bytes.length === c.at) last.bytes.push(...c.bytes);
    else if (last && last.at + last.bytes.length > c.at) continue;
    else out.push({ at: c.at, bytes: [...c.bytes] });
  }
  return out;
}

// ---------------------------------------------------------------- cases for one row
function valueOperands(f: InsnForm): number {
  return f.operands.filter((k) => !['Jb', 'Jz', 'Ap', 'Sw', 'Cd', 'Dd', 'M', 'Mp', 'Ms', '1'].includes(k)).length;
}

/** Shift counts worth trying: every count up to 33 and the boundaries. */
const COUNTS = [...Array.from({ length: 34 }, (_, i) => i), 0x3f, 0x40, 0x41, 0x7f, 0x80, 0xff];

function casesFor(f: InsnForm, oracle: OracleName): Case[] {
  const out: Case[] = [];
  const hasModrmOperand = f.operands.some(isModrmOperand);
  const memOnly = f.operands.some((k) => k[0] === 'M');
  const regOnly = f.operands.some((k) => k[0] === 'R');
  const sized = f.operands.some((k) => /^(Ev|Gv|Rv|Zv|eAX|Iz|Ibs|Jz|Ov|Mp|Ma|Ap)$/.test(k)) || usesStack(f);
  let sizes: (16 | 32)[] = f.osize ? [f.osize] : sized ? [16, 32] : [32];
  if (f.op === 'BSWAP') sizes = [32]; // BSWAP with a 16-bit operand is undefined
  if (oracle === 'native' && (f.op === 'Jcc' || f.op === 'JMP' || f.op === 'LOOP' || f.op === 'LOOPE' || f.op === 'LOOPNE' || f.op === 'JCXZ')) sizes = [32];
  if (f.op === 'JCXZ' && f.asize === 32) sizes = [32];
  const forms: boolean[] = !hasModrmOperand ? [false] : memOnly ? [true] : regOnly ? [false] : [false, true];
  const nValues = valueOperands(f);
  const rounds = f.cpl0 || f.iopl || ['UD2', 'NOP', 'PAUSE', 'INT3', 'CLC', 'STC', 'CMC', 'CLD', 'STD', 'LAHF', 'SAHF'].includes(f.op) ? 0 : 1;
  const shift = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAR', 'SHLD', 'SHRD'].includes(f.op);
  const reps: (number | undefined)[] = f.rep === 'rep' ? [undefined, 0xf3] : f.rep === 'repe' ? [undefined, 0xf3, 0xf2] : [undefined];

  for (const osize of sizes) {
    for (const mem of forms) {
      for (const rep of reps) {
        const vectors: number[][] = [];
        if (rounds === 0 || nValues === 0) {
          for (let i = 0; i < (rounds === 0 ? 6 : 24); i++) vectors.push([]);
        } else if (shift && f.operands.some((k) => k === 'CL' || k === 'Ib')) {
          // Value x count: boundaries and random values against every interesting count.
          for (const count of COUNTS) {
            for (const v of [pick(BOUNDARY), rand32()]) {
              if (f.op === 'SHLD' || f.op === 'SHRD') vectors.push(osize === 16 && (count & 31) > 16 ? [] : [v, rand32(), count]);
              else vectors.push([v, count]);
            }
          }
        } else if (nValues === 1) {
          for (const v of BOUNDARY) vectors.push([v]);
          for (let i = 0; i < 24; i++) vectors.push([rand32() >>> randInt(32)]);
        } else {
          for (const a of BOUNDARY) for (const b of BOUNDARY) vectors.push([a, b, ...(nValues > 2 ? [pick(BOUNDARY)] : [])]);
          for (let i = 0; i < 24; i++) vectors.push([rand32() >>> randInt(32), rand32() >>> randInt(32), rand32()]);
        }
        // Operations whose 16-bit results are undefined for some values would be dropped above.
        for (const values of vectors) {
          if ((f.op === 'SHLD' || f.op === 'SHRD') && values.length === 0 && rounds) continue;
          const c = buildCase({ f, oracle, osize, mem, a16: false, values, rep });
          if (c) out.push(c);
        }
      }
    }
  }
  return out;
}

/** 16-bit addressing (0x67 in 32-bit code) on qemu-i386: a sample of every memory-form row. */
function a16CasesFor(f: InsnForm): Case[] {
  const out: Case[] = [];
  if (!f.operands.some((k) => k[0] === 'E' || k[0] === 'M') || f.cpl0 || f.iopl) return out;
  // qemu-i386 7.2 raises #UD for the TEST aliases F6 /1 and F7 /1 (the native oracle runs them).
  if (f.op === 'TEST' && f.modrm.kind === 'digit' && f.modrm.digit === 1) return out;
  for (let i = 0; i < 12; i++) {
    const osize = f.osize || (chance(0.5) ? 16 : 32);
    const c = buildCase({ f, oracle: 'qemu-i386', osize, mem: true, a16: true, values: [pick(BOUNDARY), rand32(), rand32()] });
    if (c) out.push(c);
  }
  return out;
}

/** Checks that trapvisor's decoder reads the case's bytes as the row they were made for. */
function checkDecodes(c: Case): boolean {
  const d = decodeBytes(new Uint8Array(c.code), 0, 32);
  return !('fault' in d) && d.form.source === c.form && d.length === c.code.length;
}

// ---------------------------------------------------------------- build, run, record
function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function main(): void {
  const native: Case[] = [];
  const qemu: Case[] = [];
  let undecodable = 0;
  for (const f of FORMS) {
    const oracle = oracleFor(f);
    if (!oracle) continue;
    const made = casesFor(f, oracle);
    if (oracle === 'native') native.push(...made); else qemu.push(...made);
    if (oracle === 'native' || f.op === 'POP' || f.op === 'PUSH') qemu.push(...a16CasesFor(f));
  }
  const keep = (list: Case[]): Case[] => list.filter((c) => {
    if (checkDecodes(c)) return true;
    undecodable++;
    if (undecodable < 10) console.error(`skipped (decodes as another row): ${c.form}: ${c.code.map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
    return false;
  });
  const nativeCases = keep(native), qemuCases = keep(qemu);

  const work = mkdtempSync(join(tmpdir(), 'trapvisor-oracle-'));
  try {
    const src = join(HERE, 'runner.c');
    const flags = ['-O1', '-ffreestanding', '-nostdlib', '-static', '-fno-pie', '-no-pie', '-fno-stack-protector', '-fno-builtin'];
    sh('gcc', [...flags, '-o', join(work, 'native'), src]);
    sh('gcc', ['-m32', ...flags, '-o', join(work, 'i386'), src]);
    const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown x86-64';
    const qemuVersion = sh('qemu-i386', ['--version']).split('\n')[0]!;
    const outDir = join(HERE, 'fixtures');
    mkdirSync(outDir, { recursive: true });
    const runs: [OracleName, Case[], string[], string][] = [
      ['native', nativeCases, [join(work, 'native')], cpu],
      ['qemu-i386', qemuCases, ['qemu-i386', join(work, 'i386')], `${qemuVersion} on ${cpu}`],
    ];
    for (const [name, cases, cmd, machine] of runs) {
      writeFileSync(join(work, `${name}.cases`), encodeCaseFile(cases));
      sh(cmd[0]!, [...cmd.slice(1), join(work, `${name}.cases`), join(work, `${name}.results`)]);
      const results = decodeResultFile(readFileSync(join(work, `${name}.results`)));
      if (results.length !== cases.length) throw new Error(`${name}: ${results.length} results for ${cases.length} cases`);
      // Falling through natively lands after the (possibly longer) native bytes: record it as the
      // address after trapvisor's bytes. Branch targets were made the same absolute address.
      results.forEach((r, i) => {
        const c = cases[i]!;
        if (r.signal === 5 && r.eip === INSN_ADDRESS + c.oracleCode.length + 1) r.eip = INSN_ADDRESS + c.code.length + 1;
      });
      const notes = name === 'native'
        ? ['Run natively in 64-bit mode: 32-bit operand size by default, 0x66 for 16-bit, 0x67 before memory operands (32-bit addresses). The vector is the signal frame trapno.']
        : ['Run under qemu-i386 (TCG) as a 32-bit Linux process. qemu-user leaves the signal frame trapno unset: the exception shows as the signal, si_code and error code.'];
      const file = join(outDir, `${name}.bin.gz`);
      writeFileSync(file, encodeFixture({ oracle: name, machine, notes }, cases, results));
      console.log(`${name}: ${cases.length} cases -> ${file} (${readFileSync(file).length} bytes)`);
    }
    if (undecodable) console.log(`${undecodable} generated cases were dropped (their bytes decode as another row)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
