/**
 * MOV to and from control and debug registers (SDM Vol. 3A 2.5, 17.2): privilege checks, reserved
 * bits, the mode switches CR0 makes, and the TLB flushes CR0/CR3/CR4 writes require.
 */
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';

const CR0_PE = 1, CR0_NE = 1 << 5, CR0_WP = 1 << 16, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR0_PG = 1 << 31;
/** CR0 bits this CPU implements (ET is fixed at 1: there is no FPU but the bit reads as 1). */
export const CR0_IMPLEMENTED = CR0_PE | 0x2 | 0x4 | 0x8 | 0x10 | CR0_NE | CR0_WP | (1 << 18) | CR0_NW | CR0_CD | CR0_PG;
/** CR4 bits implemented: VME PVI TSD DE PSE PGE VMXE. */
const CR4_VMXE = 0x2000;
export const CR4_IMPLEMENTED = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x80 | 0x2000;

function requireCpl0(c: Cpu): void {
  if (c.protectedMode && (c.cpl !== 0 || c.v86)) raise(Vector.GP, 0);
}

export function readControlRegister(c: Cpu, n: number): number {
  requireCpl0(c);
  switch (n) {
    // In VMX non-root operation, bits owned by the host (guest/host mask) read from the shadow.
    case 0: return c.vmx.shadowedCr(0, c.mmu.cr0);
    case 2: return c.mmu.cr2;
    case 3: return c.mmu.cr3;
    case 4: return c.vmx.shadowedCr(4, c.mmu.cr4);
    default: return raise(Vector.UD);
  }
}

/**
 * In VMX non-root operation a write that did not exit (vmx-exits.ts) leaves the host-owned bits
 * (guest/host mask) as they are; in VMX operation, CR0.PE/NE/PG and CR4.VMXE are fixed to 1
 * (IA32_VMX_CR0_FIXED0 / CR4_FIXED0), except PE and PG for an unrestricted guest.
 */
function vmxAdjust(c: Cpu, n: 0 | 4, v: number): number {
  const vmx = c.vmx;
  if (!vmx.inVmxOperation) return v;
  const actual = n === 0 ? c.mmu.cr0 : c.mmu.cr4;
  if (vmx.nonRoot) {
    const m = n === 0 ? vmx.cr0Mask : vmx.cr4Mask;
    v = ((v & ~m) | (actual & m)) >>> 0;
  }
  const fixed1 = n === 0 ? vmx.cr0FixedOnes() : CR4_VMXE;
  if (((v & fixed1) >>> 0) !== fixed1 >>> 0) raise(Vector.GP, 0);
  return v;
}

export function writeControlRegister(c: Cpu, n: number, v: number): void {
  requireCpl0(c);
  const mmu = c.mmu;
  switch (n) {
    case 0: {
      v = vmxAdjust(c, 0, v);
      if (v & ~CR0_IMPLEMENTED) raise(Vector.GP, 0);
      if ((v & CR0_PG) && !(v & CR0_PE)) raise(Vector.GP, 0);
      if ((v & CR0_NW) && !(v & CR0_CD)) raise(Vector.GP, 0);
      v |= 0x10; // ET
      const old = mmu.cr0;
      mmu.cr0 = v;
      if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) mmu.flush();
      if ((old ^ v) & CR0_PE) for (let s = 0; s < 8; s++) c.updateSegmentBounds(s);
      return;
    }
    case 2: mmu.cr2 = v; return;
    case 3:
      mmu.cr3 = v;
      mmu.flush(true);
      return;
    case 4: {
      v = vmxAdjust(c, 4, v);
      if (v & ~CR4_IMPLEMENTED) raise(Vector.GP, 0);
      const old = mmu.cr4;
      mmu.cr4 = v;
      if ((old ^ v) & (0x10 | 0x80)) mmu.flush();
      return;
    }
    default: raise(Vector.UD);
  }
}

/** DR7.GD: the next MOV to or from a debug register faults with #DB and DR6.BD (SDM 17.2.4). */
function generalDetect(c: Cpu): void {
  if (c.dr[7]! & 0x2000) {
    c.dr[6] = c.dr[6]! | 0x2000;
    c.dr[7] = c.dr[7]! & ~0x2000;
    raise(Vector.DB);
  }
}

export function readDebugRegister(c: Cpu, n: number): number {
  requireCpl0(c);
  generalDetect(c);
  if ((n === 4 || n === 5) && (c.mmu.cr4 & 0x8)) raise(Vector.UD);
  if (n === 4) n = 6;
  if (n === 5) n = 7;
  return c.dr[n]!;
}

export function writeDebugRegister(c: Cpu, n: number, v: number): void {
  requireCpl0(c);
  generalDetect(c);
  if ((n === 4 || n === 5) && (c.mmu.cr4 & 0x8)) raise(Vector.UD);
  if (n === 4) n = 6;
  if (n === 5) n = 7;
  if (n === 6) v = (v & 0xe00f) | 0xffff0ff0;
  if (n === 7) v = (v & 0xffff2fff) | 0x400;
  c.dr[n] = v;
  if (n !== 6) c.updateDebugState();
}
