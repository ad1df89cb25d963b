/**
 * The VMX instructions: VMXON VMXOFF VMCLEAR VMPTRLD VMPTRST VMREAD VMWRITE VMLAUNCH VMRESUME
 * VMCALL INVEPT INVVPID (SDM Vol. 3C chapter 31).
 *
 * VMX operation arrives with the VMX issue (emulator/vmx/). Until then the processor is never in
 * VMX operation, and outside VMX operation every one of these is #UD (SDM: "IF (not in VMX
 * operation) ... THEN #UD"; VMCALL outside VMX operation is #UD too). The one exception is VMXON,
 * the instruction that enters VMX operation: it performs its #UD and #GP checks, and only when they
 * pass reports the missing VMX support as an EmulatorLimitation (never a guest fault).
 */
import type { DecodedInsn } from '../../isa/decoder.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../faults.js';
import { FEATURE_CONTROL_LOCK, FEATURE_CONTROL_VMX_OUTSIDE_SMX, Msr, readMsr } from '../msr.js';
import { EmulatorLimitation } from '../tasks.js';
import type { ExecutorFamily } from './index.js';

const CR4_VMXE = 1 << 13;
const CR0_PE = 1, CR0_NE = 1 << 5, CR0_PG = 1 << 31;

/** Outside VMX operation (always, for now): #UD. */
function outsideVmxOperation(_c: Cpu, _d: DecodedInsn): void {
  raise(Vector.UD);
}

/** VMXON's checks outside VMX operation (SDM VMXON pseudo-code, first two branches). */
function vmxon(c: Cpu, _d: DecodedInsn): void {
  if (!c.protectedMode || !(c.mmu.cr4 & CR4_VMXE) || c.v86) raise(Vector.UD);
  const fc = readMsr(c, Msr.IA32_FEATURE_CONTROL);
  // CR0.PE, PG and NE are fixed to 1 in VMX operation (IA32_VMX_CR0_FIXED0, SDM appendix A.7).
  const cr0 = c.mmu.cr0;
  if (c.cpl > 0 || (cr0 & (CR0_PE | CR0_NE | CR0_PG)) !== (CR0_PE | CR0_NE | CR0_PG)
    || !(fc & FEATURE_CONTROL_LOCK) || !(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) raise(Vector.GP, 0);
  throw new EmulatorLimitation('VMX operation (VMXON); it arrives with the VMX issue');
}

export const VMX_INSTRUCTIONS: ExecutorFamily = {
  VMXON: vmxon,
  VMXOFF: outsideVmxOperation,
  VMCLEAR: outsideVmxOperation,
  VMPTRLD: outsideVmxOperation,
  VMPTRST: outsideVmxOperation,
  VMREAD: outsideVmxOperation,
  VMWRITE: outsideVmxOperation,
  VMLAUNCH: outsideVmxOperation,
  VMRESUME: outsideVmxOperation,
  VMCALL: outsideVmxOperation,
  INVEPT: outsideVmxOperation,
  INVVPID: outsideVmxOperation,
};
