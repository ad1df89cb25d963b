/**
 * CPUID (SDM Vol. 2A CPUID): an Intel family 6 processor, "GenuineIntel", reporting only the
 * features this emulator implements. A leaf above the highest basic or extended leaf returns the
 * highest basic leaf's data, as Intel processors do.
 */
import type { Cpu } from '../cpu.js';
import type { ExecutorFamily } from './index.js';

type Leaf = readonly [eax: number, ebx: number, ecx: number, edx: number];

/** Four ASCII characters as a little-endian register value. */
function chars(s: string): number {
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
}

/** Family 6, model 15, stepping 1: the signature EDX holds after reset (see Cpu.reset). */
export const CPU_SIGNATURE = 0x000006f1;

/** Leaf 1 EDX feature bits (SDM table 3-11). The x87 FPU (bit 0) is absent. */
export const CPUID_1_EDX = {
  PSE: 1 << 3, TSC: 1 << 4, MSR: 1 << 5, CX8: 1 << 8, SEP: 1 << 11, PGE: 1 << 13, CMOV: 1 << 15,
} as const;
/** Leaf 1 ECX feature bits (SDM table 3-10). */
export const CPUID_1_ECX = { VMX: 1 << 5 } as const;
/** Leaf 80000001H EDX: RDTSCP (bit 27). */
export const CPUID_80000001_EDX = { RDTSCP: 1 << 27 } as const;

const MAX_BASIC_LEAF = 1;
const MAX_EXTENDED_LEAF = 0x80000004;
/** Processor brand string (leaves 80000002H-80000004H): 48 bytes, NUL padded. */
const BRAND = 'trapvisor emulated IA-32 CPU'.padEnd(48, '\0');

function brandLeaf(n: number): Leaf {
  const part = BRAND.slice(n * 16, n * 16 + 16);
  return [chars(part.slice(0, 4)), chars(part.slice(4, 8)), chars(part.slice(8, 12)), chars(part.slice(12, 16))];
}

const LEAVES: ReadonlyMap<number, Leaf> = new Map<number, Leaf>([
  [0, [MAX_BASIC_LEAF, chars('Genu'), chars('ntel'), chars('ineI')]],
  [1, [CPU_SIGNATURE, 0, CPUID_1_ECX.VMX, Object.values(CPUID_1_EDX).reduce((a, b) => a | b, 0)]],
  [0x80000000, [MAX_EXTENDED_LEAF, 0, 0, 0]],
  [0x80000001, [0, 0, 0, CPUID_80000001_EDX.RDTSCP]],
  [0x80000002, brandLeaf(0)],
  [0x80000003, brandLeaf(1)],
  [0x80000004, brandLeaf(2)],
]);

/** The four registers CPUID returns for leaf EAX (sub-leaf ECX is not used by these leaves). */
export function cpuidLeaf(leaf: number): Leaf {
  return LEAVES.get(leaf >>> 0) ?? LEAVES.get(MAX_BASIC_LEAF)!;
}

export const CPUID: ExecutorFamily = {
  CPUID: (c: Cpu) => {
    const [a, b, cx, dx] = cpuidLeaf(c.r[0]!);
    c.r[0] = a; c.r[3] = b; c.r[1] = cx; c.r[2] = dx;
  },
};
