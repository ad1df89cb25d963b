/**
 * GDB-style expressions over guest state: numbers (0x.., decimal), registers ($eax, $eip, $sp,
 * bare `eax` in conditions), symbols, the value history (`$N`, `$`, `$$`, `$$N`), convenience
 * variables (`$_`, `$__`; any other `$name` is void), `*ADDR` and `*(char|short|int*)ADDR` memory
 * reads by linear address, `& ADDR` of a symbol, unary - ~ !, * / % + - << >> & ^ |, comparisons
 * and && || (which, as in C and GDB, do not evaluate their right side when the left decides).
 * Everything is 32-bit unsigned except comparisons, which give 0 or 1. The errors are GDB's words.
 */
export interface ExpressionContext {
  register(name: string): number | undefined;
  symbol(name: string): number | undefined;
  /** Reads `size` bytes at a linear address; throws an ExpressionError when it does not translate. */
  memory(address: number, size: 1 | 2 | 4): number;
  /** A convenience variable by name without the `$` (`_`, `__`), or undefined if nothing set it. */
  convenience(name: string): Value | undefined;
  /** GDB's value history, oldest first: `$1` is `history[0]`. */
  readonly history: readonly Value[];
}

/**
 * GDB's void: the value of a convenience variable nothing has set (`print $nosuch` is `$1 =
 * void`), and of `$__` after `x/s` or `x/i`. It can be printed, kept in the value history and
 * compared with another void; arithmetic on it is an error, and as a condition it is false.
 */
export const VOID: unique symbol = Symbol('void');
export type Value = number | typeof VOID;

export class ExpressionError extends Error {}

/** GDB's parse error (c-exp.y's yyerror): `near` is the text it stopped at. */
const syntaxError = (near: string): ExpressionError => new ExpressionError(`A syntax error in expression, near \`${near}'.`);

const BINARY: [string, number][] = [
  ['||', 1], ['&&', 2], ['|', 3], ['^', 4], ['&', 5], ['==', 6], ['!=', 6], ['<=', 7], ['>=', 7], ['<', 7], ['>', 7],
  ['<<', 8], ['>>', 8], ['+', 9], ['-', 9], ['*', 10], ['/', 10], ['%', 10],
];
const TYPES: Record<string, 1 | 2 | 4> = { char: 1, 'unsigned char': 1, uint8_t: 1, short: 2, 'unsigned short': 2, uint16_t: 2, int: 4, 'unsigned int': 4, unsigned: 4, long: 4, uint32_t: 4 };

/** A memory lvalue: `*(int*)ADDR` and friends (for `set`). */
export interface MemoryTarget { address: number; size: 1 | 2 | 4 }

/** An expression's value, which may be void. */
export function evaluateValue(text: string, ctx: ExpressionContext): Value {
  const p = new Parser(text, ctx, true);
  const v = p.expression(0);
  p.end();
  return v === VOID ? v : v >>> 0;
}

/** An expression's value where a number is needed (an address, a count): void is GDB's error there. */
export function evaluate(text: string, ctx: ExpressionContext): number {
  return toNumber(evaluateValue(text, ctx));
}

/** A value where a number is needed; void is GDB's error. */
export function toNumber(v: Value): number {
  if (v === VOID) throw new ExpressionError("Value can't be converted to integer.");
  return v;
}

/**
 * Parses without evaluating, as GDB parses a breakpoint condition when the breakpoint is set: a
 * syntax error or an unknown symbol is an error now; what depends on the guest's state (memory,
 * registers, the value history, arithmetic on void, division by zero) is left to each evaluation.
 */
export function checkExpression(text: string, ctx: ExpressionContext): void {
  const p = new Parser(text, ctx, false);
  p.expression(0);
  p.end();
}

/** Parses `*(TYPE*)EXPR` / `*EXPR` as a memory location. */
export function memoryLvalue(text: string, ctx: ExpressionContext): MemoryTarget | null {
  const m = /^\s*\*\s*(?:\(\s*([a-z_ 0-9]+?)\s*\*\s*\))?\s*(.+)$/.exec(text);
  if (!m) return null;
  const size = m[1] ? TYPES[m[1].replace(/\s+/g, ' ')] : 4;
  if (!size) throw new ExpressionError(`unknown type '${m[1]}'`);
  const address = evaluateValue(m[2]!, ctx);
  if (address === VOID) throw new ExpressionError(m[1] ? 'Invalid cast.' : 'Attempt to take contents of a non-pointer value.');
  return { address, size };
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
export function historyValue(history: readonly Value[], num: number): Value {
  const absolute = num <= 0 ? num + history.length : num;
  if (absolute <= 0) throw new ExpressionError(num === 0 ? 'The history is empty.' : `History does not go back to $$${-num}.`);
  if (absolute > history.length) throw new ExpressionError(`History has not yet reached $${absolute}.`);
  return history[absolute - 1]!;
}

class Parser {
  private at = 0;
  /** `evaluating` false: only parse (checkExpression, or the side of && and || that is not evaluated). */
  constructor(private readonly s: string, private readonly ctx: ExpressionContext, private evaluating: boolean) {}

  private skip(): void { while (this.at < this.s.length && /\s/.test(this.s[this.at]!)) this.at++; }
  private peek(tok: string): boolean { this.skip(); return this.s.startsWith(tok, this.at); }
  private eat(tok: string): boolean { if (this.peek(tok)) { this.at += tok.length; return true; } return false; }

  end(): void {
    this.skip();
    if (this.at < this.s.length) throw syntaxError(this.s.slice(this.at));
  }

  expression(minPrec: number): Value {
    let left = this.unary();
    for (;;) {
      this.skip();
      const op = BINARY.find(([o, p]) => p >= minPrec && this.s.startsWith(o, this.at)
        && !(o === '|' && this.s.startsWith('||', this.at)) && !(o === '&' && this.s.startsWith('&&', this.at))
        && !(o === '<' && this.s.startsWith('<<', this.at)) && !(o === '>' && this.s.startsWith('>>', this.at)));
      if (!op) return left;
      this.at += op[0].length;
      if (op[0] === '&&' || op[0] === '||') {
        // GDB evaluates the right side only when the left does not decide (void counts as false).
        const decided = op[0] === '&&' ? !truth(left) : truth(left);
        const right = this.parseOnlyIf(decided, () => this.expression(op[1] + 1));
        left = decided ? (op[0] === '||' ? 1 : 0) : truth(right) ? 1 : 0;
        continue;
      }
      const right = this.expression(op[1] + 1);
      left = this.evaluating ? apply(op[0], left, right) : 0;
    }
  }

  /** Runs `parse` without evaluating when `skip` holds. */
  private parseOnlyIf(skip: boolean, parse: () => Value): Value {
    const was = this.evaluating;
    if (skip) this.evaluating = false;
    try { return parse(); } finally { this.evaluating = was; }
  }

  private unary(): Value {
    if (this.eat('-')) return this.operate(this.unary(), (v) => -v >>> 0, 'Argument to negate operation not a number.');
    if (this.eat('~')) return this.operate(this.unary(), (v) => ~v >>> 0, 'Argument to complement operation not an integer, boolean.');
    if (this.eat('!')) return truth(this.unary()) ? 0 : 1;
    if (this.eat('&')) return this.operate(this.unary(), (v) => v, 'Attempt to take address of value not located in memory.');
    if (this.eat('*')) {
      let size: 1 | 2 | 4 | null = null;
      const save = this.at;
      if (this.eat('(')) {
        const m = /^\s*([a-z_ 0-9]+?)\s*\*\s*\)/.exec(this.s.slice(this.at));
        if (m && TYPES[m[1]!.replace(/\s+/g, ' ')]) { size = TYPES[m[1]!.replace(/\s+/g, ' ')]!; this.at += m[0].length; } else this.at = save;
      }
      const address = this.unary();
      return this.operate(address, (a) => this.ctx.memory(a >>> 0, size ?? 4) >>> 0,
        size === null ? 'Attempt to take contents of a non-pointer value.' : 'Invalid cast.');
    }
    return this.primary();
  }

  /** A unary operation on a value, or GDB's error `onVoid` for void; nothing while only parsing. */
  private operate(v: Value, f: (v: number) => number, onVoid: string): Value {
    if (!this.evaluating) return 0;
    if (v === VOID) throw new ExpressionError(onVoid);
    return f(v);
  }

  private primary(): Value {
    this.skip();
    if (this.eat('(')) {
      const v = this.expression(0);
      if (!this.eat(')')) throw syntaxError(this.s.slice(this.at));
      return v;
    }
    const rest = this.s.slice(this.at);
    const num = /^(0x[0-9a-f]+|[0-9]+)/i.exec(rest);
    if (num) { this.at += num[0].length; return Number(num[0]) >>> 0; }
    const past = HISTORY_REFERENCE.exec(rest);
    if (past) {
      this.at += past[0].length;
      if (!this.evaluating) return 0;
      const n = past[2] ? Number(past[2]) : past[1] ? 1 : 0; // `$$` alone is one back, `$` none
      return historyValue(this.ctx.history, past[1] ? -n : n);
    }
    const name = /^\$?[A-Za-z_.][A-Za-z0-9_.@$]*/.exec(rest);
    if (name) {
      this.at += name[0].length;
      const n = name[0];
      if (n.startsWith('$')) {
        if (!this.evaluating) return 0;
        // GDB's order (parse.c, write_dollar_variable): a register, else a convenience variable, void if never set.
        return this.ctx.register(n.slice(1).toLowerCase()) ?? this.ctx.convenience(n.slice(1)) ?? VOID;
      }
      const sym = this.ctx.symbol(n);
      if (sym !== undefined) return sym;
      const r = this.ctx.register(n.toLowerCase());
      if (r !== undefined) return r;
      throw new ExpressionError(`No symbol "${n}" in current context.`);
    }
    throw syntaxError(rest);
  }
}

/** A value as a condition: void is false, as GDB's value_logical_not finds its one byte zero. */
const truth = (v: Value): boolean => v !== VOID && v !== 0;

/** A binary operator on two values, with GDB's errors for void operands (valarith.c). */
function apply(op: string, a: Value, b: Value): number {
  if (op === '==' || op === '!=') {
    // Two voids are equal (value_equal compares their types' contents); a void and a number are not comparable.
    if (a === VOID || b === VOID) {
      if (a !== b) throw new ExpressionError('Invalid type combination in equality test.');
      return op === '==' ? 1 : 0;
    }
  } else if (a === VOID || b === VOID) {
    throw new ExpressionError(['<', '>', '<=', '>='].includes(op) ? 'Invalid type combination in ordering comparison.' : 'Argument to arithmetic operation not a number or boolean.');
  }
  return applyNumbers(op, (a as number) >>> 0, (b as number) >>> 0);
}

function applyNumbers(op: string, a: number, b: number): number {
  switch (op) {
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
    case '/': if (b === 0) throw new ExpressionError('Division by zero'); return Math.floor(a / b) >>> 0;
    case '%': if (b === 0) throw new ExpressionError('Division by zero'); return a % b;
  }
  throw new ExpressionError(`unknown operator ${op}`);
}
