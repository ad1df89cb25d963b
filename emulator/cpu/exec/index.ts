/**
 * The executor of every table row: families register handlers by semantic op (the row's `op`),
 * and EXECUTORS maps each row id to its handler once, so dispatch is one array load.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import { FORMS, type InsnForm } from '../../isa/index.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { EmulatorLimitation } from '../tasks.js';
import { ARITHMETIC } from './arithmetic.js';
import { CONTROL } from './control.js';
import { DATA_MOVEMENT } from './data-movement.js';
import { EXTRA_FAMILIES } from './families.js';
import { withVmExit } from './vmx-exits.js';

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

/**
 * The table's mode and privilege rules, enforced once for every row that carries them, before the
 * instruction's own checks: `pm` rows are #UD in real-address and virtual-8086 mode, and `cpl0`
 * rows raise #GP(0) when CPL is not 0 (virtual-8086 mode runs at CPL 3, real mode at CPL 0), as
 * each such instruction's "Protected Mode Exceptions" section in the SDM states.
 */
function withModeChecks(f: InsnForm, fn: Executor): Executor {
  if (f.protectedOnly && f.cpl0) {
    return (c, d) => {
      if (!c.protectedMode || c.v86) raise(Vector.UD);
      if (c.cpl !== 0) raise(Vector.GP, 0);
      fn(c, d);
    };
  }
  if (f.protectedOnly) return (c, d) => { if (!c.protectedMode || c.v86) raise(Vector.UD); fn(c, d); };
  if (f.cpl0) return (c, d) => { if (c.cpl !== 0) raise(Vector.GP, 0); fn(c, d); };
  return fn;
}

/** Every row's executor: mode and privilege checks, then (in VMX non-root operation) its exit check. */
export const EXECUTORS: readonly Executor[] = FORMS.map((f) => withModeChecks(f, withVmExit(f, BY_OP[f.op] ?? ((_c: Cpu, _d: DecodedInsn) => {
  throw new EmulatorLimitation(`instruction ${f.mnemonic} (${f.source})`);
}))));
