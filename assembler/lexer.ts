/**
 * Splits one (preprocessed) source line into tokens: identifiers, numbers in all of NASM's
 * notations, quoted strings, and operators. Comments are already gone.
 */
import { LineError } from './diagnostics.js';

export type Token =
  | { readonly t: 'id'; readonly text: string; readonly col: number }
  | { readonly t: 'num'; readonly value: bigint; readonly col: number }
  | { readonly t: 'str'; readonly bytes: readonly number[]; readonly col: number }
  | { readonly t: 'op'; readonly text: string; readonly col: number };

/** Operators, longest first so that `<<` wins over `<`. */
const OPERATORS = [
  '<<<', '>>>', '<=>', '//', '%%', '<<', '>>', '==', '!=', '<>', '<=', '>=', '&&', '||', '^^', '$$',
  '+', '-', '*', '/', '%', '&', '|', '^', '~', '!', '(', ')', '[', ']', ',', ':', '<', '>', '=', '$', '?', '{', '}',
];

const ID_START = /[A-Za-z_.?@]/;
const ID_CHAR = /[A-Za-z0-9_.?@$#~]/;

/** Parses a numeric literal in any of NASM's forms (manual 3.4.1), or returns undefined. */
export function parseNumber(text: string): bigint | undefined {
  const t = text.replace(/_/g, '');
  const digits = (s: string, radix: number): bigint | undefined => {
    if (s.length === 0) return undefined;
    let v = 0n;
    const r = BigInt(radix);
    for (const ch of s.toLowerCase()) {
      const d = parseInt(ch, radix);
      if (Number.isNaN(d)) return undefined;
      v = v * r + BigInt(d);
    }
    return BigInt.asUintN(64, v);
  };
  let m: RegExpExecArray | null;
  if ((m = /^0[xh]([0-9a-f]+)$/i.exec(t))) return digits(m[1]!, 16);
  if ((m = /^\$([0-9][0-9a-f]*)$/i.exec(t))) return digits(m[1]!, 16);
  if ((m = /^([0-9][0-9a-f]*)[hx]$/i.exec(t))) return digits(m[1]!, 16);
  if ((m = /^0[by]([01]+)$/i.exec(t)) || (m = /^([01]+)[by]$/i.exec(t))) return digits(m[1]!, 2);
  if ((m = /^0[oq]([0-7]+)$/i.exec(t)) || (m = /^([0-7]+)[oq]$/i.exec(t))) return digits(m[1]!, 8);
  if ((m = /^0[dt]([0-9]+)$/i.exec(t)) || (m = /^([0-9]+)[dt]$/i.exec(t))) return digits(m[1]!, 10);
  if (/^[0-9]+$/.test(t)) return digits(t, 10);
  return undefined;
}

/** The bytes of a backquoted string's body with its C-style escapes decoded. */
function unescapeBackquoted(body: string, col: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') { pushUtf8(out, ch); continue; }
    const e = body[++i];
    if (e === undefined) throw new LineError('backslash at end of string', col);
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, e: 27, '\\': 92, "'": 39, '"': 34, '`': 96, '?': 63 };
    if (e in simple) out.push(simple[e]!);
    else if (e === 'x') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(body.slice(i + 1));
      if (!m) throw new LineError('\\x needs hex digits', col);
      out.push(parseInt(m[0], 16));
      i += m[0].length;
    } else if (/[0-7]/.test(e)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i))!;
      out.push(parseInt(m[0], 8) & 0xff);
      i += m[0].length - 1;
    } else throw new LineError(`unknown escape '\\${e}' in string`, col);
  }
  return out;
}

function pushUtf8(out: number[], ch: string): void {
  for (const b of Buffer.from(ch, 'utf8')) out.push(b);
}

/** Tokenizes a line. Columns are 1-based positions in `line`. */
export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    const ch = line[i]!;
    const col = i + 1;
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') { i++; continue; }
    if (ch === ';') break;
    if (ch === '`') {
      // Backquoted strings take C escapes, so \` does not end them.
      let j = i + 1;
      while (j < n && line[j] !== '`') j += line[j] === '\\' ? 2 : 1;
      if (j >= n) throw new LineError('unterminated string', col);
      tokens.push({ t: 'str', bytes: unescapeBackquoted(line.slice(i + 1, j), col), col });
      i = j + 1;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const end = line.indexOf(ch, i + 1);
      if (end < 0) throw new LineError('unterminated string', col);
      const bytes: number[] = [];
      for (const c of line.slice(i + 1, end)) pushUtf8(bytes, c);
      tokens.push({ t: 'str', bytes, col });
      i = end + 1;
      continue;
    }
    if (/[0-9]/.test(ch) || (ch === '$' && /[0-9]/.test(line[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_]/.test(line[j]!)) j++;
      const text = line.slice(i, j);
      const value = parseNumber(text);
      if (value === undefined) throw new LineError(`invalid number '${text}'`, col);
      tokens.push({ t: 'num', value, col });
      i = j;
      continue;
    }
    // A lone `?` is the conditional operator; `?` may also start an identifier (`?x`).
    const loneQuestion = ch === '?' && !ID_CHAR.test(line[i + 1] ?? ' ');
    if ((ID_START.test(ch) && !loneQuestion) || (ch === '$' && ID_START.test(line[i + 1] ?? ''))) {
      // `$name` escapes an identifier that would otherwise be a register or keyword.
      let j = i + 1;
      while (j < n && ID_CHAR.test(line[j]!)) j++;
      tokens.push({ t: 'id', text: line.slice(i, j), col });
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => line.startsWith(o, i));
    if (!op) throw new LineError(`unexpected character '${ch}'`, col);
    tokens.push({ t: 'op', text: op, col });
    i += op.length;
  }
  return tokens;
}

/** Value of a string used as a number: its bytes little-endian, as NASM reads 'ab' (0x6261). */
export function stringValue(bytes: readonly number[]): bigint {
  let v = 0n;
  for (let k = Math.min(bytes.length, 8) - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[k]!);
  return v;
}
