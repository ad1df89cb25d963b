/**
 * The VMX instructions: VMXON VMXOFF VMCLEAR VMPTRLD VMPTRST VMREAD VMWRITE VMLAUNCH VMRESUME
 * VMCALL INVEPT INVVPID (SDM Vol. 3C chapter 32, each instruction's "Operation").
 *
 * Each follows its pseudo-code's order: #UD outside VMX operation (or in real-address or
 * virtual-8086 mode), then a VM exit in non-root operation, then #GP(0) at CPL > 0, then the
 * instruction itself in emulator/vmx/vmx.ts, which reports VMsucceed / VMfailInvalid /
 * VMfailValid(n) in the arithmetic flags and the VM-instruction error field.
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import { ExitReason } from '../../vmx/controls.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { FEATURE_CONTROL_LOCK, FEATURE_CONTROL_VMX_OUTSIDE_SMX, Msr, readMsr } from '../msr.js';
import type { ExecutorFamily } from './index.js';
import { effectiveAddress } from './operands.js';
import { memoryOperandInfo, operandInfo } from './vmx-exits.js';

const CR4_VMXE = 1 << 13;
const CR0_PE = 1, CR0_NE = 1 << 5, CR0_PG = 1 << 31;

/**
 * The checks every VMX instruction shares. True: it exited (non-root operation) and must do
 * nothing more; false: root operation at CPL 0.
 */
function vmxPrologue(c: Cpu, d: DecodedInsn, reason: number, qualification: number, info: number): boolean {
  if (!c.vmx.inVmxOperation || !c.protectedMode || c.v86) raise(Vector.UD);
  if (c.vmx.nonRoot) return c.vmx.exitInstead(reason, qualification, d.length, info);
  if (c.cpl > 0) raise(Vector.GP, 0);
  return false;
}

/** The m64 operand of VMXON, VMCLEAR, VMPTRLD (a physical address). */
function readM64(c: Cpu, d: DecodedInsn): bigint {
  const ea = effectiveAddress(c, d);
  const lo = c.read32(d.segment, ea) >>> 0;
  const hi = c.read32(d.segment, (ea + 4) | 0) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function memoryExitInfo(d: DecodedInsn): [number, number] {
  return [d.disp >>> 0, memoryOperandInfo(d)];
}

function vmxon(c: Cpu, d: DecodedInsn): void {
  if (!c.protectedMode || !(c.mmu.cr4 & CR4_VMXE) || c.v86) raise(Vector.UD);
  if (!c.vmx.inVmxOperation) {
    const fc = readMsr(c, Msr.IA32_FEATURE_CONTROL);
    // CR0.PE, PG and NE are fixed to 1 in VMX operation (IA32_VMX_CR0_FIXED0, SDM appendix A.7).
    if (c.cpl > 0 || (c.mmu.cr0 & (CR0_PE | CR0_NE | CR0_PG)) !== (CR0_PE | CR0_NE | CR0_PG)
      || !(fc & FEATURE_CONTROL_LOCK) || !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) raise(Vector.GP, 0);
    c.vmx.vmxon(readM64(c, d));
    return;
  }
  const [q, info] = memoryExitInfo(d);
  if (c.vmx.nonRoot) { c.vmx.exitInstead(ExitReason.VMXON, q, d.length, info); return; }
  if (c.cpl > 0) raise(Vector.GP, 0);
  c.vmx.vmxon(readM64(c, d)); // VMfailValid(15): VMXON executed in VMX root operation
}

function vmxoff(c: Cpu, d: DecodedInsn): void {
  if (vmxPrologue(c, d, ExitReason.VMXOFF, 0, 0)) return;
  c.vmx.vmxoff();
}

function vmclear(c: Cpu, d: DecodedInsn): void {
  const [q, info] = memoryExitInfo(d);
  if (vmxPrologue(c, d, ExitReason.VMCLEAR, q, info)) return;
  c.vmx.vmclear(readM64(c, d));
}

function vmptrld(c: Cpu, d: DecodedInsn): void {
  const [q, info] = memoryExitInfo(d);
  if (vmxPrologue(c, d, ExitReason.VMPTRLD, q, info)) return;
  c.vmx.vmptrld(readM64(c, d));
}

function vmptrst(c: Cpu, d: DecodedInsn): void {
  const [q, info] = memoryExitInfo(d);
  if (vmxPrologue(c, d, ExitReason.VMPTRST, q, info)) return;
  const ea = effectiveAddress(c, d);
  const v = c.vmx.currentVmcs < 0 ? 0xffffffffffffffffn : BigInt(c.vmx.currentVmcs);
  // Both halves are written before the status flags change (a #PF leaves VMX state unchanged).
  c.write32(d.segment, ea, Number(v & 0xffffffffn));
  c.write32(d.segment, (ea + 4) | 0, Number(v >> 32n));
  c.vmx.vmptrst();
}

/** VMREAD r/m32, r32: the field encoding is in the reg operand, the destination is r/m. */
function vmread(c: Cpu, d: DecodedInsn): void {
  if (vmxPrologue(c, d, ExitReason.VMREAD, d.hasMemory ? d.disp >>> 0 : 0, operandInfo(d) | (d.reg << 28))) return;
  const value = c.vmx.vmread(c.r[d.reg]!);
  if (value === null) return;
  if (d.hasMemory) {
    // The store can fault; the flags set by vmread are restored by the fault's restart.
    c.lf.checkpoint();
    try {
      c.write32(d.segment, effectiveAddress(c, d), value);
    } catch (e) {
      c.lf.rollback();
      throw e;
    }
  } else c.r[d.rm] = value;
}

/** VMWRITE r32, r/m32: the field encoding is in the reg operand, the value comes from r/m. */
function vmwrite(c: Cpu, d: DecodedInsn): void {
  if (vmxPrologue(c, d, ExitReason.VMWRITE, d.hasMemory ? d.disp >>> 0 : 0, operandInfo(d) | (d.reg << 28))) return;
  const value = d.hasMemory ? c.read32(d.segment, effectiveAddress(c, d)) : c.r[d.rm]!;
  c.vmx.vmwrite(c.r[d.reg]!, value);
}

function vmentry(launch: boolean) {
  return (c: Cpu, d: DecodedInsn): void => {
    if (vmxPrologue(c, d, launch ? ExitReason.VMLAUNCH : ExitReason.VMRESUME, 0, 0)) return;
    c.vmx.vmentry(launch);
  };
}

function vmcall(c: Cpu, d: DecodedInsn): void {
  if (!c.vmx.inVmxOperation) raise(Vector.UD);
  if (c.vmx.nonRoot) { c.vmx.exitInstead(ExitReason.VMCALL, 0, d.length); return; }
  if (c.v86) raise(Vector.UD);
  if (c.cpl > 0) raise(Vector.GP, 0);
  c.vmx.vmcallInRoot();
}

/** INVEPT/INVVPID r32, m128: the type in the register, a 128-bit descriptor in memory. */
function invalidation(kind: 'ept' | 'vpid') {
  return (c: Cpu, d: DecodedInsn): void => {
    if (vmxPrologue(c, d, kind === 'ept' ? ExitReason.INVEPT : ExitReason.INVVPID, d.disp >>> 0, memoryOperandInfo(d) | (d.reg << 28))) return;
    const type = c.r[d.reg]! >>> 0;
    const ea = effectiveAddress(c, d);
    const q = [0, 4, 8, 12].map((o) => BigInt(c.read32(d.segment, (ea + o) | 0) >>> 0));
    const low = (q[1]! << 32n) | q[0]!, high = (q[3]! << 32n) | q[2]!;
    if (kind === 'ept') c.vmx.invept(type, low);
    else if (low >> 16n) c.vmx.invvpidReservedBits();
    else c.vmx.invvpid(type, Number(low & 0xffffn), high);
  };
}

export const VMX_INSTRUCTIONS: ExecutorFamily = {
  VMXON: vmxon,
  VMXOFF: vmxoff,
  VMCLEAR: vmclear,
  VMPTRLD: vmptrld,
  VMPTRST: vmptrst,
  VMREAD: vmread,
  VMWRITE: vmwrite,
  VMLAUNCH: vmentry(true),
  VMRESUME: vmentry(false),
  VMCALL: vmcall,
  INVEPT: invalidation('ept'),
  INVVPID: invalidation('vpid'),
};
