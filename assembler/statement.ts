/**
 * The parsed form of one source line, produced once and assembled in every pass.
 */
import type { Expr } from './expression.js';
import type { Register } from './registers.js';

/** Operand-size keywords: byte, word, dword, qword, tword. */
export type SizeKeyword = 8 | 16 | 32 | 64 | 80;

export type OperandSyntax =
  | { readonly kind: 'reg'; readonly reg: Register; readonly col: number }
  | MemorySyntax
  | {
    readonly kind: 'imm';
    readonly expr: Expr;
    readonly size: SizeKeyword | 0;
    /** `strict`: the size keyword fixes the encoding; no optimization to a shorter form. */
    readonly strict: boolean;
    readonly distance: 'short' | 'near' | 'far' | null;
    readonly col: number;
  }
  /** `seg:offset`, the direct far pointer of JMP/CALL (EA/9A). */
  | { readonly kind: 'farptr'; readonly seg: Expr; readonly offset: Expr; readonly size: SizeKeyword | 0; readonly col: number };

/** Register term of an effective address: `reg*scale`. */
export interface AddressTerm {
  readonly reg: Register;
  readonly scale: number;
}

export interface MemorySyntax {
  readonly kind: 'mem';
  /** Size keyword before the bracket (`dword [x]`), or 0. */
  readonly size: SizeKeyword | 0;
  readonly distance: 'near' | 'far' | null;
  readonly strict: boolean;
  /** Segment override written inside the bracket (`[es:edi]`). */
  readonly segment: Register | null;
  readonly terms: readonly AddressTerm[];
  /** The displacement expression, or null for none. */
  readonly disp: Expr | null;
  /** Displacement/address size written inside the bracket (`[dword x]`, `[byte ebx+1]`), or 0. */
  readonly dispSize: 0 | 8 | 16 | 32;
  /** `nosplit`: keep `[eax*2]` as an index with a displacement instead of `[eax+eax]`. */
  readonly nosplit: boolean;
  readonly col: number;
}

export type DataItem =
  | { readonly kind: 'string'; readonly bytes: readonly number[] }
  | { readonly kind: 'expr'; readonly expr: Expr; readonly col: number };

export type Body =
  | {
    readonly kind: 'insn';
    /** Mnemonic as written, upper-cased (resolved against the table when encoded). */
    readonly mnemonic: string;
    readonly prefixes: readonly { readonly name: string; readonly col: number }[];
    readonly operands: readonly OperandSyntax[];
    readonly col: number;
  }
  | { readonly kind: 'data'; readonly unit: 1 | 2 | 4 | 8 | 10; readonly items: readonly DataItem[] }
  | { readonly kind: 'reserve'; readonly unit: 1 | 2 | 4 | 8 | 10; readonly count: Expr }
  | { readonly kind: 'incbin'; readonly bytes: Uint8Array }
  | { readonly kind: 'equ'; readonly expr: Expr }
  | { readonly kind: 'bits'; readonly bits: 16 | 32 }
  | { readonly kind: 'org'; readonly expr: Expr }
  | { readonly kind: 'section'; readonly name: string; readonly align: number | null; readonly nobits: boolean | null }
  /** Raises the current section's alignment (the `sectalign` half of NASM's `align` macro). */
  | { readonly kind: 'sectalign'; readonly boundary: Expr }
  /** A directive that means nothing in a flat binary (global, extern, cpu, default). */
  | { readonly kind: 'ignored' };

export interface Statement {
  /** Position in the preprocessed line list. */
  readonly index: number;
  readonly file: string;
  readonly line: number;
  readonly label: { readonly name: string; readonly col: number } | null;
  readonly times: Expr | null;
  readonly body: Body | null;
  /** For `align`: raise the section alignment to this value too. */
  readonly sectalign: Expr | null;
}
