/**
 * Control registers. Under EPT the guest owns CR0, CR3 and CR4 itself; the hypervisor keeps only
 * CR0.NE (VMX operation needs it set: the guest sees its own choice in the read shadow) and
 * CR4.VMXE (always set underneath, always 0 to the guest, which may not set it: no nested VMX).
 */
import { CR0_IMPLEMENTED, CR4_IMPLEMENTED } from '../../emulator/cpu/exec/system-registers.js';
import { VmcsField as F } from '../../emulator/vmx/fields.js';
import type { ExitAction, ExitContext } from './context.js';
import type { GuestExit } from './decode.js';

const CR0_PE = 1, CR0_TS = 8, CR0_NE = 0x20, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR0_PG = 0x80000000;
const CR4_VMXE = 0x2000;
/** What the guest may set in CR4: what the processor implements, but VMXE. */
const CR4_ALLOWED = CR4_IMPLEMENTED & ~CR4_VMXE;

/** The checks MOV to CR0 makes on the processor (emulator/cpu/exec/system-registers.ts). */
function setCr0(ctx: ExitContext, value: number): boolean {
  const v = ctx.vcpu.vmcs;
  if (value & ~CR0_IMPLEMENTED) return false;
  if ((value & CR0_PG && !(value & CR0_PE)) || (value & CR0_NW && !(value & CR0_CD))) return false;
  v.write(F.CR0_READ_SHADOW, value);
  v.write(F.GUEST_CR0, (value | CR0_NE | 0x10) >>> 0);
  return true;
}

export function handleCr(ctx: ExitContext, cr: Extract<GuestExit, { kind: 'cr' }>): ExitAction {
  const { vcpu } = ctx;
  const v = vcpu.vmcs;
  const value = vcpu.regs[cr.gpr]! >>> 0;
  let ok = true;
  const guestCr0 = ((v.read(F.GUEST_CR0) & ~CR0_NE) | (v.read(F.CR0_READ_SHADOW) & CR0_NE)) >>> 0;
  switch (cr.access) {
    case 'mov-to':
      if (cr.cr === 0) ok = setCr0(ctx, value);
      else if (cr.cr === 4) {
        ok = (value & ~CR4_ALLOWED) === 0;
        if (ok) { v.write(F.CR4_READ_SHADOW, value); v.write(F.GUEST_CR4, value | CR4_VMXE); }
      } else if (cr.cr === 3) v.write(F.GUEST_CR3, value);
      break;
    case 'mov-from':
      if (cr.cr === 3) vcpu.regs[cr.gpr] = v.read(F.GUEST_CR3);
      break;
    case 'clts':
      ok = setCr0(ctx, guestCr0 & ~CR0_TS);
      break;
    case 'lmsw':
      ok = setCr0(ctx, ((guestCr0 & ~0xe) | (cr.lmswSource & 0xf) | (guestCr0 & CR0_PE)) >>> 0);
      break;
  }
  if (!ok) vcpu.injectException(13, 0);
  else vcpu.skipInstruction();
  return 'resume';
}
