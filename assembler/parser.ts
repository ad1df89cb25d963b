/**
 * Parses preprocessed lines into statements: `[label[:]] [times n] body`, where the body is an
 * instruction with its prefixes and operands, a data or reservation directive, or an assembler
 * directive (bits, org, section, align, equ, incbin). Labels are qualified here: `.loop` after
 * `start:` is `start.loop` (macro-local `..@n.x` labels do not start a new scope, as in NASM).
 */
import { dirname, isAbsolute, join } from 'node:path';
import { canonicalMnemonic } from '../emulator/isa/index.js';
import { LineError } from './diagnostics.js';
import { ExpressionParser, TokenCursor, type Expr, type NameScope } from './expression.js';
import { tokenize } from './lexer.js';
import { parseOperand } from './operands.js';
import { lookupRegister } from './registers.js';
import type { Body, DataItem, OperandSyntax, Statement } from './statement.js';

const DATA_UNITS: Readonly<Record<string, 1 | 2 | 4 | 8 | 10>> = { db: 1, dw: 2, dd: 4, dq: 8, dt: 10 };
const RESERVE_UNITS: Readonly<Record<string, 1 | 2 | 4 | 8 | 10>> = { resb: 1, resw: 2, resd: 4, resq: 8, rest: 10 };
const PREFIXES = new Set(['lock', 'rep', 'repe', 'repz', 'repne', 'repnz', 'o16', 'o32', 'a16', 'a32']);
const DIRECTIVES = new Set([
  'bits', 'use16', 'use32', 'org', 'section', 'segment', 'align', 'alignb', 'global', 'extern', 'common',
  'cpu', 'default', 'incbin', 'equ', 'times', 'absolute', 'sectalign',
]);

/** Whether a word at the start of a line is an instruction, prefix or directive (not a label). */
export function isKeyword(word: string): boolean {
  const w = word.toLowerCase();
  return w in DATA_UNITS || w in RESERVE_UNITS || PREFIXES.has(w) || DIRECTIVES.has(w)
    || canonicalMnemonic(w, 32) !== undefined || canonicalMnemonic(w, 16) !== undefined;
}

export interface ParserOptions {
  readonly includePaths: readonly string[];
  /** Reads a binary file (for incbin), or returns undefined when it does not exist. */
  readonly readBinary: (path: string) => Uint8Array | undefined;
  /** Reports a warning for the line being parsed. */
  readonly warn: (message: string, column: number) => void;
}

/** Parses lines in order; keeps the local-label scope between them. */
export class LineParser implements NameScope {
  private scopeLabel = '';

  constructor(private readonly opts: ParserOptions) {}

  qualify(name: string): string {
    return name.startsWith('.') && !name.startsWith('..') ? this.scopeLabel + name : name;
  }

  parse(code: string, index: number, file: string, line: number): Statement | null {
    const tokens = tokenize(code);
    if (tokens.length === 0) return null;
    const cur = new TokenCursor(tokens, code.length + 1);
    const base = { index, file, line, sectalign: null };

    if (cur.isOp('[')) return { ...base, label: null, times: null, body: this.bracketDirective(cur) };

    let label: Statement['label'] = null;
    const first = cur.peek()!;
    if (first.t === 'id') {
      const colon = cur.isOp(':', 1);
      const escaped = first.text.startsWith('$');
      const segmentPrefix = lookupRegister(first.text)?.cls === 'sreg' && cur.peek(1)?.t === 'id';
      if (colon || escaped || (!isKeyword(first.text) && !segmentPrefix)) {
        if (!escaped && lookupRegister(first.text) && !colon) throw new LineError(`instruction expected, found register '${first.text}'`, first.col);
        const raw = escaped ? first.text.slice(1) : first.text;
        const name = this.qualify(raw);
        if (!raw.startsWith('.') && !raw.startsWith('..@')) this.scopeLabel = raw;
        label = { name, col: first.col };
        cur.pos += colon ? 2 : 1;
        // `word something` with no colon, where `something` is not an instruction or directive,
        // is a misspelt instruction far more often than a label.
        const after = cur.peek();
        if (!colon && after && !(after.t === 'id' && (isKeyword(after.text) || lookupRegister(after.text)?.cls === 'sreg'))) {
          throw new LineError(`unknown instruction '${first.text}'`, first.col);
        }
        if (!colon && cur.atEnd()) this.opts.warn('label alone on a line without a colon might be in error', first.col);
      }
    }
    if (cur.atEnd()) return { ...base, label, times: null, body: null };

    let times: Expr | null = null;
    if (cur.isWord('times')) {
      cur.pos++;
      times = new ExpressionParser(cur, this).parse();
      if (cur.atEnd()) throw new LineError('times needs something to repeat', cur.col());
    }
    if (cur.isWord('align') || cur.isWord('alignb')) {
      if (times) throw new LineError('times cannot repeat align', cur.col());
      return { ...base, label, ...this.align(cur, file) };
    }
    const body = this.body(cur, file, label !== null);
    if (!cur.atEnd()) throw new LineError('junk at end of line', cur.col());
    if (body.kind === 'equ' && !label) throw new LineError('equ needs a label', 1);
    if (times && body.kind !== 'insn' && body.kind !== 'data' && body.kind !== 'reserve' && body.kind !== 'incbin') {
      throw new LineError(`times cannot repeat ${body.kind}`, 1);
    }
    return { ...base, label, times, body };
  }

  /** `[bits 32]`, `[section .data]`, `[org 0x7c00]`: NASM's primitive directive form. */
  private bracketDirective(cur: TokenCursor): Body {
    cur.expectOp('[');
    const body = this.body(cur, '', false);
    cur.expectOp(']');
    if (!cur.atEnd()) throw new LineError('junk after directive', cur.col());
    return body;
  }

  /**
   * `align n[, fill]` is NASM's macro `sectalign n` + `times (n - ($-$$) % n) % n fill`, with NOP
   * as the fill (even in data sections); `alignb` reserves instead.
   */
  private align(cur: TokenCursor, file: string): Pick<Statement, 'times' | 'body' | 'sectalign'> {
    const reserve = cur.isWord('alignb');
    cur.pos++;
    const boundary = new ExpressionParser(cur, this).parse();
    let body: Body;
    if (cur.takeOp(',')) body = this.body(cur, file, false);
    else if (reserve) body = { kind: 'reserve', unit: 1, count: { k: 'num', v: 1n } };
    else body = { kind: 'insn', mnemonic: 'NOP', prefixes: [], operands: [], col: 0 };
    if (!cur.atEnd()) throw new LineError('junk at end of line', cur.col());
    const offset: Expr = { k: 'bin', op: '-', a: { k: 'here' }, b: { k: 'base' }, col: 0 };
    const times: Expr = {
      k: 'bin', op: '%', col: 0, b: boundary,
      a: { k: 'bin', op: '-', col: 0, a: boundary, b: { k: 'bin', op: '%', col: 0, a: offset, b: boundary } },
    };
    return { times, body, sectalign: boundary };
  }

  private body(cur: TokenCursor, file: string, labelled: boolean): Body {
    const t = cur.peek();
    if (!t || t.t !== 'id') throw new LineError('instruction or directive expected', cur.col());
    const word = t.text.toLowerCase();
    if (word in DATA_UNITS) {
      cur.pos++;
      return { kind: 'data', unit: DATA_UNITS[word]!, items: this.dataItems(cur) };
    }
    if (word in RESERVE_UNITS) {
      cur.pos++;
      return { kind: 'reserve', unit: RESERVE_UNITS[word]!, count: new ExpressionParser(cur, this).parse() };
    }
    switch (word) {
      case 'equ':
        cur.pos++;
        if (!labelled) throw new LineError('equ needs a label', t.col);
        return { kind: 'equ', expr: new ExpressionParser(cur, this).parse() };
      case 'bits': {
        cur.pos++;
        const n = cur.next();
        if (!n || n.t !== 'num' || (n.value !== 16n && n.value !== 32n)) {
          throw new LineError(n?.t === 'num' && n.value === 64n ? '64-bit code is not supported' : 'bits must be 16 or 32', n?.col ?? t.col);
        }
        return { kind: 'bits', bits: Number(n.value) as 16 | 32 };
      }
      case 'use16': case 'use32':
        cur.pos++;
        return { kind: 'bits', bits: word === 'use16' ? 16 : 32 };
      case 'org':
        cur.pos++;
        return { kind: 'org', expr: new ExpressionParser(cur, this).parse() };
      case 'section': case 'segment':
        cur.pos++;
        return this.section(cur);
      case 'sectalign':
        cur.pos++;
        return { kind: 'sectalign', boundary: new ExpressionParser(cur, this).parse() };
      case 'global': case 'extern': case 'common': case 'cpu': case 'default':
        // Meaningless in a flat binary (or not checked): accepted and ignored, as NASM's bin does.
        cur.pos = cur.tokens.length;
        return { kind: 'ignored' };
      case 'incbin':
        cur.pos++;
        return this.incbin(cur, file);
      case 'absolute':
        throw new LineError("'absolute' is not supported", t.col);
      case 'times': case 'align': case 'alignb':
        throw new LineError(`'${word}' is not allowed here`, t.col);
      default:
        return this.instruction(cur);
    }
  }

  private dataItems(cur: TokenCursor): DataItem[] {
    const items: DataItem[] = [];
    do {
      const t = cur.peek();
      if (!t) throw new LineError('data expected', cur.col());
      const after = cur.peek(1);
      if (t.t === 'str' && (after === undefined || (after.t === 'op' && after.text === ','))) {
        cur.pos++;
        items.push({ kind: 'string', bytes: t.bytes });
      } else {
        items.push({ kind: 'expr', expr: new ExpressionParser(cur, this).parse(), col: t.col });
      }
    } while (cur.takeOp(','));
    return items;
  }

  private section(cur: TokenCursor): Body {
    const nameTok = cur.next();
    if (!nameTok || nameTok.t !== 'id') throw new LineError('section name expected', nameTok?.col ?? cur.col());
    let align: number | null = null;
    let nobits: boolean | null = null;
    while (!cur.atEnd() && !cur.isOp(']')) {
      const a = cur.next()!;
      if (a.t !== 'id') throw new LineError('section attribute expected', a.col);
      const w = a.text.toLowerCase();
      if (w === 'nobits' || w === 'progbits') nobits = w === 'nobits';
      else if (w === 'align') {
        cur.expectOp('=');
        const v = cur.next();
        if (!v || v.t !== 'num' || v.value <= 0n || (v.value & (v.value - 1n)) !== 0n) throw new LineError('section alignment must be a power of two', a.col);
        align = Number(v.value);
      } else if (w === 'vstart' || w === 'start' || w === 'follows' || w === 'vfollows') {
        throw new LineError(`section attribute '${w}' is not supported`, a.col);
      } else {
        // Attributes of other output formats (exec, write, alloc, ...) mean nothing here.
        if (cur.takeOp('=')) cur.next();
      }
    }
    return { kind: 'section', name: nameTok.text, align, nobits };
  }

  private incbin(cur: TokenCursor, file: string): Body {
    const nameTok = cur.next();
    if (!nameTok || nameTok.t !== 'str') throw new LineError('incbin expects a file name in quotes', nameTok?.col ?? cur.col());
    const name = Buffer.from(nameTok.bytes).toString('utf8');
    const nums: number[] = [];
    while (cur.takeOp(',')) {
      const n = cur.next();
      if (!n || n.t !== 'num') throw new LineError('incbin offset and length must be numbers', n?.col ?? cur.col());
      nums.push(Number(n.value));
    }
    const candidates = isAbsolute(name) ? [name] : [join(dirname(file), name), ...this.opts.includePaths.map((d) => join(d, name)), name];
    for (const path of candidates) {
      const bytes = this.opts.readBinary(path);
      if (!bytes) continue;
      const start = Math.min(nums[0] ?? 0, bytes.length);
      const end = nums[1] === undefined ? bytes.length : Math.min(start + nums[1], bytes.length);
      return { kind: 'incbin', bytes: bytes.subarray(start, end) };
    }
    throw new LineError(`cannot find incbin file '${name}'`, nameTok.col);
  }

  private instruction(cur: TokenCursor): Body {
    const prefixes: { name: string; col: number }[] = [];
    for (;;) {
      const t = cur.peek();
      if (!t || t.t !== 'id') throw new LineError('instruction expected', cur.col());
      const w = t.text.toLowerCase();
      const next = cur.peek(1);
      if (PREFIXES.has(w) || (lookupRegister(w)?.cls === 'sreg' && next !== undefined && next.t === 'id')) {
        prefixes.push({ name: w, col: t.col });
        cur.pos++;
        if (cur.atEnd()) {
          // A prefix alone on a line is emitted as a byte (NASM allows `rep` on its own line).
          return { kind: 'insn', mnemonic: '', prefixes, operands: [], col: t.col };
        }
        continue;
      }
      cur.pos++;
      const mnemonic = t.text.toUpperCase();
      if (canonicalMnemonic(mnemonic, 32) === undefined && canonicalMnemonic(mnemonic, 16) === undefined) {
        throw new LineError(`unknown instruction '${t.text}'`, t.col);
      }
      const operands: OperandSyntax[] = [];
      if (!cur.atEnd()) {
        do operands.push(parseOperand(cur, this)); while (cur.takeOp(','));
      }
      return { kind: 'insn', mnemonic, prefixes, operands, col: t.col };
    }
  }
}
