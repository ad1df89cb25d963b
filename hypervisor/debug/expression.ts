/**
 * GDB-style expressions over guest state: numbers (0x.., decimal), registers ($eax, $eip, $sp,
 * bare `eax` in conditions), symbols, the value history (`$N`, `$`, `$$`, `$$N`), `*ADDR` and
 * `*(char|short|int*)ADDR` memory reads by linear address, `& ADDR` of a symbol, unary - ~ !,
 * * / % + - << >> & ^ |, comparisons and && ||. Everything is 32-bit unsigned except
 * comparisons, which give 0 or 1.
 */
export interface ExpressionContext {
  register(name: string): number | undefined;
  symbol(name: string): number | undefined;
  /** Reads `size` bytes at a linear address; throws an Error when it does not translate. */
  memory(address: number, size: 1 | 2 | 4): number;
  /** GDB's value history, oldest first: `$1` is `history[0]`. */
  readonly history: readonly number[];
}

export class ExpressionError extends Error {}

const BINARY: [string, number][] = [
  ['||', 1], ['&&', 2], ['|', 3], ['^', 4], ['&', 5], ['==', 6], ['!=', 6], ['<=', 7], ['>=', 7], ['<', 7], ['>', 7],
  ['<<', 8], ['>>', 8], ['+', 9], ['-', 9], ['*', 10], ['/', 10], ['%', 10],
];
const TYPES: Record<string, 1 | 2 | 4> = { char: 1, 'unsigned char': 1, uint8_t: 1, short: 2, 'unsigned short': 2, uint16_t: 2, int: 4, 'unsigned int': 4, unsigned: 4, long: 4, uint32_t: 4 };

/** A memory lvalue: `*(int*)ADDR` and friends (for `set`). */
export interface MemoryTarget { address: number; size: 1 | 2 | 4 }

export function evaluate(text: string, ctx: ExpressionContext): number {
  const p = new Parser(text, ctx);
  const v = p.expression(0);
  p.end();
  return v >>> 0;
}

/** Parses `*(TYPE*)EXPR` / `*EXPR` as a memory location. */
export function memoryLvalue(text: string, ctx: ExpressionContext): MemoryTarget | null {
  const m = /^\s*\*\s*(?:\(\s*([a-z_ 0-9]+?)\s*\*\s*\))?\s*(.+)$/.exec(text);
  if (!m) return null;
  const size = m[1] ? TYPES[m[1].replace(/\s+/g, ' ')] : 4;
  if (!size) throw new ExpressionError(`unknown type '${m[1]}'`);
  return { address: evaluate(m[2]!, ctx), size };
}

/** `$`, `$$`, `$N`, `$$N`: GDB's spellings of a value-history reference (a register name has a letter after the `$`). */
const HISTORY_REFERENCE = /^\$(\$?)(\d*)(?![A-Za-z0-9_$])/;

/** Whether `text` is a whole value-history reference (which is not an lvalue). */
export function isHistoryReference(text: string): boolean {
  const m = HISTORY_REFERENCE.exec(text.trim());
  return m !== null && m[0].length === text.trim().length;
}

/**
 * A value-history reference as GDB resolves it (value.c, access_value_history): `num` > 0 is `$num`;
 * 0 and below count back from the last value (`$` and `$0` are 0, `$$` is -1, `$$N` is -N). The
 * errors are GDB's words.
 */
export function historyValue(history: readonly number[], num: number): number {
  const absolute = num <= 0 ? num + history.length : num;
  if (absolute <= 0) throw new ExpressionError(num === 0 ? 'The history is empty.' : `History does not go back to $$${-num}.`);
  if (absolute > history.length) throw new ExpressionError(`History has not yet reached $${absolute}.`);
  return history[absolute - 1]!;
}

class Parser {
  private at = 0;
  constructor(private readonly s: string, private readonly ctx: ExpressionContext) {}

  private skip(): void { while (this.at < this.s.length && /\s/.test(this.s[this.at]!)) this.at++; }
  private peek(tok: string): boolean { this.skip(); return this.s.startsWith(tok, this.at); }
  private eat(tok: string): boolean { if (this.peek(tok)) { this.at += tok.length; return true; } return false; }

  end(): void {
    this.skip();
    if (this.at < this.s.length) throw new ExpressionError(`unexpected '${this.s.slice(this.at)}' in '${this.s}'`);
  }

  expression(minPrec: number): number {
    let left = this.unary();
    for (;;) {
      this.skip();
      const op = BINARY.find(([o, p]) => p >= minPrec && this.s.startsWith(o, this.at)
        && !(o === '|' && this.s.startsWith('||', this.at)) && !(o === '&' && this.s.startsWith('&&', this.at))
        && !(o === '<' && this.s.startsWith('<<', this.at)) && !(o === '>' && this.s.startsWith('>>', this.at)));
      if (!op) return left;
      this.at += op[0].length;
      const right = this.expression(op[1] + 1);
      left = apply(op[0], left >>> 0, right >>> 0);
    }
  }

  private unary(): number {
    if (this.eat('-')) return -this.unary() >>> 0;
    if (this.eat('~')) return ~this.unary() >>> 0;
    if (this.eat('!')) return this.unary() ? 0 : 1;
    if (this.eat('&')) return this.unary();
    if (this.eat('*')) {
      let size: 1 | 2 | 4 = 4;
      const save = this.at;
      if (this.eat('(')) {
        const m = /^\s*([a-z_ 0-9]+?)\s*\*\s*\)/.exec(this.s.slice(this.at));
        if (m && TYPES[m[1]!.replace(/\s+/g, ' ')]) { size = TYPES[m[1]!.replace(/\s+/g, ' ')]!; this.at += m[0].length; } else this.at = save;
      }
      return this.ctx.memory(this.unary() >>> 0, size) >>> 0;
    }
    return this.primary();
  }

  private primary(): number {
    this.skip();
    if (this.eat('(')) {
      const v = this.expression(0);
      if (!this.eat(')')) throw new ExpressionError(`missing ')' in '${this.s}'`);
      return v;
    }
    const rest = this.s.slice(this.at);
    const num = /^(0x[0-9a-f]+|[0-9]+)/i.exec(rest);
    if (num) { this.at += num[0].length; return Number(num[0]) >>> 0; }
    const past = HISTORY_REFERENCE.exec(rest);
    if (past) {
      this.at += past[0].length;
      const n = past[2] ? Number(past[2]) : past[1] ? 1 : 0; // `$$` alone is one back, `$` none
      return historyValue(this.ctx.history, past[1] ? -n : n);
    }
    const name = /^\$?[A-Za-z_.][A-Za-z0-9_.@$]*/.exec(rest);
    if (name) {
      this.at += name[0].length;
      const n = name[0];
      if (n.startsWith('$')) {
        const r = this.ctx.register(n.slice(1).toLowerCase());
        if (r === undefined) throw new ExpressionError(`no register ${n}`);
        return r;
      }
      const sym = this.ctx.symbol(n);
      if (sym !== undefined) return sym;
      const r = this.ctx.register(n.toLowerCase());
      if (r !== undefined) return r;
      throw new ExpressionError(`no symbol "${n}" in current context`);
    }
    throw new ExpressionError(`cannot parse '${rest || this.s}'`);
  }
}

function apply(op: string, a: number, b: number): number {
  switch (op) {
    case '||': return a || b ? 1 : 0;
    case '&&': return a && b ? 1 : 0;
    case '|': return (a | b) >>> 0;
    case '^': return (a ^ b) >>> 0;
    case '&': return (a & b) >>> 0;
    case '==': return a === b ? 1 : 0;
    case '!=': return a !== b ? 1 : 0;
    case '<=': return a <= b ? 1 : 0;
    case '>=': return a >= b ? 1 : 0;
    case '<': return a < b ? 1 : 0;
    case '>': return a > b ? 1 : 0;
    case '<<': return (a << (b & 31)) >>> 0;
    case '>>': return a >>> (b & 31);
    case '+': return (a + b) >>> 0;
    case '-': return (a - b) >>> 0;
    case '*': return Math.imul(a, b) >>> 0;
    case '/': if (b === 0) throw new ExpressionError('division by zero'); return Math.floor(a / b) >>> 0;
    case '%': if (b === 0) throw new ExpressionError('division by zero'); return a % b;
  }
  throw new ExpressionError(`unknown operator ${op}`);
}
