/**
 * NASM's preprocessor, run once over the whole source before assembly: %include, %define and
 * friends, %macro, %rep, %if and friends, %error. The result is the list of lines to assemble, each
 * tagged with the file and line it came from; a line of a macro body keeps the body line's own
 * position, and `macroDepth` > 0 marks it.
 *
 * Labels and `$` do not exist yet here: like NASM, %if and %assign only see numbers and macros.
 */
import { dirname, isAbsolute, join } from 'node:path';
import { DiagnosticLog, LineError } from '../diagnostics.js';
import { evaluate } from '../evaluate.js';
import { ExpressionParser, TokenCursor } from '../expression.js';
import { tokenize } from '../lexer.js';
import { MacroInvocation, bindArguments, parseMacroHeader, type MultiLineMacro, type RawLine } from './multi-line-macros.js';
import { SingleLineMacros } from './single-line-macros.js';
import { IDENT_START, identifierEnd, splitArguments, stripComment } from './text.js';

export interface PreprocessedLine {
  /** What the assembler parses: comment stripped, macros expanded. Empty for directive lines. */
  readonly code: string;
  /** What the listing shows. */
  readonly text: string;
  readonly file: string;
  readonly line: number;
  /** 0 for a line of a file, n inside n nested macro expansions. */
  readonly macroDepth: number;
}

export interface PreprocessOptions {
  readonly fileName: string;
  readonly includePaths: readonly string[];
  readonly defines: Readonly<Record<string, string>>;
  /** Reads a file, or returns undefined when it does not exist. */
  readonly readFile: (path: string) => string | undefined;
  readonly log: DiagnosticLog;
}

interface Frame {
  readonly kind: 'file' | 'macro' | 'rep';
  readonly lines: readonly RawLine[];
  index: number;
  readonly invocation?: MacroInvocation;
  /** %rep: iterations still to run after the current one. */
  remaining: number;
  /** Depth of the conditional stack when the frame began: %if must close inside it. */
  readonly condDepth: number;
}

interface Conditional {
  /** Lines of the current branch are processed. */
  active: boolean;
  /** Some branch was already taken (so %elif/%else are skipped). */
  taken: boolean;
  /** The enclosing context is active. */
  readonly parentActive: boolean;
  elseSeen: boolean;
  readonly at: RawLine;
}

const MAX_REP = 1_000_000;
const MAX_INCLUDE_DEPTH = 64;

/** Splits file text into raw lines, joining lines that end in a backslash. */
export function splitLines(text: string, file: string): RawLine[] {
  const src = text.split(/\r?\n/);
  const out: RawLine[] = [];
  for (let i = 0; i < src.length; i++) {
    let t = src[i]!;
    const first = i + 1;
    while (t.endsWith('\\') && i + 1 < src.length) t = t.slice(0, -1) + src[++i]!;
    out.push({ text: t, file, line: first });
  }
  if (out.length > 0 && out[out.length - 1]!.text === '') out.pop();
  return out;
}

export class Preprocessor {
  private readonly defines = new SingleLineMacros();
  private readonly macros = new Map<string, MultiLineMacro>();
  private readonly foldedMacros = new Map<string, MultiLineMacro>();
  private readonly frames: Frame[] = [];
  private readonly conds: Conditional[] = [];
  private readonly out: PreprocessedLine[] = [];
  private uniq = 0;
  private expansionBudget = 10_000_000;

  constructor(private readonly opts: PreprocessOptions) {
    for (const [name, value] of Object.entries(opts.defines)) this.defines.define(name, null, value);
  }

  run(source: string): PreprocessedLine[] {
    this.pushFrame({ kind: 'file', lines: splitLines(source, this.opts.fileName), index: 0, remaining: 0, condDepth: 0 });
    for (;;) {
      const raw = this.nextLine();
      if (!raw) break;
      if (--this.expansionBudget < 0) {
        this.error(raw, 'too many lines generated (runaway %rep or recursive macro?)');
        break;
      }
      try {
        this.processLine(raw);
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        this.error(raw, e.message, e.column);
      }
    }
    for (const c of this.conds) this.error(c.at, "%if without matching '%endif'");
    return this.out;
  }

  private pushFrame(f: Frame): void {
    this.frames.push(f);
  }

  private get active(): boolean {
    const top = this.conds[this.conds.length - 1];
    return top === undefined || top.active;
  }

  private get macroDepth(): number {
    return this.frames.reduce((n, f) => n + (f.kind === 'macro' ? 1 : 0), 0);
  }

  private error(at: RawLine, message: string, column = 0): void {
    this.opts.log.error({ file: at.file, line: at.line, column }, message);
  }

  /** The next raw line, with macro parameters substituted; finishes frames as they run out. */
  private nextLine(): RawLine | undefined {
    for (;;) {
      const f = this.frames[this.frames.length - 1];
      if (!f) return undefined;
      if (f.index < f.lines.length) {
        const raw = f.lines[f.index++]!;
        // Parameters are substituted as lines are read (not when a %rep body is collected), so
        // that %rotate inside %rep inside a macro sees the rotated parameters, as in NASM.
        const inv = f.kind === 'file' ? undefined : this.innermostInvocation();
        return inv ? { ...raw, text: inv.substitute(stripComment(raw.text)) } : raw;
      }
      if (f.kind === 'rep' && f.remaining > 0) {
        f.remaining--;
        f.index = 0;
        continue;
      }
      this.finishFrame(f);
    }
  }

  private finishFrame(f: Frame): void {
    while (this.conds.length > f.condDepth) {
      const c = this.conds.pop()!;
      this.error(c.at, "%if without matching '%endif' before the end of its file or macro");
    }
    this.frames.pop();
  }

  private innermostInvocation(): MacroInvocation | undefined {
    for (let k = this.frames.length - 1; k >= 0; k--) {
      const inv = this.frames[k]!.invocation;
      if (inv) return inv;
    }
    return undefined;
  }

  private emit(raw: RawLine, code: string): void {
    this.out.push({ code, text: raw.text, file: raw.file, line: raw.line, macroDepth: this.macroDepth });
  }

  private processLine(raw: RawLine): void {
    const code = stripComment(raw.text);
    const trimmed = code.trimStart();
    const dm = /^%([A-Za-z]+)\b/.exec(trimmed);
    const directive = dm ? dm[1]!.toLowerCase() : undefined;
    const rest = dm ? trimmed.slice(dm[0].length) : '';

    if (directive !== undefined && this.conditional(directive, rest, raw)) {
      this.emit(raw, '');
      return;
    }
    if (!this.active) return;
    if (directive !== undefined) {
      this.directive(directive, rest, raw);
      return;
    }
    const expanded = this.defines.expand(code, raw);
    if (!this.invokeMacro(expanded, raw)) this.emit(raw, expanded);
  }

  // ---- conditionals ----

  /** Handles %if-family directives; returns false for any other directive. */
  private conditional(directive: string, rest: string, raw: RawLine): boolean {
    const top = this.conds[this.conds.length - 1];
    if (/^if/.test(directive)) {
      const parentActive = this.active;
      const cond = parentActive ? this.test(directive.slice(2), rest, raw) : false;
      this.conds.push({ active: parentActive && cond, taken: !parentActive || cond, parentActive, elseSeen: false, at: raw });
      return true;
    }
    if (/^elif/.test(directive)) {
      if (!top || this.conds.length <= this.frameCondDepth()) throw new LineError(`%${directive} without %if`);
      if (top.elseSeen) throw new LineError(`%${directive} after %else`);
      if (top.taken) { top.active = false; return true; }
      const cond = this.test(directive.slice(4), rest, raw);
      top.active = cond;
      top.taken = cond;
      return true;
    }
    if (directive === 'else') {
      if (!top || this.conds.length <= this.frameCondDepth()) throw new LineError('%else without %if');
      if (top.elseSeen) throw new LineError('%else after %else');
      top.elseSeen = true;
      top.active = top.parentActive && !top.taken;
      top.taken = true;
      return true;
    }
    if (directive === 'endif') {
      if (!top || this.conds.length <= this.frameCondDepth()) throw new LineError('%endif without %if');
      this.conds.pop();
      return true;
    }
    return false;
  }

  private frameCondDepth(): number {
    return this.frames[this.frames.length - 1]?.condDepth ?? 0;
  }

  /** Evaluates the condition of %if<kind> / %elif<kind>. */
  private test(kind: string, rest: string, raw: RawLine): boolean {
    const negate = kind.startsWith('n') && kind !== 'num';
    const k = negate ? kind.slice(1) : kind;
    let result: boolean;
    switch (k) {
      case '':
        return this.evaluate(this.defines.expand(rest, raw)) !== 0n;
      case 'def':
        result = this.defines.isDefined(this.singleName(rest));
        break;
      case 'macro':
        result = this.lookupMacro(this.singleName(rest.trim().split(/\s+/)[0] ?? '')) !== undefined;
        break;
      case 'idn': case 'idni': {
        const parts = splitArguments(this.defines.expand(rest, raw), false);
        if (parts.length !== 2) throw new LineError(`%if${k} expects two comma-separated texts`);
        const [a, b] = parts.map((p) => p.replace(/\s+/g, '')) as [string, string];
        result = k === 'idn' ? a === b : a.toLowerCase() === b.toLowerCase();
        break;
      }
      case 'empty':
        result = rest.trim() === '';
        break;
      case 'num':
        result = /^\s*[0-9$][0-9A-Za-z_]*\s*$/.test(this.defines.expand(rest, raw));
        break;
      case 'str':
        result = /^\s*(['"`]).*\1\s*$/.test(this.defines.expand(rest, raw));
        break;
      case 'id':
        result = /^\s*[A-Za-z_.?@][A-Za-z0-9_.?@$#~]*\s*$/.test(this.defines.expand(rest, raw));
        break;
      default:
        throw new LineError(`unknown preprocessor directive '%if${kind}'`);
    }
    return negate ? !result : result;
  }

  private singleName(rest: string): string {
    const name = rest.trim();
    if (!/^[^\s]+$/.test(name)) throw new LineError('expected a single macro name');
    return name;
  }

  /** Evaluates a preprocessor expression: numbers and macros only. */
  private evaluate(text: string): bigint {
    const tokens = tokenize(text);
    const cur = new TokenCursor(tokens, text.length + 1);
    if (cur.atEnd()) throw new LineError('expression expected');
    const e = new ExpressionParser(cur, { qualify: (n) => n }).parse();
    if (!cur.atEnd()) throw new LineError('junk after expression', cur.col());
    const v = evaluate(e, {
      symbol: () => undefined,
      here: () => { throw new LineError("'$' is not known to the preprocessor"); },
      base: () => { throw new LineError("'$$' is not known to the preprocessor"); },
      undefinedSymbol: (name, col) => { throw new LineError(`symbol '${name}' is not a number the preprocessor knows (labels are not known yet)`, col); },
    });
    return v.n;
  }

  // ---- other directives ----

  private directive(directive: string, rest: string, raw: RawLine): void {
    switch (directive) {
      case 'define': case 'xdefine': case 'idefine': case 'xidefine':
        this.defineDirective(rest, directive.startsWith('x'), directive === 'idefine' || directive === 'xidefine', raw);
        break;
      case 'undef':
        this.defines.undefine(this.singleName(rest));
        break;
      case 'assign': case 'iassign': {
        const m = /^\s*([A-Za-z_.?@$][A-Za-z0-9_.?@$#~]*)\s+(.+)$/.exec(rest);
        if (!m) throw new LineError("expected '%assign name expression'");
        const value = this.evaluate(this.defines.expand(m[2]!, raw));
        this.defines.define(m[1]!, null, value.toString(), directive === 'iassign');
        break;
      }
      case 'macro': case 'imacro':
        this.defineMacro(rest, directive === 'imacro', raw);
        return; // defineMacro emits the listing lines itself
      case 'endmacro': case 'endm':
        throw new LineError('%endmacro without %macro');
      case 'unmacro': case 'unimacro': {
        const name = rest.trim().split(/\s+/)[0] ?? '';
        this.macros.delete(name);
        this.foldedMacros.delete(name.toLowerCase());
        break;
      }
      case 'rep':
        this.repeat(rest, raw);
        return;
      case 'endrep':
        throw new LineError('%endrep without %rep');
      case 'exitrep': {
        const k = this.frames.map((f) => f.kind).lastIndexOf('rep');
        if (k < 0) throw new LineError('%exitrep outside %rep');
        // %exitrep usually sits inside an %if: the conditionals opened in the loop end with it.
        this.conds.length = Math.min(this.conds.length, this.frames[k]!.condDepth);
        while (this.frames.length > k) this.finishFrame(this.frames[this.frames.length - 1]!);
        break;
      }
      case 'rotate': {
        const inv = this.innermostInvocation();
        if (!inv) throw new LineError('%rotate outside a macro');
        inv.rotate(Number(this.evaluate(this.defines.expand(rest, raw))));
        break;
      }
      case 'include':
        this.emit(raw, '');
        this.include(this.defines.expand(rest, raw).trim(), raw);
        return;
      case 'error': case 'fatal':
        throw new LineError(this.message(rest, raw));
      case 'warning':
        this.opts.log.warning({ file: raw.file, line: raw.line, column: 0 }, this.message(rest, raw));
        break;
      case 'line': case 'pragma': case 'use':
        break;
      default:
        throw new LineError(`unknown preprocessor directive '%${directive}'`);
    }
    this.emit(raw, '');
  }

  private message(rest: string, raw: RawLine): string {
    const text = this.defines.expand(rest, raw).trim();
    const m = /^(['"`])(.*)\1$/.exec(text);
    return m ? m[2]! : text;
  }

  private defineDirective(rest: string, expandNow: boolean, caseInsensitive: boolean, raw: RawLine): void {
    const m = /^\s*([A-Za-z_.?@$][A-Za-z0-9_.?@$#~]*)(\(([^)]*)\))?\s?(.*)$/.exec(rest);
    if (!m) throw new LineError("expected '%define name [value]'");
    const params = m[2] === undefined ? null : m[3]!.trim() === '' ? [] : m[3]!.split(',').map((p) => p.trim());
    if (params?.some((p) => !/^[A-Za-z_.?@][A-Za-z0-9_.?@$#~]*$/.test(p))) throw new LineError('bad macro parameter name');
    const body = m[4]!.trim();
    this.defines.define(m[1]!, params, expandNow ? this.defines.expand(body, raw) : body, caseInsensitive);
  }

  /** Reads the lines up to the matching end directive from the current frame. */
  private collectBody(open: RegExp, close: RegExp, what: string): RawLine[] {
    const body: RawLine[] = [];
    let depth = 1;
    const frame = this.frames[this.frames.length - 1]!;
    while (frame.index < frame.lines.length) {
      const line = frame.lines[frame.index++]!;
      const t = stripComment(line.text).trimStart().toLowerCase();
      if (open.test(t)) depth++;
      else if (close.test(t) && --depth === 0) {
        this.out.push({ code: '', text: line.text, file: line.file, line: line.line, macroDepth: this.macroDepth });
        return body;
      }
      body.push(line);
    }
    throw new LineError(`${what} without its end before the end of the ${frame.kind === 'file' ? 'file' : 'macro'}`);
  }

  private defineMacro(rest: string, caseInsensitive: boolean, raw: RawLine): void {
    const header = parseMacroHeader(rest, caseInsensitive);
    this.emit(raw, '');
    const body = this.collectBody(/^%i?macro\b/, /^%endm(acro)?\b/, '%macro');
    const macro: MultiLineMacro = { ...header, body };
    if (caseInsensitive) this.foldedMacros.set(header.name.toLowerCase(), macro);
    else this.macros.set(header.name, macro);
  }

  private repeat(rest: string, raw: RawLine): void {
    this.emit(raw, '');
    // Evaluate before collecting so an error still skips the body.
    let count: bigint;
    let error: LineError | undefined;
    try {
      count = this.evaluate(this.defines.expand(rest.replace(/^\s*\.nolist\b/, ''), raw));
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      error = e;
      count = 0n;
    }
    const body = this.collectBody(/^%rep\b/, /^%endrep\b/, '%rep');
    if (error) throw error;
    if (count < 0n) throw new LineError('%rep count is negative');
    if (count > BigInt(MAX_REP)) throw new LineError(`%rep count ${count} is too large`);
    if (count === 0n || body.length === 0) return;
    this.pushFrame({ kind: 'rep', lines: body, index: 0, remaining: Number(count) - 1, condDepth: this.conds.length });
  }

  private include(spec: string, raw: RawLine): void {
    const m = /^(?:"([^"]*)"|'([^']*)'|<([^>]*)>)$/.exec(spec);
    if (!m) throw new LineError('%include expects a file name in quotes');
    const name = m[1] ?? m[2] ?? m[3]!;
    if (this.frames.filter((f) => f.kind === 'file').length >= MAX_INCLUDE_DEPTH) throw new LineError('%include nested too deeply (recursive include?)');
    const candidates = isAbsolute(name) ? [name]
      : [join(dirname(raw.file), name), ...this.opts.includePaths.map((dir) => join(dir, name)), name];
    for (const path of candidates) {
      const text = this.opts.readFile(path);
      if (text === undefined) continue;
      this.pushFrame({ kind: 'file', lines: splitLines(text, path), index: 0, remaining: 0, condDepth: this.conds.length });
      return;
    }
    throw new LineError(`cannot find include file '${name}'`);
  }

  // ---- macro invocation ----

  private lookupMacro(name: string): MultiLineMacro | undefined {
    return this.macros.get(name) ?? this.foldedMacros.get(name.toLowerCase());
  }

  /** Expands a multi-line macro if the line invokes one (optionally after a label). */
  private invokeMacro(code: string, raw: RawLine): boolean {
    if (this.macros.size === 0 && this.foldedMacros.size === 0) return false;
    let i = 0;
    while (code[i] === ' ' || code[i] === '\t') i++;
    if (!IDENT_START.test(code[i] ?? '')) return false;
    let end = identifierEnd(code, i);
    let macro = this.lookupMacro(code.slice(i, end));
    if (!macro) {
      // `label: MACRO args` defines the label, then expands the macro.
      let j = end;
      while (code[j] === ' ' || code[j] === '\t') j++;
      if (code[j] !== ':') return false;
      j++;
      while (code[j] === ' ' || code[j] === '\t') j++;
      if (!IDENT_START.test(code[j] ?? '')) return false;
      const e2 = identifierEnd(code, j);
      macro = this.lookupMacro(code.slice(j, e2));
      if (!macro) return false;
      this.emit(raw, code.slice(0, j).trimEnd());
      i = j;
      end = e2;
    } else {
      this.emit(raw, '');
    }
    if (this.frames.filter((f) => f.kind === 'macro').length > 1000) throw new LineError('macros nested too deeply (recursive macro?)');
    const { args, given } = bindArguments(macro, code.slice(end));
    const inv = new MacroInvocation(macro, args, ++this.uniq, given);
    this.pushFrame({ kind: 'macro', lines: macro.body, index: 0, invocation: inv, remaining: 0, condDepth: this.conds.length });
    return true;
  }
}

/** Runs the preprocessor over a whole source. */
export function preprocess(source: string, opts: PreprocessOptions): PreprocessedLine[] {
  return new Preprocessor(opts).run(source);
}
