/**
 * The exits the hypervisor can complete in place, on the exit fast path (Hypervisor.fastExit,
 * Vmx.fastExit): those whose handling reads and writes only the general registers, the VM's
 * devices and memory and its PV state, never the VMCS. They are CPUID, IN/OUT, VMCALL, and the
 * RDMSR/WRMSR that need no #GP and no TSC-offset write. String I/O is left out, because it walks
 * the guest's paging through the guest state in the VMCS. Each runs the same code as its handler
 * in the run loop, on the live register file instead of the saved copy.
 */
import { ExitReason as R } from '../../emulator/vmx/controls.js';
import { hypercall, raisesNoInterrupt } from '../hypercalls.js';
import type { ExitAction, ExitContext } from './context.js';
import { answerCpuid } from './cpuid.js';
import { IO_INPUT, IO_STRING, ioPort, ioSize } from './decode.js';
import { portIo } from './io.js';
import { msrAccess, msrInPlace } from './msr.js';

/**
 * Whether completing this exit in place cannot make an interrupt pending, judged before the
 * handler runs (from the registers it will read): CPUID and the MSRs done in place touch only
 * registers, some hypercalls only the console or the clock (raisesNoInterrupt). Port I/O may
 * touch anything.
 */
export function inPlaceRaisesNoInterrupt(r: Int32Array, cpl: number, reason: number): boolean {
  switch (reason) {
    case R.CPUID:
    case R.RDMSR:
    case R.WRMSR:
      return true;
    case R.VMCALL:
      return raisesNoInterrupt(r[0]!, cpl);
    default:
      return false;
  }
}

/**
 * Handles the exit on `r` (EAX..EDI, on the processor) for a guest at privilege `cpl`. The caller
 * skips the instruction. Returns what the run loop should do next, or null, with nothing done,
 * when this exit cannot be completed in place.
 */
export function handleInPlace(ctx: ExitContext, r: Int32Array, cpl: number, reason: number, qualification: number): ExitAction | null {
  switch (reason) {
    case R.CPUID:
      answerCpuid(r);
      return 'resume';
    case R.IO_INSTRUCTION: {
      // The qualification's fields read in place: this path makes no objects.
      const q = qualification >>> 0;
      return q & IO_STRING ? null : portIo(ctx.vm, r, ioPort(q), ioSize(q), (q & IO_INPUT) !== 0);
    }
    case R.RDMSR:
    case R.WRMSR:
      return msrInPlace(r[1]!, reason === R.WRMSR) ? msrAccess(ctx, r, reason === R.WRMSR) : null;
    case R.VMCALL:
      return hypercall(ctx, r, cpl);
    default:
      return null;
  }
}
