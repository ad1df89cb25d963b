/**
 * Operands after evaluation in one pass: what the encoder matches against table rows.
 */
import type { Value } from '../evaluate.js';
import type { Register } from '../registers.js';
import type { MemorySyntax, SizeKeyword } from '../statement.js';

export type Operand =
  | { readonly kind: 'reg'; readonly reg: Register; readonly col: number }
  | { readonly kind: 'mem'; readonly syntax: MemorySyntax; readonly disp: Value | null; readonly col: number }
  | {
    readonly kind: 'imm';
    readonly value: Value;
    readonly size: SizeKeyword | 0;
    readonly strict: boolean;
    readonly distance: 'short' | 'near' | 'far' | null;
    readonly col: number;
  }
  | { readonly kind: 'farptr'; readonly seg: Value; readonly offset: Value; readonly size: SizeKeyword | 0; readonly col: number };
