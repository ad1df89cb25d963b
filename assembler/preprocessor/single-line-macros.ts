/**
 * Single-line macros: %define, %xdefine, %idefine, %assign, with or without parameters, and
 * their expansion in a line. Expansion rescans the result, never re-expanding a macro inside its
 * own expansion (so `%define x x+1` terminates, as in NASM).
 */
import { LineError } from '../diagnostics.js';
import { IDENT_START, identifierEnd, skipString, splitArguments } from './text.js';

export interface SingleLineMacro {
  readonly name: string;
  /** Parameter names, or null for a macro used without parentheses. */
  readonly params: readonly string[] | null;
  readonly body: string;
}

/** Builtins the expansion answers from the current position. */
export interface ExpansionContext {
  readonly file: string;
  readonly line: number;
}

export class SingleLineMacros {
  private readonly exact = new Map<string, SingleLineMacro>();
  /** Case-insensitive macros (%idefine), by lower-case name. */
  private readonly folded = new Map<string, SingleLineMacro>();

  define(name: string, params: readonly string[] | null, body: string, caseInsensitive = false): void {
    const m = { name, params, body };
    if (caseInsensitive) this.folded.set(name.toLowerCase(), m);
    else this.exact.set(name, m);
  }

  undefine(name: string): void {
    this.exact.delete(name);
    this.folded.delete(name.toLowerCase());
  }

  isDefined(name: string): boolean {
    return this.exact.has(name) || this.folded.has(name.toLowerCase());
  }

  lookup(name: string): SingleLineMacro | undefined {
    return this.exact.get(name) ?? this.folded.get(name.toLowerCase());
  }

  /** Expands every macro use in `text`. */
  expand(text: string, at: ExpansionContext): string {
    const out = this.expandWith(text, at, new Set(), 0);
    // %+ pastes the tokens on either side together.
    return out.includes('%+') ? out.replace(/\s*%\+\s*/g, '') : out;
  }

  private expandWith(text: string, at: ExpansionContext, active: Set<string>, depth: number): string {
    if (depth > 64) throw new LineError('macro expansion nested too deeply (recursive %define?)');
    if (this.exact.size === 0 && this.folded.size === 0 && !text.includes('__')) return text;
    let out = '';
    let i = 0;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === "'" || ch === '"' || ch === '`') {
        const end = skipString(text, i);
        out += text.slice(i, end);
        i = end;
        continue;
      }
      // An identifier starts here unless we are in the middle of a word or number (`1Fh`).
      if (!IDENT_START.test(ch) || inWord(text, i)) {
        out += ch;
        i++;
        continue;
      }
      const end = identifierEnd(text, i);
      const name = text.slice(i, end);
      if (name === '__FILE__' || name === '__?FILE?__') { out += JSON.stringify(at.file); i = end; continue; }
      if (name === '__LINE__' || name === '__?LINE?__') { out += String(at.line); i = end; continue; }
      const m = this.lookup(name);
      if (!m || active.has(m.name)) {
        out += name;
        i = end;
        continue;
      }
      let body = m.body;
      let next = end;
      if (m.params !== null) {
        let j = end;
        while (text[j] === ' ' || text[j] === '\t') j++;
        if (text[j] !== '(') {
          // A parameterized macro named without arguments is left alone, as NASM does.
          out += name;
          i = end;
          continue;
        }
        const close = matchingParen(text, j);
        if (close < 0) throw new LineError(`missing ')' after arguments of macro '${name}'`, i + 1);
        const inner = text.slice(j + 1, close);
        const args = inner.trim() === '' ? [] : splitArguments(inner, true);
        if (args.length !== m.params.length) {
          throw new LineError(`macro '${name}' takes ${m.params.length} parameter(s), given ${args.length}`, i + 1);
        }
        body = substituteParams(m.body, m.params, args);
        next = close + 1;
      }
      const inner = new Set(active).add(m.name);
      out += this.expandWith(body, at, inner, depth + 1);
      i = next;
    }
    return out;
  }
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let k = open; k < text.length; k++) {
    const ch = text[k]!;
    if (ch === "'" || ch === '"' || ch === '`') { k = skipString(text, k) - 1; continue; }
    if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return k;
  }
  return -1;
}

function substituteParams(body: string, params: readonly string[], args: readonly string[]): string {
  let out = '';
  let i = 0;
  while (i < body.length) {
    const ch = body[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      const end = skipString(body, i);
      out += body.slice(i, end);
      i = end;
      continue;
    }
    if (IDENT_START.test(ch)) {
      const end = identifierEnd(body, i);
      const word = body.slice(i, end);
      const k = params.indexOf(word);
      out += k >= 0 ? args[k]! : word;
      i = end;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/**
 * Whether position `i` continues a word or number. `#` and `~` are identifier characters only
 * after a character that starts one (`a~b` is one name), so `~NAME` is the operator NOT before
 * NAME, which is expanded.
 */
function inWord(text: string, i: number): boolean {
  const prev = i > 0 ? text[i - 1]! : ' ';
  if (/[A-Za-z0-9_.?@$%]/.test(prev)) return true;
  if (prev !== '#' && prev !== '~') return false;
  let k = i - 1;
  while (k > 0 && /[A-Za-z0-9_.?@$#~]/.test(text[k - 1]!)) k--;
  return /[A-Za-z0-9_.?@$%]/.test(text[k]!) || (k > 0 && text[k - 1] === '%');
}
