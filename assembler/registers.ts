/**
 * The registers an operand may name, with their encoding numbers (SDM Vol. 2A, table 2-1/2-2).
 */

export type RegisterClass = 'r8' | 'r16' | 'r32' | 'sreg' | 'cr' | 'dr';

export interface Register {
  readonly name: string;
  readonly cls: RegisterClass;
  /** Number in a ModRM reg/rm field or in the low bits of a `+r` opcode. */
  readonly num: number;
}

const GROUPS: readonly [RegisterClass, readonly string[]][] = [
  ['r8', ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh']],
  ['r16', ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di']],
  ['r32', ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi']],
  ['sreg', ['es', 'cs', 'ss', 'ds', 'fs', 'gs']],
  ['cr', ['cr0', 'cr1', 'cr2', 'cr3', 'cr4', 'cr5', 'cr6', 'cr7']],
  ['dr', ['dr0', 'dr1', 'dr2', 'dr3', 'dr4', 'dr5', 'dr6', 'dr7']],
];

const REGISTERS: ReadonlyMap<string, Register> = new Map(
  GROUPS.flatMap(([cls, names]) => names.map((name, num) => [name, Object.freeze({ name, cls, num })] as const)),
);

/** The register a (case-insensitive) name denotes, or undefined. */
export function lookupRegister(name: string): Register | undefined {
  return REGISTERS.get(name.toLowerCase());
}

/** Width in bits of a general-purpose register class. */
export function registerWidth(cls: RegisterClass): 8 | 16 | 32 {
  return cls === 'r8' ? 8 : cls === 'r16' || cls === 'sreg' ? 16 : 32;
}
