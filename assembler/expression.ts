/**
 * Expressions: the syntax tree and a parser over tokens with NASM's operator precedence
 * (NASM manual 3.5, lowest first): ?:, || ^^ &&, comparisons, |, ^, &, shifts, + -,
 * * / // % %%, then the unary operators - + ~ !.
 */
import { LineError } from './diagnostics.js';
import { stringValue, type Token } from './lexer.js';
import { lookupRegister, type Register } from './registers.js';

export type Expr =
  | { readonly k: 'num'; readonly v: bigint }
  | { readonly k: 'sym'; readonly name: string; readonly col: number }
  /** `$`: the address of the start of the current line (or of the current `times` repetition). */
  | { readonly k: 'here' }
  /** `$$`: the address of the start of the current section. */
  | { readonly k: 'base' }
  /** A register; only meaningful inside a memory operand's brackets. */
  | { readonly k: 'reg'; readonly reg: Register; readonly col: number }
  | { readonly k: 'un'; readonly op: string; readonly a: Expr }
  | { readonly k: 'bin'; readonly op: string; readonly a: Expr; readonly b: Expr; readonly col: number }
  | { readonly k: 'cond'; readonly c: Expr; readonly a: Expr; readonly b: Expr };

/** A read position in a token list, shared by the statement, operand and expression parsers. */
export class TokenCursor {
  pos = 0;
  constructor(readonly tokens: readonly Token[], readonly endCol: number) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }
  next(): Token | undefined {
    return this.tokens[this.pos++];
  }
  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }
  /** Column of the next token, or of the end of the line. */
  col(): number {
    return this.peek()?.col ?? this.endCol;
  }
  isOp(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t !== undefined && t.t === 'op' && t.text === text;
  }
  /** True when the next token is the identifier `word` (case-insensitive). */
  isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t !== undefined && t.t === 'id' && t.text.toLowerCase() === word;
  }
  takeOp(text: string): boolean {
    if (!this.isOp(text)) return false;
    this.pos++;
    return true;
  }
  expectOp(text: string): void {
    if (!this.takeOp(text)) throw new LineError(`expected '${text}'`, this.col());
  }
}

/** How the expression parser turns identifiers into names (local labels need the scope). */
export interface NameScope {
  /** Full name of a symbol as written (`.loop` becomes `start.loop`). */
  qualify(name: string): string;
}

const BINARY_LEVELS: readonly (readonly string[])[] = [
  ['||'], ['^^'], ['&&'],
  ['=', '==', '!=', '<>', '<', '<=', '>', '>=', '<=>'],
  ['|'], ['^'], ['&'], ['<<', '>>', '<<<', '>>>'], ['+', '-'], ['*', '/', '//', '%', '%%'],
];

export class ExpressionParser {
  constructor(private readonly cur: TokenCursor, private readonly scope: NameScope, private readonly allowRegisters = false) {}

  parse(): Expr {
    const c = this.binary(0);
    if (this.cur.takeOp('?')) {
      const a = this.parse();
      this.cur.expectOp(':');
      const b = this.parse();
      return { k: 'cond', c, a, b };
    }
    return c;
  }

  private binary(level: number): Expr {
    if (level >= BINARY_LEVELS.length) return this.unary();
    const ops = BINARY_LEVELS[level]!;
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.cur.peek();
      if (!t || t.t !== 'op' || !ops.includes(t.text)) return left;
      this.cur.pos++;
      const right = this.binary(level + 1);
      left = { k: 'bin', op: t.text, a: left, b: right, col: t.col };
    }
  }

  private unary(): Expr {
    const t = this.cur.peek();
    if (t && t.t === 'op' && (t.text === '-' || t.text === '+' || t.text === '~' || t.text === '!')) {
      this.cur.pos++;
      const a = this.unary();
      return t.text === '+' ? a : { k: 'un', op: t.text, a };
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.cur.next();
    if (!t) throw new LineError('expression expected', this.cur.endCol);
    switch (t.t) {
      case 'num':
        return { k: 'num', v: t.value };
      case 'str':
        if (t.bytes.length > 8) throw new LineError('character constant longer than 8 bytes', t.col);
        return { k: 'num', v: stringValue(t.bytes) };
      case 'op':
        if (t.text === '(') {
          const e = this.parse();
          this.cur.expectOp(')');
          return e;
        }
        if (t.text === '$') return { k: 'here' };
        if (t.text === '$$') return { k: 'base' };
        throw new LineError(`unexpected '${t.text}' in expression`, t.col);
      case 'id': {
        if (t.text.startsWith('$')) return { k: 'sym', name: this.scope.qualify(t.text.slice(1)), col: t.col };
        const reg = lookupRegister(t.text);
        if (reg) {
          if (!this.allowRegisters) throw new LineError(`register '${t.text}' not allowed in an expression`, t.col);
          return { k: 'reg', reg, col: t.col };
        }
        return { k: 'sym', name: this.scope.qualify(t.text), col: t.col };
      }
    }
  }
}

/** Parses one expression at the cursor. */
export function parseExpression(cur: TokenCursor, scope: NameScope): Expr {
  return new ExpressionParser(cur, scope).parse();
}

/** Whether an expression mentions a symbol, `$` or `$$` (so its value can change between passes). */
export function isConstantExpr(e: Expr): boolean {
  switch (e.k) {
    case 'num': return true;
    case 'sym': case 'here': case 'base': case 'reg': return false;
    case 'un': return isConstantExpr(e.a);
    case 'bin': return isConstantExpr(e.a) && isConstantExpr(e.b);
    case 'cond': return isConstantExpr(e.c) && isConstantExpr(e.a) && isConstantExpr(e.b);
  }
}
