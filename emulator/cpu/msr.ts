/**
 * Model-specific registers (SDM Vol. 4). One definition per MSR: how RDMSR reads it and how WRMSR
 * writes it, with the #GP(0) of reserved bits. An index not listed here raises #GP(0) on access.
 * The VMX work adds its capability MSRs (IA32_VMX_BASIC ...) to MSR_DEFINITIONS.
 *
 * Values live in `cpu.msr` (64-bit, as bigint), except the TSC, which derives from the instruction
 * count: TSC = icount + cpu.tscOffset.
 */
import type { Cpu } from './cpu.js';
import { raise, Vector } from './faults.js';
import { capabilityMsrs, VmxMsr } from '../vmx/controls.js';
import { HIGHEST_FIELD_INDEX } from '../vmx/fields.js';

export const enum Msr {
  IA32_TIME_STAMP_COUNTER = 0x10,
  IA32_FEATURE_CONTROL = 0x3a,
  IA32_SYSENTER_CS = 0x174,
  IA32_SYSENTER_ESP = 0x175,
  IA32_SYSENTER_EIP = 0x176,
  IA32_TSC_AUX = 0xc0000103,
}

/** IA32_FEATURE_CONTROL bits (SDM Vol. 3C 23.7). */
export const FEATURE_CONTROL_LOCK = 1n, FEATURE_CONTROL_VMX_INSIDE_SMX = 2n, FEATURE_CONTROL_VMX_OUTSIDE_SMX = 4n;

export interface MsrDefinition {
  readonly index: number;
  readonly name: string;
  read(c: Cpu): bigint;
  /** Stores a 64-bit value, or raises #GP(0) for a reserved bit or a locked register. */
  write(c: Cpu, value: bigint): void;
}

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** A plain read/write MSR whose bits outside `writable` are reserved (#GP(0) when set). */
function stored(index: number, name: string, writable = 0xffffffffffffffffn): MsrDefinition {
  return {
    index, name,
    read: (c) => c.msr.get(index) ?? 0n,
    write: (c, v) => {
      if (v & ~writable) raise(Vector.GP, 0);
      c.msr.set(index, v);
      c.msrWrites++;
    },
  };
}

export const MSR_DEFINITIONS: readonly MsrDefinition[] = [
  {
    index: Msr.IA32_TIME_STAMP_COUNTER, name: 'IA32_TIME_STAMP_COUNTER',
    read: (c) => readTsc(c),
    write: (c, v) => { c.tscOffset = v - BigInt(c.icount) - c.vmx.guestTscAdjust(); },
  },
  {
    index: Msr.IA32_FEATURE_CONTROL, name: 'IA32_FEATURE_CONTROL',
    read: (c) => c.msr.get(Msr.IA32_FEATURE_CONTROL) ?? 0n,
    write: (c, v) => {
      // Once the lock bit is set, writes fault until reset (SDM Vol. 3C 23.7).
      const cur = c.msr.get(Msr.IA32_FEATURE_CONTROL) ?? 0n;
      if (cur & FEATURE_CONTROL_LOCK) raise(Vector.GP, 0);
      if (v & ~(FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_INSIDE_SMX | FEATURE_CONTROL_VMX_OUTSIDE_SMX)) raise(Vector.GP, 0);
      c.msr.set(Msr.IA32_FEATURE_CONTROL, v);
    },
  },
  // On IA-32 processors these hold a selector and 32-bit addresses; the upper bits are kept as
  // written (a 64-bit-capable processor stores them too).
  stored(Msr.IA32_SYSENTER_CS, 'IA32_SYSENTER_CS'),
  stored(Msr.IA32_SYSENTER_ESP, 'IA32_SYSENTER_ESP'),
  stored(Msr.IA32_SYSENTER_EIP, 'IA32_SYSENTER_EIP'),
  stored(Msr.IA32_TSC_AUX, 'IA32_TSC_AUX', 0xffffffffn),
  // The VMX capability MSRs (emulator/vmx/controls.ts): read-only, writes raise #GP(0).
  ...[...capabilityMsrs(HIGHEST_FIELD_INDEX)].map(([index, value]): MsrDefinition => ({
    index, name: Object.entries(VmxMsr).find(([, i]) => i === index)![0],
    read: () => value,
    write: () => raise(Vector.GP, 0),
  })),
];

const BY_INDEX: ReadonlyMap<number, MsrDefinition> = new Map(MSR_DEFINITIONS.map((m) => [m.index, m]));

/** The time-stamp counter: derived from the instruction count, never the wall clock. */
export function readTsc(c: Cpu): bigint {
  return U64(BigInt(c.icount) + c.tscOffset + c.vmx.guestTscAdjust());
}

export function readMsr(c: Cpu, index: number): bigint {
  const m = BY_INDEX.get(index >>> 0);
  if (!m) return raise(Vector.GP, 0);
  return U64(m.read(c));
}

export function writeMsr(c: Cpu, index: number, value: bigint): void {
  const m = BY_INDEX.get(index >>> 0);
  if (!m) raise(Vector.GP, 0);
  m.write(c, U64(value));
}

/** Low 32 bits of an MSR as a number (SYSENTER_CS/ESP/EIP, TSC_AUX). */
export function readMsr32(c: Cpu, index: number): number {
  return Number(BigInt.asIntN(32, readMsr(c, index)));
}

/**
 * The low 32 bits of a plain stored MSR (SYSENTER_CS/ESP/EIP), and setting one to a 32-bit value:
 * every VM entry and exit switches those three, so neither allocates a bigint when nothing changes.
 */
export function storedMsrLow32(c: Cpu, index: number): number {
  const v = c.msr.get(index);
  if (v === undefined) return 0;
  return v <= 0xffffffffn ? Number(v) : Number(v & 0xffffffffn);
}

export function loadStoredMsr32(c: Cpu, index: number, value: number): void {
  const v = c.msr.get(index) ?? 0n;
  if (v <= 0xffffffffn && Number(v) === value >>> 0) return;
  writeMsr(c, index, BigInt(value >>> 0));
}
