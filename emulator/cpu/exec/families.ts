/**
 * Instruction families beyond data movement, arithmetic and control, each in its own module.
 * Add a family here to register its executors.
 */
import type { ExecutorFamily } from './index.js';

export const EXTRA_FAMILIES: readonly ExecutorFamily[] = [];
