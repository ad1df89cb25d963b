/**
 * The executor of every table row: families register handlers by semantic op (the row's `op`),
 * and EXECUTORS maps each row id to its handler once, so dispatch is one array load.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import { FORMS } from '../../isa/index.js';
import type { Cpu } from '../cpu.js';
import { EmulatorLimitation } from '../tasks.js';
import { ARITHMETIC } from './arithmetic.js';
import { CONTROL } from './control.js';
import { DATA_MOVEMENT } from './data-movement.js';
import { EXTRA_FAMILIES } from './families.js';

export type Executor = (c: Cpu, d: DecodedInsn) => void;
export type ExecutorFamily = Readonly<Record<string, Executor>>;

const BY_OP: Record<string, Executor> = {};
for (const family of [DATA_MOVEMENT, ARITHMETIC, CONTROL, ...EXTRA_FAMILIES]) {
  for (const [op, fn] of Object.entries(family)) {
    if (BY_OP[op]) throw new Error(`two executors for ${op}`);
    BY_OP[op] = fn;
  }
}

/** Ops of the table that no family implements yet (a test keeps this list empty). */
export const UNIMPLEMENTED_OPS: readonly string[] = [...new Set(FORMS.filter((f) => !f.asmOnly && !BY_OP[f.op]).map((f) => f.op))];

export const EXECUTORS: readonly Executor[] = FORMS.map((f) => BY_OP[f.op] ?? ((_c: Cpu, _d: DecodedInsn) => {
  throw new EmulatorLimitation(`instruction ${f.mnemonic} (${f.source})`);
}));
