/**
 * Guest exceptions. A fault is a value of the guest, not an error of the host: memory accesses and
 * instruction semantics throw a CpuFault, which unwinds to the instruction boundary where the CPU
 * delivers it through the IDT. Any other JavaScript error escaping an instruction is a bug.
 */

/** Exception vectors (SDM Vol. 3A, table 6-1). */
export const enum Vector {
  DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11,
  SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18,
}

/** Vectors that push an error code when delivered in protected mode. */
export function pushesErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

export class CpuFault {
  constructor(
    readonly vector: number,
    /** Error code, or -1 when the vector has none. */
    readonly errorCode: number = -1,
  ) {}
}

/** Throws a guest exception. `never` lets callers use it in expressions. */
export function raise(vector: number, errorCode = -1): never {
  throw new CpuFault(vector, pushesErrorCode(vector) ? (errorCode < 0 ? 0 : errorCode) : -1);
}

export function isCpuFault(e: unknown): e is CpuFault {
  return e instanceof CpuFault;
}
