/**
 * The multi-pass assembly of parsed statements. Each pass walks every statement, defining labels
 * and encoding instructions with the symbol values known so far (forward references use the
 * previous pass's values; in the first pass they are unknown). Sizes depend on values (short or
 * near jumps, disp8 or disp32, imm8 or imm32) and values on sizes, so passes repeat until no
 * symbol or section moves: NASM's -Ox optimizer. A short jump to a not-yet-known target is assumed
 * to reach (NASM is optimistic too); after many passes jumps may only grow, which guarantees the
 * loop ends.
 */
import { DiagnosticLog, LineError } from './diagnostics.js';
import { encodeInstruction } from './encoder/encode.js';
import type { Operand } from './encoder/operand.js';
import { evaluate, type EvalContext, type Value } from './evaluate.js';
import type { Expr } from './expression.js';
import { Section, layout, newSection } from './sections.js';
import type { Body, OperandSyntax, Statement } from './statement.js';

export interface SymbolDefinition {
  readonly name: string;
  readonly value: Value;
  readonly kind: 'label' | 'equ';
  readonly file: string;
  readonly line: number;
}

/** What one statement produced: where, how many bytes, how many times. */
export interface Emission {
  readonly statement: Statement;
  readonly section: number;
  /** Offset in the section. */
  readonly offset: number;
  /** Bytes of all repetitions together. */
  readonly size: number;
  readonly repetitions: number;
  /** The bytes are instructions (for the line table). */
  readonly code: boolean;
}

export interface PassResult {
  readonly symbols: Map<string, SymbolDefinition>;
  readonly sections: Section[];
  readonly emissions: Emission[];
  readonly log: DiagnosticLog;
  readonly origin: bigint;
  /** Table rows used, by id (the golden tests check every row is exercised). */
  readonly formsUsed: Set<number>;
}

const MAX_TIMES = 16 * 1024 * 1024;
const MAX_PASSES = 60;
const GROW_ONLY_AFTER = 12;

interface PassState {
  bits: 16 | 32;
  section: Section;
  origin: bigint | null;
  /** Start of the current line (`$`). */
  here: bigint;
}

/** Runs passes until stable; returns the final one. */
export function assemblePasses(statements: readonly Statement[]): { result: PassResult; passes: number } {
  let prev: PassResult | null = null;
  const forcedNear = new Set<number>();
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    const result = new Pass(statements, prev, forcedNear, pass > GROW_ONLY_AFTER).run();
    if (prev && stable(prev, result)) return { result, passes: pass };
    prev = result;
  }
  prev!.log.error({ file: statements[0]?.file ?? '', line: 0, column: 0 }, `label values did not settle after ${MAX_PASSES} passes`);
  return { result: prev!, passes: MAX_PASSES };
}

function stable(a: PassResult, b: PassResult): boolean {
  if (a.origin !== b.origin || a.sections.length !== b.sections.length) return false;
  for (let i = 0; i < a.sections.length; i++) {
    if (a.sections[i]!.size !== b.sections[i]!.size || a.sections[i]!.start !== b.sections[i]!.start) return false;
  }
  if (a.symbols.size !== b.symbols.size) return false;
  for (const [name, s] of b.symbols) {
    const t = a.symbols.get(name);
    if (!t || t.value.n !== s.value.n || t.value.section !== s.value.section || t.value.unknown !== s.value.unknown) return false;
  }
  return true;
}

class Pass {
  private readonly symbols = new Map<string, SymbolDefinition>();
  private readonly sections: Section[] = [];
  private readonly sectionByName = new Map<string, Section>();
  private readonly emissions: Emission[] = [];
  private readonly log = new DiagnosticLog();
  private readonly formsUsed = new Set<number>();
  private readonly state: PassState;
  private current: Statement | null = null;

  constructor(
    private readonly statements: readonly Statement[],
    private readonly prev: PassResult | null,
    private readonly forcedNear: Set<number>,
    private readonly growOnly: boolean,
  ) {
    const text = this.section('.text', null, null);
    this.state = { bits: 16, section: text, origin: null, here: 0n };
    this.applyLayout(prev);
  }

  /** Section start addresses come from the previous pass's sizes. */
  private applyLayout(prev: PassResult | null): void {
    if (!prev) return;
    const starts = layout(prev.sections, prev.origin);
    for (const s of prev.sections) this.section(s.name, s.nobits, s.align).start = starts.get(s.index) ?? 0n;
  }

  private section(name: string, nobits: boolean | null, align: number | null): Section {
    let s = this.sectionByName.get(name);
    if (!s) {
      s = newSection(this.sections.length, name, nobits, align);
      this.sections.push(s);
      this.sectionByName.set(name, s);
      if (this.prev) {
        const p = this.prev.sections.find((x) => x.name === name);
        if (p) s.start = layout(this.prev.sections, this.prev.origin).get(p.index) ?? 0n;
      }
    } else if (align !== null && align > s.align) s.align = align;
    return s;
  }

  run(): PassResult {
    for (const st of this.statements) {
      this.current = st;
      try {
        this.statement(st);
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        this.error(e.message, e.column);
      }
    }
    const origin = this.state.origin ?? 0n;
    // Sections keep the alignment the first pass gave them when the next pass recreates them.
    return { symbols: this.symbols, sections: this.sections, emissions: this.emissions, log: this.log, origin, formsUsed: this.formsUsed };
  }

  private error(message: string, column = 0): void {
    const st = this.current!;
    this.log.error({ file: st.file, line: st.line, column }, message);
  }

  private warn(message: string, column = 0): void {
    const st = this.current!;
    this.log.warning({ file: st.file, line: st.line, column }, message);
  }

  private get origin(): bigint {
    return this.state.origin ?? this.prev?.origin ?? 0n;
  }

  private sectionStart(s: Section): bigint {
    return s.index === 0 || s.name === '.text' ? this.origin : s.start;
  }

  private evalContext(): EvalContext {
    const s = this.state.section;
    return {
      symbol: (name) => this.symbols.get(name)?.value ?? this.prev?.symbols.get(name)?.value,
      here: () => ({ n: this.state.here, section: s.index, unknown: false }),
      base: () => ({ n: this.sectionStart(s), section: s.index, unknown: false }),
      undefinedSymbol: (name, col) => this.error(`symbol '${name}' not defined`, col),
    };
  }

  private evaluate(e: Expr): Value {
    return evaluate(e, this.evalContext());
  }

  /** A value that must be a known plain number now (times, resb, align, org). */
  private critical(e: Expr, what: string, col = 0): bigint {
    const v = this.evaluate(e);
    if (v.unknown) throw new LineError(`${what} must not depend on a later definition`, col);
    return v.n;
  }

  private statement(st: Statement): void {
    const body = st.body;
    const sec = this.state.section;
    this.state.here = this.sectionStart(sec) + BigInt(sec.size);
    if (st.sectalign) {
      const a = Number(this.critical(st.sectalign, 'alignment'));
      if (a <= 0 || (a & (a - 1)) !== 0) throw new LineError('alignment must be a power of two');
      if (a > sec.align) sec.align = a;
    }
    if (st.label) this.defineLabel(st, body);
    if (!body) return;
    switch (body.kind) {
      case 'equ': case 'ignored':
        return;
      case 'bits':
        this.state.bits = body.bits;
        return;
      case 'org': {
        const v = this.critical(body.expr, 'org');
        if (this.state.origin !== null && this.state.origin !== v) throw new LineError('program origin redefined');
        this.state.origin = v;
        return;
      }
      case 'section':
        this.state.section = this.section(body.name, body.nobits, body.align);
        return;
      case 'sectalign': {
        const a = Number(this.critical(body.boundary, 'alignment'));
        if (a <= 0 || (a & (a - 1)) !== 0) throw new LineError('alignment must be a power of two');
        if (a > sec.align) sec.align = a;
        return;
      }
      default:
        this.emit(st, body);
    }
  }

  private defineLabel(st: Statement, body: Body | null): void {
    const label = st.label!;
    if (this.symbols.has(label.name)) throw new LineError(`label '${label.name}' redefined`, label.col);
    let value: Value;
    let kind: SymbolDefinition['kind'] = 'label';
    if (body?.kind === 'equ') {
      value = this.evaluate(body.expr);
      kind = 'equ';
    } else {
      value = { n: this.state.here, section: this.state.section.index, unknown: false };
    }
    this.symbols.set(label.name, { name: label.name, value, kind, file: st.file, line: st.line });
  }

  private emit(st: Statement, body: Exclude<Body, { kind: 'equ' | 'bits' | 'org' | 'section' | 'sectalign' | 'ignored' }>): void {
    let repetitions = 1;
    if (st.times) {
      const n = this.critical(st.times, 'times count');
      if (n < 0n) throw new LineError('TIMES value is negative');
      if (n > BigInt(MAX_TIMES)) throw new LineError(`TIMES value ${n} is too large`);
      repetitions = Number(n);
    }
    const sec = this.state.section;
    const offset = sec.size;
    if (body.kind === 'insn') {
      for (let r = 0; r < repetitions; r++) {
        const bytes = this.instruction(st, body);
        if (sec.nobits && bytes.length) this.warn('attempt to initialize memory in a nobits section: ignored');
        sec.append(bytes);
      }
    } else if (body.kind === 'reserve') {
      const count = this.critical(body.count, 'reservation size');
      if (count < 0n) throw new LineError('negative reservation size');
      const total = Number(count) * body.unit * repetitions;
      if (total > MAX_TIMES * 16) throw new LineError('reservation too large');
      sec.reserve(total);
    } else {
      const bytes = body.kind === 'incbin' ? body.bytes : this.data(body);
      if (sec.nobits && bytes.length) this.warn('attempt to initialize memory in a nobits section: ignored');
      sec.appendRepeated(bytes, repetitions);
    }
    this.emissions.push({ statement: st, section: sec.index, offset, size: sec.size - offset, repetitions, code: body.kind === 'insn' });
  }

  private data(body: Extract<Body, { kind: 'data' }>): number[] {
    const out: number[] = [];
    const unit = body.unit;
    for (const item of body.items) {
      if (item.kind === 'string') {
        // A string fills whole units, zero-padded: dd 'ab' is 61 62 00 00.
        out.push(...item.bytes);
        const pad = (unit - (item.bytes.length % unit)) % unit;
        for (let k = 0; k < pad; k++) out.push(0);
        continue;
      }
      const v = this.evaluate(item.expr);
      if (unit === 10) throw new LineError('dt takes floating-point constants, which are not supported', item.col);
      if (!v.unknown && v.section === null && unit < 8) {
        const bitsN = BigInt(unit * 8);
        if (v.n < -(1n << bitsN) || v.n >= 1n << bitsN) this.warn(`${unit === 1 ? 'byte' : unit === 2 ? 'word' : 'dword'} data exceeds bounds`, item.col);
      }
      for (let k = 0; k < unit; k++) out.push(Number((BigInt.asUintN(64, v.n) >> BigInt(8 * k)) & 0xffn));
    }
    return out;
  }

  private operand(op: OperandSyntax): Operand {
    switch (op.kind) {
      case 'reg':
        return op;
      case 'mem':
        return { kind: 'mem', syntax: op, disp: op.disp ? this.evaluate(op.disp) : null, col: op.col };
      case 'imm':
        return { kind: 'imm', value: this.evaluate(op.expr), size: op.size, strict: op.strict, distance: op.distance, col: op.col };
      case 'farptr':
        return { kind: 'farptr', seg: this.evaluate(op.seg), offset: this.evaluate(op.offset), size: op.size, col: op.col };
    }
  }

  private instruction(st: Statement, body: Extract<Body, { kind: 'insn' }>): number[] {
    const sec = this.state.section;
    const operands = body.operands.map((o) => this.operand(o));
    const address = this.sectionStart(sec) + BigInt(sec.size);
    const encoded = encodeInstruction(body.mnemonic, body.prefixes, operands, {
      bits: this.state.bits,
      address,
      section: sec.index,
      pessimisticJumps: this.forcedNear.has(st.index),
      warn: (m, c) => this.warn(m, c),
    }, body.col);
    if (encoded.form) {
      this.formsUsed.add(encoded.form.id);
      if (this.growOnly && encoded.form.operands.includes('Jz')) this.forcedNear.add(st.index);
    }
    return encoded.bytes;
  }
}
