/**
 * Multi-line macros (%macro ... %endmacro): their definitions, the parsing of an invocation's
 * arguments, and the substitution of %1..%n, %0, %{n} and %%local labels in the body.
 */
import { LineError } from '../diagnostics.js';
import { mapOutsideStrings, splitArguments } from './text.js';

export interface RawLine {
  readonly text: string;
  readonly file: string;
  readonly line: number;
}

export interface MultiLineMacro {
  readonly name: string;
  readonly minParams: number;
  /** Largest parameter count; Infinity for `n-*`. */
  readonly maxParams: number;
  /** `+`: the last parameter takes the rest of the line, commas included. */
  readonly greedy: boolean;
  readonly defaults: readonly string[];
  readonly body: readonly RawLine[];
  readonly caseInsensitive: boolean;
}

/** Parses the `%macro` line's operands: `name nparams[-max|-*][+] [defaults...]`. */
export function parseMacroHeader(rest: string, caseInsensitive: boolean): Omit<MultiLineMacro, 'body'> {
  const m = /^\s*([^\s]+)\s+(\d+)(?:\s*-\s*(\d+|\*))?(\+)?(?:\s*\.nolist)?\s*(.*)$/.exec(rest);
  if (!m) throw new LineError("expected '%macro name parameter-count'");
  const minParams = Number(m[2]);
  const maxParams = m[3] === undefined ? minParams : m[3] === '*' ? Infinity : Number(m[3]);
  if (maxParams < minParams) throw new LineError('macro parameter range is backwards');
  const defaults = m[5]!.trim() === '' ? [] : splitArguments(m[5]!, false);
  return { name: m[1]!, minParams, maxParams, greedy: m[4] === '+', defaults, caseInsensitive };
}

/**
 * The arguments of an invocation, after greedy joining, then defaults; and the value of %0.
 */
export function bindArguments(macro: MultiLineMacro, argText: string): { args: string[]; given: number } {
  let args = argText.trim() === '' ? [] : splitArguments(argText, false);
  if (macro.greedy && Number.isFinite(macro.maxParams) && args.length > macro.maxParams) {
    args = [...args.slice(0, macro.maxParams - 1), splitTail(argText, macro.maxParams - 1).trim()];
  }
  if (args.length < macro.minParams || args.length > macro.maxParams) {
    const wanted = macro.minParams === macro.maxParams ? `${macro.minParams}`
      : `${macro.minParams}-${Number.isFinite(macro.maxParams) ? macro.maxParams : '*'}`;
    throw new LineError(`macro '${macro.name}' takes ${wanted} parameter(s), given ${args.length}`);
  }
  const total = Number.isFinite(macro.maxParams) ? macro.maxParams : args.length;
  for (let k = args.length; k < total && k - macro.minParams < macro.defaults.length; k++) {
    args.push(macro.defaults[k - macro.minParams]!);
  }
  // %0 counts the defaults supplied too (NASM: `%macro m 1-3 7,8` invoked as `m 1` has %0 = 3).
  return { args, given: args.length };
}

/** The text after the `commas`th top-level comma (strings and braces respected). */
function splitTail(text: string, commas: number): string {
  if (commas === 0) return text;
  let depth = 0;
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'" || ch === '"' || ch === '`') {
      const q = ch;
      i++;
      while (i < text.length && text[i] !== q) i++;
      continue;
    }
    if (ch === '{') depth++;
    else if (ch === '}') depth--;
    else if (ch === ',' && depth === 0 && ++seen === commas) return text.slice(i + 1);
  }
  return '';
}

/** One running expansion: its arguments (rotated by %rotate) and its unique label number. */
export class MacroInvocation {
  constructor(readonly macro: MultiLineMacro, public args: string[], readonly uniq: number, readonly paramCount: number) {}

  rotate(n: number): void {
    const len = this.args.length;
    if (len === 0) return;
    const k = ((n % len) + len) % len;
    this.args = [...this.args.slice(k), ...this.args.slice(0, k)];
  }

  /** The body line with parameters and local labels substituted. */
  substitute(text: string): string {
    if (!text.includes('%')) return text;
    return mapOutsideStrings(text, (part) => part.replace(/%%([A-Za-z0-9_.?@$#~]+)|%\{(\d+)\}|%(\d+)/g, (all, local: string | undefined, braced: string | undefined, plain: string | undefined) => {
      if (local !== undefined) return `..@${this.uniq}.${local}`;
      const n = Number(braced ?? plain);
      if (n === 0) return String(this.paramCount);
      return this.args[n - 1] ?? '';
    }));
  }
}
