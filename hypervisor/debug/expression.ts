/**
 * GDB-style expressions over guest state: numbers (0x.., decimal), registers ($eax, $eip, $sp,
 * bare `eax` in conditions), symbols, the value history (`$N`, `$`, `$$`, `$$N`), convenience
 * variables (any other `$name`: `$_` and `$__` set by x, the rest by assignment, void until then),
 * `*ADDR` and `*(char|short|int*)ADDR` memory reads by linear address, `& ADDR` of a symbol, unary
 * - ~ !, * / % + - << >> & ^ |, comparisons, && || (which, as in C and GDB, do not evaluate their
 * right side when the left decides), and C's assignments `=`, `+=`, ... `>>=` (right to left,
 * lowest), into a register, a convenience variable or memory. Everything is 32-bit unsigned except
 * comparisons, which give 0 or 1. The errors are GDB's words.
 */
export interface ExpressionContext {
  register(name: string): number | undefined;
  symbol(name: string): number | undefined;
  /** Reads `size` bytes at a linear address; throws an ExpressionError when it does not translate. */
  memory(address: number, size: 1 | 2 | 4): number;
  /**
   * A convenience variable by name without the `$`. As GDB's parser (write_dollar_variable, then
   * lookup_internalvar) naming one creates it, void, if nothing has: it is asked while only parsing too.
   */
  convenience(name: string): Value;
  /**
   * Stores into an lvalue: a register (an ExpressionError if it cannot be written), a convenience
   * variable (void too), memory (an ExpressionError where it does not translate). Void reaches only a
   * convenience variable: the parser refuses it elsewhere.
   */
  assign(target: Lvalue, value: Value): void;
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

/** A memory lvalue: `*(int*)ADDR` and friends (for watch). */
export interface MemoryTarget { address: number; size: 1 | 2 | 4 }

/** The size a pointer cast's type names (`unsigned  char` as `unsigned char`), or undefined. */
function castSize(type: string): 1 | 2 | 4 | undefined {
  return TYPES[type.replace(/\s+/g, ' ')];
}

/** What an assignment can store into (GDB's lval_register, lval_internalvar and lval_memory). */
export type Lvalue =
  | { kind: 'register'; name: string }
  | { kind: 'convenience'; name: string }
  | ({ kind: 'memory' } & MemoryTarget);

/** An expression's value, and the lvalue its outermost operator assigned to (null if that is no assignment). */
export interface Evaluated { value: Value; assigned: Lvalue | null }

/** An expression's value, which may be void; its assignments are done. */
export function evaluateValue(text: string, ctx: ExpressionContext): Value {
  return evaluateStatement(text, ctx).value;
}

/** An expression's value and what its outermost assignment stored into (for `set`'s result). */
export function evaluateStatement(text: string, ctx: ExpressionContext): Evaluated {
  const p = new Parser(text, ctx, true);
  const v = p.assignment();
  p.end();
  return { value: v === VOID ? v : v >>> 0, assigned: p.assigned };
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
 * registers, the value history, arithmetic on void, division by zero, what can be assigned to) is
 * left to each evaluation, and nothing is assigned. Returns whether the outermost operator is an
 * assignment (GDB's set warns when it is not).
 */
export function checkExpression(text: string, ctx: ExpressionContext): boolean {
  const p = new Parser(text, ctx, false);
  p.assignment();
  p.end();
  return p.outermostIsAssignment;
}

/** Parses `*(TYPE*)EXPR` / `*EXPR` as a memory location. */
export function memoryLvalue(text: string, ctx: ExpressionContext): MemoryTarget | null {
  const m = /^\s*\*\s*(?:\(\s*([a-z_ 0-9]+?)\s*\*\s*\))?\s*(.+)$/.exec(text);
  if (!m) return null;
  const size = m[1] ? castSize(m[1]) : 4;
  if (!size) throw new ExpressionError(`unknown type '${m[1]}'`);
  const address = evaluateValue(m[2]!, ctx);
  if (address === VOID) throw new ExpressionError(m[1] ? 'Invalid cast.' : 'Attempt to take contents of a non-pointer value.');
  return { address, size };
}

/** `$`, `$$`, `$N`, `$$N`: GDB's spellings of a value-history reference (a register name has a letter after the `$`). */
const HISTORY_REFERENCE = /^\$(\$?)(\d*)(?![A-Za-z0-9_$])/;
/**
 * Any other `$` token, as c-exp.y's lexer reads one: letters, digits, `_` and `$` (`$1abc` and `$a$b`
 * are convenience variables named `1abc` and `a$b`; `$foo.bar` is `$foo` and then `.bar`).
 */
const DOLLAR_NAME = /^\$[A-Za-z0-9_$]+/;
/** An assignment operator: `=` (not `==`), or an arithmetic one and `=` (C's compound assignment). */
const ASSIGNMENT = /^(<<|>>|[-+*\/%&|^])?=(?!=)/;
/** The binary operators a compound assignment is made of (so `+=` is not `+` then `=`). */
const COMPOUND = new Set(['<<', '>>', '+', '-', '*', '/', '%', '&', '|', '^']);

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
  /**
   * What the value just parsed can be assigned through: an lvalue, `history` for a value-history
   * reference (an lvalue GDB will not modify), or null (a number, a symbol's address, an operation's
   * result). Each parsing method sets it for the value it returns.
   */
  private lvalue: Lvalue | 'history' | null = null;
  /** Whether the last assignment() parsed was one at its outermost operator (at the end, whether the whole expression is). */
  outermostIsAssignment = false;
  /** `evaluating` false: only parse (checkExpression, or the side of && and || that is not evaluated). */
  constructor(private readonly s: string, private readonly ctx: ExpressionContext, private evaluating: boolean) {}

  /** What the outermost assignment stored into, once evaluated; null if the expression is not an assignment. */
  get assigned(): Lvalue | null {
    return this.outermostIsAssignment && this.lvalue !== 'history' ? this.lvalue : null;
  }

  private skip(): void { while (this.at < this.s.length && /\s/.test(this.s[this.at]!)) this.at++; }
  private peek(tok: string): boolean { this.skip(); return this.s.startsWith(tok, this.at); }
  private eat(tok: string): boolean { if (this.peek(tok)) { this.at += tok.length; return true; } return false; }

  end(): void {
    this.skip();
    if (this.at < this.s.length) throw syntaxError(this.s.slice(this.at));
  }

  /**
   * C's assignment, the lowest precedence and right to left (`$a = $b = 1`): `LVALUE = EXPR` or
   * `LVALUE OP= EXPR`, else the expression alone. The value is the lvalue's as read back (a register
   * or memory keeps only its width), and stays an lvalue as in GDB (value_assign).
   */
  assignment(): Value {
    const left = this.expression(1);
    const target = this.lvalue;
    this.skip();
    const op = ASSIGNMENT.exec(this.s.slice(this.at));
    if (!op) { this.outermostIsAssignment = false; return left; }
    this.at += op[0].length;
    const right = this.assignment();
    this.outermostIsAssignment = true;
    this.lvalue = target;
    if (!this.evaluating) return 0;
    if (target === null) throw new ExpressionError('Left operand of assignment is not an lvalue.');
    // GDB records its values unmodifiable (value.c, record_latest_value).
    if (target === 'history') throw new ExpressionError('Left operand of assignment is not a modifiable lvalue.');
    const value = op[1] ? apply(op[1], left, right) : right;
    // GDB's words for storing void anywhere but a convenience variable (value_assign casts it to the lvalue's type).
    if (value === VOID && target.kind !== 'convenience') throw new ExpressionError('Invalid cast.');
    this.ctx.assign(target, value);
    switch (target.kind) {
      case 'convenience': return value;
      case 'register': return this.ctx.register(target.name) ?? value;
      case 'memory': return this.ctx.memory(target.address, target.size) >>> 0;
    }
  }

  expression(minPrec: number): Value {
    let left = this.unary();
    for (;;) {
      this.skip();
      const op = BINARY.find(([o, p]) => p >= minPrec && this.s.startsWith(o, this.at)
        && !(o === '|' && this.s.startsWith('||', this.at)) && !(o === '&' && this.s.startsWith('&&', this.at))
        && !(o === '<' && this.s.startsWith('<<', this.at)) && !(o === '>' && this.s.startsWith('>>', this.at))
        && !(COMPOUND.has(o) && this.s[this.at + o.length] === '='));
      if (!op) return left;
      this.at += op[0].length;
      if (op[0] === '&&' || op[0] === '||') {
        // GDB evaluates the right side only when the left does not decide (void counts as false).
        const decided = op[0] === '&&' ? !truth(left) : truth(left);
        const right = this.parseOnlyIf(decided, () => this.expression(op[1] + 1));
        left = decided ? (op[0] === '||' ? 1 : 0) : truth(right) ? 1 : 0;
        this.lvalue = null;
        continue;
      }
      const right = this.expression(op[1] + 1);
      left = this.evaluating ? apply(op[0], left, right) : 0;
      this.lvalue = null;
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
    if (this.eat('!')) { const v = this.unary(); this.lvalue = null; return truth(v) ? 0 : 1; }
    if (this.eat('&')) return this.operate(this.unary(), (v) => v, 'Attempt to take address of value not located in memory.');
    if (this.eat('*')) {
      let size: 1 | 2 | 4 | null = null;
      const save = this.at;
      if (this.eat('(')) {
        const m = /^\s*([a-z_ 0-9]+?)\s*\*\s*\)/.exec(this.s.slice(this.at));
        const cast = m ? castSize(m[1]!) : undefined;
        if (cast) { size = cast; this.at += m![0].length; } else this.at = save;
      }
      const address = this.unary();
      const v = this.operate(address, (a) => this.ctx.memory(a >>> 0, size ?? 4) >>> 0,
        size === null ? 'Attempt to take contents of a non-pointer value.' : 'Invalid cast.');
      this.lvalue = { kind: 'memory', address: address === VOID ? 0 : address >>> 0, size: size ?? 4 };
      return v;
    }
    return this.primary();
  }

  /** A unary operation on a value (not an lvalue), or GDB's error `onVoid` for void; nothing while only parsing. */
  private operate(v: Value, f: (v: number) => number, onVoid: string): Value {
    this.lvalue = null;
    if (!this.evaluating) return 0;
    if (v === VOID) throw new ExpressionError(onVoid);
    return f(v);
  }

  private primary(): Value {
    this.skip();
    if (this.eat('(')) {
      const v = this.assignment(); // keeps its lvalue: `($x) = 1` assigns $x, as in GDB
      if (!this.eat(')')) throw syntaxError(this.s.slice(this.at));
      return v;
    }
    this.lvalue = null;
    const rest = this.s.slice(this.at);
    const num = /^(0x[0-9a-f]+|[0-9]+)/i.exec(rest);
    if (num) { this.at += num[0].length; return Number(num[0]) >>> 0; }
    const past = HISTORY_REFERENCE.exec(rest);
    if (past) {
      this.at += past[0].length;
      this.lvalue = 'history';
      if (!this.evaluating) return 0;
      const n = past[2] ? Number(past[2]) : past[1] ? 1 : 0; // `$$` alone is one back, `$` none
      return historyValue(this.ctx.history, past[1] ? -n : n);
    }
    const dollar = DOLLAR_NAME.exec(rest);
    if (dollar) {
      this.at += dollar[0].length;
      // GDB's order (parse.c, write_dollar_variable): a register, else a convenience variable, which
      // naming creates (void) even while only parsing, as GDB's parser creates it.
      const name = dollar[0].slice(1), register = name.toLowerCase();
      const r = this.ctx.register(register);
      this.lvalue = r !== undefined ? { kind: 'register', name: register } : { kind: 'convenience', name };
      const v = r ?? this.ctx.convenience(name);
      return this.evaluating ? v : 0;
    }
    const name = /^[A-Za-z_.][A-Za-z0-9_.@$]*/.exec(rest);
    if (name) {
      this.at += name[0].length;
      const n = name[0];
      const sym = this.ctx.symbol(n);
      if (sym !== undefined) return sym; // a label's address, not a location
      const r = this.ctx.register(n.toLowerCase());
      if (r !== undefined) { this.lvalue = { kind: 'register', name: n.toLowerCase() }; return r; }
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
