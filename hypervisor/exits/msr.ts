/**
 * RDMSR/WRMSR that the MSR bitmap sends to the hypervisor. SYSENTER_CS/ESP/EIP pass straight
 * through (the VMCS switches them), and so do TSC reads (TSC offsetting gives each VM its own
 * time). A TSC write moves that VM's offset; IA32_FEATURE_CONTROL reads as locked with VMX off;
 * the VMX capability MSRs and every unknown MSR raise #GP(0) in the guest, as on a CPU without
 * them.
 */
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { ExitAction, ExitContext } from './context.js';
import type { GuestExit } from './decode.js';

const TSC = 0x10, FEATURE_CONTROL = 0x3a, TSC_AUX = 0xc0000103;

/**
 * Does this access change nothing but registers and VM state (no #GP to inject, no TSC offset to
 * write)? Such an access can be completed in place (the exit fast path).
 */
export function msrInPlace(index: number, write: boolean): boolean {
  index >>>= 0;
  return index === TSC_AUX || !write && (index === TSC || index === FEATURE_CONTROL);
}

export function handleMsr(ctx: ExitContext, msr: Extract<GuestExit, { kind: 'msr' }>): ExitAction {
  const action = msrAccess(ctx, ctx.vcpu.regs, msr.write);
  if (action !== null) ctx.vcpu.skipInstruction();
  else ctx.vcpu.injectException(13, 0);
  return 'resume';
}

/** RDMSR/WRMSR on a register file (ECX the index, EDX:EAX the value); null: #GP(0). */
export function msrAccess(ctx: ExitContext, r: Int32Array, write: boolean): 'resume' | null {
  const { vm, vcpu } = ctx;
  const index = r[1]! >>> 0;
  // Only the TSC needs 64-bit arithmetic (bigints allocate: the others stay numbers).
  if (write) {
    if (index === TSC) {
      const value = (BigInt(r[2]! >>> 0) << 32n) | BigInt(r[0]! >>> 0);
      vcpu.vmcs.write64(F.TSC_OFFSET, BigInt.asUintN(64, value - ctx.hostTsc()));
    } else if (index === TSC_AUX) vm.tscAux = r[0]! >>> 0; // EDX (the reserved high half) is ignored
    else return null;
    return 'resume';
  }
  if (index === TSC) {
    const tsc = BigInt.asUintN(64, ctx.hostTsc() + BigInt.asIntN(64, vcpu.vmcs.read64(F.TSC_OFFSET)));
    r[0] = Number(tsc & 0xffffffffn) | 0;
    r[2] = Number(tsc >> 32n) | 0;
  } else if (index === FEATURE_CONTROL) {
    r[0] = 1; // locked, VMX off: no nested virtualization
    r[2] = 0;
  } else if (index === TSC_AUX) {
    r[0] = vm.tscAux | 0;
    r[2] = 0;
  } else return null;
  return 'resume';
}
