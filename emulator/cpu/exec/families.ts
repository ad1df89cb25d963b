/**
 * Instruction families beyond data movement, arithmetic and control, each in its own module.
 * Add a family here to register its executors.
 */
import { BITS } from './bits.js';
import { CPUID } from './cpuid.js';
import { DECIMAL } from './decimal.js';
import { DESCRIPTOR_CHECKS } from './descriptor-checks.js';
import type { ExecutorFamily } from './index.js';
import { SHIFTS } from './shifts.js';
import { STRINGS } from './strings.js';
import { SYSTEM } from './system.js';
import { VMX_INSTRUCTIONS } from './vmx-instructions.js';

export const EXTRA_FAMILIES: readonly ExecutorFamily[] = [
  SHIFTS, BITS, STRINGS, DECIMAL, SYSTEM, DESCRIPTOR_CHECKS, CPUID, VMX_INSTRUCTIONS,
];
