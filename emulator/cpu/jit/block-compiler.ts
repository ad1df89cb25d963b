/**
 * The fast tier: decodes a basic block once and compiles it to one JavaScript function.
 *
 * Hot instructions (ALU, MOV, LEA, INC/DEC, stack, near branches) are emitted inline with their
 * operands as constants; every other instruction calls its reference executor from exec/, so the
 * two tiers share one definition of the semantics for all but the templates here, and the test suite
 * runs the CPU tests through both tiers.
 *
 * Exactness rules the generated code keeps:
 * - Before any instruction that may fault, `c.eip` holds that instruction's address; a fault thrown
 *   out of the block is delivered by the dispatcher, which counts the instructions retired before
 *   it from the block's `starts` table.
 * - Flags: the lazy record holds every flag-writing instruction's result by the time anything could
 *   see it (a fault, a flag reader, a block exit), so later readers (or the interpreter) see the
 *   same EFLAGS. Between register-only instructions nothing can see it: a record that the next
 *   flag writer replaces whole is not written at all, and INC/DEC take the CF they keep from the
 *   previous writer's operands instead of the record. A Jcc right after its flag producer in the
 *   same block tests the producer's operands directly instead of asking the record ("flag fusion").
 * - Self-modifying code: after any instruction that may store, the block exits if a store changed
 *   a byte some block or decoded instruction was made from (`c.codeChanged`; Cpu.codeBytes), so
 *   the next instruction is decoded afresh. Stores to the rest of the page (data a small guest
 *   keeps beside its code) leave the page's blocks alone.
 * - Blocks end at control transfers and at instructions that may change how the following bytes
 *   are fetched or whether interrupts are taken (system instructions, segment loads, POPF, STI...).
 * - An instruction that may cause a VM exit (its row names one) counts the instructions before it
 *   into c.icount first (its exit reads the count). Its exit ends the block. So does its retiring,
 *   when it is not straight-line, except one kind of completion. CPUID, IN, OUT, RDMSR, WRMSR and
 *   VMCALL can have their exit completed in place by the hypervisor (Vmx.fastExit, exitTaken
 *   RESUMED). The block then goes on past the instruction, which counts as not retired, while
 *   the budget (the re-armed timer) covers the rest and no code was written. Not on a page whose
 *   blocks writes have thrown away 8 times or more (Cpu.codePageRewrites: code that rewrites
 *   itself), where every longer block would be compiled again and again.
 * - The exits of CPUID, VMCALL, IN and OUT may even be completed inline: the block asks the
 *   hypervisor (Vmx.inlineExits) before calling the executor, and goes on at once when it did the
 *   exit. That path does not touch the flags, so a flag record not yet written stays unwritten
 *   there (a later instruction may drop it); the executor's path, and that path's early return,
 *   write it first.
 * - A block whose last instruction is a Jcc back to its own first instruction (a tight loop)
 *   loops inside its function: at the back edge it retires the iteration's instructions and goes
 *   round again while the dispatcher would run it again anyway: the run's budget (which includes
 *   the preemption timer's deadline) covers another iteration, nothing asked the CPU to stop, no
 *   interrupt waits that IF lets in (IF cannot change inside: the body is straight-line code) or
 *   that may exit in non-root operation, and no debugger records the block history. Anything
 *   else returns to the dispatcher at the loop's start.
 */
import { decode, isDecodeFailure, type DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { IF, LazyOp } from '../flags.js';
import { divideAccumulator32, multiplyAccumulator32 } from '../exec/arithmetic.js';
import { EXECUTORS, type Executor } from '../exec/index.js';
import { BYTE_REG_INDEX, widthOf, type Width } from '../exec/operands.js';
import { InstructionExit } from '../../vmx/vmx.js';

export interface CompiledBlock {
  readonly run: (c: Cpu) => void;
  /** False once a write invalidated the code it was compiled from. */
  valid: boolean;
  /** Chaining: the block this one last exited to, and under which translation it was found. */
  chainEip: number;
  chainEpoch: number;
  chainCsBase: number;
  chainBlock: CompiledBlock | null;
  chainEip2: number;
  chainBlock2: CompiledBlock | null;
  /**
   * EIP of each instruction, in order, and the CS base it was compiled under. The cache is keyed
   * by physical address, but the code embeds EIPs: when the same physical code runs at another
   * linear address (an alias mapping, another CS base), the dispatcher compiles it afresh.
   */
  readonly starts: readonly number[];
  /** Each instruction's length: with `starts`, the bytes of its page the block was made from. */
  readonly lengths: readonly number[];
  readonly csBase: number;
  /** Instructions decoded into it: the most one run retires. */
  readonly count: number;
  /** Generated source, kept for the debugger's `info block` and for tests. */
  readonly source: string;
}

/** The longest block, in instructions. A block runs only when the budget left covers its `count`; else the dispatcher steps. */
const MAX_BLOCK_INSTRUCTIONS = 48;

/** Ops after which execution may continue in the same block. */
const STRAIGHT_LINE = new Set([
  'ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP', 'TEST', 'NOT', 'NEG', 'INC', 'DEC', 'MUL',
  'IMUL', 'DIV', 'IDIV', 'MOVZX', 'MOVSX', 'XCHG', 'XADD', 'CMPXCHG', 'CMPXCHG8B', 'BSWAP', 'LEA',
  'PUSHA', 'POPA', 'PUSHF', 'LAHF', 'SAHF', 'CBW', 'CWD', 'CMOVcc', 'SETcc', 'XLATB', 'ENTER',
  'LEAVE', 'ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAR', 'SHLD', 'SHRD', 'BT', 'BTS', 'BTR',
  'BTC', 'BSF', 'BSR', 'MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS', 'DAA', 'DAS', 'AAA', 'AAS', 'AAM',
  'AAD', 'CLC', 'STC', 'CMC', 'CLD', 'STD', 'NOP', 'PAUSE', 'BOUND', 'LAR', 'LSL', 'VERR', 'VERW',
]);

function isStraightLine(d: DecodedInsn): boolean {
  const op = d.form.op;
  if (op === 'MOV') return !d.form.operands.some((k) => k === 'Sw' || k === 'Cd' || k === 'Dd') || d.form.operands[1] === 'Sw';
  if (op === 'PUSH') return true;
  if (op === 'POP') return !['ES', 'SS', 'DS', 'FS', 'GS'].includes(d.form.operands[0]!);
  return STRAIGHT_LINE.has(op);
}

/**
 * Instructions whose VM exit a hypervisor may complete in place (Vmx.fastExit) with the guest
 * going on at the next instruction: the block goes on past them then. Otherwise (they retired,
 * or their exit happened) the block ends after them, as after any instruction that is not
 * straight-line.
 */
const RESUMABLE_EXITS = new Set(['CPUID', 'IN', 'OUT', 'RDMSR', 'WRMSR', 'VMCALL']);
/** How a block asks the hypervisor to complete an instruction's exit inline. */
interface InlineExit {
  /** The InlineExits method. */
  method: string;
  /** Its arguments, as generated code, for this instruction. */
  args: (d: DecodedInsn) => string;
  /** Whether it may write guest memory (the block then checks for written code after it). */
  writesMemory: boolean;
}

/** IN and OUT's port and size, as the arguments of InlineExits.inlineIn and inlineOut. */
function portArgs(d: DecodedInsn): string {
  const port = d.form.operands.includes('Ib') ? String(d.imm & 0xff) : '(r[2] & 0xffff)';
  return `${port}, ${d.form.operands.includes('AL') ? 1 : d.opsize === 16 ? 2 : 4}`;
}

/**
 * Instructions whose exit the hypervisor may complete inline, by the InlineExits method named:
 * in non-root operation they exit (the hypervisor's inline path declines where they might not),
 * and neither their exit nor the hypercalls and port accesses completed inline read or write
 * the flags. A hypercall may write guest memory (CONSOLE_READ), code included: the block checks
 * for that after it. String I/O is never completed inline.
 */
const INLINE_EXITS = new Map<string, InlineExit>([
  ['CPUID', { method: 'inlineCpuid', args: () => '', writesMemory: false }],
  ['VMCALL', { method: 'inlineVmcall', args: () => '', writesMemory: true }],
  ['IN', { method: 'inlineIn', args: portArgs, writesMemory: false }],
  ['OUT', { method: 'inlineOut', args: portArgs, writesMemory: false }],
]);
/** Rewrites of a page's blocks after which its blocks no longer go on past such instructions. */
const REWRITTEN_PAGE = 8;
/** Where a loop's `lastStart` is read again after such an exit (filled in once the loop is known). */
const SELF_LOOP_RELOAD = '/*reload*/';

/** Raised from generated code (kept out of the generated text). */
const RUNTIME = {
  gp(): never { return raise(Vector.GP, 0); },
  mul32: multiplyAccumulator32,
  div32: divideAccumulator32,
};

const ALU_LAZY: Record<string, LazyOp> = {
  ADD: LazyOp.ADD, ADC: LazyOp.ADC, SUB: LazyOp.SUB, SBB: LazyOp.SBB, CMP: LazyOp.SUB,
  AND: LazyOp.LOGIC, OR: LazyOp.LOGIC, XOR: LazyOp.LOGIC, TEST: LazyOp.LOGIC,
};
const ALU_EXPR: Record<string, string> = {
  ADD: '+', ADC: '+', SUB: '-', SBB: '-', CMP: '-', AND: '&', OR: '|', XOR: '^', TEST: '&',
};

/** The last flag producer in this block, for Jcc fusion. */
interface FlagSource {
  kind: 'SUB' | 'LOGIC' | 'ADD' | 'INCDEC' | 'SHIFT';
  /** For SHIFT: the JS expression of CF (the last bit shifted out). */
  cf?: string;
  w: Width;
  a: string;
  b: string;
  res: string;
}

function maskOf(w: Width): string {
  return w === 32 ? '| 0' : w === 16 ? '& 0xffff' : '& 0xff';
}

class Emitter {
  readonly lines: string[] = [];
  readonly locals: string[] = [];
  flagSource: FlagSource | null = null;
  /**
   * The line of the last `lf.set` that nothing can have seen yet (no fault, flag reader, branch
   * or exit since): a later instruction that writes every flag may delete it.
   */
  flagSet: number | null = null;

  /** Emits the record of a flag-writing register instruction that writes all six flags. */
  setAllFlags(record: string): void {
    if (this.flagSet !== null) this.lines[this.flagSet] = '';
    this.flagSet = this.lines.length;
    this.lines.push(record);
  }

  /** The CF the last flag producer left, as a JS expression of its operands (0 or 1), or null. */
  carryOut(): string | null {
    const s = this.flagSource;
    if (s === null) return null;
    const unsigned = (v: string): string => (s.w === 32 ? `(${v} >>> 0)` : v);
    switch (s.kind) {
      case 'SUB': return `+(${unsigned(s.a)} < ${unsigned(s.b)})`;
      case 'ADD': return `+(${unsigned(s.res)} < ${unsigned(s.a)})`;
      case 'LOGIC': return '0';
      case 'SHIFT': return `(${s.cf})`;
      default: return null;
    }
  }

  constructor(readonly bits: 16 | 32) {}

  local(name: string): string {
    this.locals.push(name);
    return name;
  }

  reg(n: number, w: Width): string {
    return w === 32 ? `r[${n}]` : w === 16 ? `r16[${n * 2}]` : `r8[${BYTE_REG_INDEX[n]}]`;
  }

  ea(d: DecodedInsn): string {
    const parts: string[] = [];
    if (d.base >= 0) parts.push(`r[${d.base}]`);
    if (d.index >= 0) parts.push(d.scale ? `(r[${d.index}] << ${d.scale})` : `r[${d.index}]`);
    if (d.disp !== 0 || parts.length === 0) parts.push(String(d.disp));
    if (parts.length === 1 && d.base < 0 && d.index < 0) return String(d.adsize === 16 ? d.disp & 0xffff : d.disp | 0);
    return `((${parts.join(' + ')}) ${d.adsize === 16 ? '& 0xffff' : '| 0'})`;
  }

  memRead(d: DecodedInsn, w: Width, ea: string): string {
    return `c.read${w}(${d.segment}, ${ea})`;
  }
  memWrite(d: DecodedInsn, w: Width, ea: string, v: string): string {
    return `c.write${w}(${d.segment}, ${ea}, ${v});`;
  }
}

/**
 * A MOV between registers, immediates, r/m operands and moffs (A0-A3, a bare address, which
 * decodes as a memory operand with only a displacement): the forms the MOV template emits.
 */
function isTemplateMov(d: DecodedInsn): boolean {
  return d.form.op === 'MOV' && d.form.operands.every((k) => /^(E|G|Z|I|O|AL$|eAX$)/.test(k));
}

/** Emits an inline template for `d`, or returns false to use the executor. */
function emitTemplate(e: Emitter, d: DecodedInsn, i: number, next: number): boolean {
  const f = d.form, op = f.op, ops = f.operands;
  const readSimple = (k: string, w: Width): string | null => {
    switch (k[0]) {
      case 'G': return e.reg(d.reg, w);
      case 'Z': return e.reg(d.opcodeReg, w);
      case 'I': return String(w === 32 ? d.imm | 0 : d.imm & (w === 16 ? 0xffff : 0xff));
      case 'E': return d.hasMemory ? null : e.reg(d.rm, w);
    }
    if (k === 'AL') return 'r8[0]';
    if (k === 'eAX') return e.reg(0, w);
    if (k === 'CL') return 'r8[4]';
    return null;
  };
  const writeSimple = (k: string, w: Width, v: string): string | null => {
    switch (k[0]) {
      case 'G': return `${e.reg(d.reg, w)} = ${v};`;
      case 'Z': return `${e.reg(d.opcodeReg, w)} = ${v};`;
      case 'E': return d.hasMemory ? null : `${e.reg(d.rm, w)} = ${v};`;
    }
    if (k === 'AL') return `r8[0] = ${v};`;
    if (k === 'eAX') return `${e.reg(0, w)} = ${v};`;
    return null;
  };

  if (op in ALU_LAZY && ops.length === 2) {
    const [dk, sk] = ops as [string, string];
    const w = widthOf(d, dk);
    const a = e.local(`a${i}`), b = e.local(`b${i}`), res = e.local(`res${i}`);
    const writes = op !== 'CMP' && op !== 'TEST';
    const src = sk === 'Ibs' ? String(w === 32 ? d.imm | 0 : d.imm & (w === 16 ? 0xffff : 0xff)) : readSimple(sk, w);
    if (src === null) return false;
    const carry = op === 'ADC' || op === 'SBB';
    const body: string[] = [];
    let store = '';
    const memDst = dk[0] === 'E' && d.hasMemory;
    if (memDst) {
      const ea = e.local(`ea${i}`);
      body.push(`${ea} = ${e.ea(d)};`, `${a} = ${e.memRead(d, w, ea)};`);
      if (writes) store = e.memWrite(d, w, ea, res);
    } else {
      const cur = readSimple(dk, w);
      if (cur === null) return false;
      body.push(`${a} = ${cur};`);
      if (writes) store = writeSimple(dk, w, res)!;
    }
    body.push(`${b} = ${src};`);
    if (carry) {
      const cin = e.local(`cin${i}`);
      body.push(`${cin} = lf.cf();`, `${res} = (${a} ${ALU_EXPR[op]} ${b} ${ALU_EXPR[op]} ${cin}) ${maskOf(w)};`);
      body.push(store, `lf.carryIn = ${cin};`);
    } else {
      body.push(`${res} = (${a} ${ALU_EXPR[op]} ${b}) ${maskOf(w)};`, store);
    }
    const record = `lf.set(${ALU_LAZY[op]}, ${w}, ${a}, ${b}, ${res});`;
    e.lines.push(...body);
    if (!carry && !memDst) e.setAllFlags(record);
    else { e.lines.push(record); e.flagSet = null; }
    e.flagSource = carry ? null : {
      kind: ALU_LAZY[op] === LazyOp.LOGIC ? 'LOGIC' : op === 'ADD' ? 'ADD' : 'SUB', w, a, b, res,
    };
    return true;
  }

  if ((op === 'INC' || op === 'DEC') && ops[0]![0] === 'E' && d.hasMemory) {
    // Read, change, write, then the flags: a store that faults leaves the flags as they were. The
    // record before it was written (a memory access may fault), so the record's CF is the one kept.
    // This record stays too (flagSet null): the line `c.eip = ...` goes in before a memory
    // instruction's lines once they are emitted, so an index into them would point one short.
    const w = widthOf(d, ops[0]!);
    const ea = e.local(`ea${i}`), a = e.local(`a${i}`), res = e.local(`res${i}`);
    const lazy = op === 'INC' ? LazyOp.INC : LazyOp.DEC;
    e.lines.push(`${ea} = ${e.ea(d)};`, `${a} = ${e.memRead(d, w, ea)};`, `${res} = (${a} ${op === 'INC' ? '+' : '-'} 1) ${maskOf(w)};`,
      e.memWrite(d, w, ea, res), `lf.set(${lazy}, ${w}, ${a}, 1, ${res});`);
    e.flagSet = null;
    e.flagSource = { kind: 'INCDEC', w, a, b: '1', res };
    return true;
  }

  if (op === 'INC' || op === 'DEC') {
    const w = widthOf(d, ops[0]!);
    const cur = readSimple(ops[0]!, w)!;
    const a = e.local(`a${i}`), res = e.local(`res${i}`);
    const lazy = op === 'INC' ? LazyOp.INC : LazyOp.DEC;
    e.lines.push(`${a} = ${cur};`, `${res} = (${a} ${op === 'INC' ? '+' : '-'} 1) ${maskOf(w)};`, writeSimple(ops[0]!, w, res)!);
    // CF is kept: from the previous producer's operands when they are known here (its record
    // then goes unwritten), else from the record.
    const cf = e.flagSet !== null ? e.carryOut() : null;
    if (cf !== null) e.setAllFlags(`lf.setKeepingCarry(${lazy}, ${w}, ${a}, ${res}, ${cf});`);
    else { e.flagSet = e.lines.length; e.lines.push(`lf.set(${lazy}, ${w}, ${a}, 1, ${res});`); }
    e.flagSource = { kind: 'INCDEC', w, a, b: '1', res };
    return true;
  }

  if ((op === 'SHL' || op === 'SHR' || op === 'SAR') && !d.hasMemory && ops[1] !== 'CL') {
    // Same semantics as exec/shifts.ts: count masked to 5 bits, a zero count changes nothing.
    const w = widthOf(d, ops[0]!);
    const n = ops[1] === '1' ? 1 : d.imm & 31;
    if (n === 0) return true;
    const a = e.local(`a${i}`), res = e.local(`res${i}`);
    const sext = w === 32 ? a : `(${a} << ${32 - w} >> ${32 - w})`;
    const expr = op === 'SHL' ? `(${a} << ${n}) ${maskOf(w)}`
      : op === 'SHR' ? (w === 32 ? `(${a} >>> ${n}) | 0` : `${a} >>> ${n}`)
        : `(${sext} >> ${n}) ${maskOf(w)}`;
    const lazy = op === 'SHL' ? LazyOp.SHL : op === 'SHR' ? LazyOp.SHR : LazyOp.SAR;
    e.lines.push(`${a} = ${e.reg(d.rm, w)};`, `${res} = ${expr};`, `${e.reg(d.rm, w)} = ${res};`);
    e.setAllFlags(`lf.set(${lazy}, ${w}, ${a}, ${n}, ${res});`);
    const cf = op === 'SHL' ? (n <= w ? `((${a} >>> ${w - n}) & 1)` : '0')
      : op === 'SHR' ? (n <= w ? `((${a} >>> ${n - 1}) & 1)` : '0') : `((${sext} >> ${n - 1}) & 1)`;
    e.flagSource = { kind: 'SHIFT', w, a, b: String(n), res, cf };
    return true;
  }

  if (isTemplateMov(d)) {
    const [dk, sk] = ops as [string, string];
    const w = widthOf(d, dk);
    const memory = (k: string): boolean => (k[0] === 'E' || k[0] === 'O') && d.hasMemory;
    if (memory(dk)) {
      const v = readSimple(sk, w);
      if (v === null) return false;
      e.lines.push(e.memWrite(d, w, e.ea(d), v));
      return true;
    }
    const v = memory(sk) ? e.memRead(d, w, e.ea(d)) : readSimple(sk, w);
    const store = v === null ? null : writeSimple(dk, w, v);
    if (store === null) return false;
    e.lines.push(store);
    return true;
  }

  // 32-bit MUL, IMUL, DIV and IDIV of EDX:EAX by r/m32: the executors' arithmetic, called with the
  // operand already read (DIV's #DE needs c.eip: see templateMayFault).
  if ((op === 'MUL' || op === 'IMUL' || op === 'DIV' || op === 'IDIV') && ops.length === 1 && widthOf(d, ops[0]!) === 32) {
    const src = d.hasMemory ? e.memRead(d, 32, e.ea(d)) : e.reg(d.rm, 32);
    const signed = op === 'IMUL' || op === 'IDIV';
    e.lines.push(`R.${op === 'MUL' || op === 'IMUL' ? 'mul32' : 'div32'}(c, ${src}, ${signed});`);
    e.flagSource = null; // MUL and IMUL wrote the record; DIV's flags are undefined, left as they were
    return true;
  }

  // SETcc and CMOVcc of registers: the condition as a Jcc takes it (fused with the flag producer
  // when it is in this block, else from the record). CMOVcc from memory reads it whatever the
  // condition, and may fault: its executor does that.
  if (op === 'SETcc' && !d.hasMemory) {
    e.lines.push(writeSimple(ops[0]!, 8, `(${conditionExpr(e, f.cc)} ? 1 : 0)`)!);
    return true;
  }
  if (op === 'CMOVcc' && !d.hasMemory) {
    const w = d.opsize as Width;
    e.lines.push(`if (${conditionExpr(e, f.cc)}) { ${writeSimple('G', w, e.reg(d.rm, w))} }`);
    return true;
  }

  if ((op === 'MOVZX' || op === 'MOVSX')) {
    const from = widthOf(d, ops[1]!);
    let v = d.hasMemory ? e.memRead(d, from, e.ea(d)) : e.reg(d.rm, from);
    if (op === 'MOVSX') v = `((${v}) << ${32 - from} >> ${32 - from})`;
    e.lines.push(`${e.reg(d.reg, d.opsize)} = ${v};`);
    return true;
  }

  if (op === 'LEA') {
    e.lines.push(`${e.reg(d.reg, d.opsize)} = ${e.ea(d)};`);
    return true;
  }

  if (op === 'PUSH' && /^(Zv|Ibs|Iz)$/.test(ops[0]!)) {
    const size = d.opsize === 32 ? 4 : 2;
    const v = ops[0] === 'Zv' ? e.reg(d.opcodeReg, d.opsize) : String(d.imm | 0);
    e.lines.push(size === 4 ? `c.push32(${v});` : `c.push(${size}, ${v});`);
    return true;
  }
  if (op === 'POP' && ops[0] === 'Zv') {
    const size = d.opsize === 32 ? 4 : 2;
    const v = e.local(`v${i}`);
    e.lines.push(`${v} = ${size === 4 ? 'c.pop32()' : `c.pop(${size})`};`, `${e.reg(d.opcodeReg, d.opsize)} = ${v};`);
    return true;
  }
  void next;
  return false;
}

/** The JS condition for Jcc `cc`, fused with the flag producer when possible. */
function conditionExpr(e: Emitter, cc: number): string {
  const s = e.flagSource;
  const negate = (cc & 1) === 1;
  let expr: string | null = null;
  if (s) {
    const signed = (v: string): string => (s.w === 32 ? `(${v} | 0)` : `(${v} << ${32 - s.w} >> ${32 - s.w})`);
    const unsigned = (v: string): string => (s.w === 32 ? `(${v} >>> 0)` : v);
    switch (cc >> 1) {
      case 2: expr = `${s.res} === 0`; break; // Z
      case 4: expr = `${signed(s.res)} < 0`; break; // S
      case 1: // B (CF)
        if (s.kind === 'SUB') expr = `${unsigned(s.a)} < ${unsigned(s.b)}`;
        else if (s.kind === 'LOGIC') expr = 'false';
        else if (s.kind === 'ADD') expr = `${unsigned(s.res)} < ${unsigned(s.a)}`;
        else if (s.kind === 'SHIFT') expr = `${s.cf} !== 0`;
        break;
      case 3: // BE
        if (s.kind === 'SUB') expr = `${unsigned(s.a)} <= ${unsigned(s.b)}`;
        else if (s.kind === 'LOGIC') expr = `${s.res} === 0`;
        break;
      case 6: // L
        if (s.kind === 'SUB') expr = `${signed(s.a)} < ${signed(s.b)}`;
        else if (s.kind === 'LOGIC') expr = `${signed(s.res)} < 0`;
        break;
      case 7: // LE
        if (s.kind === 'SUB') expr = `${signed(s.a)} <= ${signed(s.b)}`;
        else if (s.kind === 'LOGIC') expr = `${signed(s.res)} <= 0`;
        break;
    }
  }
  if (expr === null) return `lf.cond(${cc})`;
  return negate ? `!(${expr})` : `(${expr})`;
}

/**
 * An instruction the templates emit without a memory access, a flag read or a way out of the
 * block: the flag record before it cannot be seen while it runs (emitTemplate's register forms of
 * the ALU ops but ADC/SBB, INC/DEC, shifts by a constant, MOV, MOVZX/MOVSX, LEA).
 */
function flagsUnseenAcross(d: DecodedInsn): boolean {
  if (d.hasMemory) return false;
  const op = d.form.op, ops = d.form.operands;
  if (op in ALU_LAZY) return op !== 'ADC' && op !== 'SBB' && ops.length === 2;
  if (op === 'INC' || op === 'DEC' || op === 'LEA' || op === 'MOVZX' || op === 'MOVSX') return true;
  if (op === 'SHL' || op === 'SHR' || op === 'SAR') return ops[1] !== 'CL';
  return isTemplateMov(d);
}

type BlockFactory = (x: Executor[], d: DecodedInsn[], rt: typeof RUNTIME) => (c: Cpu) => void;

/**
 * Compiled source text to the function that makes blocks of it, shared by every CPU in the
 * process: the same code compiled again (another CPU, a VM booted again, a flushed cache) is not
 * parsed again, and its blocks share what V8 learned and optimized for that code.
 */
const FACTORIES = new Map<string, BlockFactory>();
const MAX_FACTORIES = 16_384;

/** An instruction whose template may fault (memory, the stack, DIV's #DE): it needs c.eip set first. */
function templateMayFault(d: DecodedInsn): boolean {
  const op = d.form.op;
  return d.hasMemory || op === 'PUSH' || op === 'POP' || op === 'DIV' || op === 'IDIV';
}

function mayStore(d: DecodedInsn): boolean {
  return d.hasMemory || /^(PUSH|POP|CALL|ENTER|PUSHA|PUSHF|MOVS|STOS|INS|CMPXCHG8B|XCHG|LEAVE)/.test(d.form.op);
}

/**
 * Decodes and compiles the block starting at CS:EIP. Returns null when the first instruction can't
 * be compiled into a cached block (it crosses a page, or lies outside RAM); the dispatcher then
 * single-steps it. Decoding faults of the first instruction propagate.
 */
export function compileBlock(c: Cpu, firstPhys: number): CompiledBlock | null {
  // Code outside RAM (device space, or beyond the end of memory) is fetched byte by byte by the
  // interpreter; the raw byte array below covers RAM only.
  if (!c.mem.isRam(firstPhys)) return null;
  // What a block is made from besides its bytes: where it starts (in its page and in CS), CS, the
  // code size, and whether its page rewrites itself (see compileFresh).
  const key = `${firstPhys & 0xfff}:${c.eip}:${c.segBase[1]}:${c.segMax[1]}:${c.codeBits}:${(c.codePageRewrites.get(firstPhys >>> 12) ?? 0) >= REWRITTEN_PAGE}`;
  const shared = c.sharedBlocks.get(key);
  if (shared !== undefined && sameCode(c.mem.u8, firstPhys & ~0xfff, shared)) {
    c.blocksCopied++;
    return copyOf(shared.block);
  }
  const block = compileFresh(c, firstPhys);
  if (block !== null) {
    c.blocksCompiled++;
    if (c.sharedBlocks.size >= SHARED_BLOCKS_MAX) c.sharedBlocks.clear();
    c.sharedBlocks.set(key, { block, code: codeOf(c.mem.u8, firstPhys & ~0xfff, block) });
  }
  return block;
}

/**
 * A block compiled before from the same bytes at the same place, for another copy of the code:
 * VMs booted from one image run the same code at other host-physical addresses, and the block
 * cache is keyed by those. The generated function depends on nothing else (compileBlock's key),
 * holds no state of its own and reads everything else from the CPU it is given, so the copies
 * share it; each has its own validity and chaining.
 */
export interface SharedBlock {
  readonly block: CompiledBlock;
  /** The bytes of its instructions, in order. */
  readonly code: Uint8Array;
}

/** Shared blocks a CPU keeps at most (all are dropped when it fills: a cache, not a record). */
const SHARED_BLOCKS_MAX = 4096;

/** The page offset of instruction i of `b` (its EIP through the CS base it was compiled under). */
function pageOffset(b: CompiledBlock, i: number): number {
  return (b.csBase + b.starts[i]!) & 0xfff;
}

function codeOf(u8: Uint8Array, page: number, b: CompiledBlock): Uint8Array {
  const code = new Uint8Array(b.lengths.reduce((n, l) => n + l, 0));
  let k = 0;
  for (let i = 0; i < b.count; i++) {
    const at = page + pageOffset(b, i);
    code.set(u8.subarray(at, at + b.lengths[i]!), k);
    k += b.lengths[i]!;
  }
  return code;
}

/** Whether the page at `page` holds the shared block's instructions where it found them. */
function sameCode(u8: Uint8Array, page: number, shared: SharedBlock): boolean {
  const b = shared.block, code = shared.code;
  let k = 0;
  for (let i = 0; i < b.count; i++) {
    const at = page + pageOffset(b, i);
    for (let j = 0; j < b.lengths[i]!; j++) if (u8[at + j] !== code[k++]) return false;
  }
  return true;
}

/** Another copy of a block: the same code, validity and chaining of its own. */
function copyOf(b: CompiledBlock): CompiledBlock {
  return { ...b, valid: true, chainEip: -1, chainEpoch: -1, chainCsBase: 0, chainBlock: null, chainEip2: -1, chainBlock2: null };
}

/**
 * Decodes and compiles the block at CS:EIP, physical `firstPhys`. It reads the bytes of that page
 * only, and of the CPU only what compileBlock's key names.
 */
function compileFresh(c: Cpu, firstPhys: number): CompiledBlock | null {
  const bits = c.codeBits;
  const csBase = c.segBase[1]!;
  const pageEnd = (firstPhys & ~0xfff) + 0x1000;
  const decoded: DecodedInsn[] = [];
  const starts: number[] = [];
  /** Direct JMP/CALL whose target was followed into this block (superblock): index -> true. */
  const followed = new Set<number>();
  const visited = new Set<number>();
  /** If-converted forward Jcc: index of the Jcc -> index of the first instruction at its target. */
  const regions = new Map<number, number>();
  let openRegion: { jcc: number; target: number } | null = null;
  let eip = c.eip;
  let phys = firstPhys;
  const limit = c.segMax[1]!;
  const linearPage = (csBase + eip) & ~0xfff;
  // A page whose blocks are often thrown away by writes into them gets short blocks: the compile
  // is paid again and again, the continuation past exits completed in place seldom.
  const rewritten = (c.codePageRewrites.get(firstPhys >>> 12) ?? 0) >= REWRITTEN_PAGE;
  while (decoded.length < MAX_BLOCK_INSTRUCTIONS) {
    const at = phys, start = eip;
    let r;
    try {
      r = decode((i) => {
        if (at + i >= pageEnd || (start >>> 0) + i > limit) throw new RangeError('block edge');
        return c.mem.u8[at + i]!;
      }, bits);
    } catch (err) {
      if (err instanceof RangeError) break;
      throw err;
    }
    if (isDecodeFailure(r)) break;
    decoded.push(r);
    starts.push(eip);
    visited.add(eip);
    eip = (eip + r.length) | 0;
    if (bits === 16) eip &= 0xffff;
    phys += r.length;
    const op = r.form.op;
    if (openRegion !== null) {
      if (eip === openRegion.target) {
        regions.set(openRegion.jcc, decoded.length);
        openRegion = null;
        if (!isStraightLine(r)) break;
        continue;
      }
      if ((eip >>> 0) > (openRegion.target >>> 0) || !isStraightLine(r) || (r.form.rep !== 'none' && r.repPrefix)) {
        // The skipped code is not a clean straight-line run to the target: end at the Jcc.
        decoded.length = starts.length = openRegion.jcc + 1;
        openRegion = null;
        break;
      }
      continue;
    }
    if (op === 'Jcc' && r.imm > 0 && r.imm <= 32) {
      // A short forward Jcc over straight-line code: compile the skipped code as an if (below).
      let target = (eip + r.imm) | 0;
      if (r.opsize === 16) target &= 0xffff;
      if ((((csBase + target) | 0) & ~0xfff) === linearPage && (target >>> 0) <= limit) {
        openRegion = { jcc: decoded.length - 1, target };
        continue;
      }
    }
    if ((op === 'JMP' || op === 'CALL') && r.form.operands[0]![0] === 'J') {
      // Follow a direct transfer whose target lies in the same page and not yet in this block.
      let target = (eip + r.imm) | 0;
      if (r.opsize === 16) target &= 0xffff;
      const targetLinear = (csBase + target) | 0;
      if ((targetLinear & ~0xfff) !== linearPage || visited.has(target) || (target >>> 0) > limit) break;
      followed.add(decoded.length - 1);
      eip = target;
      phys = (firstPhys & ~0xfff) | (targetLinear & 0xfff);
      continue;
    }
    if (!isStraightLine(r) && (!RESUMABLE_EXITS.has(op) || rewritten)) break;
    if (r.form.rep !== 'none' && r.repPrefix) break; // REP strings are long: let interrupts in after
  }
  if (openRegion !== null) decoded.length = starts.length = openRegion.jcc + 1;
  // A region must be followed by the instruction at its target; otherwise the block ends at the Jcc.
  for (const [jcc, end] of [...regions.entries()].sort((a, b) => a[0] - b[0])) {
    if (end >= decoded.length) {
      decoded.length = starts.length = Math.min(decoded.length, jcc + 1);
      for (const k of [...regions.keys()]) if (k >= jcc) regions.delete(k);
      break;
    }
  }
  if (decoded.length === 0 || !c.mem.isRam(firstPhys)) return null;

  const e = new Emitter(bits);
  let selfLoop = false;
  const executors: Executor[] = [];
  const insns: DecodedInsn[] = [];
  const n = decoded.length;
  // Instructions retired are added to c.icount where the block leaves, less `sk`: those an
  // if-converted region skipped, those counted already (before an instruction that may exit, whose
  // exit reads the count), and an instruction whose exit was completed in place (emulated, not
  // retired).
  const counting = regions.size > 0 || (n > 1 && decoded.some((d) => d.form.vmexit !== null));
  for (let i = 0; i < n; i++) {
    const d = decoded[i]!;
    const start = starts[i]!;
    const next = i + 1 < n ? starts[i + 1]! : (bits === 16 ? (start + d.length) & 0xffff : (start + d.length) | 0);
    const last = i === n - 1;
    const exit = (target: string, retired: number): string =>
      `c.eip = ${target}; c.icount += ${counting ? `${retired} - sk` : retired}; return;`;
    const closing = [...regions.entries()].find(([, end]) => end === i);
    if (closing) {
      e.lines.push(`} else { sk += ${i - closing[0] - 1}; }`);
      e.flagSource = null;
      e.flagSet = null;
    }
    const op = d.form.op;
    // A record an inline exit leaves unseen (see below).
    const inline = INLINE_EXITS.get(op);
    const flagsBeforeInline = inline !== undefined ? { set: e.flagSet, source: e.flagSource } : null;
    // Anything but a register-only template may fault, read flags, leave the block or be skipped
    // (a branch, an if-converted region): the record as it stands is seen, and no later
    // instruction may drop it.
    if (!flagsUnseenAcross(d)) e.flagSet = null;
    e.lines.push(`// ${start.toString(16)}: ${d.form.mnemonic}`);
    if (op === 'Jcc' || (op === 'JMP' && d.form.operands[0]![0] === 'J') || (op === 'CALL' && d.form.operands[0]![0] === 'J')) {
      const fallthrough = (bits === 16 ? (start + d.length) & 0xffff : (start + d.length) | 0);
      let target = (fallthrough + d.imm) | 0;
      if (d.opsize === 16) target &= 0xffff;
      const check = `if (${target >>> 0} > c.segMax[1]) { c.eip = ${start}; R.gp(); }`;
      const push = op === 'CALL' ? [`c.eip = ${start};`, d.opsize === 32 ? `c.push32(${fallthrough});` : `c.push(2, ${fallthrough});`] : [];
      if (followed.has(i)) {
        // Superblock: the target's code follows in this same function.
        e.lines.push(check, ...push);
        if (op === 'CALL') e.lines.push(`if (c.codeChanged) { ${exit(String(target), i + 1)} }`);
        // The target's first instruction may not have decoded into this block (a decode fault, a
        // page edge): then the block ends here and continues at the target.
        if (last) e.lines.push(exit(String(target), i + 1));
        continue;
      }
      if (op === 'Jcc' && regions.has(i)) {
        e.lines.push(`if (!${conditionExpr(e, d.form.cc)}) {`);
        e.flagSource = null;
        continue;
      }
      if (op === 'Jcc' && target === starts[0] && followed.size === 0) {
        // A loop on itself: go round inside the function while the dispatcher would re-enter it.
        selfLoop = true;
        const retired = counting ? `${i + 1} - sk` : String(i + 1);
        e.lines.push(`if (${conditionExpr(e, d.form.cc)}) { ${check} c.icount += ${retired};`,
          `if (c.icount > lastStart || c.stopRequest !== null || (ints !== null && ints.hasPendingInterrupt())) { c.eip = ${target}; return; }`,
          `${counting ? 'sk = 0; ' : ''}continue; }`, exit(String(next), i + 1));
      } else if (op === 'Jcc') {
        e.lines.push(`if (${conditionExpr(e, d.form.cc)}) { ${check} ${exit(String(target), i + 1)} }`, exit(String(next), i + 1));
      } else {
        e.lines.push(check, ...push, exit(String(target), i + 1));
      }
      break;
    }
    if (op === 'RET') {
      const size = d.opsize === 32 ? 4 : 2;
      const t = e.local(`t${i}`);
      const extra = d.form.operands.length ? d.imm & 0xffff : 0;
      if (size === 4 && extra === 0) {
        // pop32 commits ESP; if the target is outside CS, undo it before the #GP.
        e.lines.push(`c.eip = ${start};`, `${t} = c.pop32();`,
          `if ((${t} >>> 0) > c.segMax[1]) { c.r[4] = (c.r[4] - 4) | 0; R.gp(); }`, exit(t, i + 1));
      } else {
        e.lines.push(`c.eip = ${start};`, `${t} = c.peek(${size})${size === 2 ? ' & 0xffff' : ''};`,
          `if ((${t} >>> 0) > c.segMax[1]) R.gp();`, `c.adjustSp(${size + extra});`, exit(t, i + 1));
      }
      break;
    }
    if (op === 'LOOP' && d.adsize === 32) {
      let target = (next + d.imm) | 0;
      if (d.opsize === 16) target &= 0xffff;
      e.lines.push(`r[1] = (r[1] - 1) | 0;`, `if (r[1] !== 0) { if (${target >>> 0} > c.segMax[1]) { c.eip = ${start}; R.gp(); } ${exit(String(target), i + 1)} }`, exit(String(next), i + 1));
      break;
    }
    const mark = e.lines.length;
    if (emitTemplate(e, d, i, next)) {
      // A template that may fault needs EIP for exact delivery.
      if (templateMayFault(d)) e.lines.splice(mark, 0, `c.eip = ${start};`);
    } else {
      e.flagSet = null; // the executor may read the record, fault or leave
      executors.push(EXECUTORS[d.form.id]!);
      insns.push(d);
      const k = executors.length - 1;
      // An instruction that may exit finds the instructions before it counted: its exit reads
      // the count (the preemption timer, the fast path's accounting).
      if (d.form.vmexit !== null && i > 0) e.lines.push(`c.icount += ${i} - sk; sk = ${i};`);
      // After an exit completed in place or inline, what makes the block return to the
      // dispatcher instead of going on: a stop, a budget (the re-armed timer) too short for the
      // rest of the block, an external interrupt that may exit.
      const mustReturn = `c.stopRequest !== null || c.chainBudget - c.icount < ${n - i - 1} || (c.intr !== null && c.intr.hasPendingInterrupt())`;
      if (flagsBeforeInline !== null) {
        // Its exit completed inline by the hypervisor (Vmx.inlineExits), when it can be: the
        // instruction did not retire, the budget was renewed. Else the executor, as below.
        // The instructions before it are counted (sk = i): it adds nothing to the count.
        // The inline exit neither reads nor writes the flags, so a record not yet seen stays so
        // on that path: a later instruction that writes every flag may still drop it there.
        // Where the path leaves the block before that instruction, and on the executor's path
        // (its exit saves RFLAGS), the record is written again.
        const pending = flagsBeforeInline.set === null ? '' : e.lines[flagsBeforeInline.set]!;
        const codeCheck = inline!.writesMemory ? 'c.codeChanged || ' : '';
        e.lines.push(`if (c.vmx.inlineExits !== null && c.vmx.inlineExits.${inline!.method}(${inline!.args(d)})) {`,
          last ? `c.eip = ${next}; return; } else {`
            : `sk = ${i + 1}; if (${codeCheck}${mustReturn}) { ${pending} c.eip = ${next}; return; }${SELF_LOOP_RELOAD} } else {`,
          pending);
      }
      e.lines.push(`c.eip = ${start};`, `c.nextEip = ${next};`, `X[${k}](c, D[${k}]);`);
      if (d.form.vmexit !== null && !last && RESUMABLE_EXITS.has(op)) {
        // Its exit completed in place (the guest resumed after it, not retiring it): go on with
        // the next instruction while nothing else needs the dispatcher (the budget the timer
        // re-armed, code the handler wrote, a stop, an external interrupt that may exit). An
        // exit taken ends the block; so does the instruction retired, as after any instruction
        // that is not straight-line.
        e.lines.push(`const x${i} = c.vmx.exitTaken;`,
          `if (x${i} !== ${InstructionExit.NONE}) { c.vmx.exitTaken = ${InstructionExit.NONE}; if (x${i} === ${InstructionExit.TAKEN} || c.nextEip !== ${next} || c.codeChanged || ${mustReturn}) { c.eip = c.nextEip; return; } sk = ${i + 1};${SELF_LOOP_RELOAD} }`,
          `else { ${exit('c.nextEip', i + 1)} }`);
        e.flagSource = null;
        if (flagsBeforeInline !== null) {
          // Both paths that go on left the flags as they were: the record, seen or not, stands.
          e.lines.push('}');
          e.flagSet = flagsBeforeInline.set;
          e.flagSource = flagsBeforeInline.source;
        }
        continue;
      }
      if (d.form.vmexit !== null) {
        // A VM exit instead of the instruction: it did not retire; the host continues at c.nextEip.
        e.lines.push(`if (c.vmx.exitTaken !== ${InstructionExit.NONE}) { c.vmx.exitTaken = ${InstructionExit.NONE}; c.eip = c.nextEip; return; }`);
      }
      e.flagSource = null;
      if (last || !isStraightLine(d)) {
        e.lines.push(exit('c.nextEip', i + 1));
        if (flagsBeforeInline !== null) e.lines.push('}');
        break;
      }
      e.lines.push(`if (c.nextEip !== ${next}) { ${exit('c.nextEip', i + 1)} }`);
    }
    if (mayStore(d)) e.lines.push(`if (c.codeChanged) { ${exit(String(next), i + 1)} }`);
    if (last) e.lines.push(exit(String(next), i + 1));
  }
  const header = e.locals.length ? `let ${e.locals.join(', ')};\n` : '';
  // With if-converted regions, a fault must report how many skipped instructions did not retire.
  // What a loop checks at its back edge, read once: the last count at which another whole
  // iteration fits the run's budget (-1 with a debugger recording block history: every iteration
  // returns), and the interrupt source to ask (pending interrupts matter with IF set, and in
  // non-root operation even with IF clear). Only an exit completed in place changes the first (it
  // re-arms the timer): the loop reads it again there.
  const lastStart = `c.history === null ? c.chainBudget - ${n} : -1`;
  const loopInvariants = `let lastStart = ${lastStart};\n`
    + `const ints = c.intr !== null && ((lf.flags & ${IF}) !== 0 || c.vmx.nonRoot) ? c.intr : null;\n`;
  const lines = (selfLoop ? `${loopInvariants}for (;;) {\n${e.lines.join('\n')}\n}` : e.lines.join('\n'))
    .split(SELF_LOOP_RELOAD).join(selfLoop ? ` lastStart = ${lastStart};` : '');
  const body = counting ? `let sk = 0;\ntry {\n${lines}\n} catch (err) { c.blockSkipped = sk; throw err; }` : lines;
  const source = `return function block(c) {\nconst r = c.r, r16 = c.r16, r8 = c.r8, lf = c.lf;\n${header}${body}\n};`;
  let factory = FACTORIES.get(source);
  if (factory === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    factory = new Function('X', 'D', 'R', source) as BlockFactory;
    if (FACTORIES.size >= MAX_FACTORIES) FACTORIES.clear();
    FACTORIES.set(source, factory);
  }
  return {
    run: factory(executors, insns, RUNTIME), starts, lengths: decoded.map((d) => d.length), csBase: c.segBase[1]!, count: n, source,
    valid: true, chainEip: -1, chainEpoch: -1, chainCsBase: 0, chainBlock: null, chainEip2: -1, chainBlock2: null,
  };
}
