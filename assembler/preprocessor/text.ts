/**
 * Text helpers of the preprocessor, which works on source text (not tokens) so that a line it
 * leaves alone reaches the assembler and the listing exactly as written.
 */

/** Index just past the string starting at `i` (a quote character), or the line's end. */
export function skipString(text: string, i: number): number {
  const q = text[i]!;
  let j = i + 1;
  while (j < text.length && text[j] !== q) j += q === '`' && text[j] === '\\' ? 2 : 1;
  return Math.min(j + 1, text.length);
}

const isQuote = (ch: string): boolean => ch === "'" || ch === '"' || ch === '`';

/** The line without its `;` comment (a `;` inside a string is not a comment). */
export function stripComment(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (isQuote(ch)) i = skipString(text, i) - 1;
    else if (ch === ';') return text.slice(0, i).trimEnd();
  }
  return text.trimEnd();
}

/** Applies `fn` to the parts of `text` outside quoted strings. */
export function mapOutsideStrings(text: string, fn: (part: string) => string): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (isQuote(text[i]!)) {
      out += fn(text.slice(start, i));
      const end = skipString(text, i);
      out += text.slice(i, end);
      start = end;
      i = end - 1;
    }
  }
  return out + fn(text.slice(start));
}

/**
 * Splits macro arguments at top-level commas. Braces group an argument containing commas and are
 * removed (`{a, b}` is one argument `a, b`); parentheses group too when `parens` is set, as for
 * the arguments of a single-line macro.
 */
export function splitArguments(text: string, parens: boolean): string[] {
  const args: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (isQuote(ch)) {
      const end = skipString(text, i);
      current += text.slice(i, end);
      i = end - 1;
      continue;
    }
    if (ch === '{' || (parens && ch === '(')) depth++;
    else if (ch === '}' || (parens && ch === ')')) depth--;
    if (ch === ',' && depth === 0) {
      args.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  args.push(current);
  return args.map((a) => {
    const t = a.trim();
    return t.startsWith('{') && t.endsWith('}') ? t.slice(1, -1) : t;
  });
}

export const IDENT_START = /[A-Za-z_.?@$]/;
export const IDENT_CHAR = /[A-Za-z0-9_.?@$#~]/;

/** Index just past the identifier starting at `i`. */
export function identifierEnd(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length && IDENT_CHAR.test(text[j]!)) j++;
  return j;
}
